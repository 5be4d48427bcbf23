//! A call log (or interval volumes) as CSV, read into the [`History`] that `queue::fit` fits: the
//! text side of `switchboard fit LOG.csv`, apart from the command so the fuzzer reaches it.
//!
//! Columns are found by header name, ignoring case, spaces, `_` and `-`:
//! - start of the call (required): `start`, `start_time`, `timestamp`, `time`, `datetime`, `date`,
//!   `call_start`, `created`, `interval`, `interval_start`; `2026-03-16 09:15[:00]`, RFC 3339
//!   (the local clock written is used), `16.03.2026 09:15`, `03/16/2026 09:15` or Unix seconds;
//! - queue: `queue`, `queue_name`, `skill`, `line`, `group`, `department` (default: one queue, `main`);
//! - time in queue: `queue_time`, `wait`, `wait_time`, `hold_time`, `time_in_queue`;
//! - handle time, taken as is: `handle_time`, `aht`, `talk_time`, `talk`, `service_time`; or the
//!   whole call, from which the time in queue is subtracted: `duration`, `call_duration`, `length`;
//! - outcome: `abandoned` (true/false, 1/0, yes/no) or `status`, `outcome`, `result`, `disposition`
//!   (values with abandon, missed, no answer, unanswered, lost or hang up are abandoned; answered,
//!   completed, handled, connected, served are answered).
//!
//! Durations are seconds (`95`, `95.5`) or `mm:ss` / `hh:mm:ss`. A file with a start column and
//! a `calls`, `count`, `volume` or `offered` column but no per-call columns is read as interval
//! volumes (calls per 5, 15, 30 or 60 minutes).

use chrono::NaiveDateTime;

use crate::queue::fit::{CallRecord, History, MAX_SPAN_DAYS, MAX_SPAN_YEARS, VolumeRecord};

/// A call log read: what to fit, and what was left out of it.
#[derive(Debug)]
pub struct Log {
    pub history: History,
    /// Rows left out (an unreadable start time, outcome or count).
    pub skipped: usize,
    /// Fields left out of a row that was kept (a bad duration).
    pub ignored: usize,
    /// One `path:line:column: warning: …` per row skipped or field ignored.
    pub warnings: Vec<String>,
}

/// Why a log cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{0}: no start-time column (such as `start`, `start_time` or `timestamp`)")]
    NoStart(String),
    #[error("cannot read {path}: {message}")]
    Csv { path: String, message: String },
}

fn csv_error(path: &str, e: csv::Error) -> LogError {
    LogError::Csv { path: path.to_owned(), message: e.to_string() }
}

const START: &[&str] = &[
    "start",
    "starttime",
    "startdate",
    "timestamp",
    "time",
    "datetime",
    "date",
    "callstart",
    "calldate",
    "created",
    "createdat",
    "interval",
    "intervalstart",
    "period",
];
const QUEUE: &[&str] = &["queue", "queuename", "skill", "line", "group", "department", "huntgroup"];
const WAIT: &[&str] = &["queuetime", "wait", "waittime", "waitsec", "holdtime", "timeinqueue", "queueduration"];
const HANDLE: &[&str] = &["handletime", "handle", "aht", "talktime", "talk", "talkduration", "servicetime"];
const DURATION: &[&str] = &["duration", "callduration", "length", "totalduration"];
const ABANDONED: &[&str] = &["abandoned", "isabandoned", "abandon"];
const STATUS: &[&str] = &["status", "outcome", "result", "disposition", "callstatus"];
const VOLUME: &[&str] = &["calls", "count", "volume", "offered", "callsoffered", "numcalls"];

/// Longer than any wait or call a centre has: a value beyond it is a typo or a unit mistake.
const MAX_DURATION_S: f64 = 24.0 * 3600.0;
/// More calls than any centre takes in one interval.
const MAX_INTERVAL_CALLS: f64 = 100_000.0;

fn normalize(header: &str) -> String {
    header.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The call log `text` (named `path` in warnings and errors).
pub fn read(path: &str, text: &str) -> Result<Log, LogError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers().map_err(|e| csv_error(path, e))?.iter().map(normalize).collect();
    let find = |names: &[&str]| names.iter().find_map(|n| headers.iter().position(|h| h == n));
    let Some(start) = find(START) else { return Err(LogError::NoStart(path.to_owned())) };
    let queue = find(QUEUE);
    let (wait, handle, duration) = (find(WAIT), find(HANDLE), find(DURATION));
    // One outcome column: `abandoned` when there is one, else the status.
    let (abandoned, status, volume) = (find(ABANDONED), find(STATUS), find(VOLUME));
    let outcome = abandoned
        .map(|c| (c, parse_bool as fn(&str) -> Option<bool>))
        .or(status.map(|c| (c, parse_status as fn(&str) -> Option<bool>)));
    let per_call = wait.is_some() || handle.is_some() || duration.is_some() || outcome.is_some();
    let mut calls = Vec::new();
    let mut volumes = Vec::new();
    let mut warn = Warnings::new(path.to_owned(), text);
    // Where each kept row starts, to point at it if its date turns out to be a typo.
    let mut kept_at: Vec<u64> = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| csv_error(path, e))?;
        let field = |c: Option<usize>| c.and_then(|c| row.get(c)).filter(|s| !s.is_empty());
        let Some(at) = field(Some(start)).and_then(parse_time) else {
            warn.skip(&row, start, "unreadable start time");
            continue;
        };
        let queue = field(queue).unwrap_or("main").to_owned();
        if let (false, Some(column)) = (per_call, volume) {
            match field(volume).and_then(|v| v.parse::<f64>().ok()).filter(|v| (0.0..=MAX_INTERVAL_CALLS).contains(v)) {
                Some(n) => {
                    volumes.push(VolumeRecord { start: at, queue, calls: n });
                    kept_at.push(row.position().map_or(0, csv::Position::byte));
                }
                None => warn.skip(&row, column, "not a call count"),
            }
            continue;
        }
        // A call must be answered or abandoned when the log says which: one it cannot read is
        // skipped rather than counted as neither.
        let abandoned = match outcome {
            Some((column, parse)) => match field(Some(column)).and_then(parse) {
                Some(a) => Some(a),
                None => {
                    warn.skip(&row, column, "not an outcome (answered or abandoned)");
                    continue;
                }
            },
            None => None,
        };
        // A bad duration is ignored, the rest of the row kept.
        let mut seconds = |column: Option<usize>| {
            let c = column?;
            let text = field(Some(c))?;
            parse_seconds(text).map_err(|why| warn.ignore(&row, c, why)).ok()
        };
        let wait_s = seconds(wait);
        let handle_s = seconds(handle);
        let duration_s = seconds(duration);
        let handle_s = match (handle_s, duration_s) {
            (Some(h), _) => Some(h),
            // A call's duration includes its time in the queue.
            (None, Some(d)) if d >= wait_s.unwrap_or(0.0) => Some(d - wait_s.unwrap_or(0.0)),
            (None, Some(_)) => {
                warn.ignore(&row, duration.unwrap_or(start), "a duration shorter than the time in queue");
                None
            }
            (None, None) => None,
        };
        calls.push(CallRecord { start: at, queue, wait_s, handle_s, abandoned });
        kept_at.push(row.position().map_or(0, csv::Position::byte));
    }
    let starts: Vec<NaiveDateTime> = calls.iter().map(|c| c.start).chain(volumes.iter().map(|v| v.start)).collect();
    let far = far_dates(&starts);
    if far.iter().any(|f| *f) {
        for (i, byte) in kept_at.iter().enumerate().filter(|(i, _)| far[*i]) {
            let value = starts[i].format("%Y-%m-%d %H:%M").to_string();
            warn.skip_at(
                *byte,
                start,
                &value,
                &format!(
                    "a start more than {} years from the log's other dates (a mistyped year?)",
                    MAX_SPAN_YEARS / 2
                ),
            );
        }
        let mut keep = far.iter().map(|f| !f);
        calls.retain(|_| keep.next().unwrap_or(true));
        volumes.retain(|_| keep.next().unwrap_or(true));
    }
    let history = if per_call || volume.is_none() { History::Calls(calls) } else { History::Volumes(volumes) };
    Ok(Log { history, skipped: warn.skipped, ignored: warn.ignored, warnings: warn.lines })
}

/// Every skipped row and ignored field, as `path:line:column: warning: …`, counted for the summary.
/// A bad row is skipped, not fatal: one typo must not throw away a month of log.
struct Warnings<'t> {
    path: String,
    text: &'t str,
    /// Byte offset of each line's start: lines counted by `\n` only, so CRLF files number right.
    line_starts: Vec<usize>,
    skipped: usize,
    ignored: usize,
    lines: Vec<String>,
}

impl<'t> Warnings<'t> {
    fn new(path: String, text: &'t str) -> Self {
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Warnings { path, text, line_starts, skipped: 0, ignored: 0, lines: Vec::new() }
    }

    fn skip(&mut self, row: &csv::StringRecord, column: usize, what: &str) {
        self.skipped += 1;
        self.warn(row, column, &format!("skipped a row: {what}"));
    }

    /// Skips a row already read, known by where it starts.
    fn skip_at(&mut self, byte: u64, column: usize, value: &str, what: &str) {
        self.skipped += 1;
        self.warn_at(byte, column, value, &format!("skipped a row: {what}"));
    }

    fn ignore(&mut self, row: &csv::StringRecord, column: usize, what: &str) {
        self.ignored += 1;
        self.warn(row, column, &format!("ignored a field: {what}"));
    }

    fn warn(&mut self, row: &csv::StringRecord, column: usize, what: &str) {
        let byte = row.position().map_or(0, csv::Position::byte);
        self.warn_at(byte, column, row.get(column).unwrap_or(""), what);
    }

    fn warn_at(&mut self, byte: u64, column: usize, value: &str, what: &str) {
        let byte = usize::try_from(byte).unwrap_or(usize::MAX);
        // With CRLF line ends the reader's record starts at the previous line's `\n`.
        let byte =
            byte + self.text.get(byte..).map_or(0, |t| t.bytes().take_while(|b| matches!(b, b'\r' | b'\n')).count());
        let line = self.line_starts.partition_point(|&s| s <= byte);
        let col = field_column(self.text, byte, column);
        self.lines.push(format!("{}:{line}:{col}: warning: {what} `{value}`", self.path));
    }
}

/// The 1-based character column where field `index` of the record starting at byte `start`
/// begins (after the spaces the reader trims), so that warnings point where an editor should.
/// Commas inside quotes do not separate fields.
fn field_column(text: &str, start: usize, index: usize) -> usize {
    let (mut field, mut quoted, mut column) = (0, false, 1);
    for c in text.get(start..).unwrap_or("").chars() {
        if field == index && c != ' ' && c != '\t' {
            break;
        }
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => field += 1,
            '\n' | '\r' if !quoted => break,
            _ => {}
        }
        column += 1;
    }
    column
}

/// Which starts lie more than half of `fit`'s longest span from the median start: a year typed
/// wrong (5089 for 2026) among a log's real dates. Skipping them keeps the rest of the log, where
/// `fit` would refuse the whole span.
fn far_dates(starts: &[NaiveDateTime]) -> Vec<bool> {
    let mut sorted: Vec<NaiveDateTime> = starts.to_vec();
    sorted.sort_unstable();
    let Some(median) = sorted.get(sorted.len() / 2) else { return Vec::new() };
    // Within half the span either side, so that what is kept always fits.
    let half = (MAX_SPAN_DAYS - 1) / 2;
    starts.iter().map(|s| (s.date() - median.date()).num_days().abs() > half).collect()
}

fn parse_time(text: &str) -> Option<NaiveDateTime> {
    let t = text.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(at.naive_local());
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
        "%m/%d/%Y %H:%M:%S",
        "%m/%d/%Y %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(t, format) {
            return Some(at);
        }
    }
    let secs: i64 = t.parse().ok()?;
    chrono::DateTime::from_timestamp(secs, 0).map(|d| d.naive_utc())
}

/// Seconds (`95`, `95.5`) or `mm:ss` / `hh:mm:ss`, at most a day; `Err` says what is wrong.
fn parse_seconds(text: &str) -> Result<f64, &'static str> {
    let t = text.trim();
    let secs = match t.parse::<f64>() {
        Ok(s) => s,
        Err(_) => {
            let parts: Vec<&str> = t.split(':').collect();
            if !(2..=3).contains(&parts.len()) {
                return Err("not a duration (seconds or h:mm:ss)");
            }
            let mut secs = 0.0;
            for (i, p) in parts.iter().enumerate() {
                let v: f64 = p.parse().map_err(|_| "not a duration (seconds or h:mm:ss)")?;
                // Minutes and seconds after the first part are below 60.
                if v < 0.0 || (i > 0 && v >= 60.0) {
                    return Err("not a duration (seconds or h:mm:ss)");
                }
                secs = secs * 60.0 + v;
            }
            secs
        }
    };
    if secs.is_nan() {
        Err("not a duration (seconds or h:mm:ss)")
    } else if secs < 0.0 {
        Err("a negative duration")
    } else if secs > MAX_DURATION_S {
        Err("a duration beyond a day")
    } else {
        Ok(secs)
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" | "abandoned" => Some(true),
        "false" | "f" | "0" | "no" | "n" | "answered" => Some(false),
        _ => None,
    }
}

fn parse_status(text: &str) -> Option<bool> {
    let t = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if has(&["abandon", "missed", "no-answer", "noanswer", "no answer", "unanswered", "lost", "hangup", "hung up"]) {
        Some(true)
    } else if has(&["answer", "complet", "handled", "connect", "served", "success"]) {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(parse_seconds("95"), Ok(95.0));
        assert_eq!(parse_seconds("01:35"), Ok(95.0));
        assert_eq!(parse_seconds("1:01:35"), Ok(3695.0));
        assert_eq!(parse_seconds("-3"), Err("a negative duration"));
        assert_eq!(parse_seconds("ten"), Err("not a duration (seconds or h:mm:ss)"));
        assert_eq!(parse_seconds("1:75"), Err("not a duration (seconds or h:mm:ss)"));
        assert_eq!(parse_seconds("NaN"), Err("not a duration (seconds or h:mm:ss)"));
        assert_eq!(parse_seconds("99999999999999999999"), Err("a duration beyond a day"));
        assert_eq!(parse_seconds("inf"), Err("a duration beyond a day"));
        assert_eq!(parse_seconds("24:00:00"), Ok(86400.0));
        assert_eq!(parse_status("Abandoned in queue"), Some(true));
        assert_eq!(parse_status("unanswered"), Some(true));
        assert_eq!(parse_status("ANSWERED"), Some(false));
        assert_eq!(parse_status("busy"), None);
        assert_eq!(parse_bool("Yes"), Some(true));
        let t = |s: &str| parse_time(s).map(|t| t.to_string());
        assert_eq!(t("2026-03-16 09:15"), Some("2026-03-16 09:15:00".into()));
        assert_eq!(t("2026-03-16T09:15:00+03:00"), Some("2026-03-16 09:15:00".into()));
        assert_eq!(t("16.03.2026 09:15"), Some("2026-03-16 09:15:00".into()));
        assert_eq!(t("03/16/2026 09:15:30"), Some("2026-03-16 09:15:30".into()));
        assert_eq!(normalize("Start Time"), "starttime");
        assert_eq!(normalize("queue_time"), "queuetime");
        let csv = "id,start,calls\n7, 2026-03-16 09:00,3\n\"x,y\",yesterday,4\n8,,5\n";
        let second = csv.find("7,").unwrap();
        assert_eq!(field_column(csv, second, 0), 1);
        assert_eq!(field_column(csv, second, 1), 4, "after the trimmed space");
        assert_eq!(field_column(csv, second, 2), 21);
        assert_eq!(field_column(csv, csv.find("\"x").unwrap(), 1), 7, "a quoted comma");
        assert_eq!(field_column(csv, csv.find("8,").unwrap(), 1), 3, "an empty field");
        assert_eq!(field_column(csv, csv.len() + 5, 1), 1, "never panics");
    }
}
