//! [`ModelEstimator`]: the engine's [`Estimator`] backed by the queue model, which answers a
//! flow's `queue` announcements and `wait_over` branches from the slot's Erlang wait, refined by
//! the live queue position when the provider sends it.

use std::sync::OnceLock;

use chrono::NaiveDateTime;

use super::slot_at;
use crate::engine::flow::{Estimator, LiveQueue};
use crate::queue::model::{Model, QueueModel};

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
    model: Model,
    /// Per queue (in the model's order), per weekly slot: the slot's agents and base wait, once
    /// some call asked. The Erlang sums behind them are the same for every call in the slot, and
    /// a server asks on every queue entry and wait update.
    slots: Vec<Vec<OnceLock<Option<SlotBase>>>>,
}

/// A slot's agents and base wait in seconds.
type SlotBase = (u32, f64);

impl ModelEstimator {
    pub fn new(model: Model) -> ModelEstimator {
        let slots = model.queues.iter().map(|q| q.arrivals.values.iter().map(|_| OnceLock::new()).collect()).collect();
        ModelEstimator { model, slots }
    }

    /// The model the estimates come from.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The agents and base wait of the weekly slot holding `at` (`None`: closed, unstaffed), as
    /// [`slot_at`] computes them, remembered per slot. Holidays are the caller's to check.
    fn base(&self, index: usize, q: &QueueModel, at: NaiveDateTime) -> Option<SlotBase> {
        let compute = || {
            let s = slot_at(&self.model, q, at);
            let typical = s.typical?; // closed
            if s.agents == 0 {
                return None;
            }
            let base = match typical.metrics.mean_wait_answered_s {
                Some(w) => w,
                None => {
                    let load = typical.arrivals_per_hour / 3600.0 * q.aht_s;
                    (load / f64::from(s.agents) - 1.0).max(0.0) * f64::from(q.arrivals.slot_min) * 60.0 / 2.0
                }
            };
            Some((s.agents, base))
        };
        match self.slots.get(index).and_then(|slots| slots.get(q.arrivals.slot(at))) {
            Some(cell) => *cell.get_or_init(compute),
            None => compute(),
        }
    }
}

impl Estimator for ModelEstimator {
    fn expected_wait_s(&self, queue: &str, at: NaiveDateTime, live: Option<LiveQueue>) -> Option<f64> {
        let index = self.model.queues.iter().position(|q| q.name == queue)?;
        let q = &self.model.queues[index];
        if !self.model.is_open(at) {
            return None; // a holiday, whatever the weekly slot says
        }
        let (agents, base) = self.base(index, q, at)?;
        let Some(live) = live else { return Some(base) };
        let c_mu = f64::from(agents) / q.aht_s;
        let gamma = q.patience_s.map_or(0.0, |p| 1.0 / p);
        let ahead: f64 = (0..live.position.max(1)).map(|i| 1.0 / (c_mu + f64::from(i) * gamma)).sum();
        Some(match live.avg_wait_s.filter(|w| w.is_finite() && *w >= 0.0) {
            Some(avg) => (ahead + avg) / 2.0,
            None => ahead,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::slot_estimate;
    use super::super::tests::{DEFAULT_MODEL, at, default_model};
    use super::*;
    use crate::queue::model::parse;

    #[test]
    fn estimator_uses_the_slot_and_the_live_position() {
        let m = default_model();
        let e = ModelEstimator::new(m.clone());
        let q = m.queue("first_line").unwrap();
        let mon = e.expected_wait_s("first_line", at("mon 12:00"), None).unwrap();
        let wed = e.expected_wait_s("first_line", at("wed 12:00"), None).unwrap();
        assert!(mon > wed, "{mon} {wed}");
        let slot = slot_estimate(&m, q, chrono::Weekday::Mon, 12);
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

    /// The remembered slots answer what the model computes afresh, asked in any order.
    #[test]
    fn remembered_slots_answer_as_computed() {
        let m = default_model();
        let e = ModelEstimator::new(m.clone());
        for _ in 0..2 {
            for day in ["mon", "tue", "sat", "sun", "2026-05-09"] {
                for hour in (0..24).rev() {
                    let when = at(&format!("{day} {hour:02}:10"));
                    let q = m.queue("first_line").unwrap();
                    let s = slot_at(&m, q, when);
                    let fresh = s.typical.filter(|_| s.agents > 0).and_then(|t| t.metrics.mean_wait_answered_s);
                    let cached = e.expected_wait_s("first_line", when, None);
                    if fresh.is_some() {
                        assert_eq!(cached, fresh, "{day} {hour}");
                    } else if s.agents == 0 || s.typical.is_none() {
                        assert_eq!(cached, None, "{day} {hour}");
                    }
                }
            }
        }
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
        let s = slot_estimate(&m, &m.queues[0], chrono::Weekday::Mon, 12);
        assert!(s.typical.unwrap().metrics.overloaded && s.wait_s() == Some(f64::INFINITY));
    }
}
