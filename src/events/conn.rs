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
    /// Up to `limit` calls (call id, provider) marked in `dirty_calls`; on PostgreSQL locked to
    /// the end of the transaction, skipping those another transaction holds.
    fn dirty(&mut self, limit: usize) -> Result<Vec<(String, String)>, EventLogError>;
    /// Marks every call that has events.
    fn mark_every_call(&mut self) -> Result<(), EventLogError>;
    /// Unmarks these calls.
    fn clean(&mut self, calls: &[(&str, &str)]) -> Result<(), EventLogError>;
    /// The events of these calls that a report reads, a call's together and in `seq` order.
    fn calls_events(&mut self, calls: &[(&str, &str)], each: EachEvent<'_>) -> Result<(), EventLogError>;
    /// The stored states of these calls (call id, provider).
    fn states(&mut self, calls: &[(&str, &str)]) -> Result<HashMap<(String, String), CallState>, EventLogError>;
    /// Writes the calls' new summaries to `calls` (deleting those that have none) and the
    /// tallies' changes.
    fn write_summaries(&mut self, calls: &[CallChange], tallies: &Tallies) -> Result<(), EventLogError>;
}

/// `kind IN (…)` of the kinds a report reads, as SQL literals.
fn report_kinds() -> String {
    let words: Vec<String> = super::report::KINDS.iter().map(|k| format!("'{k}'")).collect();
    format!("kind IN ({})", words.join(", "))
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
        let (clause, params) = where_clause(filter, true);
        let mut event = blank_event();
        // Calls in the order of their ids, as PostgreSQL reads them: a walk of `call_keys`'s
        // index, each call's events then one range of the table's key (0006_call_numbers.sql).
        // CROSS JOIN keeps that order of the loops whatever the filter.
        // The call's id and provider are `k`'s (0007_slim_events.sql); no column name is in both.
        let sql = format!(
            "SELECT {} FROM call_keys k CROSS JOIN events e ON e.call = k.num{clause} \
             ORDER BY k.call_id, k.provider, e.seq",
            super::store::COLUMNS
        );
        let mut query = self.0.prepare_cached(&sql)?;
        let mut rows = query.query(rusqlite::params_from_iter(lite_values(params)))?;
        while let Some(row) = rows.next()? {
            lite_fill(&mut event, row)?;
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

    fn dirty(&mut self, limit: usize) -> Result<Vec<(String, String)>, EventLogError> {
        // Marked by number (0007_slim_events.sql).
        let mut query = self.0.prepare_cached(
            "SELECT k.call_id, k.provider FROM dirty_calls d JOIN call_keys k ON k.num = d.call LIMIT $1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = query.query_map([limit], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn mark_every_call(&mut self) -> Result<(), EventLogError> {
        // `prune` deletes the numbers of calls it leaves without events.
        self.execute("INSERT INTO dirty_calls (call) SELECT num FROM call_keys", Vec::new()).map(drop)
    }

    fn clean(&mut self, calls: &[(&str, &str)]) -> Result<(), EventLogError> {
        let mut delete = self.0.prepare_cached(
            "DELETE FROM dirty_calls WHERE call = (SELECT num FROM call_keys WHERE call_id = $1 AND provider = $2)",
        )?;
        for &(call_id, provider) in calls {
            delete.execute([call_id, provider])?;
        }
        Ok(())
    }

    fn calls_events(&mut self, calls: &[(&str, &str)], each: EachEvent<'_>) -> Result<(), EventLogError> {
        // One look-up of the call's number, then of the table's key, per call: SQLite answers
        // each in microseconds.
        let sql = format!(
            "SELECT {} FROM call_keys k CROSS JOIN events e ON e.call = k.num \
             WHERE k.call_id = $1 AND k.provider = $2 AND {} ORDER BY e.seq",
            super::store::COLUMNS,
            report_kinds()
        );
        let mut query = self.0.prepare_cached(&sql)?;
        let mut event = blank_event();
        for &(call_id, provider) in calls {
            let mut rows = query.query([call_id, provider])?;
            while let Some(row) = rows.next()? {
                lite_fill(&mut event, row)?;
                each(&event)?;
            }
        }
        Ok(())
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
        let mut forget = conn.prepare_cached("DELETE FROM calls WHERE call_id = $1 AND provider = $2")?;
        for c in calls {
            let Some(s) = &c.state else {
                forget.execute([&c.call_id, &c.provider])?;
                continue;
            };
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

/// Decodes an SQLite row of [`COLUMNS`](super::store::COLUMNS) into `event`.
fn lite_fill(event: &mut Event, row: &rusqlite::Row<'_>) -> Result<(), EventLogError> {
    let text = |i: usize| row.get_ref(i)?.as_str().map_err(rusqlite::Error::from);
    let node = row.get_ref(6)?.as_str_or_null().map_err(rusqlite::Error::from)?;
    fill(
        event,
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
    )
}

impl<C: postgres::GenericClient> Conn for Pg<'_, C> {
    fn scan(&mut self, filter: &Filter, each: EachEvent<'_>) -> Result<(), EventLogError> {
        let (clause, params) = where_clause(filter, false);
        let columns = super::store::COLUMNS.replace("details", "details::text");
        let sql = format!("SELECT {columns} FROM events{clause} ORDER BY call_id, provider, seq");
        // `query_raw` streams: rows are decoded as they arrive, not gathered first.
        pg_rows(self.0.query_raw(&sql, pg_values(params))?, each)
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

    fn dirty(&mut self, limit: usize) -> Result<Vec<(String, String)>, EventLogError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Locked rows are another instance's catch-up: skipped, not waited for.
        let rows = self.0.query(
            "SELECT call_id, provider FROM dirty_calls ORDER BY call_id, provider LIMIT $1 FOR UPDATE SKIP LOCKED",
            &[&limit],
        )?;
        rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
    }

    fn mark_every_call(&mut self) -> Result<(), EventLogError> {
        self.execute(
            "INSERT INTO dirty_calls (call_id, provider) SELECT DISTINCT call_id, provider FROM events",
            Vec::new(),
        )
        .map(drop)
    }

    fn clean(&mut self, calls: &[(&str, &str)]) -> Result<(), EventLogError> {
        let (ids, providers): (Vec<&str>, Vec<&str>) = calls.iter().copied().unzip();
        self.0.execute(
            "DELETE FROM dirty_calls d USING unnest($1::text[], $2::text[]) AS t(i, p) \
             WHERE d.call_id = t.i AND d.provider = t.p",
            &[&ids, &providers],
        )?;
        Ok(())
    }

    fn calls_events(&mut self, calls: &[(&str, &str)], each: EachEvent<'_>) -> Result<(), EventLogError> {
        let (ids, providers): (Vec<&str>, Vec<&str>) = calls.iter().copied().unzip();
        let columns: Vec<String> = super::store::COLUMNS
            .split(", ")
            .map(|c| if c == "details" { "e.details::text".to_owned() } else { format!("e.{c}") })
            .collect();
        let sql = format!(
            "SELECT {} FROM events e JOIN unnest($1::text[], $2::text[]) AS t(i, p) \
             ON e.call_id = t.i AND e.provider = t.p WHERE e.{} ORDER BY e.call_id, e.provider, e.seq",
            columns.join(", "),
            report_kinds()
        );
        let params: Vec<Box<dyn postgres::types::ToSql + Sync>> = vec![Box::new(ids), Box::new(providers)];
        pg_rows(self.0.query_raw(&sql, params)?, each)
    }

    fn states(&mut self, calls: &[(&str, &str)]) -> Result<HashMap<(String, String), CallState>, EventLogError> {
        let (ids, providers): (Vec<&str>, Vec<&str>) = calls.iter().copied().unzip();
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
        // One statement per table, every column an array.
        let kept: Vec<(&CallChange, &CallState)> = calls.iter().filter_map(|c| Some((c, c.state.as_ref()?))).collect();
        let mut states = Vec::with_capacity(kept.len());
        for (c, s) in &kept {
            states.push(serde_json::to_string(s).map_err(|e| bad_state(&c.call_id, &e))?);
        }
        let ids: Vec<&str> = kept.iter().map(|(c, _)| c.call_id.as_str()).collect();
        let providers: Vec<&str> = kept.iter().map(|(c, _)| c.provider.as_str()).collect();
        let flows: Vec<&str> = kept.iter().map(|(_, s)| s.flow.as_str()).collect();
        let simulated: Vec<bool> = kept.iter().map(|(_, s)| s.simulated).collect();
        let starts: Vec<i64> = kept.iter().map(|(_, s)| s.start_ms).collect();
        let to_person: Vec<Option<i64>> = kept.iter().map(|(_, s)| s.to_person_ms()).collect();
        client.execute(
            "INSERT INTO calls (call_id, provider, flow, simulated, start_ms, to_person_ms, state) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::int8[], $6::int8[], $7::text[]) \
             ON CONFLICT (call_id, provider) DO UPDATE SET flow = excluded.flow, simulated = excluded.simulated, \
             start_ms = excluded.start_ms, to_person_ms = excluded.to_person_ms, state = excluded.state",
            &[&ids, &providers, &flows, &simulated, &starts, &to_person, &states],
        )?;
        let gone: Vec<&CallChange> = calls.iter().filter(|c| c.state.is_none()).collect();
        if !gone.is_empty() {
            let ids: Vec<&str> = gone.iter().map(|c| c.call_id.as_str()).collect();
            let providers: Vec<&str> = gone.iter().map(|c| c.provider.as_str()).collect();
            client.execute(
                "DELETE FROM calls c USING unnest($1::text[], $2::text[]) AS t(i, p) \
                 WHERE c.call_id = t.i AND c.provider = t.p",
                &[&ids, &providers],
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

/// Decodes PostgreSQL rows of [`COLUMNS`](super::store::COLUMNS) (`details` as text) one by one.
fn pg_rows(mut rows: postgres::RowIter<'_>, each: EachEvent<'_>) -> Result<(), EventLogError> {
    let mut event = blank_event();
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
