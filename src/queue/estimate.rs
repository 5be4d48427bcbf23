//! Expected waits from the model: the weekday × time-of-day table of Erlang measures for a
//! typical and a busy day, the agents each slot needs for the service-level target, the best
//! and worst times to call, and [`ModelEstimator`], which answers a flow's `queue` announcements
//! and `wait_over` branches.
//!
//! Pure like the rest of `queue/`: no I/O, clocks or randomness. A slot the model's `[hours]`
//! close has no estimate; an open slot without agents is overloaded.
//!
//! The busy day scales a slot's volume by the `busy_quantile` of a lognormal with mean 1 and the
//! queue's `daily_cv`: real hourly volumes vary from day to day far more than Poisson, so a
//! typical day alone understates the risk. Handle times enter the Erlang formulas by their mean
//! only (the formulas assume exponential service; `handle_time_cv` is for the simulator).

use chrono::{Datelike, NaiveDateTime};

use super::erlang::{self, ErlangInputs, Metrics, Target};
use super::model::{Model, QueueModel};
use crate::calendar::DAY_KEYS as WEEKDAYS;
use crate::engine::flow::{Estimator, Hours, LiveQueue};

/// Erlang measures of one slot for one volume of calls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DayEstimate {
    pub arrivals_per_hour: f64,
    pub metrics: Metrics,
    /// Fewest agents with `service_level` ≥ the model's target share; `None` if unreachable.
    pub agents_needed: Option<u32>,
}

/// One slot of one queue's week.
#[derive(Clone, Debug, PartialEq)]
pub struct SlotEstimate {
    /// 0 = Monday.
    pub weekday: usize,
    /// Minutes after midnight where the slot starts.
    pub start_min: u32,
    pub slot_min: u32,
    /// Whether the model's hours open this slot; closed slots have no agents and no estimate.
    pub open: bool,
    pub agents: u32,
    /// A day with the model's mean volume.
    pub typical: Option<DayEstimate>,
    /// A day at the model's `busy_quantile` of volume, on the same staffing.
    pub busy: Option<DayEstimate>,
}

impl SlotEstimate {
    pub fn hour(&self) -> u32 {
        self.start_min / 60
    }

    pub fn minute(&self) -> u32 {
        self.start_min % 60
    }

    /// The typical day's mean wait of answered callers, `+∞` when overloaded; `None` if closed.
    pub fn wait_s(&self) -> Option<f64> {
        self.typical.map(|d| d.metrics.mean_wait_answered_s.unwrap_or(f64::INFINITY))
    }
}

/// The whole week of one queue, slot by slot, Monday first.
pub fn week(model: &Model, queue: &QueueModel) -> Vec<SlotEstimate> {
    let slots = queue.arrivals.slots_per_day();
    // Weekday and hour shares repeat, so many slots have the same volume and staffing: each
    // distinct (volume, agents) pair is computed once.
    let mut seen: Vec<((u64, u32), DayEstimate)> = Vec::new();
    let mut memo = |arrivals: f64, agents: u32| {
        let key = (arrivals.to_bits(), agents);
        if let Some((_, d)) = seen.iter().find(|(k, _)| *k == key) {
            return *d;
        }
        let d = day(model, queue, arrivals, agents);
        seen.push((key, d));
        d
    };
    let mut out = Vec::with_capacity(7 * slots);
    for weekday in 0..7 {
        for slot in 0..slots {
            out.push(slot_with(model, queue, weekday, slot, &mut memo));
        }
    }
    out
}

/// One slot of a queue's week: `weekday` 0 = Monday, `slot` the index within the day.
pub fn slot_estimate(model: &Model, queue: &QueueModel, weekday: usize, slot: usize) -> SlotEstimate {
    slot_with(model, queue, weekday, slot, &mut |arrivals, agents| day(model, queue, arrivals, agents))
}

fn slot_with(
    model: &Model,
    queue: &QueueModel,
    weekday: usize,
    slot: usize,
    day: &mut dyn FnMut(f64, u32) -> DayEstimate,
) -> SlotEstimate {
    let slots = queue.arrivals.slots_per_day();
    let index = weekday * slots + slot;
    let start_min = u32::try_from(slot).unwrap_or(0) * queue.arrivals.slot_min;
    let open = week_open(&model.hours, weekday, start_min);
    let agents = if open { agents_of(queue.agents.values.get(index).copied().unwrap_or(0.0)) } else { 0 };
    let arrivals = queue.arrivals.values.get(index).copied().unwrap_or(0.0);
    let (typical, busy) = if open {
        let busy_arrivals = arrivals * busy_factor(queue.daily_cv, model.busy_quantile);
        (Some(day(arrivals, agents)), Some(day(busy_arrivals, agents)))
    } else {
        (None, None)
    };
    SlotEstimate { weekday, start_min, slot_min: queue.arrivals.slot_min, open, agents, typical, busy }
}

/// The slot of `queue` that holds local time `at`. A holiday closes it even where the weekly
/// hours open it.
pub fn slot_at(model: &Model, queue: &QueueModel, at: NaiveDateTime) -> SlotEstimate {
    let weekday = at.weekday().num_days_from_monday() as usize;
    let slot = queue.arrivals.slot(at) - weekday * queue.arrivals.slots_per_day();
    let s = slot_estimate(model, queue, weekday, slot);
    if model.is_open(at) { s } else { SlotEstimate { open: false, agents: 0, typical: None, busy: None, ..s } }
}

/// The measures of one day as JSON (`null` for a closed slot): the keys `estimate --json`
/// prints and the server's `/estimate` answers.
pub fn day_json(d: Option<&DayEstimate>) -> serde_json::Value {
    let Some(d) = d else { return serde_json::Value::Null };
    let m = &d.metrics;
    serde_json::json!({
        "arrivals_per_hour": d.arrivals_per_hour,
        "p_wait": m.p_wait,
        "mean_wait_s": m.mean_wait_s,
        "mean_wait_answered_s": m.mean_wait_answered_s,
        "service_level": m.service_level,
        "p_abandon": m.p_abandon,
        "occupancy": m.occupancy,
        "agents_needed": d.agents_needed,
        "overloaded": m.overloaded,
    })
}

/// The measures `day_json` writes, in order.
pub const DAY_KEYS: [&str; 9] = [
    "arrivals_per_hour",
    "p_wait",
    "mean_wait_s",
    "mean_wait_answered_s",
    "service_level",
    "p_abandon",
    "occupancy",
    "agents_needed",
    "overloaded",
];

/// One cell as JSON: where it is, the typical day's measures at the top level and the busy
/// day's under `busy`.
pub fn cell_json(queue: &QueueModel, s: &SlotEstimate) -> serde_json::Value {
    let mut v = serde_json::json!({
        "queue": queue.name,
        "weekday": WEEKDAYS.get(s.weekday).copied().unwrap_or("?"),
        "hour": s.hour(),
        "minute": s.minute(),
        "open": s.open,
        "agents": s.agents,
    });
    let typical = day_json(s.typical.as_ref());
    for key in DAY_KEYS {
        v[key] = typical.get(key).cloned().unwrap_or(serde_json::Value::Null);
    }
    v["busy"] = day_json(s.busy.as_ref());
    v
}

/// Whether the weekly hours (holidays aside) open the slot starting at `start_min`.
fn week_open(hours: &Hours, weekday: usize, start_min: u32) -> bool {
    let Some(week) = &hours.week else { return true };
    let Ok(minute) = u16::try_from(start_min) else { return false };
    week.get(weekday).is_some_and(|ranges| ranges.iter().any(|&(from, to)| minute >= from && minute < to))
}

/// Agents in a slot as a whole number; the model's values are non-negative but may be fractional
/// (a part-time shift), and a fraction of an agent answers no call, so it rounds down.
fn agents_of(value: f64) -> u32 {
    if value.is_finite() && value >= 1.0 { value.min(f64::from(u32::MAX)).floor() as u32 } else { 0 }
}

/// The measures of one slot for a volume of calls on `agents` agents.
pub fn day(model: &Model, queue: &QueueModel, arrivals_per_hour: f64, agents: u32) -> DayEstimate {
    let cell = ErlangInputs {
        arrivals_per_hour,
        aht_s: queue.aht_s,
        agents: agents.max(1),
        patience_s: queue.patience_s,
        target_s: model.target_s,
    };
    let metrics = match (agents, erlang::metrics(&cell)) {
        (0, _) => no_agents(arrivals_per_hour, queue.patience_s.is_some()),
        (_, Ok(m)) => m,
        // The model's values are validated; only an absurd size (over ten million agents or an
        // Erlang A chain too long to sum) lands here, and such a cell is best shown as unknown.
        (_, Err(_)) => no_agents(arrivals_per_hour, queue.patience_s.is_some()),
    };
    let agents_needed = fewest_agents(&cell, model.target_share);
    DayEstimate { arrivals_per_hour, metrics, agents_needed }
}

/// An open slot without agents: every caller waits (and, if impatient, hangs up).
fn no_agents(arrivals_per_hour: f64, patient_callers_leave: bool) -> Metrics {
    let calls = arrivals_per_hour > 0.0;
    Metrics {
        p_wait: if calls { 1.0 } else { 0.0 },
        mean_wait_s: None,
        mean_wait_answered_s: None,
        service_level: if calls { 0.0 } else { 1.0 },
        p_abandon: if calls && patient_callers_leave { 1.0 } else { 0.0 },
        occupancy: 0.0,
        overloaded: calls,
        p90_wait_s: None,
    }
}

/// The fewest agents whose service level reaches `share`; 0 for a slot without calls.
///
/// Same answer as [`erlang::agents_needed`], found faster for Erlang A: the Erlang C staffing
/// (cheap, O(c) per evaluation) is a close first guess, then one-agent steps settle it. Service
/// level rises with agents, so the first step that changes the verdict is the answer.
pub fn fewest_agents(cell: &ErlangInputs, share: f64) -> Option<u32> {
    if cell.arrivals_per_hour <= 0.0 {
        return Some(0);
    }
    let target = Target::ServiceLevel(share);
    let guess = erlang::agents_needed(&ErlangInputs { patience_s: None, ..*cell }, target).ok()?;
    if cell.patience_s.is_none() {
        return Some(guess);
    }
    let meets = |n: u32| {
        n > 0
            && erlang::metrics(&ErlangInputs { agents: n, ..*cell })
                .is_ok_and(|m| !m.overloaded && m.service_level >= share)
    };
    let mut n = guess;
    if meets(n) {
        while n > 1 && meets(n - 1) {
            n -= 1;
        }
        Some(n)
    } else {
        // Abandonments before the threshold count against the service level, so Erlang A can
        // need more agents than Erlang C; the bounded search handles that rare case.
        erlang::agents_needed(cell, target).ok()
    }
}

/// How much busier than the mean a day at quantile `q` of volume is, for a lognormal day-to-day
/// factor with mean 1 and coefficient of variation `cv`: `exp(−σ²/2 + σ·z_q)`, σ² = ln(1 + cv²).
pub fn busy_factor(cv: f64, q: f64) -> f64 {
    if !(cv.is_finite() && cv > 0.0 && q > 0.0 && q < 1.0) {
        return 1.0;
    }
    let sigma = (1.0 + cv * cv).ln().sqrt();
    (-sigma * sigma / 2.0 + sigma * normal_quantile(q)).exp()
}

/// Inverse of the standard normal CDF (Acklam's rational approximation, relative error
/// below 1.2e-9, refined by one Halley step against [`normal_cdf`]).
pub fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// The standard normal CDF, Φ(x) = erfc(−x/√2)/2.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes' Chebyshev fit, |relative error| < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The expected wait of a caller joining `queue` at a local time, from the model.
///
/// The base is the Erlang (A when callers are impatient, else C) mean wait of answered callers
/// in the call's weekday-time slot. An overloaded Erlang C slot has no stationary wait; there the
/// fluid approximation stands in: the backlog grows at λ − cμ through the slot, so a caller
/// arriving at a random moment waits on average (A/c − 1)·slot/2. With a live queue position p,
/// the caller needs p departures from c busy agents, while each of the callers ahead may hang up:
/// Σ_{i=0}^{p−1} 1/(cμ + iγ); the provider's recent average wait, when sent, is averaged in.
#[derive(Clone, Debug)]
pub struct ModelEstimator {
    pub model: Model,
}

impl ModelEstimator {
    pub fn new(model: Model) -> ModelEstimator {
        ModelEstimator { model }
    }
}

impl Estimator for ModelEstimator {
    fn expected_wait_s(&self, queue: &str, at: NaiveDateTime, live: Option<LiveQueue>) -> Option<f64> {
        let q = self.model.queue(queue)?;
        let s = slot_at(&self.model, q, at);
        let typical = s.typical?; // closed
        if s.agents == 0 {
            return None;
        }
        let c = f64::from(s.agents);
        let base = match typical.metrics.mean_wait_answered_s {
            Some(w) => w,
            None => {
                let load = typical.arrivals_per_hour / 3600.0 * q.aht_s;
                (load / c - 1.0).max(0.0) * f64::from(q.arrivals.slot_min) * 60.0 / 2.0
            }
        };
        let Some(live) = live else { return Some(base) };
        let c_mu = c / q.aht_s;
        let gamma = q.patience_s.map_or(0.0, |p| 1.0 / p);
        let ahead: f64 = (0..live.position.max(1)).map(|i| 1.0 / (c_mu + f64::from(i) * gamma)).sum();
        Some(match live.avg_wait_s.filter(|w| w.is_finite() && *w >= 0.0) {
            Some(avg) => (ahead + avg) / 2.0,
            None => ahead,
        })
    }
}

/// A run of slots on one weekday, for the best and worst times to call.
#[derive(Clone, Debug, PartialEq)]
pub struct Period {
    pub weekday: usize,
    pub from_min: u32,
    pub to_min: u32,
    /// The longest typical wait of answered callers in the run; `+∞` when overloaded.
    pub wait_s: f64,
}

/// The best and worst times to call one queue.
#[derive(Clone, Debug, PartialEq)]
pub struct BestTimes {
    pub best: Vec<Period>,
    pub worst: Vec<Period>,
    /// Open weekdays, quickest first, with the call-weighted mean wait of answered callers.
    pub days: Vec<(usize, f64)>,
}

/// The few quickest and slowest open slots (ties at the cut included), merged into runs per
/// weekday, and the weekdays ranked by their call-weighted mean wait.
pub fn best_times(slots: &[SlotEstimate]) -> BestTimes {
    const FEW: usize = 6;
    let open: Vec<(&SlotEstimate, f64)> = slots.iter().filter_map(|s| s.wait_s().map(|w| (s, w))).collect();
    let mut waits: Vec<f64> = open.iter().map(|(_, w)| *w).collect();
    waits.sort_by(f64::total_cmp);
    let (best, worst) = match (waits.get(FEW.min(waits.len()).saturating_sub(1)), waits.len().checked_sub(FEW)) {
        (Some(&low), high) => {
            let high = waits[high.unwrap_or(0)];
            (runs(open.iter().filter(|(_, w)| *w <= low)), runs(open.iter().filter(|(_, w)| *w >= high)))
        }
        (None, _) => (Vec::new(), Vec::new()),
    };
    let mut days = Vec::new();
    for weekday in 0..7 {
        let (mut weighted, mut calls) = (0.0, 0.0);
        for s in slots.iter().filter(|s| s.weekday == weekday) {
            if let (Some(t), Some(w)) = (s.typical, s.wait_s()) {
                weighted += w * t.arrivals_per_hour;
                calls += t.arrivals_per_hour;
            }
        }
        if calls > 0.0 {
            days.push((weekday, weighted / calls));
        }
    }
    days.sort_by(|a, b| a.1.total_cmp(&b.1));
    BestTimes { best, worst, days }
}

fn runs<'a>(cells: impl Iterator<Item = &'a (&'a SlotEstimate, f64)>) -> Vec<Period> {
    let mut out: Vec<Period> = Vec::new();
    for (s, w) in cells {
        let slot_min = s.slot_min;
        match out.last_mut() {
            Some(p) if p.weekday == s.weekday && p.to_min == s.start_min => {
                p.to_min += slot_min;
                p.wait_s = p.wait_s.max(*w);
            }
            _ => out.push(Period {
                weekday: s.weekday,
                from_min: s.start_min,
                to_min: s.start_min + slot_min,
                wait_s: *w,
            }),
        }
    }
    out
}

/// A wait as a caller would say it.
pub fn wait_words(wait_s: f64) -> String {
    if wait_s.is_infinite() {
        "a very long wait: the line is overloaded".to_owned()
    } else if wait_s < 30.0 {
        "almost no wait".to_owned()
    } else if wait_s < 90.0 {
        "about a minute".to_owned()
    } else {
        format!("about {:.0} minutes", wait_s / 60.0)
    }
}

/// A weekday's full English name, by index from Monday.
pub fn weekday_name(weekday: usize) -> &'static str {
    crate::calendar::WEEKDAYS.get(weekday).map_or("?", |&d| crate::calendar::day_name(d))
}

/// `9:00–10:00`.
pub fn period_words(p: &Period) -> String {
    let t = |m: u32| format!("{}:{:02}", m / 60, m % 60);
    format!("{} {}–{}", weekday_name(p.weekday), t(p.from_min), t(p.to_min))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::model::parse;

    const DEFAULT_MODEL: &str = include_str!("../../flows/support.model.toml");

    fn default_model() -> Model {
        parse(DEFAULT_MODEL).unwrap_or_else(|d| panic!("the default model parses: {d:?}"))
    }

    /// The call-weighted mean wait of answered callers over a weekday's open slots.
    fn daily_mean(slots: &[SlotEstimate], weekday: usize, busy: bool) -> f64 {
        let (mut w, mut n) = (0.0, 0.0);
        for s in slots.iter().filter(|s| s.weekday == weekday) {
            if let Some(d) = if busy { s.busy } else { s.typical } {
                w += d.metrics.mean_wait_answered_s.unwrap_or(f64::INFINITY) * d.arrivals_per_hour;
                n += d.arrivals_per_hour;
            }
        }
        w / n
    }

    /// domain.md: Monday waits longest, Tuesday and Friday medium, Wednesday and Thursday least;
    /// the first and last hours of each day are quicker than midday. Checked on the computed
    /// waits of every queue, on a typical and on a busy day.
    #[test]
    fn default_model_reproduces_the_weekly_pattern() {
        let m = default_model();
        assert_eq!(m.queues.len(), 3);
        for q in &m.queues {
            let slots = week(&m, q);
            for busy in [false, true] {
                let wait = |s: &SlotEstimate| {
                    let d = if busy { s.busy } else { s.typical };
                    d.map(|d| d.metrics.mean_wait_answered_s.unwrap_or(f64::INFINITY))
                };
                let day: Vec<f64> = (0..7).map(|d| daily_mean(&slots, d, busy)).collect();
                let [mon, tue, wed, thu, fri, ..] = day[..] else { unreachable!("seven days") };
                let context = format!("{} (busy: {busy}): {day:?}", q.name);
                assert!(mon > tue && mon > fri, "Monday longest: {context}");
                assert!(tue.min(fri) > wed.max(thu), "Tuesday and Friday medium: {context}");
                assert!(day[..6].iter().all(|w| w.is_finite() && *w > 0.0), "open days: {context}");
                for (d, name) in WEEKDAYS.iter().enumerate().take(6) {
                    let open: Vec<(u32, f64)> =
                        slots.iter().filter(|s| s.weekday == d).filter_map(|s| Some((s.hour(), wait(s)?))).collect();
                    let midday = open.iter().filter(|(h, _)| (12..14).contains(h)).map(|(_, w)| *w);
                    let midday = midday.fold(f64::INFINITY, f64::min);
                    let (first, last) = (open[0], open[open.len() - 1]);
                    assert!(first.0 < 12 && last.0 > 13, "{name}: {open:?}");
                    assert!(first.1 < midday && last.1 < midday, "{} {name} (busy: {busy}): {open:?}", q.name);
                }
            }
            assert!(slots.iter().filter(|s| s.weekday == 6).all(|s| !s.open && s.typical.is_none()));
        }
        // Callers mostly reach the first line; there Monday is the longest of all six days.
        let slots = week(&m, m.queue("first_line").expect("the default model has a first line"));
        let mon = daily_mean(&slots, 0, false);
        assert!((1..6).all(|d| daily_mean(&slots, d, false) < mon));
    }

    #[test]
    fn busy_days_wait_longer_and_need_more_agents() {
        let m = default_model();
        for q in &m.queues {
            for s in week(&m, q).iter().filter(|s| s.open) {
                let (t, b) = (s.typical.unwrap(), s.busy.unwrap());
                assert!(b.arrivals_per_hour > t.arrivals_per_hour);
                assert!(b.metrics.service_level <= t.metrics.service_level + 1e-12);
                assert!(b.agents_needed >= t.agents_needed);
                assert_eq!(s.agents, q.agents.values[s.weekday * 24 + s.hour() as usize] as u32);
            }
        }
    }

    #[test]
    fn busy_factor_is_the_lognormal_quantile() {
        assert_eq!(busy_factor(0.0, 0.9), 1.0);
        // σ² = ln(1.0225), z_0.9 = 1.28155.
        let s = 1.0225_f64.ln().sqrt();
        assert!((busy_factor(0.15, 0.9) - (-s * s / 2.0 + s * 1.281_551_565_5).exp()).abs() < 1e-8);
        assert!(busy_factor(0.15, 0.5) < 1.0, "the median day is below the mean");
        for (p, z) in [(0.5, 0.0), (0.975, 1.959_963_985), (0.01, -2.326_347_874), (0.999_9, 3.719_016_485)] {
            assert!((normal_quantile(p) - z).abs() < 1e-6, "{p}: {}", normal_quantile(p));
        }
    }

    #[test]
    fn fewest_agents_matches_the_general_search() {
        for (cph, aht, pat) in [(200.0, 180.0, Some(120.0)), (50.0, 300.0, Some(30.0)), (900.0, 240.0, None)] {
            let cell = ErlangInputs { arrivals_per_hour: cph, aht_s: aht, agents: 1, patience_s: pat, target_s: 20.0 };
            let general = erlang::agents_needed(&cell, Target::ServiceLevel(0.8)).ok();
            assert_eq!(fewest_agents(&cell, 0.8), general, "{cell:?}");
        }
        let idle = ErlangInputs { arrivals_per_hour: 0.0, aht_s: 180.0, agents: 1, patience_s: None, target_s: 20.0 };
        assert_eq!(fewest_agents(&idle, 0.8), Some(0));
    }

    fn at(text: &str) -> NaiveDateTime {
        crate::calendar::parse_at(text).unwrap()
    }

    #[test]
    fn estimator_uses_the_slot_and_the_live_position() {
        let m = default_model();
        let e = ModelEstimator::new(m.clone());
        let q = m.queue("first_line").unwrap();
        let mon = e.expected_wait_s("first_line", at("mon 12:00"), None).unwrap();
        let wed = e.expected_wait_s("first_line", at("wed 12:00"), None).unwrap();
        assert!(mon > wed, "{mon} {wed}");
        let slot = slot_estimate(&m, q, 0, 12);
        assert_eq!(Some(mon), slot.typical.unwrap().metrics.mean_wait_answered_s);
        assert_eq!(e.expected_wait_s("first_line", at("sun 12:00"), None), None, "closed");
        assert_eq!(e.expected_wait_s("first_line", at("2026-05-09 12:00"), None), None, "holiday");
        assert_eq!(e.expected_wait_s("nope", at("mon 12:00"), None), None);
        let live = |position, avg_wait_s| Some(LiveQueue { position, avg_wait_s });
        let third = e.expected_wait_s("first_line", at("mon 12:00"), live(3, None)).unwrap();
        let c_mu = 14.0 / q.aht_s;
        let gamma = 1.0 / q.patience_s.unwrap();
        let expected: f64 = (0..3).map(|i| 1.0 / (c_mu + f64::from(i) * gamma)).sum();
        assert!((third - expected).abs() < 1e-9, "{third} {expected}");
        let blended = e.expected_wait_s("first_line", at("mon 12:00"), live(3, Some(100.0))).unwrap();
        assert!((blended - (expected + 100.0) / 2.0).abs() < 1e-9);
        assert!(e.expected_wait_s("first_line", at("mon 12:00"), live(6, None)).unwrap() > third);
    }

    #[test]
    fn overloaded_erlang_c_uses_the_fluid_backlog() {
        let src = DEFAULT_MODEL.replace("patience = \"3m\"\n", "");
        let mut m = parse(&src).unwrap();
        let q = m.queues.iter_mut().find(|q| q.name == "first_line").unwrap();
        q.patience_s = None;
        q.agents.values.iter_mut().for_each(|a| *a = a.min(7.0));
        let load = q.arrivals.values[12] / 3600.0 * q.aht_s;
        let e = ModelEstimator::new(m.clone());
        let wait = e.expected_wait_s("first_line", at("mon 12:00"), None).unwrap();
        assert!((wait - (load / 7.0 - 1.0) * 1800.0).abs() < 1e-6, "{wait}");
        let s = slot_estimate(&m, &m.queues[0], 0, 12);
        assert!(s.typical.unwrap().metrics.overloaded && s.wait_s() == Some(f64::INFINITY));
    }

    #[test]
    fn best_and_worst_times() {
        let m = default_model();
        let b = best_times(&week(&m, m.queue("first_line").unwrap()));
        let rank = |d: usize| b.days.iter().position(|x| x.0 == d).unwrap();
        assert!(rank(2) < rank(1) && rank(3) < rank(4), "{:?}", b.days);
        assert_eq!(b.days.last().map(|d| d.0), Some(0), "{:?}", b.days);
        assert!(b.worst.iter().all(|p| p.weekday == 0), "{:?}", b.worst);
        assert!(b.best.iter().all(|p| p.wait_s < b.worst[0].wait_s));
        assert_eq!(wait_words(10.0), "almost no wait");
        assert_eq!(wait_words(200.0), "about 3 minutes");
        assert_eq!(
            period_words(&Period { weekday: 2, from_min: 540, to_min: 600, wait_s: 1.0 }),
            "Wednesday 9:00–10:00"
        );
    }
}
