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

mod estimator;
mod json;
mod normal;
mod words;

use chrono::{Datelike, NaiveDateTime, Weekday};

pub use self::estimator::ModelEstimator;
pub use self::json::{DAY_KEYS, cell_json, day_json};
pub use self::normal::{busy_factor, normal_cdf, normal_quantile};
pub use self::words::{
    BestTimes, Period, best_sentences, best_times, count, period_wait_words, period_words, wait_clock,
};
use super::erlang::{self, ErlangInputs, Metrics, Target};
use super::model::{Model, QueueModel};
use crate::calendar::{WEEKDAYS, day_index};
use crate::engine::flow::Hours;

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
    pub weekday: Weekday,
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
    for weekday in WEEKDAYS {
        for slot in 0..slots {
            out.push(slot_with(model, queue, weekday, slot, &mut memo));
        }
    }
    out
}

/// One slot of a queue's week: `weekday` 0 = Monday, `slot` the index within the day.
pub fn slot_estimate(model: &Model, queue: &QueueModel, weekday: Weekday, slot: usize) -> SlotEstimate {
    slot_with(model, queue, weekday, slot, &mut |arrivals, agents| day(model, queue, arrivals, agents))
}

fn slot_with(
    model: &Model,
    queue: &QueueModel,
    weekday: Weekday,
    slot: usize,
    day: &mut dyn FnMut(f64, u32) -> DayEstimate,
) -> SlotEstimate {
    let slots = queue.arrivals.slots_per_day();
    let index = weekday.num_days_from_monday() as usize * slots + slot;
    let start_min = u32::try_from(slot).unwrap_or(0) * queue.arrivals.slot_min;
    let open = week_open(&model.hours, weekday, start_min);
    let agents = if open { queue.agents_in(index) } else { 0 };
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
    let slot = queue.arrivals.slot(at) - day_index(at) * queue.arrivals.slots_per_day();
    let s = slot_estimate(model, queue, at.weekday(), slot);
    if model.is_open(at) { s } else { SlotEstimate { open: false, agents: 0, typical: None, busy: None, ..s } }
}

/// Whether the weekly hours (holidays aside) open the slot starting at `start_min`.
fn week_open(hours: &Hours, weekday: Weekday, start_min: u32) -> bool {
    let Some(week) = &hours.week else { return true };
    let Ok(minute) = u16::try_from(start_min) else { return false };
    week.get(weekday.num_days_from_monday() as usize)
        .is_some_and(|ranges| ranges.iter().any(|&(from, to)| minute >= from && minute < to))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::model::parse;

    pub(super) const DEFAULT_MODEL: &str = include_str!("../../../flows/support.model.toml");

    pub(super) fn default_model() -> Model {
        parse(DEFAULT_MODEL).unwrap_or_else(|d| panic!("the default model parses: {d:?}"))
    }

    /// The call-weighted mean wait of answered callers over a weekday's open slots.
    pub(super) fn daily_mean(slots: &[SlotEstimate], weekday: Weekday, busy: bool) -> f64 {
        let (mut w, mut n) = (0.0, 0.0);
        for s in slots.iter().filter(|s| s.weekday == weekday) {
            if let Some(d) = if busy { s.busy } else { s.typical } {
                w += d.metrics.mean_wait_answered_s.unwrap_or(f64::INFINITY) * d.arrivals_per_hour;
                n += d.arrivals_per_hour;
            }
        }
        w / n
    }

    pub(super) fn at(text: &str) -> NaiveDateTime {
        crate::calendar::parse_at(text).unwrap()
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
                let day: Vec<f64> = WEEKDAYS.into_iter().map(|d| daily_mean(&slots, d, busy)).collect();
                let [mon, tue, wed, thu, fri, ..] = day[..] else { unreachable!("seven days") };
                let context = format!("{} (busy: {busy}): {day:?}", q.name);
                assert!(mon > tue && mon > fri, "Monday longest: {context}");
                assert!(tue.min(fri) > wed.max(thu), "Tuesday and Friday medium: {context}");
                assert!(day[..6].iter().all(|w| w.is_finite() && *w > 0.0), "open days: {context}");
                for d in WEEKDAYS.into_iter().take(6) {
                    let name = crate::calendar::day_name(d);
                    let open: Vec<(u32, f64)> =
                        slots.iter().filter(|s| s.weekday == d).filter_map(|s| Some((s.hour(), wait(s)?))).collect();
                    let midday = open.iter().filter(|(h, _)| (12..14).contains(h)).map(|(_, w)| *w);
                    let midday = midday.fold(f64::INFINITY, f64::min);
                    let (first, last) = (open[0], open[open.len() - 1]);
                    assert!(first.0 < 12 && last.0 > 13, "{name}: {open:?}");
                    assert!(first.1 < midday && last.1 < midday, "{} {name} (busy: {busy}): {open:?}", q.name);
                }
            }
            assert!(slots.iter().filter(|s| s.weekday == Weekday::Sun).all(|s| !s.open && s.typical.is_none()));
        }
        // Callers mostly reach the first line; there Monday is the longest of all six days.
        let slots = week(&m, m.queue("first_line").expect("the default model has a first line"));
        let mon = daily_mean(&slots, Weekday::Mon, false);
        assert!(WEEKDAYS[1..6].iter().all(|&d| daily_mean(&slots, d, false) < mon));
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
                assert_eq!(
                    s.agents,
                    q.agents.values[s.weekday.num_days_from_monday() as usize * 24 + s.hour() as usize] as u32
                );
            }
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
}
