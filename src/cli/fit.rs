//! `switchboard fit LOG.csv -o model.toml`: reads a call log (or interval volumes), fits a queue
//! model with `queue::fit`, writes it, and reports how well the fit describes the data.
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

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::NaiveDateTime;

use switchboard::calendar::day_key;
use switchboard::queue::estimate;
use switchboard::queue::fit::{self, CallRecord, Defaults, EmptyDays, History, VolumeRecord};

#[derive(clap::Args)]
pub struct Args {
    /// The call log or interval volumes, as CSV with a header row.
    #[arg(required_unless_present = "db", conflicts_with = "db")]
    log: Option<PathBuf>,
    /// Fit from the event log instead (sqlite://PATH or postgres://…): its real calls' queue
    /// stays, as `switchboard db export` writes them.
    #[arg(long)]
    db: Option<String>,
    /// With --db: the time zone of the model's weekday × hour cells. Default: the flows'
    /// `timezone`, as `db export` decides it.
    #[arg(long, requires = "db")]
    tz: Option<chrono_tz::Tz>,
    /// With --db: the folder of the flow files, for their time zone.
    #[arg(long, env = "SWITCHBOARD_FLOWS", default_value = "flows")]
    flows: PathBuf,
    /// Where to write the model (default: print it).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Handle time for a log without one (interval volumes).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5m")]
    handle_time: Duration,
    /// Patience for a log that shows no abandonment.
    #[arg(long, value_parser = humantime::parse_duration)]
    patience: Option<Duration>,
    /// Service-level threshold for the estimated staffing.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "20s")]
    target: Duration,
    /// Service level the estimated staffing meets.
    #[arg(long, default_value_t = 0.8)]
    service_level: f64,
    /// Average a date without any call in as a day of zero calls. By default such a date on a
    /// weekday that otherwise has calls is a closure (a holiday) and is left out.
    #[arg(long)]
    keep_empty_days: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
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

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.service_level > 0.0 && args.service_level < 1.0) {
        bail!("--service-level must be between 0 and 1");
    }
    let (log, text) = match (&args.log, &args.db) {
        (_, Some(db)) => {
            let mut store = super::db::open_existing(db)?;
            let mut csv = Vec::new();
            let filter = switchboard::events::Filter { simulated: Some(false), ..Default::default() };
            let tz = match args.tz {
                Some(tz) => tz,
                None => super::db::flows_tz(&mut store, &args.flows, None)?,
            };
            let summary = store.export_fit_csv(&mut csv, tz, &filter)?;
            if summary.rows == 0 {
                bail!("no ended queue stays in the event log {db}: nothing to fit");
            }
            (PathBuf::from(db), String::from_utf8(csv).context("the export is not UTF-8")?)
        }
        (Some(log), None) => {
            (log.clone(), std::fs::read_to_string(log).with_context(|| format!("cannot read {}", log.display()))?)
        }
        (None, None) => bail!("give a call log or --db"),
    };
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers()?.iter().map(normalize).collect();
    let find = |names: &[&str]| names.iter().find_map(|n| headers.iter().position(|h| h == n));
    let Some(start) = find(START) else {
        bail!("{}: no start-time column (such as `start`, `start_time` or `timestamp`)", log.display());
    };
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
    let mut warn = Warnings::new(log.display().to_string(), &text);
    for row in reader.records() {
        let row = row.with_context(|| format!("cannot read {}", log.display()))?;
        let field = |c: Option<usize>| c.and_then(|c| row.get(c)).filter(|s| !s.is_empty());
        let Some(at) = field(Some(start)).and_then(parse_time) else {
            warn.skip(&row, start, "unreadable start time");
            continue;
        };
        let queue = field(queue).unwrap_or("main").to_owned();
        if let (false, Some(column)) = (per_call, volume) {
            match field(volume).and_then(|v| v.parse::<f64>().ok()).filter(|v| (0.0..=MAX_INTERVAL_CALLS).contains(v)) {
                Some(n) => volumes.push(VolumeRecord { start: at, queue, calls: n }),
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
    }
    let (skipped, ignored) = (warn.skipped, warn.ignored);
    let history = if per_call || volume.is_none() { History::Calls(calls) } else { History::Volumes(volumes) };
    let empty_days = if args.keep_empty_days { EmptyDays::Zero } else { EmptyDays::Closed };
    let fitted = fit::fit(&history, empty_days).with_context(|| format!("cannot fit {}", log.display()))?;
    let defaults = Defaults {
        target_s: args.target.as_secs_f64(),
        target_share: args.service_level,
        aht_s: args.handle_time.as_secs_f64(),
        patience_s: args.patience.map(|p| p.as_secs_f64()),
    };
    let source = log.file_name().map_or("a log".to_owned(), |n| n.to_string_lossy().into_owned());
    let model = fit::to_toml(&fitted, &source, &defaults);
    // The written file must be a valid model; a failure here is a bug in `to_toml`.
    if let Err(diags) = switchboard::queue::model::parse(&model) {
        let messages: Vec<String> = diags.iter().map(|d| d.message.clone()).collect();
        bail!("the fitted model does not parse: {}", messages.join("; "));
    }
    match &args.output {
        Some(path) => std::fs::write(path, &model).with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{model}"),
    }
    let kind = if matches!(history, History::Volumes(_)) { "interval volumes" } else { "calls" };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report_json(&fitted, skipped, ignored, kind))?);
    } else if args.output.is_some() {
        print!("{}", report(&fitted, skipped, ignored, kind));
    } else {
        eprint!("{}", report(&fitted, skipped, ignored, kind));
    }
    Ok(ExitCode::SUCCESS)
}

/// `1 call`, `12 calls`, `12.5 calls` (interval volumes may be fractional).
fn calls_count(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { estimate::count(n as i64, "call") } else { format!("{n:.1} calls") }
}

fn report_json(f: &fit::Fit, skipped: usize, ignored: usize, kind: &str) -> serde_json::Value {
    serde_json::json!({
        "kind": kind,
        "first_day": f.first_day.to_string(),
        "last_day": f.last_day.to_string(),
        "days": f.days(),
        "closed_dates": f.closed_dates.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "skipped_rows": skipped,
        "ignored_fields": ignored,
        "queues": f.queues.iter().map(|q| serde_json::json!({
            "queue": q.name,
            "calls": q.calls,
            "answered": q.answered,
            "abandoned": q.abandoned,
            "aht_s": q.aht_s,
            "handle_cv": q.handle_cv,
            "handle_ks": q.handle_ks,
            "patience_s": q.patience_s,
            "daily_cv": q.daily_cv,
            "mean_dispersion": q.mean_dispersion(),
            "cells": q.cells.iter().map(|c| serde_json::json!({
                "weekday": day_key(c.weekday),
                "hour": c.hour,
                "days": c.days,
                "mean": c.mean,
                "sd": c.sd,
                "dispersion": c.dispersion,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn report(f: &fit::Fit, skipped: usize, ignored: usize, kind: &str) -> String {
    use std::fmt::Write as _;
    let mut out =
        format!("fitted {kind} from {} to {} ({})\n", f.first_day, f.last_day, estimate::count(f.days(), "day"));
    if !f.closed_dates.is_empty() {
        let _ = writeln!(
            out,
            "closed dates: {} (no calls; left out of the averages, --keep-empty-days counts them as zero)",
            fit::dates_list(&f.closed_dates)
        );
    }
    if let Some(problems) = Warnings::summary(skipped, ignored) {
        let _ = writeln!(out, "{problems} (see the warnings)");
    }
    for q in &f.queues {
        let _ = writeln!(out, "\n{}: {}", q.name, calls_count(q.calls));
        if q.answered + q.abandoned > 0 {
            let _ = writeln!(out, "  answered {}, abandoned {}", q.answered, q.abandoned);
        }
        match (q.aht_s, q.handle_cv, q.handle_ks) {
            (Some(aht), Some(cv), Some(ks)) => {
                let _ = writeln!(
                    out,
                    "  handle time: mean {aht:.0} s, CV {cv:.2} (exponential: 1); lognormal fit, Kolmogorov–Smirnov distance {ks:.3}"
                );
            }
            _ => out.push_str("  handle time: not in the log (the model uses --handle-time)\n"),
        }
        match q.patience_s {
            Some(p) => {
                let _ = writeln!(out, "  patience: mean {p:.0} s (total wait of queued callers / abandonments)");
            }
            None => out.push_str("  patience: no abandonment seen (the model uses --patience, if given)\n"),
        }
        let dispersion = q.mean_dispersion().map_or("-".to_owned(), |d| format!("{d:.2}"));
        let _ = writeln!(
            out,
            "  day-to-day spread: daily_cv {:.3}; index of dispersion of hourly counts {dispersion} (Poisson: 1)",
            q.daily_cv
        );
        out.push_str("  weekday hour   mean calls ± day-to-day sd   dispersion\n");
        for c in &q.cells {
            let d = c.dispersion.map_or("-".to_owned(), |d| format!("{d:.2}"));
            let _ =
                writeln!(out, "  {:<7} {:02}:00 {:>8.1} ± {:<8.1} {:>10}", day_key(c.weekday), c.hour, c.mean, c.sd, d);
        }
    }
    out
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
}

impl<'t> Warnings<'t> {
    fn new(path: String, text: &'t str) -> Self {
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Warnings { path, text, line_starts, skipped: 0, ignored: 0 }
    }

    fn skip(&mut self, row: &csv::StringRecord, column: usize, what: &str) {
        self.skipped += 1;
        self.warn(row, column, &format!("skipped a row: {what}"));
    }

    fn ignore(&mut self, row: &csv::StringRecord, column: usize, what: &str) {
        self.ignored += 1;
        self.warn(row, column, &format!("ignored a field: {what}"));
    }

    fn warn(&self, row: &csv::StringRecord, column: usize, what: &str) {
        let byte = row.position().map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
        // With CRLF line ends the reader's record starts at the previous line's `\n`.
        let byte =
            byte + self.text.get(byte..).map_or(0, |t| t.bytes().take_while(|b| matches!(b, b'\r' | b'\n')).count());
        let line = self.line_starts.partition_point(|&s| s <= byte);
        let col = field_column(self.text, byte, column);
        let value = row.get(column).unwrap_or("");
        eprintln!("{}:{line}:{col}: warning: {what} `{value}`", self.path);
    }

    /// "3 rows skipped, 2 fields ignored", or `None` when the log was clean.
    fn summary(skipped: usize, ignored: usize) -> Option<String> {
        let mut parts = Vec::new();
        if skipped > 0 {
            parts.push(format!("{} skipped", estimate::count(skipped as i64, "row")));
        }
        if ignored > 0 {
            parts.push(format!("{} ignored", estimate::count(ignored as i64, "field")));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
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
        assert_eq!(calls_count(1.0), "1 call");
        assert_eq!(calls_count(3.0), "3 calls");
        assert_eq!(calls_count(2.5), "2.5 calls");
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
