//! `switchboard simulate`: call load on a virtual clock. By default weeks of calls walk the
//! real flow and wait in the model's queues; `--stationary` runs one queue with constant rates
//! and no IVR (the scenario Erlang C/A describe). Both print confidence intervals.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use std::sync::mpsc::SyncSender;

use anyhow::{Context, anyhow};
use chrono::Utc;

use switchboard::calendar::{WEEKDAYS, day_abbrev};
use switchboard::events::{DbUrl, Event, EventLogError, Store};
use switchboard::files;
use switchboard::queue::estimate::{self, DayEstimate};
use switchboard::queue::model::Model;
use switchboard::sim::plot;
use switchboard::sim::stationary::{self, Scenario, Service};
use switchboard::sim::stats::Estimate;
use switchboard::sim::week::{self, Setup, Summary};

#[derive(clap::Args)]
pub struct Args {
    /// One queue, constant rates, no IVR.
    #[arg(long)]
    stationary: bool,
    /// The flow callers walk (week simulation).
    #[arg(long, default_value = "flows/support.toml")]
    flow: PathBuf,
    /// The call-centre model (default: the one the flow names).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Weeks to simulate in each replication.
    #[arg(long, default_value_t = 1)]
    weeks: u32,
    /// Print the cells as CSV.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
    /// Also write summary.json and cells.csv into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Offered calls per hour.
    #[arg(long, default_value_t = 600.0)]
    calls_per_hour: f64,
    /// Mean handle time ("300s", "5m").
    #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
    handle_time: Duration,
    /// Agents answering.
    #[arg(long, default_value_t = 55)]
    agents: u32,
    /// Mean caller patience before hanging up (exponential); omit for no abandonment.
    #[arg(long, value_parser = humantime::parse_duration)]
    patience: Option<Duration>,
    /// Service-level threshold: answered within this counts as in target.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    target: Duration,
    /// Coefficient of variation of a lognormal handle time (default: exponential).
    #[arg(long)]
    service_cv: Option<f64>,
    /// Calls to simulate in each replication.
    #[arg(long, default_value_t = 1_000_000)]
    calls: u64,
    /// Independent replications, run in parallel on all cores (default: 1 stationary, 4 weekly).
    #[arg(long)]
    replications: Option<u32>,
    /// Seed of the random streams: the same seed gives the same output on any machine.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long)]
    json: bool,
    /// Print the Erlang C/A values for the same inputs beside the simulated ones (weeks: per
    /// weekday-hour, for the calls that reached each queue and the agents on shift).
    #[arg(long)]
    compare: bool,
    /// Also write every simulated call into this event log (sqlite://PATH or postgres://…),
    /// marked simulated, for `report --simulated` and `fit --db --simulated`.
    #[arg(long, conflicts_with = "stationary")]
    events_db: Option<String>,
    /// With --events-db: the prefix of the call ids (default: `sim-SEED-` and the time now), so
    /// that runs written into one log stay apart.
    #[arg(long, requires = "events_db")]
    run_id: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.stationary { stationary(args) } else { weeks(args) }
}

fn stationary(args: Args) -> anyhow::Result<ExitCode> {
    let scenario = Scenario {
        arrivals_per_hour: args.calls_per_hour,
        aht_s: args.handle_time.as_secs_f64(),
        agents: args.agents,
        patience_s: args.patience.map(|p| p.as_secs_f64()),
        target_s: args.target.as_secs_f64(),
        service: args.service_cv.map_or(Service::Exponential, |cv| Service::Lognormal { cv }),
        calls: args.calls,
        warmup: 0.02,
    };
    let started = Instant::now();
    let result = stationary::replicate(&scenario, args.seed, args.replications.unwrap_or(1))?;
    let wall_s = started.elapsed().as_secs_f64();
    // The formula for the same inputs: Erlang A with patience, Erlang C without (exponential
    // handle times only; with a lognormal it is the exponential approximation).
    let formula = switchboard::queue::metrics(&switchboard::queue::ErlangInputs {
        arrivals_per_hour: scenario.arrivals_per_hour,
        aht_s: scenario.aht_s,
        agents: scenario.agents,
        patience_s: scenario.patience_s,
        target_s: scenario.target_s,
    })
    .ok();
    if args.json {
        let mut v = serde_json::to_value(&result)?;
        v["wall_s"] = wall_s.into();
        v["calls_per_s"] = (result.calls as f64 / wall_s).into();
        v["seed"] = args.seed.into();
        v["scenario"] = serde_json::to_value(&scenario)?;
        if args.compare {
            v["formula"] = serde_json::to_value(formula)?;
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let e = &result.estimates;
    let model = if scenario.patience_s.is_some() { "Erlang A" } else { "Erlang C" };
    let show = |name: &str, x: &Estimate, unit: &str, exact: Option<f64>| {
        let beside = match (args.compare, exact) {
            (true, Some(f)) => {
                let inside = if x.contains(f) { "inside" } else { "OUTSIDE" };
                format!("   {model} {f:.4} ({inside} the interval)")
            }
            (true, None) => format!("   {model}: no steady state"),
            (false, _) => String::new(),
        };
        println!("  {name:<22} {:>10.4} ± {:.4}{unit}{beside}", x.mean, x.ci99)
    };
    let f = formula.as_ref();
    println!(
        "{} calls ({} measured after warm-up) in {}, seed {}",
        result.calls,
        result.measured,
        estimate::count(result.replications, "replication"),
        args.seed
    );
    show("mean wait", &e.mean_wait_s, " s", f.and_then(|f| f.mean_wait_s));
    show("mean wait (answered)", &e.mean_wait_answered_s, " s", f.and_then(|f| f.mean_wait_answered_s));
    show("service level", &e.service_level, "", f.map(|f| f.service_level));
    show("abandonment", &e.p_abandon, "", f.map(|f| f.p_abandon));
    show("P(wait > 0)", &e.p_wait, "", f.map(|f| f.p_wait));
    println!("  {:<22} {:>10.4}", "occupancy", result.occupancy.mean);
    println!("  (± is the 99% confidence half-width)");
    println!("wall time {wall_s:.3} s: {:.0} calls/s", result.calls as f64 / wall_s);
    Ok(ExitCode::SUCCESS)
}

fn weeks(args: Args) -> anyhow::Result<ExitCode> {
    let sounds = super::sounds_dir_for(&args.flow);
    let flow = &super::read_flow(&args.flow, &sounds)?;
    let model_path = files::model_path_for(&args.flow, flow, args.model.as_deref())
        .ok_or_else(|| anyhow!("the flow names no model: pass --model FILE"))?;
    let model = super::read_model(&model_path)?;
    let start =
        switchboard::calendar::reference_day(chrono::Weekday::Mon).and_hms_opt(0, 0, 0).expect("midnight exists");
    let setup = Setup { flow, model: &model, weeks: args.weeks, start, warmup_s: 86_400.0 };
    let replications = args.replications.unwrap_or(4);
    let run_id =
        args.run_id.clone().unwrap_or_else(|| format!("sim-{}-{}", args.seed, Utc::now().format("%Y%m%dT%H%M%S")));
    let log = args.events_db.as_deref().map(|url| EventsOut::start(url, run_id)).transpose()?.flatten();
    let bar = progress(replications);
    let started = Instant::now();
    let runs = switchboard::sim::replications(replications, |r| {
        let result = match &log {
            Some(log) => week::run_logged(&setup, args.seed, r, log.to()),
            None => week::run(&setup, args.seed, r),
        };
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        result
    });
    // The writer's own error says more than the replications' "the writer stopped".
    if let Some(log) = log {
        log.finish(args.events_db.as_deref().unwrap_or_default())?;
    }
    let runs: Vec<week::Replication> = runs.into_iter().collect::<Result<_, _>>()?;
    let wall_s = started.elapsed().as_secs_f64();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let summary = week::summarize(&model, args.weeks, &runs);
    let formula = erlang_beside(&model, &summary);
    let calls = summary.ivr.calls;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(dir.join("summary.json"), serde_json::to_string_pretty(&summary)?)?;
        std::fs::write(dir.join("cells.csv"), cells_csv(&summary)?)?;
        for q in &model.queues {
            let cells: Vec<_> = summary.cells.iter().filter(|c| c.queue == q.name).collect();
            let title = format!("{}: simulated mean wait (s) by weekday and hour", q.name);
            plot::heatmap(&cells, summary.weeks_run(), &title, &dir.join(format!("wait-{}", q.name)))?;
            let points: Vec<plot::Versus> = summary
                .cells
                .iter()
                .zip(&formula)
                .filter(|(c, _)| c.queue == q.name)
                .filter_map(|(c, f)| {
                    let formula_s = f.as_ref()?.metrics.mean_wait_s?;
                    Some(plot::Versus { formula_s, simulated_s: c.mean_wait_s?, ci99_s: c.mean_wait_ci99 })
                })
                .collect();
            let title = format!("{}: simulated mean wait against Erlang, per weekday-hour", q.name);
            plot::against_formula(&points, &title, &dir.join(format!("vs-erlang-{}", q.name)))?;
        }
    }
    if args.json {
        let mut v = serde_json::to_value(&summary)?;
        if args.compare {
            for (cell, f) in v["cells"].as_array_mut().into_iter().flatten().zip(&formula) {
                cell["erlang"] = serde_json::to_value(f.as_ref().map(|f| &f.metrics))?;
            }
        }
        v["seed"] = args.seed.into();
        v["wall_s"] = wall_s.into();
        v["calls_per_s"] = (calls as f64 / wall_s).into();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if args.csv {
        print!("{}", cells_csv(&summary)?);
    } else {
        print!("{}", table(&summary));
        if args.compare {
            print!("{}", comparison(&summary, &formula));
        }
        println!(
            "{} in {} of {}, seed {}: {wall_s:.2} s wall, {:.0} calls/s",
            estimate::count(i64::try_from(calls).unwrap_or(i64::MAX), "call"),
            estimate::count(summary.replications, "replication"),
            estimate::count(summary.weeks, "week"),
            args.seed,
            calls as f64 / wall_s
        );
    }
    warn_if_too_short(&summary);
    Ok(ExitCode::SUCCESS)
}

/// The simulated calls on their way into an event log: the replications send batches through
/// a bounded channel (they wait when the database is behind: a simulation loses no event) to one
/// thread that stores them.
struct EventsOut {
    run: String,
    tx: SyncSender<Vec<Event>>,
    thread: std::thread::JoinHandle<Result<u64, EventLogError>>,
}

impl EventsOut {
    /// `None` for the log `none`.
    fn start(url: &str, run: String) -> anyhow::Result<Option<EventsOut>> {
        let db = DbUrl::parse(url)?;
        let Some(mut store) = Store::open(&db)? else {
            return Ok(None);
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Event>>(16);
        let thread = std::thread::Builder::new().name("sim-events".into()).spawn(move || {
            let mut written = 0;
            for batch in rx {
                written += batch.len() as u64;
                store.insert(&batch)?;
            }
            Ok(written)
        })?;
        Ok(Some(EventsOut { run, tx, thread }))
    }

    fn to(&self) -> week::LogTo<'static> {
        let tx = self.tx.clone();
        week::LogTo {
            run: self.run.clone(),
            sink: Box::new(move |batch| tx.send(batch).map_err(|_| "the event-log writer stopped".to_owned())),
        }
    }

    /// Waits until every batch is stored.
    fn finish(self, url: &str) -> anyhow::Result<()> {
        drop(self.tx);
        let written = self.thread.join().map_err(|_| anyhow!("the event-log writer panicked"))?;
        let written = written.with_context(|| format!("cannot write the simulated calls to {url}"))?;
        eprintln!("{written} simulated call events written to the event log, call ids {}-…", self.run);
        Ok(())
    }
}

/// Per-cell figures of a short run are noise: say how many cells cannot be read on their own
/// (too few callers, or an interval wider than the value) and how to fix it.
fn warn_if_too_short(summary: &Summary) {
    let (unreliable, measured) = summary.unreliable_cells();
    if unreliable > 0 {
        eprintln!(
            "warning: {unreliable} of {measured} cells with calls have fewer than {} callers in all or a 99% interval \
             wider than their mean wait; run more --weeks or --replications (now {} × {}) before reading single cells",
            switchboard::sim::week::MIN_CALLERS,
            summary.weeks,
            summary.replications
        );
    }
}

/// The Erlang C/A estimate of each simulated cell for the calls that really reached its queue
/// (the IVR's filtering, retrials and overflow included) on the agents it really had: where the
/// two differ, the steady-state formula misleads. `None` for a cell without calls or agents.
fn erlang_beside(model: &Model, summary: &Summary) -> Vec<Option<DayEstimate>> {
    summary
        .cells
        .iter()
        .map(|c| {
            let queue = model.queues.iter().find(|q| q.name == c.queue)?;
            // Agents on shift, averaged over the hour: a part-hour agent answers part of the calls.
            let agents = c.agents.round() as u32;
            (c.offered > 0.0 && agents > 0).then(|| estimate::day(model, queue, c.offered, agents))
        })
        .collect()
}

/// Simulated mean wait beside Erlang's for each queue and weekday-hour, and the cells where
/// they differ most.
fn comparison(s: &Summary, formula: &[Option<DayEstimate>]) -> String {
    let mut out = String::new();
    for q in &s.queues {
        let _ = writeln!(out, "{}: mean wait, s, simulated / Erlang for the same calls and agents", q.queue);
        let cells: Vec<_> = s.cells.iter().zip(formula).filter(|(c, _)| c.queue == q.queue).collect();
        let hours: Vec<usize> =
            (0..24).filter(|h| cells.iter().any(|(c, _)| c.hour == *h && c.offered > 0.0)).collect();
        let _ = write!(out, "  {:<5}", "");
        for day in WEEKDAYS {
            let _ = write!(out, "{:>12}", day_abbrev(day));
        }
        out.push('\n');
        for h in &hours {
            let _ = write!(out, "  {h:02}:00");
            for d in WEEKDAYS {
                let cell = cells.iter().find(|(c, _)| c.weekday == d && c.hour == *h);
                let text = match cell {
                    Some((c, f)) if c.offered > 0.0 => {
                        let show = |w: Option<f64>| w.map_or("-".to_owned(), |w| format!("{w:.0}"));
                        format!("{} / {}", show(c.mean_wait_s), show(f.as_ref().and_then(|f| f.metrics.mean_wait_s)))
                    }
                    _ => "·".to_owned(),
                };
                let _ = write!(out, "{text:>12}");
            }
            out.push('\n');
        }
        let mut gaps: Vec<(f64, chrono::Weekday, usize, f64, f64)> = cells
            .iter()
            .filter_map(|(c, f)| {
                let (sim, erl) = (c.mean_wait_s?, f.as_ref()?.metrics.mean_wait_s?);
                Some(((sim - erl).abs(), c.weekday, c.hour, sim, erl))
            })
            .collect();
        gaps.sort_by(|a, b| b.0.total_cmp(&a.0));
        let worst: Vec<String> = gaps
            .iter()
            .take(3)
            .filter(|g| g.0 >= 1.0)
            .map(|(_, d, h, sim, erl)| format!("{} {h:02}:00 simulated {sim:.0} s, Erlang {erl:.0} s", day_abbrev(*d)))
            .collect();
        if !worst.is_empty() {
            let _ = writeln!(out, "  largest differences: {}", worst.join("; "));
        }
    }
    out
}

fn progress(replications: u32) -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(u64::from(replications));
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} simulating {pos}/{len} replications {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    })
}

fn cells_csv(summary: &Summary) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for c in &summary.cells {
        w.serialize(c)?;
    }
    Ok(String::from_utf8(w.into_inner().map_err(|e| anyhow!("{e}"))?)?)
}

/// Mean wait by weekday and hour for each queue, then the IVR's figures.
fn table(s: &Summary) -> String {
    let mut out = String::new();
    for q in &s.queues {
        let _ = writeln!(
            out,
            "{}: {:.0} calls a week, {:.0} answered, {:.0} abandoned; mean wait {:.0} s, service level {:.1}%",
            q.queue,
            q.offered,
            q.answered,
            q.abandoned,
            q.mean_wait_s.unwrap_or(0.0),
            100.0 * q.service_level.unwrap_or(0.0)
        );
        let cells: Vec<_> = s.cells.iter().filter(|c| c.queue == q.queue).collect();
        let hours: Vec<usize> = (0..24).filter(|h| cells.iter().any(|c| c.hour == *h && c.offered > 0.0)).collect();
        let _ = write!(out, "  mean wait, s ");
        for h in &hours {
            let _ = write!(out, "{h:>5}");
        }
        out.push('\n');
        for day in WEEKDAYS {
            let _ = write!(out, "  {:<12}", day_abbrev(day));
            for h in &hours {
                match cells.iter().find(|c| c.weekday == day && c.hour == *h).and_then(|c| c.mean_wait_s) {
                    Some(w) => {
                        let _ = write!(out, "{w:>5.0}");
                    }
                    None => out.push_str("    ·"),
                }
            }
            out.push('\n');
        }
    }
    let i = &s.ivr;
    let per = |n: u64| n as f64 / f64::from(s.weeks * s.replications.max(1));
    let share = |n: u64| 100.0 * n as f64 / i.calls.max(1) as f64;
    let _ = writeln!(
        out,
        "IVR, per week: {:.0} calls ({:.0} retrials); contained {:.1}%, queued {:.1}%, voicemail {:.1}%, call-backs {:.1}%, hung up in the IVR {:.1}%",
        per(i.calls),
        per(i.retrials),
        share(i.contained),
        share(i.queued),
        share(i.voicemail),
        share(i.callbacks_booked),
        share(i.hung_up_in_ivr)
    );
    let _ = writeln!(
        out,
        "  zero-outs {:.1}%, timeout fallbacks {:.1}%, invalid-input escalations {:.1}%, mean time in the IVR {:.0} s, overflowed {:.0}/week",
        share(i.zero_outs),
        share(i.timeout_fallbacks),
        share(i.invalid_escalations),
        i.ivr_time_s / i.calls.max(1) as f64,
        per(i.overflowed)
    );
    if let Some(mean) = i.mean_rating() {
        let _ = writeln!(out, "  ratings after a conversation: {:.0}/week, mean {mean:.2}", per(i.ratings));
    }
    let fetches = i.fetch_ok + i.fetch_not_found + i.fetch_failed;
    if fetches > 0 {
        let _ = writeln!(
            out,
            "  backend requests: {:.0}/week, {:.1}% not found, {:.1}% failed",
            per(fetches),
            100.0 * i.fetch_not_found as f64 / fetches as f64,
            100.0 * i.fetch_failed as f64 / fetches as f64
        );
    }
    out
}
