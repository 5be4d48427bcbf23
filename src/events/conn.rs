//! The few things the log's code asks of a database, each backend's way, so that storing,
//! summarising, back-filling and reporting are written once: over a connection or inside a
//! transaction, SQLite or PostgreSQL.

use std::collections::{HashMap, HashSet};

use postgres::fallible_iterator::FallibleIterator as _;

use super::store::{Columns, Filter, blank_event, fill, where_clause};
use super::summary::{CallChange, CallState, Tallies};
use super::{Event, EventLogError};

/// A query parameter, bound the way each backend wants it.
pub(super) enum Param {
    Text(String),
    Bool(bool),
    Int(i64),
}

/// A column of a row [`Conn::query`] read: integers (and booleans, as 0 or 1), text or NULL.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Cell {
    Int(i64),
    Text(String),
    Null,
}

impl Cell {
    pub(super) fn int(&self) -> Result<i64, EventLogError> {
        match self {
            Cell::Int(i) => Ok(*i),
            other => Err(EventLogError::BadRow(format!("expected a number, found {other:?}"))),
        }
    }

    pub(super) fn text(&self) -> Result<&str, EventLogError> {
        match self {
            Cell::Text(s) => Ok(s),
            other => Err(EventLogError::BadRow(format!("expected text, found {other:?}"))),
        }
    }
}

/// What a scan calls with each event.
pub(super) type EachEvent<'a> = &'a mut dyn FnMut(&Event) -> Result<(), EventLogError>;
/// What a query calls with each row.
pub(super) type EachRow<'a> = &'a mut dyn FnMut(&[Cell]) -> Result<(), EventLogError>;

pub(super) trait Conn {
    /// Events the filter selects, a call's together and in `seq` order (see `Store::scan`).
    fn scan(&mut self, filter: &Filter, each: EachEvent<'_>) -> Result<(), EventLogError>;
    /// Rows of a query with `$n` placeholders.
    fn query(&mut self, sql: &str, params: Vec<Param>, each: EachRow<'_>) -> Result<(), EventLogError>;
    fn execute(&mut self, sql: &str, params: Vec<Param>) -> Result<u64, EventLogError>;
    /// The stored states of these calls (call id, provider).
    fn states(&mut self, calls: &[(&str, &str)]) -> Result<HashMap<(String, String), CallState>, EventLogError>;
    /// Writes a batch's changes to `calls`, `queue_stays` and `tallies`.
    fn write_summaries(&mut self, calls: &[CallChange], tallies: &Tallies) -> Result<(), EventLogError>;
}

/// SQLite, on a connection or inside a transaction (which derefs to one).
pub(super) struct Lite<'c>(pub &'c rusqlite::Connection);

/// PostgreSQL, on a client or inside a transaction.
pub(super) struct Pg<'c, C: postgres::GenericClient>(pub &'c mut C);

fn lite_values(params: Vec<Param>) -> impl Iterator<Item = rusqlite::types::Value> {
    params.into_iter().map(|p| match p {
        Param::Text(s) => rusqlite::types::Value::Text(s),
        Param::Bool(b) => rusqlite::types::Value::Integer(i64::from(b)),
        Param::Int(i) => rusqlite::types::Value::Integer(i),
    })
}

fn pg_values(params: Vec<Param>) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .into_iter()
        .map(|p| -> Box<dyn postgres::types::ToSql + Sync> {
            match p {
                Param::Text(s) => Box::new(s),
                Param::Bool(b) => Box::new(b),
                Param::Int(i) => Box::new(i),
            }
        })
        .collect()
}

fn bad_state(call_id: &str, e: &serde_json::Error) -> EventLogError {
    EventLogError::BadRow(format!("call {call_id}: its summary cannot be read: {e}"))
}

impl Conn for Lite<'_> {
    fn scan(&mut self, filter: &Filter, each: EachEvent<'_>) -> Result<(), EventLogError> {
        let (clause, params) = where_clause(filter);
        let mut event = blank_event();
        let sql = format!("SELECT {} FROM events{clause} ORDER BY call_id, provider, seq", super::store::COLUMNS);
        let mut query = self.0.prepare_cached(&sql)?;
        let mut rows = query.query(rusqlite::params_from_iter(lite_values(params)))?;
        while let Some(row) = rows.next()? {
            let text = |i: usize| row.get_ref(i)?.as_str().map_err(rusqlite::Error::from);
            let node = row.get_ref(6)?.as_str_or_null().map_err(rusqlite::Error::from)?;
            fill(
                &mut event,
                Columns {
                    call_id: text(0)?,
                    provider: text(1)?,
                    flow: text(2)?,
                    flow_version: text(3)?,
                    seq: row.get(4)?,
                    at_ms: row.get(5)?,
                    node,
                    kind: text(7)?,
                    details: text(8)?,
                    simulated: row.get(9)?,
                },
            )?;
            each(&event)?;
        }
        Ok(())
    }

    fn query(&mut self, sql: &str, params: Vec<Param>, each: EachRow<'_>) -> Result<(), EventLogError> {
        let mut query = self.0.prepare_cached(sql)?;
        let width = query.column_count();
        let mut rows = query.query(rusqlite::params_from_iter(lite_values(params)))?;
        let mut cells = Vec::with_capacity(width);
        while let Some(row) = rows.next()? {
            cells.clear();
            for i in 0..width {
                cells.push(match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Integer(n) => Cell::Int(n),
                    rusqlite::types::ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    rusqlite::types::ValueRef::Null => Cell::Null,
                    other => return Err(EventLogError::BadRow(format!("unexpected column {other:?}"))),
                });
            }
            each(&cells)?;
        }
        Ok(())
    }

    fn execute(&mut self, sql: &str, params: Vec<Param>) -> Result<u64, EventLogError> {
        let n = self.0.prepare_cached(sql)?.execute(rusqlite::params_from_iter(lite_values(params)))?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn states(&mut self, calls: &[(&str, &str)]) -> Result<HashMap<(String, String), CallState>, EventLogError> {
        let mut query = self.0.prepare_cached("SELECT state FROM calls WHERE call_id = $1 AND provider = $2")?;
        let mut states = HashMap::new();
        for &(call_id, provider) in calls {
            let mut rows = query.query([call_id, provider])?;
            if let Some(row) = rows.next()? {
                let text = row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
                let state = serde_json::from_str(text).map_err(|e| bad_state(call_id, &e))?;
                states.insert((call_id.to_owned(), provider.to_owned()), state);
            }
        }
        Ok(states)
    }

    fn write_summaries(&mut self, calls: &[CallChange], tallies: &Tallies) -> Result<(), EventLogError> {
        let conn = self.0;
        let mut upsert = conn.prepare_cached(
            "INSERT OR REPLACE INTO calls (call_id, provider, flow, simulated, start_ms, to_person_ms, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )?;
        let mut forget = conn.prepare_cached("DELETE FROM queue_stays WHERE call_id = $1 AND provider = $2")?;
        let mut stay = conn.prepare_cached(
            "INSERT OR IGNORE INTO queue_stays (call_id, provider, seq, flow, simulated, start_ms, queue, wait_s) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )?;
        for c in calls {
            let s = &c.state;
            let state = serde_json::to_string(s).map_err(|e| bad_state(&c.call_id, &e))?;
            upsert.execute(rusqlite::params![
                c.call_id,
                c.provider,
                s.flow,
                s.simulated,
                s.start_ms,
                s.to_person_ms(),
                state
            ])?;
            if c.rebuilt {
                forget.execute([&c.call_id, &c.provider])?;
            }
            for st in &c.stays {
                stay.execute(rusqlite::params![
                    c.call_id,
                    c.provider,
                    st.seq,
                    s.flow,
                    s.simulated,
                    s.start_ms,
                    st.queue,
                    st.wait_s
                ])?;
            }
        }
        let mut add = conn.prepare_cached(
            "INSERT INTO tallies (simulated, bucket, flow, what, name, value, n) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT DO UPDATE SET n = n + excluded.n",
        )?;
        let mut emptied = HashSet::new();
        for (k, n) in tallies.changes() {
            add.execute(rusqlite::params![k.simulated, k.bucket, k.flow, k.what, k.name, k.value, n])?;
            if n < 0 {
                emptied.insert((k.simulated, k.bucket));
            }
        }
        // A count taken back to zero is no row, as a count never made.
        let mut sweep = conn.prepare_cached("DELETE FROM tallies WHERE simulated = $1 AND bucket = $2 AND n = 0")?;
        for (simulated, bucket) in emptied {
            sweep.execute(rusqlite::params![simulated, bucket])?;
        }
        Ok(())
    }
}

impl<C: postgres::GenericClient> Conn for Pg<'_, C> {
    fn scan(&mut self, filter: &Filter, each: EachEvent<'_>) -> Result<(), EventLogError> {
        let (clause, params) = where_clause(filter);
        let mut event = blank_event();
        let columns = super::store::COLUMNS.replace("details", "details::text");
        let sql = format!("SELECT {columns} FROM events{clause} ORDER BY call_id, provider, seq");
        // `query_raw` streams: rows are decoded as they arrive, not gathered first.
        let mut rows = self.0.query_raw(&sql, pg_values(params))?;
        while let Some(row) = rows.next()? {
            fill(
                &mut event,
                Columns {
                    call_id: row.try_get(0)?,
                    provider: row.try_get(1)?,
                    flow: row.try_get(2)?,
                    flow_version: row.try_get(3)?,
                    seq: row.try_get(4)?,
                    at_ms: row.try_get(5)?,
                    node: row.try_get(6)?,
                    kind: row.try_get(7)?,
                    details: row.try_get(8)?,
                    simulated: row.try_get(9)?,
                },
            )?;
            each(&event)?;
        }
        Ok(())
    }

    fn query(&mut self, sql: &str, params: Vec<Param>, each: EachRow<'_>) -> Result<(), EventLogError> {
        use postgres::types::Type;
        let mut rows = self.0.query_raw(sql, pg_values(params))?;
        let mut cells = Vec::new();
        while let Some(row) = rows.next()? {
            cells.clear();
            for (i, column) in row.columns().iter().enumerate() {
                let ty = column.type_();
                let cell = if *ty == Type::INT8 {
                    row.try_get::<_, Option<i64>>(i)?.map(Cell::Int)
                } else if *ty == Type::INT4 {
                    row.try_get::<_, Option<i32>>(i)?.map(|n| Cell::Int(n.into()))
                } else if *ty == Type::BOOL {
                    row.try_get::<_, Option<bool>>(i)?.map(|b| Cell::Int(b.into()))
                } else {
                    row.try_get::<_, Option<String>>(i)?.map(Cell::Text)
                };
                cells.push(cell.unwrap_or(Cell::Null));
            }
            each(&cells)?;
        }
        Ok(())
    }

    fn execute(&mut self, sql: &str, params: Vec<Param>) -> Result<u64, EventLogError> {
        let params = pg_values(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
        Ok(self.0.execute(sql, &refs)?)
    }

    fn states(&mut self, calls: &[(&str, &str)]) -> Result<HashMap<(String, String), CallState>, EventLogError> {
        let ids: Vec<&str> = calls.iter().map(|c| c.0).collect();
        let providers: Vec<&str> = calls.iter().map(|c| c.1).collect();
        // Instances write the same call in turn: each holds its calls' locks (taken in one
        // order, so two batches cannot wait on each other) from reading their states to
        // committing the new ones, so neither folds into a state the other is replacing.
        self.0.execute(
            "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(i || chr(1) || p, 0) AS h \
             FROM unnest($1::text[], $2::text[]) AS t(i, p) ORDER BY h) AS locks",
            &[&ids, &providers],
        )?;
        let rows = self.0.query(
            "SELECT c.call_id, c.provider, c.state FROM calls c \
             JOIN unnest($1::text[], $2::text[]) AS t(i, p) ON c.call_id = t.i AND c.provider = t.p",
            &[&ids, &providers],
        )?;
        let mut states = HashMap::new();
        for row in rows {
            let (call_id, provider, text): (String, String, &str) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            let state = serde_json::from_str(text).map_err(|e| bad_state(&call_id, &e))?;
            states.insert((call_id, provider), state);
        }
        Ok(states)
    }

    fn write_summaries(&mut self, calls: &[CallChange], tallies: &Tallies) -> Result<(), EventLogError> {
        let client = &mut *self.0;
        // One statement per table, every column an array (see `Store::insert`).
        let mut states = Vec::with_capacity(calls.len());
        for c in calls {
            states.push(serde_json::to_string(&c.state).map_err(|e| bad_state(&c.call_id, &e))?);
        }
        let ids: Vec<&str> = calls.iter().map(|c| c.call_id.as_str()).collect();
        let providers: Vec<&str> = calls.iter().map(|c| c.provider.as_str()).collect();
        let flows: Vec<&str> = calls.iter().map(|c| c.state.flow.as_str()).collect();
        let simulated: Vec<bool> = calls.iter().map(|c| c.state.simulated).collect();
        let starts: Vec<i64> = calls.iter().map(|c| c.state.start_ms).collect();
        let to_person: Vec<Option<i64>> = calls.iter().map(|c| c.state.to_person_ms()).collect();
        client.execute(
            "INSERT INTO calls (call_id, provider, flow, simulated, start_ms, to_person_ms, state) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::int8[], $6::int8[], $7::text[]) \
             ON CONFLICT (call_id, provider) DO UPDATE SET flow = excluded.flow, simulated = excluded.simulated, \
             start_ms = excluded.start_ms, to_person_ms = excluded.to_person_ms, state = excluded.state",
            &[&ids, &providers, &flows, &simulated, &starts, &to_person, &states],
        )?;
        let rebuilt: Vec<&CallChange> = calls.iter().filter(|c| c.rebuilt).collect();
        if !rebuilt.is_empty() {
            let ids: Vec<&str> = rebuilt.iter().map(|c| c.call_id.as_str()).collect();
            let providers: Vec<&str> = rebuilt.iter().map(|c| c.provider.as_str()).collect();
            client.execute(
                "DELETE FROM queue_stays s USING unnest($1::text[], $2::text[]) AS t(i, p) \
                 WHERE s.call_id = t.i AND s.provider = t.p",
                &[&ids, &providers],
            )?;
        }
        let stays: Vec<(&CallChange, &super::summary::Stay)> =
            calls.iter().flat_map(|c| c.stays.iter().map(move |s| (c, s))).collect();
        if !stays.is_empty() {
            let col = |f: &dyn Fn(&CallChange) -> &str| stays.iter().map(|(c, _)| f(c)).collect::<Vec<&str>>();
            let seqs: Vec<i64> = stays.iter().map(|(_, s)| i64::from(s.seq)).collect();
            let simulated: Vec<bool> = stays.iter().map(|(c, _)| c.state.simulated).collect();
            let starts: Vec<i64> = stays.iter().map(|(c, _)| c.state.start_ms).collect();
            let queues: Vec<&str> = stays.iter().map(|(_, s)| s.queue.as_str()).collect();
            let waits: Vec<i64> = stays.iter().map(|(_, s)| i64::from(s.wait_s)).collect();
            client.execute(
                "INSERT INTO queue_stays (call_id, provider, seq, flow, simulated, start_ms, queue, wait_s) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::bool[], $6::int8[], \
                 $7::text[], $8::int8[]) ON CONFLICT DO NOTHING",
                &[
                    &col(&|c| &c.call_id),
                    &col(&|c| &c.provider),
                    &seqs,
                    &col(&|c| &c.state.flow),
                    &simulated,
                    &starts,
                    &queues,
                    &waits,
                ],
            )?;
        }
        // In key order: two instances' batches update shared rows in the same order, so
        // neither waits for the other in a cycle (a deadlock PostgreSQL would break by failing one).
        let mut changes: Vec<_> = tallies.changes().collect();
        changes.sort_unstable_by(|a, b| a.0.cmp(b.0));
        if !changes.is_empty() {
            let simulated: Vec<bool> = changes.iter().map(|(k, _)| k.simulated).collect();
            let buckets: Vec<i64> = changes.iter().map(|(k, _)| k.bucket).collect();
            let flows: Vec<&str> = changes.iter().map(|(k, _)| k.flow.as_str()).collect();
            let whats: Vec<&str> = changes.iter().map(|(k, _)| k.what).collect();
            let names: Vec<&str> = changes.iter().map(|(k, _)| k.name.as_str()).collect();
            let values: Vec<i64> = changes.iter().map(|(k, _)| k.value).collect();
            let ns: Vec<i64> = changes.iter().map(|(_, n)| *n).collect();
            client.execute(
                "INSERT INTO tallies (simulated, bucket, flow, what, name, value, n) \
                 SELECT * FROM unnest($1::bool[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::int8[], \
                 $7::int8[]) ON CONFLICT (simulated, bucket, flow, what, name, value) DO UPDATE SET n = tallies.n + excluded.n",
                &[&simulated, &buckets, &flows, &whats, &names, &values, &ns],
            )?;
            let emptied: HashSet<(bool, i64)> =
                changes.iter().filter(|(_, n)| *n < 0).map(|(k, _)| (k.simulated, k.bucket)).collect();
            if !emptied.is_empty() {
                let mut emptied: Vec<(bool, i64)> = emptied.into_iter().collect();
                emptied.sort_unstable();
                let (simulated, buckets): (Vec<bool>, Vec<i64>) = emptied.into_iter().unzip();
                // A count taken back to zero is no row, as a count never made.
                client.execute(
                    "DELETE FROM tallies t USING unnest($1::bool[], $2::int8[]) AS e(s, b) \
                     WHERE t.simulated = e.s AND t.bucket = e.b AND t.n = 0",
                    &[&simulated, &buckets],
                )?;
            }
        }
        Ok(())
    }
}
