//! `report` over a million synthetic calls (goal: under 2 s), harness-less: `cargo bench --bench
//! report`. Measured in the same run:
//! - generating the calls' events alone (the baseline: what any reader of events pays);
//! - generating them and building the report (`events::report::report`), the pure part;
//! - end to end through SQLite: `Store::scan` feeding the report, over a log of
//!   `SWITCHBOARD_BENCH_DB_CALLS` calls (default 100,000; writing a million takes minutes).

use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, Utc};
use switchboard::events::report::{Builder, Scope, report};
use switchboard::events::{CallHead, DbUrl, Event, Filter, Kind, QueueResult, Store};

/// The events of call `i`: a menu, then the queue (7 in 10), a hang-up (1 in 10) or self-service.
fn call(i: u64) -> Vec<Event> {
    let head = CallHead {
        call_id: format!("CA{i:010}"),
        provider: "twilio".into(),
        flow: "support".into(),
        flow_version: 1,
        simulated: false,
    };
    let start =
        DateTime::<Utc>::from_timestamp(1_773_644_400 + i64::try_from(i * 30).unwrap_or(0), 0).unwrap_or_default();
    let t = |s: i64| start + chrono::Duration::seconds(s);
    let node = |n: &str| Some(n.to_owned());
    let mut e = vec![
        head.event(0, t(0), None, Kind::CallStarted { caller: None }),
        head.event(1, t(0), node("main"), Kind::NodeEntered {}),
        head.event(2, t(0), node("main"), Kind::PromptPlayed { file: Some("main.wav".into()), duration_ms: 9000 }),
    ];
    let mut seq = 3;
    let mut push = |e: &mut Vec<Event>, s: i64, n: Option<String>, k: Kind| {
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

fn main() {
    const CALLS: u64 = 1_000_000;
    let began = Instant::now();
    let mut events = 0_usize;
    for i in 0..CALLS {
        events += black_box(call(i)).len();
    }
    let generate = began.elapsed();
    println!("generate {CALLS} calls ({events} events): {:.2} s", generate.as_secs_f64());

    let began = Instant::now();
    let r = report((0..CALLS).flat_map(call), Scope::default());
    let total = began.elapsed();
    println!(
        "report over {} calls: {:.2} s with generation, {:.2} s beyond it",
        r.calls,
        total.as_secs_f64(),
        total.saturating_sub(generate).as_secs_f64()
    );

    let db_calls: u64 =
        std::env::var("SWITCHBOARD_BENCH_DB_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = DbUrl::parse(&format!("sqlite://{}", dir.path().join("calls.db").display())).expect("a valid URL");
    let mut store = Store::open(&url).ok().flatten().expect("the log opens");
    let began = Instant::now();
    let mut batch = Vec::new();
    for i in 0..db_calls {
        batch.extend(call(i));
        if batch.len() >= 10_000 {
            store.insert(&batch).expect("stored");
            batch.clear();
        }
    }
    store.insert(&batch).expect("stored");
    println!("write {db_calls} calls to SQLite: {:.2} s", began.elapsed().as_secs_f64());
    let began = Instant::now();
    let mut builder = Builder::new(Scope::default());
    store
        .scan(&Filter { kinds: switchboard::events::report::KINDS.to_vec(), ..Filter::default() }, &mut |e| {
            builder.push(e);
            Ok(())
        })
        .expect("the log reads");
    let r = builder.finish();
    let scan = began.elapsed();
    println!(
        "report from SQLite over {} calls: {:.2} s ({:.2} s per million calls)",
        r.calls,
        scan.as_secs_f64(),
        scan.as_secs_f64() * 1e6 / db_calls.max(1) as f64
    );
}
