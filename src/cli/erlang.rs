//! `switchboard erlang`: Erlang C (or Erlang A with `--patience`) metrics for one staffing cell,
//! or, without `--agents`, the fewest agents meeting the target service level.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::json;

use switchboard::queue::estimate::{self, DayEstimate};
use switchboard::queue::{self, ErlangInputs, Target};

#[derive(clap::Args)]
pub struct Args {
    /// Offered calls per hour.
    #[arg(long)]
    calls_per_hour: f64,
    /// Mean handle time, e.g. 180s or 3m.
    #[arg(long, value_parser = humantime::parse_duration)]
    handle_time: Duration,
    /// Agents on duty; without it, print the agents needed for --service-level.
    #[arg(long)]
    agents: Option<u32>,
    /// Mean caller patience (switches to Erlang A, with abandonment).
    #[arg(long, value_parser = humantime::parse_duration)]
    patience: Option<Duration>,
    /// Service-level threshold: answered within this wait.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "20s")]
    target: Duration,
    /// Service level to staff for when --agents is omitted: the share answered within --target.
    #[arg(long, default_value_t = 0.8, value_parser = share)]
    service_level: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// A service level: a share of calls from 0 up to, not including, 1 (no finite staff answers
/// every call within the target).
fn share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if (0.0..1.0).contains(&x) => Ok(x),
        _ => Err("must be a share from 0 to below 1, e.g. 0.8 for 80%".to_owned()),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut cell = ErlangInputs {
        arrivals_per_hour: args.calls_per_hour,
        aht_s: args.handle_time.as_secs_f64(),
        agents: 1,
        patience_s: args.patience.map(|d| d.as_secs_f64()),
        target_s: args.target.as_secs_f64(),
    };
    let agents_needed = match args.agents {
        Some(n) => {
            if n == 0 {
                bail!("--agents must be at least 1");
            }
            None
        }
        None => Some(queue::agents_needed(&cell, Target::ServiceLevel(args.service_level)).context("cannot staff")?),
    };
    cell.agents = args.agents.or(agents_needed).unwrap_or(1);
    let m = queue::metrics(&cell)?;
    if args.json {
        // The same keys as a cell of `estimate --json`, plus the agents and the 90th percentile.
        let day = DayEstimate { arrivals_per_hour: cell.arrivals_per_hour, metrics: m, agents_needed };
        let mut out = estimate::day_json(Some(&day));
        out["agents"] = cell.agents.into();
        out["p90_wait_s"] = json!(m.p90_wait_s);
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let secs = |v: Option<f64>| v.map_or("-".to_string(), |s| format!("{s:.1} s"));
    let model = if cell.patience_s.is_some() { "Erlang A" } else { "Erlang C" };
    println!("model                 {model}");
    println!("calls per hour        {}", cell.arrivals_per_hour);
    println!("offered load          {:.2} Erlangs", cell.arrivals_per_hour / 3600.0 * cell.aht_s);
    if let Some(n) = agents_needed {
        println!("agents needed         {n} (service level ≥ {:.0}%)", args.service_level * 100.0);
    } else {
        println!("agents                {}", cell.agents);
    }
    if m.overloaded {
        println!("overloaded            yes: offered load ≥ agents, the queue grows without bound");
    }
    println!("P(wait)               {:.1}%", m.p_wait * 100.0);
    println!("mean wait             {}", secs(m.mean_wait_s));
    println!("mean wait (answered)  {}", secs(m.mean_wait_answered_s));
    println!("p90 wait              {}", secs(m.p90_wait_s));
    println!("service level         {:.1}% within {:.0} s", m.service_level * 100.0, cell.target_s);
    println!("P(abandon)            {:.1}%", m.p_abandon * 100.0);
    println!("occupancy             {:.1}%", m.occupancy * 100.0);
    Ok(ExitCode::SUCCESS)
}
