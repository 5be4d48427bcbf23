//! Events written per second, batched, to SQLite and to PostgreSQL (goal: at least 50,000/s
//! each), harness-less: `cargo bench --bench events`.
//!
//! `SWITCHBOARD_BENCH_EVENTS` events (default 300,000) of synthetic calls are generated first,
//! then stored in batches of the server writer's size (`WriterConfig::default().batch_max`,
//! 1,000: one transaction each) into a fresh log; each figure is the median of
//! `SWITCHBOARD_BENCH_RUNS` runs (default 3). Also measured: the same events through a
//! [`Writer`] (the server's path: channel, batching thread), with a capacity that holds them
//! all so none is dropped. PostgreSQL runs when a throwaway cluster can be started (see
//! tests/common/postgres.rs); it is told `fsync=off`, so its figure is the database's work,
//! not the disk's.

#[path = "common/calls.rs"]
mod calls;
#[path = "../tests/common/postgres.rs"]
mod pg;

use std::time::{Duration, Instant};

use switchboard::events::{DbUrl, Event, Store, Writer, WriterConfig};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Stores `events` batch by batch into the fresh log `url`; the time taken.
fn insert(url: &DbUrl, events: &[Event]) -> Duration {
    let mut store = Store::open(url).expect("the log opens").expect("a log");
    let batch = WriterConfig::default().batch_max;
    let began = Instant::now();
    for chunk in events.chunks(batch) {
        assert_eq!(store.insert(chunk).expect("stored"), chunk.len() as u64);
    }
    began.elapsed()
}

/// The same through the server's writer, until it has written them all.
fn through_writer(url: &DbUrl, events: &[Event]) -> Duration {
    let config = WriterConfig { capacity: events.len() + 1, ..WriterConfig::default() };
    let writer = Writer::open(url, config).expect("the writer starts").expect("a log");
    let began = Instant::now();
    writer.record_all(events.iter().cloned());
    let stats = writer.shutdown(Duration::from_secs(600));
    assert_eq!((stats.written, stats.dropped), (events.len() as u64, 0));
    began.elapsed()
}

fn measure(backend: &str, runs: u64, events: &[Event], mut fresh: impl FnMut(u64) -> DbUrl) {
    let rate = |d: Duration| events.len() as f64 / d.as_secs_f64();
    let store = median((0..runs).map(|run| insert(&fresh(2 * run), events)).collect());
    let writer = median((0..runs).map(|run| through_writer(&fresh(2 * run + 1), events)).collect());
    println!(
        "{backend}: {} events in batches of {}: median {:.0} events/s by Store::insert, {:.0} events/s through the Writer ({:.2}x)",
        events.len(),
        WriterConfig::default().batch_max,
        rate(store),
        rate(writer),
        rate(writer) / rate(store)
    );
}

fn main() {
    let n = usize::try_from(env_or("SWITCHBOARD_BENCH_EVENTS", 300_000)).unwrap_or(300_000);
    let runs = env_or("SWITCHBOARD_BENCH_RUNS", 3).max(1);
    let events: Vec<Event> = (0..).flat_map(calls::call).take(n).collect();

    let dir = tempfile::tempdir().expect("a temp dir");
    measure("SQLite", runs, &events, |run| {
        DbUrl::parse(&format!("sqlite://{}", dir.path().join(format!("calls{run}.db")).display())).expect("a URL")
    });

    let Some(cluster) = pg::Cluster::start() else { return };
    measure("PostgreSQL", runs, &events, |run| {
        DbUrl::parse(&cluster.database(&format!("calls{run}"))).expect("a valid URL")
    });
}
