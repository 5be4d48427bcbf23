//! The flow model: a parsed, validated graph of nodes that the engine walks.
//!
//! Everything here is plain data built by `parse`; nothing refers back to the TOML text except
//! byte spans kept for diagnostics. Node references are indices (`NodeId`), so a call's state
//! holds numbers, never references into the flow.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use chrono::NaiveDateTime;

use super::millis::Millis;

/// Index of a node in `Flow::nodes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct NodeId(pub u16);

impl NodeId {
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// A byte range in the flow's source text.
pub type Span = Range<usize>;

/// A parsed flow: the header, the nodes and the tables derived from them.
#[derive(Clone, Debug)]
pub struct Flow {
    pub name: String,
    /// Hash of the source text: calls carry it so a reloaded flow never runs a stale state.
    pub version: u64,
    /// Language codes; index 0 is the default language.
    pub languages: Vec<Arc<str>>,
    pub start: NodeId,
    /// Where escapes (pressing 0, operator phrases) and engine trouble send the caller.
    pub operator: NodeId,
    /// IANA time zone of the call centre, for working-hours branches (`None`: server's zone).
    /// Parsed once here, so a request converts its time without parsing the name again.
    pub timezone: Option<chrono_tz::Tz>,
    /// Queue model file named by the flow, relative to the flow file.
    pub model: Option<String>,
    pub max_time_to_person_ms: Option<Millis>,
    pub hours: Hours,
    pub nodes: Vec<Node>,
    /// Variable names; a call stores values by index into this table.
    pub vars: Vec<Arc<str>>,
    /// Known durations of sound files in milliseconds, filled in by the driver that can read
    /// them; prompts with unknown files fall back to an estimate from their text.
    pub sound_ms: HashMap<Arc<str>, Millis>,
    /// Expected-wait source for `queue` announcements and `wait_over` branches, attached by
    /// the driver that loaded a queue model. Pure: it must not do I/O.
    pub estimator: Option<Arc<dyn Estimator>>,
    /// Phrases that reach the operator from every menu that listens for speech.
    pub operator_phrases: Vec<Phrase>,
    /// Every sound file the flow plays, with where it is named.
    pub sounds: Vec<(Arc<str>, Span)>,
    /// Every queue the flow names (`queue` nodes, `wait_over` cases), with where it is named.
    pub queues: Vec<(Arc<str>, Span)>,
    /// The hosts `fetch` nodes may call (`allow_hosts`): a host name, `host:port`, or
    /// `{env.NAME}` for a host (or URL) the driver reads from its environment.
    pub allow_hosts: Vec<(Arc<str>, Span)>,
}

/// Where a queued caller's expected wait comes from. Implemented by the queue model.
pub trait Estimator: Send + Sync + std::fmt::Debug {
    /// Expected wait in seconds for a caller joining `queue` at local time `at`, refined by the
    /// caller's live position and the queue's recent average wait when the provider sends them.
    fn expected_wait_s(&self, queue: &str, at: NaiveDateTime, live: Option<LiveQueue>) -> Option<f64>;
}

/// What a provider tells about a queue while the caller waits in it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LiveQueue {
    /// 1-based position of the caller in the queue.
    pub position: u32,
    /// The queue's recent average wait in seconds.
    pub avg_wait_s: Option<f64>,
}

impl Flow {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| &*n.id == name).and_then(|i| u16::try_from(i).ok()).map(NodeId)
    }

    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.nodes.len()).map(|i| NodeId(i as u16))
    }

    pub fn language_index(&self, code: &str) -> Option<u8> {
        self.languages.iter().position(|l| l.eq_ignore_ascii_case(code)).and_then(|i| u8::try_from(i).ok())
    }

    /// Estimated playing time of a prompt in `lang`: the sound file's real length when the
    /// driver measured it, else the text at a typical synthesis speaking rate.
    pub fn prompt_ms(&self, prompt: &Prompt, lang: u8) -> Millis {
        if let Some(file) = prompt.play.pick(lang)
            && let Some(ms) = self.sound_ms.get(file)
        {
            return *ms;
        }
        prompt.text.pick(lang).map_or(Millis::ZERO, |t| speech_ms(&t.raw))
    }
}

/// Whether `file` is a file that the `play` name `name` stands for: the name itself or, for a
/// name with a `{variable}` (`wait_{wait_min}.ru.wav`), any file with the name's text around it.
pub fn sound_matches(name: &str, file: &str) -> bool {
    match (name.find('{'), name.rfind('}')) {
        (Some(open), Some(close)) if open < close => {
            let (prefix, suffix) = (&name[..open], &name[close + 1..]);
            file.len() > prefix.len() + suffix.len() && file.starts_with(prefix) && file.ends_with(suffix)
        }
        _ => name == file,
    }
}

/// Whether an `allow_hosts` entry lets a request go to `host` (`name` or `name:port`): the
/// entry is the host, or its name without a port allows every port.
pub fn host_allowed(allowed: &str, host: &str) -> bool {
    let name =
        host.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(n, _)| n);
    allowed.eq_ignore_ascii_case(host) || (!allowed.contains(':') && allowed.eq_ignore_ascii_case(name))
}

/// Synthesised speech length for a text: about 14 characters a second (150 words a minute),
/// plus a short lead-in, which matches Polly and espeak voices at their default rate.
pub fn speech_ms(text: &str) -> Millis {
    let chars = u64::try_from(text.chars().count()).unwrap_or(u64::MAX);
    Millis(300 + chars.saturating_mul(1000) / 14)
}

/// One node of the flow.
#[derive(Clone, Debug)]
pub struct Node {
    pub id: Arc<str>,
    pub span: Span,
    pub kind: NodeKind,
}

#[derive(Clone, Debug)]
pub enum NodeKind {
    Menu(Menu),
    Input(Input),
    Say {
        prompt: Prompt,
        next: NodeId,
    },
    Branch(Branch),
    Set {
        assign: Vec<(u16, Template)>,
        language: Option<u8>,
        next: NodeId,
    },
    Queue(QueueNode),
    Dial {
        prompt: Prompt,
        number: Arc<str>,
        timeout_s: u32,
        no_answer: Option<NodeId>,
        /// Where the call goes on when the transfer was answered and the other side hung up.
        after: Option<NodeId>,
    },
    Voicemail {
        prompt: Prompt,
        mailbox: Arc<str>,
        max_length_s: u32,
        finish_key: Option<char>,
    },
    Hangup {
        prompt: Prompt,
    },
    /// Books a call-back (the driver stores it), then says its prompt and hangs up.
    Callback(Box<CallbackNode>),
    Goto {
        target: NodeId,
    },
    /// Asks a backend over HTTP and branches on the answer (the driver makes the request).
    Fetch(Box<Fetch>),
}

impl NodeKind {
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Menu(_) => "menu",
            NodeKind::Input(_) => "input",
            NodeKind::Say { .. } => "say",
            NodeKind::Branch(_) => "branch",
            NodeKind::Set { .. } => "set",
            NodeKind::Queue(_) => "queue",
            NodeKind::Dial { .. } => "dial",
            NodeKind::Voicemail { .. } => "voicemail",
            NodeKind::Hangup { .. } => "hangup",
            NodeKind::Callback(_) => "callback",
            NodeKind::Goto { .. } => "goto",
            NodeKind::Fetch(_) => "fetch",
        }
    }

    /// Nodes where the caller reaches a person.
    pub fn is_person(&self) -> bool {
        matches!(self, NodeKind::Queue(_) | NodeKind::Dial { .. })
    }

    /// How a menu or an input asks; `None` for nodes that never wait for the caller.
    pub fn ask(&self) -> Option<&Ask> {
        match self {
            NodeKind::Menu(m) => Some(&m.ask),
            NodeKind::Input(i) => Some(&i.ask),
            _ => None,
        }
    }

    /// The prompt said on entering the node, if it says one.
    pub fn main_prompt(&self) -> Option<&Prompt> {
        match self {
            NodeKind::Menu(Menu { ask, .. }) | NodeKind::Input(Input { ask, .. }) => Some(&ask.prompt),
            NodeKind::Queue(q) => Some(&q.prompt),
            NodeKind::Say { prompt, .. }
            | NodeKind::Dial { prompt, .. }
            | NodeKind::Voicemail { prompt, .. }
            | NodeKind::Hangup { prompt, .. } => Some(prompt),
            NodeKind::Fetch(f) => Some(&f.prompt),
            NodeKind::Callback(c) => Some(&c.prompt),
            NodeKind::Branch(_) | NodeKind::Set { .. } | NodeKind::Goto { .. } => None,
        }
    }
}

/// A `callback` node: the call-back it books and where the caller goes when it cannot be
/// booked (no number, or the driver could not store it).
#[derive(Clone, Debug)]
pub struct CallbackNode {
    /// Said once the booking is stored, before hanging up.
    pub prompt: Prompt,
    pub queue: Arc<str>,
    /// The variable holding the number to call back: `caller` unless the flow names one that
    /// an `input` node stores, with where it is written (for `check`).
    pub number: u16,
    pub number_span: Option<Span>,
    pub window: Option<Window>,
    /// Where the caller goes when the booking fails; the operator when unset.
    pub failed: Option<NodeId>,
    /// Where the call-back call starts when the server places it (`--callback-dial`).
    pub returns: Option<NodeId>,
}

/// The hours of the day a call-back may be made, in the flow's time zone: `10:00-18:00`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    /// Minutes after midnight; `from < to`.
    pub from_min: u16,
    pub to_min: u16,
}

impl Window {
    /// `HH:MM-HH:MM`, the start before the end on the same day (`24:00` ends at midnight).
    pub fn parse(text: &str) -> Result<Window, String> {
        let minutes = |part: &str| -> Result<u16, String> {
            let part = part.trim();
            let bad = || format!("`{part}` is not a time of day as HH:MM");
            let (h, m) = part.split_once(':').ok_or_else(bad)?;
            let digits =
                |s: &str, most: usize| !s.is_empty() && s.len() <= most && s.bytes().all(|b| b.is_ascii_digit());
            if !digits(h, 2) || !digits(m, 2) || m.len() != 2 {
                return Err(bad());
            }
            let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
            if m > 59 || h * 60 + m > 24 * 60 {
                return Err(bad());
            }
            Ok(h * 60 + m)
        };
        let (from, to) = text.split_once('-').ok_or("write the window as HH:MM-HH:MM, e.g. 10:00-18:00")?;
        let (from_min, to_min) = (minutes(from)?, minutes(to)?);
        if from_min >= to_min {
            return Err("the window must end after it starts, on the same day".into());
        }
        Ok(Window { from_min, to_min })
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b) = (self.from_min, self.to_min);
        write!(f, "{:02}:{:02}-{:02}:{:02}", a / 60, a % 60, b / 60, b % 60)
    }
}

/// Settings every gathering node inherits from `[defaults]` and may override.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The key that jumps to the operator (`None`: escape turned off).
    pub escape: Option<char>,
    pub timeout_ms: Millis,
    /// Re-prompts on silence before the timeout fallback.
    pub retries: u8,
    pub fallback: NodeId,
    /// Invalid entries (keys or speech) that escalate, counting the last one.
    pub max_invalid: u8,
    pub escalate: NodeId,
    pub repeat: Option<char>,
    pub back: Option<(char, NodeId)>,
    /// Speech results below this confidence count as unintelligible.
    pub min_confidence: f32,
    /// Said before the re-prompt after silence.
    pub no_input: Option<Prompt>,
    /// Said before the re-prompt after a wrong entry.
    pub invalid: Option<Prompt>,
}

/// What menus and inputs share: how they ask, and what silence and wrong entries do.
#[derive(Clone, Debug)]
pub struct Ask {
    pub prompt: Prompt,
    /// Shorter prompt for repeats after silence or a wrong entry.
    pub reprompt: Option<Prompt>,
    pub settings: Settings,
}

#[derive(Clone, Debug)]
pub struct Menu {
    pub ask: Ask,
    pub options: Vec<MenuOption>,
    /// Listen for speech as well as keys.
    pub speech: bool,
    /// The phrases of the options, comma-separated, as recognition hints.
    pub hints: Arc<str>,
}

#[derive(Clone, Debug)]
pub struct MenuOption {
    /// The key, or `None` for a speech-only option.
    pub key: Option<char>,
    pub phrases: Vec<Phrase>,
    pub target: NodeId,
    pub span: Span,
}

/// A phrase a caller may say, kept as word stems for matching.
#[derive(Clone, Debug)]
pub struct Phrase {
    pub text: Arc<str>,
    pub stems: Vec<Box<str>>,
}

#[derive(Clone, Debug)]
pub struct Input {
    pub ask: Ask,
    pub min_digits: u8,
    pub max_digits: u8,
    pub finish_key: Option<char>,
    pub pattern: Option<regex::Regex>,
    pub var: u16,
    /// Card numbers, PINs: what the caller enters here is never logged, only how many keys.
    pub sensitive: bool,
    pub next: NodeId,
}

#[derive(Clone, Debug)]
pub struct Branch {
    pub cases: Vec<Case>,
    pub otherwise: NodeId,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub cond: Cond,
    pub target: NodeId,
    /// The condition as written in the flow, for `graph`.
    pub text: Arc<str>,
}

#[derive(Clone, Debug)]
pub enum Cond {
    /// Variable equals a value (an unset variable equals nothing).
    VarEq(u16, Arc<str>),
    /// Variable is set and not empty.
    VarSet(u16),
    Language(u8),
    /// Inside working hours and not a holiday.
    Open,
    /// Outside working hours or a holiday.
    Closed,
    Holiday,
    /// The expected wait of a queue is over this many seconds.
    WaitOver {
        queue: Arc<str>,
        secs: u32,
    },
}

/// A `fetch` node: one HTTP request whose JSON answer fills variables.
#[derive(Clone, Debug)]
pub struct Fetch {
    /// Said before the request, while the caller waits ("One moment…"); may be empty.
    pub prompt: Prompt,
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: Arc<str>,
    /// Caller variables are percent-encoded into it; `{env.NAME}` is left for the driver.
    pub url: Template,
    /// Header values may read `{env.NAME}` (secrets): never rendered or shown by the engine.
    pub headers: Vec<(Arc<str>, Template)>,
    /// A JSON body; its strings are templates (filled in, then serialised with escapes).
    pub body: Option<serde_json::Value>,
    /// The body's strings as templates with their spans, for `check`.
    pub body_texts: Vec<Template>,
    pub timeout_ms: Millis,
    /// Variable index and the JSON pointer into the answer that fills it.
    pub store: Vec<(u16, Arc<str>)>,
    /// Where the node is written, and its `url`, for diagnostics.
    pub url_span: Span,
    pub ok: NodeId,
    /// HTTP 404; `None`: the `failed` way.
    pub not_found: Option<NodeId>,
    /// Anything else; `None`: a short apology and the operator.
    pub failed: Option<NodeId>,
}

impl Fetch {
    /// The default timeout, and the longest allowed: inside every provider's webhook deadline.
    pub const DEFAULT_TIMEOUT: Millis = Millis(2000);
    pub const MAX_TIMEOUT: Millis = Millis(5000);
    pub const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
}

#[derive(Clone, Debug)]
pub struct QueueNode {
    pub prompt: Prompt,
    pub queue: Arc<str>,
    /// Higher is answered first.
    pub priority: u8,
    /// Spoken with `{wait_min}` filled in when an estimate is known.
    pub announce: Option<Prompt>,
    /// Where the call goes on when the agent hung up and the caller is still on the line.
    pub after: Option<NodeId>,
}

/// Something the caller hears: synthesised text, a sound file, or both (the file is played,
/// the text is its fallback and transcript).
#[derive(Clone, Debug, Default)]
pub struct Prompt {
    pub text: Localized<Template>,
    pub play: Localized<Arc<str>>,
    /// Where the prompt is written, for diagnostics.
    pub span: Span,
}

impl Prompt {
    pub fn is_empty(&self) -> bool {
        self.text.0.is_empty() && self.play.0.is_empty()
    }
}

/// A value per language; `None` as the language means "any language".
#[derive(Clone, Debug)]
pub struct Localized<T>(pub Vec<(Option<u8>, T)>);

impl<T> Default for Localized<T> {
    fn default() -> Self {
        Localized(Vec::new())
    }
}

impl<T> Localized<T> {
    /// The value for `lang`, else the one for any language, else the default language's.
    pub fn pick(&self, lang: u8) -> Option<&T> {
        let by = |want: Option<u8>| self.0.iter().find(|(l, _)| *l == want).map(|(_, v)| v);
        by(Some(lang)).or_else(|| by(None)).or_else(|| by(Some(0))).or_else(|| self.0.first().map(|(_, v)| v))
    }

    /// Whether a value exists for `lang` itself (or for any language).
    pub fn has(&self, lang: u8) -> bool {
        self.0.iter().any(|(l, _)| *l == Some(lang) || l.is_none())
    }
}

/// Prompt text with `{variable}` placeholders.
#[derive(Clone, Debug)]
pub struct Template {
    pub raw: Arc<str>,
    /// Whether `raw` has placeholders; most prompts do not and are shared without copying.
    pub has_vars: bool,
    /// Where the text is written, for diagnostics: exactly the bytes of `raw` when the source
    /// holds it verbatim (no escapes), else the whole string with its quotes.
    pub span: Span,
}

impl Template {
    pub fn new(raw: &str, span: Span) -> Template {
        Template { raw: raw.into(), has_vars: raw.contains('{'), span }
    }

    /// Placeholder names in the order they appear, each with where it is written: its own
    /// `{name}` when the text is verbatim in the source, else the whole text.
    pub fn placeholders(&self) -> impl Iterator<Item = (&str, Span)> {
        let verbatim = self.span.len() == self.raw.len();
        let mut from = 0;
        std::iter::from_fn(move || {
            let open = self.raw[from..].find('{')? + from;
            let close = self.raw[open..].find('}')? + open;
            from = close + 1;
            let span = if verbatim { self.span.start + open..self.span.start + from } else { self.span.clone() };
            Some((&self.raw[open + 1..close], span))
        })
    }
}

/// Opening hours by weekday (Monday first) in minutes since midnight, and holidays.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hours {
    /// `None`: the flow names no hours and is always open.
    pub week: Option<[Vec<(u16, u16)>; 7]>,
    /// `(month, day)` every year, or with a year for one date.
    pub holidays: Vec<Holiday>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holiday {
    pub year: Option<i32>,
    pub month: u32,
    pub day: u32,
}

impl Hours {
    pub fn is_holiday(&self, at: NaiveDateTime) -> bool {
        use chrono::Datelike;
        self.holidays
            .iter()
            .any(|h| h.month == at.month() && h.day == at.day() && h.year.is_none_or(|y| y == at.year()))
    }

    pub fn is_open(&self, at: NaiveDateTime) -> bool {
        use chrono::{Datelike, Timelike};
        if self.is_holiday(at) {
            return false;
        }
        let Some(week) = &self.week else { return true };
        let minute = u16::try_from(at.hour() * 60 + at.minute()).unwrap_or(0);
        let day = at.weekday().num_days_from_monday() as usize;
        week[day].iter().any(|&(from, to)| minute >= from && minute < to)
    }
}

#[cfg(test)]
mod tests {
    use super::sound_matches;

    #[test]
    fn templated_names_match_the_files_around_the_placeholder() {
        assert!(sound_matches("wait_{wait_min}.ru.wav", "wait_12.ru.wav"));
        assert!(!sound_matches("wait_{wait_min}.ru.wav", "wait_12.en.wav"));
        assert!(!sound_matches("wait_{wait_min}.ru.wav", "wait_.ru.wav"), "the value is never empty");
        assert!(sound_matches("welcome.wav", "welcome.wav"));
        assert!(!sound_matches("welcome.wav", "welcome2.wav"));
    }
}
