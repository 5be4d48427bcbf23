//! The estimate as JSON: one day's measures and one cell with its place in the week, the keys
//! `estimate --json` prints and the server's `/estimate` answers, so both stay the same.

use super::{DayEstimate, SlotEstimate};
use crate::calendar::day_key;
use crate::queue::model::QueueModel;

/// The measures of one day as JSON (`null` for a closed slot): the keys `estimate --json`
/// prints and the server's `/estimate` answers.
pub fn day_json(d: Option<&DayEstimate>) -> serde_json::Value {
    let Some(d) = d else { return serde_json::Value::Null };
    let m = &d.metrics;
    serde_json::json!({
        "arrivals_per_hour": d.arrivals_per_hour,
        "p_wait": m.p_wait,
        "mean_wait_s": m.mean_wait_s,
        "mean_wait_answered_s": m.mean_wait_answered_s,
        "service_level": m.service_level,
        "p_abandon": m.p_abandon,
        "occupancy": m.occupancy,
        "agents_needed": d.agents_needed,
        "overloaded": m.overloaded,
    })
}

/// The measures `day_json` writes, in order.
pub const DAY_KEYS: [&str; 9] = [
    "arrivals_per_hour",
    "p_wait",
    "mean_wait_s",
    "mean_wait_answered_s",
    "service_level",
    "p_abandon",
    "occupancy",
    "agents_needed",
    "overloaded",
];

/// One cell as JSON: where it is, the typical day's measures at the top level and the busy
/// day's under `busy`.
pub fn cell_json(queue: &QueueModel, s: &SlotEstimate) -> serde_json::Value {
    let mut v = serde_json::json!({
        "queue": queue.name,
        "weekday": day_key(s.weekday),
        "hour": s.hour(),
        "minute": s.minute(),
        "open": s.open,
        "agents": s.agents,
    });
    let typical = day_json(s.typical.as_ref());
    for key in DAY_KEYS {
        v[key] = typical.get(key).cloned().unwrap_or(serde_json::Value::Null);
    }
    v["busy"] = day_json(s.busy.as_ref());
    v
}
