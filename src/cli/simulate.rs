//! `switchboard simulate`: call load on a virtual clock. `--stationary` runs one queue with
//! constant rates and no IVR (the scenario Erlang C/A describe), with confidence intervals.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;

use switchboard::sim::stationary::{self, Scenario, Service};
use switchboard::sim::stats::Estimate;

#[derive(clap::Args)]
pub struct Args {
    /// One queue, constant rates, no IVR.
    #[arg(long)]
    stationary: bool,
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
    /// Independent replications, run in parallel on all cores.
    #[arg(long, default_value_t = 1)]
    replications: u32,
    /// Seed of the random streams: the same seed gives the same output on any machine.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.stationary {
        bail!(
            "only `simulate --stationary` is available so far: the week through the flows comes with the queue model"
        );
    }
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
    let result = stationary::replicate(&scenario, args.seed, args.replications)?;
    let wall_s = started.elapsed().as_secs_f64();
    if args.json {
        let mut v = serde_json::to_value(&result)?;
        v["wall_s"] = wall_s.into();
        v["calls_per_s"] = (result.calls as f64 / wall_s).into();
        v["seed"] = args.seed.into();
        v["scenario"] = serde_json::to_value(&scenario)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let e = &result.estimates;
    let show = |name: &str, x: &Estimate, unit: &str| println!("  {name:<22} {:>10.4} ± {:.4}{unit}", x.mean, x.ci99);
    println!(
        "{} calls ({} measured after warm-up) in {} replication(s), seed {}",
        result.calls, result.measured, result.replications, args.seed
    );
    show("mean wait", &e.mean_wait_s, " s");
    show("mean wait (answered)", &e.mean_wait_answered_s, " s");
    show("service level", &e.service_level, "");
    show("abandonment", &e.p_abandon, "");
    show("P(wait > 0)", &e.p_wait, "");
    println!("  {:<22} {:>10.4}", "occupancy", result.occupancy.mean);
    println!("  (± is the 99% confidence half-width)");
    println!("wall time {wall_s:.3} s: {:.0} calls/s", result.calls as f64 / wall_s);
    Ok(ExitCode::SUCCESS)
}
