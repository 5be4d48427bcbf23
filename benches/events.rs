//! Events written per second, batched, to SQLite and to PostgreSQL (goal: at least 50,000/s
//! each), harness-less: `cargo bench --bench events`.
//!
//! `SWITCHBOARD_BENCH_EVENTS` events (default 300,000) of synthetic calls are generated first,
//! then stored in batches of the server writer's size (`WriterConfig::default().batch_max`,
//! 1,000: one transaction each) into a fresh log; each figure is the median of
//! `SWITCHBOARD_BENCH_RUNS` runs (default 3), followed by the summaries' catch-up (timed apart:
//! the server's writer does it when idle). Baseline in the same run: the same rows by a plain
//! batched INSERT with nothing else. Also measured: the same events through a
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

/// Stores `events` batch by batch into the fresh log `url`, then brings the summaries up to
/// date; the two times.
fn insert(url: &DbUrl, events: &[Event]) -> (Duration, Duration) {
    let mut store = Store::open(url).expect("the log opens").expect("a log");
    let batch = WriterConfig::default().batch_max;
    let began = Instant::now();
    for chunk in events.chunks(batch) {
        assert_eq!(store.insert(chunk).expect("stored"), chunk.len() as u64);
    }
    let wrote = began.elapsed();
    let began = Instant::now();
    store.catch_up().expect("summarised");
    (wrote, began.elapsed())
}

/// The baseline: the same rows into the same `events` table of the fresh log `url` by the
/// plainest batched INSERT (one prepared statement per row on SQLite, one multi-row `unnest`
/// statement per batch on PostgreSQL), one transaction per batch, nothing else.
fn raw_insert(url: &DbUrl, events: &[Event]) -> Duration {
    drop(Store::open(url).expect("the log opens").expect("a log"));
    let batch = WriterConfig::default().batch_max;
    let hex = |v: u64| format!("{v:016x}");
    let began = Instant::now();
    match url {
        DbUrl::Sqlite(path) => {
            let mut conn = rusqlite::Connection::open(path).expect("opens");
            conn.pragma_update(None, "synchronous", "NORMAL").expect("a pragma");
            // The table's key starts with a number per call (0006_call_numbers.sql), handed
            // out here in the order calls first appear, with nothing stored beside it (the
            // call's id and provider are not in the rows: 0007_slim_events.sql).
            let mut numbers = std::collections::HashMap::new();
            for chunk in events.chunks(batch) {
                let tx = conn.transaction().expect("a transaction");
                {
                    let mut insert = tx
                        .prepare_cached(
                            "INSERT INTO events (flow, flow_version, seq, at_ms, node, kind, details, simulated, \
                             call) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        )
                        .expect("prepares");
                    for e in chunk {
                        let next = numbers.len();
                        let call = *numbers.entry(&*e.call_id).or_insert(next);
                        insert
                            .execute(rusqlite::params![
                                e.flow,
                                hex(e.flow_version),
                                e.seq,
                                e.at.timestamp_millis(),
                                e.node,
                                e.kind.word(),
                                e.kind.details(),
                                e.simulated,
                                i64::try_from(call).expect("a number")
                            ])
                            .expect("inserts");
                    }
                }
                tx.commit().expect("commits");
            }
        }
        DbUrl::Postgres(url) => {
            let mut client =
                url.parse::<postgres::Config>().expect("a URL").connect(postgres::NoTls).expect("connects");
            for chunk in events.chunks(batch) {
                let col = |f: &dyn Fn(&Event) -> String| chunk.iter().map(f).collect::<Vec<String>>();
                let seqs: Vec<i64> = chunk.iter().map(|e| i64::from(e.seq)).collect();
                let ats: Vec<i64> = chunk.iter().map(|e| e.at.timestamp_millis()).collect();
                let nodes: Vec<Option<&str>> = chunk.iter().map(|e| e.node.as_deref()).collect();
                let simulated: Vec<bool> = chunk.iter().map(|e| e.simulated).collect();
                client
                    .execute(
                        "INSERT INTO events (call_id, provider, flow, flow_version, seq, at_ms, node, kind, details, \
                         simulated) SELECT c, p, f, v, s, a, n, k, d::jsonb, m FROM unnest($1::text[], $2::text[], \
                         $3::text[], $4::text[], $5::int8[], $6::int8[], $7::text[], $8::text[], $9::text[], \
                         $10::bool[]) AS t(c, p, f, v, s, a, n, k, d, m)",
                        &[
                            &col(&|e| e.call_id.to_string()),
                            &col(&|e| e.provider.to_string()),
                            &col(&|e| e.flow.to_string()),
                            &col(&|e| hex(e.flow_version)),
                            &seqs,
                            &ats,
                            &nodes,
                            &col(&|e| e.kind.word().to_owned()),
                            &col(&|e| e.kind.details()),
                            &simulated,
                        ],
                    )
                    .expect("inserts");
            }
        }
        DbUrl::None => {}
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
    let raw = median((0..runs).map(|run| raw_insert(&fresh(3 * run), events)).collect());
    let (stored, summarised): (Vec<Duration>, Vec<Duration>) =
        (0..runs).map(|run| insert(&fresh(3 * run + 1), events)).unzip();
    let (store, summarised) = (median(stored), median(summarised));
    let writer = median((0..runs).map(|run| through_writer(&fresh(3 * run + 2), events)).collect());
    println!(
        "{backend}: {} events in batches of {}, medians: {:.0} events/s through the Writer, {:.0} events/s by \
         Store::insert ({:.2}x the baseline), baseline plain INSERT {:.0} events/s; then the summaries' \
         catch-up {:.2} s ({:.0} events/s written and summarised)",
        events.len(),
        WriterConfig::default().batch_max,
        rate(writer),
        rate(store),
        rate(store) / rate(raw),
        rate(raw),
        summarised.as_secs_f64(),
        rate(store + summarised),
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
