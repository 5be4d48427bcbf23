//! `report` over a million calls (goal: under 2 s), harness-less: `cargo bench --bench report`.
//! Measured in the same run, each the median of `SWITCHBOARD_BENCH_RUNS` runs (default 3):
//! - the pure report in memory: the calls' events generated and fed to `events::report`
//!   (the baseline: no database at all);
//! - `report` from SQLite: open the log, `Store::scan` feeding the report, as
//!   `switchboard report` does, over a log of `SWITCHBOARD_BENCH_CALLS` calls (default
//!   1,000,000; written once, which takes a minute or two);
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

/// Writes calls `0..n` in batches of 10,000 events; returns the time taken.
fn write(store: &mut Store, n: u64) -> Duration {
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
    began.elapsed()
}

/// `switchboard report`'s read: open the log, scan what a report reads, build it.
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
    let wrote = write(&mut store, calls);
    drop(store);
    println!(
        "write {calls} calls ({events} events) to SQLite in batches of 10,000: {:.1} s ({:.0} events/s)",
        secs(wrote),
        events as f64 / secs(wrote)
    );
    let (sqlite, r) = median(runs, || report_from(&url));
    assert_eq!(r, expected, "SQLite's report is the in-memory one");
    println!(
        "report from SQLite over {calls} calls: median {:.2} s of {runs} ({:.2}x the in-memory report; goal < 2 s per million: {:.2} s)",
        secs(sqlite),
        secs(sqlite) / secs(memory),
        secs(sqlite) * 1e6 / calls.max(1) as f64
    );
    drop(dir);

    let Some(cluster) = pg::Cluster::start() else { return };
    let url = DbUrl::parse(&cluster.database("report")).expect("a valid URL");
    let mut store = Store::open(&url).expect("the log opens").expect("a log");
    let wrote = write(&mut store, pg_calls);
    drop(store);
    println!("write {pg_calls} calls to PostgreSQL in batches of 10,000: {:.1} s", secs(wrote));
    let (memory, expected) = median(runs, || report((0..pg_calls).flat_map(call), Scope::default()));
    let (postgres, r) = median(runs, || report_from(&url));
    assert_eq!(r, expected, "PostgreSQL's report is the in-memory one");
    println!(
        "report from PostgreSQL over {pg_calls} calls: median {:.2} s of {runs} ({:.2}x the in-memory report's {:.2} s; {:.2} s per million)",
        secs(postgres),
        secs(postgres) / secs(memory),
        secs(memory),
        secs(postgres) * 1e6 / pg_calls.max(1) as f64
    );
}
