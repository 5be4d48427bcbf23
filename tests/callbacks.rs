//! The `callbacks` table on both backends: a booking stored once per call, the pending list by
//! queue, claims that only one of several agents at once wins, done, release and prune; on
//! SQLite and on a throwaway PostgreSQL cluster (skipped without PostgreSQL's binaries).

#[path = "common/postgres.rs"]
mod pg;

use chrono::{DateTime, Utc};
use switchboard::events::callbacks::{Change, NewCallback, Status};
use switchboard::events::{DbUrl, Store};

fn at(min: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_773_651_600_000 + min * 60_000).expect("a valid time")
}

fn booking(call_id: &str, queue: &str, min: i64) -> NewCallback {
    NewCallback {
        created: at(min),
        call_id: call_id.into(),
        provider: "twilio".into(),
        flow: "support".into(),
        number: "+79161234567".into(),
        queue: queue.into(),
        language: "ru".into(),
        told_wait_s: None,
        window: None,
        timezone: None,
    }
}

fn open(url: &DbUrl) -> Store {
    Store::open(url).expect("the database opens").expect("a database")
}

/// Everything the API relies on, on the database `url` names.
fn check(url: &DbUrl) {
    let mut store = open(url);
    let first = store.book_callback(&booking("CA1", "first_line", 0)).expect("books");
    assert_eq!(store.book_callback(&booking("CA1", "first_line", 1)).expect("books"), first, "a replay books once");
    let other = store.book_callback(&booking("CA2", "second_line", 2)).expect("books");
    let ids = |list: Vec<switchboard::events::callbacks::Callback>| list.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(store.callbacks(Status::Pending, None).expect("lists")), [first, other]);
    assert_eq!(ids(store.callbacks(Status::Pending, Some("first_line")).expect("lists")), [first]);

    // Eight agents claim the same call-back at once, each on its own connection: one wins.
    let results: Vec<Change> = std::thread::scope(|s| {
        let claims: Vec<_> = (0..8)
            .map(|agent| {
                s.spawn(move || open(url).claim_callback(first, &format!("agent{agent}"), at(5)).expect("claims"))
            })
            .collect();
        claims.into_iter().map(|c| c.join().expect("a claim")).collect()
    });
    let won = results.iter().filter(|r| matches!(r, Change::Made(_))).count();
    let refused = results.iter().filter(|r| **r == Change::Conflict(Status::Claimed)).count();
    assert_eq!((won, refused), (1, 7), "{results:?}");

    store.release_callback(first).expect("releases");
    assert!(matches!(store.claim_callback(first, "anna", at(6)).expect("claims"), Change::Made(_)));
    let Change::Made(done) = store.finish_callback(first, at(9)).expect("finishes") else { panic!("done") };
    assert_eq!((done.status, done.done), (Status::Done, Some(at(9))));
    assert_eq!(store.finish_callback(first, at(10)).expect("finishes"), Change::Conflict(Status::Done));
    assert_eq!(store.claim_callback(first + other + 1, "anna", at(10)).expect("claims"), Change::NotFound);
    assert_eq!(store.prune_callbacks(at(1)).expect("prunes"), 1);
    assert_eq!(ids(store.callbacks(Status::Pending, None).expect("lists")), [other]);
}

#[test]
fn sqlite_callbacks() {
    let dir = tempfile::tempdir().expect("a temp dir");
    check(&DbUrl::Sqlite(dir.path().join("calls.db")));
}

#[test]
fn postgres_callbacks() {
    let Some(cluster) = pg::Cluster::start() else { return };
    check(&DbUrl::parse(&cluster.database("callbacks")).expect("a valid URL"));
}
