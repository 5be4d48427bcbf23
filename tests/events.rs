//! The call-event log on real databases: an SQLite file in a temporary directory, and a
//! throwaway PostgreSQL cluster on a Unix socket when the server's binaries are installed
//! (Debian's `postgresql` package); without them the PostgreSQL test says why and passes.
//! The same checks run against both.

mod common;
#[path = "common/postgres.rs"]
mod pg;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use switchboard::events::report::{Builder, KINDS, Scope};
use switchboard::events::{
    CallHead, DbUrl, Event, ExportSummary, Filter, Kind, QueueResult, Store, Writer, WriterConfig,
};

use common::run;
use pg::{Cluster, path};

/// A UTC time written as people write it.
fn utc(text: &str) -> DateTime<Utc> {
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").expect("a valid test time");
    naive.and_utc()
}

fn head(call_id: &str) -> CallHead {
    CallHead {
        call_id: call_id.into(),
        provider: "twilio".into(),
        flow: "support".into(),
        // Above i64::MAX, to see the version survive the database's signed integers.
        flow_version: 0xfedc_ba98_7654_3210,
        simulated: false,
    }
}

fn open(url: &str) -> Store {
    let url = DbUrl::parse(url).expect("a valid URL");
    match Store::open(&url) {
        Ok(Some(store)) => store,
        Ok(None) => panic!("{url} is not a log"),
        Err(e) => panic!("cannot open {url}: {e}"),
    }
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("calls.db").display())
}

fn all_events(store: &mut Store) -> Vec<(String, u32, &'static str)> {
    let mut seen = Vec::new();
    store
        .scan(&Filter::default(), &mut |e| {
            seen.push((e.call_id.to_string(), e.seq, e.kind.word()));
            Ok(())
        })
        .expect("the log reads");
    seen
}

// ---- The checks, each against a fresh log at `url`. ----

fn check_migrations_are_idempotent(url: &str) {
    // SQLite's seventh moved the call's id and provider off the events (0007_slim_events.sql).
    let latest = if url.starts_with("sqlite:") { 7 } else { 6 };
    let mut store = open(url);
    assert_eq!(store.schema_version().expect("reads the version"), latest);
    let event = head("CA1").event(0, utc("2026-03-16 09:00:00"), None, Kind::CallStarted { caller: None });
    assert_eq!(store.insert(&[event]).expect("writes"), 1);
    drop(store);
    // Opening again applies nothing and keeps the rows.
    let mut store = open(url);
    assert_eq!(store.schema_version().expect("reads the version"), latest);
    assert_eq!(all_events(&mut store), [("CA1".to_owned(), 0, "call_started")]);
}

fn check_batches_read_back_in_call_order(url: &str) {
    let mut store = open(url);
    let at = utc("2026-03-16 09:00:00.125");
    let (a, b) = (head("CA-a"), head("CA-b"));
    let second_batch = [
        b.event(1, at, Some("main".into()), Kind::NodeEntered {}),
        a.event(2, at, Some("main".into()), Kind::Digits { keys: Some("0".into()), count: 1 }),
        a.event(3, at, Some("main".into()), Kind::Escape {}),
    ];
    let first_batch = [
        a.event(0, at, None, Kind::CallStarted { caller: Some("ab12".into()) }),
        a.event(1, at, Some("main".into()), Kind::NodeEntered {}),
        b.event(0, at, None, Kind::CallStarted { caller: None }),
        Event {
            simulated: true,
            ..b.event(
                2,
                at,
                Some("op".into()),
                Kind::QueueLeft {
                    queue: "first_line".into(),
                    result: QueueResult::Bridged,
                    queue_time_s: 42,
                    last_position: Some(3),
                },
            )
        },
    ];
    assert_eq!(store.insert(&second_batch).expect("writes"), 3);
    assert_eq!(store.insert(&first_batch).expect("writes"), 4);
    // A replayed batch (a webhook retried, a write whose outcome was unknown) adds nothing.
    assert_eq!(store.insert(&second_batch).expect("writes"), 0);

    let words: Vec<(String, u32, &str)> = all_events(&mut store);
    let expected = [
        ("CA-a", 0, "call_started"),
        ("CA-a", 1, "node_entered"),
        ("CA-a", 2, "digits"),
        ("CA-a", 3, "escape"),
        ("CA-b", 0, "call_started"),
        ("CA-b", 1, "node_entered"),
        ("CA-b", 2, "queue_left"),
    ];
    assert_eq!(words, expected.map(|(c, s, k)| (c.to_owned(), s, k)));

    // Every field comes back as it went in.
    let call_b = store.call_events("CA-b").expect("reads");
    assert_eq!(call_b, [first_batch[2].clone(), second_batch[0].clone(), first_batch[3].clone()]);
    assert_eq!(call_b[2].at.timestamp_millis(), 1_773_651_600_125);
    assert_eq!(call_b[2].flow_version, 0xfedc_ba98_7654_3210);

    let mut simulated = 0;
    store
        .scan(&Filter { simulated: Some(true), ..Filter::default() }, &mut |e| {
            assert_eq!((&*e.call_id, e.seq), ("CA-b", 2));
            simulated += 1;
            Ok(())
        })
        .expect("reads");
    assert_eq!(simulated, 1);
}

fn check_prune_drops_whole_calls_that_ended_before(url: &str) {
    let mut store = open(url);
    let (old, spanning, new) = (head("CA-old"), head("CA-spanning"), head("CA-new"));
    let call = |h: &CallHead, times: &[&str]| -> Vec<Event> {
        let mut seq = 0;
        times
            .iter()
            .map(|t| {
                seq += 1;
                h.event(seq - 1, utc(t), None, Kind::NodeEntered {})
            })
            .collect()
    };
    let mut events = call(&old, &["2026-01-01 10:00:00", "2026-01-01 10:05:00"]);
    // A call that started before the cut-off and ended after it is kept whole.
    events.extend(call(&spanning, &["2026-01-31 23:59:00", "2026-02-01 00:01:00"]));
    events.extend(call(&new, &["2026-02-10 08:00:00"]));
    assert_eq!(store.insert(&events).expect("writes"), 5);
    assert_eq!(store.prune(utc("2026-02-01 00:00:00")).expect("prunes"), 2);
    let left: Vec<(String, u32)> = all_events(&mut store).into_iter().map(|(c, s, _)| (c, s)).collect();
    let expected = [("CA-new", 0), ("CA-spanning", 0), ("CA-spanning", 1)];
    assert_eq!(left, expected.map(|(c, s)| (c.to_owned(), s)));
    assert_eq!(store.prune(utc("2026-02-01 00:00:00")).expect("prunes"), 0);
}

/// A queue stay: joins at `joined`, leaves after `queue_time_s` with `result`, and when the call
/// completes `handle_ms` later (if given), a `call_completed`.
fn queued_call(
    id: &str,
    joined: DateTime<Utc>,
    result: Option<QueueResult>,
    queue_time_s: u32,
    handle_ms: Option<i64>,
) -> Vec<Event> {
    let h = head(id);
    let node = || Some("op".into());
    let mut events = vec![
        h.event(0, joined - chrono::Duration::seconds(20), None, Kind::CallStarted { caller: None }),
        h.event(1, joined, node(), Kind::QueueJoined { queue: "first_line".into(), announced_wait_min: Some(2) }),
    ];
    let left = joined + chrono::Duration::seconds(i64::from(queue_time_s));
    if let Some(result) = result {
        let kind = Kind::QueueLeft { queue: "first_line".into(), result, queue_time_s, last_position: Some(1) };
        events.push(h.event(2, left, node(), kind));
    }
    if let Some(ms) = handle_ms {
        let duration_s = 20 + queue_time_s + u32::try_from(ms / 1000).expect("a short call");
        events.push(h.event(3, left + chrono::Duration::milliseconds(ms), node(), Kind::CallCompleted { duration_s }));
    }
    events
}

fn check_export_writes_one_row_per_queue_stay(url: &str) {
    let mut store = open(url);
    let mut events = queued_call("CA-x", utc("2026-03-16 09:15:00"), Some(QueueResult::Bridged), 40, Some(125_500));
    events.extend(queued_call("CA-y", utc("2026-03-16 09:20:00"), Some(QueueResult::Hangup), 30, None));
    events.extend(queued_call("CA-z", utc("2026-03-16 09:25:00"), None, 0, None));
    events.extend(queued_call("CA-w", utc("2026-03-16 09:30:00"), Some(QueueResult::Redirected), 12, Some(1_000)));
    store.insert(&events).expect("writes");
    let mut csv = Vec::new();
    let summary = store.export_fit_csv(&mut csv, chrono_tz::Europe::Berlin, &Filter::default()).expect("exports");
    assert_eq!(summary, ExportSummary { rows: 3, open: 1 });
    // Berlin is UTC+1 in March before the clocks change; calls come ordered by id.
    assert_eq!(
        String::from_utf8(csv).expect("UTF-8"),
        "start,queue,queue_time,handle_time,abandoned,call_id\n\
         2026-03-16 10:30:00,first_line,12,,,CA-w\n\
         2026-03-16 10:15:00,first_line,40,125.5,false,CA-x\n\
         2026-03-16 10:20:00,first_line,30,,true,CA-y\n"
    );
}

/// A small deterministic generator (a 64-bit LCG), so the mixed log is the same every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

/// Call `i` of a mixed log: every kind a report reads, hang-ups with and without a node,
/// waits, two flows, some simulated; starting at any millisecond over three days.
fn mixed_call(i: u64, rng: &mut Lcg) -> Vec<Event> {
    let flow = if rng.below(3) == 0 { "sales" } else { "support" };
    let h = CallHead {
        call_id: format!("CA{i:05}").into(),
        provider: if i % 11 == 0 { "vonage" } else { "twilio" }.into(),
        flow: flow.into(),
        flow_version: 1,
        simulated: rng.below(5) == 0,
    };
    let start = utc("2026-03-16 00:00:00")
        + chrono::Duration::milliseconds(i64::try_from(rng.below(3 * 86_400_000)).expect("small"));
    let mut t = 0_i64;
    let mut events = Vec::new();
    let mut push = |seq: u32, t: i64, node: Option<&str>, kind: Kind| {
        events.push(h.event(seq, start + chrono::Duration::milliseconds(t), node.map(Into::into), kind));
    };
    let mut seq = 0;
    let next = |seq: &mut u32| {
        *seq += 1;
        *seq - 1
    };
    push(next(&mut seq), 0, None, Kind::CallStarted { caller: None });
    for node in ["main", "billing"].iter().take(1 + usize::try_from(rng.below(2)).expect("small")) {
        t += i64::try_from(rng.below(20_000)).expect("small");
        push(next(&mut seq), t, Some(node), Kind::NodeEntered {});
        push(next(&mut seq), t, Some(node), Kind::PromptPlayed { file: None, duration_ms: 900 });
        match rng.below(6) {
            0 => push(next(&mut seq), t, Some(node), Kind::InvalidInput { unintelligible: false }),
            1 => {
                push(next(&mut seq), t, Some(node), Kind::InvalidInput { unintelligible: true });
                push(next(&mut seq), t, Some(node), Kind::Escalation {});
            }
            2 => {
                push(next(&mut seq), t, Some(node), Kind::NoInput {});
                push(next(&mut seq), t, Some(node), Kind::TimeoutFallback {});
            }
            3 => push(next(&mut seq), t, Some(node), Kind::Escape {}),
            _ => {}
        }
    }
    t += 5_000;
    match rng.below(7) {
        0..=2 => {
            let queue = if rng.below(2) == 0 { "first_line" } else { "billing_line" };
            let announced = (rng.below(3) > 0).then(|| u32::try_from(rng.below(6)).expect("small"));
            push(next(&mut seq), t, Some("op"), Kind::NodeEntered {});
            push(
                next(&mut seq),
                t,
                Some("op"),
                Kind::QueueJoined { queue: queue.into(), announced_wait_min: announced },
            );
            let wait = u32::try_from(rng.below(400)).expect("small");
            for (k, position) in (0..rng.below(3)).zip((1..5).rev()) {
                let waiting = Kind::QueueWaiting { queue: queue.into(), position, announced_wait_min: announced };
                let at = u32::try_from(k).expect("small") * 20;
                push(events_waiting_seq(at), t + i64::from(at) * 1000, Some("op"), waiting);
            }
            let result = [QueueResult::Bridged, QueueResult::Hangup, QueueResult::Redirected]
                [usize::try_from(rng.below(3)).expect("small")];
            let last_position = (rng.below(2) == 0).then(|| u32::try_from(1 + rng.below(4)).expect("small"));
            t += i64::from(wait) * 1000;
            push(
                next(&mut seq),
                t,
                Some("op"),
                Kind::QueueLeft { queue: queue.into(), result, queue_time_s: wait, last_position },
            );
        }
        3 => push(next(&mut seq), t, Some("transfer"), Kind::Dialled { number: "+15550100".into() }),
        4 => push(next(&mut seq), t, Some("vm"), Kind::Voicemail { mailbox: "support".into() }),
        5 => {
            push(next(&mut seq), t, Some("cb"), Kind::CallbackRequested { queue: Some("first_line".into()) });
            push(next(&mut seq), t, Some("cb"), Kind::FlowEnded {});
        }
        _ => {
            if rng.below(2) == 0 {
                push(next(&mut seq), t, Some("main"), Kind::CallerHungUp {});
            } else {
                push(next(&mut seq), t, Some("bye"), Kind::FlowEnded {});
            }
        }
    }
    // The status callback: a hang-up without a node for most calls, then the completion.
    if rng.below(4) > 0 {
        push(u32::MAX - 1, t + 1000, None, Kind::CallerHungUp {});
    }
    push(u32::MAX, t + 1000, None, Kind::CallCompleted { duration_s: 60 });
    events
}

fn events_waiting_seq(queue_time_s: u32) -> u32 {
    switchboard::events::SEQ_WAITING + queue_time_s
}

/// What `report` gave before the summaries: every event of every call, through the builder.
fn scanned_report(store: &mut Store, flow: Option<&str>, scope: Scope) -> switchboard::events::report::Report {
    let mut builder = Builder::new(scope);
    let filter = Filter { flow: flow.map(str::to_owned), kinds: KINDS.to_vec(), ..Filter::default() };
    store
        .scan(&filter, &mut |e| {
            builder.push(e);
            Ok(())
        })
        .expect("the log reads");
    builder.finish()
}

/// The summaries give the report the events give, whatever order and batches the events came
/// in (replays included), for every scope: dates cutting through buckets, time zones with
/// half-hour offsets and clock changes, flows, simulated calls; and again once rebuilt.
fn check_summaries_report_what_the_events_do(url: &str) {
    let mut store = open(url);
    let mut rng = Lcg(12);
    let mut events: Vec<Event> = (0..400).flat_map(|i| mixed_call(i, &mut rng)).collect();
    // Arrival order: mostly in order with a call's events spread over batches, some shuffled
    // far (instances and retries), some replayed.
    for i in (1..events.len()).rev() {
        if rng.below(4) == 0 {
            let j = usize::try_from(rng.below(u64::try_from(i).expect("small"))).expect("small");
            events.swap(i, j);
        }
    }
    let replays: Vec<Event> = events.iter().filter(|_| rng.below(10) == 0).cloned().collect();
    events.extend(replays);
    let mut rest = events.as_slice();
    while !rest.is_empty() {
        let n = usize::try_from(1 + rng.below(60)).expect("small").min(rest.len());
        store.insert(&rest[..n]).expect("writes");
        rest = &rest[n..];
        // Summaries caught up now and then, part of the dirty calls at a time (as the idle
        // writer does): calls summarised early get later events, replays, reordered ones.
        if rng.below(3) == 0 {
            let limit = usize::try_from(1 + rng.below(40)).expect("small");
            assert!(store.catch_up_some(limit).expect("catches up") <= limit);
        }
    }
    let at = |s: &str| Some(utc(s));
    let scopes = [
        Scope::default(),
        Scope { simulated: true, ..Scope::default() },
        Scope { since: at("2026-03-16 10:07:13.5"), until: at("2026-03-18 13:52:00"), ..Scope::default() },
        Scope { since: at("2026-03-17 10:00:00"), until: at("2026-03-17 10:14:00"), ..Scope::default() },
        Scope { since: at("2026-03-17 00:00:00"), tz: chrono_tz::Asia::Kolkata, ..Scope::default() },
        Scope { until: at("2026-03-17 06:45:01"), tz: chrono_tz::America::New_York, ..Scope::default() },
    ];
    let check = |store: &mut Store, when: &str| {
        for scope in &scopes {
            for flow in [None, Some("sales")] {
                let expected = scanned_report(store, flow, scope.clone());
                assert!(expected.calls > 0 || scope.since.is_some(), "the mixed log has calls");
                let got = store.report(flow, scope.clone()).expect("reports");
                assert_eq!(got, expected, "{when}: {flow:?} {scope:?}");
            }
        }
    };
    check(&mut store, "caught up in steps");
    assert_eq!(store.resummarize().expect("rebuilds"), 400);
    check(&mut store, "rebuilt from the events");
}

fn run_checks(url_for: &mut dyn FnMut(&str) -> String) {
    check_summaries_report_what_the_events_do(&url_for("summaries"));
    check_migrations_are_idempotent(&url_for("migrations"));
    check_batches_read_back_in_call_order(&url_for("batches"));
    check_prune_drops_whole_calls_that_ended_before(&url_for("prune"));
    check_export_writes_one_row_per_queue_stay(&url_for("export"));
}

// ---- SQLite ----

#[test]
fn sqlite_migrations_are_idempotent() {
    let dir = tempfile::tempdir().expect("a temp dir");
    check_migrations_are_idempotent(&sqlite_url(dir.path()));
}

#[test]
fn sqlite_batches_read_back_in_call_order() {
    let dir = tempfile::tempdir().expect("a temp dir");
    check_batches_read_back_in_call_order(&sqlite_url(dir.path()));
}

#[test]
fn sqlite_prune_drops_whole_calls_that_ended_before() {
    let dir = tempfile::tempdir().expect("a temp dir");
    check_prune_drops_whole_calls_that_ended_before(&sqlite_url(dir.path()));
}

#[test]
fn sqlite_export_writes_one_row_per_queue_stay() {
    let dir = tempfile::tempdir().expect("a temp dir");
    check_export_writes_one_row_per_queue_stay(&sqlite_url(dir.path()));
}

#[test]
fn sqlite_summaries_report_what_the_events_do() {
    let dir = tempfile::tempdir().expect("a temp dir");
    check_summaries_report_what_the_events_do(&sqlite_url(dir.path()));
}

#[test]
fn sqlite_log_is_in_wal_mode() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = open(&sqlite_url(dir.path()));
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("calls.db")).expect("opens");
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("reads");
    assert_eq!(mode, "wal");
    let indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name")
        .and_then(|mut q| q.query_map([], |r| r.get(0))?.collect())
        .expect("lists indexes");
    // Only the key: migration 3 dropped the time indexes no reader used.
    assert!(indexes.is_empty(), "{indexes:?}");
    // The table is kept in call order (see 0006_call_numbers.sql), so a read of every call
    // walks the calls' index and each call's key range, without sorting.
    let plan: Vec<String> = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT e.* FROM call_keys k CROSS JOIN events e ON e.call = k.num \
             WHERE e.flow = 'f' ORDER BY k.call_id, k.provider, e.seq",
        )
        .and_then(|mut q| q.query_map([], |r| r.get(3))?.collect())
        .expect("explains");
    assert_eq!(
        plan,
        ["SCAN k USING COVERING INDEX sqlite_autoindex_call_keys_1", "SEARCH e USING PRIMARY KEY (call=?)"]
    );
}

#[test]
fn a_version_1_sqlite_log_moves_to_call_order_keeping_its_events() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let conn = rusqlite::Connection::open(dir.path().join("calls.db")).expect("opens");
    let v1 = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/events/migrations/sqlite/0001_events.sql"),
    )
    .expect("the first migration");
    conn.execute_batch(&v1).expect("the version 1 schema");
    conn.execute_batch(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL);
         INSERT INTO schema_migrations VALUES (1, 0);
         INSERT INTO events (call_id, provider, flow, flow_version, seq, at_ms, node, kind, details, simulated) VALUES
           ('CA2', 'twilio', 'f', '0000000000000001', 1, 2000, 'main', 'node_entered', '{}', 0),
           ('CA1', 'twilio', 'f', '0000000000000001', 0, 1000, NULL, 'call_started', '{}', 0),
           ('CA2', 'twilio', 'f', '0000000000000001', 0, 1500, NULL, 'call_started', '{}', 1);",
    )
    .expect("a version 1 log");
    drop(conn);
    let mut store = open(&sqlite_url(dir.path()));
    assert_eq!(store.schema_version().expect("reads the version"), 7);
    assert_eq!(
        all_events(&mut store),
        [
            ("CA1".to_owned(), 0, "call_started"),
            ("CA2".to_owned(), 0, "call_started"),
            ("CA2".to_owned(), 1, "node_entered")
        ]
    );
    let replay = head("CA2").event(1, utc("2026-03-16 09:00:00"), None, Kind::NodeEntered {});
    assert_eq!(store.insert(&[replay]).expect("writes"), 0, "a replay stays a no-op");
}

#[test]
fn a_version_6_sqlite_log_keeps_its_events_and_marks_when_the_call_ids_move_to_call_keys() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let conn = rusqlite::Connection::open(dir.path().join("calls.db")).expect("opens");
    conn.execute_batch("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL);")
        .expect("the migrations' table");
    for (version, file) in [
        (1, "0001_events.sql"),
        (2, "0002_events_by_call.sql"),
        (3, "0003_call_summaries.sql"),
        (4, "0004_callbacks.sql"),
        (5, "0005_lazy_summaries.sql"),
        (6, "0006_call_numbers.sql"),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/events/migrations/sqlite").join(file);
        conn.execute_batch(&std::fs::read_to_string(path).expect("a migration")).expect("applies");
        conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", [version]).expect("notes it");
    }
    // Two calls as version 6 stored them, one marked for the summaries.
    conn.execute_batch(
        "INSERT INTO call_keys (num, call_id, provider) VALUES (1, 'CA1', 'twilio'), (2, 'CA2', 'vonage');
         INSERT INTO events (call, seq, call_id, provider, flow, flow_version, at_ms, node, kind, details, simulated) VALUES
           (1, 0, 'CA1', 'twilio', 'f', '0000000000000001', 1000, NULL, 'call_started', '{}', 0),
           (2, 0, 'CA2', 'vonage', 'f', '0000000000000001', 1500, NULL, 'call_started', '{}', 0),
           (2, 1, 'CA2', 'vonage', 'f', '0000000000000001', 2000, 'main', 'node_entered', '{}', 0);
         INSERT INTO dirty_calls (call_id, provider) VALUES ('CA2', 'vonage');",
    )
    .expect("a version 6 log");
    drop(conn);
    let mut store = open(&sqlite_url(dir.path()));
    assert_eq!(store.schema_version().expect("reads the version"), 7);
    assert_eq!(store.dirty_calls().expect("counts"), 1, "the mark moved with its call");
    let calls: Vec<(String, String, u32)> = store
        .call_events("CA2")
        .expect("reads a call")
        .into_iter()
        .map(|e| (e.call_id.to_string(), e.provider.to_string(), e.seq))
        .collect();
    assert_eq!(calls, [("CA2".into(), "vonage".into(), 0), ("CA2".into(), "vonage".into(), 1)]);
    // CA1 has neither a summary nor a mark here (a real version 6 log would have one or the
    // other), so the report counts the marked call alone: lost, the mark would count none.
    assert_eq!(store.report(None, Scope::default()).expect("reports").calls, 1);
    assert_eq!(store.dirty_calls().expect("counts"), 0, "the report caught up");
}

#[test]
fn an_export_of_two_weeks_is_a_log_fit_reads() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut store = open(&sqlite_url(dir.path()));
    // Two weeks from Monday 2 March 2026, three calls an hour from 09:00 to 17:59; every
    // seventh call abandons.
    let mut events = Vec::new();
    let mut i = 0_u32;
    for day in 0..14 {
        for hour in 9..18 {
            for third in 0..3 {
                let joined = utc("2026-03-02 00:00:00")
                    + chrono::Duration::days(day)
                    + chrono::Duration::hours(hour)
                    + chrono::Duration::minutes(third * 20 + 1);
                let wait_s = (i * 37) % 120;
                let call = if i % 7 == 0 {
                    queued_call(&format!("CA{i:04}"), joined, Some(QueueResult::Hangup), wait_s, None)
                } else {
                    let handle_ms = i64::from(120 + (i * 53) % 300) * 1000;
                    queued_call(&format!("CA{i:04}"), joined, Some(QueueResult::Bridged), wait_s, Some(handle_ms))
                };
                events.extend(call);
                i += 1;
            }
        }
    }
    for batch in events.chunks(500) {
        store.insert(batch).expect("writes");
    }
    let log = dir.path().join("calls.csv");
    let file = std::fs::File::create(&log).expect("creates the export");
    let summary = store.export_fit_csv(file, chrono_tz::UTC, &Filter::default()).expect("exports");
    assert_eq!(summary, ExportSummary { rows: 378, open: 0 });
    let model = dir.path().join("model.toml");
    let (log_s, model_s) = (log.to_str().expect("UTF-8 path"), model.to_str().expect("UTF-8 path"));
    run(&["fit", log_s, "-o", model_s])
        .code(0)
        .stdout_has("fitted calls from 2026-03-02 to 2026-03-15 (14 days)")
        .stdout_has("first_line: 378 calls")
        .stdout_has("answered 324, abandoned 54");
    assert!(std::fs::read_to_string(&model).expect("the model is written").contains("first_line"));
}

#[test]
fn the_writer_drops_and_counts_while_the_database_is_missing_then_resumes() {
    let dir = tempfile::tempdir().expect("a temp dir");
    // The directory does not exist yet, so the file cannot be opened.
    let missing = dir.path().join("later");
    let url = DbUrl::parse(&sqlite_url(&missing)).expect("a valid URL");
    let config = WriterConfig {
        capacity: 10,
        batch_max: 5,
        // Long: batches are cut by size here, which makes the counts exact.
        batch_window: Duration::from_secs(30),
        retry_min: Duration::from_millis(5),
        retry_max: Duration::from_millis(20),
    };
    let writer = Arc::new(Writer::open(&url, config).expect("starts").expect("a log"));
    let h = head("CA1");
    let event = |seq: u32| h.event(seq, utc("2026-03-16 09:00:00"), None, Kind::NodeEntered {});
    writer.record_all((0..5).map(event));
    wait_for("a failed attempt", || writer.stats().failures >= 1);
    // The thread holds one batch of five, the queue takes ten, the rest are dropped; recording
    // from another thread never blocks.
    let from_a_request = {
        let writer = writer.clone();
        let events: Vec<Event> = (5..25).map(event).collect();
        std::thread::spawn(move || writer.record_all(events))
    };
    from_a_request.join().expect("recording returns");
    assert_eq!(writer.stats().dropped, 10);
    assert!(!writer.is_connected());

    std::fs::create_dir(&missing).expect("creates the directory");
    wait_for("the queued events to be written", || writer.stats().written == 15);
    let stats = writer.shutdown(Duration::from_secs(5));
    assert_eq!((stats.written, stats.dropped), (15, 10));
    let seqs: Vec<u32> = open(&sqlite_url(&missing)).call_events("CA1").expect("reads").iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..15).collect::<Vec<u32>>());
}

#[test]
fn the_idle_writer_brings_the_summaries_up_to_date() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = DbUrl::parse(&sqlite_url(dir.path())).expect("a valid URL");
    let mut rng = Lcg(7);
    let events: Vec<Event> = (0..1200).flat_map(|i| mixed_call(i, &mut rng)).collect();
    let total = events.len() as u64;
    let config =
        WriterConfig { capacity: events.len(), batch_window: Duration::from_millis(20), ..WriterConfig::default() };
    let writer = Writer::open(&url, config).expect("starts").expect("a log");
    writer.record_all(events);
    let mut store = open(&sqlite_url(dir.path()));
    wait_for("every event written and summarised", || {
        writer.stats().written == total && store.dirty_calls().expect("counts") == 0
    });
    assert_eq!(store.catch_up().expect("nothing left"), 0);
    let expected = scanned_report(&mut store, None, Scope::default());
    assert_eq!(store.report(None, Scope::default()).expect("reports"), expected);
    writer.shutdown(Duration::from_secs(5));
}

#[test]
fn an_unknown_scheme_is_refused_and_none_is_no_log() {
    assert!(DbUrl::parse("mysql://db/calls").is_err());
    let none = DbUrl::parse("none").expect("valid");
    assert!(Store::open(&none).expect("no error").is_none());
    assert!(Writer::open(&none, WriterConfig::default()).expect("no error").is_none());
}

#[track_caller]
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---- PostgreSQL ----

#[test]
fn postgres_store() {
    // Tests in this binary run on several threads; this one owns its cluster.
    let Some(cluster) = Cluster::start() else { return };
    run_checks(&mut |name| cluster.database(name));
    // The other spelling of a socket: the path as the `host` parameter.
    cluster.database("hostparam");
    check_migrations_are_idempotent(&format!("postgres://switchboard@/hostparam?host={}", path(cluster.dir.path())));
}

#[test]
fn postgres_writer_writes_batches() {
    let Some(cluster) = Cluster::start() else { return };
    let url = DbUrl::parse(&cluster.database("writer")).expect("a valid URL");
    let writer = Writer::open(&url, WriterConfig::default()).expect("starts").expect("a log");
    let h = head("CA1");
    writer.record_all((0..2500).map(|seq| h.event(seq, utc("2026-03-16 09:00:00"), None, Kind::NodeEntered {})));
    let stats = writer.shutdown(Duration::from_secs(30));
    assert_eq!((stats.written, stats.dropped), (2500, 0));
    let mut store = Store::open(&url).expect("opens").expect("a log");
    let seqs: Vec<u32> = store.call_events("CA1").expect("reads").iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..2500).collect::<Vec<u32>>());
}

#[test]
fn sqlite_numbers_calls_once_and_never_reuses_a_pruned_number() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut store = open(&sqlite_url(dir.path()));
    let event = |call: &str, seq: u32, at: &str| head(call).event(seq, utc(at), None, Kind::NodeEntered {});
    // Random-looking ids, the later call sorting first: numbered as they begin.
    let first = [event("CA-f", 0, "2026-01-01 10:00:00"), event("CA-a", 0, "2026-01-01 10:00:01")];
    assert_eq!(store.insert(&first).expect("writes"), 2);
    // The same calls again in a later batch (remembered numbers), and a replay.
    let later = [event("CA-a", 1, "2026-03-01 10:00:00"), event("CA-f", 0, "2026-01-01 10:00:00")];
    assert_eq!(store.insert(&later).expect("writes"), 1);
    assert_eq!(store.prune(utc("2026-02-01 00:00:00")).expect("prunes"), 1);
    assert_eq!(store.insert(&[event("CA-n", 0, "2026-03-01 11:00:00")]).expect("writes"), 1);
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("calls.db")).expect("opens");
    let keys: Vec<(i64, String)> = conn
        .prepare("SELECT num, call_id FROM call_keys ORDER BY num")
        .and_then(|mut q| q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .expect("reads call_keys");
    // CA-f's number went with its events, and is not handed out again.
    assert_eq!(keys, [(2, "CA-a".to_owned()), (3, "CA-n".to_owned())]);
    let rows: Vec<(i64, u32)> = conn
        .prepare("SELECT call, seq FROM events ORDER BY call, seq")
        .and_then(|mut q| q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .expect("reads events");
    assert_eq!(rows, [(2, 0), (2, 1), (3, 0)]);
}
