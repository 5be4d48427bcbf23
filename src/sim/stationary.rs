//! One queue with constant rates and no IVR (M/M/c, M/M/c+M, or lognormal handle times): the
//! simulator's fast path, and the scenario where its answers must agree with Erlang C and A.
//!
//! The event loop compares the next arrival with the earliest agent release. Callers queue in
//! FIFO order with their abandonment deadline; a caller whose deadline has passed when an agent
//! frees up is counted as abandoned at that deadline. This lazy abandonment is exact for FIFO:
//! an abandoning caller never delays anyone behind them, so nothing needs to be scheduled for
//! them. Statistics stream into batch sums, so memory does not grow with the number of calls.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rand::SeedableRng;
use rand_distr::{Distribution, Exp, LogNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use super::stats::{BATCHES, Batch, Estimate, QueueEstimates};

/// Handle-time distribution.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Service {
    Exponential,
    /// Lognormal with the same mean and this coefficient of variation.
    Lognormal {
        cv: f64,
    },
}

/// A stationary scenario.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scenario {
    pub arrivals_per_hour: f64,
    pub aht_s: f64,
    pub agents: u32,
    /// Mean patience (exponential); `None`: nobody abandons.
    pub patience_s: Option<f64>,
    pub target_s: f64,
    pub service: Service,
    pub calls: u64,
    /// Share of the first calls (by arrival) left out as warm-up.
    pub warmup: f64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScenarioError {
    #[error("{0} must be a positive finite number")]
    NotPositive(&'static str),
    #[error("at least one agent is needed")]
    NoAgents,
    #[error("at least {0} calls are needed for confidence intervals")]
    TooFewCalls(u64),
}

/// What one run measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measured {
    /// Calls simulated, and the ones measured after the warm-up.
    pub calls: u64,
    pub measured: u64,
    #[serde(flatten)]
    pub estimates: QueueEstimates,
    pub occupancy: f64,
    /// Simulated time, seconds.
    pub horizon_s: f64,
    /// The batch sums, for combining replications.
    #[serde(skip)]
    pub total: Batch,
}

/// The independent random streams of one replication: `seed` picks the base generator; each
/// replication jumps 2^192 steps ahead (`long_jump`) and each stream within it 2^128 steps
/// (`jump`), so no two streams overlap and the same seed gives the same numbers everywhere.
pub fn streams(seed: u64, replication: u32, count: usize) -> Vec<Xoshiro256PlusPlus> {
    let mut base = Xoshiro256PlusPlus::seed_from_u64(seed);
    for _ in 0..replication {
        base.long_jump();
    }
    (0..count)
        .map(|_| {
            let stream = base.clone();
            base.jump();
            stream
        })
        .collect()
}

impl Scenario {
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(self.arrivals_per_hour) {
            return Err(ScenarioError::NotPositive("calls per hour"));
        }
        if !positive(self.aht_s) {
            return Err(ScenarioError::NotPositive("handle time"));
        }
        if self.patience_s.is_some_and(|p| !positive(p)) {
            return Err(ScenarioError::NotPositive("patience"));
        }
        if !(self.target_s.is_finite() && self.target_s >= 0.0) {
            return Err(ScenarioError::NotPositive("target"));
        }
        if let Service::Lognormal { cv } = self.service
            && !positive(cv)
        {
            return Err(ScenarioError::NotPositive("coefficient of variation"));
        }
        if self.agents == 0 {
            return Err(ScenarioError::NoAgents);
        }
        if self.calls < 100 * BATCHES as u64 {
            return Err(ScenarioError::TooFewCalls(100 * BATCHES as u64));
        }
        Ok(())
    }

    /// Runs replication `replication` of this scenario from `seed`.
    pub fn run(&self, seed: u64, replication: u32) -> Result<Measured, ScenarioError> {
        self.validate()?;
        let mut rngs = streams(seed, replication, 3).into_iter();
        let (mut r_arrival, mut r_service, mut r_patience) = (
            rngs.next().expect("three streams"),
            rngs.next().expect("three streams"),
            rngs.next().expect("three streams"),
        );
        let inter =
            Exp::new(self.arrivals_per_hour / 3600.0).map_err(|_| ScenarioError::NotPositive("calls per hour"))?;
        let patience = match self.patience_s {
            Some(p) => Some(Exp::new(1.0 / p).map_err(|_| ScenarioError::NotPositive("patience"))?),
            None => None,
        };
        let service = ServiceSampler::new(self.service, self.aht_s)?;

        let first = (self.calls as f64 * self.warmup.clamp(0.0, 0.5)) as u64;
        let per_batch = ((self.calls - first) / BATCHES as u64).max(1);
        let mut batches = vec![Batch::default(); BATCHES];
        let target = self.target_s;
        let mut record = |index: u64, wait: f64, answered: bool| {
            if index >= first {
                let b = (((index - first) / per_batch) as usize).min(BATCHES - 1);
                batches[b].record(wait, answered, target);
            }
        };

        // Agent releases as f64 bit patterns: for non-negative floats the bits order like the
        // numbers, so the heap compares integers.
        let mut releases: BinaryHeap<Reverse<u64>> = BinaryHeap::with_capacity(self.agents as usize);
        let mut free = self.agents;
        let mut queue: VecDeque<(u64, f64, f64)> = VecDeque::new();
        let mut busy_s = 0.0;
        let mut now = 0.0;
        let mut next_arrival = inter.sample(&mut r_arrival);
        let mut index = 0u64;
        loop {
            let next_release = releases.peek().map(|r| f64::from_bits(r.0));
            if index < self.calls && next_release.is_none_or(|r| next_arrival <= r) {
                now = next_arrival;
                let deadline = patience.as_ref().map_or(f64::INFINITY, |p| now + p.sample(&mut r_patience));
                if free > 0 {
                    // A free agent means an empty queue: releases always serve the queue first.
                    free -= 1;
                    let s = service.sample(&mut r_service);
                    busy_s += s;
                    record(index, 0.0, true);
                    releases.push(Reverse((now + s).to_bits()));
                } else {
                    queue.push_back((index, now, deadline));
                }
                index += 1;
                next_arrival = now + inter.sample(&mut r_arrival);
            } else if let Some(release) = next_release {
                now = release;
                let mut served = false;
                while let Some((i, arrived, deadline)) = queue.pop_front() {
                    if deadline < now {
                        record(i, deadline - arrived, false);
                        continue;
                    }
                    let s = service.sample(&mut r_service);
                    busy_s += s;
                    record(i, now - arrived, true);
                    // The released agent takes this caller: replace the heap top in place.
                    if let Some(mut top) = releases.peek_mut() {
                        *top = Reverse((now + s).to_bits());
                    }
                    served = true;
                    break;
                }
                if !served {
                    releases.pop();
                    free += 1;
                }
            } else {
                break;
            }
        }
        // With patience, callers still queued when the last agent went idle abandon at their
        // deadlines (without patience the queue is always empty here).
        for (i, arrived, deadline) in queue.drain(..) {
            record(i, deadline - arrived, false);
        }
        let mut total = Batch::default();
        for b in &batches {
            total.add(b);
        }
        Ok(Measured {
            calls: self.calls,
            measured: total.offered,
            estimates: QueueEstimates::from_groups(&batches),
            occupancy: busy_s / (f64::from(self.agents) * now.max(f64::MIN_POSITIVE)),
            horizon_s: now,
            total,
        })
    }
}

/// Draws handle times (the week simulator draws its queues' handle times with it too).
pub(crate) enum ServiceSampler {
    Exponential(Exp<f64>),
    Lognormal(LogNormal<f64>),
}

impl ServiceSampler {
    pub(crate) fn new(service: Service, mean_s: f64) -> Result<ServiceSampler, ScenarioError> {
        Ok(match service {
            Service::Exponential => ServiceSampler::Exponential(
                Exp::new(1.0 / mean_s).map_err(|_| ScenarioError::NotPositive("handle time"))?,
            ),
            Service::Lognormal { cv } => {
                // The underlying normal's parameters for a lognormal with this mean and CV.
                let sigma2 = (cv * cv).ln_1p();
                let mu = mean_s.ln() - sigma2 / 2.0;
                ServiceSampler::Lognormal(
                    LogNormal::new(mu, sigma2.sqrt())
                        .map_err(|_| ScenarioError::NotPositive("coefficient of variation"))?,
                )
            }
        })
    }

    #[inline]
    pub(crate) fn sample(&self, rng: &mut Xoshiro256PlusPlus) -> f64 {
        match self {
            ServiceSampler::Exponential(d) => d.sample(rng),
            ServiceSampler::Lognormal(d) => d.sample(rng),
        }
    }
}

/// Several replications, in parallel on all cores, combined: each replication's measures are
/// one sample for the confidence intervals (with one replication, the batch means are used).
pub fn replicate(scenario: &Scenario, seed: u64, replications: u32) -> Result<Combined, ScenarioError> {
    scenario.validate()?;
    let replications = replications.max(1);
    let runs = super::replications(replications, |r| scenario.run(seed, r));
    let runs: Vec<Measured> = runs.into_iter().collect::<Result<_, _>>()?;
    let estimates = if runs.len() == 1 {
        runs[0].estimates.clone()
    } else {
        QueueEstimates::from_groups(&runs.iter().map(|m| m.total.clone()).collect::<Vec<_>>())
    };
    let occupancy = Estimate::from_samples(&runs.iter().map(|m| m.occupancy).collect::<Vec<_>>());
    Ok(Combined {
        calls: runs.iter().map(|m| m.calls).sum(),
        measured: runs.iter().map(|m| m.measured).sum(),
        replications: runs.len() as u32,
        estimates,
        occupancy: if runs.len() == 1 { Estimate { mean: runs[0].occupancy, ci99: f64::NAN } } else { occupancy },
    })
}

/// Replications combined.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Combined {
    pub calls: u64,
    pub measured: u64,
    pub replications: u32,
    #[serde(flatten)]
    pub estimates: QueueEstimates,
    pub occupancy: Estimate,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(agents: u32, patience_s: Option<f64>) -> Scenario {
        Scenario {
            arrivals_per_hour: 600.0,
            aht_s: 300.0,
            agents,
            patience_s,
            target_s: 20.0,
            service: Service::Exponential,
            calls: 200_000,
            warmup: 0.02,
        }
    }

    /// Erlang C by the Erlang B recurrence, written out here as an independent check.
    fn erlang_c(a: f64, c: u32) -> f64 {
        let mut b = 1.0;
        for k in 1..=c {
            b = a * b / (f64::from(k) + a * b);
        }
        let c = f64::from(c);
        c * b / (c - a * (1.0 - b))
    }

    #[test]
    fn agrees_with_erlang_c() {
        // A = 50 Erlangs on 55 agents.
        let m = scenario(55, None).run(7, 0).unwrap();
        let pw = erlang_c(50.0, 55);
        let asa = pw * 300.0 / 5.0;
        let sl = 1.0 - pw * (-(5.0) * 20.0 / 300.0f64).exp();
        assert!(m.estimates.p_wait.contains(pw), "p_wait {:?} vs {pw}", m.estimates.p_wait);
        assert!(m.estimates.mean_wait_s.contains(asa), "wait {:?} vs {asa}", m.estimates.mean_wait_s);
        assert!(m.estimates.service_level.contains(sl), "sl {:?} vs {sl}", m.estimates.service_level);
        assert!((m.occupancy - 50.0 / 55.0).abs() < 0.01, "occupancy {}", m.occupancy);
        assert_eq!(m.estimates.p_abandon.mean, 0.0);
    }

    #[test]
    fn agrees_with_erlang_a() {
        let m = scenario(55, Some(120.0)).run(9, 0).unwrap();
        let cell = crate::queue::ErlangInputs {
            arrivals_per_hour: 600.0,
            aht_s: 300.0,
            agents: 55,
            patience_s: Some(120.0),
            target_s: 20.0,
        };
        let exact = crate::queue::erlang_a(&cell).unwrap();
        let e = &m.estimates;
        assert!(e.p_abandon.contains(exact.p_abandon), "abandon {:?} vs {}", e.p_abandon, exact.p_abandon);
        assert!(e.p_wait.contains(exact.p_wait), "p_wait {:?} vs {}", e.p_wait, exact.p_wait);
        assert!(e.service_level.contains(exact.service_level), "sl {:?} vs {}", e.service_level, exact.service_level);
        let wait = exact.mean_wait_s.unwrap();
        assert!(e.mean_wait_s.contains(wait), "wait {:?} vs {wait}", e.mean_wait_s);
        let answered = exact.mean_wait_answered_s.unwrap();
        assert!(e.mean_wait_answered_s.contains(answered), "answered {:?} vs {answered}", e.mean_wait_answered_s);
    }

    #[test]
    fn the_same_seed_gives_the_same_numbers() {
        let s = scenario(55, Some(120.0));
        assert_eq!(s.run(42, 3).unwrap(), s.run(42, 3).unwrap());
        assert_ne!(s.run(42, 3).unwrap(), s.run(43, 3).unwrap());
        assert_ne!(s.run(42, 3).unwrap(), s.run(42, 4).unwrap());
    }

    #[test]
    fn no_caller_is_lost() {
        let mut s = scenario(50, Some(60.0));
        s.warmup = 0.0;
        let m = s.run(1, 0).unwrap();
        assert_eq!(m.measured, s.calls);
        assert_eq!(m.total.answered + m.total.abandoned, s.calls);
        assert!(m.total.abandoned > 0);
    }

    #[test]
    fn replications_combine() {
        let mut s = scenario(55, Some(120.0));
        s.calls = 20_000;
        let c = replicate(&s, 5, 4).unwrap();
        assert_eq!((c.replications, c.calls), (4, 80_000));
        assert!(c.estimates.p_abandon.ci99.is_finite());
        assert_eq!(c, replicate(&s, 5, 4).unwrap(), "parallel runs are reproducible");
    }

    #[test]
    fn bad_scenarios_are_errors() {
        let mut s = scenario(0, None);
        assert_eq!(s.run(1, 0), Err(ScenarioError::NoAgents));
        s.agents = 5;
        s.aht_s = f64::NAN;
        assert_eq!(s.run(1, 0), Err(ScenarioError::NotPositive("handle time")));
        s.aht_s = 300.0;
        s.calls = 10;
        assert!(matches!(s.run(1, 0), Err(ScenarioError::TooFewCalls(_))));
    }
}
