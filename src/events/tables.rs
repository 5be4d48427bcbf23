//! The summary tables (`calls`, `tallies`; see [`summary`](super::summary)): brought up to
//! date from the calls the writer marked (`dirty_calls`), back-filled from every event
//! (migration, prune), and read back into a [`Report`].

use std::collections::HashMap;

use super::EventLogError;
use super::conn::{Cell, Conn, Param};
use super::report::{self, Builder, Report, Scope};
use super::store::Filter;
use super::summary::{self, BUCKET_MS, CallChange, CallState, Tallies};

/// Brings the summaries of up to `limit` of the calls marked dirty up to date, inside the
/// caller's transaction; returns how many (fewer than `limit`: none are left). The dirty calls
/// are taken locked on PostgreSQL, so another instance catching up skips them and a writer
/// marking one again waits; each is summarised from all its events, and the tallies get the
/// difference between its old summary and its new one.
pub(super) fn catch_up(conn: &mut dyn Conn, limit: usize) -> Result<usize, EventLogError> {
    let dirty = conn.dirty(limit)?;
    if dirty.is_empty() {
        return Ok(0);
    }
    let keys: Vec<(&str, &str)> = dirty.iter().map(|(c, p)| (c.as_str(), p.as_str())).collect();
    let mut states = conn.states(&keys)?;
    let mut events = Vec::new();
    conn.calls_events(&keys, &mut |e| {
        events.push(e.clone());
        Ok(())
    })?;
    let mut summaries: HashMap<(&str, &str), CallState> = events
        .chunk_by(|a, b| a.call_id == b.call_id && a.provider == b.provider)
        .filter_map(|call| Some(((&*call[0].call_id, &*call[0].provider), summary::summarize(call)?)))
        .collect();
    let mut tallies = Tallies::default();
    let mut changes = Vec::with_capacity(dirty.len());
    for key in &dirty {
        if let Some(old) = states.remove(key) {
            tallies.count(&old, -1);
        }
        let state = summaries.remove(&(key.0.as_str(), key.1.as_str()));
        if let Some(new) = &state {
            tallies.count(new, 1);
        }
        changes.push(CallChange { call_id: key.0.clone(), provider: key.1.clone(), state });
    }
    conn.write_summaries(&changes, &tallies)?;
    conn.clean(&keys)?;
    Ok(dirty.len())
}

/// Rewrites the summaries from every stored event: marks every call dirty, then catches up.
/// Runs inside the caller's transaction; returns the number of calls.
pub(super) fn backfill(conn: &mut dyn Conn) -> Result<u64, EventLogError> {
    for table in ["calls", "tallies", "dirty_calls"] {
        conn.execute(&format!("DELETE FROM {table}"), Vec::new())?;
    }
    conn.mark_every_call()?;
    let mut calls = 0;
    loop {
        let n = catch_up(conn, 10_000)?;
        calls += u64::try_from(n).unwrap_or(u64::MAX);
        if n == 0 {
            return Ok(calls);
        }
    }
}

/// ` AND …` terms selecting a column in `[from, to)` and a flow, with their parameters.
struct Terms {
    sql: String,
    params: Vec<Param>,
}

impl Terms {
    fn new(params: Vec<Param>) -> Terms {
        Terms { sql: String::new(), params }
    }

    fn and(mut self, term: &str, param: Option<Param>) -> Terms {
        if let Some(p) = param {
            self.params.push(p);
            self.sql.push_str(&format!(" AND {term} ${}", self.params.len()));
        }
        self
    }
}

/// The report of `scope` (and one flow's calls only, with `flow`) from the summaries: whole
/// buckets from `tallies`, the calls of a bucket the dates cut through from their events.
pub(super) fn report(conn: &mut dyn Conn, flow: Option<&str>, scope: Scope) -> Result<Report, EventLogError> {
    let since = scope.since.map(|t| t.timestamp_millis());
    let until = scope.until.map(|t| t.timestamp_millis());
    let mut builder = Builder::new(scope.clone());
    // Whole buckets: from the first starting at or after `since` to the last ending by `until`.
    let first = since.map(|s| -(-s).div_euclid(BUCKET_MS));
    let end = until.map(|u| u.div_euclid(BUCKET_MS));
    let mut edges = Vec::new();
    if let (Some(f), Some(e)) = (first, end)
        && f >= e
    {
        edges.extend(since.zip(until));
    } else {
        let (from_ms, to_ms) = (first.map(|b| b * BUCKET_MS), end.map(|b| b * BUCKET_MS));
        edges.extend(since.zip(from_ms).filter(|(s, f)| s < f));
        edges.extend(to_ms.zip(until).filter(|(t, u)| t < u));
        let flow = || flow.map(|f| Param::Text(f.to_owned()));
        let calls = Terms::new(Vec::new())
            .and("bucket >=", first.map(Param::Int))
            .and("bucket <", end.map(Param::Int))
            .and("flow =", flow());
        let sql = format!(
            "SELECT simulated, bucket, value, CAST(SUM(n) AS BIGINT) FROM tallies WHERE what = '{}'{} \
             GROUP BY simulated, bucket, value",
            summary::CALLS,
            calls.sql
        );
        conn.query(&sql, calls.params, &mut |row| {
            builder.add_calls(row[0].int()? != 0, row[1].int()? * BUCKET_MS, row[2].int()?, count(&row[3])?);
            Ok(())
        })?;
        let simulated = || vec![Param::Bool(scope.simulated)];
        let rest = Terms::new(simulated())
            .and("bucket >=", first.map(Param::Int))
            .and("bucket <", end.map(Param::Int))
            .and("flow =", flow());
        let sql = format!(
            "SELECT what, name, value, CAST(SUM(n) AS BIGINT) FROM tallies WHERE simulated = $1 AND what <> '{}'{} \
             GROUP BY what, name, value",
            summary::CALLS,
            rest.sql
        );
        conn.query(&sql, rest.params, &mut |row| {
            builder.add_tally(row[0].text()?, row[1].text()?, row[2].int()?, count(&row[3])?);
            Ok(())
        })?;
        let started = || {
            Terms::new(simulated())
                .and("start_ms >=", from_ms.map(Param::Int))
                .and("start_ms <", to_ms.map(Param::Int))
                .and("flow =", flow())
        };
        let terms = started();
        let sql =
            format!("SELECT to_person_ms FROM calls WHERE simulated = $1 AND to_person_ms IS NOT NULL{}", terms.sql);
        conn.query(&sql, terms.params, &mut |row| {
            builder.add_to_person(u64::try_from(row[0].int()?).unwrap_or(0));
            Ok(())
        })?;
    }
    for (from, to) in edges {
        let filter = Filter {
            flow: flow.map(str::to_owned),
            kinds: report::KINDS.to_vec(),
            started: Some((from, to)),
            ..Filter::default()
        };
        conn.scan(&filter, &mut |e| {
            builder.push(e);
            Ok(())
        })?;
    }
    Ok(builder.finish())
}

fn count(cell: &Cell) -> Result<u64, EventLogError> {
    u64::try_from(cell.int()?).map_err(|_| EventLogError::BadRow("a negative tally".into()))
}
