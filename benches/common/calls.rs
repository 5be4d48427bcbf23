//! Synthetic calls for the event-log benches (`report`, `events`): deterministic, a call every
//! 30 s from Monday 2026-03-16 07:00 UTC, shaped like the sample support flow's.

use chrono::{DateTime, Utc};
use switchboard::events::{CallHead, Event, Kind, QueueResult};

/// When call `i` starts.
pub fn start(i: u64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_773_644_400 + i64::try_from(i * 30).unwrap_or(0), 0).unwrap_or_default()
}

/// The events of call `i`: a menu, then the queue (7 in 10), a hang-up (1 in 10) or self-service.
pub fn call(i: u64) -> Vec<Event> {
    let head = CallHead {
        call_id: format!("CA{i:010}").into(),
        provider: "twilio".into(),
        flow: "support".into(),
        flow_version: 1,
        simulated: false,
    };
    let start = start(i);
    let t = |s: i64| start + chrono::Duration::seconds(s);
    let node = |n: &str| Some(n.into());
    let mut e = vec![
        head.event(0, t(0), None, Kind::CallStarted { caller: None }),
        head.event(1, t(0), node("main"), Kind::NodeEntered {}),
        head.event(2, t(0), node("main"), Kind::PromptPlayed { file: Some("main.wav".into()), duration_ms: 9000 }),
    ];
    let mut seq = 3;
    let mut push = |e: &mut Vec<Event>, s: i64, n: Option<std::sync::Arc<str>>, k: Kind| {
        e.push(head.event(seq, t(s), n, k));
        seq += 1;
    };
    match i % 10 {
        0 => push(&mut e, 12, None, Kind::CallerHungUp {}),
        1 | 2 => {
            push(&mut e, 10, node("main"), Kind::Digits { keys: Some("2".into()), count: 1 });
            push(&mut e, 10, node("tech_solved"), Kind::NodeEntered {});
        }
        _ => {
            push(&mut e, 10, node("main"), Kind::Digits { keys: Some("0".into()), count: 1 });
            push(&mut e, 10, node("main"), Kind::Escape {});
            push(&mut e, 10, node("first_line"), Kind::NodeEntered {});
            let queue = "first_line".to_owned();
            push(
                &mut e,
                10,
                node("first_line"),
                Kind::QueueJoined { queue: queue.clone(), announced_wait_min: Some(2) },
            );
            let wait = u32::try_from(i % 300).unwrap_or(0);
            let result = if i % 7 == 0 { QueueResult::Hangup } else { QueueResult::Bridged };
            push(
                &mut e,
                10 + i64::from(wait),
                node("first_line"),
                Kind::QueueLeft { queue, result, queue_time_s: wait, last_position: None },
            );
        }
    }
    push(&mut e, 400, None, Kind::CallCompleted { duration_s: 400 });
    e
}
