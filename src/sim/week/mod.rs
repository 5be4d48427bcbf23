//! Weeks of calls through the real flow: callers arrive by weekday and hour from the model,
//! walk the flow with the sans-IO engine as the caller-behaviour model says, and wait in the
//! model's queues for agents on the model's shifts.
//!
//! One replication is a single-threaded event loop on a virtual clock. What it models:
//! - arrivals: a Poisson process whose rate is constant within each model slot (exact for a
//!   piecewise-constant rate: interarrival times restart at every slot boundary), scaled per
//!   day by a lognormal factor with the model's `daily_cv` (busy and quiet days);
//! - the IVR: prompt lengths from the engine's actions, the caller's thinking time, timeouts;
//!   pressing 0 at once, silence, speech, mumbling and hanging up with the model's odds;
//! - queues: agents per slot (an agent who goes off shift finishes the call first), priority
//!   then first-come order, exponential patience, overflow to another queue after a wait,
//!   retrials of abandoned callers, and call-backs booked in the flow that take agent time.
//!
//! Statistics stream into per-cell counters (queue × weekday × hour) and a wait histogram, so
//! memory does not grow with the number of calls.

mod caller;
mod cells;
mod events;
mod log;
mod queues;

use chrono::{Duration, NaiveDateTime};
use rand_distr::{Distribution, Exp, LogNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use self::caller::{Caller, Where};
use self::cells::HOURS;
pub use self::cells::{CellSummary, HourStats, IvrStats, MIN_CALLERS, Summary, summarize};
use self::events::{Events, Kind};
pub use self::log::LogTo;
use self::queues::Queue;
use super::stationary::streams;
use crate::engine::{Flow, NodeKind, Output};
use crate::queue::model::Model;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SimError {
    #[error("the flow queues callers for `{0}`, which the model does not describe")]
    UnknownQueue(String),
    #[error("the model's callback names queue `{0}`, which it does not describe")]
    UnknownCallbackQueue(String),
    #[error("the model's [fetch.{0}] is not a fetch node of the flow")]
    UnknownFetchNode(String),
    #[error("simulate at least one week")]
    NoWeeks,
    #[error("the warm-up must be whole days")]
    PartialDayWarmup,
    #[error("cannot log the simulated calls: {0}")]
    Log(String),
}

/// What to simulate.
#[derive(Clone, Debug)]
pub struct Setup<'a> {
    pub flow: &'a Flow,
    pub model: &'a Model,
    pub weeks: u32,
    /// Local time at which the measured period starts (a Monday 00:00).
    pub start: NaiveDateTime,
    /// Simulated before `start` and not measured.
    pub warmup_s: f64,
}

/// One replication's results.
#[derive(Clone, Debug, PartialEq)]
pub struct Replication {
    /// `cells[queue][weekday * 24 + hour]`, queues in model order.
    pub cells: Vec<Vec<HourStats>>,
    pub ivr: IvrStats,
    /// Engine steps taken, for speed figures.
    pub engine_steps: u64,
}

/// Runs replication `replication` from `seed`.
pub fn run(setup: &Setup, seed: u64, replication: u32) -> Result<Replication, SimError> {
    check(setup)?;
    let mut sim = Sim::new(setup, seed, replication, None)?;
    sim.run();
    sim.finish()
}

/// Runs replication `replication` from `seed` as [`run`] does, writing every call that starts
/// after the warm-up to `log` as call events ([`LogTo`]). The results are those of [`run`]:
/// logging draws no random numbers.
pub fn run_logged(setup: &Setup, seed: u64, replication: u32, log: LogTo) -> Result<Replication, SimError> {
    check(setup)?;
    let mut sim = Sim::new(setup, seed, replication, Some(log))?;
    sim.run();
    sim.finish()
}

fn check(setup: &Setup) -> Result<(), SimError> {
    if setup.weeks == 0 {
        return Err(SimError::NoWeeks);
    }
    if setup.warmup_s < 0.0 || setup.warmup_s % 86_400.0 != 0.0 {
        return Err(SimError::PartialDayWarmup);
    }
    Ok(())
}

struct Sim<'a> {
    setup: &'a Setup<'a>,
    flow: &'a Flow,
    model: &'a Model,
    queues: Vec<Queue>,
    /// Engine queue names in the model's order, for mapping `Enqueue` actions.
    names: Vec<&'a str>,
    callers: Vec<Caller>,
    free: Vec<u32>,
    events: Events,
    now: f64,
    end: f64,
    slot_s: f64,
    /// Arrival rate (calls/s) of the current slot, all queues together, times today's factor.
    rate: f64,
    day_factor: f64,
    day_of_factor: i64,
    /// Calls entering the IVR.
    ivr: crate::queue::model::IvrArrivals,
    rng_arrival: Xoshiro256PlusPlus,
    rng_caller: Xoshiro256PlusPlus,
    rng_service: Xoshiro256PlusPlus,
    /// The backends of `fetch` nodes: their own stream, so that odds leave callers' draws alone.
    rng_backend: Xoshiro256PlusPlus,
    out: Output,
    cells: Vec<Vec<HourStats>>,
    stats: IvrStats,
    steps: u64,
    callback_queue: Option<u16>,
    think: Exp<f64>,
    retrial_delay: Exp<f64>,
    log: Option<self::log::Log<'a>>,
    /// The log's first error: the run stops at it.
    log_error: Option<String>,
}

impl<'a> Sim<'a> {
    fn new(setup: &'a Setup<'a>, seed: u64, replication: u32, log: Option<LogTo<'a>>) -> Result<Self, SimError> {
        let (flow, model) = (setup.flow, setup.model);
        for node in &flow.nodes {
            if let NodeKind::Queue(q) = &node.kind
                && model.queue(&q.queue).is_none()
            {
                return Err(SimError::UnknownQueue(q.queue.to_string()));
            }
        }
        let names: Vec<&str> = model.queues.iter().map(|q| q.name.as_str()).collect();
        let callback_queue = match &model.callers.callback {
            Some(cb) => Some(
                names
                    .iter()
                    .position(|n| *n == cb.queue)
                    .ok_or_else(|| SimError::UnknownCallbackQueue(cb.queue.clone()))? as u16,
            ),
            None => None,
        };
        let queues = model.queues.iter().map(Queue::new).collect();
        for (node, _) in &model.fetch {
            let is_fetch = flow.nodes.iter().any(|n| *n.id == **node && matches!(n.kind, NodeKind::Fetch(_)));
            if node != crate::queue::model::FETCH_DEFAULT && !is_fetch {
                return Err(SimError::UnknownFetchNode(node.clone()));
            }
        }
        let mut rngs = streams(seed, replication, 4).into_iter();
        let mut next = || rngs.next().expect("four streams");
        let slot_s = f64::from(model.slot_min) * 60.0;
        // Local times become UTC in the flow's zone, else the model's.
        let tz =
            flow.timezone.or_else(|| model.timezone.as_deref().and_then(|t| t.parse().ok())).unwrap_or(chrono_tz::UTC);
        Ok(Sim {
            setup,
            flow,
            model,
            queues,
            names,
            callers: Vec::new(),
            free: Vec::new(),
            events: Events::default(),
            now: 0.0,
            end: setup.warmup_s + f64::from(setup.weeks) * 7.0 * 86_400.0,
            slot_s,
            rate: 0.0,
            day_factor: 1.0,
            day_of_factor: i64::MIN,
            ivr: model.ivr_arrivals(),
            rng_arrival: next(),
            rng_caller: next(),
            rng_service: next(),
            rng_backend: next(),
            out: Output::default(),
            cells: vec![vec![HourStats::default(); HOURS]; model.queues.len()],
            stats: IvrStats::default(),
            steps: 0,
            callback_queue,
            think: Exp::new(1.0 / model.callers.think_s.max(0.001)).expect("a positive rate"),
            retrial_delay: Exp::new(1.0 / model.callers.retrial_delay_s.max(1.0)).expect("a positive rate"),
            log: log.map(|to| self::log::Log::new(to, replication, setup.weeks, tz, flow)),
            log_error: None,
        })
    }

    fn schedule(&mut self, at: f64, kind: Kind) {
        self.events.push(at, kind);
    }

    fn local(&self, t: f64) -> NaiveDateTime {
        self.setup.start + Duration::milliseconds(((t - self.setup.warmup_s) * 1000.0) as i64)
    }

    fn measured(&self) -> bool {
        self.now >= self.setup.warmup_s
    }

    /// Index of the weekday-hour cell of a time.
    fn cell(&self, t: f64) -> usize {
        let since = (t - self.setup.warmup_s).rem_euclid(7.0 * 86_400.0);
        ((since / 3600.0) as usize).min(HOURS - 1)
    }

    fn run(&mut self) {
        // The warm-up is whole days, so slots starting at 0 align with the measured midnights.
        self.schedule(0.0, Kind::Slot);
        while let Some((at, kind)) = self.events.pop() {
            self.now = at;
            if self.now >= self.end || self.log_error.is_some() {
                break;
            }
            match kind {
                Kind::Slot => self.slot(),
                Kind::Arrive => self.arrive(false),
                Kind::Retrial => self.arrive(true),
                Kind::Act(c) => self.act(c),
                Kind::Join(c) => self.join(c),
                Kind::Release(q, c) => self.release(q, c),
                Kind::Abandon(c, epoch) => self.abandon(c, epoch),
                Kind::Overflow(c, epoch) => self.overflow(c, epoch),
                Kind::CallbackDue(q) => {
                    self.queues[usize::from(q)].callbacks += 1;
                    self.serve(q);
                }
            }
        }
    }

    fn slot(&mut self) {
        let now = self.now;
        let at = self.local(now);
        let day = (now - self.setup.warmup_s).div_euclid(86_400.0) as i64;
        if day != self.day_of_factor {
            self.day_of_factor = day;
            self.day_factor = self.draw_day_factor();
        }
        self.rate = self.ivr.arrivals.at(at) / 3600.0 * self.day_factor;
        let slot_end = now + self.slot_s;
        // Staffed time of the slot, for occupancy.
        if self.measured() {
            let cell = self.cell(now);
            for (i, q) in self.model.queues.iter().enumerate() {
                self.cells[i][cell].staffed_s += q.agents.at(at) * self.slot_s;
            }
        }
        // Agents who came on shift take waiting callers.
        let before = self.local((now - 1.0).max(0.0));
        for q in 0..self.queues.len() {
            self.queues[q].prev_staffed = self.model.queues[q].agents_at(before);
            self.queues[q].slot_start = now;
            self.serve(q as u16);
        }
        if self.rate > 0.0 {
            let first = now + Exp::new(self.rate).map_or(f64::INFINITY, |e| e.sample(&mut self.rng_arrival));
            if first < slot_end {
                self.schedule(first, Kind::Arrive);
            }
        }
        self.schedule(slot_end, Kind::Slot);
    }

    /// A lognormal day factor with mean 1 and the model's day-to-day spread.
    fn draw_day_factor(&mut self) -> f64 {
        let cv = self.ivr.daily_cv;
        if cv <= 0.0 {
            return 1.0;
        }
        let sigma2 = (cv * cv).ln_1p();
        LogNormal::new(-sigma2 / 2.0, sigma2.sqrt()).map_or(1.0, |d| d.sample(&mut self.rng_arrival))
    }

    fn finish(mut self) -> Result<Replication, SimError> {
        if let Some(log) = self.log.as_mut()
            && let Err(e) = log.flush()
        {
            self.log_error.get_or_insert(e);
        }
        if let Some(e) = self.log_error {
            return Err(SimError::Log(e));
        }
        // Callers talking to an agent or in the flow after one have been counted as answered.
        let in_system = self
            .callers
            .iter()
            .filter(|c| matches!(c.at, Where::Waiting { .. }) || (matches!(c.at, Where::Ivr) && !c.served))
            .count() as u64;
        let mut ivr = self.stats;
        ivr.in_system_at_end = in_system;
        Ok(Replication { cells: self.cells, ivr, engine_steps: self.steps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::reference_day;

    /// Every caller goes straight to queue `line`: no menus, so no caller behaviour but patience.
    const FLOW: &str = r#"
[flow]
name = "tiny"
languages = ["en"]
start = "wait"
operator = "wait"

[nodes.wait]
kind = "queue"
queue = "line"
prompt = "Please hold."
"#;

    /// 60 calls an hour on Monday 10:00-11:00 only, two agents then, no patience.
    const MODEL: &str = r#"
[queues.line]
arrivals = { mon = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }
handle_time = "1m"
agents = { mon = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }
"#;

    /// Nobody answers `line`; after 30 s its callers move to `backup`, where three agents work.
    const OVERFLOW: &str = r#"
[queues.line]
arrivals = { mon = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }
handle_time = "1m"
agents = { mon = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }
overflow = { to = "backup", after = "30s" }
[queues.backup]
arrivals = { mon = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }
handle_time = "1m"
agents = { mon = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }
"#;

    const MONDAY_10: usize = 10;
    const MONDAY_11: usize = 11;

    fn flow() -> Flow {
        let parsed = crate::engine::parse::parse(FLOW);
        parsed.flow.unwrap_or_else(|| panic!("the tiny flow parses: {:?}", parsed.diagnostics))
    }

    fn model(text: &str) -> Model {
        crate::queue::model::parse(text).unwrap_or_else(|d| panic!("the model parses: {d:?}"))
    }

    fn setup<'a>(flow: &'a Flow, model: &'a Model) -> Setup<'a> {
        let start = reference_day(chrono::Weekday::Mon).and_hms_opt(0, 0, 0).expect("midnight exists");
        Setup { flow, model, weeks: 1, start, warmup_s: 0.0 }
    }

    /// Callers of queue `q` (in model order) summed over the week.
    fn offered(r: &Replication, q: usize) -> (u64, u64, u64) {
        let sum = |f: fn(&HourStats) -> u64| r.cells[q].iter().map(f).sum::<u64>();
        (sum(|c| c.callers.offered), sum(|c| c.callers.answered), sum(|c| c.callers.abandoned))
    }

    #[test]
    fn every_offered_call_is_counted_and_answered_without_patience() {
        let (flow, model) = (flow(), model(MODEL));
        let r = run(&setup(&flow, &model), 1, 0).unwrap();
        let (offered, answered, abandoned) = offered(&r, 0);
        // Poisson with mean 60: far outside 20..120 only once in many billions.
        assert!((20..120).contains(&offered), "{offered}");
        assert_eq!((r.ivr.calls, r.ivr.queued, answered, abandoned), (offered, offered, offered, 0));
        assert_eq!(r.ivr.in_system_at_end, 0);
        // Callers join the queue after a second of prompt: a caller of 10:59:59 counts at 11:00.
        let elsewhere: u64 = r.cells[0]
            .iter()
            .enumerate()
            .filter(|(i, _)| ![MONDAY_10, MONDAY_11].contains(i))
            .map(|(_, c)| c.callers.offered)
            .sum();
        assert_eq!(elsewhere, 0, "hours without arrivals get no calls");
        assert!(r.cells[0][MONDAY_10].callers.offered > 0);
        // Two agents on shift for the whole hour: 7,200 agent-seconds.
        assert_eq!(r.cells[0][MONDAY_10].staffed_s, 7200.0);
        assert_eq!(r.cells[0][MONDAY_10 + 24].staffed_s, 0.0, "Tuesday has no shift");
    }

    #[test]
    fn overflow_moves_callers_and_counts_them_where_they_first_queued() {
        let (flow, model) = (flow(), model(OVERFLOW));
        let r = run(&setup(&flow, &model), 2, 0).unwrap();
        let (offered, answered, abandoned) = offered(&r, 0);
        assert!(offered > 0);
        assert_eq!((r.ivr.overflowed, answered, abandoned), (offered, offered, 0), "{:?}", r.ivr);
        assert_eq!(self::offered(&r, 1), (0, 0, 0), "the backup queue was not offered the calls");
        // Nobody is answered before the 30 s overflow wait.
        let first = &r.cells[0][MONDAY_10].callers;
        assert!(first.mean_wait_s() >= 30.0, "{first:?}");
        assert_eq!(first.in_target, 0, "the 20 s target is never met");
        assert!(r.cells[1][MONDAY_10].busy_s > 0.0 && r.cells[0][MONDAY_10].busy_s == 0.0);
    }

    #[test]
    fn a_seed_replays_the_same_week() {
        let (flow, model) = (flow(), model(MODEL));
        let s = setup(&flow, &model);
        assert_eq!(run(&s, 3, 0).unwrap(), run(&s, 3, 0).unwrap());
        assert_ne!(run(&s, 3, 0).unwrap(), run(&s, 4, 0).unwrap());
    }

    #[test]
    fn bad_setups_are_errors() {
        let (flow, model) = (flow(), model(MODEL));
        let weeks = Setup { weeks: 0, ..setup(&flow, &model) };
        assert_eq!(run(&weeks, 1, 0), Err(SimError::NoWeeks));
        let warmup = Setup { warmup_s: 3600.0, ..setup(&flow, &model) };
        assert_eq!(run(&warmup, 1, 0), Err(SimError::PartialDayWarmup));
        let renamed = self::model(&MODEL.replace("[queues.line]", "[queues.other]"));
        assert_eq!(run(&setup(&flow, &renamed), 1, 0), Err(SimError::UnknownQueue("line".into())));
    }

    /// Every caller's request is looked up: the answer's status picks the goodbye.
    const LOOKUP: &str = r#"
[flow]
name = "lookup"
languages = ["en"]
start = "look"
operator = "wait"
allow_hosts = ["api.example.com"]

[nodes.look]
kind = "fetch"
url = "https://api.example.com/requests/1"
timeout = "2s"
store = { status = "/status" }
ok = "check"
not_found = "unknown"
failed = "sorry"

[nodes.check]
kind = "branch"
cases = [{ var = "status", eq = "done", goto = "done" }]
else = "pending"

[nodes.done]
kind = "hangup"
prompt = "Done."

[nodes.pending]
kind = "hangup"
prompt = "Pending."

[nodes.unknown]
kind = "hangup"
prompt = "Unknown."

[nodes.sorry]
kind = "hangup"
prompt = "Sorry."

[nodes.wait]
kind = "queue"
queue = "line"
"#;

    /// `k` of `n` trials is within four standard deviations of `p`: a bound a correct
    /// simulation misses about once in 16,000 runs.
    fn binomial(k: u64, n: u64, p: f64) -> bool {
        let (n, k) = (n as f64, k as f64);
        (k - n * p).abs() <= 4.0 * (n * p * (1.0 - p)).sqrt()
    }

    fn lookup(odds: &str, weeks: u32, seed: u64) -> (Replication, Vec<crate::events::Event>) {
        let parsed = crate::engine::parse_and_check(LOOKUP);
        let flow = parsed.0.unwrap_or_else(|| panic!("{:?}", parsed.1));
        let model = model(&format!("{MODEL}{odds}"));
        let setup = Setup { weeks, ..setup(&flow, &model) };
        let mut events = Vec::new();
        let sink = Box::new(|batch: Vec<crate::events::Event>| {
            events.extend(batch);
            Ok(())
        });
        let r = run_logged(&setup, seed, 0, LogTo { run: "t".into(), sink }).unwrap();
        (r, events)
    }

    #[test]
    fn fetch_odds_and_latency_are_drawn_from_the_model() {
        // Latency 0.5 s on average: a request over the 2 s timeout (e⁻⁴ of them) fails too.
        let odds = "[fetch.look]\nlatency = \"500ms\"\nnot_found = 0.2\nfailed = 0.1\n\
            values = { \"/status\" = { done = 3, in_progress = 1 } }\n";
        let (r, events) = lookup(odds, 20, 1);
        let i = &r.ivr;
        let n = i.fetch_ok + i.fetch_not_found + i.fetch_failed;
        assert_eq!(n, i.calls);
        assert!(n > 600, "{i:?}");
        let timeout = (-4.0f64).exp();
        assert!(binomial(i.fetch_not_found, n, (1.0 - timeout) * 0.2), "{i:?}");
        assert!(binomial(i.fetch_failed, n, timeout + (1.0 - timeout) * 0.1), "{i:?}");
        // The answer's values by their weights: "done" 3 of 4 answered requests.
        let entered = |node: &str| {
            events
                .iter()
                .filter(|e| e.node.as_deref() == Some(node) && e.kind == crate::events::Kind::NodeEntered {})
                .count() as u64
        };
        assert_eq!(entered("done") + entered("pending"), i.fetch_ok);
        assert!(binomial(entered("done"), i.fetch_ok, 0.75), "{} of {}", entered("done"), i.fetch_ok);
        assert_eq!((entered("unknown"), entered("sorry")), (i.fetch_not_found, i.fetch_failed));
        // The log has each request's way and time; a timeout has no status.
        let timeouts = events
            .iter()
            .filter(|e| matches!(&e.kind, crate::events::Kind::Fetched { status: None, ms: 2000, .. }))
            .count() as u64;
        assert!(timeouts > 0 && timeouts < i.fetch_failed, "{timeouts} of {}", i.fetch_failed);
    }

    #[test]
    fn the_caller_waits_for_the_backend() {
        // A tenth of a second on average, never near the timeout: the same callers take the
        // same ways, each waiting its latency more in the IVR.
        let (fast, _) = lookup("[fetch.default]\nlatency = \"100ms\"\n", 10, 2);
        let (instant, _) = lookup("", 10, 2);
        assert_eq!(fast.ivr.calls, instant.ivr.calls);
        assert_eq!(fast.ivr.fetch_ok, fast.ivr.calls);
        let n = fast.ivr.calls as f64;
        let waited = (fast.ivr.ivr_time_s - instant.ivr.ivr_time_s) / n;
        // Exponential latencies: their mean has a standard deviation of 0.1 / √n.
        assert!((waited - 0.1).abs() < 4.0 * 0.1 / n.sqrt(), "{waited}");
    }

    #[test]
    fn fetch_odds_must_name_a_fetch_node() {
        let parsed = crate::engine::parse_and_check(LOOKUP);
        let flow = parsed.0.unwrap();
        let model = model(&format!("{MODEL}[fetch.check]\nfailed = 0.5\n"));
        assert_eq!(run(&setup(&flow, &model), 1, 0), Err(SimError::UnknownFetchNode("check".into())));
    }

    /// FLOW, and after the conversation the caller rates it: 1 or 5 (`after` lands in
    /// FLOW's last table, `[nodes.wait]`).
    const RATING: &str = r#"after = "rate"

[nodes.rate]
kind = "menu"
prompt = "Rate us: 1 or 5."
options = { "1" = "low", "5" = "high" }

[nodes.low]
kind = "set"
vars = { rating = "1" }
next = "bye"

[nodes.high]
kind = "set"
vars = { rating = "5" }
next = "bye"

[nodes.bye]
kind = "hangup"
prompt = "Thanks."
"#;

    #[test]
    fn after_the_conversation_callers_rate_it_by_the_models_odds() {
        let parsed = crate::engine::parse_and_check(&format!("{FLOW}{RATING}"));
        let flow = parsed.0.unwrap_or_else(|| panic!("{:?}", parsed.1));
        // Everybody is answered (no patience); nobody hangs up, stays silent or mumbles.
        let odds =
            "[callers]\nhangup = 0\nsilent = 0\nmumble = 0\nspeak = 0\nchoices = { rate = { \"5\" = 3, \"1\" = 1 } }\n";
        let model = model(&format!("{MODEL}{odds}"));
        let setup = Setup { weeks: 10, ..setup(&flow, &model) };
        let mut events = Vec::new();
        let sink = Box::new(|batch: Vec<crate::events::Event>| {
            events.extend(batch);
            Ok(())
        });
        let r = run_logged(&setup, 3, 0, LogTo { run: "t".into(), sink }).unwrap();
        let (_, answered, _) = offered(&r, 0);
        let i = &r.ivr;
        assert!(answered > 400, "{i:?}");
        assert_eq!(i.ratings, answered, "every answered caller rates");
        let fives = (i.rating_sum - i.ratings) / 4;
        assert!(binomial(fives, i.ratings, 0.75), "{fives} of {}", i.ratings);
        assert!((i.mean_rating().unwrap() - (1.0 + 4.0 * fives as f64 / i.ratings as f64)).abs() < 1e-12);
        // The rating ends the call in the flow, yet the IVR's outcome stays the queue.
        assert_eq!((i.contained, i.hung_up_in_ivr, i.requeued, i.in_system_at_end), (0, 0, 0, 0));
        let rated = events.iter().filter(|e| matches!(e.kind, crate::events::Kind::Rated { .. })).count() as u64;
        let completed = events.iter().filter(|e| matches!(e.kind, crate::events::Kind::CallCompleted { .. })).count();
        assert_eq!((rated, completed as u64), (i.ratings, i.calls));
    }

    #[test]
    fn summaries_pool_replications_per_week() {
        let model = model(MODEL);
        let replication = |waits: &[(f64, bool)]| {
            let mut cells = vec![HourStats::default(); HOURS];
            for &(wait_s, answered) in waits {
                cells[MONDAY_10].record(wait_s, answered, 20.0);
            }
            Replication { cells: vec![cells], ivr: IvrStats::default(), engine_steps: 0 }
        };
        // Replication means 20 s and 40 s; in target 1 of 2 and 0 of 1.
        let reps = [replication(&[(10.0, true), (30.0, true)]), replication(&[(40.0, false)])];
        let s = summarize(&model, 1, &reps);
        let c = &s.cells[MONDAY_10];
        assert_eq!((c.weekday, c.hour), (chrono::Weekday::Mon, 10));
        assert_eq!((c.offered, c.answered, c.abandoned), (1.5, 1.0, 0.5), "per week, over two replications");
        assert!((c.mean_wait_s.unwrap() - 80.0 / 3.0).abs() < 1e-12, "{c:?}");
        // Samples 20 and 40: standard deviation √200, t(1 dof, 99%) = 63.657.
        assert!((c.mean_wait_ci99.unwrap() - 63.657 * 10.0).abs() < 1e-9, "{c:?}");
        assert!((c.service_level.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        // Samples 0.5 and 0: standard deviation √0.125.
        assert!((c.service_level_ci99.unwrap() - 63.657 * 0.25).abs() < 1e-9, "{c:?}");
        // Waits 10, 30, 40: the 90th percentile is the third.
        assert_eq!(c.p90_wait_s, Some(40.0));
        assert_eq!((s.cells[MONDAY_11].mean_wait_s, s.cells[MONDAY_11].mean_wait_ci99), (None, None));
        assert_eq!(s.queues[0].offered, 1.5);
    }
}
