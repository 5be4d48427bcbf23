//! `switchboard report`: where callers give up, how many press 0, how long they wait, read from
//! the event log's per-call summaries (`Store::report`); this prints and draws.
//!
//! Exit codes: 0 with a report, 1 when the log holds no call in the range asked (said on
//! stderr, so a script does not take an empty report for a quiet day), 2 when the log cannot be
//! read (a missing SQLite file included).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use switchboard::events::report::{self, Scope};

use super::db::{DEFAULT_DB, open_existing};

#[derive(clap::Args)]
pub struct Args {
    /// The event log: sqlite://PATH or postgres://….
    #[arg(long, env = "SWITCHBOARD_DB", default_value = DEFAULT_DB)]
    db: String,
    /// Only this flow's calls.
    #[arg(long)]
    flow: Option<String>,
    /// Calls that started on or after this date (`2026-03-16` or `2026-03-16 09:00`, in --tz).
    #[arg(long)]
    since: Option<String>,
    /// Calls that started before this time; a date alone includes that whole day.
    #[arg(long)]
    until: Option<String>,
    /// Print one JSON object.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print one CSV row per node.
    #[arg(long)]
    csv: bool,
    /// Also draw a per-node drop-off chart and a weekday × hour heatmap of calls here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The time zone of dates and of the weekday × hour table.
    #[arg(long, default_value = "UTC")]
    tz: Tz,
    /// Report on simulated calls instead of real ones.
    #[arg(long)]
    simulated: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let since = args.since.as_deref().map(|s| parse_date(s, args.tz, false)).transpose()?;
    let until = args.until.as_deref().map(|s| parse_date(s, args.tz, true)).transpose()?;
    let mut store = open_existing(&args.db)?;
    let scope = Scope { simulated: args.simulated, since, until, tz: args.tz };
    let r = store.report(args.flow.as_deref(), scope)?;
    if r.calls == 0 {
        let what = if args.simulated { "simulated calls" } else { "calls" };
        let mut why = format!("no {what} in the event log {}", args.db);
        if args.flow.is_some() || since.is_some() || until.is_some() {
            why.push_str(" for the flow and dates asked");
        }
        if r.other_calls > 0 {
            let flag = if args.simulated { "without --simulated" } else { "with --simulated" };
            why.push_str(&format!(" ({} other calls: try {flag})", r.other_calls));
        }
        eprintln!("{why}");
        return Ok(ExitCode::from(1));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else if args.csv {
        let mut csv = csv::Writer::from_writer(std::io::stdout().lock());
        for row in report::csv_rows(&r) {
            csv.write_record(&row)?;
        }
        csv.flush()?;
    } else {
        print!("{}", report::text(&r));
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        switchboard::sim::plot::report_charts(&r, dir)?;
        eprintln!("charts written to {}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// A date or date and time in `tz`; `end` makes a bare date mean the end of that day.
fn parse_date(text: &str, tz: Tz, end: bool) -> anyhow::Result<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let local = if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let day = if end { day.succ_opt().unwrap_or(day) } else { day };
        day.and_hms_opt(0, 0, 0)
    } else {
        ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    };
    let Some(local) = local else {
        bail!("`{text}` is not a date: write 2026-03-16 or 2026-03-16 09:00");
    };
    match tz.from_local_datetime(&local).earliest() {
        Some(at) => Ok(at.with_timezone(&Utc)),
        None => bail!("`{text}` does not exist in {tz} (a clock change)"),
    }
}
