//! Booked call-backs: the `callbacks` table beside the event log (migration 0004).
//!
//! A booking is written directly, in its own statement, never through the [`Writer`]'s lossy
//! queue: it is a promise to a caller, and the caller hears it only once it is stored. Agents
//! or a dialler list the pending ones, claim one (atomically: of two claims, one wins) and mark
//! it done. The number is kept as the caller gave it, whatever `--caller-numbers` says: a
//! call-back needs the real number (docs/events.md, SECURITY.md); `db prune` deletes them.
//!
//! [`Writer`]: super::Writer

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::store::{Backend, Store};
use super::{EventLogError, without_nul};

/// A call-back to store.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewCallback {
    pub created: DateTime<Utc>,
    pub call_id: String,
    pub provider: String,
    pub flow: String,
    pub number: String,
    pub queue: String,
    pub language: String,
    /// The wait the queue model expected when the caller chose the call-back.
    pub told_wait_s: Option<u32>,
    /// When to call, `HH:MM-HH:MM` in `timezone`.
    pub window: Option<String>,
    /// The flow's time zone (`None`: the server's).
    pub timezone: Option<String>,
}

/// Where a call-back is: waiting, taken by someone, made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Claimed,
    Done,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Claimed => "claimed",
            Status::Done => "done",
        }
    }

    fn parse(word: &str) -> Result<Status, EventLogError> {
        [Status::Pending, Status::Claimed, Status::Done]
            .into_iter()
            .find(|s| s.as_str() == word)
            .ok_or_else(|| EventLogError::BadRow(format!("call-back status `{word}`")))
    }
}

/// A stored call-back, as `GET /callbacks` and `switchboard callbacks list` show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Callback {
    pub id: i64,
    /// What was booked, as it was stored.
    #[serde(flatten)]
    pub booking: NewCallback,
    pub status: Status,
    pub claimed_by: Option<String>,
    pub claimed: Option<DateTime<Utc>>,
    pub done: Option<DateTime<Utc>>,
}

/// What came of a claim or a `done`.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Made: the call-back as it is now.
    Made(Box<Callback>),
    /// Refused: the call-back is already in this status (claimed by someone else, or done).
    Conflict(Status),
    NotFound,
}

const COLUMNS: &str = "id, created_ms, call_id, provider, flow, number, queue, language, told_wait_s, \
                       time_window, timezone, status, claimed_by, claimed_ms, done_ms";

/// One row's columns, in [`COLUMNS`]' order, read from either backend.
struct Row {
    id: i64,
    created_ms: i64,
    text: [String; 6],
    told_wait_s: Option<i64>,
    window: Option<String>,
    timezone: Option<String>,
    status: String,
    claimed_by: Option<String>,
    claimed_ms: Option<i64>,
    done_ms: Option<i64>,
}

impl Row {
    fn lite(r: &rusqlite::Row) -> rusqlite::Result<Row> {
        Ok(Row {
            id: r.get(0)?,
            created_ms: r.get(1)?,
            text: [r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?],
            told_wait_s: r.get(8)?,
            window: r.get(9)?,
            timezone: r.get(10)?,
            status: r.get(11)?,
            claimed_by: r.get(12)?,
            claimed_ms: r.get(13)?,
            done_ms: r.get(14)?,
        })
    }

    fn pg(r: &postgres::Row) -> Result<Row, postgres::Error> {
        Ok(Row {
            id: r.try_get(0)?,
            created_ms: r.try_get(1)?,
            text: [r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?, r.try_get(6)?, r.try_get(7)?],
            told_wait_s: r.try_get(8)?,
            window: r.try_get(9)?,
            timezone: r.try_get(10)?,
            status: r.try_get(11)?,
            claimed_by: r.try_get(12)?,
            claimed_ms: r.try_get(13)?,
            done_ms: r.try_get(14)?,
        })
    }

    fn callback(self) -> Result<Callback, EventLogError> {
        let time = |ms: i64| {
            DateTime::from_timestamp_millis(ms).ok_or_else(|| EventLogError::BadRow(format!("call-back time {ms}")))
        };
        let [call_id, provider, flow, number, queue, language] = self.text;
        Ok(Callback {
            id: self.id,
            booking: NewCallback {
                created: time(self.created_ms)?,
                call_id,
                provider,
                flow,
                number,
                queue,
                language,
                told_wait_s: self.told_wait_s.and_then(|w| u32::try_from(w).ok()),
                window: self.window,
                timezone: self.timezone,
            },
            status: Status::parse(&self.status)?,
            claimed_by: self.claimed_by,
            claimed: self.claimed_ms.map(time).transpose()?,
            done: self.done_ms.map(time).transpose()?,
        })
    }
}

impl Store {
    /// Stores a call-back and returns its id. Booking the same call again (a replayed
    /// webhook) returns the first booking's id.
    pub fn book_callback(&mut self, c: &NewCallback) -> Result<i64, EventLogError> {
        const INSERT: &str = "INSERT INTO callbacks (created_ms, call_id, provider, flow, number, queue, language, \
                              told_wait_s, time_window, timezone) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                              ON CONFLICT (call_id, provider) DO NOTHING RETURNING id";
        const EXISTING: &str = "SELECT id FROM callbacks WHERE call_id = $1 AND provider = $2";
        let created = c.created.timestamp_millis();
        let [call_id, provider, flow, number, queue, language] =
            [&c.call_id, &c.provider, &c.flow, &c.number, &c.queue, &c.language].map(|s| without_nul(s));
        let told = c.told_wait_s.map(i64::from);
        let window = c.window.as_deref().map(without_nul);
        let timezone = c.timezone.as_deref().map(without_nul);
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                use rusqlite::OptionalExtension;
                let params = rusqlite::params![
                    created, call_id, provider, flow, number, queue, language, told, window, timezone
                ];
                let id = conn.query_row(INSERT, params, |r| r.get(0)).optional()?;
                match id {
                    Some(id) => Ok(id),
                    None => Ok(conn.query_row(EXISTING, [&call_id, &provider], |r| r.get(0))?),
                }
            }
            Backend::Postgres(client) => {
                let rows = client.query(
                    INSERT,
                    &[&created, &call_id, &provider, &flow, &number, &queue, &language, &told, &window, &timezone],
                )?;
                match rows.first() {
                    Some(row) => Ok(row.try_get(0)?),
                    None => Ok(client.query_one(EXISTING, &[&call_id, &provider])?.try_get(0)?),
                }
            }
        }
    }

    /// The call-backs in `status` (of one queue, with `queue`), oldest first.
    pub fn callbacks(&mut self, status: Status, queue: Option<&str>) -> Result<Vec<Callback>, EventLogError> {
        let filter = if queue.is_some() { " AND queue = $2" } else { "" };
        let sql = format!("SELECT {COLUMNS} FROM callbacks WHERE status = $1{filter} ORDER BY created_ms, id");
        let rows: Vec<Row> = match &mut self.backend {
            Backend::Sqlite(conn) => {
                let mut query = conn.prepare(&sql)?;
                match queue {
                    Some(q) => query.query_map([status.as_str(), q], Row::lite)?.collect::<Result<_, _>>()?,
                    None => query.query_map([status.as_str()], Row::lite)?.collect::<Result<_, _>>()?,
                }
            }
            Backend::Postgres(client) => {
                let rows = match queue {
                    Some(q) => client.query(&sql, &[&status.as_str(), &q])?,
                    None => client.query(&sql, &[&status.as_str()])?,
                };
                rows.iter().map(Row::pg).collect::<Result<_, _>>()?
            }
        };
        rows.into_iter().map(Row::callback).collect()
    }

    /// Takes a pending call-back for `by`. Atomic: of two claims at once, one gets it and the
    /// other `Conflict(Claimed)`.
    pub fn claim_callback(&mut self, id: i64, by: &str, at: DateTime<Utc>) -> Result<Change, EventLogError> {
        let sql = format!(
            "UPDATE callbacks SET status = 'claimed', claimed_by = $1, claimed_ms = $2 \
             WHERE id = $3 AND status = 'pending' RETURNING {COLUMNS}"
        );
        self.change(&sql, id, Some(&without_nul(by)), at)
    }

    /// Marks a call-back made (from pending or claimed).
    pub fn finish_callback(&mut self, id: i64, at: DateTime<Utc>) -> Result<Change, EventLogError> {
        let sql = format!(
            "UPDATE callbacks SET status = 'done', done_ms = $1 WHERE id = $2 AND status <> 'done' RETURNING {COLUMNS}"
        );
        self.change(&sql, id, None, at)
    }

    /// Gives a claimed call-back back to the pending list (the dialler could not place it).
    pub fn release_callback(&mut self, id: i64) -> Result<(), EventLogError> {
        const SQL: &str = "UPDATE callbacks SET status = 'pending', claimed_by = NULL, claimed_ms = NULL WHERE id = $1 AND status = 'claimed'";
        match &mut self.backend {
            Backend::Sqlite(conn) => _ = conn.execute(SQL, [id])?,
            Backend::Postgres(client) => _ = client.execute(SQL, &[&id])?,
        }
        Ok(())
    }

    /// Runs one conditional update (its parameters `by` if given, then `at`, then `id`, in the
    /// order they appear: SQLite numbers `$N` by appearance); when it changed nothing, says why.
    fn change(&mut self, sql: &str, id: i64, by: Option<&str>, at: DateTime<Utc>) -> Result<Change, EventLogError> {
        const STATUS: &str = "SELECT status FROM callbacks WHERE id = $1";
        let at = at.timestamp_millis();
        let (row, status): (Option<Row>, Option<String>) = match &mut self.backend {
            Backend::Sqlite(conn) => {
                use rusqlite::OptionalExtension;
                let row = match by {
                    Some(by) => conn.query_row(sql, rusqlite::params![by, at, id], Row::lite).optional()?,
                    None => conn.query_row(sql, rusqlite::params![at, id], Row::lite).optional()?,
                };
                let status = match row {
                    Some(_) => None,
                    None => conn.query_row(STATUS, [id], |r| r.get(0)).optional()?,
                };
                (row, status)
            }
            Backend::Postgres(client) => {
                let rows = match by {
                    Some(by) => client.query(sql, &[&by, &at, &id])?,
                    None => client.query(sql, &[&at, &id])?,
                };
                let row = rows.first().map(Row::pg).transpose()?;
                let status = match row {
                    Some(_) => None,
                    None => client.query_opt(STATUS, &[&id])?.map(|r| r.try_get(0)).transpose()?,
                };
                (row, status)
            }
        };
        Ok(match (row, status) {
            (Some(row), _) => Change::Made(Box::new(row.callback()?)),
            (None, Some(status)) => Change::Conflict(Status::parse(&status)?),
            (None, None) => Change::NotFound,
        })
    }

    /// Deletes the call-backs booked before `older_than`, whatever their status (a call-back
    /// that old is no longer worth making); returns how many went.
    pub fn prune_callbacks(&mut self, older_than: DateTime<Utc>) -> Result<u64, EventLogError> {
        const SQL: &str = "DELETE FROM callbacks WHERE created_ms < $1";
        let cutoff = older_than.timestamp_millis();
        Ok(match &mut self.backend {
            Backend::Sqlite(conn) => u64::try_from(conn.execute(SQL, [cutoff])?).unwrap_or(u64::MAX),
            Backend::Postgres(client) => client.execute(SQL, &[&cutoff])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            told_wait_s: Some(1260),
            window: Some("09:00-21:00".into()),
            timezone: Some("Europe/Moscow".into()),
        }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = Store::open_sqlite(&dir.path().join("calls.db")).expect("the store opens");
        (dir, store)
    }

    #[test]
    fn a_booking_is_stored_once_and_listed_by_queue_oldest_first() {
        let (_dir, mut store) = store();
        let first = store.book_callback(&booking("CA1", "first_line", 0)).unwrap();
        assert_eq!(store.book_callback(&booking("CA1", "first_line", 1)).unwrap(), first, "a replay books once");
        let second = store.book_callback(&booking("CA2", "second_line", 2)).unwrap();
        let third = store.book_callback(&booking("CA3", "first_line", 3)).unwrap();
        let ids = |list: Vec<Callback>| list.into_iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(ids(store.callbacks(Status::Pending, None).unwrap()), [first, second, third]);
        assert_eq!(ids(store.callbacks(Status::Pending, Some("first_line")).unwrap()), [first, third]);
        let stored = store.callbacks(Status::Pending, Some("second_line")).unwrap().remove(0);
        assert_eq!((stored.booking.number.as_str(), stored.booking.told_wait_s), ("+79161234567", Some(1260)));
        assert_eq!((stored.booking.window.as_deref(), stored.booking.created), (Some("09:00-21:00"), at(2)));
    }

    #[test]
    fn a_call_back_is_claimed_once_then_done_once() {
        let (_dir, mut store) = store();
        let id = store.book_callback(&booking("CA1", "first_line", 0)).unwrap();
        let Change::Made(claimed) = store.claim_callback(id, "anna", at(5)).unwrap() else { panic!("claimed") };
        assert_eq!(
            (claimed.status, claimed.claimed_by.as_deref(), claimed.claimed),
            (Status::Claimed, Some("anna"), Some(at(5)))
        );
        assert_eq!(store.claim_callback(id, "boris", at(6)).unwrap(), Change::Conflict(Status::Claimed));
        store.release_callback(id).unwrap();
        let Change::Made(again) = store.claim_callback(id, "anna", at(7)).unwrap() else { panic!("released") };
        assert_eq!(again.claimed, Some(at(7)));
        assert!(store.callbacks(Status::Pending, None).unwrap().is_empty());
        let Change::Made(done) = store.finish_callback(id, at(9)).unwrap() else { panic!("done") };
        assert_eq!((done.status, done.done), (Status::Done, Some(at(9))));
        assert_eq!(store.finish_callback(id, at(10)).unwrap(), Change::Conflict(Status::Done));
        assert_eq!(store.claim_callback(id, "boris", at(11)).unwrap(), Change::Conflict(Status::Done));
        assert_eq!(store.claim_callback(id + 1, "boris", at(11)).unwrap(), Change::NotFound);
    }

    #[test]
    fn prune_deletes_call_backs_booked_before_the_cut_off() {
        let (_dir, mut store) = store();
        store.book_callback(&booking("CA1", "first_line", 0)).unwrap();
        let kept = store.book_callback(&booking("CA2", "first_line", 10)).unwrap();
        assert_eq!(store.prune_callbacks(at(5)).unwrap(), 1);
        let left: Vec<i64> = store.callbacks(Status::Pending, None).unwrap().into_iter().map(|c| c.id).collect();
        assert_eq!(left, [kept]);
    }
}
