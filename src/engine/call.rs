//! One call walking a flow: the sans-IO state machine every driver runs.
//!
//! # Contract
//! - Start a call with [`Call::start`]; feed it what the caller did with [`Call::handle`]. Both
//!   return an [`Output`]: the [`Action`]s to perform, in order, and a [`Trace`] of what the
//!   engine decided (for transcripts, metrics and coverage; performing it is optional).
//! - Prompts (`Say`, `Play`) that come before a `Gather` are that gather's prompts: the caller
//!   may answer while they play (barge-in). After a `Gather`, the driver reports exactly one of
//!   `Digits`, `Speech` or `NoInput` (the gather's timeout passed in silence).
//! - `Enqueue`, `Dial`, `Record` and `Hangup` hand the caller over; the engine then only
//!   answers `QueueUpdate`, `DialEnded`, `RecordingDone` and `Hangup`.
//! - An output with [`Output::fetch`] (a `fetch` node) asks the driver to make that HTTP
//!   request and report the answer as `Fetched` before anything else; the actions before it
//!   are prompts the caller hears meanwhile. It is kept apart from `actions` because it is
//!   nothing the caller hears: a driver settles it before it renders the actions.
//! - An output with [`Output::book`] (a `callback` node) asks the driver to store that
//!   call-back and report `Booked(true)` once it is stored, `Booked(false)` if it could not be:
//!   the caller is told "we will call you" only after the promise is kept somewhere.
//! - `now` is the call's local wall time, passed in by the driver; it must never go backwards.
//!   The engine reads no clock, does no I/O and draws no random numbers.
//! - Nothing the caller or the flow does makes the engine fail: a flow that loops without ever
//!   asking, or a state from another flow version, sends the caller to the operator.

use std::sync::Arc;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::flow::{
    Ask, CallbackNode, Cond, Fetch, Flow, LiveQueue, NodeId, NodeKind, Prompt, QueueNode, Settings, Template, Window,
    speech_ms,
};
use super::matching;
use super::millis::Millis;
use super::spoken;

/// Built-in variables every flow has, in this order at the start of `Flow::vars`.
pub const BUILTIN_VARS: [&str; 2] = ["caller", "wait_min"];
const VAR_CALLER: u16 = 0;
const VAR_WAIT_MIN: u16 = 1;
/// The variable whose whole-number value is the caller's rating of the service.
pub const RATING_VAR: &str = "rating";

/// A placeholder `{env.NAME}` names a value from the driver's environment (a host, a secret
/// header): the engine leaves it as written, the driver resolves it and never shows it.
pub const ENV_PREFIX: &str = "env.";

/// Nodes the engine passes through without waiting before it decides the flow is looping.
pub const MAX_HOPS: u32 = 256;

/// The queue a caller is put in when even the way to the flow's operator node loops, and the
/// one the drivers use when they have no flow to ask: every deployment must serve it.
pub const OPERATOR_QUEUE: &str = "operator";

/// The state of one call: small, `Clone` and serializable, with no references into the flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// `Flow::version` of the flow this call runs on.
    pub flow_version: u64,
    node: NodeId,
    no_input: u8,
    invalid: u8,
    lang: u8,
    phase: Phase,
    vars: Vec<(u16, Box<str>)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Phase {
    /// A gather is out: waiting for digits, speech or silence at `node`.
    Listening,
    Queued,
    Dialing,
    Recording,
    /// A `fetch` node's request is out: waiting for `Fetched`.
    Fetching,
    /// A `callback` node's booking is out: waiting for `Booked`.
    Booking,
    /// The flow hung up, or the caller did while in the IVR.
    Ended {
        by_caller: bool,
    },
}

/// What starts a call.
#[derive(Clone, Debug, Default)]
pub struct Start<'a> {
    /// The caller's number, available to prompts as `{caller}`.
    pub caller: Option<&'a str>,
    /// A language code of the flow; unknown or absent means the flow's default.
    pub language: Option<&'a str>,
}

/// What the caller did, as the driver observed it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event<'a> {
    /// Keys pressed for the current gather (a finish key, if pressed, may be included).
    Digits(&'a str),
    /// Recognised speech and the recogniser's confidence in 0..=1.
    Speech { text: &'a str, confidence: f32 },
    /// The gather timed out in silence.
    NoInput,
    /// The caller hung up.
    Hangup,
    /// Live news about the queue the caller waits in.
    QueueUpdate(LiveQueue),
    /// The transfer of a `dial` node ended.
    DialEnded { answered: bool },
    /// The agent a queued caller talked to hung up, and the caller is still on the line.
    ConversationEnded,
    /// The voicemail recording finished.
    RecordingDone,
    /// The answer to the request of [`Output::fetch`].
    Fetched(Fetched<'a>),
    /// Whether the call-back of [`Output::book`] was stored.
    Booked(bool),
}

/// What came of a `fetch` node's request, as the driver saw it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fetched<'a> {
    /// The HTTP status; `None` when there was no usable answer: a timeout, a refused host or
    /// redirect, no connection, a body over the size limit, or one that is not JSON.
    pub status: Option<u16>,
    /// The answer's JSON body, when it had one.
    pub json: Option<&'a serde_json::Value>,
    /// How long the request took, for the call-event log (the engine ignores it).
    pub ms: u32,
}

impl Fetched<'_> {
    /// No usable answer, after `ms`.
    pub fn failed(ms: u32) -> Fetched<'static> {
        Fetched { status: None, json: None, ms }
    }
}

/// The HTTP request of a `fetch` node: variables filled in, `{env.NAME}` left as written.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub method: Arc<str>,
    pub url: Arc<str>,
    /// Values as the flow writes them, with `{env.NAME}` unresolved: secrets never pass
    /// through the engine, its transcripts or logs.
    pub headers: Vec<(Arc<str>, Arc<str>)>,
    /// JSON text.
    pub body: Option<Arc<str>>,
    pub timeout_ms: Millis,
}

/// The call-back a `callback` node books: the driver stores it (the engine cannot).
#[derive(Clone, Debug, PartialEq)]
pub struct Booking {
    pub queue: Arc<str>,
    /// The number to call back, as the provider gave it or the caller typed it.
    pub number: Arc<str>,
    /// The call's language, for the call-back's own prompts.
    pub language: Arc<str>,
    /// The wait the queue model expected at that moment, in seconds: what the caller was
    /// spared (none without a model).
    pub told_wait_s: Option<u32>,
    pub window: Option<Window>,
}

/// Which way a `fetch` node went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FetchResult {
    /// A 2xx answer with JSON holding every value the node stores.
    Ok,
    /// HTTP 404.
    NotFound,
    /// Anything else.
    Failed,
}

impl FetchResult {
    pub const fn as_str(self) -> &'static str {
        match self {
            FetchResult::Ok => "ok",
            FetchResult::NotFound => "not_found",
            FetchResult::Failed => "failed",
        }
    }
}

/// Something for the driver to do. Describes, never performs.
#[must_use]
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Speak `text` with the provider's speech synthesis.
    Say {
        text: Arc<str>,
        lang: Arc<str>,
        duration_ms: Millis,
    },
    /// Play a file from `sounds/`; `text` is what it says, for transcripts and as a fallback.
    Play {
        file: Arc<str>,
        text: Option<Arc<str>>,
        lang: Arc<str>,
        duration_ms: Millis,
    },
    Pause {
        ms: Millis,
    },
    Gather(Gather),
    /// Put the caller in a queue for an agent.
    Enqueue {
        queue: Arc<str>,
        priority: u8,
    },
    /// Transfer the caller to a number.
    Dial {
        number: Arc<str>,
        timeout_s: u32,
    },
    /// Record a voicemail.
    Record {
        mailbox: Arc<str>,
        max_length_s: u32,
        finish_key: Option<char>,
    },
    Hangup,
}

/// What input the engine waits for next.
#[derive(Clone, Debug, PartialEq)]
pub struct Gather {
    pub min_digits: u8,
    pub max_digits: u8,
    pub finish_key: Option<char>,
    /// Silence after the prompts (and between digits) that ends the gather as `NoInput`.
    pub timeout_ms: Millis,
    /// Speech is accepted as well as keys.
    pub speech: bool,
    /// Expected phrases, comma-separated, for the recogniser.
    pub hints: Arc<str>,
    pub lang: Arc<str>,
}

/// What the engine decided, for transcripts, metrics and test coverage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trace {
    /// The call entered a node.
    Enter(NodeId),
    /// A menu option (by index in `Menu::options`) was chosen by key or phrase.
    Choice(usize),
    /// A branch took case `Some(i)`, or its `else` (`None`).
    Branch(Option<usize>),
    /// The escape key or an operator phrase.
    Escape,
    Repeat,
    Back,
    /// Silence, re-prompt number n.
    Retry(u8),
    /// Silence after the last re-prompt: the timeout fallback.
    Fallback,
    /// Wrong entry number n, re-prompted.
    Invalid(u8),
    /// Wrong entries reached the limit.
    Escalate,
    /// Speech below the confidence threshold.
    Unintelligible,
    /// An `input` node stored the entry.
    Stored,
    /// The flow passed `MAX_HOPS` nodes without waiting; the caller went to the operator.
    Loop,
    /// The state belongs to another flow version; the caller went to the operator.
    StaleVersion,
    /// A `callback` node's booking was stored: the caller will be called back by the queue it
    /// names (the node the call is at says which).
    Callback,
    /// A `callback` node could not book (no number, or the driver could not store it): the
    /// caller goes the node's `failed` way instead of hearing a promise.
    CallbackFailed,
    /// The variable `rating` was stored with this whole number: the caller rated the service.
    Rated(u8),
    /// A `fetch` node's answer chose this way.
    Fetched(FetchResult),
}

/// The actions and trace that answer one event (or the start of the call).
#[must_use]
#[derive(Clone, Debug, Default)]
pub struct Output {
    pub actions: Vec<Action>,
    /// What was decided, each with the number of actions before it, so transcripts can show
    /// decisions and prompts in the order they happen.
    pub trace: Vec<(usize, Trace)>,
    /// A request the driver makes now, answering with [`Event::Fetched`].
    pub fetch: Option<Request>,
    /// A call-back the driver stores now, answering with [`Event::Booked`].
    pub book: Option<Booking>,
}

impl Output {
    pub fn clear(&mut self) {
        self.actions.clear();
        self.trace.clear();
        self.fetch = None;
        self.book = None;
    }

    fn note(&mut self, trace: Trace) {
        self.trace.push((self.actions.len(), trace));
    }
}

/// Where a call ended up, for transcripts, tests and statistics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub kind: OutcomeKind,
    /// Queue name, number, mailbox, or the hangup node (`caller` when the caller hung up).
    pub target: String,
}

/// As `call` prints it and the studio shows it: `queue first_line`.
impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.target)
    }
}

/// The kind of an outcome, written everywhere (scenario files, JSON, metrics, logs, diffs) as
/// the one word [`OutcomeKind::as_str`] gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutcomeKind {
    Queue,
    Dial,
    Hangup,
    Voicemail,
}

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 4] =
        [OutcomeKind::Queue, OutcomeKind::Dial, OutcomeKind::Hangup, OutcomeKind::Voicemail];
    const WORDS: [&'static str; 4] = [
        OutcomeKind::ALL[0].as_str(),
        OutcomeKind::ALL[1].as_str(),
        OutcomeKind::ALL[2].as_str(),
        OutcomeKind::ALL[3].as_str(),
    ];

    /// The lowercase word for the kind.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Queue => "queue",
            OutcomeKind::Dial => "dial",
            OutcomeKind::Hangup => "hangup",
            OutcomeKind::Voicemail => "voicemail",
        }
    }
}

impl std::fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for OutcomeKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OutcomeKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let word = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        OutcomeKind::ALL
            .into_iter()
            .find(|k| k.as_str() == word)
            .ok_or_else(|| serde::de::Error::unknown_variant(&word, &OutcomeKind::WORDS))
    }
}

impl Call {
    /// Starts a call at the flow's start node.
    pub fn start(flow: &Flow, start: &Start, now: NaiveDateTime) -> (Call, Output) {
        let mut out = Output::default();
        let call = Call::start_into(flow, start, now, &mut out);
        (call, out)
    }

    /// [`Call::start`] into a reused output buffer (cleared first).
    pub fn start_into(flow: &Flow, start: &Start, now: NaiveDateTime, out: &mut Output) -> Call {
        Call::start_at(flow, start, flow.start, now, out)
    }

    /// Starts a call at `node` rather than the flow's start: the call-back call the server
    /// placed for a `callback` node starts at its `returns`.
    pub fn start_at(flow: &Flow, start: &Start, node: NodeId, now: NaiveDateTime, out: &mut Output) -> Call {
        out.clear();
        let lang = start.language.and_then(|l| flow.language_index(l)).unwrap_or(0);
        let mut call = Call {
            flow_version: flow.version,
            node: flow.start,
            no_input: 0,
            invalid: 0,
            lang,
            phase: Phase::Listening,
            vars: Vec::new(),
        };
        if let Some(caller) = start.caller {
            call.set_var(VAR_CALLER, caller);
        }
        let node = if node.index() < flow.nodes.len() { node } else { flow.start };
        call.go(flow, node, now, out);
        call
    }

    /// Feeds one event and returns what to do next.
    pub fn handle(&mut self, flow: &Flow, event: Event, now: NaiveDateTime) -> Output {
        let mut out = Output::default();
        self.handle_into(flow, event, now, &mut out);
        out
    }

    /// [`Call::handle`] into a reused output buffer (cleared first).
    pub fn handle_into(&mut self, flow: &Flow, event: Event, now: NaiveDateTime, out: &mut Output) {
        out.clear();
        if self.flow_version != flow.version || self.node.index() >= flow.nodes.len() {
            if self.is_over() {
                return;
            }
            out.note(Trace::StaleVersion);
            self.flow_version = flow.version;
            self.go(flow, flow.operator, now, out);
            return;
        }
        match (self.phase, event) {
            (Phase::Ended { .. }, _) => {}
            (Phase::Listening | Phase::Fetching | Phase::Booking, Event::Hangup) => {
                self.phase = Phase::Ended { by_caller: true }
            }
            (Phase::Fetching, Event::Fetched(answer)) => self.fetched(flow, answer, now, out),
            (Phase::Booking, Event::Booked(stored)) => self.booked(flow, stored, now, out),
            (_, Event::Hangup) => {} // the hand-over already happened; the outcome stands
            (Phase::Listening, Event::NoInput) => self.silence(flow, now, out),
            (Phase::Listening, Event::Digits(d)) => self.digits(flow, d, now, out),
            (Phase::Listening, Event::Speech { text, confidence }) => self.speech(flow, text, confidence, now, out),
            (Phase::Queued, Event::QueueUpdate(live)) => {
                if let NodeKind::Queue(q) = &flow.node(self.node).kind
                    && let Some(announce) = &q.announce
                {
                    self.announce_wait(flow, &q.queue, announce, now, Some(live), out);
                }
            }
            (Phase::Dialing, Event::DialEnded { answered }) => match &flow.node(self.node).kind {
                NodeKind::Dial { no_answer: Some(next), .. } if !answered => self.go(flow, *next, now, out),
                NodeKind::Dial { after: Some(next), .. } if answered => self.go(flow, *next, now, out),
                _ => self.phase = Phase::Ended { by_caller: false },
            },
            (Phase::Queued, Event::ConversationEnded) => match &flow.node(self.node).kind {
                NodeKind::Queue(QueueNode { after: Some(next), .. }) => self.go(flow, *next, now, out),
                _ => self.phase = Phase::Ended { by_caller: false },
            },
            (Phase::Recording, Event::RecordingDone | Event::NoInput) => {
                out.actions.push(Action::Hangup);
                self.phase = Phase::Ended { by_caller: false };
            }
            _ => {} // an event that does not apply now (a late callback): nothing to do
        }
    }

    /// The node the call is at.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The call's language as an index into `Flow::languages`.
    pub fn language(&self) -> u8 {
        self.lang
    }

    /// Whether the engine waits for the caller's input.
    pub fn is_listening(&self) -> bool {
        self.phase == Phase::Listening
    }

    /// The event that tells the engine the person the caller talked to (a queue's agent, a
    /// dialled number) hung up with the caller still on the line, when the node has `after`
    /// and so the flow goes on; `None` when the call ends with the conversation.
    pub fn conversation_end(&self, flow: &Flow) -> Option<Event<'static>> {
        match (self.phase, &flow.nodes.get(self.node.index())?.kind) {
            (Phase::Queued, NodeKind::Queue(QueueNode { after: Some(_), .. })) => Some(Event::ConversationEnded),
            (Phase::Dialing, NodeKind::Dial { after: Some(_), .. }) => Some(Event::DialEnded { answered: true }),
            _ => None,
        }
    }

    /// Whether the call has left the IVR (handed over or ended).
    pub fn is_over(&self) -> bool {
        !matches!(self.phase, Phase::Listening | Phase::Fetching | Phase::Booking)
    }

    /// Whether the engine waits for the answer to its `fetch` request.
    pub fn is_fetching(&self) -> bool {
        self.phase == Phase::Fetching
    }

    /// The value of a variable, by name.
    pub fn var<'s>(&'s self, flow: &Flow, name: &str) -> Option<&'s str> {
        let index = flow.vars.iter().position(|v| &**v == name)?;
        self.get_var(u16::try_from(index).ok()?)
    }

    /// Where the call ended up; `None` while it is still in the IVR.
    pub fn outcome(&self, flow: &Flow) -> Option<Outcome> {
        let node = flow.nodes.get(self.node.index())?;
        let (kind, target) = match (self.phase, &node.kind) {
            (Phase::Listening | Phase::Fetching | Phase::Booking, _) => return None,
            (Phase::Ended { by_caller: true }, _) => (OutcomeKind::Hangup, "caller".to_owned()),
            (_, NodeKind::Queue(q)) => (OutcomeKind::Queue, q.queue.to_string()),
            (_, NodeKind::Dial { number, .. }) => (OutcomeKind::Dial, number.to_string()),
            (_, NodeKind::Voicemail { mailbox, .. }) => (OutcomeKind::Voicemail, mailbox.to_string()),
            _ => (OutcomeKind::Hangup, node.id.to_string()),
        };
        Some(Outcome { kind, target })
    }

    fn get_var(&self, index: u16) -> Option<&str> {
        self.vars.iter().find(|(i, _)| *i == index).map(|(_, v)| &**v)
    }

    /// Stores a flow variable; a whole number stored in `rating` is the caller's rating, which
    /// the call-event log keeps.
    fn store(&mut self, flow: &Flow, index: u16, value: &str, out: &mut Output) {
        self.set_var(index, value);
        if flow.vars.get(usize::from(index)).is_some_and(|name| &**name == RATING_VAR)
            && let Ok(score) = value.trim().parse()
        {
            out.note(Trace::Rated(score));
        }
    }

    fn set_var(&mut self, index: u16, value: &str) {
        match self.vars.iter_mut().find(|(i, _)| *i == index) {
            Some(slot) => slot.1 = value.into(),
            None => self.vars.push((index, value.into())),
        }
    }

    /// Moves to `target` and runs through nodes that need no input until one asks the caller
    /// something or hands the call over.
    fn go(&mut self, flow: &Flow, mut target: NodeId, now: NaiveDateTime, out: &mut Output) {
        let (mut hops, mut rescued) = (0, false);
        loop {
            hops += 1;
            if hops > MAX_HOPS {
                out.note(Trace::Loop);
                if rescued {
                    // Even the way to the operator loops: hand the caller to the operator queue
                    // directly rather than leave them in silence.
                    out.actions.push(Action::Enqueue { queue: OPERATOR_QUEUE.into(), priority: 0 });
                    self.phase = Phase::Queued;
                    return;
                }
                (hops, rescued, target) = (0, true, flow.operator);
            }
            self.node = target;
            self.no_input = 0;
            self.invalid = 0;
            out.note(Trace::Enter(target));
            match &flow.node(target).kind {
                NodeKind::Menu(m) => return self.ask(flow, &m.ask, None, true, out),
                NodeKind::Input(i) => return self.ask(flow, &i.ask, None, true, out),
                NodeKind::Say { prompt, next } => {
                    self.say(flow, prompt, out);
                    target = *next;
                }
                NodeKind::Set { assign, language, next } => {
                    for (var, value) in assign {
                        let value = self.render(flow, value);
                        self.store(flow, *var, &value, out);
                    }
                    if let Some(lang) = language {
                        self.lang = *lang;
                    }
                    target = *next;
                }
                NodeKind::Branch(b) => {
                    let case = b.cases.iter().position(|c| self.holds(flow, &c.cond, now));
                    out.note(Trace::Branch(case));
                    target = case.map_or(b.otherwise, |i| b.cases[i].target);
                }
                NodeKind::Goto { target: t } => target = *t,
                NodeKind::Fetch(f) => {
                    self.say(flow, &f.prompt, out);
                    out.fetch = Some(self.request(flow, f));
                    self.phase = Phase::Fetching;
                    return;
                }
                NodeKind::Queue(q) => {
                    self.say(flow, &q.prompt, out);
                    if let Some(announce) = &q.announce {
                        self.announce_wait(flow, &q.queue, announce, now, None, out);
                    }
                    out.actions.push(Action::Enqueue { queue: q.queue.clone(), priority: q.priority });
                    self.phase = Phase::Queued;
                    return;
                }
                NodeKind::Dial { prompt, number, timeout_s, .. } => {
                    self.say(flow, prompt, out);
                    out.actions.push(Action::Dial { number: number.clone(), timeout_s: *timeout_s });
                    self.phase = Phase::Dialing;
                    return;
                }
                NodeKind::Voicemail { prompt, mailbox, max_length_s, finish_key } => {
                    self.say(flow, prompt, out);
                    out.actions.push(Action::Record {
                        mailbox: mailbox.clone(),
                        max_length_s: *max_length_s,
                        finish_key: *finish_key,
                    });
                    self.phase = Phase::Recording;
                    return;
                }
                NodeKind::Hangup { prompt } => {
                    self.say(flow, prompt, out);
                    out.actions.push(Action::Hangup);
                    self.phase = Phase::Ended { by_caller: false };
                    return;
                }
                NodeKind::Callback(c) => match self.booking(flow, c, now) {
                    Some(booking) => {
                        out.book = Some(booking);
                        self.phase = Phase::Booking;
                        return;
                    }
                    None => {
                        out.note(Trace::CallbackFailed);
                        target = c.failed.unwrap_or(flow.operator);
                    }
                },
            }
        }
    }

    /// Says the node's prompt (the short one on repeats, after `before`) and gathers.
    fn ask(&mut self, flow: &Flow, ask: &Ask, before: Option<&Prompt>, first: bool, out: &mut Output) {
        self.phase = Phase::Listening;
        if let Some(before) = before {
            self.say(flow, before, out);
        }
        let prompt = if first { &ask.prompt } else { ask.reprompt.as_ref().unwrap_or(&ask.prompt) };
        self.say(flow, prompt, out);
        let lang = flow.languages[usize::from(self.lang)].clone();
        let gather = match &flow.node(self.node).kind {
            NodeKind::Menu(m) => Gather {
                min_digits: 1,
                max_digits: 1,
                finish_key: None,
                timeout_ms: ask.settings.timeout_ms,
                speech: m.speech,
                hints: m.hints.clone(),
                lang,
            },
            NodeKind::Input(i) => Gather {
                min_digits: i.min_digits,
                max_digits: i.max_digits,
                finish_key: i.finish_key,
                timeout_ms: ask.settings.timeout_ms,
                speech: false,
                hints: "".into(),
                lang,
            },
            _ => unreachable!("ask is only called for menus and inputs"),
        };
        out.actions.push(Action::Gather(gather));
    }

    fn asking<'f>(&self, flow: &'f Flow) -> &'f Ask {
        match &flow.node(self.node).kind {
            NodeKind::Menu(m) => &m.ask,
            NodeKind::Input(i) => &i.ask,
            _ => unreachable!("a listening call is always at a menu or an input"),
        }
    }

    fn silence(&mut self, flow: &Flow, now: NaiveDateTime, out: &mut Output) {
        let ask = self.asking(flow);
        let s = &ask.settings;
        self.no_input = self.no_input.saturating_add(1);
        if self.no_input > s.retries {
            out.note(Trace::Fallback);
            self.go(flow, s.fallback, now, out);
        } else {
            out.note(Trace::Retry(self.no_input));
            self.ask(flow, ask, s.no_input.as_ref(), false, out);
        }
    }

    fn wrong(&mut self, flow: &Flow, now: NaiveDateTime, out: &mut Output) {
        let ask = self.asking(flow);
        let s = &ask.settings;
        self.invalid = self.invalid.saturating_add(1);
        if self.invalid >= s.max_invalid {
            out.note(Trace::Escalate);
            self.go(flow, s.escalate, now, out);
        } else {
            out.note(Trace::Invalid(self.invalid));
            self.ask(flow, ask, s.invalid.as_ref(), false, out);
        }
    }

    fn escape(&mut self, flow: &Flow, now: NaiveDateTime, out: &mut Output) {
        out.note(Trace::Escape);
        self.go(flow, flow.operator, now, out);
    }

    fn digits(&mut self, flow: &Flow, digits: &str, now: NaiveDateTime, out: &mut Output) {
        let settings: &Settings = &self.asking(flow).settings;
        match &flow.node(self.node).kind {
            NodeKind::Menu(m) => {
                // A menu gathers one key; anything after it is ignored, as Twilio would with
                // numDigits=1.
                let Some(key) = digits.chars().next() else { return self.silence(flow, now, out) };
                if Some(key) == settings.escape {
                    self.escape(flow, now, out);
                } else if Some(key) == settings.repeat {
                    out.note(Trace::Repeat);
                    self.ask(flow, &m.ask, None, true, out);
                } else if let Some((_, back)) = settings.back.filter(|(k, _)| *k == key) {
                    out.note(Trace::Back);
                    self.go(flow, back, now, out);
                } else if let Some(i) = m.options.iter().position(|o| o.key == Some(key)) {
                    out.note(Trace::Choice(i));
                    self.go(flow, m.options[i].target, now, out);
                } else {
                    self.wrong(flow, now, out);
                }
            }
            NodeKind::Input(input) => {
                let entry = match input.finish_key {
                    Some(k) => digits.split(k).next().unwrap_or(""),
                    None => digits,
                };
                if entry.is_empty() {
                    return self.silence(flow, now, out);
                }
                // A lone escape key cannot be an entry when entries are longer than one digit.
                if input.min_digits > 1 && settings.escape.is_some_and(|e| entry.chars().eq([e])) {
                    return self.escape(flow, now, out);
                }
                let len = entry.chars().count();
                let valid = (usize::from(input.min_digits)..=usize::from(input.max_digits)).contains(&len)
                    && entry.chars().all(|c| c.is_ascii_digit())
                    && input.pattern.as_ref().is_none_or(|p| p.is_match(entry));
                if valid {
                    self.store(flow, input.var, entry, out);
                    out.note(Trace::Stored);
                    self.go(flow, input.next, now, out);
                } else {
                    self.wrong(flow, now, out);
                }
            }
            _ => {}
        }
    }

    fn speech(&mut self, flow: &Flow, text: &str, confidence: f32, now: NaiveDateTime, out: &mut Output) {
        let settings = &self.asking(flow).settings;
        if confidence < settings.min_confidence {
            out.note(Trace::Unintelligible);
            return self.wrong(flow, now, out);
        }
        let heard = matching::stems(text);
        // Operator phrases are the spoken escape: with `escape = false` they are plain speech.
        let operator_phrases = if settings.escape.is_some() { &flow.operator_phrases[..] } else { &[] };
        let operator = matching::best(&heard, operator_phrases.iter().map(|p| (p, ())));
        match &flow.node(self.node).kind {
            NodeKind::Menu(m) => {
                let phrases = m.options.iter().enumerate().flat_map(|(i, o)| o.phrases.iter().map(move |p| (p, i)));
                match (matching::best(&heard, phrases), operator) {
                    (Some((score, i)), op) if op.is_none_or(|(s, _)| score >= s) => {
                        out.note(Trace::Choice(i));
                        self.go(flow, m.options[i].target, now, out);
                    }
                    (_, Some(_)) => self.escape(flow, now, out),
                    _ => self.wrong(flow, now, out),
                }
            }
            NodeKind::Input(_) if operator.is_some() => self.escape(flow, now, out),
            NodeKind::Input(_) => {
                // Recognisers often transcribe spoken numbers as digits: accept them as keys.
                let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
                if digits.is_empty() { self.wrong(flow, now, out) } else { self.digits(flow, &digits, now, out) }
            }
            _ => {}
        }
    }

    fn holds(&self, flow: &Flow, cond: &Cond, now: NaiveDateTime) -> bool {
        match cond {
            Cond::VarEq(var, value) => self.get_var(*var) == Some(&**value),
            Cond::VarSet(var) => self.get_var(*var).is_some_and(|v| !v.is_empty()),
            Cond::Language(lang) => self.lang == *lang,
            Cond::Open => flow.hours.is_open(now),
            Cond::Closed => !flow.hours.is_open(now),
            Cond::Holiday => flow.hours.is_holiday(now),
            Cond::WaitOver { queue, secs } => flow
                .estimator
                .as_ref()
                .and_then(|e| e.expected_wait_s(queue, now, None))
                .is_some_and(|w| w > f64::from(*secs)),
        }
    }

    fn request(&self, flow: &Flow, f: &Fetch) -> Request {
        let fill = |t: &Template, sink| -> Arc<str> {
            if t.has_vars { self.fill_into(flow, &t.raw, sink).into() } else { t.raw.clone() }
        };
        Request {
            method: f.method.clone(),
            url: fill(&f.url, Sink::Url),
            headers: f.headers.iter().map(|(name, value)| (name.clone(), fill(value, Sink::Header))).collect(),
            body: f.body.as_ref().map(|b| self.fill_json(flow, b).to_string().into()),
            timeout_ms: f.timeout_ms,
        }
    }

    /// The body with every string's placeholders filled in; serialising escapes them.
    fn fill_json(&self, flow: &Flow, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) if s.contains('{') => Value::String(self.fill_into(flow, s, Sink::Body)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.fill_json(flow, v)).collect()),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), self.fill_json(flow, v))).collect())
            }
            other => other.clone(),
        }
    }

    /// The call-back a `callback` node books; `None` without a number to call.
    fn booking(&self, flow: &Flow, c: &CallbackNode, now: NaiveDateTime) -> Option<Booking> {
        let number = self.get_var(c.number).map(str::trim).filter(|n| !n.is_empty())?;
        let told_wait_s = flow
            .estimator
            .as_ref()
            .and_then(|e| e.expected_wait_s(&c.queue, now, None))
            .filter(|w| w.is_finite() && *w >= 0.0)
            // Saturating: a wait beyond u32 seconds (136 years) is as good as infinite.
            .map(|w| w.round().min(f64::from(u32::MAX)) as u32);
        Some(Booking {
            queue: c.queue.clone(),
            number: number.into(),
            language: flow.languages[usize::from(self.lang)].clone(),
            told_wait_s,
            window: c.window,
        })
    }

    /// A stored booking: the promise, then goodbye. One that could not be stored: the
    /// node's `failed` way (the operator by default), so nobody waits for a call that never comes.
    fn booked(&mut self, flow: &Flow, stored: bool, now: NaiveDateTime, out: &mut Output) {
        let NodeKind::Callback(c) = &flow.node(self.node).kind else { return };
        if stored {
            self.say(flow, &c.prompt, out);
            out.note(Trace::Callback);
            out.actions.push(Action::Hangup);
            self.phase = Phase::Ended { by_caller: false };
        } else {
            out.note(Trace::CallbackFailed);
            self.go(flow, c.failed.unwrap_or(flow.operator), now, out);
        }
    }

    /// Stores the answer's values and goes the way it says; with no way written for a
    /// failure, apologises and goes to the operator.
    fn fetched(&mut self, flow: &Flow, answer: Fetched, now: NaiveDateTime, out: &mut Output) {
        let NodeKind::Fetch(f) = &flow.node(self.node).kind else { return };
        let result = match answer.status {
            Some(200..=299) => {
                let json = answer.json;
                // Every value or none: an answer without a field the flow speaks is a failure,
                // not a sentence with a hole in it.
                let values: Option<Vec<_>> =
                    f.store.iter().map(|(var, pointer)| Some((*var, json_text(json?.pointer(pointer)?)?))).collect();
                match values {
                    Some(values) => {
                        for (var, value) in values {
                            self.store(flow, var, &value, out);
                        }
                        FetchResult::Ok
                    }
                    None => FetchResult::Failed,
                }
            }
            Some(404) => FetchResult::NotFound,
            _ => FetchResult::Failed,
        };
        out.note(Trace::Fetched(result));
        let next = match result {
            FetchResult::Ok => Some(f.ok),
            FetchResult::NotFound => f.not_found.or(f.failed),
            FetchResult::Failed => f.failed,
        };
        match next {
            Some(next) => self.go(flow, next, now, out),
            None => {
                let lang = flow.languages[usize::from(self.lang)].clone();
                let text: Arc<str> = apology(&lang).into();
                let duration_ms = speech_ms(&text);
                out.actions.push(Action::Say { text, lang, duration_ms });
                self.go(flow, flow.operator, now, out);
            }
        }
    }

    fn announce_wait(
        &mut self,
        flow: &Flow,
        queue: &str,
        announce: &Prompt,
        now: NaiveDateTime,
        live: Option<LiveQueue>,
        out: &mut Output,
    ) {
        let Some(wait_s) = flow.estimator.as_ref().and_then(|e| e.expected_wait_s(queue, now, live)) else {
            return;
        };
        let minutes = (wait_s / 60.0).round();
        if minutes < 1.0 {
            // Under half a minute the caller is about to be answered: there is no wait to
            // announce (an announcement that all operators are busy would not be true).
            self.set_var(VAR_WAIT_MIN, "");
            return;
        }
        self.set_var(VAR_WAIT_MIN, &format!("{minutes:.0}"));
        self.say(flow, announce, out);
    }

    fn say(&self, flow: &Flow, prompt: &Prompt, out: &mut Output) {
        let text = prompt.text.pick(self.lang).map(|t| self.render(flow, t));
        let lang = flow.languages[usize::from(self.lang)].clone();
        // A templated file (`wait_{wait_min}.ru.wav`) plays only if that very file was found;
        // otherwise the text is spoken, so an unrecorded value is never silence.
        let file = prompt.play.pick(self.lang).and_then(|file| {
            if !file.contains('{') {
                return Some((file.clone(), flow.prompt_ms(prompt, self.lang)));
            }
            let file: Arc<str> = self.fill(flow, file).into();
            flow.sound_ms.get(&file).map(|ms| (file, *ms))
        });
        if let Some((file, duration_ms)) = file {
            out.actions.push(Action::Play { file, text, lang, duration_ms });
        } else if let Some(text) = text {
            let duration_ms = speech_ms(&text);
            out.actions.push(Action::Say { text, lang, duration_ms });
        }
    }

    /// Fills `{variable}` placeholders; unset variables read as empty.
    fn render(&self, flow: &Flow, t: &Template) -> Arc<str> {
        if !t.has_vars {
            return t.raw.clone();
        }
        self.fill(flow, &t.raw).into()
    }

    fn fill(&self, flow: &Flow, raw: &str) -> String {
        self.fill_into(flow, raw, Sink::Speech)
    }

    /// Fills placeholders for where the text goes: values escaped for a URL or a JSON string,
    /// and `{env.NAME}` kept as written for the driver outside speech.
    fn fill_into(&self, flow: &Flow, raw: &str, sink: Sink) -> String {
        let mut text = String::with_capacity(raw.len() + 16);
        let mut rest: &str = raw;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| c + open) else { break };
            text.push_str(&rest[..open]);
            let inner = &rest[open + 1..close];
            if inner.starts_with(ENV_PREFIX) {
                if matches!(sink, Sink::Url | Sink::Header) {
                    text.push_str(&rest[open..=close]);
                }
                rest = &rest[close + 1..];
                continue;
            }
            // `check` refuses a placeholder that does not parse, so none reaches a call.
            if let Ok(p) = spoken::parse(&rest[open + 1..close]) {
                let lang = &flow.languages[usize::from(self.lang)];
                let value = if p.name == "lang" { Some(&**lang) } else { self.var(flow, p.name) };
                let value = match (value, &p.form) {
                    (Some(value), spoken::Form::Plain) => std::borrow::Cow::Borrowed(value),
                    (Some(value), form) => std::borrow::Cow::Owned(spoken::render(value, form, lang)),
                    (None, _) => std::borrow::Cow::Borrowed(""),
                };
                sink.push(&mut text, &value);
            }
            rest = &rest[close + 1..];
        }
        text.push_str(rest);
        text
    }
}

/// Where a filled-in text goes, which says how a value is escaped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sink {
    Speech,
    /// Percent-encoded: a value can never add a path segment, a query or another host.
    Url,
    /// A string of a JSON body (serialising escapes it).
    Body,
    Header,
}

impl Sink {
    fn push(self, text: &mut String, value: &str) {
        match self {
            Sink::Speech | Sink::Body | Sink::Header => text.push_str(value),
            Sink::Url => {
                for b in value.bytes() {
                    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                        text.push(char::from(b));
                    } else {
                        text.push_str(&format!("%{b:02X}"));
                    }
                }
            }
        }
    }
}

/// A JSON value as a variable holds it: strings as they are, numbers and booleans as written;
/// `null` is no value.
fn json_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// What a caller hears when a `fetch` fails and the flow says nothing about it, before the
/// operator: in Russian for a Russian call, else in English.
pub fn apology(lang: &str) -> &'static str {
    if lang.eq_ignore_ascii_case("ru") {
        "Извините, сейчас не получается узнать эти данные."
    } else {
        "Sorry, we cannot look that up right now."
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::parse::parse;

    const FLOW: &str = r#"
[flow]
name = "t"
languages = ["ru", "en"]
start = "main"
operator = "op"

[defaults]
no_input = { ru = "Не слышу.", en = "Can't hear you." }
invalid = "Wrong."

[nodes.main]
kind = "menu"
prompt = { ru = "Меню.", en = "Menu." }
reprompt = "Short menu."
options = { "1" = "num", "2" = "bye" }
phrases = { bye = ["до свидания", "goodbye"] }

[nodes.num]
kind = "input"
prompt = "Number?"
min_digits = 3
max_digits = 5
var = "n"
next = "said"

[nodes.said]
kind = "hangup"
prompt = "You entered {n}, {caller}."

[nodes.bye]
kind = "hangup"
prompt = "Bye."

[nodes.op]
kind = "queue"
queue = "first_line"
announce = "About {wait_min} minutes."
"#;

    fn flow() -> Flow {
        crate::engine::parse::test_flow(FLOW)
    }

    fn at() -> NaiveDateTime {
        crate::calendar::parse_at("wed 11:00").unwrap()
    }

    fn texts(out: &Output) -> Vec<String> {
        out.actions
            .iter()
            .filter_map(|a| match a {
                Action::Say { text, .. } => Some(text.to_string()),
                _ => None,
            })
            .collect()
    }

    /// Starts a call, feeds events, returns the call and the last output.
    fn call(events: &[Event], lang: Option<&str>) -> (Call, Output) {
        let flow = flow();
        let (mut call, mut out) = Call::start(&flow, &Start { caller: Some("+100"), language: lang }, at());
        for e in events {
            out = call.handle(&flow, *e, at());
        }
        (call, out)
    }

    fn outcome(call: &Call) -> Option<(OutcomeKind, String)> {
        call.outcome(&flow()).map(|o| (o.kind, o.target))
    }

    #[test]
    fn start_says_the_prompt_in_the_language_and_gathers() {
        let (call, out) = call(&[], None);
        assert_eq!(texts(&out), ["Меню."]);
        assert!(
            matches!(out.actions.last(), Some(Action::Gather(g)) if g.max_digits == 1 && g.speech && g.timeout_ms == Millis(5000))
        );
        assert!(call.is_listening());
        let (_, out) = self::call(&[], Some("en"));
        assert_eq!(texts(&out), ["Menu."]);
    }

    #[test]
    fn escape_reaches_the_operator() {
        let (call, out) = call(&[Event::Digits("0")], None);
        assert!(out.trace.iter().any(|(_, t)| *t == Trace::Escape));
        assert!(matches!(out.actions.last(), Some(Action::Enqueue { queue, .. }) if &**queue == "first_line"));
        assert_eq!(outcome(&call), Some((OutcomeKind::Queue, "first_line".into())));
    }

    #[test]
    fn escape_off_turns_off_the_key_and_the_operator_phrases_but_not_escalation_or_fallback() {
        let flow = parse(&FLOW.replace("[defaults]\n", "[defaults]\nescape = false\n")).flow.expect("parses");
        let run = |events: &[Event]| {
            let (mut c, mut out) = Call::start(&flow, &Start::default(), at());
            for e in events {
                out = c.handle(&flow, *e, at());
            }
            (c, out)
        };
        let (c, out) = run(&[Event::Digits("0")]);
        assert!(c.is_listening() && out.trace.iter().any(|(_, t)| *t == Trace::Invalid(1)), "0 is a wrong key");
        let operator = Event::Speech { text: "Позовите оператора", confidence: 0.8 };
        let (c, out) = run(&[operator]);
        assert!(c.is_listening() && out.trace.iter().any(|(_, t)| *t == Trace::Invalid(1)), "the phrase is invalid");
        let (c, out) = run(&[operator, operator, operator]);
        assert!(out.trace.iter().any(|(_, t)| *t == Trace::Escalate), "the third wrong entry escalates");
        assert!(!out.trace.iter().any(|(_, t)| *t == Trace::Escape));
        assert_eq!(c.outcome(&flow).map(|o| o.kind), Some(OutcomeKind::Queue), "escalate still reaches the operator");
        let (c, out) = run(&[Event::NoInput, Event::NoInput, Event::NoInput]);
        assert!(out.trace.iter().any(|(_, t)| *t == Trace::Fallback));
        assert_eq!(c.outcome(&flow).map(|o| o.kind), Some(OutcomeKind::Queue), "silence still falls back");
        let (c, out) = run(&[Event::Digits("1"), Event::Digits("0#")]);
        assert!(c.is_listening() && out.trace.iter().any(|(_, t)| *t == Trace::Invalid(1)), "0# is a short entry");
    }

    #[test]
    fn silence_reprompts_then_falls_back() {
        let (_, out) = call(&[Event::NoInput], None);
        assert_eq!(texts(&out), ["Не слышу.", "Short menu."]);
        assert!(out.trace.iter().any(|(_, t)| *t == Trace::Retry(1)));
        let (call2, out) = call(&[Event::NoInput, Event::NoInput], None);
        assert!(call2.is_listening());
        assert!(out.trace.iter().any(|(_, t)| *t == Trace::Retry(2)));
        let (call3, out) = call(&[Event::NoInput, Event::NoInput, Event::NoInput], None);
        assert!(out.trace.iter().any(|(_, t)| *t == Trace::Fallback));
        assert_eq!(outcome(&call3), Some((OutcomeKind::Queue, "first_line".into())));
    }

    #[test]
    fn invalid_entries_escalate_on_the_third() {
        let (_, out) = call(&[Event::Digits("9")], None);
        assert_eq!(texts(&out), ["Wrong.", "Short menu."]);
        let (call2, _) = call(&[Event::Digits("9"), Event::Digits("8")], None);
        assert!(call2.is_listening());
        let (call3, out) = call(&[Event::Digits("9"), Event::Digits("8"), Event::Digits("7")], None);
        assert!(out.trace.iter().any(|(_, t)| *t == Trace::Escalate));
        assert!(call3.is_over());
    }

    #[test]
    fn speech_matches_phrases_or_the_operator_or_counts_as_invalid() {
        let (call1, _) = call(&[Event::Speech { text: "Goodbye!", confidence: 0.8 }], None);
        assert_eq!(outcome(&call1), Some((OutcomeKind::Hangup, "bye".into())));
        let (call2, _) = call(&[Event::Speech { text: "Позовите оператора", confidence: 0.8 }], None);
        assert_eq!(outcome(&call2), Some((OutcomeKind::Queue, "first_line".into())));
        let (_, out) = call(&[Event::Speech { text: "ммм", confidence: 0.8 }], None);
        assert!(out.trace.iter().any(|(_, t)| *t == Trace::Invalid(1)));
        let (_, out) = call(&[Event::Speech { text: "goodbye", confidence: 0.1 }], None);
        assert!(out.trace.iter().any(|(_, t)| *t == Trace::Unintelligible));
    }

    #[test]
    fn input_stores_digits_and_interpolates() {
        let (call, out) = call(&[Event::Digits("1"), Event::Digits("1234#")], None);
        assert_eq!(texts(&out), ["You entered 1234, +100."]);
        assert_eq!(call.var(&flow(), "n"), Some("1234"));
        let (call, _) = self::call(&[Event::Digits("1"), Event::Digits("12")], None);
        assert!(call.is_listening(), "too short is invalid and re-prompts");
        let (call, _) = self::call(&[Event::Digits("1"), Event::Digits("0#")], None);
        assert_eq!(outcome(&call), Some((OutcomeKind::Queue, "first_line".into())), "a lone 0 escapes");
    }

    #[test]
    fn caller_hangup_and_late_events() {
        let flow = flow();
        let (mut c, _) = call(&[Event::Hangup], None);
        assert_eq!(outcome(&c), Some((OutcomeKind::Hangup, "caller".into())));
        let out = c.handle(&flow, Event::Digits("1"), at());
        assert!(out.actions.is_empty(), "an ended call does nothing");
    }

    #[test]
    fn stale_state_goes_to_the_operator() {
        let flow = flow();
        let (mut c, _) = call(&[], None);
        c.flow_version ^= 1;
        let out = c.handle(&flow, Event::Digits("1"), at());
        assert!(out.trace.iter().any(|(_, t)| *t == Trace::StaleVersion));
        assert!(matches!(out.actions.last(), Some(Action::Enqueue { .. })));
    }

    #[derive(Debug)]
    struct Fixed(f64);

    impl super::super::flow::Estimator for Fixed {
        fn expected_wait_s(&self, _: &str, _: NaiveDateTime, live: Option<LiveQueue>) -> Option<f64> {
            Some(live.map_or(self.0, |l| f64::from(l.position) * 60.0))
        }
    }

    #[test]
    fn queue_announces_the_expected_wait() {
        let mut flow = flow();
        flow.estimator = Some(Arc::new(Fixed(250.0)));
        let (mut c, _) = Call::start(&flow, &Start::default(), at());
        let out = c.handle(&flow, Event::Digits("0"), at());
        assert_eq!(texts(&out), ["About 4 minutes."]);
        let out = c.handle(&flow, Event::QueueUpdate(LiveQueue { position: 2, avg_wait_s: None }), at());
        assert_eq!(texts(&out), ["About 2 minutes."]);
        let out = c.handle(&flow, Event::QueueUpdate(LiveQueue { position: 0, avg_wait_s: None }), at());
        assert!(texts(&out).is_empty(), "no wait to announce: {:?}", texts(&out));
        assert_eq!(c.var(&flow, "wait_min"), Some(""), "nor a stale one to log");
    }

    #[test]
    fn after_the_conversation_the_flow_goes_on_and_a_rating_is_traced() {
        let rate = "\n[nodes.rate]\nkind = \"input\"\nprompt = \"Rate 1 to 5.\"\nmax_digits = 1\nvar = \"rating\"\nnext = \"bye\"\n";
        let src = FLOW.replace("queue = \"first_line\"\n", "queue = \"first_line\"\nafter = \"rate\"\n") + rate;
        let flow = crate::engine::parse::test_flow(&src);
        let (mut c, _) = Call::start(&flow, &Start::default(), at());
        let _ = c.handle(&flow, Event::Digits("0"), at());
        assert_eq!(c.conversation_end(&flow), Some(Event::ConversationEnded));
        let out = c.handle(&flow, Event::ConversationEnded, at());
        assert_eq!(texts(&out), ["Rate 1 to 5."]);
        let out = c.handle(&flow, Event::Digits("4"), at());
        assert!(out.trace.iter().any(|(_, t)| *t == Trace::Rated(4)), "{:?}", out.trace);
        assert_eq!(c.outcome(&flow).map(|o| o.target), Some("bye".to_owned()));
        // Without `after` the conversation ends the call; a dial's answered transfer goes on.
        let flow = crate::engine::parse::test_flow(FLOW);
        let (mut c, _) = Call::start(&flow, &Start::default(), at());
        let _ = c.handle(&flow, Event::Digits("0"), at());
        assert_eq!(c.conversation_end(&flow), None);
        let dial = "kind = \"dial\"\nnumber = \"+15550100\"\nafter = \"bye\"\n";
        let src =
            FLOW.replace("kind = \"queue\"\nqueue = \"first_line\"\nannounce = \"About {wait_min} minutes.\"\n", dial);
        let flow = crate::engine::parse::test_flow(&src);
        let (mut c, _) = Call::start(&flow, &Start::default(), at());
        let _ = c.handle(&flow, Event::Digits("0"), at());
        assert_eq!(c.conversation_end(&flow), Some(Event::DialEnded { answered: true }));
        let out = c.handle(&flow, Event::DialEnded { answered: true }, at());
        assert_eq!(texts(&out), ["Bye."]);
    }

    #[test]
    fn a_wait_under_half_a_minute_is_not_announced() {
        let mut flow = flow();
        flow.estimator = Some(Arc::new(Fixed(29.0)));
        let (mut c, _) = Call::start(&flow, &Start::default(), at());
        let out = c.handle(&flow, Event::Digits("0"), at());
        assert!(texts(&out).is_empty(), "{:?}", texts(&out));
        assert!(matches!(out.actions.last(), Some(Action::Enqueue { .. })));
    }

    #[test]
    fn a_templated_recording_plays_when_that_file_exists_else_the_text_is_spoken() {
        let src = FLOW.replace(
            "announce = \"About {wait_min} minutes.\"",
            "announce = { text = \"About {wait_min} minutes.\", play = \"wait_{wait_min}.wav\" }",
        );
        let mut flow = parse(&src).flow.expect("parses");
        flow.sound_ms.insert("wait_4.wav".into(), Millis(1500));
        flow.estimator = Some(Arc::new(Fixed(250.0)));
        let (mut c, _) = Call::start(&flow, &Start::default(), at());
        let out = c.handle(&flow, Event::Digits("0"), at());
        let played = out.actions.iter().find_map(|a| match a {
            Action::Play { file, duration_ms, .. } => Some((file.to_string(), *duration_ms)),
            _ => None,
        });
        assert_eq!(played, Some(("wait_4.wav".to_owned(), Millis(1500))));
        let out = c.handle(&flow, Event::QueueUpdate(LiveQueue { position: 2, avg_wait_s: None }), at());
        assert_eq!(texts(&out), ["About 2 minutes."], "no wait_2.wav: spoken");
    }

    #[test]
    fn a_loop_without_input_ends_at_the_operator() {
        let src = FLOW.replace("\"2\" = \"bye\"", "\"2\" = \"spin\"")
            + "[nodes.spin]\nkind = \"goto\"\ntarget = \"spin2\"\n[nodes.spin2]\nkind = \"goto\"\ntarget = \"spin\"\n";
        let flow = parse(&src).flow.expect("parses (the loop is a check error, not a parse error)");
        let (mut c, _) = Call::start(&flow, &Start::default(), at());
        let out = c.handle(&flow, Event::Digits("2"), at());
        assert!(out.trace.iter().any(|(_, t)| *t == Trace::Loop));
        assert_eq!(c.outcome(&flow).map(|o| o.kind), Some(OutcomeKind::Queue));
    }

    #[test]
    fn outcome_kinds_are_one_lowercase_word_everywhere() {
        assert_eq!(OutcomeKind::Voicemail.to_string(), "voicemail");
        assert_eq!(serde_json::to_string(&OutcomeKind::Queue).ok().as_deref(), Some("\"queue\""));
        assert_eq!(serde_json::from_str::<OutcomeKind>("\"dial\"").ok(), Some(OutcomeKind::Dial));
        let wrong = serde_json::from_str::<OutcomeKind>("\"Queue\"").err().map(|e| e.to_string());
        assert!(
            wrong.as_deref().is_some_and(|e| e.contains("expected one of `queue`, `dial`, `hangup`, `voicemail`")),
            "{wrong:?}"
        );
    }

    const FETCH: &str = r#"
[flow]
name = "f"
languages = ["ru", "en"]
start = "ask"
operator = "op"
allow_hosts = ["api.example.com"]

[nodes.ask]
kind = "input"
prompt = "Number?"
var = "ticket"
next = "look"

[nodes.look]
kind = "fetch"
prompt = "One moment."
method = "post"
url = "https://api.example.com/requests/{ticket}?from={caller}"
headers = { Authorization = "Bearer {env.CRM_TOKEN}" }
body = { ticket = "{ticket}", tags = ["ivr"] }
store = { status = "/status", eta = "/eta/days" }
ok = "said"
not_found = "unknown"

[nodes.said]
kind = "hangup"
prompt = "Status {status}, {eta} days."

[nodes.unknown]
kind = "hangup"
prompt = "No such request."

[nodes.op]
kind = "queue"
queue = "first_line"
"#;

    /// A call at the fetch node of `FETCH` after entering `ticket`, and that output.
    fn at_fetch(ticket: &str) -> (Flow, Call, Output) {
        let flow = crate::engine::parse::test_flow(FETCH);
        let (mut c, _) = Call::start(&flow, &Start { caller: Some("+7 900"), language: Some("en") }, at());
        let out = c.handle(&flow, Event::Digits(ticket), at());
        (flow, c, out)
    }

    #[test]
    fn a_fetch_asks_the_driver_with_values_escaped_and_env_left_alone() {
        let (_, c, out) = at_fetch("42#");
        assert_eq!(texts(&out), ["One moment."]);
        assert!(c.is_fetching() && !c.is_over() && !c.is_listening());
        let request = out.fetch.expect("a request");
        assert_eq!(&*request.method, "POST");
        assert_eq!(&*request.url, "https://api.example.com/requests/42?from=%2B7%20900");
        assert_eq!(request.headers, [("Authorization".into(), "Bearer {env.CRM_TOKEN}".into())]);
        let body: serde_json::Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
        assert_eq!(body, serde_json::json!({ "ticket": "42", "tags": ["ivr"] }));
        assert_eq!(request.timeout_ms, Millis(2000));
    }

    #[test]
    fn a_fetch_stores_the_answer_and_branches_on_it() {
        let answer = serde_json::json!({ "status": "in progress", "eta": { "days": 3 } });
        let (flow, mut c, _) = at_fetch("42#");
        let out = c.handle(&flow, Event::Fetched(Fetched { status: Some(200), json: Some(&answer), ms: 5 }), at());
        assert!(out.trace.iter().any(|(_, t)| *t == Trace::Fetched(FetchResult::Ok)));
        assert_eq!(texts(&out), ["Status in progress, 3 days."]);
        assert_eq!(c.var(&flow, "eta"), Some("3"));

        let (flow, mut c, _) = at_fetch("42#");
        let out = c.handle(&flow, Event::Fetched(Fetched { status: Some(404), json: None, ms: 5 }), at());
        assert_eq!(texts(&out), ["No such request."]);
    }

    #[test]
    fn a_failed_fetch_without_a_way_apologises_and_reaches_the_operator() {
        let partial = serde_json::json!({ "status": "done" });
        for answer in [
            Fetched::failed(2000),
            Fetched { status: Some(500), json: None, ms: 3 },
            Fetched { status: Some(200), json: Some(&partial), ms: 3 },
            Fetched { status: Some(200), json: None, ms: 3 },
        ] {
            let (flow, mut c, _) = at_fetch("42#");
            let out = c.handle(&flow, Event::Fetched(answer), at());
            assert!(out.trace.iter().any(|(_, t)| *t == Trace::Fetched(FetchResult::Failed)), "{answer:?}");
            assert_eq!(texts(&out), [apology("en")], "{answer:?}");
            assert_eq!(c.outcome(&flow).map(|o| o.target), Some("first_line".to_owned()));
            assert_eq!(c.var(&flow, "status"), None, "nothing stored from a partial answer");
        }
    }

    #[test]
    fn a_caller_may_hang_up_while_the_fetch_is_out_and_other_events_wait() {
        let (flow, mut c, _) = at_fetch("42#");
        let out = c.handle(&flow, Event::Digits("5"), at());
        assert!(out.actions.is_empty() && c.is_fetching(), "keys do not answer a fetch");
        let _ = c.handle(&flow, Event::Hangup, at());
        assert_eq!(c.outcome(&flow).map(|o| o.target), Some("caller".to_owned()));
    }

    const CALLBACK: &str = r#"
[flow]
name = "c"
languages = ["ru", "en"]
start = "offer"
operator = "op"

[nodes.offer]
kind = "menu"
prompt = "1: your number, 2: another."
options = { "1" = "book", "2" = "other" }

[nodes.other]
kind = "input"
prompt = "Number?"
min_digits = 5
max_digits = 15
var = "phone"
next = "book_other"

[nodes.book]
kind = "callback"
queue = "first_line"
window = "10:00-18:00"
prompt = "We will call you back."

[nodes.book_other]
kind = "callback"
queue = "first_line"
number = "phone"
failed = "sorry"
prompt = "We will call {phone}."

[nodes.sorry]
kind = "say"
prompt = "Sorry, please hold."
next = "op"

[nodes.op]
kind = "queue"
queue = "first_line"
"#;

    #[test]
    fn a_callback_books_then_promises_and_hangs_up() {
        let flow = crate::engine::parse::test_flow(CALLBACK);
        let (mut c, _) = Call::start(&flow, &Start { caller: Some("+7 900 1"), language: Some("en") }, at());
        let out = c.handle(&flow, Event::Digits("1"), at());
        assert!(out.actions.is_empty(), "nothing is promised before the booking is stored: {:?}", out.actions);
        let booking = out.book.expect("a booking");
        assert_eq!(&*booking.number, "+7 900 1");
        assert_eq!((&*booking.queue, &*booking.language), ("first_line", "en"));
        assert_eq!(booking.window.map(|w| w.to_string()).as_deref(), Some("10:00-18:00"));
        assert_eq!(booking.told_wait_s, None, "no model, no estimate");
        assert!(!c.is_over());
        let out = c.handle(&flow, Event::Booked(true), at());
        assert!(out.trace.iter().any(|(_, t)| *t == Trace::Callback));
        assert_eq!(texts(&out), ["We will call you back."]);
        assert_eq!(out.actions.last(), Some(&Action::Hangup));
        assert_eq!(c.outcome(&flow).map(|o| o.to_string()).as_deref(), Some("hangup book"));
    }

    #[test]
    fn a_callback_takes_a_typed_number_and_goes_its_failed_way_when_not_stored() {
        let flow = crate::engine::parse::test_flow(CALLBACK);
        let (mut c, _) = Call::start(&flow, &Start::default(), at());
        let _ = c.handle(&flow, Event::Digits("2"), at());
        let out = c.handle(&flow, Event::Digits("79161234567#"), at());
        assert_eq!(out.book.map(|b| b.number.to_string()).as_deref(), Some("79161234567"));
        let out = c.handle(&flow, Event::Booked(false), at());
        assert!(out.trace.iter().any(|(_, t)| *t == Trace::CallbackFailed));
        assert_eq!(texts(&out), ["Sorry, please hold."]);
        assert_eq!(c.outcome(&flow).map(|o| o.to_string()).as_deref(), Some("queue first_line"));
    }

    #[test]
    fn a_callback_without_a_number_books_nothing_and_reaches_the_operator() {
        let flow = crate::engine::parse::test_flow(CALLBACK);
        let (mut c, _) = Call::start(&flow, &Start::default(), at());
        let out = c.handle(&flow, Event::Digits("1"), at());
        assert_eq!(out.book, None);
        assert!(out.trace.iter().any(|(_, t)| *t == Trace::CallbackFailed));
        assert_eq!(c.outcome(&flow).map(|o| o.to_string()).as_deref(), Some("queue first_line"));
        let book = flow.find("book").unwrap();
        let ways: Vec<_> = crate::engine::graph::edges_out(&flow, book).iter().map(|e| (e.to, e.on.label())).collect();
        assert_eq!(ways, [(flow.operator, "failed".to_owned())]);
    }

    #[test]
    fn a_callback_window_and_number_are_checked_where_written() {
        let diags = |from: &str, to: &str| {
            let (_, d) = crate::engine::parse_and_check(&CALLBACK.replace(from, to));
            d.into_iter().filter(|d| d.is_error()).map(|d| d.message).collect::<Vec<_>>()
        };
        assert_eq!(
            diags("10:00-18:00", "18:00-10:00"),
            ["window `18:00-10:00`: the window must end after it starts, on the same day"]
        );
        assert_eq!(diags("10:00-18:00", "10-18"), ["window `10-18`: `10` is not a time of day as HH:MM"]);
        assert_eq!(
            diags("10:00-18:00", "10:00-25:00"),
            ["window `10:00-25:00`: `25:00` is not a time of day as HH:MM"]
        );
        assert_eq!(
            diags("number = \"phone\"", "number = \"phnoe\""),
            ["number `phnoe` is never set: no `input`, `set` or `fetch` node stores it"]
        );
        let old = diags(
            "kind = \"callback\"\nqueue = \"first_line\"\nwindow",
            "kind = \"hangup\"\ncallback = \"first_line\"\nwindow",
        );
        assert!(old.iter().any(|m| m.contains("no longer takes `callback`")), "{old:?}");
    }

    #[test]
    fn a_fetch_draws_an_arrow_for_each_way() {
        let flow = crate::engine::parse::test_flow(FETCH);
        let look = flow.find("look").unwrap();
        let arrows: Vec<_> = crate::engine::graph::arrows(&flow)
            .into_iter()
            .filter(|a| a.from == look)
            .map(|a| (flow.node(a.to).id.to_string(), a.label()))
            .collect();
        let expected = [("said", "ok"), ("unknown", "not_found"), ("op", "failed")];
        assert_eq!(arrows, expected.map(|(to, on)| (to.to_owned(), on.to_owned())));
    }

    #[test]
    fn state_is_small_and_round_trips() {
        let (c, _) = call(&[Event::Digits("1"), Event::Digits("12")], None);
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.len() < 160, "{json}");
        assert_eq!(serde_json::from_str::<Call>(&json).unwrap(), c);
    }
}
