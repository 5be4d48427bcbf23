//! Fitting a queue model from history: arrivals per weekday × hour averaged over the weeks seen,
//! their day-to-day spread, the handle-time distribution (mean and CV → lognormal) and caller
//! patience, with measures of how well the fit describes the data.
//!
//! Pure: the caller reads the log (see `cli/fit.rs` for the columns accepted) and hands over
//! records. Estimators:
//! - arrivals: calls in each (date, hour), averaged over every date of that weekday between the
//!   first and the last day of the log. A date without a single call on a weekday whose other
//!   dates average at least [`CLOSURE_MIN_CALLS`] calls is a closure (a holiday), not a quiet day,
//!   and is left out ([`EmptyDays::Closed`]); on a sparse weekday, where a day without calls is
//!   plausible by chance, it counts as zero, as every empty date does with [`EmptyDays::Zero`];
//! - day-to-day spread: a Poisson count whose rate varies by a factor with CV `v` has variance
//!   `m + v²m²`, so `v² = Σ(s² − m)/Σm²` pooled over the cells with calls (clamped at 0);
//! - handle time: mean and CV of answered calls' handle times; the lognormal with those moments
//!   (σ² = ln(1 + CV²)) and its Kolmogorov–Smirnov distance to the data;
//! - patience: with exponential patience and waits censored by answering, the maximum-likelihood
//!   mean patience is the total time all queued callers waited divided by the abandonments.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use super::erlang::ErlangInputs;
use super::estimate::{count, fewest_agents, normal_cdf};
use super::model::Week;
use crate::calendar::{self, DAY_KEYS as WEEKDAYS};

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
    #[error("the log spans {}; at least one full week is needed to fit every weekday", count(*.0, "day"))]
    TooShort(i64),
    #[error("the log spans {first} to {last}, more than {MAX_SPAN_YEARS} years: is a year mistyped?")]
    TooLong { first: NaiveDate, last: NaiveDate },
}

/// The longest log `fit` averages over. The fit walks every date of the span, so one mistyped
/// year (5089 for 2026) must be refused, not walked for a million days.
pub const MAX_SPAN_YEARS: i64 = 20;
pub const MAX_SPAN_DAYS: i64 = MAX_SPAN_YEARS * 366;

/// One weekday-hour cell of the fit.
#[derive(Clone, Debug, PartialEq)]
pub struct CellFit {
    pub weekday: chrono::Weekday,
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

/// A weekday whose open dates average this many calls has a Poisson chance under e⁻⁵ < 1% of a
/// whole day without a call, so an empty date of it is a closure rather than bad luck.
pub const CLOSURE_MIN_CALLS: f64 = 5.0;

/// What a date without a single call (in any queue) means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmptyDays {
    /// A closure (a holiday) when its weekday is otherwise busy: left out of the averages.
    Closed,
    /// A day with zero calls, averaged in (`fit --keep-empty-days`).
    Zero,
}

/// The fit of a whole log.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// Dates without a call left out of the averages as closures, in order.
    pub closed_dates: Vec<NaiveDate>,
    pub queues: Vec<QueueFit>,
}

impl Fit {
    pub fn days(&self) -> i64 {
        (self.last_day - self.first_day).num_days() + 1
    }
}

/// Fits every queue of a log.
pub fn fit(history: &History, empty_days: EmptyDays) -> Result<Fit, FitError> {
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
    if span > MAX_SPAN_DAYS {
        return Err(FitError::TooLong { first: first_day, last: last_day });
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
    let mut per_date: HashMap<NaiveDate, f64> = HashMap::new();
    for by_cell in counts.values() {
        for ((date, _), n) in by_cell {
            *per_date.entry(*date).or_default() += n;
        }
    }
    let closed_dates = match empty_days {
        EmptyDays::Closed => closures(&per_date, first_day, last_day),
        EmptyDays::Zero => Vec::new(),
    };
    let dates: Vec<NaiveDate> = first_day
        .iter_days()
        .take_while(|d| *d <= last_day)
        .filter(|d| closed_dates.binary_search(d).is_err())
        .collect();
    let mut queues = Vec::new();
    for name in names {
        let by_cell = &counts[name];
        let mut q = arrivals(name, by_cell, &dates);
        if let History::Calls(calls) = history {
            let mine: Vec<&CallRecord> = calls.iter().filter(|c| c.queue == name).collect();
            calls_fit(&mut q, &mine);
        }
        queues.push(q);
    }
    Ok(Fit { first_day, last_day, closed_dates, queues })
}

/// The dates without a call whose weekday's dates with calls average at least
/// [`CLOSURE_MIN_CALLS`].
fn closures(per_date: &HashMap<NaiveDate, f64>, first: NaiveDate, last: NaiveDate) -> Vec<NaiveDate> {
    let calls = |d: &NaiveDate| per_date.get(d).copied().unwrap_or(0.0);
    let all: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
    // Calls and dates with calls per weekday, once: not per date.
    let mut open = [(0.0, 0_u32); 7];
    for d in &all {
        let n = calls(d);
        if n > 0.0 {
            let o = &mut open[d.weekday().num_days_from_monday() as usize];
            *o = (o.0 + n, o.1 + 1);
        }
    }
    let busy_weekday = |weekday: chrono::Weekday| {
        let (sum, days) = open[weekday.num_days_from_monday() as usize];
        days > 0 && sum / f64::from(days) >= CLOSURE_MIN_CALLS
    };
    all.iter().filter(|d| calls(d) <= 0.0 && busy_weekday(d.weekday())).copied().collect()
}

/// Arrivals averaged over `dates` (the log's dates less its closures).
fn arrivals(name: &str, by_cell: &HashMap<(NaiveDate, u32), f64>, all_dates: &[NaiveDate]) -> QueueFit {
    let mut week = Week::zero(60);
    let mut cells = Vec::new();
    let (mut excess, mut squares) = (0.0, 0.0);
    for weekday in 0..7 {
        let dates: Vec<&NaiveDate> =
            all_dates.iter().filter(|d| d.weekday().num_days_from_monday() as usize == weekday).collect();
        for hour in 0..24_u32 {
            let daily: Vec<f64> = dates.iter().map(|d| by_cell.get(&(**d, hour)).copied().unwrap_or(0.0)).collect();
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
                weekday: calendar::WEEKDAYS[weekday],
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
    // Only calls whose wait is known: an abandonment without its wait would bias patience low.
    let timed: Vec<&&CallRecord> = calls.iter().filter(|c| c.wait_s.is_some_and(|w| w.is_finite())).collect();
    let total_wait: f64 = timed.iter().filter_map(|c| c.wait_s).filter(|w| *w > 0.0).sum();
    let gave_up = timed.iter().filter(|c| c.abandoned == Some(true)).count();
    if gave_up > 0 && total_wait > 0.0 {
        q.patience_s = Some(total_wait / gave_up as f64);
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

/// The longest patience a model holds.
const MAX_PATIENCE_S: f64 = 24.0 * 3600.0;

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
        "# Fitted by `switchboard fit` from {source}: {} to {} ({}).",
        fit.first_day,
        fit.last_day,
        count(fit.days(), "day")
    );
    if !fit.closed_dates.is_empty() {
        let _ = writeln!(out, "# Closed dates, left out of the averages: {}.", dates_list(&fit.closed_dates));
    }
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
            // Callers who wait more than a day for each abandonment are as good as never leaving;
            // the model reads patience up to a day.
            let capped = if p > MAX_PATIENCE_S { "  # capped: callers hardly ever abandon" } else { "" };
            let _ = writeln!(out, "patience = \"{:.0}s\"{capped}", p.clamp(1.0, MAX_PATIENCE_S));
        }
        let _ = writeln!(out, "\n[queues.{}.arrivals]", toml_key(&q.name));
        for weekday in calendar::WEEKDAYS {
            let day = calendar::day_key(weekday);
            let values: Vec<String> = q.arrivals.day(weekday).iter().map(|v| format!("{v:.2}")).collect();
            let _ = writeln!(out, "{day} = [{}]", values.join(", "));
        }
        let _ = writeln!(out, "\n[queues.{}.agents]", toml_key(&q.name));
        for weekday in calendar::WEEKDAYS {
            let day = calendar::day_key(weekday);
            let values: Vec<String> = q
                .arrivals
                .day(weekday)
                .iter()
                .map(|&a| {
                    let cell = ErlangInputs {
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

/// Dates as `2026-01-05, 2026-04-06`.
pub fn dates_list(dates: &[NaiveDate]) -> String {
    dates.iter().map(NaiveDate::to_string).collect::<Vec<_>>().join(", ")
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

#[cfg(test)]
mod tests {
    //! The fit against synthetic logs drawn with a seeded RNG from known parameters: each
    //! estimator must recover its parameter within a tolerance of a few standard errors.

    use super::*;
    use chrono::{Duration, NaiveTime};
    use rand::{Rng, SeedableRng};
    use rand_distr::{Distribution, Exp, Gamma, LogNormal, Poisson};
    use rand_xoshiro::Xoshiro256PlusPlus;

    /// A Monday: logs start here so that every weekday gets the same number of dates.
    fn monday() -> NaiveDate {
        let d = NaiveDate::from_ymd_opt(2026, 3, 2).expect("a valid date");
        assert_eq!(d.weekday(), chrono::Weekday::Mon);
        d
    }

    /// Known calls per hour: weekdays 9–18 with a midday peak and Monday the busiest, Saturday
    /// 10–14, and one sparse Sunday hour where most days have no call at all.
    fn rates() -> Vec<f64> {
        let mut r = vec![0.0; 7 * 24];
        let shape = [0.6, 0.8, 1.0, 1.1, 1.1, 1.0, 1.0, 0.9, 0.7];
        for (weekday, base) in [40.0, 30.0, 25.0, 25.0, 30.0].into_iter().enumerate() {
            for (i, s) in shape.iter().enumerate() {
                r[weekday * 24 + 9 + i] = base * s;
            }
        }
        for hour in 10..14 {
            r[5 * 24 + hour] = 8.0;
        }
        r[6 * 24 + 12] = 0.4;
        r
    }

    /// How a day's volume varies around the mean: a factor with mean 1 and this CV.
    #[derive(Clone, Copy, Debug)]
    enum DayFactor {
        Poisson,
        LogNormal(f64),
        Gamma(f64),
    }

    impl DayFactor {
        fn draw(self, rng: &mut Xoshiro256PlusPlus) -> f64 {
            match self {
                DayFactor::Poisson => 1.0,
                DayFactor::LogNormal(cv) => {
                    let s2 = (1.0 + cv * cv).ln();
                    LogNormal::new(-s2 / 2.0, s2.sqrt()).expect("valid lognormal").sample(rng)
                }
                DayFactor::Gamma(cv) => Gamma::new(1.0 / (cv * cv), cv * cv).expect("valid gamma").sample(rng),
            }
        }
    }

    /// The lognormal with this mean and CV.
    fn lognormal(mean: f64, cv: f64) -> LogNormal<f64> {
        let s2 = (1.0 + cv * cv).ln();
        LogNormal::new(mean.ln() - s2 / 2.0, s2.sqrt()).expect("valid lognormal")
    }

    const AHT_S: f64 = 240.0;
    const HANDLE_CV: f64 = 0.8;
    const PATIENCE_S: f64 = 120.0;
    /// Half the callers are answered at once; the others are offered an exponential wait.
    const OFFERED_WAIT_S: f64 = 60.0;

    /// Calls per (date, hour): Poisson with the hour's rate times the day's factor.
    fn daily_counts(
        weeks: i64,
        rates: &[f64],
        day: DayFactor,
        rng: &mut Xoshiro256PlusPlus,
    ) -> Vec<(NaiveDate, u32, u64)> {
        let mut out = Vec::new();
        for date in monday().iter_days().take(usize::try_from(weeks * 7).expect("a few weeks")) {
            let factor = day.draw(rng);
            let weekday = date.weekday().num_days_from_monday() as usize;
            for hour in 0..24_u32 {
                let rate = rates[weekday * 24 + hour as usize] * factor;
                let n = if rate > 0.0 { Poisson::new(rate).expect("a positive rate").sample(rng) as u64 } else { 0 };
                out.push((date, hour, n));
            }
        }
        out
    }

    /// A provider's call log. Each caller has an exponential patience and is offered a wait;
    /// one whose patience runs out first abandons after waiting exactly their patience, so the
    /// log shows the wait censored by answering, as a real log does.
    fn call_log(weeks: i64, day: DayFactor, seed: u64) -> Vec<CallRecord> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let handle = lognormal(AHT_S, HANDLE_CV);
        let patience = Exp::new(1.0 / PATIENCE_S).expect("a positive rate");
        let offered = Exp::new(1.0 / OFFERED_WAIT_S).expect("a positive rate");
        let mut calls = Vec::new();
        for (date, hour, n) in daily_counts(weeks, &rates(), day, &mut rng) {
            for _ in 0..n {
                let second = rng.random_range(0..3600);
                let start = date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).expect("a valid hour"))
                    + Duration::seconds(second);
                let wait = if rng.random_bool(0.5) { 0.0 } else { offered.sample(&mut rng) };
                let gives_up_after = patience.sample(&mut rng);
                let record = if gives_up_after < wait {
                    CallRecord {
                        start,
                        queue: "first_line".into(),
                        wait_s: Some(gives_up_after),
                        handle_s: None,
                        abandoned: Some(true),
                    }
                } else {
                    CallRecord {
                        start,
                        queue: "first_line".into(),
                        wait_s: Some(wait),
                        handle_s: Some(handle.sample(&mut rng)),
                        abandoned: Some(false),
                    }
                };
                calls.push(record);
            }
        }
        calls
    }

    fn only(fit: &Fit) -> &QueueFit {
        assert_eq!(fit.queues.len(), 1, "{:?}", fit.queues.iter().map(|q| &q.name).collect::<Vec<_>>());
        &fit.queues[0]
    }

    #[test]
    fn arrivals_are_the_mean_per_weekday_and_hour() {
        const WEEKS: i64 = 20;
        let f = fit(&History::Calls(call_log(WEEKS, DayFactor::Poisson, 1)), EmptyDays::Closed).unwrap();
        assert_eq!(f.days(), WEEKS * 7);
        let q = only(&f);
        assert_eq!(q.arrivals.slot_min, 60);
        for (i, (&got, &rate)) in q.arrivals.values.iter().zip(&rates()).enumerate() {
            // The mean of WEEKS Poisson counts has standard error √(λ/WEEKS).
            let tolerance = 4.0 * (rate / WEEKS as f64).sqrt();
            assert!((got - rate).abs() <= tolerance, "{} {:02}:00: {got} vs {rate}", WEEKDAYS[i / 24], i % 24);
            assert_eq!(got == 0.0, rate == 0.0, "slot {i}");
        }
        // Every weekday's dates count, the days without a call too.
        assert!(q.cells.iter().all(|c| c.days == WEEKS as u32), "{:?}", q.cells);
        let weekly: f64 = rates().iter().sum();
        assert!((q.calls / WEEKS as f64 - weekly).abs() < 3.0 * (weekly / WEEKS as f64).sqrt());
    }

    #[test]
    fn a_span_of_centuries_is_refused_not_walked() {
        let at = |date: NaiveDate| date.and_time(NaiveTime::from_hms_opt(9, 0, 0).expect("a valid time"));
        let far = NaiveDate::from_ymd_opt(5089, 3, 16).expect("a valid date");
        let calls = [monday(), far].map(|d| CallRecord {
            start: at(d),
            queue: "main".into(),
            wait_s: None,
            handle_s: None,
            abandoned: None,
        });
        let refused = fit(&History::Calls(calls.to_vec()), EmptyDays::Closed);
        assert_eq!(refused, Err(FitError::TooLong { first: monday(), last: far }));
        assert!(refused.unwrap_err().to_string().contains("more than 20 years"));
    }

    #[test]
    fn days_without_calls_count_as_zero_when_kept() {
        let at = |day: i64, hour: u32| {
            (monday() + Duration::days(day)).and_time(NaiveTime::from_hms_opt(hour, 15, 0).expect("a valid time"))
        };
        let call = |start| CallRecord { start, queue: "q".into(), wait_s: None, handle_s: None, abandoned: None };
        // Six calls on the first Monday at 10, none on the next two; a Sunday call ends week 3.
        let mut calls: Vec<CallRecord> = (0..6).map(|_| call(at(0, 10))).collect();
        calls.push(call(at(20, 12)));
        let f = fit(&History::Calls(calls.clone()), EmptyDays::Zero).unwrap();
        assert_eq!((f.first_day, f.days(), f.closed_dates.len()), (monday(), 21, 0));
        let q = only(&f);
        assert_eq!(q.arrivals.values[10], 2.0);
        assert_eq!(q.arrivals.values[6 * 24 + 12], 1.0 / 3.0);
        let monday_10 = q.cells.iter().find(|c| c.weekday == chrono::Weekday::Mon && c.hour == 10).unwrap();
        // Counts 6, 0, 0: mean 2, sample variance (16 + 4 + 4) / 2 = 12.
        assert_eq!((monday_10.days, monday_10.mean), (3, 2.0));
        assert!((monday_10.sd - 12.0_f64.sqrt()).abs() < 1e-12);
        assert_eq!(monday_10.dispersion, Some(6.0));
        assert_eq!(q.cells.len(), 2, "only cells with calls are listed");

        // By default the empty Mondays are closures (six calls make an empty Monday unlikely by
        // chance), but the empty Sundays are not: one call a Sunday makes an empty one likely.
        let f = fit(&History::Calls(calls), EmptyDays::Closed).unwrap();
        assert_eq!(f.closed_dates, [monday() + Duration::days(7), monday() + Duration::days(14)]);
        let q = only(&f);
        assert_eq!(q.arrivals.values[10], 6.0);
        assert_eq!(q.arrivals.values[6 * 24 + 12], 1.0 / 3.0);
        let monday_10 = q.cells.iter().find(|c| c.weekday == chrono::Weekday::Mon && c.hour == 10).unwrap();
        assert_eq!((monday_10.days, monday_10.dispersion), (1, None));
    }

    #[test]
    fn holidays_are_closures_not_quiet_days() {
        const WEEKS: i64 = 8;
        let holidays = [monday() + Duration::days(14), monday() + Duration::days(35)];
        let mut calls = call_log(WEEKS, DayFactor::Poisson, 12);
        let all = calls.clone();
        calls.retain(|c| !holidays.contains(&c.start.date()));
        let f = fit(&History::Calls(calls.clone()), EmptyDays::Closed).unwrap();
        assert_eq!(f.closed_dates, holidays);
        let q = only(&f);
        // Each Monday hour is the mean over the six open Mondays, exactly.
        for hour in 0..24_u32 {
            let open: f64 =
                calls.iter().filter(|c| c.start.weekday() == chrono::Weekday::Mon && c.start.hour() == hour).count()
                    as f64;
            assert!((q.arrivals.values[hour as usize] - open / 6.0).abs() < 1e-12, "Monday {hour:02}:00");
        }
        let monday_10 = q.cells.iter().find(|c| c.weekday == chrono::Weekday::Mon && c.hour == 10).unwrap();
        assert_eq!(monday_10.days, 6);
        // Other weekdays are untouched by the Monday holidays.
        let full = fit(&History::Calls(all), EmptyDays::Closed).unwrap();
        assert_eq!(q.arrivals.values[24..], only(&full).arrivals.values[24..]);

        // The old rule counts the holidays as zero: every busy Monday hour is lower by 6/8.
        let kept = fit(&History::Calls(calls), EmptyDays::Zero).unwrap();
        assert!(kept.closed_dates.is_empty());
        for hour in 9..18 {
            let (closed, zero) = (q.arrivals.values[hour], only(&kept).arrivals.values[hour]);
            assert!((zero - closed * 6.0 / 8.0).abs() < 1e-12, "Monday {hour:02}:00: {zero} vs {closed}");
        }
    }

    #[test]
    fn interval_volumes_of_zero_on_a_holiday_are_a_closure() {
        let mut volumes = Vec::new();
        for date in monday().iter_days().take(21) {
            let n = if date == monday() + Duration::days(8) { 0.0 } else { 10.0 };
            let start = date.and_hms_opt(9, 0, 0).unwrap();
            volumes.push(VolumeRecord { start, queue: "q".into(), calls: n });
        }
        let f = fit(&History::Volumes(volumes), EmptyDays::Closed).unwrap();
        assert_eq!(f.closed_dates, [monday() + Duration::days(8)]);
        assert_eq!(only(&f).arrivals.values[24 + 9], 10.0);
    }

    #[test]
    fn day_to_day_spread_is_recovered() {
        // The cells of one day share its factor, so the estimate's precision is set by the
        // number of days (about 0.03 at 150 days for these CVs); Poisson alone gives close to 0.
        let cases = [
            (DayFactor::Poisson, 0.0, 0.05),
            (DayFactor::LogNormal(0.3), 0.3, 0.06),
            (DayFactor::Gamma(0.2), 0.2, 0.05),
            (DayFactor::LogNormal(0.15), 0.15, 0.05),
        ];
        for (seed, (day, cv, tolerance)) in cases.into_iter().enumerate() {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(100 + seed as u64);
            let volumes: Vec<VolumeRecord> = daily_counts(30, &rates(), day, &mut rng)
                .into_iter()
                .map(|(date, hour, n)| VolumeRecord {
                    start: date.and_hms_opt(hour, 0, 0).expect("a valid hour"),
                    queue: "q".into(),
                    calls: n as f64,
                })
                .collect();
            let q = only(&fit(&History::Volumes(volumes), EmptyDays::Closed).unwrap()).clone();
            assert!((q.daily_cv - cv).abs() <= tolerance, "{day:?}: daily_cv {}", q.daily_cv);
            // Poisson counts have variance equal to their mean; a day factor inflates it.
            let dispersion = q.mean_dispersion().unwrap();
            match day {
                DayFactor::Poisson => assert!((dispersion - 1.0).abs() < 0.1, "{dispersion}"),
                _ => assert!(dispersion > 1.5, "{day:?}: {dispersion}"),
            }
        }
    }

    #[test]
    fn handle_time_mean_cv_and_lognormal_distance() {
        let calls = call_log(8, DayFactor::Poisson, 2);
        let q = only(&fit(&History::Calls(calls), EmptyDays::Closed).unwrap()).clone();
        let n = q.answered as f64;
        assert!(n > 4000.0, "{n}");
        let aht = q.aht_s.unwrap();
        // Standard error of the mean: AHT·CV/√n, about 3 s here.
        assert!((aht - AHT_S).abs() < 4.0 * AHT_S * HANDLE_CV / n.sqrt(), "{aht}");
        let cv = q.handle_cv.unwrap();
        assert!((cv - HANDLE_CV).abs() < 0.06, "{cv}");
        // Below the 1% critical value of the Kolmogorov–Smirnov statistic, 1.63/√n.
        let ks = q.handle_ks.unwrap();
        assert!(ks < 1.63 / n.sqrt(), "{ks}");

        // Exponential handle times have CV 1 too, but the lognormal with CV 1 is a poor fit.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let exp = Exp::new(1.0 / AHT_S).unwrap();
        let mut sample: Vec<f64> = (0..5000).map(|_| exp.sample(&mut rng)).collect();
        sample.sort_by(f64::total_cmp);
        let mean = sample.iter().sum::<f64>() / 5000.0;
        let sd = (sample.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 4999.0).sqrt();
        let ks_exp = ks_lognormal(&sample, mean, sd / mean);
        assert!(ks_exp > 3.0 * 1.36 / 5000_f64.sqrt(), "{ks_exp}");
        // The distance is exact on a tiny case: one point at the lognormal's median.
        let median = AHT_S / (1.0 + HANDLE_CV * HANDLE_CV).sqrt();
        assert!((ks_lognormal(&[median], AHT_S, HANDLE_CV) - 0.5).abs() < 1e-6);
        assert_eq!(ks_lognormal(&[], AHT_S, HANDLE_CV), 0.0);
    }

    #[test]
    fn patience_is_the_censored_maximum_likelihood() {
        let calls = call_log(8, DayFactor::Poisson, 4);
        let q = only(&fit(&History::Calls(calls.clone()), EmptyDays::Closed).unwrap()).clone();
        let abandoned = q.abandoned as f64;
        // P(abandon) = ½ · E[1 − e^(−W/θ)] = ½ · 60 / (60 + 120).
        let p = 0.5 * OFFERED_WAIT_S / (OFFERED_WAIT_S + PATIENCE_S);
        assert!((abandoned / (abandoned + q.answered as f64) - p).abs() < 0.02);
        let patience = q.patience_s.unwrap();
        // The MLE's standard error is θ/√(abandonments).
        assert!((patience - PATIENCE_S).abs() < 4.0 * PATIENCE_S / abandoned.sqrt(), "{patience}");
        // Averaging only the abandoners' waits ignores the censoring and lands far too low.
        let naive =
            calls.iter().filter(|c| c.abandoned == Some(true)).filter_map(|c| c.wait_s).sum::<f64>() / abandoned;
        assert!(naive < 0.5 * PATIENCE_S, "{naive}");
    }

    #[test]
    fn no_abandonment_means_no_patience() {
        let mut calls = call_log(2, DayFactor::Poisson, 5);
        calls.retain(|c| c.abandoned == Some(false));
        let q = only(&fit(&History::Calls(calls), EmptyDays::Closed).unwrap()).clone();
        assert_eq!((q.abandoned, q.patience_s), (0, None));
        assert!(q.aht_s.is_some());
    }

    #[test]
    fn interval_volumes_add_up_to_hourly_rates() {
        const WEEKS: i64 = 12;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(6);
        let quarter: Vec<f64> = rates().iter().map(|r| r / 4.0).collect();
        let mut volumes = Vec::new();
        let mut hourly: HashMap<(usize, u32), f64> = HashMap::new();
        for date in monday().iter_days().take(usize::try_from(WEEKS * 7).unwrap()) {
            let weekday = date.weekday().num_days_from_monday() as usize;
            for hour in 0..24_u32 {
                for minute in [0, 15, 30, 45] {
                    let rate = quarter[weekday * 24 + hour as usize];
                    let n = if rate > 0.0 { Poisson::new(rate).unwrap().sample(&mut rng) } else { 0.0 };
                    *hourly.entry((weekday, hour)).or_default() += n;
                    let start = date.and_hms_opt(hour, minute, 0).unwrap();
                    volumes.push(VolumeRecord { start, queue: "q".into(), calls: n });
                }
            }
        }
        let q = only(&fit(&History::Volumes(volumes), EmptyDays::Closed).unwrap()).clone();
        for (i, (&got, &rate)) in q.arrivals.values.iter().zip(&rates()).enumerate() {
            let exact = hourly[&(i / 24, (i % 24) as u32)] / WEEKS as f64;
            assert!((got - exact).abs() < 1e-9, "slot {i}: {got} vs {exact}");
            assert!((got - rate).abs() <= 4.0 * (rate / WEEKS as f64).sqrt(), "slot {i}: {got} vs {rate}");
        }
        assert_eq!((q.aht_s, q.patience_s, q.answered), (None, None, 0));
    }

    #[test]
    fn queues_are_fitted_apart() {
        let mut calls = call_log(2, DayFactor::Poisson, 7);
        let total = calls.len();
        for c in calls.iter_mut().step_by(4) {
            c.queue = "second_line".into();
        }
        let f = fit(&History::Calls(calls), EmptyDays::Closed).unwrap();
        let names: Vec<&str> = f.queues.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["second_line", "first_line"], "in order of first appearance");
        assert_eq!(f.queues.iter().map(|q| q.calls).sum::<f64>(), total as f64);
        assert_eq!(f.queues[0].calls, total.div_ceil(4) as f64);
    }

    #[test]
    fn empty_and_short_logs_are_errors() {
        assert_eq!(fit(&History::Calls(Vec::new()), EmptyDays::Closed), Err(FitError::Empty));
        assert_eq!(fit(&History::Volumes(Vec::new()), EmptyDays::Closed), Err(FitError::Empty));
        let mut six_days = call_log(1, DayFactor::Poisson, 8);
        six_days.retain(|c| c.start.date() < monday() + Duration::days(6));
        assert_eq!(fit(&History::Calls(six_days), EmptyDays::Closed), Err(FitError::TooShort(6)));
        let one = VolumeRecord { start: monday().and_hms_opt(9, 0, 0).unwrap(), queue: "q".into(), calls: 3.0 };
        assert_eq!(fit(&History::Volumes(vec![one]), EmptyDays::Closed), Err(FitError::TooShort(1)));
        assert!(FitError::TooShort(6).to_string().contains("6 days"));
    }

    #[test]
    fn the_written_model_parses_and_keeps_the_fit() {
        let mut calls = call_log(4, DayFactor::LogNormal(0.2), 9);
        for c in calls.iter_mut().step_by(5) {
            c.queue = "Line \"B\" \\ night".into();
        }
        let f = fit(&History::Calls(calls), EmptyDays::Closed).unwrap();
        let d = Defaults { target_s: 20.0, target_share: 0.8, aht_s: 300.0, patience_s: None };
        let text = to_toml(&f, "calls.csv", &d);
        let model = crate::queue::model::parse(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        assert_eq!((model.target_s, model.target_share), (20.0, 0.8));
        assert_eq!(model.queues.len(), 2);
        for q in &f.queues {
            let m = model.queue(&q.name).unwrap_or_else(|| panic!("{} in\n{text}", q.name));
            for (a, b) in m.arrivals.values.iter().zip(&q.arrivals.values) {
                assert!((a - b).abs() <= 0.005, "{a} {b}");
            }
            assert!((m.daily_cv - q.daily_cv).abs() <= 0.0005);
            assert!((m.aht_s - q.aht_s.unwrap()).abs() <= 0.5);
            assert!((m.service_cv.unwrap() - q.handle_cv.unwrap()).abs() <= 0.0005);
            assert!((m.patience_s.unwrap() - q.patience_s.unwrap()).abs() <= 0.5);
            // Staffed wherever calls come in, and open exactly there (the rates open 9–18 on
            // weekdays, 10–14 on Saturday, and the sparse Sunday hour).
            for (i, &a) in m.arrivals.values.iter().enumerate() {
                assert_eq!(m.agents.values[i] > 0.0, a > 0.0, "slot {i}");
            }
        }
        let at = |s: &str| crate::calendar::parse_at(s).unwrap();
        assert!(model.is_open(at("mon 09:00")) && model.is_open(at("mon 17:59")) && !model.is_open(at("mon 18:00")));
        assert!(model.is_open(at("sun 12:30")) && !model.is_open(at("sun 13:00")));
    }

    #[test]
    fn any_fit_of_bounded_values_writes_a_model_that_parses() {
        // The reader bounds durations by a day and interval counts by a hundred thousand (fewer here, for time); within those
        // bounds, whatever the rows, the written model reads back.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(14);
        let d = Defaults { target_s: 20.0, target_share: 0.8, aht_s: 300.0, patience_s: Some(200_000.0) };
        for round in 0..40 {
            let day = |rng: &mut Xoshiro256PlusPlus| monday() + Duration::days(rng.random_range(0..15));
            let start = |rng: &mut Xoshiro256PlusPlus| {
                day(rng).and_hms_opt(rng.random_range(0..24), rng.random_range(0..60), 0).unwrap()
            };
            let history = if round % 4 == 3 {
                let mut v: Vec<VolumeRecord> = (0..rng.random_range(1..50))
                    .map(|_| VolumeRecord {
                        start: start(&mut rng),
                        queue: ["q", "", "a b"][rng.random_range(0..3)].into(),
                        // Staffing a hundred thousand calls an interval takes seconds in a debug build.
                        calls: [0.0, 0.5, 2e3][rng.random_range(0..3)],
                    })
                    .collect();
                v.push(VolumeRecord { start: monday().and_hms_opt(0, 0, 0).unwrap(), queue: "q".into(), calls: 1.0 });
                v.push(VolumeRecord {
                    start: (monday() + Duration::days(14)).and_hms_opt(23, 0, 0).unwrap(),
                    queue: "q".into(),
                    calls: 1.0,
                });
                History::Volumes(v)
            } else {
                let extreme = |rng: &mut Xoshiro256PlusPlus| {
                    [None, Some(0.0), Some(1e-9), Some(86_400.0), Some(rng.random_range(0.0..86_400.0))]
                        [rng.random_range(0..5)]
                };
                let mut c: Vec<CallRecord> = (0..rng.random_range(1..300))
                    .map(|_| CallRecord {
                        start: start(&mut rng),
                        queue: ["q", "r", "\\\"x\""][rng.random_range(0..3)].into(),
                        wait_s: extreme(&mut rng),
                        handle_s: extreme(&mut rng),
                        abandoned: [None, Some(true), Some(false)][rng.random_range(0..3)],
                    })
                    .collect();
                c.push(CallRecord {
                    start: monday().and_hms_opt(0, 0, 0).unwrap(),
                    queue: "q".into(),
                    wait_s: None,
                    handle_s: None,
                    abandoned: None,
                });
                c.push(CallRecord {
                    start: (monday() + Duration::days(14)).and_hms_opt(23, 0, 0).unwrap(),
                    queue: "q".into(),
                    wait_s: None,
                    handle_s: None,
                    abandoned: None,
                });
                History::Calls(c)
            };
            for empty in [EmptyDays::Closed, EmptyDays::Zero] {
                let f = fit(&history, empty).unwrap();
                let text = to_toml(&f, "random.csv", &d);
                crate::queue::model::parse(&text).unwrap_or_else(|e| panic!("round {round}: {e:?}\n{text}"));
            }
        }
    }
}
