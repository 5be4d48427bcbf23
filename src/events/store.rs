//! The event log's database: SQLite (embedded, WAL) or PostgreSQL (shared by several
//! instances), chosen by URL.
//!
//! Opening runs the embedded migrations (`migrations/*/NNNN_*.sql`, recorded in
//! `schema_migrations`). Writes are batches, one transaction each; an event already stored (the
//! same call id, provider and seq, as a replayed webhook would give) is skipped, so a batch may
//! be retried after a failure whose outcome is unknown. Every method blocks: the server calls
//! them only from the [`Writer`](super::Writer)'s thread. The PostgreSQL client runs its own
//! small runtime, so it must not be opened or used from inside a tokio runtime.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::conn::{Conn, Lite, Param, Pg};
use super::report::{Report, Scope};
use super::{Event, EventLogError, Kind, QueueResult, report, tables, without_nul};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::OptionalExtension as _;

/// Schema versions and their SQL, applied in order; a version once released never changes.
const SQLITE_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/sqlite/0001_events.sql")),
    (2, include_str!("migrations/sqlite/0002_events_by_call.sql")),
    (3, include_str!("migrations/sqlite/0003_call_summaries.sql")),
    (4, include_str!("migrations/sqlite/0004_callbacks.sql")),
    (5, include_str!("migrations/sqlite/0005_lazy_summaries.sql")),
    (6, include_str!("migrations/sqlite/0006_call_numbers.sql")),
    (7, include_str!("migrations/sqlite/0007_slim_events.sql")),
];
const POSTGRES_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/postgres/0001_events.sql")),
    (2, include_str!("migrations/postgres/0002_call_provider_seq.sql")),
    (3, include_str!("migrations/postgres/0003_call_summaries.sql")),
    (4, include_str!("migrations/postgres/0004_callbacks.sql")),
    (5, include_str!("migrations/postgres/0005_lazy_summaries.sql")),
    (6, include_str!("migrations/postgres/0006_call_numbers.sql")),
];

/// The migrations after which the summaries are rewritten from the events already stored.
const SUMMARIES: [i64; 2] = [3, 5];

/// Calls summarised per transaction by [`Store::catch_up`].
pub const CATCH_UP_CHUNK: usize = 2_000;

/// The advisory lock that serialises migrations of instances starting together (any constant
/// of ours; these are the bytes of "sbevents").
const MIGRATION_LOCK: i64 = 0x7362_6576_656e_7473;

/// How long SQLite waits for another writer (a second process on the same file) before failing.
const SQLITE_BUSY: Duration = Duration::from_secs(5);

pub(super) const COLUMNS: &str = "call_id, provider, flow, flow_version, seq, at_ms, node, kind, details, simulated";

/// Where the log is, as given by `--db` / `SWITCHBOARD_DB`.
#[derive(Clone, PartialEq, Eq)]
pub enum DbUrl {
    /// `none`: no log.
    None,
    /// `sqlite://PATH` (`sqlite:///abs/calls.db`, `sqlite://rel/calls.db`) or `sqlite:PATH`.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, as libpq reads it; a Unix socket is a host that is
    /// a path: `postgres://user@%2Frun%2Fpostgresql/db` or `postgres:///db?host=/run/postgresql`.
    Postgres(String),
}

impl DbUrl {
    pub fn parse(url: &str) -> Result<DbUrl, EventLogError> {
        let url = url.trim();
        if url == "none" {
            return Ok(DbUrl::None);
        }
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(EventLogError::BadUrl(url.to_owned()));
            }
            return Ok(DbUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // Checked now so that a typo fails at start-up, not on the writer's first attempt.
            url.parse::<postgres::Config>().map_err(|_| EventLogError::BadUrl(redact(url)))?;
            return Ok(DbUrl::Postgres(url.to_owned()));
        }
        Err(EventLogError::BadUrl(redact(url)))
    }
}

/// Shown without a password, for logs and errors.
impl std::fmt::Display for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbUrl::None => f.write_str("none"),
            DbUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DbUrl::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// `url` with the password of `user:password@` replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or("");
            format!("{scheme}://{name}:***@{host}{tail}")
        }
        _ => url.to_owned(),
    }
}

/// Which events [`Store::scan`] reads. Empty fields select everything.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub call_id: Option<String>,
    pub flow: Option<String>,
    /// Only simulated (`Some(true)`) or only real (`Some(false)`) calls.
    pub simulated: Option<bool>,
    /// Only these kinds (their words).
    pub kinds: Vec<&'static str>,
    /// Only calls that started in `[from, to)`, in milliseconds since the epoch (by their
    /// summary's start).
    pub started: Option<(i64, i64)>,
}

/// What [`Store::export_fit_csv`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Rows written: queue stays that ended.
    pub rows: u64,
    /// Queue stays without a `queue_left` (still waiting, or its event was lost): not written.
    pub open: u64,
}

/// An open event log.
pub struct Store {
    pub(super) backend: Backend,
    /// SQLite: the numbers of calls written recently ([`CALL_NUMBERS_KEPT`] at most), so that
    /// an event costs a look-up in `call_keys` only when its call is new to this connection.
    /// By provider, then call id.
    call_numbers: HashMap<String, HashMap<String, i64>>,
}

/// Call numbers remembered by a [`Store`]; past it, they are forgotten and looked up again.
/// Also bounds how long a number is trusted after `db prune` (in another process) may have
/// removed its call: a call pruned is one quiet for longer than any call lasts.
const CALL_NUMBERS_KEPT: usize = 50_000;

pub(super) enum Backend {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

impl Store {
    /// Opens the log `url` names and brings its schema up to date; `None` for `none`.
    pub fn open(url: &DbUrl) -> Result<Option<Store>, EventLogError> {
        match url {
            DbUrl::None => Ok(None),
            DbUrl::Sqlite(path) => Store::open_sqlite(path).map(Some),
            DbUrl::Postgres(url) => Store::open_postgres(url).map(Some),
        }
    }

    /// Opens (creating it if need be) an SQLite file in WAL mode. The directory must exist.
    pub fn open_sqlite(path: &Path) -> Result<Store, EventLogError> {
        let opened = rusqlite::Connection::open(path).and_then(|conn| {
            conn.busy_timeout(SQLITE_BUSY)?;
            // WAL lets `report` read while the server writes. With synchronous=NORMAL a commit
            // survives the process crashing; a power cut may lose the last few.
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            Ok(conn)
        });
        let mut conn = opened.map_err(|source| EventLogError::SqliteOpen { path: path.to_owned(), source })?;
        migrate_sqlite(&mut conn)?;
        Ok(Store { backend: Backend::Sqlite(conn), call_numbers: HashMap::new() })
    }

    /// Connects to PostgreSQL (without TLS: use a Unix socket or a trusted network).
    pub fn open_postgres(url: &str) -> Result<Store, EventLogError> {
        let config: postgres::Config = url.parse().map_err(|_| EventLogError::BadUrl(redact(url)))?;
        let mut client = config.connect(postgres::NoTls)?;
        migrate_postgres(&mut client)?;
        Ok(Store { backend: Backend::Postgres(Box::new(client)), call_numbers: HashMap::new() })
    }

    /// The schema version: the last migration applied.
    pub fn schema_version(&mut self) -> Result<i64, EventLogError> {
        const SQL: &str = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
        Ok(match &mut self.backend {
            Backend::Sqlite(conn) => conn.query_row(SQL, [], |row| row.get(0))?,
            Backend::Postgres(client) => client.query_one(SQL, &[])?.get::<_, i32>(0).into(),
        })
    }

    /// Stores a batch in one transaction and marks its calls for [`Store::catch_up`]; returns
    /// how many events were new (replays are skipped). The summaries are not touched here: a
    /// writer keeps up with tens of thousands of events a second and summarises when idle.
    pub fn insert(&mut self, events: &[Event]) -> Result<u64, EventLogError> {
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                if self.call_numbers.values().map(HashMap::len).sum::<usize>() > CALL_NUMBERS_KEPT {
                    self.call_numbers.clear();
                }
                let tx = conn.transaction()?;
                let mut added = 0_u64;
                let mut dirty = BTreeSet::new();
                // Numbers handed out in this transaction: remembered once it commits.
                let mut new_numbers: HashMap<(&str, &str), i64> = HashMap::new();
                {
                    let mut insert = tx.prepare_cached(
                        "INSERT INTO events (call, seq, flow, flow_version, at_ms, node, kind, details, simulated) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                    )?;
                    let mut version = (u64::MAX, String::new());
                    let mut details = Vec::new();
                    let mut last: Option<(&str, &str, i64)> = None;
                    for e in events {
                        let key = (&*e.call_id, &*e.provider);
                        let call = match last {
                            Some((id, provider, num)) if (id, provider) == key => num,
                            _ => match self.call_numbers.get(key.1).and_then(|calls| calls.get(key.0)) {
                                Some(&num) => num,
                                None => match new_numbers.get(&key) {
                                    Some(&num) => num,
                                    None => {
                                        let num = call_number(&tx, key)?;
                                        new_numbers.insert(key, num);
                                        num
                                    }
                                },
                            },
                        };
                        last = Some((key.0, key.1, call));
                        if version.0 != e.flow_version {
                            version = (e.flow_version, version_hex(e.flow_version));
                        }
                        let new = insert.execute(rusqlite::params![
                            call,
                            e.seq,
                            e.flow,
                            version.1,
                            e.at.timestamp_millis(),
                            e.node,
                            e.kind.word(),
                            e.kind.details_in(&mut details),
                            e.simulated,
                        ])?;
                        if new > 0 {
                            added += 1;
                            if report::reads(&e.kind) {
                                dirty.insert(call);
                            }
                        }
                    }
                    // In order: each mark goes next to the last.
                    let mut mark = tx.prepare_cached("INSERT OR IGNORE INTO dirty_calls (call) VALUES ($1)")?;
                    for call in dirty {
                        mark.execute([call])?;
                    }
                }
                tx.commit()?;
                for ((call_id, provider), num) in new_numbers {
                    self.call_numbers.entry(provider.to_owned()).or_default().insert(call_id.to_owned(), num);
                }
                Ok(added)
            }
            Backend::Postgres(client) => {
                // One statement per batch: every column as an array parameter (binary, no
                // escaping), `unnest` back into rows, replays skipped by the unique key, and
                // the new rows' calls marked, in key order so that two instances' batches do
                // not deadlock. A mark already there is updated, not skipped: that waits for a
                // catch-up holding it (`FOR UPDATE`), which read the call's events without
                // these and is about to delete it; the mark is then made anew. (Binary COPY into a staging table measured slower: its extra
                // statements cost more than the arrays' decoding.)
                const SQL: &str = "WITH new AS (INSERT INTO events (call_id, provider, flow, flow_version, seq, \
                     at_ms, node, kind, details, simulated) SELECT c, p, f, v, s, a, n, k, d::jsonb, m FROM \
                     unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], \
                     $7::text[], $8::text[], $9::text[], $10::bool[]) AS t(c, p, f, v, s, a, n, k, d, m) \
                     ON CONFLICT DO NOTHING RETURNING call_id, provider, kind), \
                     marked AS (INSERT INTO dirty_calls (call_id, provider) SELECT DISTINCT call_id, provider \
                     FROM new WHERE kind = ANY($11) ORDER BY call_id, provider \
                     ON CONFLICT (call_id, provider) DO UPDATE SET call_id = excluded.call_id) \
                     SELECT count(*) FROM new";
                let column = |f: &dyn Fn(&Event) -> String| events.iter().map(f).collect::<Vec<String>>();
                let call_ids = column(&|e| without_nul(&e.call_id));
                let providers = column(&|e| without_nul(&e.provider));
                let flows = column(&|e| without_nul(&e.flow));
                let versions = column(&|e| version_hex(e.flow_version));
                let seqs: Vec<i64> = events.iter().map(|e| i64::from(e.seq)).collect();
                let ats: Vec<i64> = events.iter().map(|e| e.at.timestamp_millis()).collect();
                let nodes: Vec<Option<String>> = events.iter().map(|e| e.node.as_deref().map(without_nul)).collect();
                let kinds: Vec<&str> = events.iter().map(|e| e.kind.word()).collect();
                let details = column(&|e| e.kind.details());
                let simulated: Vec<bool> = events.iter().map(|e| e.simulated).collect();
                let read: Vec<&str> = report::KINDS.to_vec();
                let row = client.query_one(
                    SQL,
                    &[
                        &call_ids, &providers, &flows, &versions, &seqs, &ats, &nodes, &kinds, &details, &simulated,
                        &read,
                    ],
                )?;
                Ok(u64::try_from(row.try_get::<_, i64>(0)?).unwrap_or(0))
            }
        }
    }

    /// Brings the summaries up to date with every event stored (in transactions of
    /// [`CATCH_UP_CHUNK`] calls); returns how many calls were summarised again. `report`,
    /// `db export` and `fit --db` call it first; the writer calls it when idle.
    pub fn catch_up(&mut self) -> Result<u64, EventLogError> {
        let mut done = 0;
        loop {
            let n = self.catch_up_some(CATCH_UP_CHUNK)?;
            done += u64::try_from(n).unwrap_or(u64::MAX);
            if n < CATCH_UP_CHUNK {
                return Ok(done);
            }
        }
    }

    /// How many calls have events the summaries do not count yet.
    pub fn dirty_calls(&mut self) -> Result<u64, EventLogError> {
        const SQL: &str = "SELECT count(*) FROM dirty_calls";
        let n: i64 = match &mut self.backend {
            Backend::Sqlite(conn) => conn.query_row(SQL, [], |row| row.get(0))?,
            Backend::Postgres(client) => client.query_one(SQL, &[])?.try_get(0)?,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Summarises up to `limit` dirty calls in one transaction; returns how many (fewer than
    /// `limit` when none are left).
    pub fn catch_up_some(&mut self, limit: usize) -> Result<usize, EventLogError> {
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                // IMMEDIATE: the write lock first, so a writer in another process cannot slip
                // in between reading the dirty calls and writing their summaries.
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let n = tables::catch_up(&mut Lite(&tx), limit)?;
                tx.commit()?;
                Ok(n)
            }
            Backend::Postgres(client) => {
                let mut tx = client.transaction()?;
                let n = tables::catch_up(&mut Pg(&mut tx), limit)?;
                tx.commit()?;
                Ok(n)
            }
        }
    }

    /// Calls `each` with every event the filter selects, a call's events together and in
    /// `seq` order (calls ordered by call id, then provider). The rows are read in one
    /// statement, streamed (never all in memory) and decoded into one reused [`Event`], so
    /// `each` borrows it: clone what must outlive the call.
    pub fn scan(
        &mut self,
        filter: &Filter,
        each: &mut dyn FnMut(&Event) -> Result<(), EventLogError>,
    ) -> Result<(), EventLogError> {
        if filter.started.is_some() {
            // Which calls started when is the summaries' `calls.start_ms`.
            self.catch_up()?;
        }
        self.conn().scan(filter, each)
    }

    /// The report on `scope`'s calls (one flow's only, with `flow`), read from the summaries
    /// the writer keeps: the same as [`Builder`](super::report::Builder) fed every call's
    /// events through [`Store::scan`], in a few queries.
    pub fn report(&mut self, flow: Option<&str>, scope: Scope) -> Result<Report, EventLogError> {
        self.catch_up()?;
        tables::report(self.conn().as_mut(), flow, scope)
    }

    /// Rewrites the summaries `report` reads from every stored event; returns the number of
    /// calls. Migration does it once; [`Store::prune`] after deleting.
    pub fn resummarize(&mut self) -> Result<u64, EventLogError> {
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                let tx = conn.transaction()?;
                let calls = tables::backfill(&mut Lite(&tx))?;
                tx.commit()?;
                Ok(calls)
            }
            Backend::Postgres(client) => {
                let mut tx = client.transaction()?;
                let calls = tables::backfill(&mut Pg(&mut tx))?;
                tx.commit()?;
                Ok(calls)
            }
        }
    }

    fn conn(&mut self) -> Box<dyn Conn + '_> {
        match &mut self.backend {
            Backend::Sqlite(conn) => Box::new(Lite(conn)),
            Backend::Postgres(client) => Box::new(Pg(client.as_mut())),
        }
    }

    /// The names of the flows whose calls the log holds (real or simulated ones), sorted.
    pub fn flows(&mut self, simulated: bool) -> Result<Vec<String>, EventLogError> {
        const SQL: &str = "SELECT DISTINCT flow FROM calls WHERE simulated = $1 ORDER BY flow";
        self.catch_up()?;
        Ok(match &mut self.backend {
            Backend::Sqlite(conn) => {
                let mut query = conn.prepare(SQL)?;
                query.query_map([simulated], |row| row.get(0))?.collect::<Result<_, _>>()?
            }
            Backend::Postgres(client) => client.query(SQL, &[&simulated])?.iter().map(|row| row.get(0)).collect(),
        })
    }

    /// One call's events in order.
    pub fn call_events(&mut self, call_id: &str) -> Result<Vec<Event>, EventLogError> {
        let mut events = Vec::new();
        let filter = Filter { call_id: Some(call_id.to_owned()), ..Filter::default() };
        self.scan(&filter, &mut |e| {
            events.push(e.clone());
            Ok(())
        })?;
        Ok(events)
    }

    /// Deletes the events of every call whose last event is older than `older_than`; returns
    /// how many events went. A call with any newer event is kept whole. The summaries are then
    /// rewritten from the events left ([`Store::resummarize`]).
    pub fn prune(&mut self, older_than: DateTime<Utc>) -> Result<u64, EventLogError> {
        const SQL: &str = "DELETE FROM events WHERE at_ms < $1 AND NOT EXISTS (SELECT 1 FROM events later \
                           WHERE later.call_id = events.call_id AND later.provider = events.provider \
                           AND later.at_ms >= $1)";
        // SQLite's table is keyed by call number: a call's events are found by it, and the
        // numbers of calls left without events go too.
        const SQLITE: &str = "DELETE FROM events WHERE at_ms < $1 AND NOT EXISTS (SELECT 1 FROM events later \
                              WHERE later.call = events.call AND later.at_ms >= $1)";
        let cutoff = older_than.timestamp_millis();
        let removed = match &mut self.backend {
            Backend::Sqlite(conn) => {
                let tx = conn.transaction()?;
                let removed = tx.execute(SQLITE, [cutoff])?;
                tx.execute("DELETE FROM call_keys WHERE NOT EXISTS (SELECT 1 FROM events WHERE call = num)", [])?;
                tx.commit()?;
                u64::try_from(removed).unwrap_or(u64::MAX)
            }
            Backend::Postgres(client) => client.execute(SQL, &[&cutoff])?,
        };
        if removed > 0 {
            self.resummarize()?;
        }
        Ok(removed)
    }

    /// Writes the per-call CSV `switchboard fit` reads: one row per queue stay, with the
    /// headers `start,queue,queue_time,handle_time,abandoned,call_id`.
    ///
    /// `start` is when the caller joined the queue, as local time in `tz` (the queue model's
    /// weekday × hour cells are local). `queue_time` is the provider's time in queue in
    /// seconds. `abandoned` is `true` when the caller hung up while queued, `false` when bridged,
    /// and empty when the queue redirected or refused them. `handle_time` is filled for a
    /// bridged stay that was the call's last, as the time from leaving the queue
    /// (join + queue time) to `call_completed`, in seconds.
    pub fn export_fit_csv(
        &mut self,
        out: impl std::io::Write,
        tz: Tz,
        filter: &Filter,
    ) -> Result<ExportSummary, EventLogError> {
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(["start", "queue", "queue_time", "handle_time", "abandoned", "call_id"])?;
        let mut summary = ExportSummary::default();
        let mut call: Option<CallStays> = None;
        let filter = Filter { kinds: vec!["queue_joined", "queue_left", "call_completed"], ..filter.clone() };
        self.scan(&filter, &mut |e| {
            if call.as_ref().is_some_and(|c| *c.call_id != *e.call_id || *c.provider != *e.provider) {
                if let Some(done) = call.take() {
                    done.write(&mut csv, tz, &mut summary)?;
                }
            }
            let stays = call.get_or_insert_with(|| CallStays::new(e));
            match &e.kind {
                Kind::QueueJoined { queue, .. } => {
                    stays.stays.push(Stay { joined: e.at, queue: queue.clone(), left: None });
                }
                &Kind::QueueLeft { ref queue, result, queue_time_s, .. } => {
                    // The latest stay still open in that queue (a stay in another queue may
                    // follow an overflow).
                    if let Some(stay) = stays.stays.iter_mut().rev().find(|s| s.left.is_none() && s.queue == *queue) {
                        stay.left = Some((result, queue_time_s));
                    }
                }
                Kind::CallCompleted { .. } => stays.completed = Some(e.at),
                _ => {}
            }
            Ok(())
        })?;
        if let Some(done) = call.take() {
            done.write(&mut csv, tz, &mut summary)?;
        }
        csv.flush()?;
        Ok(summary)
    }
}

/// A call's queue stays, gathered for the export.
struct CallStays {
    call_id: Arc<str>,
    provider: Arc<str>,
    stays: Vec<Stay>,
    completed: Option<DateTime<Utc>>,
}

struct Stay {
    joined: DateTime<Utc>,
    queue: String,
    left: Option<(QueueResult, u32)>,
}

impl CallStays {
    fn new(e: &Event) -> CallStays {
        CallStays { call_id: e.call_id.clone(), provider: e.provider.clone(), stays: Vec::new(), completed: None }
    }

    fn write<W: std::io::Write>(
        &self,
        csv: &mut csv::Writer<W>,
        tz: Tz,
        summary: &mut ExportSummary,
    ) -> Result<(), EventLogError> {
        let last = self.stays.len().saturating_sub(1);
        for (i, stay) in self.stays.iter().enumerate() {
            let Some((result, queue_time_s)) = stay.left else {
                summary.open += 1;
                continue;
            };
            let abandoned = match result {
                QueueResult::Hangup => "true",
                QueueResult::Bridged => "false",
                QueueResult::Redirected | QueueResult::Error => "",
            };
            let handle_ms = match (result, self.completed) {
                (QueueResult::Bridged, Some(end)) if i == last => {
                    let answered = stay.joined + chrono::Duration::seconds(i64::from(queue_time_s));
                    Some((end - answered).num_milliseconds()).filter(|ms| *ms > 0)
                }
                _ => None,
            };
            let start = stay.joined.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string();
            csv.write_record([
                start.as_str(),
                stay.queue.as_str(),
                &queue_time_s.to_string(),
                &handle_ms.map(seconds).unwrap_or_default(),
                abandoned,
                &self.call_id,
            ])?;
            summary.rows += 1;
        }
        Ok(())
    }
}

/// Milliseconds as seconds, without a fraction when there is none: `95`, `95.5`, `95.125`.
fn seconds(ms: i64) -> String {
    match ms % 1000 {
        0 => (ms / 1000).to_string(),
        frac => format!("{}.{frac:03}", ms / 1000).trim_end_matches('0').to_owned(),
    }
}

/// The flow version as `GET /flows` shows it: 16 hex digits.
fn version_hex(version: u64) -> String {
    format!("{version:016x}")
}

/// A row's columns as the driver lends them.
pub(super) struct Columns<'r> {
    pub call_id: &'r str,
    pub provider: &'r str,
    pub flow: &'r str,
    pub flow_version: &'r str,
    pub seq: i64,
    pub at_ms: i64,
    pub node: Option<&'r str>,
    pub kind: &'r str,
    pub details: &'r str,
    pub simulated: bool,
}

/// The event [`fill`] overwrites row by row.
pub(super) fn blank_event() -> Event {
    Event {
        call_id: "".into(),
        provider: "".into(),
        flow: "".into(),
        flow_version: 0,
        seq: 0,
        at: DateTime::UNIX_EPOCH,
        node: None,
        kind: Kind::NodeEntered {},
        simulated: false,
    }
}

/// Checks a row and decodes it into `event`, keeping its strings where the row repeats them (a
/// call's id, provider and flow, a node's successive events).
pub(super) fn fill(event: &mut Event, row: Columns) -> Result<(), EventLogError> {
    let bad = |what: &str| EventLogError::BadRow(format!("call {} seq {}: {what}", row.call_id, row.seq));
    let set = |kept: &mut Arc<str>, text: &str| {
        if **kept != *text {
            *kept = text.into();
        }
    };
    event.flow_version = u64::from_str_radix(row.flow_version, 16).map_err(|_| bad("flow_version is not hex"))?;
    event.seq = u32::try_from(row.seq).map_err(|_| bad("seq is out of range"))?;
    event.at = DateTime::from_timestamp_millis(row.at_ms).ok_or_else(|| bad("at_ms is out of range"))?;
    event.kind = Kind::from_stored(row.kind, row.details)?;
    set(&mut event.call_id, row.call_id);
    set(&mut event.provider, row.provider);
    set(&mut event.flow, row.flow);
    match (&mut event.node, row.node) {
        (Some(kept), Some(node)) => set(kept, node),
        (node, stored) => *node = stored.map(Arc::from),
    }
    event.simulated = row.simulated;
    Ok(())
}

/// ` WHERE …` for the filter (empty when it selects everything), with `$n` placeholders, which
/// SQLite and PostgreSQL both read. `numbered`: SQLite's, where `events e` is read joined to
/// `call_keys k` (0006_call_numbers.sql), so the call is `k`'s, whose index finds it.
pub(super) fn where_clause(filter: &Filter, numbered: bool) -> (String, Vec<Param>) {
    let mut terms = Vec::new();
    let mut params = Vec::new();
    let bind = |params: &mut Vec<Param>, p: Param| {
        params.push(p);
        format!("${}", params.len())
    };
    if let Some(call_id) = &filter.call_id {
        let id = bind(&mut params, Param::Text(call_id.clone()));
        terms.push(if numbered { format!("k.call_id = {id}") } else { format!("call_id = {id}") });
    }
    if let Some(flow) = &filter.flow {
        terms.push(format!("flow = {}", bind(&mut params, Param::Text(flow.clone()))));
    }
    if let Some(simulated) = filter.simulated {
        terms.push(format!("simulated = {}", bind(&mut params, Param::Bool(simulated))));
    }
    if !filter.kinds.is_empty() {
        let words: Vec<String> = filter.kinds.iter().map(|k| bind(&mut params, Param::Text((*k).to_owned()))).collect();
        terms.push(format!("kind IN ({})", words.join(", ")));
    }
    if let Some((from, to)) = filter.started {
        let (from, to) = (bind(&mut params, Param::Int(from)), bind(&mut params, Param::Int(to)));
        let call = if numbered { "k." } else { "" };
        terms.push(format!(
            "({call}call_id, {call}provider) IN (SELECT call_id, provider FROM calls \
             WHERE start_ms >= {from} AND start_ms < {to})"
        ));
    }
    if terms.is_empty() {
        return (String::new(), params);
    }
    (format!(" WHERE {}", terms.join(" AND ")), params)
}

/// The number of the call `(call_id, provider)` in `call_keys`, handed out if it has none.
fn call_number(tx: &rusqlite::Transaction, (call_id, provider): (&str, &str)) -> Result<i64, EventLogError> {
    let mut find = tx.prepare_cached("SELECT num FROM call_keys WHERE call_id = $1 AND provider = $2")?;
    if let Some(num) = find.query_row([call_id, provider], |row| row.get(0)).optional()? {
        return Ok(num);
    }
    tx.prepare_cached("INSERT INTO call_keys (call_id, provider) VALUES ($1, $2)")?.execute([call_id, provider])?;
    Ok(tx.last_insert_rowid())
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn migrate_sqlite(conn: &mut rusqlite::Connection) -> Result<(), EventLogError> {
    // IMMEDIATE takes the write lock first, so two processes opening a new file migrate in turn.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)",
    )?;
    let current: i64 = tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    check_known(current, SQLITE_MIGRATIONS)?;
    let mut refill = false;
    for (version, sql) in SQLITE_MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql)?;
        refill |= SUMMARIES.contains(version);
        tx.execute("INSERT INTO schema_migrations (version, applied_at_ms) VALUES ($1, $2)", [*version, now_ms()])?;
    }
    if refill {
        tables::backfill(&mut Lite(&tx))?;
    }
    tx.commit()?;
    Ok(())
}

fn migrate_postgres(client: &mut postgres::Client) -> Result<(), EventLogError> {
    let mut tx = client.transaction()?;
    // Held to the end of the transaction: instances starting together migrate in turn.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms BIGINT NOT NULL)",
    )?;
    let current: i64 =
        tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])?.get::<_, i32>(0).into();
    check_known(current, POSTGRES_MIGRATIONS)?;
    let mut refill = false;
    for (version, sql) in POSTGRES_MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql)?;
        refill |= SUMMARIES.contains(version);
        let version = i32::try_from(*version).map_err(|_| EventLogError::BadRow("migration version".into()))?;
        tx.execute("INSERT INTO schema_migrations (version, applied_at_ms) VALUES ($1, $2)", &[&version, &now_ms()])?;
    }
    if refill {
        tables::backfill(&mut Pg(&mut tx))?;
    }
    tx.commit()?;
    Ok(())
}

/// A log migrated by a newer build has columns or meanings this one does not know: refuse it
/// rather than write rows the newer `report` would misread.
fn check_known(current: i64, migrations: &[(i64, &str)]) -> Result<(), EventLogError> {
    let known = migrations.last().map_or(0, |(v, _)| *v);
    if current > known {
        return Err(EventLogError::SchemaTooNew { found: current, known });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_backend() {
        let parse = |url: &str| DbUrl::parse(url).ok();
        let sqlite = |p: &str| Some(DbUrl::Sqlite(PathBuf::from(p)));
        assert_eq!(parse("none"), Some(DbUrl::None));
        assert_eq!(parse("sqlite:///var/lib/sb/calls.db"), sqlite("/var/lib/sb/calls.db"));
        assert_eq!(parse("sqlite://calls.db"), sqlite("calls.db"));
        assert_eq!(parse("sqlite:calls.db"), sqlite("calls.db"));
        let pg = "postgres://sb@%2Ftmp%2Fpg/calls";
        assert_eq!(parse(pg), Some(DbUrl::Postgres(pg.into())));
        let pg = "postgresql:///calls?host=/run/postgresql";
        assert_eq!(parse(pg), Some(DbUrl::Postgres(pg.into())));
        for bad in ["", "sqlite://", "mysql://x/y", "calls.db"] {
            assert!(matches!(DbUrl::parse(bad), Err(EventLogError::BadUrl(_))), "{bad}");
        }
    }

    #[test]
    fn passwords_are_not_shown() {
        let url = DbUrl::parse("postgres://sb:s3cret@db.internal:5432/calls").expect("a valid URL");
        assert_eq!(url.to_string(), "postgres://sb:***@db.internal:5432/calls");
        assert_eq!(redact("postgres://sb@host/calls"), "postgres://sb@host/calls");
    }

    #[test]
    fn seconds_drop_a_fraction_of_nothing() {
        assert_eq!(seconds(95_000), "95");
        assert_eq!(seconds(95_500), "95.5");
        assert_eq!(seconds(95_125), "95.125");
        assert_eq!(seconds(40), "0.04");
    }
}
