//! Callers in the IVR: how they arrive, what they decide at each gather (keys, speech,
//! silence, hanging up, with the model's odds), and how the engine's actions play out on the
//! virtual clock until the caller leaves the IVR or joins a queue.

use rand::Rng;
use rand_distr::{Distribution, Exp};

use super::Sim;
use super::events::Kind;
use crate::engine::call::Fetched;
use crate::engine::flow::Fetch;
use crate::engine::flow::speech_ms;
use crate::engine::{Action, Call, Event, NodeKind, Start, Trace};
use crate::events::Before;
use crate::queue::model::FetchOdds;

#[derive(Clone, Debug)]
pub(super) enum Where {
    Ivr,
    /// Waiting in a queue: which, since when it first queued, and the epoch that invalidates
    /// stale abandon and overflow events after a move.
    Waiting {
        queue: u16,
        /// When the caller joined this queue.
        since: f64,
        first_queue: u16,
        first_queued: f64,
        cell: usize,
    },
    /// Talking to an agent.
    Served,
    Gone,
}

pub(super) struct Caller {
    pub(super) call: Call,
    pub(super) entered_ivr: f64,
    pub(super) menus_seen: u32,
    pub(super) epoch: u32,
    pub(super) at: Where,
    /// What the caller will do when their `Act` event comes.
    pub(super) pending: Pending,
    /// The queue and priority the IVR handed the caller to, until they `Join` it.
    pub(super) joining: (u16, u8),
    pub(super) habit: Habit,
    /// The call's event log, when the run writes one and the call started after the warm-up.
    pub(super) logged: Option<Box<super::log::Logged>>,
    /// Talked to an agent already: what follows in the flow (the queue's `after`) is not the
    /// IVR's outcome of the call.
    pub(super) served: bool,
}

/// Callers who stay silent or cannot make themselves understood do so at every menu, which is
/// what makes timeout fallbacks and escalations happen.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Habit {
    Usual,
    Silent,
    Mumbling,
}

/// A caller's decided input.
pub(super) enum Pending {
    Keys(String),
    Speech(std::sync::Arc<str>),
    Mumble,
    Silence,
    Hangup,
}

impl Sim<'_> {
    pub(super) fn arrive(&mut self, retrial: bool) {
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
        // Every simulated caller has a number, so a `callback` node books as a real one would.
        let call = Call::start_into(self.flow, &Start { caller: Some("+0"), language: None }, now_local, &mut self.out);
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
            logged: None,
            served: false,
        };
        let id = match self.free.pop() {
            Some(id) => {
                // The slot keeps counting epochs: abandon and overflow events still scheduled
                // for its previous caller must not match the new one.
                let epoch = self.callers[id as usize].epoch;
                self.callers[id as usize] = Caller { epoch, ..caller };
                id
            }
            None => {
                self.callers.push(caller);
                (self.callers.len() - 1) as u32
            }
        };
        if self.measured() {
            self.log_start(id);
        }
        self.after_step(id);
    }

    /// Answers the `fetch` requests of caller `id`'s last output as the model's `[fetch]` odds
    /// say (at once and successfully without them), and its call-back bookings at once (the
    /// model's `callback` books the call-back's work); returns how long the caller waited for
    /// the answers. A successful answer has a value for every JSON pointer the node stores. The
    /// prompts before and after each request stay in one output.
    fn answer_fetches(&mut self, id: u32) -> f64 {
        let local = self.local(self.now);
        let mut waited_s = 0.0;
        loop {
            // The request goes out when the prompts before it have played.
            let offset_s = prompts_s(&self.out.actions) + waited_s;
            let waited_before = waited_s;
            let json;
            let event = if self.out.fetch.take().is_some() {
                let NodeKind::Fetch(f) = &self.flow.node(self.callers[id as usize].call.node()).kind else { break };
                let odds = self.model.fetch_odds(&self.flow.node(self.callers[id as usize].call.node()).id);
                let (answer_json, status, latency_s) = match odds {
                    Some(odds) => self.backend(f, odds),
                    None => (answer(f, None, &mut self.rng_backend), Some(200), 0.0),
                };
                if self.measured() {
                    match status {
                        Some(200) => self.stats.fetch_ok += 1,
                        Some(404) => self.stats.fetch_not_found += 1,
                        _ => self.stats.fetch_failed += 1,
                    }
                }
                waited_s += latency_s;
                json = answer_json;
                Event::Fetched(Fetched { status, json: Some(&json), ms: (latency_s * 1000.0).round() as u32 })
            } else if self.out.book.take().is_some() {
                Event::Booked(true)
            } else {
                break;
            };
            let (actions, trace) = (std::mem::take(&mut self.out.actions), std::mem::take(&mut self.out.trace));
            let before = Before::of(&self.callers[id as usize].call);
            self.callers[id as usize].call.handle_into(self.flow, event, local, &mut self.out);
            self.log_step(id, Some(before), Some(event), offset_s + waited_s - waited_before);
            let later = std::mem::replace(&mut self.out.actions, actions);
            self.out.actions.extend(later);
            let later = std::mem::replace(&mut self.out.trace, trace);
            self.out.trace.extend(later);
        }
        waited_s
    }

    /// A backend's answer to fetch node `f` with `odds`: the JSON, the HTTP status (`None`: a
    /// timeout) and how long it took.
    fn backend(&mut self, f: &Fetch, odds: &FetchOdds) -> (serde_json::Value, Option<u16>, f64) {
        let rng = &mut self.rng_backend;
        let latency_s =
            if odds.latency_s > 0.0 { Exp::new(1.0 / odds.latency_s).map_or(0.0, |e| e.sample(rng)) } else { 0.0 };
        let timeout_s = f.timeout_ms.as_secs_f64();
        if latency_s >= timeout_s {
            return (serde_json::Value::Null, None, timeout_s);
        }
        let u: f64 = rng.random();
        let status = if u < odds.not_found {
            404
        } else if u < odds.not_found + odds.failed {
            500
        } else {
            return (answer(f, Some(odds), rng), Some(200), latency_s);
        };
        (serde_json::Value::Null, Some(status), latency_s)
    }

    /// Performs the engine's last output for caller `id`: plays the prompts on the clock, then
    /// schedules the caller's answer or hands them over.
    fn after_step(&mut self, id: u32) {
        let fetch_wait_s = self.answer_fetches(id);
        let measured = self.measured();
        let talk_s = prompts_s(&self.out.actions) + fetch_wait_s;
        let queue = self.out.actions.iter().find_map(|a| match a {
            Action::Enqueue { queue: name, priority } => Some((name.clone(), *priority)),
            _ => None,
        });
        if measured {
            for (_, t) in &self.out.trace {
                match t {
                    Trace::Escape => self.stats.zero_outs += 1,
                    Trace::Fallback => self.stats.timeout_fallbacks += 1,
                    Trace::Escalate => self.stats.invalid_escalations += 1,
                    Trace::Rated(score) => {
                        self.stats.ratings += 1;
                        self.stats.rating_sum += u64::from(*score);
                    }
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
        // The call left the IVR (or the flow after a conversation).
        let ended = self.now + talk_s;
        let served = caller.served;
        if measured && !served {
            self.stats.ivr_time_s += ended - caller.entered_ivr;
        }
        if let Some((name, priority)) = queue {
            let q = self.names.iter().position(|n| **n == *name).unwrap_or(0) as u16;
            if measured && served {
                self.stats.requeued += 1;
            } else if measured {
                self.stats.queued += 1;
            }
            self.callers[id as usize].joining = (q, priority);
            self.schedule(ended, Kind::Join(id));
            return;
        }
        let node = self.flow.node(caller.call.node());
        if served {
            self.log_completed(id, ended);
            self.leave(id);
            return;
        }
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
        self.log_completed(id, ended);
        self.leave(id);
    }

    /// The agent finished with caller `id`: the call goes on at the queue's `after` node, else
    /// it ends.
    pub(super) fn conversation_ended(&mut self, id: u32) {
        let Some(event) = self.callers[id as usize].call.conversation_end(self.flow) else {
            self.log_completed(id, self.now);
            return self.leave(id);
        };
        let local = self.local(self.now);
        let caller = &mut self.callers[id as usize];
        caller.served = true;
        caller.at = Where::Ivr;
        let before = Before::of(&caller.call);
        caller.call.handle_into(self.flow, event, local, &mut self.out);
        self.log_step(id, Some(before), Some(event), 0.0);
        self.steps += 1;
        self.after_step(id);
    }

    pub(super) fn leave(&mut self, id: u32) {
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
        // Impatient callers press 0 on arriving, not after a conversation.
        let first_menu = caller.menus_seen == 0 && !caller.served;
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
    pub(super) fn act(&mut self, id: u32) {
        let pending = std::mem::replace(&mut self.callers[id as usize].pending, Pending::Silence);
        let event = match &pending {
            Pending::Keys(k) => Event::Digits(k),
            Pending::Speech(text) => Event::Speech { text, confidence: 0.9 },
            Pending::Mumble => Event::Speech { text: "м-м, ну это", confidence: 0.5 },
            Pending::Silence => Event::NoInput,
            Pending::Hangup => Event::Hangup,
        };
        let local = self.local(self.now);
        let before = Before::of(&self.callers[id as usize].call);
        self.callers[id as usize].call.handle_into(self.flow, event, local, &mut self.out);
        self.log_step(id, Some(before), Some(event), 0.0);
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
}

/// How long the prompts and pauses of `actions` take to play.
fn prompts_s(actions: &[Action]) -> f64 {
    actions
        .iter()
        .map(|a| match a {
            Action::Say { duration_ms, .. } | Action::Play { duration_ms, .. } => duration_ms.as_secs_f64(),
            Action::Pause { ms } => ms.as_secs_f64(),
            _ => 0.0,
        })
        .sum()
}

/// A successful answer to fetch node `f`: each pointer it stores gets a value drawn by the
/// odds' weights, else "1".
fn answer(f: &Fetch, odds: Option<&FetchOdds>, rng: &mut impl Rng) -> serde_json::Value {
    let mut json = serde_json::Value::Null;
    for (_, pointer) in &f.store {
        let weighted = odds.and_then(|o| o.values.iter().find(|(p, _)| **p == **pointer)).map(|(_, v)| v);
        let value = weighted.and_then(|values| {
            let mut x = rng.random::<f64>() * values.iter().map(|(_, w)| w).sum::<f64>();
            values.iter().find(|(_, w)| {
                x -= w;
                x < 0.0
            })
        });
        answer_at(&mut json, pointer, value.map_or("1", |(v, _)| v.as_str()));
    }
    json
}

/// Puts `value` at `pointer` in `json`, making the objects on the way (`~1` and `~0` decoded).
fn answer_at(json: &mut serde_json::Value, pointer: &str, value: &str) {
    let mut at = json;
    for token in pointer.split('/').skip(1) {
        let key = token.replace("~1", "/").replace("~0", "~");
        if !at.is_object() {
            *at = serde_json::Value::Object(serde_json::Map::new());
        }
        let serde_json::Value::Object(object) = at else { return };
        at = object.entry(key).or_insert(serde_json::Value::Null);
    }
    if at.is_null() {
        *at = serde_json::Value::from(value);
    }
}
