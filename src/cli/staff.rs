//! `switchboard staff`: the agents each weekday × hour needs for the model's service-level target,
//! on a typical and a busy day, with the total agent-hours beside the model's own staffing.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde_json::json;

use switchboard::calendar::day_key;
use switchboard::queue::estimate::{self, SlotEstimate};
use switchboard::queue::model::{Model, QueueModel};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    queues: super::estimate::QueueArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Agent-hours over the week: on duty, needed on a typical day, needed on a busy day.
#[derive(Default)]
struct Totals {
    scheduled: f64,
    typical: f64,
    busy: f64,
    /// Open slots whose target no staffing reaches (none in a sane model).
    unreachable: usize,
}

fn totals(slots: &[SlotEstimate]) -> Totals {
    let mut t = Totals::default();
    for s in slots.iter().filter(|s| s.open) {
        let hours = f64::from(s.slot_min) / 60.0;
        t.scheduled += f64::from(s.agents) * hours;
        for (day, sum) in [(s.typical, &mut t.typical), (s.busy, &mut t.busy)] {
            match day.and_then(|d| d.agents_needed) {
                Some(n) => *sum += f64::from(n) * hours,
                None => t.unreachable += 1,
            }
        }
    }
    t
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let model = args.queues.load()?;
    let queues = super::estimate::queues(&model, args.queues.queue.as_deref())?;
    let weeks: Vec<(&QueueModel, Vec<SlotEstimate>)> = queues.iter().map(|q| (*q, estimate::week(&model, q))).collect();
    if args.json {
        let out: Vec<_> = weeks
            .iter()
            .map(|(q, slots)| {
                let t = totals(slots);
                json!({
                    "queue": q.name,
                    "agent_hours": t.typical,
                    "busy_agent_hours": t.busy,
                    "scheduled_agent_hours": t.scheduled,
                    "cells": slots.iter().filter(|s| s.open).map(|s| json!({
                        "weekday": day_key(s.weekday),
                        "hour": s.hour(),
                        "minute": s.minute(),
                        "agents": s.agents,
                        "arrivals_per_hour": s.typical.map(|d| d.arrivals_per_hour),
                        "agents_needed": s.typical.and_then(|d| d.agents_needed),
                        "busy_agents_needed": s.busy.and_then(|d| d.agents_needed),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let out = json!({ "target_s": model.target_s, "target_share": model.target_share, "queues": out });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    for (q, slots) in &weeks {
        print!("{}", table(&model, q, slots));
    }
    Ok(ExitCode::SUCCESS)
}

fn table(model: &Model, q: &QueueModel, slots: &[SlotEstimate]) -> String {
    let mut out = format!(
        "{}: agents needed for {:.0}% answered within {:.0} s, typical day / busy day ({:.0}th percentile of volume)\n",
        q.name,
        model.target_share * 100.0,
        model.target_s,
        (model.busy_quantile * 100.0).round()
    );
    let n =
        |d: Option<estimate::DayEstimate>| d.and_then(|d| d.agents_needed).map_or("-".to_owned(), |n| n.to_string());
    let slot_refs: Vec<&SlotEstimate> = slots.iter().collect();
    out.push_str(&super::estimate::grid(&slot_refs, 9, &|s| format!("{} / {}", n(s.typical), n(s.busy))));
    let t = totals(slots);
    let _ = writeln!(
        out,
        "agent-hours a week: {:.0} needed on typical days, {:.0} on busy days; the model schedules {:.0}",
        t.typical, t.busy, t.scheduled
    );
    if t.unreachable > 0 {
        let _ = writeln!(out, "({} slot(s) cannot reach the target with any staffing)", t.unreachable);
    }
    out.push('\n');
    out
}
