//! Streaming statistics for simulations: memory does not grow with the number of calls.
//!
//! Confidence intervals come from batch means: the measured calls are split by arrival order
//! into `BATCHES` consecutive batches whose means are nearly independent, and Student's t with
//! `BATCHES - 1` degrees of freedom gives the 99% half-width (Law & Kelton, "Simulation
//! Modeling and Analysis", ch. 9.5). Independent replications use the same formula.

use serde::Serialize;

pub const BATCHES: usize = 20;

/// A mean and the half-width of its 99% confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub mean: f64,
    pub ci99: f64,
}

impl Estimate {
    /// Mean and 99% half-width of independent samples (replications or batch means).
    pub fn from_samples(samples: &[f64]) -> Estimate {
        let n = samples.len();
        if n == 0 {
            return Estimate { mean: f64::NAN, ci99: f64::NAN };
        }
        let mean = samples.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Estimate { mean, ci99: f64::INFINITY };
        }
        let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        Estimate { mean, ci99: t99(n - 1) * (var / n as f64).sqrt() }
    }

    pub fn contains(&self, value: f64) -> bool {
        (self.mean - value).abs() <= self.ci99
    }
}

/// Two-sided 99% Student t quantile for `dof` degrees of freedom (table values; the normal
/// quantile beyond 30).
pub fn t99(dof: usize) -> f64 {
    const TABLE: [f64; 30] = [
        63.657, 9.925, 5.841, 4.604, 4.032, 3.707, 3.499, 3.355, 3.250, 3.169, 3.106, 3.055, 3.012, 2.977, 2.947,
        2.921, 2.898, 2.878, 2.861, 2.845, 2.831, 2.819, 2.807, 2.797, 2.787, 2.779, 2.771, 2.763, 2.756, 2.750,
    ];
    match dof {
        0 => f64::INFINITY,
        1..=30 => TABLE[dof - 1],
        31..=60 => 2.704,
        61..=120 => 2.660,
        _ => 2.576,
    }
}

/// Per-batch sums of one queue's caller outcomes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub waited: u64,
    pub in_target: u64,
    pub wait_sum: f64,
    pub answered_wait_sum: f64,
}

impl Batch {
    /// Records one caller who left the queue: answered or not, after `wait_s`.
    #[inline]
    pub fn record(&mut self, wait_s: f64, answered: bool, target_s: f64) {
        self.offered += 1;
        self.wait_sum += wait_s;
        self.waited += u64::from(wait_s > 0.0);
        if answered {
            self.answered += 1;
            self.answered_wait_sum += wait_s;
            self.in_target += u64::from(wait_s <= target_s);
        } else {
            self.abandoned += 1;
        }
    }

    pub fn add(&mut self, other: &Batch) {
        self.offered += other.offered;
        self.answered += other.answered;
        self.abandoned += other.abandoned;
        self.waited += other.waited;
        self.in_target += other.in_target;
        self.wait_sum += other.wait_sum;
        self.answered_wait_sum += other.answered_wait_sum;
    }

    pub fn mean_wait_s(&self) -> f64 {
        self.wait_sum / self.offered.max(1) as f64
    }

    pub fn mean_wait_answered_s(&self) -> f64 {
        self.answered_wait_sum / self.answered.max(1) as f64
    }

    pub fn service_level(&self) -> f64 {
        self.in_target as f64 / self.offered.max(1) as f64
    }

    pub fn p_abandon(&self) -> f64 {
        self.abandoned as f64 / self.offered.max(1) as f64
    }

    pub fn p_wait(&self) -> f64 {
        self.waited as f64 / self.offered.max(1) as f64
    }
}

/// Estimates of a queue's measures from independent groups (batches or replications).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueEstimates {
    pub mean_wait_s: Estimate,
    pub mean_wait_answered_s: Estimate,
    pub service_level: Estimate,
    pub p_abandon: Estimate,
    pub p_wait: Estimate,
}

impl QueueEstimates {
    pub fn from_groups(groups: &[Batch]) -> QueueEstimates {
        let groups: Vec<&Batch> = groups.iter().filter(|b| b.offered > 0).collect();
        let est = |f: fn(&Batch) -> f64| Estimate::from_samples(&groups.iter().map(|b| f(b)).collect::<Vec<_>>());
        QueueEstimates {
            mean_wait_s: est(Batch::mean_wait_s),
            mean_wait_answered_s: est(Batch::mean_wait_answered_s),
            service_level: est(Batch::service_level),
            p_abandon: est(Batch::p_abandon),
            p_wait: est(Batch::p_wait),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates() {
        let e = Estimate::from_samples(&[1.0, 2.0, 3.0]);
        assert_eq!(e.mean, 2.0);
        assert!((e.ci99 - 9.925 * (1.0f64 / 3.0).sqrt()).abs() < 1e-9);
        assert!(e.contains(2.5) && !e.contains(100.0));
        assert!(Estimate::from_samples(&[]).mean.is_nan());
        assert_eq!(t99(19), 2.861);
    }

    #[test]
    fn batch_measures() {
        let mut b = Batch::default();
        b.record(0.0, true, 20.0);
        b.record(30.0, true, 20.0);
        b.record(10.0, false, 20.0);
        assert_eq!((b.offered, b.answered, b.abandoned, b.waited, b.in_target), (3, 2, 1, 2, 1));
        assert!((b.mean_wait_s() - 40.0 / 3.0).abs() < 1e-12);
        assert_eq!(b.mean_wait_answered_s(), 15.0);
        assert!((b.service_level() - 1.0 / 3.0).abs() < 1e-12);
    }
}
