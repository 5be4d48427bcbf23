//! Per-call summaries and tallies: what `report` needs, kept by the writer so that a report
//! reads a few thousand rows instead of every event.
//!
//! Pure: events in, changes to three tables out (the SQL is in [`store`](super::store)).
//! - `calls`: one row per call, its [`CallState`] (the fold of its events) plus the columns a
//!   report filters on and `time_to_person`'s value;
//! - `queue_stays`: one row per `queue_left`, for the exact wait percentiles;
//! - `tallies`: counts per (flow, simulated, 15-minute bucket of the call's start, what, name,
//!   value): a call's outcome, its nodes' counters, its queues' counters and histograms. A
//!   report sums the buckets it covers; a bucket only partly covered by `--since`/`--until`
//!   is read from the events of its calls instead, so the result is exact.
//!
//! Every figure is the one [`report::Builder`](super::report::Builder) would compute from the
//! call's events in `seq` order. Most of them do not depend on the order events arrive in (sums,
//! or the value of the lowest or highest `seq`); the exceptions are a call's start and a hang-up
//! logged without a node (the status callback's), which counts only if nothing before it in
//! `seq` order reached a person, and at the last node entered before it. When a batch brings an
//! event that would change those, the call is [`Rebuild`]t from all its stored events instead.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Event, Kind, QueueResult};

/// The width of a tally's bucket: every time zone's offset is a multiple of it, so a bucket
/// falls in one local hour wherever the report is read.
pub const BUCKET_MS: i64 = 15 * 60 * 1000;

/// The bucket of a call starting at `start_ms`.
pub fn bucket(start_ms: i64) -> i64 {
    start_ms.div_euclid(BUCKET_MS)
}

/// A call folded so far. Stored as JSON in `calls.state`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CallState {
    pub flow: String,
    pub simulated: bool,
    /// The call's first event read by a report (the lowest `seq`): when and which.
    pub start_seq: u32,
    pub start_ms: i64,
    /// The outcome (1 queue, 2 dial, 3 voicemail, 4 call-back) of the highest `seq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<(u32, u8)>,
    /// The lowest `seq` of an outcome or `flow_ended`: a hang-up without a node after it is no
    /// hang-up in the IVR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_seq: Option<u32>,
    /// The highest `seq` of the events a node-less hang-up's meaning depends on (nodes entered,
    /// outcomes, `flow_ended`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_seq: Option<u32>,
    /// The highest `seq` of a node-less hang-up counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hangup_seq: Option<u32>,
    /// The caller hung up in the IVR.
    #[serde(default)]
    pub hung_up: bool,
    /// The node entered last (highest `seq`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_node: Option<(u32, Option<String>)>,
    /// The first queue joined or number dialled (lowest `seq`): its `seq` and time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<(u32, i64)>,
    #[serde(default)]
    pub queued: bool,
    /// Each queue's last position from `queue_waiting` (highest `seq`): queue, seq, position.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<(String, u32, u32)>,
    /// The queues the caller abandoned, with `queue_left`'s own last position.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub abandoned: Vec<(String, Option<u32>)>,
}

impl CallState {
    /// A call whose first event (lowest `seq`) is `first`.
    fn new(first: &Event) -> CallState {
        CallState {
            flow: first.flow.clone(),
            simulated: first.simulated,
            start_seq: first.seq,
            start_ms: first.at.timestamp_millis(),
            ..CallState::default()
        }
    }

    /// From start to the first queue or transfer, never negative (as the report counts it).
    pub fn to_person_ms(&self) -> Option<i64> {
        self.person.map(|(_, at)| (at - self.start_ms).max(0))
    }

    /// The `calls` tally's value: outcome, hung up and queued in one number.
    pub fn code(&self) -> i64 {
        let outcome = self.outcome.map_or(0, |(_, o)| i64::from(o));
        outcome | i64::from(self.hung_up) << 3 | i64::from(self.queued) << 4
    }

    fn key(&self, what: &'static str, name: &str, value: i64) -> TallyKey {
        TallyKey {
            flow: self.flow.clone(),
            simulated: self.simulated,
            bucket: bucket(self.start_ms),
            what,
            name: name.to_owned(),
            value,
        }
    }

    /// The tallies that depend on the whole call: its outcome and where abandoned callers stood.
    fn call_tallies(&self, sign: i64, tallies: &mut Tallies) {
        tallies.add(self.key(CALLS, "", self.code()), sign);
        for (queue, own) in &self.abandoned {
            let waited = self.waiting.iter().find(|(q, _, _)| q == queue).map(|&(_, _, p)| p);
            if let Some(position) = own.or(waited) {
                tallies.add(self.key("position", queue, i64::from(position)), sign);
            }
        }
    }

    /// Whether `events` (new to this call) can be folded in, or the call must be rebuilt.
    pub fn takes(&self, events: &[&Event]) -> bool {
        events.iter().all(|e| {
            let lower = |seq: Option<u32>| seq.is_some_and(|s| e.seq < s);
            !(e.seq < self.start_seq
                || (orders(&e.kind) && lower(self.hangup_seq))
                || (is_nodeless_hangup(e) && lower(self.order_seq)))
        })
    }

    /// Folds one event in; `tallies` gets what it adds to the per-event counters, `stays` its
    /// queue stay.
    fn apply(&mut self, e: &Event, tallies: &mut Tallies, stays: &mut Vec<Stay>) {
        let seq = e.seq;
        let node = e.node.as_deref();
        let mut bump = |s: &CallState, what: &'static str| {
            if let Some(id) = node {
                tallies.add(s.key(what, id, 0), 1);
            }
        };
        if orders(&e.kind) {
            self.order_seq = self.order_seq.max(Some(seq));
        }
        let outcome = match &e.kind {
            Kind::QueueJoined { .. } => Some(1),
            Kind::Dialled { .. } => Some(2),
            Kind::Voicemail { .. } => Some(3),
            Kind::CallbackRequested { .. } => Some(4),
            _ => None,
        };
        if let Some(o) = outcome {
            if self.outcome.is_none_or(|(s, _)| seq > s) {
                self.outcome = Some((seq, o));
            }
            self.end_seq = Some(self.end_seq.map_or(seq, |s| s.min(seq)));
        }
        if matches!(e.kind, Kind::QueueJoined { .. } | Kind::Dialled { .. }) && self.person.is_none_or(|(s, _)| seq < s)
        {
            self.person = Some((seq, e.at.timestamp_millis()));
        }
        match &e.kind {
            Kind::NodeEntered {} => {
                bump(self, "entered");
                if self.last_node.as_ref().is_none_or(|(s, _)| seq > *s) {
                    self.last_node = Some((seq, e.node.clone()));
                }
            }
            Kind::Escape {} => bump(self, "escapes"),
            Kind::TimeoutFallback {} => bump(self, "timeouts"),
            Kind::InvalidInput { .. } => bump(self, "invalid"),
            Kind::Escalation {} => bump(self, "escalations"),
            Kind::FlowEnded {} => self.end_seq = Some(self.end_seq.map_or(seq, |s| s.min(seq))),
            Kind::CallerHungUp {} => {
                // The status callback's hang-up follows a queue, a transfer or the flow's own
                // goodbye for many calls: only one before them is a hang-up in the IVR.
                if node.is_none() && self.end_seq.is_some_and(|s| s < seq) {
                    return;
                }
                self.hung_up = true;
                if node.is_none() {
                    self.hangup_seq = self.hangup_seq.max(Some(seq));
                }
                let at = node.map(str::to_owned).or_else(|| self.last_node.clone().and_then(|(_, n)| n));
                if let Some(id) = at {
                    tallies.add(self.key("hangups", &id, 0), 1);
                }
            }
            Kind::QueueJoined { queue, announced_wait_min } => {
                self.queued = true;
                tallies.add(self.key("joined", queue, 0), 1);
                if let Some(min) = announced_wait_min {
                    tallies.add(self.key("announced", queue, i64::from(*min)), 1);
                }
            }
            Kind::QueueWaiting { queue, position, .. } => match self.waiting.iter_mut().find(|(q, _, _)| q == queue) {
                Some(last) if seq > last.1 => (last.1, last.2) = (seq, *position),
                Some(_) => {}
                None => self.waiting.push((queue.clone(), seq, *position)),
            },
            &Kind::QueueLeft { ref queue, result, queue_time_s, last_position } => {
                stays.push(Stay { seq, queue: queue.clone(), wait_s: queue_time_s });
                match result {
                    QueueResult::Bridged => tallies.add(self.key("answered", queue, 0), 1),
                    QueueResult::Hangup => {
                        tallies.add(self.key("abandoned", queue, 0), 1);
                        self.abandoned.push((queue.clone(), last_position));
                    }
                    QueueResult::Redirected | QueueResult::Error => {}
                }
            }
            _ => {}
        }
    }
}

/// The `calls` tally's `what`.
pub const CALLS: &str = "calls";

/// Events whose `seq` order a node-less hang-up's meaning depends on.
fn orders(kind: &Kind) -> bool {
    matches!(
        kind,
        Kind::NodeEntered {}
            | Kind::QueueJoined { .. }
            | Kind::Dialled { .. }
            | Kind::Voicemail { .. }
            | Kind::CallbackRequested { .. }
            | Kind::FlowEnded {}
    )
}

fn is_nodeless_hangup(e: &Event) -> bool {
    e.node.is_none() && matches!(e.kind, Kind::CallerHungUp {})
}

/// A row of `tallies` but its count.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TallyKey {
    pub flow: String,
    pub simulated: bool,
    pub bucket: i64,
    pub what: &'static str,
    pub name: String,
    pub value: i64,
}

/// Changes to `tallies`, summed over a batch.
#[derive(Debug, Default)]
pub struct Tallies(pub HashMap<TallyKey, i64>);

impl Tallies {
    fn add(&mut self, key: TallyKey, n: i64) {
        *self.0.entry(key).or_insert(0) += n;
    }

    /// The changes that are not zero.
    pub fn changes(&self) -> impl Iterator<Item = (&TallyKey, i64)> {
        self.0.iter().filter(|(_, n)| **n != 0).map(|(k, n)| (k, *n))
    }
}

/// A row of `queue_stays`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stay {
    pub seq: u32,
    pub queue: String,
    pub wait_s: u32,
}

/// What a batch changes in the summaries of one call.
#[derive(Debug)]
pub struct CallChange {
    pub call_id: String,
    pub provider: String,
    pub state: CallState,
    /// The call's stays were all rewritten (a rebuild): delete the stored ones first.
    pub rebuilt: bool,
    /// Stays to insert (all of the call's after a rebuild).
    pub stays: Vec<Stay>,
}

/// A call to rebuild: its stored events, in `seq` order, with the batch's among them.
pub struct Rebuild<'a> {
    pub stored: &'a [Event],
    /// The batch's `seq`s for this call (new events, already among `stored`).
    pub new: &'a [u32],
}

/// The summary of all of a call's events (`events` in `seq` order, report kinds only).
fn fold_all<'e>(events: impl IntoIterator<Item = &'e Event>, tallies: &mut Tallies) -> Option<(CallState, Vec<Stay>)> {
    let mut events = events.into_iter().peekable();
    let mut state = CallState::new(events.peek()?);
    let mut stays = Vec::new();
    for e in events {
        state.apply(e, tallies, &mut stays);
    }
    state.call_tallies(1, tallies);
    Some((state, stays))
}

/// Folds one call's new events (report kinds only, sorted by `seq`) into its stored state,
/// adding the changes to `tallies`. `None` from `rebuild` asks for the call's stored events:
/// the caller reads them and calls [`rebuild`] instead.
pub fn fold(
    call_id: &str,
    provider: &str,
    stored: Option<CallState>,
    events: &[&Event],
    tallies: &mut Tallies,
) -> Option<CallChange> {
    let (stored, mut stays) = match stored {
        Some(state) if !state.takes(events) => return None,
        Some(state) => {
            state.call_tallies(-1, tallies);
            (state, Vec::new())
        }
        None => (CallState::new(events.first()?), Vec::new()),
    };
    let mut state = stored;
    for e in events {
        state.apply(e, tallies, &mut stays);
    }
    state.call_tallies(1, tallies);
    Some(CallChange { call_id: call_id.to_owned(), provider: provider.to_owned(), state, rebuilt: false, stays })
}

/// A call's summary rebuilt from all its stored events: the tallies of the events it had
/// before the batch are taken back, those of all its events added.
pub fn rebuild(call_id: &str, provider: &str, call: &Rebuild, tallies: &mut Tallies) -> Option<CallChange> {
    let mut before = Tallies::default();
    fold_all(call.stored.iter().filter(|e| !call.new.contains(&e.seq)), &mut before);
    for (key, n) in before.0 {
        tallies.add(key, -n);
    }
    let (state, stays) = fold_all(call.stored, tallies)?;
    Some(CallChange { call_id: call_id.to_owned(), provider: provider.to_owned(), state, rebuilt: true, stays })
}

/// Summaries of whole calls, for a back-fill: each call's events together, in `seq` order.
pub struct Backfill {
    pub tallies: Tallies,
    pub calls: Vec<CallChange>,
    current: Vec<Event>,
}

impl Backfill {
    pub fn new() -> Backfill {
        Backfill { tallies: Tallies::default(), calls: Vec::new(), current: Vec::new() }
    }

    /// Takes the next event (of a report kind).
    pub fn push(&mut self, e: &Event) {
        if self.current.first().is_some_and(|c| c.call_id != e.call_id || c.provider != e.provider) {
            self.close();
        }
        self.current.push(e.clone());
    }

    fn close(&mut self) {
        let events = std::mem::take(&mut self.current);
        if let Some((state, stays)) = fold_all(&events, &mut self.tallies) {
            let first = &events[0];
            self.calls.push(CallChange {
                call_id: first.call_id.clone(),
                provider: first.provider.clone(),
                state,
                rebuilt: true,
                stays,
            });
        }
    }

    pub fn finish(mut self) -> (Vec<CallChange>, Tallies) {
        self.close();
        (self.calls, self.tallies)
    }
}

impl Default for Backfill {
    fn default() -> Self {
        Backfill::new()
    }
}
