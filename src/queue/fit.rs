//! Fitting a queue model from history: arrivals per weekday × hour averaged over the weeks seen,
//! their day-to-day spread, the handle-time distribution (mean and CV → lognormal) and caller
//! patience, with measures of how well the fit describes the data.
//!
//! Pure: the caller reads the log (see `cli/fit.rs` for the columns accepted) and hands over
//! records. Estimators:
//! - arrivals: calls in each (date, hour), averaged over every date of that weekday between the
//!   first and the last day of the log (days without calls count as zero);
//! - day-to-day spread: a Poisson count whose rate varies by a factor with CV `v` has variance
//!   `m + v²m²`, so `v² = Σ(s² − m)/Σm²` pooled over the cells with calls (clamped at 0);
//! - handle time: mean and CV of answered calls' handle times; the lognormal with those moments
//!   (σ² = ln(1 + CV²)) and its Kolmogorov–Smirnov distance to the data;
//! - patience: with exponential patience and waits censored by answering, the maximum-likelihood
//!   mean patience is the total time all queued callers waited divided by the abandonments.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use super::erlang::Cell;
use super::estimate::{WEEKDAYS, fewest_agents, normal_cdf};
use super::model::Week;

/// One call from a provider's call log.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRecord {
    pub start: NaiveDateTime,
    pub queue: String,
    /// Time in the queue before an answer or a hang-up.
    pub wait_s: Option<f64>,
    /// Talk plus wrap-up time of an answered call.
    pub handle_s: Option<f64>,
    /// `None` when the log does not say.
    pub abandoned: Option<bool>,
}

/// Calls offered in one interval, when only volumes are known.
#[derive(Clone, Debug, PartialEq)]
pub struct VolumeRecord {
    pub start: NaiveDateTime,
    pub queue: String,
    pub calls: f64,
}

/// What a log holds.
#[derive(Clone, Debug, PartialEq)]
pub enum History {
    Calls(Vec<CallRecord>),
    Volumes(Vec<VolumeRecord>),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FitError {
    #[error("the log has no calls")]
    Empty,
    #[error("the log spans {0} days; at least one full week is needed to fit every weekday")]
    TooShort(i64),
}

/// One weekday-hour cell of the fit.
#[derive(Clone, Debug, PartialEq)]
pub struct CellFit {
    pub weekday: usize,
    pub hour: u32,
    /// Dates of this weekday in the log.
    pub days: u32,
    /// Mean calls in the hour over those dates.
    pub mean: f64,
    /// Day-to-day standard deviation of the hour's calls.
    pub sd: f64,
    /// Index of dispersion of the daily counts, variance / mean (Poisson: 1).
    pub dispersion: Option<f64>,
}

/// The fit of one queue.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueFit {
    pub name: String,
    /// Mean calls per hour, by weekday and hour.
    pub arrivals: Week,
    pub daily_cv: f64,
    /// Cells with calls.
    pub cells: Vec<CellFit>,
    pub calls: f64,
    pub answered: usize,
    pub abandoned: usize,
    pub aht_s: Option<f64>,
    pub handle_cv: Option<f64>,
    /// Kolmogorov–Smirnov distance of the handle times to the fitted lognormal.
    pub handle_ks: Option<f64>,
    pub patience_s: Option<f64>,
}

impl QueueFit {
    /// Call-weighted mean index of dispersion over the cells with calls.
    pub fn mean_dispersion(&self) -> Option<f64> {
        let (mut w, mut n) = (0.0, 0.0);
        for c in &self.cells {
            if let Some(d) = c.dispersion {
                w += d * c.mean;
                n += c.mean;
            }
        }
        (n > 0.0).then(|| w / n)
    }
}

/// The fit of a whole log.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub queues: Vec<QueueFit>,
}

impl Fit {
    pub fn days(&self) -> i64 {
        (self.last_day - self.first_day).num_days() + 1
    }
}

/// Fits every queue of a log.
pub fn fit(history: &History) -> Result<Fit, FitError> {
    let starts: Vec<NaiveDateTime> = match history {
        History::Calls(c) => c.iter().map(|r| r.start).collect(),
        History::Volumes(v) => v.iter().map(|r| r.start).collect(),
    };
    let first_day = starts.iter().min().ok_or(FitError::Empty)?.date();
    let last_day = starts.iter().max().ok_or(FitError::Empty)?.date();
    let span = (last_day - first_day).num_days() + 1;
    if span < 7 {
        return Err(FitError::TooShort(span));
    }
    // Calls per (queue, date, hour).
    let mut counts: HashMap<&str, HashMap<(NaiveDate, u32), f64>> = HashMap::new();
    let mut names: Vec<&str> = Vec::new();
    let rows: Vec<(&str, NaiveDateTime, f64)> = match history {
        History::Calls(c) => c.iter().map(|r| (r.queue.as_str(), r.start, 1.0)).collect(),
        History::Volumes(v) => v.iter().map(|r| (r.queue.as_str(), r.start, r.calls)).collect(),
    };
    for (queue, at, n) in rows {
        if !names.contains(&queue) {
            names.push(queue);
        }
        *counts.entry(queue).or_default().entry((at.date(), at.hour())).or_default() += n;
    }
    let mut queues = Vec::new();
    for name in names {
        let by_cell = &counts[name];
        let mut q = arrivals(name, by_cell, first_day, last_day);
        if let History::Calls(calls) = history {
            let mine: Vec<&CallRecord> = calls.iter().filter(|c| c.queue == name).collect();
            calls_fit(&mut q, &mine);
        }
        queues.push(q);
    }
    Ok(Fit { first_day, last_day, queues })
}

fn arrivals(name: &str, by_cell: &HashMap<(NaiveDate, u32), f64>, first: NaiveDate, last: NaiveDate) -> QueueFit {
    let mut week = Week::zero(60);
    let mut cells = Vec::new();
    let (mut excess, mut squares) = (0.0, 0.0);
    for weekday in 0..7 {
        let dates: Vec<NaiveDate> = first
            .iter_days()
            .take_while(|d| *d <= last)
            .filter(|d| d.weekday().num_days_from_monday() as usize == weekday)
            .collect();
        for hour in 0..24_u32 {
            let daily: Vec<f64> = dates.iter().map(|d| by_cell.get(&(*d, hour)).copied().unwrap_or(0.0)).collect();
            let n = daily.len() as f64;
            if n == 0.0 {
                continue;
            }
            let mean = daily.iter().sum::<f64>() / n;
            if mean <= 0.0 {
                continue;
            }
            let var = if n > 1.0 { daily.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
            week.values[weekday * 24 + hour as usize] = mean;
            if n > 1.0 {
                excess += var - mean;
                squares += mean * mean;
            }
            cells.push(CellFit {
                weekday,
                hour,
                days: daily.len() as u32,
                mean,
                sd: var.sqrt(),
                dispersion: (n > 1.0).then(|| var / mean),
            });
        }
    }
    let daily_cv = if squares > 0.0 { (excess / squares).max(0.0).sqrt() } else { 0.0 };
    let calls = by_cell.values().sum();
    QueueFit {
        name: name.to_owned(),
        arrivals: week,
        daily_cv,
        cells,
        calls,
        answered: 0,
        abandoned: 0,
        aht_s: None,
        handle_cv: None,
        handle_ks: None,
        patience_s: None,
    }
}

fn calls_fit(q: &mut QueueFit, calls: &[&CallRecord]) {
    q.abandoned = calls.iter().filter(|c| c.abandoned == Some(true)).count();
    q.answered = calls.iter().filter(|c| c.abandoned == Some(false)).count();
    let mut handle: Vec<f64> = calls
        .iter()
        .filter(|c| c.abandoned != Some(true))
        .filter_map(|c| c.handle_s)
        .filter(|h| h.is_finite() && *h > 0.0)
        .collect();
    if !handle.is_empty() {
        let n = handle.len() as f64;
        let mean = handle.iter().sum::<f64>() / n;
        let var = if n > 1.0 { handle.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
        let cv = var.sqrt() / mean;
        q.aht_s = Some(mean);
        q.handle_cv = Some(cv);
        handle.sort_by(f64::total_cmp);
        q.handle_ks = Some(ks_lognormal(&handle, mean, cv));
    }
    let total_wait: f64 = calls.iter().filter_map(|c| c.wait_s).filter(|w| w.is_finite() && *w > 0.0).sum();
    if q.abandoned > 0 && total_wait > 0.0 {
        q.patience_s = Some(total_wait / q.abandoned as f64);
    }
}

/// Kolmogorov–Smirnov distance between sorted data and the lognormal with this mean and CV.
pub fn ks_lognormal(sorted: &[f64], mean: f64, cv: f64) -> f64 {
    let n = sorted.len() as f64;
    if n == 0.0 || mean <= 0.0 {
        return 0.0;
    }
    let s2 = (1.0 + cv * cv).ln();
    let (mu, sigma) = (mean.ln() - s2 / 2.0, s2.sqrt());
    let cdf = |x: f64| {
        if x <= 0.0 {
            0.0
        } else if sigma == 0.0 {
            if x.ln() >= mu { 1.0 } else { 0.0 }
        } else {
            normal_cdf((x.ln() - mu) / sigma)
        }
    };
    sorted.iter().enumerate().fold(0.0_f64, |d, (i, &x)| {
        let f = cdf(x);
        d.max((i as f64 + 1.0) / n - f).max(f - i as f64 / n)
    })
}

/// Staffing and defaults for writing a model from a fit.
#[derive(Clone, Debug)]
pub struct Defaults {
    pub target_s: f64,
    pub target_share: f64,
    /// Handle time for queues whose log has none (volume-only logs).
    pub aht_s: f64,
    /// Patience for queues whose log shows none.
    pub patience_s: Option<f64>,
}

/// The fit as a model file that `queue::model::parse` reads: arrivals, spread, handle time and
/// patience from the data; opening hours spanning the hours with calls; staffing estimated as the
/// fewest agents meeting the target on a typical day, for the analyst to replace with the rota.
pub fn to_toml(fit: &Fit, source: &str, d: &Defaults) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Fitted by `switchboard fit` from {source}: {} to {} ({} days).",
        fit.first_day,
        fit.last_day,
        fit.days()
    );
    out.push_str("# Staffing is estimated (the fewest agents meeting the target on a typical day):\n");
    out.push_str("# replace each queue's `agents` with the real rota to see expected waits.\n\n");
    out.push_str("interval = \"60m\"\n");
    let _ = writeln!(out, "service_level = {{ target = \"{}s\", share = {} }}", d.target_s, d.target_share);
    out.push_str("busy_quantile = 0.9\n\n[hours]\n");
    for (weekday, day) in WEEKDAYS.iter().enumerate() {
        let open: Vec<u32> = (0..24)
            .filter(|h| fit.queues.iter().any(|q| q.arrivals.values[weekday * 24 + *h as usize] > 0.0))
            .collect();
        match (open.first(), open.last()) {
            (Some(from), Some(to)) => {
                let _ = writeln!(out, "{day} = \"{from:02}:00-{:02}:00\"", to + 1);
            }
            _ => {
                let _ = writeln!(out, "{day} = \"closed\"");
            }
        }
    }
    for q in &fit.queues {
        let aht_s = q.aht_s.unwrap_or(d.aht_s);
        let patience_s = q.patience_s.or(d.patience_s);
        let _ = writeln!(out, "\n[queues.{}]", toml_key(&q.name));
        let _ = writeln!(out, "daily_cv = {:.3}", q.daily_cv);
        let _ = writeln!(
            out,
            "handle_time = \"{:.0}s\"{}",
            aht_s.max(1.0),
            if q.aht_s.is_none() { "  # assumed" } else { "" }
        );
        if let Some(cv) = q.handle_cv.filter(|cv| *cv > 0.0) {
            let _ = writeln!(out, "handle_time_cv = {cv:.3}");
        }
        if let Some(p) = patience_s {
            let _ = writeln!(out, "patience = \"{:.0}s\"", p.max(1.0));
        }
        let _ = writeln!(out, "\n[queues.{}.arrivals]", toml_key(&q.name));
        for (weekday, day) in WEEKDAYS.iter().enumerate() {
            let values: Vec<String> = q.arrivals.day(weekday).iter().map(|v| format!("{v:.2}")).collect();
            let _ = writeln!(out, "{day} = [{}]", values.join(", "));
        }
        let _ = writeln!(out, "\n[queues.{}.agents]", toml_key(&q.name));
        for (weekday, day) in WEEKDAYS.iter().enumerate() {
            let values: Vec<String> = q
                .arrivals
                .day(weekday)
                .iter()
                .map(|&a| {
                    let cell = Cell {
                        arrivals_per_hour: a,
                        aht_s: aht_s.max(1.0),
                        agents: 1,
                        patience_s: patience_s.map(|p| p.max(1.0)),
                        target_s: d.target_s,
                    };
                    fewest_agents(&cell, d.target_share).unwrap_or(0).to_string()
                })
                .collect();
            let _ = writeln!(out, "{day} = [{}]", values.join(", "));
        }
    }
    out
}

/// A table key: bare when it can be, else a quoted string.
fn toml_key(name: &str) -> String {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        name.to_owned()
    } else {
        let escaped: String = name
            .chars()
            .flat_map(|c| match c {
                '"' => vec!['\\', '"'],
                '\\' => vec!['\\', '\\'],
                c if c.is_control() => vec![' '],
                c => vec![c],
            })
            .collect();
        format!("\"{escaped}\"")
    }
}
