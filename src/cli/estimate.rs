//! `switchboard estimate`: expected waits from the queue model — the weekday × hour table of
//! wait, service level, abandonment and agents needed for a typical and a busy day, one cell with
//! `--at`, or the best and worst times to call with `--best`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use serde_json::{Value, json};

use chrono::Weekday;
use switchboard::calendar::{WEEKDAYS, day_abbrev, day_key, day_name};
use switchboard::queue::estimate::{self, DayEstimate, SlotEstimate};
use switchboard::queue::model::{Model, QueueModel};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    queues: QueueArgs,
    /// One cell: "wed 10:00" or "2026-05-04 10:15" (local time of the model).
    #[arg(long)]
    at: Option<String>,
    /// The best and worst times to call, in words.
    #[arg(long, conflicts_with = "at")]
    best: bool,
    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV, one row per cell.
    #[arg(long, conflicts_with = "best")]
    csv: bool,
}

/// Which model and which of its queues, for `estimate` and `staff`.
#[derive(clap::Args)]
pub(super) struct QueueArgs {
    /// The queue model (default: flows/support.model.toml).
    #[arg(long)]
    pub(super) model: Option<PathBuf>,
    /// Only this queue (default: every queue of the model).
    #[arg(long)]
    pub(super) queue: Option<String>,
}

impl QueueArgs {
    /// The model from `--model` or the default, with errors rendered compiler-style.
    pub(super) fn load(&self) -> anyhow::Result<Model> {
        let path = self.model.clone().unwrap_or_else(|| super::default_flows().join("support.model.toml"));
        super::read_model(&path)
    }
}

/// The queues `--queue` selects.
pub(super) fn queues<'m>(model: &'m Model, name: Option<&str>) -> anyhow::Result<Vec<&'m QueueModel>> {
    match name {
        None => Ok(model.queues.iter().collect()),
        Some(n) => match model.queue(n) {
            Some(q) => Ok(vec![q]),
            None => {
                let names: Vec<&str> = model.queues.iter().map(|q| q.name.as_str()).collect();
                bail!("the model has no queue `{n}` (it has: {})", names.join(", "))
            }
        },
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let model = args.queues.load()?;
    let queues = queues(&model, args.queues.queue.as_deref())?;
    if args.best {
        return best(&model, &queues, args.json);
    }
    let mut cells: Vec<(&QueueModel, SlotEstimate)> = Vec::new();
    match &args.at {
        Some(text) => {
            let at = switchboard::calendar::parse_at(text)?;
            cells.extend(queues.iter().map(|q| (*q, estimate::slot_at(&model, q, at))));
        }
        None => {
            for q in &queues {
                cells.extend(estimate::week(&model, q).into_iter().map(|s| (*q, s)));
            }
        }
    }
    if args.json {
        let out = json!({
            "target_s": model.target_s,
            "target_share": model.target_share,
            "busy_quantile": model.busy_quantile,
            "cells": cells.iter().map(|(q, s)| estimate::cell_json(q, s)).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if args.csv {
        print!("{}", csv(&cells)?);
    } else if args.at.is_some() {
        for (q, s) in &cells {
            print!("{}", one_cell(&model, q, s));
        }
    } else {
        for q in &queues {
            let slots: Vec<&SlotEstimate> = cells.iter().filter(|(x, _)| x.name == q.name).map(|(_, s)| s).collect();
            print!("{}", table(&model, q, &slots));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn csv(cells: &[(&QueueModel, SlotEstimate)]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let measures = estimate::DAY_KEYS;
    let mut header = vec!["queue".to_owned(), "weekday".into(), "hour".into(), "minute".into(), "open".into()];
    header.push("agents".into());
    header.extend(measures.iter().map(|m| (*m).to_owned()));
    header.extend(measures.iter().map(|m| format!("busy_{m}")));
    w.write_record(&header)?;
    let text = |v: Option<&Value>| match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    for (q, s) in cells {
        let mut row = vec![q.name.clone(), day_key(s.weekday).to_owned(), s.hour().to_string(), s.minute().to_string()];
        row.push(s.open.to_string());
        row.push(s.agents.to_string());
        let (typical, busy) = (estimate::day_json(s.typical.as_ref()), estimate::day_json(s.busy.as_ref()));
        row.extend(measures.iter().map(|m| text(typical.get(m))));
        row.extend(measures.iter().map(|m| text(busy.get(m))));
        w.write_record(&row)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// `m:ss`, or `∞` when overloaded.
fn clock(wait_s: Option<f64>) -> String {
    match wait_s {
        Some(s) if s.is_finite() => {
            let s = s.round() as u64;
            format!("{}:{:02}", s / 60, s % 60)
        }
        _ => "∞".to_owned(),
    }
}

fn percent(p: f64) -> String {
    format!("{:.0}%", p * 100.0)
}

fn needed(n: Option<u32>) -> String {
    n.map_or("-".to_owned(), |n| n.to_string())
}

/// How one block of the table shows a slot.
type Show = Box<dyn Fn(&SlotEstimate) -> String>;

/// Three weekday × hour blocks for one queue: waits, service level and abandonment, agents.
fn table(model: &Model, q: &QueueModel, slots: &[&SlotEstimate]) -> String {
    let mut out = String::new();
    let busy_pct = (model.busy_quantile * 100.0).round();
    let blocks: [(String, Show); 3] = [
        (
            format!("mean wait of answered callers, typical day / busy day ({busy_pct:.0}th percentile of volume)"),
            Box::new(|s: &SlotEstimate| {
                let w =
                    |d: Option<DayEstimate>| clock(d.map(|d| d.metrics.mean_wait_answered_s.unwrap_or(f64::INFINITY)));
                format!("{} / {}", w(s.typical), w(s.busy))
            }),
        ),
        (
            format!("answered within {:.0} s / abandoned, typical day", model.target_s),
            Box::new(|s: &SlotEstimate| match s.typical {
                Some(d) => format!("{} / {}", percent(d.metrics.service_level), percent(d.metrics.p_abandon)),
                None => String::new(),
            }),
        ),
        (
            format!(
                "agents on duty / needed for {:.0}% within {:.0} s, typical day / busy day",
                model.target_share * 100.0,
                model.target_s
            ),
            Box::new(|s: &SlotEstimate| {
                let n = |d: Option<DayEstimate>| needed(d.and_then(|d| d.agents_needed));
                format!("{} / {} / {}", s.agents, n(s.typical), n(s.busy))
            }),
        ),
    ];
    for (title, show) in &blocks {
        let _ = writeln!(out, "{}: {title}", q.name);
        out.push_str(&grid(slots, 14, show));
        out.push('\n');
    }
    out
}

/// A weekday × time-of-day grid of one queue's slots, columns `width` wide: the weekdays with an
/// open slot across, the open slots' start times down, `show` in each open slot and "closed" in
/// the rest. `estimate` and `staff` print their tables with it.
pub(super) fn grid(slots: &[&SlotEstimate], width: usize, show: &dyn Fn(&SlotEstimate) -> String) -> String {
    let mut out = String::new();
    let days: Vec<Weekday> = WEEKDAYS.into_iter().filter(|d| slots.iter().any(|s| s.weekday == *d && s.open)).collect();
    let mut starts: Vec<u32> = slots.iter().filter(|s| s.open).map(|s| s.start_min).collect();
    starts.sort_unstable();
    starts.dedup();
    let _ = write!(out, "{:<6}", "");
    for d in &days {
        let _ = write!(out, "{:>width$}", day_abbrev(*d));
    }
    out.push('\n');
    for start in &starts {
        let _ = write!(out, "{:<6}", format!("{:02}:{:02}", start / 60, start % 60));
        for d in &days {
            let text = match slots.iter().find(|s| s.weekday == *d && s.start_min == *start) {
                Some(s) if s.open => show(s),
                _ => "closed".to_owned(),
            };
            let _ = write!(out, "{text:>width$}");
        }
        out.push('\n');
    }
    out
}

fn one_cell(model: &Model, q: &QueueModel, s: &SlotEstimate) -> String {
    let mut out = format!("{} on {} at {:02}:{:02}\n", q.name, day_name(s.weekday), s.hour(), s.minute());
    if !s.open {
        out.push_str("  closed: no agents and no estimate\n");
        return out;
    }
    let _ = writeln!(out, "  agents on duty        {}", s.agents);
    let busy_pct = (model.busy_quantile * 100.0).round();
    for (label, d) in [("typical day", s.typical), (&*format!("busy day ({busy_pct:.0}th pct)"), s.busy)] {
        let Some(d) = d else { continue };
        let m = &d.metrics;
        let _ = writeln!(out, "  {label}:");
        let _ = writeln!(out, "    calls per hour      {:.1}", d.arrivals_per_hour);
        if m.overloaded {
            let _ = writeln!(out, "    overloaded          yes: the queue grows without bound");
        }
        let _ = writeln!(out, "    P(wait)             {}", percent(m.p_wait));
        let _ = writeln!(out, "    mean wait           {}", clock(m.mean_wait_s));
        let _ = writeln!(out, "    mean wait answered  {}", clock(m.mean_wait_answered_s));
        let _ = writeln!(out, "    within {:>3.0} s        {}", model.target_s, percent(m.service_level));
        let _ = writeln!(out, "    abandoned           {}", percent(m.p_abandon));
        let _ = writeln!(out, "    occupancy           {}", percent(m.occupancy));
        let _ = writeln!(out, "    agents needed       {}", needed(d.agents_needed));
    }
    out
}

fn best(model: &Model, queues: &[&QueueModel], as_json: bool) -> anyhow::Result<ExitCode> {
    let mut all = Vec::new();
    for q in queues {
        let b = estimate::best_times(&estimate::week(model, q));
        if as_json {
            let periods = |ps: &[estimate::Period]| {
                ps.iter()
                    .map(|p| {
                        json!({
                            "weekday": day_key(p.weekday),
                            "from": format!("{:02}:{:02}", p.from_min / 60, p.from_min % 60),
                            "to": format!("{:02}:{:02}", p.to_min / 60, p.to_min % 60),
                            "wait_s": p.wait_s.is_finite().then_some(p.wait_s),
                        })
                    })
                    .collect::<Vec<_>>()
            };
            all.push(json!({
                "queue": q.name,
                "best": periods(&b.best),
                "worst": periods(&b.worst),
                "days_quickest_first": b.days.iter().map(|(d, _)| day_key(*d)).collect::<Vec<_>>(),
                "summary": estimate::best_sentences(&b, q.arrivals.slot_min),
            }));
        } else {
            println!("{}:", q.name);
            for line in estimate::best_sentences(&b, q.arrivals.slot_min) {
                println!("  {line}");
            }
        }
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(ExitCode::SUCCESS)
}
