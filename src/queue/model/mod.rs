//! The call-centre model: for every queue, arrivals and agents by weekday and time of day,
//! handle time, patience and overflow; opening hours; the service-level target; and how
//! callers behave in the IVR (for the simulator). Parsed from TOML text with every problem
//! reported at its span; the file is the analyst's, so nothing in it may panic us.
//!
//! The format is documented in `docs/queue-model.md` (the sample is `flows/support.model.toml`);
//! change the two together.

mod parse;

use chrono::{Datelike, NaiveDateTime, Timelike, Weekday};

pub use self::parse::{parse, parse_days};
use crate::engine::flow::Hours;

/// Values for every slot of a week: `7 × slots_per_day`, Monday first.
#[derive(Clone, Debug, PartialEq)]
pub struct Week {
    pub slot_min: u32,
    pub values: Vec<f64>,
}

impl Week {
    pub fn zero(slot_min: u32) -> Week {
        Week { slot_min, values: vec![0.0; 7 * slots_per_day(slot_min)] }
    }

    pub fn slots_per_day(&self) -> usize {
        slots_per_day(self.slot_min)
    }

    /// The slot index of a local time.
    pub fn slot(&self, at: NaiveDateTime) -> usize {
        let day = at.weekday().num_days_from_monday() as usize;
        let minute = (at.hour() * 60 + at.minute()) as usize;
        day * self.slots_per_day() + minute / self.slot_min as usize
    }

    pub fn at(&self, at: NaiveDateTime) -> f64 {
        self.values[self.slot(at)]
    }

    /// The values of one weekday.
    pub fn day(&self, weekday: Weekday) -> &[f64] {
        let (n, day) = (self.slots_per_day(), weekday.num_days_from_monday() as usize);
        &self.values[day * n..(day + 1) * n]
    }
}

pub fn slots_per_day(slot_min: u32) -> usize {
    (24 * 60 / slot_min.max(1)) as usize
}

/// One queue of agents.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueModel {
    pub name: String,
    /// Mean offered calls per hour in each slot.
    pub arrivals: Week,
    /// Day-to-day coefficient of variation of a slot's volume (real volumes vary far more
    /// than Poisson; 0 means exactly Poisson).
    pub daily_cv: f64,
    pub aht_s: f64,
    /// Coefficient of variation of a lognormal handle time; `None`: exponential.
    pub service_cv: Option<f64>,
    /// Mean patience before hanging up while waiting (exponential); `None`: nobody abandons.
    pub patience_s: Option<f64>,
    /// Agents in each slot.
    pub agents: Week,
    pub overflow: Option<Overflow>,
}

impl QueueModel {
    /// Agents answering at a local time. The simulator and the estimate both staff by it.
    pub fn agents_at(&self, at: NaiveDateTime) -> u32 {
        self.agents_in(self.agents.slot(at))
    }

    /// Agents answering in slot `index` of the week (see [`Week::slot`]), as a whole number:
    /// the model's values are non-negative but may be fractional (a part-time shift), and a
    /// fraction of an agent answers no call, so it rounds down.
    pub fn agents_in(&self, index: usize) -> u32 {
        let value = self.agents.values.get(index).copied().unwrap_or(0.0);
        if value.is_finite() && value >= 1.0 { value.min(f64::from(u32::MAX)).floor() as u32 } else { 0 }
    }
}

/// Callers still waiting after `after_s` move to queue `to`.
#[derive(Clone, Debug, PartialEq)]
pub struct Overflow {
    pub to: String,
    pub after_s: f64,
}

/// How callers behave in the IVR, for the simulator. Probabilities are per menu visit.
#[derive(Clone, Debug, PartialEq)]
pub struct Callers {
    /// Mean time a caller thinks after a prompt before answering.
    pub think_s: f64,
    /// Press 0 at the first menu (impatient callers).
    pub zero_out: f64,
    /// Stay silent at a menu.
    pub silent: f64,
    /// Say a phrase instead of pressing a key (where the menu listens).
    pub speak: f64,
    /// Speech the recogniser cannot match.
    pub mumble: f64,
    /// Hang up at a menu.
    pub hangup: f64,
    /// Share of callers who abandoned the queue and call again later.
    pub retrial: f64,
    pub retrial_delay_s: f64,
    /// Relative weights of each menu's keys; menus not listed choose uniformly.
    pub choices: Vec<(String, Vec<(char, f64)>)>,
    /// A flow node that books a call-back, the queue whose agent calls back, and when.
    pub callback: Option<Callback>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Callback {
    pub node: String,
    pub queue: String,
    pub delay_s: f64,
}

impl Default for Callers {
    fn default() -> Self {
        Callers {
            think_s: 2.0,
            zero_out: 0.05,
            silent: 0.03,
            speak: 0.1,
            mumble: 0.02,
            hangup: 0.01,
            retrial: 0.3,
            retrial_delay_s: 900.0,
            choices: Vec::new(),
            callback: None,
        }
    }
}

/// How the backend of a flow's `fetch` node answers, for the simulator (`[fetch.NODE]`, or
/// `[fetch.default]` for the fetch nodes not listed). Without either, every request succeeds
/// at once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FetchOdds {
    /// Mean time to answer (exponential): the caller waits it. An answer later than the node's
    /// timeout is a timeout, the `failed` way.
    pub latency_s: f64,
    /// Share of requests answered 404 (the `not_found` way).
    pub not_found: f64,
    /// Share answered with a server error (the `failed` way).
    pub failed: f64,
    /// The values a successful answer carries at each JSON pointer the node stores, with
    /// their weights; a pointer not listed answers "1".
    pub values: Vec<(String, Vec<(String, f64)>)>,
}

impl Model {
    /// The odds of fetch node `node`: its own, else the default, else none.
    pub fn fetch_odds(&self, node: &str) -> Option<&FetchOdds> {
        let find = |name: &str| self.fetch.iter().find(|(n, _)| n == name).map(|(_, o)| o);
        find(node).or_else(|| find(FETCH_DEFAULT))
    }
}

/// The `[fetch]` key whose odds apply to fetch nodes without their own.
pub const FETCH_DEFAULT: &str = "default";

/// A whole model.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub timezone: Option<String>,
    pub slot_min: u32,
    /// Service-level threshold and the share of calls that should meet it.
    pub target_s: f64,
    pub target_share: f64,
    /// The quantile of day-to-day volume that makes a "busy day".
    pub busy_quantile: f64,
    pub hours: Hours,
    /// Calls to the hotline itself, for the simulator, which lets the flow decide which queue
    /// each caller reaches; without `[ivr]`, the queues' volumes added up.
    pub ivr: Option<IvrArrivals>,
    pub queues: Vec<QueueModel>,
    pub callers: Callers,
    /// Backends of the flow's `fetch` nodes, by node id ([`FETCH_DEFAULT`] for the others).
    pub fetch: Vec<(String, FetchOdds)>,
}

/// Calls entering the IVR.
#[derive(Clone, Debug, PartialEq)]
pub struct IvrArrivals {
    /// Mean calls per hour in each slot.
    pub arrivals: Week,
    pub daily_cv: f64,
}

impl Model {
    pub fn queue(&self, name: &str) -> Option<&QueueModel> {
        self.queues.iter().find(|q| q.name == name)
    }

    /// Calls per hour entering the IVR at a local time, and their day-to-day spread.
    pub fn ivr_arrivals(&self) -> IvrArrivals {
        if let Some(ivr) = &self.ivr {
            return ivr.clone();
        }
        let mut arrivals = Week::zero(self.slot_min);
        let (mut weighted_cv, mut total) = (0.0, 0.0);
        for q in &self.queues {
            for (a, b) in arrivals.values.iter_mut().zip(&q.arrivals.values) {
                *a += b;
            }
            let volume: f64 = q.arrivals.values.iter().sum();
            weighted_cv += q.daily_cv * volume;
            total += volume;
        }
        IvrArrivals { arrivals, daily_cv: if total > 0.0 { weighted_cv / total } else { 0.0 } }
    }

    /// Whether the centre is open at a local time (closed slots have no agents and no estimate).
    pub fn is_open(&self, at: NaiveDateTime) -> bool {
        self.hours.is_open(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_at;

    #[test]
    fn agents_round_down_to_whole_agents() {
        let mut agents = Week::zero(60);
        // Monday 10:00, 11:00 and 12:00.
        agents.values[10] = 2.7;
        agents.values[11] = 0.5;
        agents.values[12] = 3.0;
        let q = QueueModel {
            name: "first_line".into(),
            arrivals: Week::zero(60),
            daily_cv: 0.0,
            aht_s: 300.0,
            service_cv: None,
            patience_s: None,
            agents,
            overflow: None,
        };
        assert_eq!(q.agents_at(parse_at("mon 10:59").unwrap()), 2);
        assert_eq!(q.agents_at(parse_at("mon 11:00").unwrap()), 0);
        assert_eq!(q.agents_at(parse_at("mon 12:30").unwrap()), 3);
        assert_eq!(q.agents_at(parse_at("tue 12:30").unwrap()), 0);
        assert_eq!(q.agents_in(7 * 24), 0, "past the week");
    }
}
