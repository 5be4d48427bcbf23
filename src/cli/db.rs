//! `switchboard db prune|export`: retention and the per-call CSV `fit` reads, on the event log.
//! Also opens the log for the commands that only read it (`report`, `fit --db`), which must not
//! create an empty database where there was none.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use chrono::Utc;
use chrono_tz::Tz;
use switchboard::events::{DbUrl, Filter, Store};

/// Where the log is when neither `--db` nor `SWITCHBOARD_DB` says: the server's default.
pub const DEFAULT_DB: &str = "sqlite://.switchboard/calls.db";

#[derive(clap::Subcommand)]
pub enum DbCommand {
    /// Delete calls whose last event is older than a duration (`90d`, `12weeks`), and the
    /// call-backs booked before then (with the numbers they keep).
    Prune {
        #[arg(long, value_parser = humantime::parse_duration)]
        older_than: Duration,
        /// The event log: sqlite://PATH or postgres://….
        #[arg(long, env = "SWITCHBOARD_DB", default_value = DEFAULT_DB)]
        db: String,
    },
    /// Write the per-call CSV `fit` reads: one row per queue stay.
    Export {
        /// The event log: sqlite://PATH or postgres://….
        #[arg(long, env = "SWITCHBOARD_DB", default_value = DEFAULT_DB)]
        db: String,
        /// Where to write the CSV (default: print it).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Only this flow's calls.
        #[arg(long)]
        flow: Option<String>,
        /// The time zone of the `start` column (the model's weekday × hour cells are local).
        /// Default: the `timezone` of the flow files in --flows the calls ran on, else UTC.
        #[arg(long)]
        tz: Option<Tz>,
        /// The folder of the flow files (`NAME.toml` for the flow NAME), for their time zone.
        #[arg(long, env = "SWITCHBOARD_FLOWS", default_value = "flows")]
        flows: PathBuf,
    },
}

pub fn run(command: DbCommand) -> anyhow::Result<ExitCode> {
    match command {
        DbCommand::Prune { older_than, db } => {
            let mut store = open_existing(&db)?;
            let older = chrono::Duration::from_std(older_than).map_err(|_| anyhow!("--older-than is too long"))?;
            let cutoff = Utc::now().checked_sub_signed(older).ok_or_else(|| anyhow!("--older-than is too long"))?;
            let removed = store.prune(cutoff)?;
            let callbacks = store.prune_callbacks(cutoff)?;
            let when = cutoff.format("%Y-%m-%d %H:%M UTC");
            println!("removed {removed} event(s) of calls that ended before {when}");
            println!("removed {callbacks} call-back(s) booked before {when}");
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Export { db, output, flow, tz, flows } => {
            let mut store = open_existing(&db)?;
            let tz = match tz {
                Some(tz) => tz,
                None => flows_tz(&mut store, &flows, flow.as_deref(), false)?,
            };
            let filter = Filter { flow, simulated: Some(false), ..Filter::default() };
            let summary = match &output {
                Some(path) => {
                    let file =
                        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
                    store.export_fit_csv(std::io::BufWriter::new(file), tz, &filter)?
                }
                None => store.export_fit_csv(std::io::stdout().lock(), tz, &filter)?,
            };
            let open = if summary.open > 0 {
                format!(" ({} still queued or without an end, left out)", summary.open)
            } else {
                String::new()
            };
            eprintln!("exported {} queue stay(s){open}", summary.rows);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The time zone of local times when `--tz` is not given: that of the flow files the logged
/// real calls ran on (`DIR/NAME.toml` for the flow NAME; only `flow` with `--flow`), when they
/// all name the same one; else UTC. Says which on stderr, and why when UTC.
/// `simulated` picks whose flows count when no flow is named: the simulated calls' or the real ones'.
pub fn flows_tz(store: &mut Store, flows_dir: &Path, flow: Option<&str>, simulated: bool) -> anyhow::Result<Tz> {
    let names = match flow {
        Some(name) => vec![name.to_owned()],
        None => store.flows(simulated)?,
    };
    let mut zones: Vec<Tz> = Vec::new();
    for name in &names {
        let path = flows_dir.join(format!("{name}.toml"));
        let Ok(source) = std::fs::read_to_string(&path) else {
            eprintln!("note: times in UTC: the flow `{name}` has no file {} (pass --tz or --flows)", path.display());
            return Ok(chrono_tz::UTC);
        };
        match switchboard::engine::parse::parse(&source).flow.map(|f| f.timezone) {
            Some(Some(tz)) if !zones.contains(&tz) => zones.push(tz),
            Some(Some(_)) => {}
            Some(None) => {
                eprintln!("note: times in UTC: {} names no timezone (pass --tz)", path.display());
                return Ok(chrono_tz::UTC);
            }
            None => {
                eprintln!(
                    "note: times in UTC: {} does not parse (`switchboard check` it; or pass --tz)",
                    path.display()
                );
                return Ok(chrono_tz::UTC);
            }
        }
    }
    let mut zones = zones.into_iter();
    match (zones.next(), zones.next()) {
        (Some(tz), None) => {
            eprintln!("times in {tz}, the flows' timezone (--tz to change)");
            Ok(tz)
        }
        (Some(_), Some(_)) => {
            eprintln!("note: times in UTC: the logged flows' files name different timezones (pass --tz)");
            Ok(chrono_tz::UTC)
        }
        (None, _) => Ok(chrono_tz::UTC),
    }
}

/// Opens a log that must already exist: a missing SQLite file is an error, not a new log.
pub fn open_existing(url: &str) -> anyhow::Result<Store> {
    let url = DbUrl::parse(url)?;
    if let DbUrl::Sqlite(path) = &url {
        if !path.exists() {
            bail!(
                "no event log at {}: the file does not exist (start `switchboard serve` to create it, or pass --db)",
                path.display()
            );
        }
    }
    Store::open(&url)?.ok_or_else(|| anyhow!("--db none: there is no event log to read"))
}
