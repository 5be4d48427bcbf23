//! `switchboard fit LOG.csv -o model.toml`: reads a call log (or interval volumes) with
//! [`fit_log`] (its columns and formats are described there), fits a queue model with
//! `queue::fit`, writes it, and reports how well the fit describes the data.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};

use switchboard::calendar::day_key;
use switchboard::fit_log;
use switchboard::queue::estimate;
use switchboard::queue::fit::{self, Defaults, EmptyDays, History};

#[derive(clap::Args)]
pub struct Args {
    /// The call log or interval volumes, as CSV with a header row.
    #[arg(required_unless_present = "db", conflicts_with = "db")]
    log: Option<PathBuf>,
    /// Fit from the event log instead (sqlite://PATH or postgres://…): its real calls' queue
    /// stays (simulated ones with --simulated), as `switchboard db export` writes them.
    #[arg(long)]
    db: Option<String>,
    /// With --db: the time zone of the model's weekday × hour cells. Default: the flows'
    /// `timezone`, as `db export` decides it.
    #[arg(long, requires = "db")]
    tz: Option<chrono_tz::Tz>,
    /// With --db: fit from the simulated calls (`simulate --events-db`) instead of the real ones.
    #[arg(long, requires = "db")]
    simulated: bool,
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

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.service_level > 0.0 && args.service_level < 1.0) {
        bail!("--service-level must be between 0 and 1");
    }
    let (log, text) = match (&args.log, &args.db) {
        (_, Some(db)) => {
            let mut store = super::db::open_existing(db)?;
            let mut csv = Vec::new();
            let filter = switchboard::events::Filter { simulated: Some(args.simulated), ..Default::default() };
            let tz = match args.tz {
                Some(tz) => tz,
                None => super::db::flows_tz(&mut store, &args.flows, None, args.simulated)?,
            };
            let summary = store.export_fit_csv(&mut csv, tz, &filter)?;
            if summary.rows == 0 {
                let which = if args.simulated { "simulated" } else { "real" };
                bail!("no ended queue stays of {which} calls in the event log {db}: nothing to fit");
            }
            (PathBuf::from(db), String::from_utf8(csv).context("the export is not UTF-8")?)
        }
        (Some(log), None) => {
            (log.clone(), std::fs::read_to_string(log).with_context(|| format!("cannot read {}", log.display()))?)
        }
        (None, None) => bail!("give a call log or --db"),
    };
    let read = fit_log::read(&log.display().to_string(), &text)?;
    for warning in &read.warnings {
        eprintln!("{warning}");
    }
    let (history, skipped, ignored) = (read.history, read.skipped, read.ignored);
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
    if let Some(problems) = summary(skipped, ignored) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(calls_count(1.0), "1 call");
        assert_eq!(calls_count(3.0), "3 calls");
        assert_eq!(calls_count(2.5), "2.5 calls");
    }
}
