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
use switchboard::queue::fit::{self, CallRecord, Defaults, History, VolumeRecord};

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

/// How many skipped rows are named one by one.
const SHOWN_SKIPS: usize = 5;

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
    let (abandoned, status, volume) = (find(ABANDONED), find(STATUS), find(VOLUME));
    let per_call = wait.is_some() || handle.is_some() || duration.is_some() || abandoned.is_some() || status.is_some();
    let mut calls = Vec::new();
    let mut volumes = Vec::new();
    let mut skipped = 0_usize;
    let path = log.display();
    // A bad row is skipped, not fatal: one typo must not throw away a month of log. The first few
    // are named so the analyst can fix them.
    let mut skip = |row: &csv::StringRecord, column: usize, what: &str| {
        skipped += 1;
        if skipped <= SHOWN_SKIPS {
            let (line, byte) = row.position().map_or((0, 0), |p| (p.line(), p.byte()));
            let byte = usize::try_from(byte).unwrap_or(usize::MAX);
            let value = row.get(column).unwrap_or("");
            let col = field_column(&text, byte, column);
            eprintln!("{path}:{line}:{col}: warning: skipped a row: {what} `{value}`");
        }
    };
    for row in reader.records() {
        let row = row.with_context(|| format!("cannot read {path}"))?;
        let field = |c: Option<usize>| c.and_then(|c| row.get(c)).filter(|s| !s.is_empty());
        let Some(at) = field(Some(start)).and_then(parse_time) else {
            skip(&row, start, "unreadable start time");
            continue;
        };
        let queue = field(queue).unwrap_or("main").to_owned();
        if let (false, Some(column)) = (per_call, volume) {
            match field(volume).and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0) {
                Some(n) => volumes.push(VolumeRecord { start: at, queue, calls: n }),
                None => skip(&row, column, "not a call count"),
            }
            continue;
        }
        let wait_s = field(wait).and_then(parse_seconds);
        let handle_s = match (field(handle).and_then(parse_seconds), field(duration).and_then(parse_seconds)) {
            (Some(h), _) => Some(h),
            // A call's duration includes its time in the queue.
            (None, Some(d)) => Some((d - wait_s.unwrap_or(0.0)).max(0.0)),
            (None, None) => None,
        };
        let outcome = field(abandoned).and_then(parse_bool).or_else(|| field(status).and_then(parse_status));
        calls.push(CallRecord { start: at, queue, wait_s, handle_s, abandoned: outcome });
    }
    if skipped > SHOWN_SKIPS {
        eprintln!("{path}: warning: {} more rows skipped", skipped - SHOWN_SKIPS);
    }
    let history = if per_call || volume.is_none() { History::Calls(calls) } else { History::Volumes(volumes) };
    let fitted = fit::fit(&history).with_context(|| format!("cannot fit {}", log.display()))?;
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
        println!("{}", serde_json::to_string_pretty(&report_json(&fitted, skipped, kind))?);
    } else if args.output.is_some() {
        print!("{}", report(&fitted, skipped, kind));
    } else {
        eprint!("{}", report(&fitted, skipped, kind));
    }
    Ok(ExitCode::SUCCESS)
}

fn report_json(f: &fit::Fit, skipped: usize, kind: &str) -> serde_json::Value {
    serde_json::json!({
        "kind": kind,
        "first_day": f.first_day.to_string(),
        "last_day": f.last_day.to_string(),
        "days": f.days(),
        "skipped_rows": skipped,
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

fn report(f: &fit::Fit, skipped: usize, kind: &str) -> String {
    use std::fmt::Write as _;
    let mut out = format!("fitted {kind} from {} to {} ({} days)\n", f.first_day, f.last_day, f.days());
    if skipped > 0 {
        let _ = writeln!(out, "skipped {skipped} row(s) without a readable time or count");
    }
    for q in &f.queues {
        let _ = writeln!(out, "\n{}: {:.0} calls", q.name, q.calls);
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

fn parse_seconds(text: &str) -> Option<f64> {
    let t = text.trim();
    if let Ok(s) = t.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then_some(s);
    }
    let parts: Vec<&str> = t.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let mut secs = 0.0;
    for p in parts {
        let v: f64 = p.parse().ok()?;
        if !(v.is_finite() && v >= 0.0) {
            return None;
        }
        secs = secs * 60.0 + v;
    }
    Some(secs)
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
        assert_eq!(parse_seconds("95"), Some(95.0));
        assert_eq!(parse_seconds("01:35"), Some(95.0));
        assert_eq!(parse_seconds("1:01:35"), Some(3695.0));
        assert_eq!(parse_seconds("-3"), None);
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
