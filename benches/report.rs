//! `report` over a million calls (goal: under 2 s), harness-less: `cargo bench --bench report`.
//! Measured in the same run, each the median of `SWITCHBOARD_BENCH_RUNS` runs (default 3):
//! - the pure report in memory: the calls' events generated and fed to `events::report`;
//! - over a log of `SWITCHBOARD_BENCH_CALLS` calls (default 1,000,000; written once with its
//!   events, then summarised as the idle writer would: both timed) in SQLite: `switchboard report`'s read,
//!   `Store::report` from the summaries (whole log, and dates that cut through 15-minute
//!   buckets), beside the baselines `SELECT count(*) FROM events` and the old read, every
//!   event through `Store::scan` and the report builder (which must give the same report);
//! - the same from PostgreSQL over `SWITCHBOARD_BENCH_PG_CALLS` calls (default 200,000), when a
//!   throwaway cluster can be started (see tests/common/postgres.rs).

#[path = "common/calls.rs"]
mod calls;
#[path = "../tests/common/postgres.rs"]
mod pg;

use std::time::{Duration, Instant};

use calls::call;
use switchboard::events::report::{Builder, KINDS, Report, Scope, report};
use switchboard::events::{DbUrl, Filter, Store};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The median of `runs` timings of `f` (each returns its report, kept to check the runs agree).
fn median(runs: u64, mut f: impl FnMut() -> Report) -> (Duration, Report) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs.max(1) {
        let began = Instant::now();
        let r = f();
        times.push(began.elapsed());
        if let Some(previous) = &last {
            assert_eq!(previous, &r, "runs disagree");
        }
        last = Some(r);
    }
    times.sort();
    (times[times.len() / 2], last.expect("at least one run"))
}

/// Writes calls `0..n` in batches of 10,000 events, then brings the summaries up to date (as
/// the server's writer does when idle); returns the two times.
fn write(store: &mut Store, n: u64) -> (Duration, Duration) {
    let began = Instant::now();
    let mut batch = Vec::new();
    for i in 0..n {
        batch.extend(call(i));
        if batch.len() >= 10_000 {
            store.insert(&batch).expect("stored");
            batch.clear();
        }
    }
    store.insert(&batch).expect("stored");
    let wrote = began.elapsed();
    let began = Instant::now();
    assert_eq!(store.catch_up().expect("summarised"), n, "every call summarised once");
    (wrote, began.elapsed())
}

/// `switchboard report`'s read: open the log, read the summaries.
fn summaries(url: &DbUrl, scope: &Scope) -> Report {
    let mut store = Store::open(url).expect("the log opens").expect("a log");
    store.report(None, scope.clone()).expect("the log reads")
}

/// The read before the summaries: open the log, scan what a report reads, build it.
fn report_from(url: &DbUrl) -> Report {
    let mut store = Store::open(url).expect("the log opens").expect("a log");
    let mut builder = Builder::new(Scope::default());
    let filter = Filter { kinds: KINDS.to_vec(), ..Filter::default() };
    store
        .scan(&filter, &mut |e| {
            builder.push(e);
            Ok(())
        })
        .expect("the log reads");
    builder.finish()
}

fn main() {
    let calls = env_or("SWITCHBOARD_BENCH_CALLS", 1_000_000);
    let pg_calls = env_or("SWITCHBOARD_BENCH_PG_CALLS", 200_000);
    let runs = env_or("SWITCHBOARD_BENCH_RUNS", 3);
    let secs = |d: Duration| d.as_secs_f64();

    let (memory, expected) = median(runs, || report((0..calls).flat_map(call), Scope::default()));
    println!("report in memory over {calls} calls (generated as read): median {:.2} s", secs(memory));

    let dir = tempfile::tempdir().expect("a temp dir");
    let url = DbUrl::parse(&format!("sqlite://{}", dir.path().join("calls.db").display())).expect("a valid URL");
    let mut store = Store::open(&url).expect("the log opens").expect("a log");
    let events: usize = (0..calls).map(|i| call(i).len()).sum();
    let (wrote, summarised) = write(&mut store, calls);
    drop(store);
    println!(
        "write {calls} calls ({events} events) to SQLite in batches of 10,000: {:.1} s ({:.0} events/s); \
         then summarise them: {:.1} s ({:.0} calls/s)",
        secs(wrote),
        events as f64 / secs(wrote),
        secs(summarised),
        calls as f64 / secs(summarised)
    );
    let path = dir.path().join("calls.db");
    let (count, _) = median(runs, || {
        let conn = rusqlite::Connection::open(&path).expect("opens");
        let n: i64 = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).expect("counts");
        assert_eq!(usize::try_from(n).ok(), Some(events));
        Report::default()
    });
    let (scan, r) = median(runs, || report_from(&url));
    assert_eq!(r, expected, "the scan's report is the in-memory one");
    let (sqlite, r) = median(runs, || summaries(&url, &Scope::default()));
    assert_eq!(r, expected, "the summaries' report is the in-memory one");
    // From 11:07:30 on the second day to 13:52:10 on the last: both ends cut a bucket.
    let first = calls::start(0);
    let cut = Scope {
        since: Some(first + chrono::Duration::seconds(86_400 + 4 * 3600 + 450)),
        until: Some(calls::start(calls.saturating_sub(1)) - chrono::Duration::seconds(3600 + 50)),
        ..Scope::default()
    };
    let (dated, r) = median(runs, || summaries(&url, &cut));
    assert_eq!(r, report((0..calls).flat_map(call), cut.clone()), "a dated report is the in-memory one");
    println!(
        "report from SQLite over {calls} calls, median of {runs}: summaries {:.3} s (goal < 2 s per million: \
         {:.3} s); with --since/--until cutting buckets {:.3} s; baselines in the same run: \
         SELECT count(*) FROM events {:.3} s ({:.2}x the summaries' time), the event scan {:.2} s \
         ({:.1}x the summaries' time), in memory {:.2} s",
        secs(sqlite),
        secs(sqlite) * 1e6 / calls.max(1) as f64,
        secs(dated),
        secs(count),
        secs(count) / secs(sqlite),
        secs(scan),
        secs(scan) / secs(sqlite),
        secs(memory),
    );
    drop(dir);

    let Some(cluster) = pg::Cluster::start() else { return };
    let url = DbUrl::parse(&cluster.database("report")).expect("a valid URL");
    let mut store = Store::open(&url).expect("the log opens").expect("a log");
    let (wrote, summarised) = write(&mut store, pg_calls);
    drop(store);
    println!(
        "write {pg_calls} calls to PostgreSQL in batches of 10,000: {:.1} s; then summarise them: {:.1} s",
        secs(wrote),
        secs(summarised)
    );
    let (memory, expected) = median(runs, || report((0..pg_calls).flat_map(call), Scope::default()));
    let (scan, r) = median(runs, || report_from(&url));
    assert_eq!(r, expected, "PostgreSQL's scan is the in-memory report");
    let (postgres, r) = median(runs, || summaries(&url, &Scope::default()));
    assert_eq!(r, expected, "PostgreSQL's summaries give the in-memory report");
    println!(
        "report from PostgreSQL over {pg_calls} calls, median of {runs}: summaries {:.3} s ({:.3} s per \
         million); the event scan {:.2} s ({:.1}x), in memory {:.2} s",
        secs(postgres),
        secs(postgres) * 1e6 / pg_calls.max(1) as f64,
        secs(scan),
        secs(scan) / secs(postgres),
        secs(memory)
    );
}
