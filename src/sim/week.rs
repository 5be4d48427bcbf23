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

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chrono::{Duration, NaiveDateTime};
use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use super::stationary::streams;
use crate::engine::flow::speech_ms;
use crate::engine::{Action, Call, Event, Flow, NodeKind, Output, Start, Trace};
use crate::queue::model::{Model, QueueModel};

/// Waits are kept in one-second bins up to this many seconds (and one bin beyond).
const WAIT_BINS: usize = 3600;
const HOURS: usize = 7 * 24;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SimError {
    #[error("the flow queues callers for `{0}`, which the model does not describe")]
    UnknownQueue(String),
    #[error("the model's callback names queue `{0}`, which it does not describe")]
    UnknownCallbackQueue(String),
    #[error("simulate at least one week")]
    NoWeeks,
    #[error("the warm-up must be whole days")]
    PartialDayWarmup,
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

/// Counters of one queue in one weekday-hour (summed over weeks).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cell {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub in_target: u64,
    pub wait_sum: f64,
    pub busy_s: f64,
    pub staffed_s: f64,
    pub waits: Vec<u32>,
}

impl Cell {
    fn record(&mut self, wait_s: f64, answered: bool, target_s: f64) {
        self.offered += 1;
        self.wait_sum += wait_s;
        if answered {
            self.answered += 1;
            self.in_target += u64::from(wait_s <= target_s);
        } else {
            self.abandoned += 1;
        }
        if self.waits.is_empty() {
            self.waits = vec![0; WAIT_BINS + 1];
        }
        self.waits[(wait_s.max(0.0) as usize).min(WAIT_BINS)] += 1;
    }

    pub fn add(&mut self, other: &Cell) {
        self.offered += other.offered;
        self.answered += other.answered;
        self.abandoned += other.abandoned;
        self.in_target += other.in_target;
        self.wait_sum += other.wait_sum;
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

    pub fn mean_wait_s(&self) -> Option<f64> {
        (self.offered > 0).then(|| self.wait_sum / self.offered as f64)
    }

    pub fn service_level(&self) -> Option<f64> {
        (self.offered > 0).then(|| self.in_target as f64 / self.offered as f64)
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
pub struct Ivr {
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
}

/// One replication's results.
#[derive(Clone, Debug, PartialEq)]
pub struct Replication {
    /// `cells[queue][weekday * 24 + hour]`, queues in model order.
    pub cells: Vec<Vec<Cell>>,
    pub ivr: Ivr,
    /// Engine steps taken, for speed figures.
    pub engine_steps: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// A new slot: staffing changes, the arrival rate changes.
    Slot,
    Arrive,
    /// A caller's decided input reaches the engine.
    Act(u32),
    /// A caller handed over by the IVR joins a queue (after the last prompt).
    Join(u32),
    Release(u16),
    Abandon(u32, u32),
    Overflow(u32, u32),
    Retrial,
    CallbackDue(u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Scheduled {
    /// Time as f64 bits: the clock is never negative, so the bits order like the numbers.
    at: u64,
    seq: u64,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Where {
    Ivr,
    /// Waiting in a queue: which, since when it first queued, and the epoch that invalidates
    /// stale abandon and overflow events after a move.
    Waiting {
        queue: u16,
        first_queue: u16,
        first_queued: f64,
        cell: usize,
    },
    Gone,
}

struct Caller {
    call: Call,
    entered_ivr: f64,
    menus_seen: u32,
    epoch: u32,
    at: Where,
    /// What the caller will do when their `Act` event comes.
    pending: Pending,
    /// The queue and priority the IVR handed the caller to, until they `Join` it.
    joining: (u16, u8),
    habit: Habit,
}

/// Callers who stay silent or cannot make themselves understood do so at every menu, which is
/// what makes timeout fallbacks and escalations happen.
#[derive(Clone, Copy, PartialEq)]
enum Habit {
    Usual,
    Silent,
    Mumbling,
}

/// A caller's decided input.
enum Pending {
    Keys(String),
    Speech(std::sync::Arc<str>),
    Mumble,
    Silence,
    Hangup,
}

/// A queue of the model, by the same index as `Model::queues`.
struct Queue {
    busy: u32,
    /// Agents of the previous slot and when the current slot began: agents whose shift ends
    /// still answer the callers who called before the change, as real teams do at closing.
    prev_staffed: u32,
    slot_start: f64,
    /// Waiting callers by (priority, first come); stale entries are skipped when popped.
    waiting: BinaryHeap<(u8, Reverse<u64>, u32)>,
    /// Booked call-backs waiting for an agent (before any caller, they were promised).
    callbacks: u64,
    service: ServiceTime,
}

enum ServiceTime {
    Exponential(Exp<f64>),
    Lognormal(LogNormal<f64>),
}

impl ServiceTime {
    fn new(q: &QueueModel) -> ServiceTime {
        match q.service_cv {
            Some(cv) => {
                let sigma2 = (cv * cv).ln_1p();
                ServiceTime::Lognormal(
                    LogNormal::new(q.aht_s.ln() - sigma2 / 2.0, sigma2.sqrt())
                        .expect("the model checked the handle time"),
                )
            }
            None => ServiceTime::Exponential(Exp::new(1.0 / q.aht_s).expect("the model checked the handle time")),
        }
    }

    fn sample(&self, rng: &mut Xoshiro256PlusPlus) -> f64 {
        match self {
            ServiceTime::Exponential(d) => d.sample(rng),
            ServiceTime::Lognormal(d) => d.sample(rng),
        }
    }
}

/// Runs replication `replication` from `seed`.
pub fn run(setup: &Setup, seed: u64, replication: u32) -> Result<Replication, SimError> {
    if setup.weeks == 0 {
        return Err(SimError::NoWeeks);
    }
    if setup.warmup_s < 0.0 || setup.warmup_s % 86_400.0 != 0.0 {
        return Err(SimError::PartialDayWarmup);
    }
    let mut sim = Sim::new(setup, seed, replication)?;
    sim.run();
    Ok(sim.finish())
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
    events: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    now: f64,
    end: f64,
    slot_s: f64,
    /// Arrival rate (calls/s) of the current slot, all queues together, times today's factor.
    rate: f64,
    day_factor: f64,
    day_of_factor: i64,
    /// Calls entering the IVR.
    ivr: crate::queue::model::Ivr,
    rng_arrival: Xoshiro256PlusPlus,
    rng_caller: Xoshiro256PlusPlus,
    rng_service: Xoshiro256PlusPlus,
    out: Output,
    cells: Vec<Vec<Cell>>,
    stats: Ivr,
    steps: u64,
    callback_queue: Option<u16>,
    think: Exp<f64>,
    retrial_delay: Exp<f64>,
}

impl<'a> Sim<'a> {
    fn new(setup: &'a Setup<'a>, seed: u64, replication: u32) -> Result<Self, SimError> {
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
        let queues = model
            .queues
            .iter()
            .map(|q| Queue {
                busy: 0,
                prev_staffed: 0,
                slot_start: 0.0,
                waiting: BinaryHeap::new(),
                callbacks: 0,
                service: ServiceTime::new(q),
            })
            .collect();
        let mut rngs = streams(seed, replication, 3).into_iter();
        let mut next = || rngs.next().expect("three streams");
        let slot_s = f64::from(model.slot_min) * 60.0;
        Ok(Sim {
            setup,
            flow,
            model,
            queues,
            names,
            callers: Vec::new(),
            free: Vec::new(),
            events: BinaryHeap::new(),
            seq: 0,
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
            out: Output::default(),
            cells: vec![vec![Cell::default(); HOURS]; model.queues.len()],
            stats: Ivr::default(),
            steps: 0,
            callback_queue,
            think: Exp::new(1.0 / model.callers.think_s.max(0.001)).expect("a positive rate"),
            retrial_delay: Exp::new(1.0 / model.callers.retrial_delay_s.max(1.0)).expect("a positive rate"),
        })
    }

    fn schedule(&mut self, at: f64, kind: Kind) {
        self.seq += 1;
        self.events.push(Reverse(Scheduled { at: at.max(0.0).to_bits(), seq: self.seq, kind }));
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
        while let Some(Reverse(ev)) = self.events.pop() {
            self.now = f64::from_bits(ev.at);
            if self.now >= self.end {
                break;
            }
            match ev.kind {
                Kind::Slot => self.slot(),
                Kind::Arrive => self.arrive(false),
                Kind::Retrial => self.arrive(true),
                Kind::Act(c) => self.act(c),
                Kind::Join(c) => self.join(c),
                Kind::Release(q) => self.release(q),
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
            self.queues[q].prev_staffed = self.model.queues[q].agents.at(before) as u32;
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

    fn arrive(&mut self, retrial: bool) {
        if !retrial {
            // The next arrival of this slot, if it falls inside it.
            let slot_end = (self.now / self.slot_s).floor() * self.slot_s + self.slot_s;
            let next = self.now + Exp::new(self.rate).map_or(f64::INFINITY, |e| e.sample(&mut self.rng_arrival));
            if next < slot_end.min(self.end) {
                self.schedule(next, Kind::Arrive);
            }
        }
        if self.measured() {
            self.stats.calls += 1;
            self.stats.retrials += u64::from(retrial);
        }
        let now_local = self.local(self.now);
        let call = Call::start_into(self.flow, &Start::default(), now_local, &mut self.out);
        self.steps += 1;
        let caller = Caller {
            call,
            entered_ivr: self.now,
            menus_seen: 0,
            epoch: 0,
            at: Where::Ivr,
            pending: Pending::Silence,
            joining: (0, 0),
            habit: {
                let (u, c) = (self.rng_caller.random::<f64>(), &self.model.callers);
                if u < c.silent {
                    Habit::Silent
                } else if u < c.silent + c.mumble {
                    Habit::Mumbling
                } else {
                    Habit::Usual
                }
            },
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.callers[id as usize] = caller;
                id
            }
            None => {
                self.callers.push(caller);
                (self.callers.len() - 1) as u32
            }
        };
        self.after_step(id);
    }

    /// Performs the engine's last output for caller `id`: plays the prompts on the clock, then
    /// schedules the caller's answer or hands them over.
    fn after_step(&mut self, id: u32) {
        let measured = self.measured();
        let mut talk_s = 0.0;
        let mut queue = None;
        for action in &self.out.actions {
            match action {
                Action::Say { duration_ms, .. } | Action::Play { duration_ms, .. } => {
                    talk_s += duration_ms.as_secs_f64()
                }
                Action::Pause { ms } => talk_s += ms.as_secs_f64(),
                Action::Gather(_) => {}
                Action::Enqueue { queue: name, priority } => queue = Some((name.clone(), *priority)),
                Action::Dial { .. } | Action::Record { .. } | Action::Hangup => {}
            }
        }
        if measured {
            for (_, t) in &self.out.trace {
                match t {
                    Trace::Escape => self.stats.zero_outs += 1,
                    Trace::Fallback => self.stats.timeout_fallbacks += 1,
                    Trace::Escalate => self.stats.invalid_escalations += 1,
                    _ => {}
                }
            }
        }
        let caller = &self.callers[id as usize];
        if caller.call.is_listening() {
            let (delay, pending) = self.decide(id);
            self.callers[id as usize].pending = pending;
            self.schedule(self.now + talk_s + delay, Kind::Act(id));
            return;
        }
        // The call left the IVR.
        let ended = self.now + talk_s;
        if measured {
            self.stats.ivr_time_s += ended - caller.entered_ivr;
        }
        if let Some((name, priority)) = queue {
            let q = self.names.iter().position(|n| **n == *name).unwrap_or(0) as u16;
            if measured {
                self.stats.queued += 1;
            }
            self.callers[id as usize].joining = (q, priority);
            self.schedule(ended, Kind::Join(id));
            return;
        }
        let node = self.flow.node(caller.call.node());
        if measured {
            match &node.kind {
                NodeKind::Voicemail { .. } => self.stats.voicemail += 1,
                NodeKind::Dial { .. } => self.stats.transferred += 1,
                _ if !caller.call.is_listening()
                    && caller.call.outcome(self.flow).is_some_and(|o| o.target == "caller") =>
                {
                    self.stats.hung_up_in_ivr += 1
                }
                _ => {}
            }
        }
        let callback = self.model.callers.callback.as_ref().filter(|cb| *node.id == *cb.node);
        match (callback, self.callback_queue) {
            (Some(cb), Some(q)) => {
                if measured {
                    self.stats.callbacks_booked += 1;
                }
                self.schedule(ended + cb.delay_s, Kind::CallbackDue(q));
            }
            _ => {
                if measured && matches!(node.kind, NodeKind::Hangup { .. }) {
                    self.stats.contained += 1;
                }
            }
        }
        self.leave(id);
    }

    fn leave(&mut self, id: u32) {
        self.callers[id as usize].at = Where::Gone;
        self.free.push(id);
    }

    /// Decides what the caller does at the gather the engine just asked, and when: keys,
    /// speech, silence until the timeout, or hanging up.
    fn decide(&mut self, id: u32) -> (f64, Pending) {
        let flow = self.flow;
        let callers = &self.model.callers;
        let caller = &mut self.callers[id as usize];
        let node = flow.node(caller.call.node());
        let first_menu = caller.menus_seen == 0;
        caller.menus_seen += 1;
        let habit = caller.habit;
        let u: f64 = self.rng_caller.random();
        let think = self.think.sample(&mut self.rng_caller);
        match &node.kind {
            NodeKind::Menu(m) => {
                let s = &m.ask.settings;
                // The odds are stacked on one uniform draw; pressing 0 at once applies only at the
                // first menu a caller hears.
                match habit {
                    Habit::Silent => return (s.timeout_ms.as_secs_f64(), Pending::Silence),
                    Habit::Mumbling if m.speech => return (think + 1.5, Pending::Mumble),
                    // Without speech, a caller who cannot follow presses a key the menu lacks.
                    Habit::Mumbling => return (think, Pending::Keys("9".into())),
                    Habit::Usual => {}
                }
                let mut p = 0.0;
                if first_menu && let Some(escape) = s.escape {
                    p = callers.zero_out;
                    if u < p {
                        return (think, Pending::Keys(escape.to_string()));
                    }
                }
                p += callers.hangup;
                if u < p {
                    return (think, Pending::Hangup);
                }
                let key = self.choose(&node.id, m);
                let spoken = m.speech && self.rng_caller.random::<f64>() < callers.speak;
                let phrase = spoken
                    .then(|| m.options.iter().find(|o| o.key == Some(key)).and_then(|o| o.phrases.first()))
                    .flatten();
                match phrase {
                    Some(p) => (think + speech_ms(&p.text).as_secs_f64(), Pending::Speech(p.text.clone())),
                    None => (think, Pending::Keys(key.to_string())),
                }
            }
            NodeKind::Input(i) => {
                if habit == Habit::Silent {
                    return (i.ask.settings.timeout_ms.as_secs_f64(), Pending::Silence);
                }
                if u < callers.hangup {
                    return (think, Pending::Hangup);
                }
                let n = usize::from(i.min_digits.max(1));
                let keys: String = (0..n).map(|_| char::from(b'0' + self.rng_caller.random_range(1..10u8))).collect();
                // About 0.4 s a key, then the finish key.
                (think + 0.4 * (n + 1) as f64, Pending::Keys(keys))
            }
            _ => (0.0, Pending::Silence),
        }
    }

    /// The caller's decided input reaches the engine now.
    fn act(&mut self, id: u32) {
        let pending = std::mem::replace(&mut self.callers[id as usize].pending, Pending::Silence);
        let event = match &pending {
            Pending::Keys(k) => Event::Digits(k),
            Pending::Speech(text) => Event::Speech { text, confidence: 0.9 },
            Pending::Mumble => Event::Speech { text: "м-м, ну это", confidence: 0.5 },
            Pending::Silence => Event::NoInput,
            Pending::Hangup => Event::Hangup,
        };
        let local = self.local(self.now);
        self.callers[id as usize].call.handle_into(self.flow, event, local, &mut self.out);
        self.steps += 1;
        self.after_step(id);
    }

    /// Picks a key by the model's weights for this menu, else uniformly among its keyed options.
    fn choose(&mut self, menu: &str, m: &crate::engine::flow::Menu) -> char {
        if let Some((_, weights)) = self.model.callers.choices.iter().find(|(name, _)| name == menu) {
            let total: f64 = weights.iter().map(|(_, w)| w).sum();
            if total > 0.0 {
                let mut x = self.rng_caller.random::<f64>() * total;
                for (k, w) in weights {
                    if x < *w {
                        return *k;
                    }
                    x -= w;
                }
            }
        }
        let keys: Vec<char> = m.options.iter().filter_map(|o| o.key).collect();
        if keys.is_empty() {
            return '0';
        }
        keys[self.rng_caller.random_range(0..keys.len())]
    }

    fn join(&mut self, id: u32) {
        let (q, priority) = self.callers[id as usize].joining;
        self.enqueue(id, q, priority, self.now);
    }

    fn enqueue(&mut self, id: u32, q: u16, priority: u8, at: f64) {
        let model = &self.model.queues[usize::from(q)];
        let here = (q, at, self.cell(at));
        let caller = &mut self.callers[id as usize];
        caller.epoch += 1;
        let epoch = caller.epoch;
        // After an overflow the caller keeps their first queue, time and cell.
        let (first_queue, first_queued, cell) = match caller.at {
            Where::Waiting { first_queue, first_queued, cell, .. } => (first_queue, first_queued, cell),
            _ => here,
        };
        caller.at = Where::Waiting { queue: q, first_queue, first_queued, cell };
        if let Some(p) = model.patience_s {
            let deadline = first_queued + Exp::new(1.0 / p).map_or(f64::INFINITY, |e| e.sample(&mut self.rng_caller));
            self.schedule(deadline.max(at), Kind::Abandon(id, epoch));
        }
        if let Some(o) = &model.overflow {
            self.schedule(at + o.after_s, Kind::Overflow(id, epoch));
        }
        self.seq += 1;
        let seq = self.seq;
        self.queues[usize::from(q)].waiting.push((priority, Reverse(seq), id));
        self.serve(q);
    }

    /// Free agents of queue `q` take call-backs first, then waiting callers.
    fn serve(&mut self, q: u16) {
        let qi = usize::from(q);
        loop {
            let queue = &self.queues[qi];
            let mut staffed = self.model.queues[qi].agents.at(self.local(self.now)) as u32;
            if staffed < queue.prev_staffed
                && let Some(&(_, _, id)) = queue.waiting.peek()
                && self.callers[id as usize].entered_ivr < queue.slot_start
            {
                staffed = queue.prev_staffed;
            }
            if queue.busy >= staffed {
                break;
            }
            if self.queues[qi].callbacks > 0 {
                self.queues[qi].callbacks -= 1;
                if self.measured() {
                    self.stats.callbacks_done += 1;
                }
                self.start_service(q);
                continue;
            }
            let Some((_, _, id)) = self.queues[qi].waiting.pop() else { break };
            let (first_queue, first_queued, cell) = match self.callers[id as usize].at {
                Where::Waiting { queue, first_queue, first_queued, cell } if queue == q => {
                    (first_queue, first_queued, cell)
                }
                _ => continue, // left already (abandoned or moved)
            };
            self.record(first_queue, cell, self.now - first_queued, true, first_queued);
            self.leave(id);
            self.start_service(q);
        }
    }

    fn start_service(&mut self, q: u16) {
        let qi = usize::from(q);
        let s = self.queues[qi].service.sample(&mut self.rng_service);
        self.queues[qi].busy += 1;
        // Busy time per cell, split at hour boundaries.
        let (mut t, end) = (self.now, self.now + s);
        while t < end && t < self.end {
            let hour_end = ((t - self.setup.warmup_s) / 3600.0).floor() * 3600.0 + 3600.0 + self.setup.warmup_s;
            let upto = hour_end.min(end);
            if t >= self.setup.warmup_s {
                let cell = self.cell(t);
                self.cells[qi][cell].busy_s += upto - t;
            }
            t = upto;
        }
        self.schedule(end, Kind::Release(q));
    }

    fn release(&mut self, q: u16) {
        self.queues[usize::from(q)].busy -= 1;
        self.serve(q);
    }

    fn abandon(&mut self, id: u32, epoch: u32) {
        let caller = &self.callers[id as usize];
        let Where::Waiting { first_queue, first_queued, cell, .. } = caller.at else { return };
        if caller.epoch != epoch {
            return;
        }
        self.record(first_queue, cell, self.now - first_queued, false, first_queued);
        self.leave(id);
        if self.rng_caller.random::<f64>() < self.model.callers.retrial {
            let later = self.now + self.retrial_delay.sample(&mut self.rng_caller);
            self.schedule(later, Kind::Retrial);
        }
    }

    fn overflow(&mut self, id: u32, epoch: u32) {
        let caller = &self.callers[id as usize];
        let Where::Waiting { queue, .. } = caller.at else { return };
        if caller.epoch != epoch {
            return;
        }
        let model = &self.model.queues[usize::from(queue)];
        let Some(to) = model.overflow.as_ref().and_then(|o| self.names.iter().position(|n| *n == o.to)) else { return };
        if self.measured() {
            self.stats.overflowed += 1;
        }
        self.enqueue(id, to as u16, 0, self.now);
    }

    /// Counts a caller who left the queues, in the queue and cell where they first queued
    /// (an overflowed caller stays with the queue that was offered the call).
    fn record(&mut self, first_queue: u16, cell: usize, wait: f64, answered: bool, first_queued: f64) {
        if first_queued < self.setup.warmup_s {
            return;
        }
        let target = self.model.target_s;
        self.cells[usize::from(first_queue)][cell].record(wait, answered, target);
    }

    fn finish(self) -> Replication {
        let in_system = self.callers.iter().filter(|c| !matches!(c.at, Where::Gone)).count() as u64;
        let mut ivr = self.stats;
        ivr.in_system_at_end = in_system;
        Replication { cells: self.cells, ivr, engine_steps: self.steps }
    }
}

/// A weekday-hour of one queue, over all weeks and replications.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CellSummary {
    pub queue: String,
    /// 0 = Monday.
    pub weekday: usize,
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

/// Everything a run of replications measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub weeks: u32,
    pub replications: u32,
    pub cells: Vec<CellSummary>,
    /// IVR totals, per week.
    pub ivr: Ivr,
    /// Totals per queue, per week.
    pub queues: Vec<CellSummary>,
    pub engine_steps: u64,
}

/// Pools replications: counts per week, waits over all callers, confidence intervals from the
/// spread between replications.
pub fn summarize(model: &Model, weeks: u32, reps: &[Replication]) -> Summary {
    let per_week = f64::from(weeks) * reps.len().max(1) as f64;
    let ci = |values: Vec<f64>| -> Option<f64> {
        (values.len() > 1).then(|| super::stats::Estimate::from_samples(&values).ci99)
    };
    let summarize_cell = |name: &str, weekday: usize, hour: usize, cells: Vec<&Cell>| -> CellSummary {
        let mut pooled = Cell::default();
        for c in &cells {
            pooled.add(c);
        }
        CellSummary {
            queue: name.to_owned(),
            weekday,
            hour,
            offered: pooled.offered as f64 / per_week,
            answered: pooled.answered as f64 / per_week,
            abandoned: pooled.abandoned as f64 / per_week,
            mean_wait_s: pooled.mean_wait_s(),
            mean_wait_ci99: ci(cells.iter().filter_map(|c| c.mean_wait_s()).collect()),
            p90_wait_s: pooled.p90_wait_s(),
            service_level: pooled.service_level(),
            service_level_ci99: ci(cells.iter().filter_map(|c| c.service_level()).collect()),
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
                cell / 24,
                cell % 24,
                reps.iter().map(|r| &r.cells[qi][cell]).collect(),
            ));
        }
        let totals: Vec<Cell> = reps
            .iter()
            .map(|r| {
                let mut t = Cell::default();
                r.cells[qi].iter().for_each(|c| t.add(c));
                t
            })
            .collect();
        let mut total = summarize_cell(&q.name, 0, 0, totals.iter().collect());
        total.agents /= HOURS as f64;
        queues.push(total);
    }
    let mut ivr = Ivr::default();
    for r in reps {
        let i = &r.ivr;
        ivr.calls += i.calls;
        ivr.retrials += i.retrials;
        ivr.contained += i.contained;
        ivr.voicemail += i.voicemail;
        ivr.callbacks_booked += i.callbacks_booked;
        ivr.transferred += i.transferred;
        ivr.hung_up_in_ivr += i.hung_up_in_ivr;
        ivr.queued += i.queued;
        ivr.zero_outs += i.zero_outs;
        ivr.timeout_fallbacks += i.timeout_fallbacks;
        ivr.invalid_escalations += i.invalid_escalations;
        ivr.ivr_time_s += i.ivr_time_s;
        ivr.overflowed += i.overflowed;
        ivr.callbacks_done += i.callbacks_done;
        ivr.in_system_at_end += i.in_system_at_end;
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
