//! Statistics of a week simulation: per queue × weekday × hour counters and a one-second wait
//! histogram (memory does not grow with the number of calls), the IVR's totals, and the pooling
//! of replications into per-week summaries with confidence intervals.

use chrono::Weekday;
use serde::{Serialize, Serializer};

use super::Replication;
use crate::calendar::{WEEKDAYS, day_key};
use crate::queue::model::Model;
use crate::sim::stats::{Batch, Estimate, QueueEstimates};

/// Waits are kept in one-second bins up to this many seconds (and one bin beyond).
const WAIT_BINS: usize = 3600;
pub(super) const HOURS: usize = 7 * 24;

/// Counters of one queue in one weekday-hour (summed over weeks): the callers who left the
/// queue, in the stationary simulator's [`Batch`] sums, then agent time and the wait histogram.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HourStats {
    pub callers: Batch,
    pub busy_s: f64,
    pub staffed_s: f64,
    pub waits: Vec<u32>,
}

impl HourStats {
    pub(super) fn record(&mut self, wait_s: f64, answered: bool, target_s: f64) {
        self.callers.record(wait_s, answered, target_s);
        if self.waits.is_empty() {
            self.waits = vec![0; WAIT_BINS + 1];
        }
        self.waits[(wait_s.max(0.0) as usize).min(WAIT_BINS)] += 1;
    }

    pub fn add(&mut self, other: &HourStats) {
        self.callers.add(&other.callers);
        self.busy_s += other.busy_s;
        self.staffed_s += other.staffed_s;
        if self.waits.is_empty() {
            self.waits = other.waits.clone();
        } else {
            for (a, b) in self.waits.iter_mut().zip(&other.waits) {
                *a += b;
            }
        }
    }

    pub fn occupancy(&self) -> Option<f64> {
        (self.staffed_s > 0.0).then(|| (self.busy_s / self.staffed_s).min(1.0))
    }

    /// The 90th percentile of the waits, to the second.
    pub fn p90_wait_s(&self) -> Option<f64> {
        let n: u64 = self.waits.iter().map(|&c| u64::from(c)).sum();
        if n == 0 {
            return None;
        }
        let want = (n as f64 * 0.9).ceil() as u64;
        let mut seen = 0;
        for (s, &c) in self.waits.iter().enumerate() {
            seen += u64::from(c);
            if seen >= want {
                return Some(s as f64);
            }
        }
        Some(WAIT_BINS as f64)
    }
}

/// What happened to callers in the IVR, over the measured period.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct IvrStats {
    /// Calls that entered the IVR (first attempts and retrials).
    pub calls: u64,
    pub retrials: u64,
    /// Ended without a person: self-service and information messages.
    pub contained: u64,
    pub voicemail: u64,
    pub callbacks_booked: u64,
    pub transferred: u64,
    pub hung_up_in_ivr: u64,
    pub queued: u64,
    pub zero_outs: u64,
    pub timeout_fallbacks: u64,
    pub invalid_escalations: u64,
    pub ivr_time_s: f64,
    /// Callers who queued and were moved to another queue after the overflow wait.
    pub overflowed: u64,
    pub callbacks_done: u64,
    /// Callers still in the IVR or a queue when the simulation ended.
    pub in_system_at_end: u64,
    /// `fetch` requests by the way they went: answered, not found, failed (errors and timeouts).
    pub fetch_ok: u64,
    pub fetch_not_found: u64,
    pub fetch_failed: u64,
    /// Callers who stayed on the line after an agent (a queue's `after`) and rated the
    /// conversation, and the sum of their scores.
    pub ratings: u64,
    pub rating_sum: u64,
    /// Callers who went back to a queue after their conversation (its `after` node sent them):
    /// offered to a queue twice.
    pub requeued: u64,
}

impl IvrStats {
    pub fn add(&mut self, other: &IvrStats) {
        self.calls += other.calls;
        self.retrials += other.retrials;
        self.contained += other.contained;
        self.voicemail += other.voicemail;
        self.callbacks_booked += other.callbacks_booked;
        self.transferred += other.transferred;
        self.hung_up_in_ivr += other.hung_up_in_ivr;
        self.queued += other.queued;
        self.zero_outs += other.zero_outs;
        self.timeout_fallbacks += other.timeout_fallbacks;
        self.invalid_escalations += other.invalid_escalations;
        self.ivr_time_s += other.ivr_time_s;
        self.overflowed += other.overflowed;
        self.callbacks_done += other.callbacks_done;
        self.in_system_at_end += other.in_system_at_end;
        self.fetch_ok += other.fetch_ok;
        self.fetch_not_found += other.fetch_not_found;
        self.fetch_failed += other.fetch_failed;
        self.ratings += other.ratings;
        self.rating_sum += other.rating_sum;
        self.requeued += other.requeued;
    }

    /// The mean score of the ratings given, if any.
    pub fn mean_rating(&self) -> Option<f64> {
        (self.ratings > 0).then(|| self.rating_sum as f64 / self.ratings as f64)
    }
}

/// A weekday-hour of one queue, over all weeks and replications.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CellSummary {
    pub queue: String,
    /// Written as its key (`mon`), as every file the tool writes does.
    #[serde(serialize_with = "weekday_key")]
    pub weekday: Weekday,
    pub hour: usize,
    /// Per week, averaged over weeks and replications.
    pub offered: f64,
    pub answered: f64,
    pub abandoned: f64,
    pub mean_wait_s: Option<f64>,
    /// 99% half-width across replications (`None` with one replication).
    pub mean_wait_ci99: Option<f64>,
    pub p90_wait_s: Option<f64>,
    pub service_level: Option<f64>,
    pub service_level_ci99: Option<f64>,
    pub occupancy: Option<f64>,
    /// Mean agents on shift.
    pub agents: f64,
}

/// Fewer callers than this in a cell, over every week and replication, make its mean wait noise.
pub const MIN_CALLERS: f64 = 30.0;
/// Intervals narrower than this many seconds are below anything a reader of waits cares about.
const NEGLIGIBLE_CI_S: f64 = 1.0;

impl CellSummary {
    /// Whether the cell's mean wait can be read on its own: it had at least [`MIN_CALLERS`]
    /// callers in the `weeks_run` weeks simulated (weeks × replications), and its 99% interval
    /// across replications, when there is one, is no wider than the value (or negligible).
    pub fn reliable(&self, weeks_run: f64) -> bool {
        let (Some(wait), true) = (self.mean_wait_s, self.offered * weeks_run >= MIN_CALLERS) else {
            return false;
        };
        self.mean_wait_ci99.is_none_or(|ci| ci <= wait.max(NEGLIGIBLE_CI_S))
    }
}

fn weekday_key<S: Serializer>(weekday: &Weekday, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(day_key(*weekday))
}

/// Everything a run of replications measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub weeks: u32,
    pub replications: u32,
    pub cells: Vec<CellSummary>,
    /// IVR totals, per week.
    pub ivr: IvrStats,
    /// Totals per queue, per week.
    pub queues: Vec<CellSummary>,
    pub engine_steps: u64,
}

impl Summary {
    /// Weeks simulated in all: weeks × replications.
    pub fn weeks_run(&self) -> f64 {
        f64::from(self.weeks) * f64::from(self.replications.max(1))
    }

    /// The cells with callers whose mean wait is not [`CellSummary::reliable`], and the cells with
    /// callers.
    pub fn unreliable_cells(&self) -> (usize, usize) {
        let measured: Vec<&CellSummary> = self.cells.iter().filter(|c| c.offered > 0.0).collect();
        (measured.iter().filter(|c| !c.reliable(self.weeks_run())).count(), measured.len())
    }
}

/// Pools replications: counts per week, waits over all callers, confidence intervals from the
/// spread between replications.
pub fn summarize(model: &Model, weeks: u32, reps: &[Replication]) -> Summary {
    let per_week = f64::from(weeks) * reps.len().max(1) as f64;
    let summarize_cell = |name: &str, weekday: Weekday, hour: usize, cells: Vec<&HourStats>| -> CellSummary {
        let mut pooled = HourStats::default();
        for c in &cells {
            pooled.add(c);
        }
        // Each replication is one sample; one without callers here has no waits to compare.
        let groups: Vec<Batch> = cells.iter().map(|c| c.callers.clone()).collect();
        let spread = QueueEstimates::from_groups(&groups);
        let samples = groups.iter().filter(|b| b.offered > 0).count();
        let ci = |e: Estimate| (samples > 1).then_some(e.ci99);
        let calls = &pooled.callers;
        let measured = calls.offered > 0;
        CellSummary {
            queue: name.to_owned(),
            weekday,
            hour,
            offered: calls.offered as f64 / per_week,
            answered: calls.answered as f64 / per_week,
            abandoned: calls.abandoned as f64 / per_week,
            mean_wait_s: measured.then(|| calls.mean_wait_s()),
            mean_wait_ci99: ci(spread.mean_wait_s),
            p90_wait_s: pooled.p90_wait_s(),
            service_level: measured.then(|| calls.service_level()),
            service_level_ci99: ci(spread.service_level),
            occupancy: pooled.occupancy(),
            agents: pooled.staffed_s / 3600.0 / per_week,
        }
    };
    let mut cells = Vec::new();
    let mut queues = Vec::new();
    for (qi, q) in model.queues.iter().enumerate() {
        for cell in 0..HOURS {
            cells.push(summarize_cell(
                &q.name,
                WEEKDAYS[cell / 24],
                cell % 24,
                reps.iter().map(|r| &r.cells[qi][cell]).collect(),
            ));
        }
        let totals: Vec<HourStats> = reps
            .iter()
            .map(|r| {
                let mut t = HourStats::default();
                r.cells[qi].iter().for_each(|c| t.add(c));
                t
            })
            .collect();
        let mut total = summarize_cell(&q.name, Weekday::Mon, 0, totals.iter().collect());
        total.agents /= HOURS as f64;
        queues.push(total);
    }
    let mut ivr = IvrStats::default();
    for r in reps {
        ivr.add(&r.ivr);
    }
    Summary {
        weeks,
        replications: reps.len() as u32,
        cells,
        ivr,
        queues,
        engine_steps: reps.iter().map(|r| r.engine_steps).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(offered: f64, wait: Option<f64>, ci: Option<f64>) -> CellSummary {
        CellSummary {
            queue: "q".into(),
            weekday: Weekday::Mon,
            hour: 9,
            offered,
            answered: offered,
            abandoned: 0.0,
            mean_wait_s: wait,
            mean_wait_ci99: ci,
            p90_wait_s: None,
            service_level: None,
            service_level_ci99: None,
            occupancy: None,
            agents: 1.0,
        }
    }

    #[test]
    fn a_cell_is_reliable_with_enough_callers_and_a_narrow_interval() {
        // 10 callers a week over 4 weeks run: 40 callers.
        assert!(cell(10.0, Some(40.0), Some(12.0)).reliable(4.0));
        assert!(!cell(10.0, Some(40.0), Some(12.0)).reliable(2.0), "20 callers are too few");
        assert!(!cell(10.0, Some(40.0), Some(41.0)).reliable(4.0), "interval wider than the value");
        assert!(cell(10.0, Some(0.2), Some(0.5)).reliable(4.0), "a negligible interval");
        assert!(cell(10.0, Some(40.0), None).reliable(4.0), "one replication has no interval");
        assert!(!cell(0.0, None, None).reliable(4.0), "no callers");
    }

    #[test]
    fn weekdays_are_written_as_keys() {
        let json = serde_json::to_value(cell(1.0, None, None)).unwrap();
        assert_eq!(json["weekday"], "mon");
    }
}
