//! Per-call summaries and tallies: what `report` needs, so that a report reads a few thousand
//! rows instead of every event.
//!
//! Pure: a call's events in, its summary out (the SQL is in [`tables`](super::tables)).
//! - `calls`: one row per call, its [`CallState`] (the fold of its events, with what it adds to
//!   the tallies) plus the columns a report filters on and `time_to_person`'s value;
//! - `tallies`: counts per (flow, simulated, 15-minute bucket of the call's start, what, name,
//!   value): a call's outcome, its nodes' counters, its queues' counters and histograms (the
//!   waits in whole seconds, as providers give them, so their percentiles are exact). A report
//!   sums the buckets it covers; a bucket only partly covered by `--since`/`--until` is read
//!   from the events of its calls instead, so the result is exact.
//!
//! A call is always summarised from all its events in `seq` order, the way
//! [`report::Builder`](super::report::Builder) reads them, so late or reordered events need no
//! special case: summarising a call again takes back what its previous summary counted
//! ([`Tallies::count`]) and counts the new one.

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
    /// When the call's first event read by a report (the lowest `seq`) happened.
    pub start_ms: i64,
    /// The outcome (1 queue, 2 dial, 3 voicemail, 4 call-back) of the highest `seq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<(u32, u8)>,
    /// The lowest `seq` of an outcome or `flow_ended`: a hang-up without a node after it is no
    /// hang-up in the IVR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_seq: Option<u32>,
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
    /// What the call adds to `tallies` (`what`, `name`, `value`, `n`; its flow, `simulated`
    /// and bucket are the call's): taken back when the call is summarised again.
    #[serde(default)]
    pub tallies: Vec<(String, String, i64, i64)>,
}

impl CallState {
    /// A call whose first event (lowest `seq`) is `first`.
    fn new(first: &Event) -> CallState {
        CallState {
            flow: first.flow.to_string(),
            simulated: first.simulated,
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
    fn call_tallies(&self, tallies: &mut Tallies) {
        tallies.add(self.key(CALLS, "", self.code()), 1);
        for (queue, own) in &self.abandoned {
            let waited = self.waiting.iter().find(|(q, _, _)| q == queue).map(|&(_, _, p)| p);
            if let Some(position) = own.or(waited) {
                tallies.add(self.key("position", queue, i64::from(position)), 1);
            }
        }
    }

    /// Folds one event in (in `seq` order); `tallies` gets what it adds to the per-event counters.
    fn apply(&mut self, e: &Event, tallies: &mut Tallies) {
        let seq = e.seq;
        let node = e.node.as_deref();
        let bump_value = |s: &CallState, tallies: &mut Tallies, what: &'static str, value: i64| {
            if let Some(id) = node {
                tallies.add(s.key(what, id, value), 1);
            }
        };
        let mut bump = |s: &CallState, what: &'static str| bump_value(s, tallies, what, 0);
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
                    self.last_node = Some((seq, e.node.as_deref().map(str::to_owned)));
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
            Kind::Rated { score } => bump_value(self, tallies, "rated", i64::from(*score)),
            Kind::Fetched { result, ms, .. } => {
                bump_value(self, tallies, "fetch_result", super::report::fetch_result(result));
                bump_value(self, tallies, "fetch_ms", i64::from(*ms));
            }
            &Kind::QueueLeft { ref queue, result, queue_time_s, last_position } => {
                tallies.add(self.key("wait", queue, i64::from(queue_time_s)), 1);
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

/// Every tally's `what`, so a call's stored contribution names them again.
pub const WHATS: [&str; 16] = [
    CALLS,
    "entered",
    "escapes",
    "timeouts",
    "invalid",
    "escalations",
    "hangups",
    "joined",
    "announced",
    "answered",
    "abandoned",
    "position",
    "wait",
    "rated",
    "fetch_result",
    "fetch_ms",
];

/// Changes to `tallies`, summed over a batch.
#[derive(Debug, Default)]
pub struct Tallies(pub HashMap<TallyKey, i64>);

impl Tallies {
    fn add(&mut self, key: TallyKey, n: i64) {
        *self.0.entry(key).or_insert(0) += n;
    }

    /// Adds (`sign` 1) or takes back (-1) what a call's summary counts.
    pub fn count(&mut self, state: &CallState, sign: i64) {
        for (what, name, value, n) in &state.tallies {
            // A `what` this build does not know came from no build: the state is checked on read.
            if let Some(what) = WHATS.iter().find(|w| *w == what) {
                self.add(state.key(what, name, *value), sign * n);
            }
        }
    }

    /// The changes that are not zero.
    pub fn changes(&self) -> impl Iterator<Item = (&TallyKey, i64)> {
        self.0.iter().filter(|(_, n)| **n != 0).map(|(k, n)| (k, *n))
    }
}

/// What a catch-up changes in the summary of one call.
#[derive(Debug)]
pub struct CallChange {
    pub call_id: String,
    pub provider: String,
    /// The summary of all the call's events; `None` when it has none a report reads.
    pub state: Option<CallState>,
}

/// The summary of all of a call's events (`events` in `seq` order, report kinds only), with
/// what it adds to the tallies in [`CallState::tallies`].
pub fn summarize<'e>(events: impl IntoIterator<Item = &'e Event>) -> Option<CallState> {
    let mut events = events.into_iter().peekable();
    let mut state = CallState::new(events.peek()?);
    let mut tallies = Tallies::default();
    for e in events {
        state.apply(e, &mut tallies);
    }
    state.call_tallies(&mut tallies);
    let mut counted: Vec<(String, String, i64, i64)> =
        tallies.0.into_iter().map(|(k, n)| (k.what.to_owned(), k.name, k.value, n)).collect();
    counted.sort_unstable();
    state.tallies = counted;
    Some(state)
}
