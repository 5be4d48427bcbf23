//! Erlang B, Erlang C (M/M/c) and Erlang A (M/M/c+M) performance measures and staffing.
//!
//! Numerical approach: Erlang B is computed by its recurrence in log space,
//! `1/B(k) = 1 + (k/A)·1/B(k−1)` (the reciprocal form of `B(k) = A·B(k−1)/(k + A·B(k−1))`),
//! so there are no factorials and nothing overflows even for 100,000 agents. Erlang C follows
//! as `C = c·B/(c − A(1−B))` (Cooper, *Introduction to Queueing Theory*, 2nd ed., §3.5).
//! Erlang A uses the exact birth–death chain of Palm's M/M/c+M model as summarised by
//! Garnett, Mandelbaum & Reiman (2002) and Mandelbaum & Zeltyn, "The M/M/n+G queue: summary of
//! performance measures" (exponential patience case), with the queue part summed in log space.

use serde::Serialize;

/// Invalid inputs. Every public function returns one of these instead of panicking.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum QueueError {
    #[error("arrival rate must be a finite number ≥ 0, got {0}")]
    ArrivalRate(f64),
    #[error("handle time must be a finite number > 0 seconds, got {0}")]
    HandleTime(f64),
    #[error("patience must be a finite number > 0 seconds, got {0}")]
    Patience(f64),
    #[error("target wait must be a finite number ≥ 0 seconds, got {0}")]
    TargetWait(f64),
    #[error("at least one agent is needed")]
    NoAgents,
    #[error("at most {MAX_AGENTS} agents are supported, got {0}")]
    TooManyAgents(u32),
    #[error("target must be a finite number in range, got {0}")]
    Target(f64),
    #[error("no number of agents up to {0} meets the target")]
    Unreachable(u32),
    #[error("the Erlang A computation would need more than {0} steps for these inputs")]
    TooExpensive(u64),
}

/// The inputs of one Erlang computation: the traffic and staffing of one interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErlangInputs {
    pub arrivals_per_hour: f64,
    /// Mean handle time (talk + wrap-up), seconds.
    pub aht_s: f64,
    pub agents: u32,
    /// Mean caller patience in seconds; `None` means callers never hang up (Erlang C).
    pub patience_s: Option<f64>,
    /// Service-level target: answered within this many seconds.
    pub target_s: f64,
}

/// Performance measures for one set of inputs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metrics {
    /// Probability an arriving caller finds all agents busy and has to queue.
    pub p_wait: f64,
    /// Mean wait over all offered calls (zero for those answered at once; abandoners count their
    /// time until hang-up). This is the ASA of Erlang C. `None` when overloaded.
    pub mean_wait_s: Option<f64>,
    /// Mean wait of the callers who are eventually answered. `None` when overloaded.
    pub mean_wait_answered_s: Option<f64>,
    /// Share of all offered calls answered within the target (abandoned calls count against).
    pub service_level: f64,
    pub p_abandon: f64,
    /// Agent utilisation: carried load divided by agents.
    pub occupancy: f64,
    /// Erlang C only: offered load ≥ agents, the queue grows without bound.
    pub overloaded: bool,
    /// 90th percentile of wait over all callers (Erlang C only; `None` otherwise or overloaded).
    pub p90_wait_s: Option<f64>,
}

/// A staffing target for [`agents_needed`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// Service level (share answered within `ErlangInputs::target_s`) at least this fraction.
    ServiceLevel(f64),
    /// Mean wait (ASA) at most this many seconds.
    MaxMeanWait(f64),
    /// Abandonment probability at most this fraction.
    MaxAbandon(f64),
}

fn validate(inputs: &ErlangInputs) -> Result<(), QueueError> {
    let a = inputs.arrivals_per_hour;
    if !(a.is_finite() && a >= 0.0) {
        return Err(QueueError::ArrivalRate(a));
    }
    if !(inputs.aht_s.is_finite() && inputs.aht_s > 0.0) {
        return Err(QueueError::HandleTime(inputs.aht_s));
    }
    if let Some(p) = inputs.patience_s
        && !(p.is_finite() && p > 0.0)
    {
        return Err(QueueError::Patience(p));
    }
    if !(inputs.target_s.is_finite() && inputs.target_s >= 0.0) {
        return Err(QueueError::TargetWait(inputs.target_s));
    }
    if inputs.agents == 0 {
        return Err(QueueError::NoAgents);
    }
    // The Erlang B recurrence is O(c); the cap keeps every call well under a second.
    if inputs.agents > MAX_AGENTS {
        return Err(QueueError::TooManyAgents(inputs.agents));
    }
    Ok(())
}

/// `ln(1/B(c, A))` by the Erlang B recurrence `1/B(k) = 1 + (k/A)·1/B(k − 1)`; requires `A > 0`.
///
/// The plain recurrence costs a multiply-add a step, but `1/B` overflows once B is below about
/// 1e-290 (few calls on many agents); from there it goes on in log space, where
/// `x_k = ln(1 + exp(ln(k/A) + x_{k−1}))` is a softplus and never overflows.
fn ln_inv_erlang_b(load_erl: f64, n_agents: u32) -> f64 {
    const SWITCH: f64 = 1e290;
    let inv_a = 1.0 / load_erl;
    let mut r = 1.0_f64;
    let mut k = 1;
    while k <= n_agents {
        r = 1.0 + r * (f64::from(k) * inv_a);
        k += 1;
        if r > SWITCH {
            break;
        }
    }
    let mut x = r.ln();
    let ln_a = load_erl.ln();
    for k in k..=n_agents {
        let z = f64::from(k).ln() - ln_a + x;
        x = if z > 0.0 { z + (-z).exp().ln_1p() } else { z.exp().ln_1p() };
    }
    x
}

/// Erlang B blocking probability for `load_erl` Erlangs offered to `n_agents` lines.
pub fn erlang_b(load_erl: f64, n_agents: u32) -> f64 {
    if load_erl.is_nan() || load_erl <= 0.0 {
        return if n_agents == 0 { 1.0 } else { 0.0 };
    }
    if load_erl.is_infinite() {
        return 1.0;
    }
    (-ln_inv_erlang_b(load_erl, n_agents)).exp()
}

/// Erlang C probability of waiting; 1 when overloaded (`A ≥ c`).
pub fn erlang_c(load_erl: f64, n_agents: u32) -> f64 {
    if load_erl.is_nan() || load_erl <= 0.0 {
        return 0.0;
    }
    let c = n_agents as f64;
    if load_erl >= c {
        return 1.0;
    }
    let b = erlang_b(load_erl, n_agents);
    (c * b / (c - load_erl * (1.0 - b))).clamp(0.0, 1.0)
}

fn idle_metrics() -> Metrics {
    Metrics {
        p_wait: 0.0,
        mean_wait_s: Some(0.0),
        mean_wait_answered_s: Some(0.0),
        service_level: 1.0,
        p_abandon: 0.0,
        occupancy: 0.0,
        overloaded: false,
        p90_wait_s: Some(0.0),
    }
}

/// Metrics of these inputs: Erlang A when `patience_s` is set, Erlang C otherwise.
pub fn metrics(inputs: &ErlangInputs) -> Result<Metrics, QueueError> {
    if inputs.patience_s.is_some() { erlang_a(inputs) } else { erlang_c_metrics(inputs) }
}

/// Erlang C (M/M/c, infinitely patient callers) metrics; `patience_s` is ignored.
pub fn erlang_c_metrics(inputs: &ErlangInputs) -> Result<Metrics, QueueError> {
    validate(inputs)?;
    let load_erl = inputs.arrivals_per_hour / 3600.0 * inputs.aht_s;
    if load_erl == 0.0 {
        return Ok(idle_metrics());
    }
    let c = inputs.agents as f64;
    if load_erl >= c {
        return Ok(Metrics {
            p_wait: 1.0,
            mean_wait_s: None,
            mean_wait_answered_s: None,
            service_level: 0.0,
            p_abandon: 0.0,
            occupancy: 1.0,
            overloaded: true,
            p90_wait_s: None,
        });
    }
    let p_wait = erlang_c(load_erl, inputs.agents);
    // Conditional on waiting, the wait is exponential with rate (c − A)/AHT (Cooper §3.5).
    let decay_per_s = (c - load_erl) / inputs.aht_s;
    let asa_s = p_wait / decay_per_s;
    let service_level = (1.0 - p_wait * (-decay_per_s * inputs.target_s).exp()).clamp(0.0, 1.0);
    Ok(Metrics {
        p_wait,
        mean_wait_s: Some(asa_s),
        mean_wait_answered_s: Some(asa_s),
        service_level,
        p_abandon: 0.0,
        occupancy: load_erl / c,
        overloaded: false,
        p90_wait_s: Some(wait_percentile(p_wait, decay_per_s, 0.9)),
    })
}

/// Percentile `q` of the Erlang C wait over all callers: P(W > w) = C·e^{−rate·w}.
fn wait_percentile(p_wait: f64, decay_per_s: f64, q: f64) -> f64 {
    if p_wait <= 1.0 - q { 0.0 } else { (p_wait / (1.0 - q)).ln() / decay_per_s }
}

/// Cap on queue states and on uniformisation work, so hostile inputs return an error quickly.
const MAX_QUEUE_STATES: usize = 5_000_000;
const MAX_WORK: u64 = 200_000_000;

/// Erlang A (M/M/c+M) metrics; `patience_s` must be set (else Erlang C is returned).
///
/// Stationary distribution (Garnett, Mandelbaum & Reiman 2002, eq. (2.1)): relative to π_c,
/// π_n/π_c for n ≤ c sums to 1/B(c, A); for n = c + q, q ≥ 1, π_n/π_c = Π_{j=1..q} λ/(cμ + jγ).
/// By PASTA an arrival sees π. A caller who finds q others queued waits through q + 1 phases;
/// with i callers ahead the line advances at rate cμ + iγ while the caller hangs up at rate γ, so
/// P(served | q) = Π_{i=0..q} (cμ+iγ)/(cμ+(i+1)γ) and, given served, the phases are independent
/// exponentials with rates cμ + (i+1)γ (competing exponentials: time and winner are independent).
pub fn erlang_a(inputs: &ErlangInputs) -> Result<Metrics, QueueError> {
    validate(inputs)?;
    let Some(patience_s) = inputs.patience_s else { return erlang_c_metrics(inputs) };
    let lambda = inputs.arrivals_per_hour / 3600.0;
    if lambda == 0.0 {
        return Ok(idle_metrics());
    }
    let mu = 1.0 / inputs.aht_s;
    let gamma = 1.0 / patience_s;
    let load_erl = lambda * inputs.aht_s;
    let c = inputs.agents as f64;
    let c_mu = c * mu;

    // Terms t_q = π_{c+q}/π_c, q ≥ 0, in linear space (one division each, no exp or ln) times
    // a common factor e^{ln_scale}: an overloaded queue's terms grow huge before they fall, so
    // they are scaled down whenever they near the top of f64's range.
    const RESCALE: f64 = 1e250;
    let mut terms: Vec<f64> = vec![1.0];
    let (mut term, mut sum, mut ln_scale) = (1.0_f64, 1.0_f64, 0.0_f64);
    loop {
        let q = terms.len() as f64;
        term *= lambda / (c_mu + q * gamma);
        if term > RESCALE {
            terms.iter_mut().for_each(|t| *t /= RESCALE);
            (term, sum, ln_scale) = (term / RESCALE, sum / RESCALE, ln_scale + RESCALE.ln());
        }
        terms.push(term);
        sum += term;
        let ratio = lambda / (c_mu + (q + 1.0) * gamma);
        // Once terms shrink geometrically, the tail is below term·ratio/(1 − ratio).
        if ratio < 1.0 && term * ratio / (1.0 - ratio) < 1e-17 * sum {
            break;
        }
        if terms.len() >= MAX_QUEUE_STATES {
            return Err(QueueError::TooExpensive(MAX_QUEUE_STATES as u64));
        }
    }
    let ln_h = ln_scale + sum.ln();
    let x = ln_inv_erlang_b(load_erl, inputs.agents); // ln Σ_{n≤c} π_n/π_c, > 0 for c ≥ 1
    let ln_low_below_c = x + (-(-x).exp_m1()).ln(); // ln(Σ_{n<c} π_n/π_c)
    let ln_z = log_add_exp(ln_low_below_c, ln_h);
    let p_below_c = (ln_low_below_c - ln_z).exp();
    let p_wait = (ln_h - ln_z).exp().clamp(0.0, 1.0);

    let to_prob = (ln_scale - ln_z).exp();
    let probs: Vec<f64> = terms.iter().map(|&t| t * to_prob).collect();
    let mut mean_queue = 0.0;
    let mut p_served_after_wait = 0.0;
    let mut wait_served = 0.0;
    let (mut p_served_q, mut mean_wait_q_s) = (1.0_f64, 0.0_f64);
    let mut served_given_q = Vec::with_capacity(probs.len());
    for (q, &p) in probs.iter().enumerate() {
        let qf = q as f64;
        let advance = c_mu + qf * gamma;
        p_served_q *= advance / (advance + gamma);
        mean_wait_q_s += 1.0 / (advance + gamma);
        mean_queue += qf * p;
        p_served_after_wait += p * p_served_q;
        wait_served += p * p_served_q * mean_wait_q_s;
        served_given_q.push(p_served_q);
    }
    // Abandonment rate γ·E[Q] over arrival rate λ; Little's law gives the mean wait E[Q]/λ.
    let p_abandon = (gamma * mean_queue / lambda).clamp(0.0, 1.0);
    let mean_wait_s = mean_queue / lambda;
    let p_served = p_below_c + p_served_after_wait;
    let mean_wait_answered_s = if p_served > 0.0 { wait_served / p_served } else { 0.0 };
    let answered_late = served_within(&probs, &served_given_q, c_mu, gamma, inputs.target_s)?;
    let service_level = (p_below_c + answered_late).clamp(0.0, 1.0);
    Ok(Metrics {
        p_wait,
        mean_wait_s: Some(mean_wait_s),
        mean_wait_answered_s: Some(mean_wait_answered_s),
        service_level,
        p_abandon,
        occupancy: (load_erl * (1.0 - p_abandon) / c).clamp(0.0, 1.0),
        overloaded: false,
        p90_wait_s: None,
    })
}

fn log_add_exp(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY { m } else { m + ((a - m).exp() + (b - m).exp()).ln() }
}

/// Probability that a caller queues and is answered within `t_s`, by uniformisation of the
/// pure-death "callers ahead" chain (Grassmann 1977): states i = q callers ahead, moves to i − 1
/// (to "answered" from 0) at rate cμ + iγ, and to "abandoned" at rate γ.
fn served_within(probs: &[f64], served_given_q: &[f64], c_mu: f64, gamma: f64, t_s: f64) -> Result<f64, QueueError> {
    if t_s == 0.0 {
        return Ok(0.0);
    }
    // States past the last one holding more than 1e-13 of the tail change the answer by less
    // than that; dropping them also lowers the uniformisation rate, so far fewer steps.
    let mut tail = 0.0;
    let n = probs.iter().rposition(|&p| {
        tail += p;
        tail > 1e-13
    });
    let n = n.map_or(0, |last| last + 1);
    let (probs, served_given_q) = (&probs[..n], &served_given_q[..n]);
    if n == 0 {
        return Ok(0.0);
    }
    let max_rate = c_mu + n as f64 * gamma;
    let mean_jumps = max_rate * t_s;
    let k_max = (mean_jumps + 10.0 * mean_jumps.sqrt() + 30.0).ceil() as u64;
    if k_max.saturating_mul(n as u64) > MAX_WORK {
        return Err(QueueError::TooExpensive(MAX_WORK));
    }
    // One uniformised step: from i callers ahead down to i − 1 with `down[i]`, stay with `stay[i]`.
    let down: Vec<f64> = (0..n).map(|i| (c_mu + i as f64 * gamma) / max_rate).collect();
    let stay: Vec<f64> = (0..n).map(|i| 1.0 - (c_mu + (i + 1) as f64 * gamma) / max_rate).collect();
    let mut v = probs.to_vec();
    let mut next = vec![0.0; n];
    let mut answered = 0.0_f64;
    let total_answerable: f64 = probs.iter().zip(served_given_q).map(|(p, s)| p * s).sum();
    let ln_mean = mean_jumps.ln();
    let mut ln_fact = 0.0_f64;
    let (mut result, mut weights) = (0.0_f64, 0.0_f64);
    // Poisson(Λt) weights by w_k = w_{k−1}·Λt/k while e^{−Λt} is a normal f64, else in logs.
    let recursive = mean_jumps < 700.0;
    let mut weight = (-mean_jumps).exp();
    for k in 0..=k_max {
        if recursive {
            if k > 0 {
                weight *= mean_jumps / k as f64;
            }
        } else {
            if k > 0 {
                ln_fact += (k as f64).ln();
            }
            weight = (-mean_jumps + k as f64 * ln_mean - ln_fact).exp();
        }
        // P(answered by step k) weighted by the probability of k jumps.
        result += weight * answered;
        weights += weight;
        // Past the Poisson mode, what the remaining jumps could add is below their weight.
        if k as f64 > mean_jumps && 1.0 - weights < 1e-14 {
            break;
        }
        let ahead = v[1..].iter().zip(&down[1..]);
        for (((to, &here), &st), (&behind, &d)) in next.iter_mut().zip(&v).zip(&stay).zip(ahead) {
            *to = here * st + behind * d;
        }
        next[n - 1] = v[n - 1] * stay[n - 1];
        answered += v[0] * down[0];
        std::mem::swap(&mut v, &mut next);
    }
    Ok(result.clamp(0.0, total_answerable.max(0.0)))
}

fn meets(inputs: &ErlangInputs, n_agents: u32, target: Target) -> bool {
    let Ok(m) = metrics(&ErlangInputs { agents: n_agents, ..*inputs }) else { return false };
    match target {
        Target::ServiceLevel(x) => !m.overloaded && m.service_level >= x,
        Target::MaxMeanWait(s) => m.mean_wait_s.is_some_and(|w| w <= s),
        Target::MaxAbandon(p) => !m.overloaded && m.p_abandon <= p,
    }
}

/// Largest staffing the search will consider.
const MAX_AGENTS: u32 = 10_000_000;

/// Fewest agents meeting `target` for these inputs (Erlang A if `patience_s` is set, else Erlang C).
///
/// Measures improve monotonically with agents, so: double from ⌈A⌉ until the target is met,
/// then bisect — O(log c) metric evaluations.
pub fn agents_needed(inputs: &ErlangInputs, target: Target) -> Result<u32, QueueError> {
    validate(&ErlangInputs { agents: 1, ..*inputs })?;
    let bad = |v: f64, lo: f64, hi: f64| !(v.is_finite() && v >= lo && v <= hi);
    match target {
        Target::ServiceLevel(x) if bad(x, 0.0, 1.0) || x >= 1.0 => return Err(QueueError::Target(x)),
        Target::MaxMeanWait(s) if bad(s, 0.0, f64::MAX) => return Err(QueueError::Target(s)),
        Target::MaxAbandon(p) if bad(p, 0.0, 1.0) => return Err(QueueError::Target(p)),
        _ => {}
    }
    let load_erl = inputs.arrivals_per_hour / 3600.0 * inputs.aht_s;
    let mut hi = (load_erl.ceil() as u32).clamp(1, MAX_AGENTS);
    let mut lo = 0_u32; // invariant: lo fails (0 agents never serves), hi is the candidate
    while !meets(inputs, hi, target) {
        if hi >= MAX_AGENTS {
            return Err(QueueError::Unreachable(MAX_AGENTS));
        }
        lo = hi;
        hi = hi.saturating_mul(2).min(MAX_AGENTS);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if meets(inputs, mid, target) { hi = mid } else { lo = mid }
    }
    Ok(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heavily_overloaded_erlang_a_cell_rescales_and_matches_the_fluid_limit() {
        // 72,000 calls an hour (20/s) on 100 agents of 100 s: work for 2,000 agents. The queue's
        // terms pass e^700 before they fall, so this runs through the rescaling.
        let inputs = ErlangInputs {
            arrivals_per_hour: 72_000.0,
            aht_s: 100.0,
            agents: 100,
            patience_s: Some(60.0),
            target_s: 20.0,
        };
        let m = erlang_a(&inputs).expect("a finite answer");
        // Fluid limit: the agents serve 1 call/s, the other 19/s hang up.
        assert!((m.p_abandon - 0.95).abs() < 0.005, "{m:?}");
        assert!(m.p_wait > 0.999 && m.occupancy > 0.99, "{m:?}");
        let wait = m.mean_wait_s.expect("a wait");
        // Queue of about (λ − cμ)/γ = 1,140 callers, so by Little about 57 s.
        assert!((wait - 57.0).abs() < 2.0, "{m:?}");
    }

    #[test]
    fn the_fast_erlang_b_recurrence_matches_the_log_space_one() {
        let log_space = |a: f64, c: u32| {
            (1..=c).fold(0.0_f64, |x, k| {
                let z = f64::from(k).ln() - a.ln() + x;
                if z > 0.0 { z + (-z).exp().ln_1p() } else { z.exp().ln_1p() }
            })
        };
        // Plain all the way, and switching to log space where 1/B overflows (B ≈ 1e-1100).
        for (a, c) in [(0.5, 1), (10.0, 12), (990.0, 1000), (99_000.0, 100_000), (1.0, 500), (3.0, 2000)] {
            let (fast, slow) = (ln_inv_erlang_b(a, c), log_space(a, c));
            assert!((fast - slow).abs() <= 1e-9 * slow.max(1.0), "A={a} c={c}: {fast} vs {slow}");
        }
    }
    use proptest::prelude::*;

    fn inputs(arrivals_per_hour: f64, aht_s: f64, agents: u32, patience_s: Option<f64>) -> ErlangInputs {
        ErlangInputs { arrivals_per_hour, aht_s, agents, patience_s, target_s: 20.0 }
    }

    /// Textbook formulas with factorials in f64, for small c only.
    fn direct_b(a: f64, c: u32) -> f64 {
        let term = |k: u32| a.powi(k as i32) / (1..=k).map(f64::from).product::<f64>();
        term(c) / (0..=c).map(term).sum::<f64>()
    }

    fn direct_c(a: f64, c: u32) -> f64 {
        let term = |k: u32| a.powi(k as i32) / (1..=k).map(f64::from).product::<f64>();
        let top = term(c) * c as f64 / (c as f64 - a);
        top / ((0..c).map(term).sum::<f64>() + top)
    }

    #[test]
    fn erlang_b_table_value() {
        assert!((erlang_b(10.0, 10) - 0.2146).abs() < 5e-5, "{}", erlang_b(10.0, 10));
    }

    #[test]
    fn erlang_c_classic_value() {
        assert!((erlang_c(10.0, 11) - 0.6821).abs() < 5e-5, "{}", erlang_c(10.0, 11));
        assert!((erlang_c(10.0, 11) - direct_c(10.0, 11)).abs() < 1e-9);
    }

    #[test]
    fn recurrence_matches_factorial_formulas() {
        for c in 1..=40 {
            for a in [0.3, 1.0, 2.5, 7.0, 19.9, 33.3] {
                assert!((erlang_b(a, c) - direct_b(a, c)).abs() < 1e-9, "B a={a} c={c}");
                if a < c as f64 {
                    assert!((erlang_c(a, c) - direct_c(a, c)).abs() < 1e-9, "C a={a} c={c}");
                }
            }
        }
    }

    #[test]
    fn erlang_c_metrics_worked_example() {
        // A = 10 Erlangs (200 calls/h × 180 s), 11 agents.
        let m = erlang_c_metrics(&inputs(200.0, 180.0, 11, None)).unwrap();
        let c = direct_c(10.0, 11);
        assert!((m.mean_wait_s.unwrap() - c * 180.0).abs() < 1e-6);
        assert!((m.service_level - (1.0 - c * (-20.0_f64 / 180.0).exp())).abs() < 1e-9);
        assert!((m.occupancy - 10.0 / 11.0).abs() < 1e-12);
        // p90: C·e^{−w/180} = 0.1.
        assert!((m.p90_wait_s.unwrap() - 180.0 * (c / 0.1).ln()).abs() < 1e-6);
    }

    #[test]
    fn overloaded_is_explicit() {
        let m = erlang_c_metrics(&inputs(200.0, 180.0, 10, None)).unwrap();
        assert!(m.overloaded);
        assert_eq!(m.mean_wait_s, None);
        assert_eq!(m.p90_wait_s, None);
    }

    #[test]
    fn invalid_inputs_are_errors() {
        assert!(metrics(&inputs(f64::NAN, 180.0, 10, None)).is_err());
        assert!(metrics(&inputs(-1.0, 180.0, 10, None)).is_err());
        assert!(metrics(&inputs(100.0, 0.0, 10, None)).is_err());
        assert!(metrics(&inputs(100.0, 180.0, 0, None)).is_err());
        assert!(metrics(&inputs(100.0, 180.0, u32::MAX, None)).is_err());
        assert!(metrics(&inputs(100.0, 180.0, 10, Some(0.0))).is_err());
        assert!(metrics(&inputs(100.0, 180.0, 10, Some(f64::INFINITY))).is_err());
        assert!(agents_needed(&inputs(100.0, 180.0, 1, None), Target::ServiceLevel(1.5)).is_err());
    }

    #[test]
    fn hundred_thousand_agents_are_finite() {
        let m = erlang_c_metrics(&inputs(1_980_000.0, 180.0, 100_000, None)).unwrap();
        assert!(m.p_wait.is_finite() && m.mean_wait_s.unwrap().is_finite() && !m.overloaded);
        let m = erlang_c_metrics(&inputs(36.0, 100.0, 100_000, None)).unwrap();
        assert_eq!(m.p_wait, 0.0);
        let m = erlang_a(&inputs(1_980_000.0, 180.0, 100_000, Some(120.0))).unwrap();
        assert!(m.service_level.is_finite() && m.p_abandon.is_finite() && m.p_wait <= 1.0);
    }

    /// Second formulation: normalise the birth–death chain directly, truncated at c + 3000.
    fn direct_erlang_a(lambda: f64, mu: f64, gamma: f64, c: u32) -> (f64, f64, f64) {
        let mut pi = vec![1.0_f64];
        for n in 1..(c as usize + 3000) {
            let death = if n <= c as usize { n as f64 * mu } else { c as f64 * mu + (n - c as usize) as f64 * gamma };
            pi.push(pi[n - 1] * lambda / death);
        }
        let z: f64 = pi.iter().sum();
        let p_wait = pi[c as usize..].iter().sum::<f64>() / z;
        let mean_q = pi.iter().enumerate().skip(c as usize).map(|(n, p)| (n - c as usize) as f64 * p).sum::<f64>() / z;
        (p_wait, gamma * mean_q / lambda, mean_q / lambda)
    }

    #[test]
    fn erlang_a_matches_direct_chain() {
        for (cph, aht, c, pat) in [(200.0, 180.0, 10, 120.0), (200.0, 180.0, 8, 60.0), (300.0, 240.0, 25, 300.0)] {
            let m = erlang_a(&inputs(cph, aht, c, Some(pat))).unwrap();
            let (pw, pa, w) = direct_erlang_a(cph / 3600.0, 1.0 / aht, 1.0 / pat, c);
            assert!((m.p_wait - pw).abs() < 1e-9, "{} {}", m.p_wait, pw);
            assert!((m.p_abandon - pa).abs() < 1e-9);
            assert!((m.mean_wait_s.unwrap() - w).abs() < 1e-7);
            // Answered + abandoned = all calls.
            assert!(m.service_level <= 1.0 - m.p_abandon + 1e-9);
        }
    }

    /// Second formulation of the Erlang A service level: integrate the "callers ahead" chain's
    /// forward equations with RK4 instead of uniformising it.
    #[test]
    fn erlang_a_service_level_matches_ode() {
        let (lambda, mu, gamma, c, t_s) = (200.0 / 3600.0, 1.0 / 180.0, 1.0 / 120.0, 9_u32, 20.0);
        let mut pi = vec![1.0_f64];
        let n_max = c as usize + 400;
        for n in 1..n_max {
            let death = if n <= c as usize { n as f64 * mu } else { c as f64 * mu + (n - c as usize) as f64 * gamma };
            pi.push(pi[n - 1] * lambda / death);
        }
        let z: f64 = pi.iter().sum();
        let p_below: f64 = pi[..c as usize].iter().sum::<f64>() / z;
        // State vector: callers ahead i = 0..len-1, plus the answered mass at the end.
        let len = n_max - c as usize;
        let mut v: Vec<f64> = pi[c as usize..].iter().map(|p| p / z).collect();
        v.push(0.0);
        let c_mu = c as f64 * mu;
        let deriv = |v: &[f64]| {
            let mut d = vec![0.0; len + 1];
            for i in 0..len {
                let advance = c_mu + i as f64 * gamma;
                d[i] -= v[i] * (advance + gamma);
                if i == 0 { d[len] += v[0] * c_mu } else { d[i - 1] += v[i] * advance }
            }
            d
        };
        let dt = 0.005;
        for _ in 0..(t_s / dt) as usize {
            let k1 = deriv(&v);
            let v2: Vec<f64> = v.iter().zip(&k1).map(|(x, k)| x + 0.5 * dt * k).collect();
            let k2 = deriv(&v2);
            let v3: Vec<f64> = v.iter().zip(&k2).map(|(x, k)| x + 0.5 * dt * k).collect();
            let k3 = deriv(&v3);
            let v4: Vec<f64> = v.iter().zip(&k3).map(|(x, k)| x + dt * k).collect();
            let k4 = deriv(&v4);
            for i in 0..=len {
                v[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
            }
        }
        let expected = p_below + v[len];
        let m = erlang_a(&ErlangInputs {
            arrivals_per_hour: 200.0,
            aht_s: 180.0,
            agents: c,
            patience_s: Some(120.0),
            target_s: t_s,
        })
        .unwrap();
        assert!((m.service_level - expected).abs() < 1e-7, "{} vs {}", m.service_level, expected);
    }

    #[test]
    fn erlang_a_service_level_with_huge_target_is_share_answered() {
        let mut k = inputs(200.0, 180.0, 10, Some(120.0));
        k.target_s = 1e4;
        let m = erlang_a(&k).unwrap();
        assert!((m.service_level - (1.0 - m.p_abandon)).abs() < 1e-6, "{m:?}");
    }

    #[test]
    fn erlang_a_approaches_erlang_c() {
        let a = erlang_a(&inputs(200.0, 180.0, 11, Some(1e9))).unwrap();
        let c = erlang_c_metrics(&inputs(200.0, 180.0, 11, None)).unwrap();
        assert!((a.p_wait - c.p_wait).abs() < 1e-4);
        assert!((a.mean_wait_s.unwrap() - c.mean_wait_s.unwrap()).abs() < 0.1);
        assert!((a.mean_wait_answered_s.unwrap() - c.mean_wait_s.unwrap()).abs() < 0.1);
        assert!((a.service_level - c.service_level).abs() < 1e-4);
        assert!(a.p_abandon < 1e-5);
    }

    #[test]
    fn staffing_finds_fewest_agents() {
        let k = inputs(200.0, 180.0, 1, None);
        let n = agents_needed(&k, Target::ServiceLevel(0.8)).unwrap();
        assert!(meets(&k, n, Target::ServiceLevel(0.8)) && !meets(&k, n - 1, Target::ServiceLevel(0.8)));
        let n = agents_needed(&k, Target::MaxMeanWait(10.0)).unwrap();
        assert!(meets(&k, n, Target::MaxMeanWait(10.0)) && !meets(&k, n - 1, Target::MaxMeanWait(10.0)));
        let ka = inputs(200.0, 180.0, 1, Some(120.0));
        let n = agents_needed(&ka, Target::MaxAbandon(0.05)).unwrap();
        assert!(meets(&ka, n, Target::MaxAbandon(0.05)) && !meets(&ka, n - 1, Target::MaxAbandon(0.05)));
        let big = inputs(1_980_000.0, 180.0, 1, None);
        assert!(agents_needed(&big, Target::ServiceLevel(0.8)).unwrap() >= 99_000);
    }

    proptest! {
        #[test]
        fn probabilities_in_range_and_monotone(cph in 1.0..2000.0_f64, aht in 10.0..600.0_f64, c in 1u32..120, pat in proptest::option::of(5.0..2000.0_f64)) {
            let m1 = metrics(&inputs(cph, aht, c, pat)).unwrap();
            let m2 = metrics(&inputs(cph, aht, c + 1, pat)).unwrap();
            for m in [&m1, &m2] {
                for p in [m.p_wait, m.service_level, m.p_abandon, m.occupancy] {
                    prop_assert!((0.0..=1.0).contains(&p), "{m:?}");
                }
            }
            prop_assert!(m2.p_wait <= m1.p_wait + 1e-12);
            prop_assert!(m2.service_level + 1e-9 >= m1.service_level);
        }

        #[test]
        fn erlang_a_tends_to_c(cph in 10.0..500.0_f64, aht in 30.0..300.0_f64, extra in 1u32..10) {
            let c = ((cph / 3600.0 * aht).ceil() as u32) + extra;
            let a = erlang_a(&inputs(cph, aht, c, Some(1e9))).unwrap();
            let e = erlang_c_metrics(&inputs(cph, aht, c, None)).unwrap();
            prop_assert!((a.p_wait - e.p_wait).abs() < 1e-3);
            prop_assert!((a.service_level - e.service_level).abs() < 1e-3);
        }
    }
}
