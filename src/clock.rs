//! The drivers' window on local time: a call's wall-clock instant as the flow's local time,
//! which is what the engine is given. The engine itself never reads a clock or a zone.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::engine::Flow;

/// `at` in the flow's time zone, or in the machine's zone when the flow names none.
pub fn local_time(flow: &Flow, at: DateTime<Utc>) -> NaiveDateTime {
    match flow.timezone {
        Some(tz) => at.with_timezone(&tz).naive_local(),
        None => at.with_timezone(&chrono::Local).naive_local(),
    }
}
