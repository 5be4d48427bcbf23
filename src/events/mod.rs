//! The durable call-event log: every step of every call as a row in SQLite or PostgreSQL.
//!
//! A driver turns what happened in a call into [`Event`]s (the engine's [`Output`] through
//! [`events_of`], the provider's news such as a caller leaving a queue by hand) and hands them
//! to a [`Writer`], which never makes the caller wait: a bounded queue, one background thread,
//! batched transactions, and events dropped and counted when the database cannot keep up.
//! [`Store`] is the database itself: migrations, batched inserts, reads in call order,
//! retention and the per-call CSV that `fit` reads. The schema and what is kept about callers
//! are documented in `docs/events.md`.
//!
//! This is a driver-side module: the engine never names it, and nothing here runs during a
//! webhook request except [`Writer::record`], which only tries to queue.

pub mod callbacks;
mod conn;
pub mod report;
pub mod store;
pub mod summary;
mod tables;
pub mod writer;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::engine::call::BUILTIN_VARS;
use crate::engine::{Action, Call, Flow, NodeId, NodeKind, Output, Trace};

pub use store::{DbUrl, ExportSummary, Filter, Store};
pub use writer::{Sink, Stats, Writer, WriterConfig};

/// What can go wrong with the event log.
#[derive(Debug, thiserror::Error)]
pub enum EventLogError {
    #[error("`{0}` is not an event-log URL: use sqlite://PATH, postgres://… or none")]
    BadUrl(String),
    #[error("cannot open the SQLite event log {}: {source}", path.display())]
    SqliteOpen { path: PathBuf, source: rusqlite::Error },
    #[error("SQLite event log: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL event log: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("the event log's schema is at version {found}, newer than this build knows ({known})")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("a stored event cannot be read: {0}")]
    BadRow(String),
    #[error("cannot write the export: {0}")]
    Export(#[from] csv::Error),
    #[error("event log I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A [`Sink`] other than [`Store`] could not write.
    #[error("the event log is unavailable: {0}")]
    Unavailable(String),
}

/// One thing that happened in one call.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The provider's id for the call (Twilio's `CallSid`).
    pub call_id: Arc<str>,
    /// Whose call id it is: `twilio`, or `sim` for simulated calls.
    pub provider: Arc<str>,
    pub flow: Arc<str>,
    /// `Flow::version` of the flow the call runs on.
    pub flow_version: u64,
    /// The event's place in its call, from 0; carried with the call's state so that order holds
    /// when instances alternate.
    pub seq: u32,
    /// When it happened, in UTC, with millisecond precision (see [`at_ms`]).
    pub at: DateTime<Utc>,
    /// The node the call was at, by its id in the flow; `None` before the first node.
    pub node: Option<Arc<str>>,
    pub kind: Kind,
    /// Written by the simulator rather than by a real call.
    pub simulated: bool,
}

/// `at` truncated to whole milliseconds, as the log keeps it.
pub fn at_ms(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

/// What an event is, with its details. Stored as the snake_case word of the variant in `kind`
/// and the fields as a JSON object in `details` (`{}` for kinds without fields), keys in
/// alphabetical order: each variant declares its fields in that order. Unknown fields
/// are ignored when reading, so a later build may add details without breaking older readers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "details", rename_all = "snake_case")]
pub enum Kind {
    /// The call reached the flow. `caller` is the number as [`CallerNumbers`] says to keep it.
    CallStarted {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caller: Option<String>,
    },
    NodeEntered {},
    /// A prompt was played or spoken. Its text is not kept: it may contain what the caller
    /// entered or their number.
    PromptPlayed {
        duration_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
    /// Keys pressed. At a `sensitive` input node the keys themselves are withheld (card
    /// numbers, PINs): only their count is kept.
    Digits {
        count: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keys: Option<String>,
    },
    /// Recognised speech; the text is withheld at a `sensitive` input node, as keys are.
    Speech {
        /// The recogniser's confidence, to three decimals.
        confidence: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// The gather timed out in silence.
    NoInput {},
    /// An entry the node does not accept; `unintelligible` when speech was below the node's
    /// confidence threshold.
    InvalidInput {
        #[serde(default)]
        unintelligible: bool,
    },
    /// The escape key or an operator phrase.
    Escape {},
    /// Silence after the last re-prompt sent the caller to the node's fallback.
    TimeoutFallback {},
    /// Wrong entries reached the limit and sent the caller to the node's escalation.
    Escalation {},
    /// The engine sent the caller to the operator: the flow looped without asking (`loop`), or
    /// the call's state belonged to another flow version (`stale_version`).
    SentToOperator {
        reason: String,
    },
    /// The caller was put in a queue; `announced_wait_min` is the wait they were told, if any.
    QueueJoined {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        announced_wait_min: Option<u32>,
        queue: String,
    },
    /// A queued caller's wait URL was requested: where they stood then (`position`, 1 is
    /// next) and the wait they were told, if any. Logged by [`queue_waiting`], numbered apart
    /// from the call's other events.
    QueueWaiting {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        announced_wait_min: Option<u32>,
        position: u32,
        queue: String,
    },
    /// The caller left a queue.
    QueueLeft {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_position: Option<u32>,
        queue: String,
        queue_time_s: u32,
        result: QueueResult,
    },
    /// The caller was transferred to a number of the flow's.
    Dialled {
        number: String,
    },
    /// The caller was put through to a mailbox.
    Voicemail {
        mailbox: String,
    },
    /// The caller asked to be called back instead of waiting.
    CallbackRequested {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queue: Option<String>,
    },
    /// The caller hung up; `node` says where, when the engine saw it. The status callback logs
    /// it without a node for every call the caller ended, so a reader counts it as a hang-up in
    /// the IVR only for a call that reached no person and that the flow did not end itself.
    CallerHungUp {},
    /// The provider reports the call finished; `duration_s` is the whole call as it bills it.
    CallCompleted {
        duration_s: u32,
    },
    /// The flow ended the call itself (a `hangup` node): the caller was served in the IVR.
    FlowEnded {},
    /// The caller rated the service (the flow stored a whole number in `rating`).
    Rated {
        score: u8,
    },
    /// A `fetch` node's request ended: `result` is the way taken (`ok`, `not_found`, `failed`),
    /// `status` the HTTP status when there was one, `ms` how long it took.
    Fetched {
        ms: u32,
        result: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
    },
}

impl Kind {
    /// Every kind's word, in declaration order.
    pub const WORDS: [&'static str; 22] = [
        "call_started",
        "node_entered",
        "prompt_played",
        "digits",
        "speech",
        "no_input",
        "invalid_input",
        "escape",
        "timeout_fallback",
        "escalation",
        "sent_to_operator",
        "queue_joined",
        "queue_waiting",
        "queue_left",
        "dialled",
        "voicemail",
        "callback_requested",
        "caller_hung_up",
        "call_completed",
        "flow_ended",
        "rated",
        "fetched",
    ];

    /// The word stored in the `kind` column.
    pub fn word(&self) -> &'static str {
        let index = match self {
            Kind::CallStarted { .. } => 0,
            Kind::NodeEntered {} => 1,
            Kind::PromptPlayed { .. } => 2,
            Kind::Digits { .. } => 3,
            Kind::Speech { .. } => 4,
            Kind::NoInput {} => 5,
            Kind::InvalidInput { .. } => 6,
            Kind::Escape {} => 7,
            Kind::TimeoutFallback {} => 8,
            Kind::Escalation {} => 9,
            Kind::SentToOperator { .. } => 10,
            Kind::QueueJoined { .. } => 11,
            Kind::QueueWaiting { .. } => 12,
            Kind::QueueLeft { .. } => 13,
            Kind::Dialled { .. } => 14,
            Kind::Voicemail { .. } => 15,
            Kind::CallbackRequested { .. } => 16,
            Kind::CallerHungUp {} => 17,
            Kind::CallCompleted { .. } => 18,
            Kind::FlowEnded {} => 19,
            Kind::Rated { .. } => 20,
            Kind::Fetched { .. } => 21,
        };
        Kind::WORDS[index]
    }

    /// The `details` column: the variant's fields as a JSON object, keys in alphabetical order
    /// (their order of declaration). Written straight from the fields, for every event the
    /// server logs: through a `serde_json::Value` it was a tenth of the event log's CPU.
    pub fn details(&self) -> String {
        self.details_in(&mut Vec::new()).to_owned()
    }

    /// [`Kind::details`] written in `buf` (cleared first), which a writer reuses row by row.
    pub fn details_in<'b>(&self, buf: &'b mut Vec<u8>) -> &'b str {
        buf.clear();
        // Serialised whole, this is `{"kind":"WORD","details":{…}}`; the words need no escaping.
        let head = r#"{"kind":""#.len() + self.word().len() + r#"","details":"#.len();
        match serde_json::to_writer(&mut *buf, self) {
            Ok(()) if buf.len() > head => std::str::from_utf8(&buf[head..buf.len() - 1]).unwrap_or("{}"),
            // Serialising plain fields cannot fail, and JSON is UTF-8; keep the row all the same.
            _ => "{}",
        }
    }

    /// The kind back from its stored word and details, parsed once. Kinds without fields
    /// stored with `{}` (most rows of a log) need no JSON at all.
    pub fn from_stored(word: &str, details: &str) -> Result<Kind, EventLogError> {
        if details == "{}" {
            let plain = match word {
                "node_entered" => Some(Kind::NodeEntered {}),
                "no_input" => Some(Kind::NoInput {}),
                "escape" => Some(Kind::Escape {}),
                "timeout_fallback" => Some(Kind::TimeoutFallback {}),
                "escalation" => Some(Kind::Escalation {}),
                "caller_hung_up" => Some(Kind::CallerHungUp {}),
                "flow_ended" => Some(Kind::FlowEnded {}),
                _ => None,
            };
            if let Some(kind) = plain {
                return Ok(kind);
            }
        }
        let word_json = serde_json::to_string(word).unwrap_or_default();
        let tagged = format!(r#"{{"kind":{word_json},"details":{details}}}"#);
        serde_json::from_str(&tagged).map_err(|e| {
            if serde_json::from_str::<serde::de::IgnoredAny>(details).is_err() {
                EventLogError::BadRow(format!("{word}: details are not JSON: {e}"))
            } else {
                EventLogError::BadRow(format!("{word}: {e}"))
            }
        })
    }
}

/// How a caller left a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueResult {
    /// Put through to an agent.
    Bridged,
    /// The caller hung up while waiting: an abandoned call.
    Hangup,
    /// Taken out of the queue on purpose (overflow, a call-back, a redirect).
    Redirected,
    /// The queue refused the caller or failed.
    Error,
}

/// What the log keeps of a caller's number (`--caller-numbers`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CallerNumbers {
    /// A keyed hash ([`caller_hash`]): the same caller is recognisable across calls, but the
    /// number cannot be read back without the secret.
    #[default]
    Hash,
    Plain,
    None,
}

impl CallerNumbers {
    /// The value for `call_started`'s `caller` field.
    pub fn keep(self, secret: &[u8], number: Option<&str>) -> Option<String> {
        let number = number.filter(|n| !n.is_empty())?;
        match self {
            CallerNumbers::Hash => Some(caller_hash(secret, number)),
            CallerNumbers::Plain => Some(number.to_owned()),
            CallerNumbers::None => None,
        }
    }
}

impl std::str::FromStr for CallerNumbers {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hash" => Ok(CallerNumbers::Hash),
            "plain" => Ok(CallerNumbers::Plain),
            "none" => Ok(CallerNumbers::None),
            _ => Err(format!("`{s}` is not a caller-number mode: use hash, plain or none")),
        }
    }
}

/// The caller's number as HMAC-SHA256 keyed by `secret`, in lowercase hex. The number is taken
/// as the provider gives it (Twilio: E.164, `+4930…`); normalise before if sources differ.
pub fn caller_hash(secret: &[u8], number: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(number.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Who a call is, for every event it logs.
///
/// The strings are shared, not copied, by the call's events: a request's events then cost the
/// worker no allocation of their own, nor the log's thread a free of memory a worker allocated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallHead {
    pub call_id: Arc<str>,
    pub provider: Arc<str>,
    pub flow: Arc<str>,
    pub flow_version: u64,
    pub simulated: bool,
}

impl CallHead {
    /// An event of this call, numbered `seq`, at `at` (truncated to milliseconds).
    pub fn event(&self, seq: u32, at: DateTime<Utc>, node: Option<Arc<str>>, kind: Kind) -> Event {
        Event {
            call_id: self.call_id.clone(),
            provider: self.provider.clone(),
            flow: self.flow.clone(),
            flow_version: self.flow_version,
            seq,
            at: at_ms(at),
            node,
            kind,
            simulated: self.simulated,
        }
    }
}

/// The first `seq` of `queue_waiting` events. A queued caller's wait requests all carry the
/// state token of the moment they joined, so they cannot take the call's next numbers; they are
/// numbered from here by the caller's time in queue instead: after the call's own events
/// (which never come near 2³¹), in the order they happened, and a replayed request is the same
/// event again (skipped). The status callback's events sit above them, at the very top.
pub const SEQ_WAITING: u32 = 1 << 31;

/// The event for a request of a queued caller's wait URL: `queue_time_s` is the provider's
/// time in queue so far (Twilio's `QueueTime`), `position` its queue position (1 is next),
/// `announced_wait_min` the wait the call's flow announces now (the `wait_min` variable).
/// Pure: the driver calls it from its wait route and records the event.
pub fn queue_waiting(
    head: &CallHead,
    at: DateTime<Utc>,
    node: Option<Arc<str>>,
    queue: &str,
    position: u32,
    announced_wait_min: Option<u32>,
    queue_time_s: u32,
) -> Event {
    // Kept below the status callback's two numbers (u32::MAX - 1 and u32::MAX).
    let seq = SEQ_WAITING.saturating_add(queue_time_s).min(u32::MAX - 2);
    head.event(seq, at, node, Kind::QueueWaiting { queue: queue.to_owned(), position, announced_wait_min })
}

/// Where the call stood before an engine step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Before {
    pub node: NodeId,
    /// The engine waited for the caller's input (a hang-up then ends the call in the IVR).
    pub listening: bool,
}

impl Before {
    pub fn of(call: &Call) -> Before {
        Before { node: call.node(), listening: call.is_listening() }
    }
}

/// One engine step as the driver saw it: what went in and what came out.
#[derive(Clone, Copy, Debug)]
pub struct Step<'a> {
    pub at: DateTime<Utc>,
    /// `None` for [`Call::start`]: the step then begins with `call_started`.
    pub before: Option<Before>,
    /// The caller's event (`None` for the start).
    pub input: Option<crate::engine::Event<'a>>,
    /// The caller's number as the log keeps it ([`CallerNumbers::keep`]); read at the start only.
    pub caller: Option<&'a str>,
    pub output: &'a Output,
}

/// The events of one engine step, numbered from `*seq`, which is advanced past them. `after` is
/// the call after the step (for the wait it announced). Pure: no clock, no I/O.
///
/// The caller's event comes first (`digits`, `speech`, `caller_hung_up`; silence shows as the
/// `no_input` the engine decided), then the engine's decisions and the prompts, queue joins,
/// transfers and recordings it asked for, in the order it made them. A queue update's
/// announcement is the driver's to log, since the driver decides whether it is played.
pub fn events_of(head: &CallHead, seq: &mut u32, flow: &Flow, after: &Call, step: Step) -> Vec<Event> {
    let mut events = Vec::new();
    let node_name = |id: Option<NodeId>| id.and_then(|id| flow.nodes.get(id.index())).map(|n| n.id.clone());
    let mut push = |node: Option<NodeId>, kind: Kind| {
        events.push(head.event(*seq, step.at, node_name(node), kind));
        *seq = seq.saturating_add(1);
    };
    let mut node = step.before.map(|b| b.node);
    // A `sensitive` input's entries are card numbers or PINs: keep their length only.
    let withheld = node
        .and_then(|id| flow.nodes.get(id.index()))
        .is_some_and(|n| matches!(&n.kind, NodeKind::Input(input) if input.sensitive));
    match step.input {
        None if step.before.is_none() => push(None, Kind::CallStarted { caller: step.caller.map(str::to_owned) }),
        Some(crate::engine::Event::Digits(keys)) => {
            let count = u32::try_from(keys.chars().count()).unwrap_or(u32::MAX);
            push(node, Kind::Digits { keys: (!withheld).then(|| without_nul(keys)), count });
        }
        Some(crate::engine::Event::Speech { text, confidence }) => {
            // Three decimals are all a recogniser's confidence means (and f32 digits past
            // them only clutter the JSON).
            let confidence = (f64::from(confidence) * 1000.0).round() / 1000.0;
            push(node, Kind::Speech { text: (!withheld).then(|| without_nul(text)), confidence });
        }
        Some(crate::engine::Event::Hangup) if step.before.is_some_and(|b| b.listening) => {
            push(node, Kind::CallerHungUp {});
        }
        _ => {}
    }
    let mut actions = step.output.actions.iter().enumerate().peekable();
    let mut unintelligible = false;
    let act = |node: Option<NodeId>, action: &Action, push: &mut dyn FnMut(Option<NodeId>, Kind)| {
        let kind = match action {
            Action::Say { duration_ms, .. } => Kind::PromptPlayed { file: None, duration_ms: duration_ms.0 },
            Action::Play { file, duration_ms, .. } => {
                Kind::PromptPlayed { file: Some(file.to_string()), duration_ms: duration_ms.0 }
            }
            Action::Enqueue { queue, .. } => Kind::QueueJoined {
                queue: queue.to_string(),
                announced_wait_min: after.var(flow, BUILTIN_VARS[1]).and_then(|m| m.parse().ok()),
            },
            Action::Dial { number, .. } => Kind::Dialled { number: number.to_string() },
            Action::Record { mailbox, .. } => Kind::Voicemail { mailbox: mailbox.to_string() },
            Action::Hangup => Kind::FlowEnded {},
            Action::Pause { .. } | Action::Gather(_) => return,
        };
        push(node, kind);
    };
    for &(before_action, trace) in &step.output.trace {
        while let Some((_, action)) = actions.next_if(|(i, _)| *i < before_action) {
            act(node, action, &mut push);
        }
        match trace {
            Trace::Enter(id) => {
                node = Some(id);
                push(node, Kind::NodeEntered {});
            }
            Trace::Escape => push(node, Kind::Escape {}),
            Trace::Retry(_) => push(node, Kind::NoInput {}),
            Trace::Fallback => {
                push(node, Kind::NoInput {});
                push(node, Kind::TimeoutFallback {});
            }
            Trace::Unintelligible => unintelligible = true,
            Trace::Invalid(_) => push(node, Kind::InvalidInput { unintelligible: std::mem::take(&mut unintelligible) }),
            Trace::Escalate => {
                push(node, Kind::InvalidInput { unintelligible: std::mem::take(&mut unintelligible) });
                push(node, Kind::Escalation {});
            }
            Trace::Loop => push(node, Kind::SentToOperator { reason: "loop".into() }),
            Trace::StaleVersion => push(node, Kind::SentToOperator { reason: "stale_version".into() }),
            Trace::Callback => {
                let queue = match node.and_then(|id| flow.nodes.get(id.index())).map(|n| &n.kind) {
                    Some(NodeKind::Callback(c)) => Some(c.queue.to_string()),
                    _ => None,
                };
                push(node, Kind::CallbackRequested { queue });
            }
            // At the node that asked (the menu the caller answered), not the `set` node that
            // stored the score: a flow has one such node per score.
            Trace::Rated(score) => push(step.before.map(|b| b.node).or(node), Kind::Rated { score }),
            Trace::Fetched(result) => {
                let (status, ms) = match step.input {
                    Some(crate::engine::Event::Fetched(f)) => (f.status, f.ms),
                    _ => (None, 0),
                };
                push(node, Kind::Fetched { result: result.as_str().to_owned(), status, ms });
            }
            // A booking that failed logs where the caller went instead.
            Trace::Choice(_)
            | Trace::Branch(_)
            | Trace::Repeat
            | Trace::Back
            | Trace::Stored
            | Trace::CallbackFailed => {}
        }
    }
    for (_, action) in actions {
        act(node, action, &mut push);
    }
    events
}

/// What a caller sent, without NUL characters, which PostgreSQL's text and JSON cannot hold.
fn without_nul(text: &str) -> String {
    text.replace('\0', "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Event as Input, Start};

    const FLOW: &str = r#"
[flow]
name = "t"
start = "main"
operator = "op"

[nodes.main]
kind = "menu"
prompt = "Menu."
options = { "1" = "pin", "2" = "bye", "3" = "ref", "4" = "cb" }
max_invalid = 2

[nodes.pin]
kind = "input"
prompt = "PIN?"
min_digits = 4
max_digits = 4
var = "pin"
sensitive = true
next = "bye"

[nodes.ref]
kind = "input"
prompt = "Request number?"
min_digits = 4
max_digits = 4
var = "ref"
next = "bye"

[nodes.bye]
kind = "hangup"
prompt = "Bye."

[nodes.cb]
kind = "callback"
prompt = "We will call you."
queue = "first_line"

[nodes.op]
kind = "queue"
queue = "first_line"
"#;

    fn flow() -> Flow {
        crate::engine::parse::test_flow(FLOW)
    }

    fn head() -> CallHead {
        CallHead {
            call_id: "CA1".into(),
            provider: "twilio".into(),
            flow: "t".into(),
            flow_version: 7,
            simulated: false,
        }
    }

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_773_651_600_123).expect("a valid time")
    }

    fn now() -> chrono::NaiveDateTime {
        crate::calendar::parse_at("wed 11:00").expect("a valid time")
    }

    /// Runs a call through `inputs` and returns every event as (seq, node, kind word, details).
    fn log(inputs: &[Input]) -> Vec<(u32, Option<String>, &'static str, String)> {
        let flow = flow();
        let (mut seq, head) = (0, head());
        let (mut call, out) = Call::start(&flow, &Start { caller: Some("+1"), language: None }, now());
        let step = Step { at: at(), before: None, input: None, caller: Some("h"), output: &out };
        let mut events = events_of(&head, &mut seq, &flow, &call, step);
        for input in inputs {
            let before = Before::of(&call);
            let out = call.handle(&flow, *input, now());
            let step = Step { at: at(), before: Some(before), input: Some(*input), caller: None, output: &out };
            events.extend(events_of(&head, &mut seq, &flow, &call, step));
        }
        assert_eq!(seq, u32::try_from(events.len()).expect("few events"));
        events
            .into_iter()
            .map(|e| (e.seq, e.node.as_deref().map(str::to_owned), e.kind.word(), e.kind.details()))
            .collect()
    }

    fn row(
        seq: u32,
        node: Option<&str>,
        word: &'static str,
        details: &str,
    ) -> (u32, Option<String>, &'static str, String) {
        (seq, node.map(str::to_owned), word, details.to_owned())
    }

    #[test]
    fn a_start_logs_the_call_the_node_and_its_prompt() {
        assert_eq!(
            log(&[]),
            [
                row(0, None, "call_started", r#"{"caller":"h"}"#),
                row(1, Some("main"), "node_entered", "{}"),
                // "Menu." is 5 characters: 300 ms + 5 × 1000 / 14 ms.
                row(2, Some("main"), "prompt_played", r#"{"duration_ms":657}"#),
            ]
        );
    }

    #[test]
    fn a_fetch_logs_its_way_status_and_time_but_not_its_request() {
        let src = "[flow]\nname = \"f\"\nstart = \"look\"\noperator = \"op\"\nallow_hosts = [\"api.example.com\"]\n\
            [nodes.look]\nkind = \"fetch\"\nurl = \"https://api.example.com/x\"\n\
            headers = { Authorization = \"Bearer {env.TOKEN}\" }\nok = \"op\"\n\
            [nodes.op]\nkind = \"queue\"\nqueue = \"first_line\"\n";
        let (flow, diags) = crate::engine::parse_and_check(src);
        let flow = flow.unwrap_or_else(|| panic!("{diags:?}"));
        let (mut call, _) = Call::start(&flow, &Start::default(), now());
        let before = Before::of(&call);
        let fetched = crate::engine::call::Fetched { status: Some(200), json: None, ms: 41 };
        let input = crate::engine::Event::Fetched(fetched);
        let out = call.handle(&flow, input, now());
        let step = Step { at: at(), before: Some(before), input: Some(input), caller: None, output: &out };
        let events = events_of(&head(), &mut 0, &flow, &call, step);
        let rows: Vec<_> = events.iter().map(|e| (e.kind.word(), e.kind.details())).collect();
        assert_eq!(rows[0], ("fetched", r#"{"ms":41,"result":"ok","status":200}"#.to_owned()), "{rows:?}");
        assert!(!rows.iter().any(|(_, d)| d.contains("example") || d.contains("TOKEN")), "{rows:?}");
    }

    #[test]
    fn escape_logs_the_key_the_escape_and_the_queue() {
        assert_eq!(
            log(&[Input::Digits("0")])[3..],
            [
                row(3, Some("main"), "digits", r#"{"count":1,"keys":"0"}"#),
                row(4, Some("main"), "escape", "{}"),
                row(5, Some("op"), "node_entered", "{}"),
                row(6, Some("op"), "queue_joined", r#"{"queue":"first_line"}"#),
            ]
        );
    }

    #[test]
    fn a_sensitive_inputs_keys_are_counted_not_kept() {
        let rows = log(&[Input::Digits("1"), Input::Digits("4321")]);
        assert_eq!(rows[3], row(3, Some("main"), "digits", r#"{"count":1,"keys":"1"}"#));
        assert_eq!(rows[6], row(6, Some("pin"), "digits", r#"{"count":4}"#));
        assert_eq!(rows[7], row(7, Some("bye"), "node_entered", "{}"));
    }

    #[test]
    fn an_ordinary_inputs_keys_are_kept() {
        let rows = log(&[Input::Digits("3"), Input::Digits("1234")]);
        assert_eq!(rows[6], row(6, Some("ref"), "digits", r#"{"count":4,"keys":"1234"}"#));
    }

    #[test]
    fn silence_and_wrong_keys_log_what_the_engine_decided() {
        let rows = log(&[Input::NoInput, Input::Digits("9"), Input::Digits("8")]);
        let words: Vec<&str> = rows[3..].iter().map(|r| r.2).collect();
        assert_eq!(
            words,
            [
                "no_input",
                "prompt_played",
                "digits",
                "invalid_input",
                "prompt_played",
                "digits",
                "invalid_input",
                "escalation",
                "node_entered",
                "queue_joined",
            ]
        );
    }

    #[test]
    fn the_last_silence_logs_the_timeout_fallback() {
        // Two re-prompts by default, then the fallback: the operator.
        let rows = log(&[Input::NoInput, Input::NoInput, Input::NoInput]);
        let words: Vec<&str> = rows[3..].iter().map(|r| r.2).collect();
        assert_eq!(
            words,
            [
                "no_input",
                "prompt_played",
                "no_input",
                "prompt_played",
                "no_input",
                "timeout_fallback",
                "node_entered",
                "queue_joined"
            ]
        );
        assert_eq!(rows[8], row(8, Some("main"), "timeout_fallback", "{}"));
    }

    #[test]
    fn speech_is_kept_at_a_menu_and_withheld_at_a_sensitive_input() {
        let speech = Input::Speech { text: "one two three four", confidence: 0.9 };
        let rows = log(&[Input::Digits("1"), speech]);
        assert_eq!(rows[6], row(6, Some("pin"), "speech", r#"{"confidence":0.9}"#));
        let mumble = Input::Speech { text: "erm", confidence: 0.1 };
        let rows = log(&[mumble]);
        assert_eq!(rows[3], row(3, Some("main"), "speech", r#"{"confidence":0.1,"text":"erm"}"#));
        assert_eq!(rows[4], row(4, Some("main"), "invalid_input", r#"{"unintelligible":true}"#));
    }

    #[test]
    fn a_call_back_node_logs_the_request_for_its_queue_before_the_flow_ends() {
        let words: Vec<(&str, String)> =
            log(&[Input::Digits("4"), Input::Booked(true)])[4..].iter().map(|r| (r.2, r.3.clone())).collect();
        assert_eq!(
            words,
            [
                ("node_entered", "{}".to_owned()),
                ("prompt_played", r#"{"duration_ms":1514}"#.to_owned()),
                ("callback_requested", r#"{"queue":"first_line"}"#.to_owned()),
                ("flow_ended", "{}".to_owned()),
            ]
        );
    }

    #[test]
    fn a_hang_up_in_a_menu_is_the_callers() {
        let rows = log(&[Input::Hangup]);
        assert_eq!(rows[3..], [row(3, Some("main"), "caller_hung_up", "{}")]);
    }

    #[test]
    fn every_kind_round_trips_through_its_word_and_details() {
        let kinds = [
            Kind::CallStarted { caller: None },
            Kind::NodeEntered {},
            Kind::PromptPlayed { file: Some("a.wav".into()), duration_ms: 5 },
            Kind::Digits { keys: None, count: 4 },
            Kind::Speech { text: Some("operator".into()), confidence: 0.5 },
            Kind::NoInput {},
            Kind::InvalidInput { unintelligible: true },
            Kind::Escape {},
            Kind::TimeoutFallback {},
            Kind::Escalation {},
            Kind::SentToOperator { reason: "loop".into() },
            Kind::QueueJoined { queue: "q".into(), announced_wait_min: Some(3) },
            Kind::QueueWaiting { queue: "q".into(), position: 4, announced_wait_min: None },
            Kind::QueueLeft {
                queue: "q".into(),
                result: QueueResult::Hangup,
                queue_time_s: 40,
                last_position: Some(2),
            },
            Kind::Dialled { number: "+1".into() },
            Kind::Voicemail { mailbox: "m".into() },
            Kind::CallbackRequested { queue: None },
            Kind::CallerHungUp {},
            Kind::CallCompleted { duration_s: 61 },
            Kind::FlowEnded {},
            Kind::Rated { score: 5 },
            Kind::Fetched { result: "ok".into(), status: Some(200), ms: 41 },
        ];
        assert_eq!(kinds.len(), Kind::WORDS.len());
        for (kind, word) in kinds.iter().zip(Kind::WORDS) {
            assert_eq!(kind.word(), word);
            assert_eq!(report::reads(kind), report::KINDS.contains(&word), "{word}");
            let back = Kind::from_stored(word, &kind.details()).unwrap_or_else(|e| panic!("{word}: {e}"));
            assert_eq!(&back, kind);
            // Keys in alphabetical order, as a JSON map with sorted keys writes them.
            let sorted = serde_json::to_value(kind).ok().and_then(|mut v| v.get_mut("details").map(|d| d.take()));
            assert_eq!(Some(kind.details()), sorted.map(|d| d.to_string()), "{word}");
        }
        assert_eq!(kinds[13].details(), r#"{"last_position":2,"queue":"q","queue_time_s":40,"result":"hangup"}"#);
        assert_eq!(
            Kind::from_stored("call_completed", r#"{"duration_s":9,"added_later":true}"#).ok(),
            Some(Kind::CallCompleted { duration_s: 9 })
        );
        assert!(Kind::from_stored("no_such_kind", "{}").is_err());
        assert!(Kind::from_stored("digits", "not json").is_err());
    }

    #[test]
    fn wait_requests_are_numbered_by_time_in_queue_below_the_status_callback() {
        let h = head();
        let waiting = |t| queue_waiting(&h, at(), Some("op".into()), "q", 3, Some(2), t);
        assert_eq!(waiting(0).seq, SEQ_WAITING);
        assert_eq!(waiting(95).seq, SEQ_WAITING + 95);
        assert_eq!(waiting(u32::MAX).seq, u32::MAX - 2);
        assert_eq!(waiting(95).kind.details(), r#"{"announced_wait_min":2,"position":3,"queue":"q"}"#);
    }

    #[test]
    fn caller_hash_is_hmac_sha256() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            caller_hash(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(CallerNumbers::Plain.keep(b"k", Some("+100")), Some("+100".into()));
        assert_eq!(CallerNumbers::None.keep(b"k", Some("+100")), None);
        assert_eq!(CallerNumbers::Hash.keep(b"k", Some("")), None);
        assert_eq!("plain".parse::<CallerNumbers>(), Ok(CallerNumbers::Plain));
        assert!("clear".parse::<CallerNumbers>().is_err());
    }

    #[test]
    fn times_keep_milliseconds() {
        let at = DateTime::from_timestamp_micros(1_773_651_600_123_456).expect("a valid time");
        assert_eq!(at_ms(at).timestamp_micros(), 1_773_651_600_123_000);
    }
}
