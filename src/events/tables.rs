//! The summary tables (`calls`, `queue_stays`, `tallies`; see [`summary`](super::summary)):
//! kept from each batch the writer stores, back-filled from every event (migration, prune),
//! and read back into a [`Report`].

use std::collections::HashMap;

use super::conn::{Cell, Conn, Param};
use super::report::{self, Builder, Report, Scope};
use super::store::Filter;
use super::summary::{self, BUCKET_MS, Backfill, CallChange, Rebuild, Tallies};
use super::{Event, EventLogError};

/// Folds a batch's new events (stored in the same transaction) into the summaries.
pub(super) fn summarize(conn: &mut dyn Conn, new: &[&Event]) -> Result<(), EventLogError> {
    let mut calls: HashMap<(&str, &str), Vec<&Event>> = HashMap::new();
    for &e in new.iter().filter(|e| report::reads(&e.kind)) {
        calls.entry((&e.call_id, &e.provider)).or_default().push(e);
    }
    if calls.is_empty() {
        return Ok(());
    }
    let keys: Vec<(&str, &str)> = calls.keys().copied().collect();
    let mut states = conn.states(&keys)?;
    let mut tallies = Tallies::default();
    let mut changes = Vec::with_capacity(calls.len());
    for ((call_id, provider), mut events) in calls {
        events.sort_by_key(|e| e.seq);
        let stored = states.remove(&(call_id.to_owned(), provider.to_owned()));
        let change = match summary::fold(call_id, provider, stored, &events, &mut tallies) {
            Some(change) => Some(change),
            // Rare: an event that changes what came before it (see `summary`).
            None => {
                let mut stored = Vec::new();
                let filter =
                    Filter { call_id: Some(call_id.to_owned()), kinds: report::KINDS.to_vec(), ..Filter::default() };
                conn.scan(&filter, &mut |e| {
                    if e.provider == provider {
                        stored.push(e.clone());
                    }
                    Ok(())
                })?;
                let new: Vec<u32> = events.iter().map(|e| e.seq).collect();
                summary::rebuild(call_id, provider, &Rebuild { stored: &stored, new: &new }, &mut tallies)
            }
        };
        changes.extend(change);
    }
    conn.write_summaries(&changes, &tallies)
}

/// Rewrites the summaries from every stored event; returns the number of calls. Holds every
/// call's summary in memory until written (a few hundred bytes each).
pub(super) fn backfill(conn: &mut dyn Conn) -> Result<u64, EventLogError> {
    for table in ["calls", "queue_stays", "tallies"] {
        conn.execute(&format!("DELETE FROM {table}"), Vec::new())?;
    }
    let mut fill = Backfill::new();
    let filter = Filter { kinds: report::KINDS.to_vec(), ..Filter::default() };
    conn.scan(&filter, &mut |e| {
        fill.push(e);
        Ok(())
    })?;
    let (calls, tallies): (Vec<CallChange>, Tallies) = fill.finish();
    for chunk in calls.chunks(10_000) {
        conn.write_summaries(chunk, &Tallies::default())?;
    }
    conn.write_summaries(&[], &tallies)?;
    Ok(u64::try_from(calls.len()).unwrap_or(u64::MAX))
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
        let terms = started();
        let sql = format!("SELECT queue, wait_s FROM queue_stays WHERE simulated = $1{}", terms.sql);
        conn.query(&sql, terms.params, &mut |row| {
            let wait = u32::try_from(row[1].int()?).map_err(|_| EventLogError::BadRow("a wait out of range".into()))?;
            builder.add_wait(row[0].text()?, wait);
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
