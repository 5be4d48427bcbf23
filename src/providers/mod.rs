//! Provider adapters: each telephony provider's dialect around the one shared call step.
//!
//! A provider requests our webhooks when a call comes in and after each step; the shared layer
//! ([`crate::server`]) owns everything that is the same for all of them: state tokens, flow
//! hot reload, the engine step, wait announcements, metrics, the event log and the rule that a
//! caller on the line always gets a document that reaches a person. An adapter ([`Provider`])
//! owns only what differs:
//!
//! 1. [`Provider::verify`]: the provider's own request signature, checked as its SDK checks it;
//! 2. [`Provider::parse`]: its request parameters as an [`Incoming`] (a start, an engine
//!    [`Input`], a queue update, the caller leaving a queue, a status report);
//! 3. the `render_*` methods: engine actions (and the shared layer's own fallbacks) as its
//!    document ([`Document`]), pointing back at the URLs in [`Links`].
//!
//! Routes, built by the shared layer for every adapter in [`ADAPTERS`]:
//! `/{name}/{flow}` (a call comes in), `/{name}/{flow}/{callback}` (the follow-ups in
//! [`Callback`], carrying the signed state token in `?t=`), `/{name}/status` (a status callback
//! naming the flow in `?flow=`) and `/{name}/fallback` (the provider's fallback URL).
//!
//! Adding a provider: a module implementing [`Provider`], one line in [`ADAPTERS`], one row in
//! the conformance suite's table (`tests/conformance.rs`).

pub mod jambonz;
pub mod languages;
pub mod plivo;
pub mod replay;
pub mod schema;
pub mod signalwire;
pub mod telnyx;
pub mod twilio;
pub mod vonage;
pub mod xml;

/// What the dialects' unit tests share: a call's links and a spoken prompt.
#[cfg(test)]
pub(crate) mod test_support {
    use super::Links;
    use crate::engine::{Action, Millis};

    /// The links of a call of `support` on `provider`, with the state token `TOKEN`.
    pub fn links(provider: &str) -> Links {
        Links::new("https://ivr.example.com", provider, "support", Some("TOKEN"))
    }

    /// A second of Russian speech.
    pub fn say(text: &str) -> Action {
        Action::Say { text: text.into(), lang: "ru".into(), duration_ms: Millis(1000) }
    }
}

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
use chrono::{DateTime, Utc};

use crate::engine::flow::LiveQueue;
use crate::engine::{Action, Event};
use crate::events::QueueResult;

/// One adapter's constructor: its name (route prefix and the event log's `provider`), the
/// environment variable holding its credential, and how to build it from that credential
/// (`None`: not configured, requests are refused unless signatures are off).
pub struct Adapter {
    pub name: &'static str,
    pub env: &'static str,
    pub build: Build,
    /// How its `--voices` are named.
    pub voices: VoiceNames,
}

/// Builds an adapter from its credential, or says why the credential is unusable.
pub type Build = fn(Option<&str>) -> Result<Arc<dyn Provider>, String>;

/// Every provider the server speaks. Order is the order of `GET /flows` and the start-up log.
pub const ADAPTERS: &[Adapter] = &[
    Adapter { name: "twilio", env: "TWILIO_AUTH_TOKEN", build: twilio::Twiml::build, voices: VoiceNames::Named },
    Adapter { name: "signalwire", env: "SIGNALWIRE_SIGNING_KEY", build: signalwire::build, voices: VoiceNames::Named },
    Adapter { name: "telnyx", env: "TELNYX_PUBLIC_KEY", build: telnyx::build, voices: VoiceNames::Named },
    Adapter { name: "plivo", env: "PLIVO_AUTH_TOKEN", build: plivo::Plivo::build, voices: VoiceNames::Named },
    Adapter { name: "vonage", env: "VONAGE_SIGNATURE_SECRET", build: vonage::Vonage::build, voices: VoiceNames::Style },
    Adapter {
        name: "jambonz",
        env: "JAMBONZ_WEBHOOK_SECRET",
        build: jambonz::Jambonz::build,
        voices: VoiceNames::VendorVoice,
    },
];

/// A provider's dialect. Implementations are pure: no I/O, the time comes in as `now`.
///
/// Every method gets what the shared layer knows; none keeps per-call state (the state is in
/// the token the [`Links`] carry).
pub trait Provider: Send + Sync {
    /// The route prefix and the event log's `provider`: `twilio`, `plivo`, ….
    fn name(&self) -> &'static str;

    /// Whether a credential is configured. Without one, the shared layer refuses the
    /// provider's requests (403) unless signatures are off (`--insecure-no-signature`).
    fn enabled(&self) -> bool;

    /// Checks the request's signature with the configured credential, as the provider's SDK
    /// does. Called only when [`Provider::enabled`] and signatures are on. Returns the index in
    /// [`RawRequest::bases`] of the base URL the signature proved the provider used (callbacks
    /// are built on it); a signature that does not cover the URL returns 0.
    ///
    /// Refuse with [`Refusal::Forbidden`] for a missing, forged, stale or other-URL signature,
    /// [`Refusal::BadRequest`] for a body the provider never sends (checked before the
    /// signature, so a malformed request is a 400 whatever its signature).
    fn verify(&self, req: &RawRequest, now: DateTime<Utc>) -> Result<usize, Refusal>;

    /// The request as the shared layer's vocabulary. `callback` is `None` for `/{name}/{flow}`.
    /// A request that lacks the call id is a [`Refusal::BadRequest`].
    fn parse(&self, req: &RawRequest, callback: Option<Callback>) -> Result<ProviderRequest, Refusal>;

    /// The gather timeout the provider accepts, in whole seconds (inclusive), if it bounds it:
    /// `switchboard check` warns about a menu or input whose timeout falls outside, naming the
    /// provider.
    fn gather_timeout_s(&self) -> Option<(u64, u64)> {
        None
    }

    /// Whether the provider asks again when a queued caller's agent hangs up, so that a
    /// queue's `after` goes on with the flow; `check` names those that do not.
    fn asks_after_queue(&self) -> bool {
        true
    }

    /// The most digits one input may collect, if the provider bounds it: `check` warns about
    /// an input allowing more, naming the provider.
    fn gather_digits_max(&self) -> Option<u8> {
        None
    }

    /// Follow-up path segments of the provider's own beyond [`Callback::ALL`] (Vonage's
    /// `answer` and `event`), handed to [`Provider::parse`] as [`Callback::Other`]. A start
    /// under such a name: return [`Incoming::Start`].
    fn extra_callbacks(&self) -> &'static [&'static str] {
        &[]
    }

    /// The document for the engine's actions after one event. `actions` is never empty.
    fn render(&self, actions: &[Action], links: &Links) -> Document;

    /// What a queued caller hears on a request of [`Links::wait`]: `actions` (an announcement
    /// of the expected wait, possibly none), then hold music (`links.hold`) or a pause, after
    /// which the provider asks the wait URL again.
    fn render_wait(&self, actions: &[Action], links: &Links) -> Document;

    /// An apology in `lang`, then the caller goes to `route`: for when the flow cannot go on.
    fn render_operator(&self, lang: &str, route: &OperatorRoute, links: &Links) -> Document;

    /// An apology and a hang-up: nothing to run and nowhere known to send the caller.
    fn render_apology(&self, links: &Links) -> Document;

    /// A queue refused the caller: say so, then `alternative` if there is one, else hang up.
    fn render_queue_failed(&self, lang: &str, alternative: Option<&OperatorRoute>, links: &Links) -> Document;

    /// Hang up.
    fn render_hangup(&self) -> Document;

    /// The answer to a request that needs none (status callbacks).
    fn render_ack(&self) -> Document;
}

/// A provider's answer: its content type and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub content_type: &'static str,
    pub body: String,
}

impl Document {
    pub fn xml(body: String) -> Document {
        Document { content_type: "text/xml; charset=utf-8", body }
    }

    pub fn json(body: String) -> Document {
        Document { content_type: "application/json", body }
    }
}

/// Why a request was refused before any document: the provider never sends it like this.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Missing, forged, stale or other-URL signature: 403.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Malformed: 400.
    #[error("bad request: {0}")]
    BadRequest(String),
}

/// The follow-up requests a document points back to, `/{name}/{flow}/{callback}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Callback {
    /// Input gathered (digits or speech).
    Gather,
    /// A gather ended in silence (the redirect after it).
    Silence,
    /// A queued caller's hold document, asked again and again.
    Wait,
    /// The caller left the queue.
    Left,
    /// A transfer ended.
    Dialed,
    /// A recording ended.
    Recorded,
    /// The call's status changed (with a token: the provider's per-call status callback).
    Status,
    /// A provider's own follow-up name (Vonage's `answer` and `event`): the adapter decides.
    Other(&'static str),
}

impl Callback {
    /// The callbacks every adapter is routed for, by their path segment.
    pub const ALL: [(&'static str, Callback); 7] = [
        ("gather", Callback::Gather),
        ("silence", Callback::Silence),
        ("wait", Callback::Wait),
        ("left", Callback::Left),
        ("dialed", Callback::Dialed),
        ("recorded", Callback::Recorded),
        ("status", Callback::Status),
    ];

    pub fn from_segment(segment: &str, extra: &[&'static str]) -> Option<Callback> {
        Callback::ALL
            .iter()
            .find(|(s, _)| *s == segment)
            .map(|(_, c)| *c)
            .or_else(|| extra.iter().find(|s| **s == segment).map(|s| Callback::Other(s)))
    }

    pub fn segment(self) -> &'static str {
        match self {
            Callback::Other(s) => s,
            c => Callback::ALL.iter().find(|(_, k)| *k == c).map_or("", |(s, _)| s),
        }
    }
}

/// A webhook request as it arrived, for [`Provider::verify`] and [`Provider::parse`].
#[derive(Debug)]
pub struct RawRequest {
    pub method: Method,
    /// The path and query string as requested (`/plivo/support/gather?t=…`).
    pub path_and_query: String,
    /// The base URLs the provider may have used to reach us, most trusted first:
    /// `--public-url`, then what the proxy headers or `Host` say. Never empty.
    pub bases: Vec<String>,
    pub headers: HeaderMap,
    /// The raw body, as signed.
    pub body: Bytes,
    /// The query string's parameters (our `t` token lives there).
    pub query: Vec<(String, String)>,
    /// The body's parameters when it is `application/x-www-form-urlencoded`, else empty.
    pub form: Vec<(String, String)>,
    /// Whether the body was declared as a form.
    pub form_body: bool,
}

impl RawRequest {
    /// Each base with the path and query: the full URLs the provider may have requested.
    pub fn urls(&self) -> impl Iterator<Item = (usize, String)> + '_ {
        self.bases.iter().enumerate().map(|(i, b)| (i, format!("{b}{}", self.path_and_query)))
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The state token `t` of our callback URLs.
    pub fn token(&self) -> Option<&str> {
        query_param(&self.query, "t")
    }

    /// The provider's parameters: the form body of a POST, the query string of a GET (the
    /// form-encoding providers' convention).
    pub fn params(&self) -> &[(String, String)] {
        if self.method == Method::POST { &self.form } else { &self.query }
    }

    /// A non-empty parameter of [`RawRequest::params`].
    pub fn param(&self, name: &str) -> Option<&str> {
        query_param(self.params(), name).filter(|v| !v.is_empty())
    }

    /// Refuses a non-empty POST body that is not a form: what form-posting providers never send.
    pub fn require_form(&self) -> Result<(), Refusal> {
        if self.method == Method::POST && !self.body.is_empty() && !self.form_body {
            return Err(Refusal::BadRequest("the body must be application/x-www-form-urlencoded".into()));
        }
        Ok(())
    }
}

fn query_param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// What a request says, in the shared layer's words.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderRequest {
    /// The provider's call id (`CallSid`, `CallUUID`, …).
    pub call_id: String,
    /// The caller's number, when the request says.
    pub caller: Option<String>,
    pub incoming: Incoming,
}

/// The kinds of request the shared layer handles.
#[derive(Clone, Debug, PartialEq)]
pub enum Incoming {
    /// A call comes in.
    Start,
    /// An event for the engine.
    Input(Input),
    /// A queued caller's hold document is due: their live position.
    Wait { live: LiveQueue, queue_time_s: u32 },
    /// The caller left the queue. `refused`: the queue never took them (full, an error), so
    /// they are still on the line, unserved.
    LeftQueue { result: QueueResult, refused: bool, queue_time_s: u32, label: String },
    /// A status report with no state token. `ended`: the call is over; `hung_up`: it was
    /// answered and then ended (the log's `caller_hung_up`).
    Status { label: String, ended: bool, hung_up: bool, duration_s: u32 },
    /// The provider's fallback URL: our answer to `flow` failed (`error` says how).
    Fallback { flow: String, error: String },
}

/// An engine event as owned data (the engine's [`Event`] borrows).
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    Digits(String),
    Speech { text: String, confidence: f32 },
    NoInput,
    Hangup,
    DialEnded { answered: bool },
    RecordingDone,
}

impl Input {
    pub fn event(&self) -> Event<'_> {
        match self {
            Input::Digits(d) => Event::Digits(d),
            Input::Speech { text, confidence } => Event::Speech { text, confidence: *confidence },
            Input::NoInput => Event::NoInput,
            Input::Hangup => Event::Hangup,
            Input::DialEnded { answered } => Event::DialEnded { answered: *answered },
            Input::RecordingDone => Event::RecordingDone,
        }
    }
}

/// How a caller reaches a person when the engine cannot take them there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperatorRoute {
    Queue(String),
    Dial(String),
}

/// Where a document points the provider back to, one absolute URL per callback, each
/// `{base}/{provider}/{flow}/{callback}?t={token}`, built by the shared layer. Without a token
/// (the fallbacks), `wait` still works: it then serves hold music with no announcement.
#[derive(Clone, Debug)]
pub struct Links {
    /// Public base URL of the server (`https://ivr.example.com`), no trailing slash.
    pub base: String,
    /// `{base}/{provider}/{flow}/`, where every callback URL starts.
    prefix: String,
    /// `?t=…` with the state token, or empty: where every callback URL ends.
    token: String,
    /// Hold music for queued callers, a file name in the sounds folder.
    pub hold: Option<String>,
    /// Seconds of silence in a wait document without hold music.
    pub pause_s: u32,
    /// Voices for spoken prompts, by language.
    pub voices: Voices,
    /// The provider's id of the call, for a callback whose body is ours and would otherwise
    /// not name it (Vonage's `notify`): the state token opens only in its own call.
    pub call_id: Option<String>,
}

impl Links {
    /// The links of `flow` on `provider` at `base`, carrying `token` where there is one. The
    /// callback URLs are written when asked for: a document uses two or three of them.
    pub fn new(base: &str, provider: &str, flow: &str, token: Option<&str>) -> Links {
        Links {
            base: base.to_owned(),
            prefix: format!("{base}/{provider}/{flow}/"),
            token: token.map(|t| format!("?t={t}")).unwrap_or_default(),
            hold: None,
            pause_s: 30,
            voices: Voices::default(),
            call_id: None,
        }
    }

    fn at(&self, callback: &str) -> String {
        [&*self.prefix, callback, &self.token].concat()
    }

    /// Where a prompt's answer goes: digits or speech.
    pub fn gather(&self) -> String {
        self.at("gather")
    }

    /// Where a prompt that heard nothing goes on.
    pub fn silence(&self) -> String {
        self.at("silence")
    }

    /// Queued callers' hold and announcements.
    pub fn wait(&self) -> String {
        self.at("wait")
    }

    /// Where a caller leaving the queue goes.
    pub fn left(&self) -> String {
        self.at("left")
    }

    /// The end of a transfer.
    pub fn dialed(&self) -> String {
        self.at("dialed")
    }

    /// The end of a voicemail recording.
    pub fn recorded(&self) -> String {
        self.at("recorded")
    }

    /// The same links, for the call the provider names `call_id`.
    pub fn with_call(mut self, call_id: &str) -> Links {
        self.call_id = Some(call_id.to_owned());
        self
    }

    /// The same links, with `<Say>` speaking in `voices`.
    pub fn with_voices(mut self, voices: Voices) -> Links {
        self.voices = voices;
        self
    }

    /// The same links, queued callers hearing `hold` (a sound file) between announcements.
    pub fn with_hold(mut self, hold: Option<String>) -> Links {
        self.hold = hold;
        self
    }

    /// The URL a provider fetches a prompt's sound from.
    pub fn sound(&self, file: &str) -> String {
        format!("{}/sounds/{}", self.base, percent_encode(file))
    }
}

/// One provider's voices by language, as that provider names them (`--voices`), then the
/// provider's own defaults for the languages its default voice does not speak
/// ([`languages::default_voice`]); other languages get the provider's default voice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Voices {
    named: Arc<[(String, String)]>,
    /// The provider whose defaults apply when no voice is named (`None`: no defaults).
    defaults: Option<&'static str>,
}

impl Voices {
    /// Reads `lang=Voice` pairs separated by commas (one provider's, e.g. Twilio's
    /// `ru=Polly.Tatyana,en=Polly.Joanna`).
    pub fn parse(spec: &str) -> Result<Voices, String> {
        let mut pairs = Vec::new();
        for item in comma_items(spec) {
            let (lang, voice) = lang_voice(item)?;
            pairs.push((lang.to_owned(), voice.to_owned()));
        }
        Ok(Voices { named: pairs.into(), defaults: None })
    }

    /// The same voices, falling back on `provider`'s defaults.
    pub fn with_defaults_of(mut self, provider: &'static str) -> Voices {
        self.defaults = Some(provider);
        self
    }

    /// The voice for a language, named by its short or full code.
    pub fn for_language(&self, lang: &str) -> Option<&str> {
        let default = || self.defaults.and_then(|p| languages::default_voice(p, lang));
        if self.named.is_empty() {
            return default(); // the usual case, asked on every prompt
        }
        let full = locale(lang);
        self.named
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(lang) || locale(l).eq_ignore_ascii_case(full))
            .map(|(_, v)| v.as_str())
            .or_else(default)
    }
}

fn lang_voice(item: &str) -> Result<(&str, &str), String> {
    match item.split_once('=') {
        Some((lang, voice)) if !lang.trim().is_empty() && !voice.trim().is_empty() => Ok((lang.trim(), voice.trim())),
        _ => Err(format!("`{item}` is not LANG=VOICE (e.g. ru=Polly.Tatyana)")),
    }
}

/// What a provider's voice names look like, checked when `--voices` is read so that a typo
/// stops the server at start rather than silence a prompt mid-call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoiceNames {
    /// A voice name the provider resolves itself: `Polly.Tatyana`, `Google.ru-RU-Standard-A`,
    /// `woman` (the TwiML family, Plivo).
    Named,
    /// Vonage's numbered `style` of the language's voice (`0`, `1`, …).
    Style,
    /// jambonz's `vendor/voice` (`google/ru-RU-Wavenet-A`), or a voice of the application's
    /// default vendor.
    VendorVoice,
}

impl VoiceNames {
    fn check(self, voice: &str) -> Result<(), String> {
        match self {
            VoiceNames::Named if voice.contains(char::is_whitespace) => Err("a voice name has no spaces".into()),
            VoiceNames::Style if voice.parse::<u32>().is_err() => {
                Err("Vonage voices are numbered styles (0, 1, …) of the language's voice".into())
            }
            VoiceNames::VendorVoice if voice.split_once('/').is_some_and(|(v, n)| v.is_empty() || n.is_empty()) => {
                Err("write VENDOR/VOICE (google/ru-RU-Wavenet-A) or VOICE".into())
            }
            _ => Ok(()),
        }
    }

    fn example(self) -> &'static str {
        match self {
            VoiceNames::Named => "ru=Polly.Tatyana",
            VoiceNames::Style => "ru=2",
            VoiceNames::VendorVoice => "ru=google/ru-RU-Wavenet-A",
        }
    }
}

/// `--voices`: each provider's voices, `PROVIDER:LANG=VOICE` separated by commas, e.g.
/// `twilio:ru=Polly.Tatyana,vonage:ru=2,jambonz:ru=google/ru-RU-Wavenet-A`. Voice names are
/// the provider's own, so every entry names its provider.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VoiceTable(Vec<(&'static str, Voices)>);

impl VoiceTable {
    pub fn parse(spec: &str) -> Result<VoiceTable, String> {
        let names = || ADAPTERS.iter().map(|a| a.name).collect::<Vec<_>>().join(", ");
        let mut by_provider: Vec<(&'static str, Vec<(String, String)>)> = Vec::new();
        for item in comma_items(spec) {
            let Some((provider, pair)) = item.split_once(':').filter(|(p, _)| !p.contains('=')) else {
                return Err(format!(
                    "`{item}` names no provider: voices are each provider's own, write PROVIDER:LANG=VOICE \
                     (e.g. twilio:{item}; providers: {})",
                    names()
                ));
            };
            let provider = provider.trim();
            let Some(adapter) = ADAPTERS.iter().find(|a| a.name.eq_ignore_ascii_case(provider)) else {
                return Err(format!("`{item}`: no provider `{provider}` ({})", names()));
            };
            let (lang, voice) = lang_voice(pair).map_err(|e| format!("`{item}`: {e}"))?;
            adapter
                .voices
                .check(voice)
                .map_err(|e| format!("`{item}`: {e} (e.g. {}:{})", adapter.name, adapter.voices.example()))?;
            match by_provider.iter_mut().find(|(p, _)| *p == adapter.name) {
                Some((_, pairs)) => pairs.push((lang.to_owned(), voice.to_owned())),
                None => by_provider.push((adapter.name, vec![(lang.to_owned(), voice.to_owned())])),
            }
        }
        let table = by_provider.into_iter().map(|(p, pairs)| (p, Voices { named: pairs.into(), defaults: None }));
        Ok(VoiceTable(table.collect()))
    }

    /// `provider`'s voices: those listed, then its defaults.
    pub fn of(&self, provider: &str) -> Voices {
        let listed = self.0.iter().find(|(p, _)| *p == provider).map(|(_, v)| v.clone()).unwrap_or_default();
        match ADAPTERS.iter().find(|a| a.name == provider) {
            Some(adapter) => listed.with_defaults_of(adapter.name),
            None => listed,
        }
    }
}

/// The BCP-47 locale for a flow's language code: `ru` → `ru-RU`; a full code passes through.
/// Each short code maps to the region its speakers are most often in (CLDR's likely
/// subtags), since Vonage, Telnyx and jambonz take only full tags for speech and voices and a
/// bare `sv` would be refused there. No allocation: it runs for every prompt of every answer.
pub fn locale(code: &str) -> &str {
    #[rustfmt::skip] // several pairs a line: a lookup table, not code
    const LOCALES: [(&str, &str); 40] = [
        ("ru", "ru-RU"), ("en", "en-US"), ("uk", "uk-UA"), ("de", "de-DE"), ("fr", "fr-FR"),
        ("es", "es-ES"), ("it", "it-IT"), ("pt", "pt-BR"), ("pl", "pl-PL"), ("tr", "tr-TR"),
        ("kk", "kk-KZ"), ("sv", "sv-SE"), ("ja", "ja-JP"), ("zh", "zh-CN"), ("nl", "nl-NL"),
        ("da", "da-DK"), ("nb", "nb-NO"), ("no", "nb-NO"), ("fi", "fi-FI"), ("cs", "cs-CZ"),
        ("sk", "sk-SK"), ("el", "el-GR"), ("he", "he-IL"), ("hi", "hi-IN"), ("hu", "hu-HU"),
        ("id", "id-ID"), ("ko", "ko-KR"), ("ro", "ro-RO"), ("th", "th-TH"), ("vi", "vi-VN"),
        ("bg", "bg-BG"), ("hr", "hr-HR"), ("lt", "lt-LT"), ("lv", "lv-LV"), ("et", "et-EE"),
        ("sl", "sl-SI"), ("sr", "sr-RS"), ("ar", "ar-EG"), ("is", "is-IS"), ("ca", "ca-ES"),
    ];
    LOCALES.iter().find(|(short, _)| short.eq_ignore_ascii_case(code)).map_or(code, |(_, full)| *full)
}

/// The items of a comma-separated list, trimmed, empty ones skipped: the shape of `--voices`,
/// of a menu's hints, of rotated secrets and of Plivo's several signatures.
pub fn comma_items(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|i| !i.is_empty())
}

/// A menu's recognition hints (its comma-separated phrases) as the JSON list Vonage's
/// `context` and jambonz's `hints` take. It shares the flow's string and writes the list as it
/// serialises: splitting it into owned strings per answer cost as much as the rest of the NCCO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hints(pub Arc<str>);

impl Hints {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        comma_items(&self.0)
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl serde::Serialize for Hints {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// The shared layer's own words, for when the flow cannot say anything: (text, language).
pub mod words {
    fn ru(lang: &str) -> bool {
        matches!(lang, "ru" | "ru-RU")
    }

    pub fn operator(lang: &str) -> (&'static str, &'static str) {
        if ru(lang) {
            ("Извините, произошла техническая ошибка. Соединяю с оператором.", "ru")
        } else {
            ("Sorry, something went wrong on our side. Connecting you to an operator.", "en")
        }
    }

    pub fn apology() -> (&'static str, &'static str) {
        ("Sorry, something went wrong on our side. Please call again later.", "en")
    }

    pub fn queue_full_alternative(lang: &str) -> (&'static str, &'static str) {
        if ru(lang) {
            ("Извините, эта линия сейчас переполнена. Соединяю с другим оператором.", "ru")
        } else {
            ("Sorry, this line is full right now. Connecting you to another operator.", "en")
        }
    }

    pub fn queue_full(lang: &str) -> (&'static str, &'static str) {
        if ru(lang) {
            ("Извините, все линии сейчас переполнены. Пожалуйста, перезвоните позже.", "ru")
        } else {
            ("Sorry, all our lines are full right now. Please call again later.", "en")
        }
    }
}

/// Percent-encodes a URL path segment (everything but RFC 3986 unreserved characters).
pub fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `url` as given, and with its default port added or removed: `https://a.com/x` and
/// `https://a.com:443/x` are both what a provider may have signed (Twilio's and SignalWire's
/// libraries try both).
pub fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_owned()];
    let Some((scheme, rest)) = url.split_once("://") else { return variants };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return variants,
    };
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    // The port follows the last colon, unless that colon is inside an IPv6 literal.
    let port_at = authority.rfind(':').filter(|&i| !authority[i..].contains(']'));
    let other = match port_at {
        Some(i) if &authority[i + 1..] == default_port => format!("{scheme}://{}{tail}", &authority[..i]),
        Some(_) => return variants,
        None => format!("{scheme}://{authority}:{default_port}{tail}"),
    };
    variants.push(other);
    variants
}

/// Warnings for the gathering nodes of `flow` whose timeout or digit count a provider cannot
/// honour, and for queues whose `after` a provider never reaches.
pub fn limit_warnings(flow: &crate::engine::Flow) -> Vec<crate::engine::Diagnostic> {
    use crate::engine::NodeKind;
    let providers = Providers::insecure();
    let mut warnings = Vec::new();
    for node in &flow.nodes {
        if let NodeKind::Queue(crate::engine::flow::QueueNode { after: Some(_), .. }) = &node.kind {
            let silent: Vec<&str> =
                providers.all().iter().filter(|p| !p.asks_after_queue()).map(|p| p.name()).collect();
            if !silent.is_empty() {
                warnings.push(
                    crate::engine::Diagnostic::warning(
                        node.span.clone(),
                        format!(
                            "on {}, the call ends with the conversation: `after` is not reached",
                            silent.join(" and ")
                        ),
                    )
                    .with_help("the provider sends no request when the agent hangs up; the others go on to `after`"),
                );
            }
        }
        if let NodeKind::Input(input) = &node.kind {
            let over: Vec<String> = providers
                .all()
                .iter()
                .filter_map(|p| {
                    let max = p.gather_digits_max().filter(|m| input.max_digits > *m)?;
                    Some(format!("{} ({max}: callers there are cut off after {max})", p.name()))
                })
                .collect();
            if !over.is_empty() {
                warnings.push(
                    crate::engine::Diagnostic::warning(
                        node.span.clone(),
                        format!(
                            "max_digits {} is more than {} accept{}",
                            input.max_digits,
                            over.join(" and "),
                            if over.len() == 1 { "s" } else { "" }
                        ),
                    )
                    .with_help(format!("fewer digits serve `{}` the same everywhere", node.id)),
                );
            }
        }
        let ask = match &node.kind {
            NodeKind::Menu(m) => &m.ask,
            NodeKind::Input(i) => &i.ask,
            _ => continue,
        };
        let seconds = ask.settings.timeout_ms.0.div_ceil(1000);
        let outside: Vec<String> = providers
            .all()
            .iter()
            .filter_map(|p| {
                let (low, high) = p.gather_timeout_s().filter(|(l, h)| seconds < *l || seconds > *h)?;
                Some(format!("{} ({low}–{high} s: callers there get {} s)", p.name(), seconds.clamp(low, high)))
            })
            .collect();
        if !outside.is_empty() {
            warnings.push(
                crate::engine::Diagnostic::warning(
                    node.span.clone(),
                    format!(
                        "timeout {seconds} s is outside what {} accept{}",
                        outside.join(" and "),
                        if outside.len() == 1 { "s" } else { "" }
                    ),
                )
                .with_help(format!(
                    "a timeout within every provider's bounds serves `{}` the same everywhere",
                    node.id
                )),
            );
        }
    }
    warnings
}

/// The configured adapters and whether signatures are checked.
#[derive(Clone)]
pub struct Providers {
    adapters: Vec<Arc<dyn Provider>>,
    /// `false` with `--insecure-no-signature`: every provider is served, nothing is verified.
    pub check_signatures: bool,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: never print a credential.
        f.debug_struct("Providers")
            .field("enabled", &self.enabled())
            .field("check_signatures", &self.check_signatures)
            .finish()
    }
}

impl Providers {
    /// Every adapter of [`ADAPTERS`], with the credentials in `secrets` (provider name,
    /// credential); an empty credential counts as none. Unknown names and credentials an
    /// adapter cannot use (a malformed public key) are errors.
    pub fn configure(secrets: &[(&str, &str)], check_signatures: bool) -> Result<Providers, String> {
        for (name, _) in secrets {
            if !ADAPTERS.iter().any(|a| a.name == *name) {
                return Err(format!("no provider `{name}`"));
            }
        }
        let mut adapters = Vec::with_capacity(ADAPTERS.len());
        for adapter in ADAPTERS {
            let secret = secrets.iter().find(|(n, s)| *n == adapter.name && !s.is_empty()).map(|(_, s)| *s);
            adapters.push((adapter.build)(secret).map_err(|e| format!("{}: {e}", adapter.env))?);
        }
        Ok(Providers { adapters, check_signatures })
    }

    /// No credentials, nothing checked (`--insecure-no-signature`).
    pub fn insecure() -> Providers {
        Providers::configure(&[], false).expect("no credentials to misread")
    }

    pub fn all(&self) -> &[Arc<dyn Provider>] {
        &self.adapters
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.adapters.iter().find(|p| p.name() == name)
    }

    /// The providers whose requests are served: with credentials, or all when signatures are off.
    pub fn enabled(&self) -> Vec<&'static str> {
        self.adapters.iter().filter(|p| !self.check_signatures || p.enabled()).map(|p| p.name()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_a_list_of_the_trimmed_phrases() {
        let hints = Hints(Arc::from(" оператор, ,жалоба ,"));
        assert_eq!(serde_json::to_string(&hints).expect("a list of strings"), r#"["оператор","жалоба"]"#);
        assert!(!hints.is_empty());
        assert!(Hints(Arc::from(" , ")).is_empty(), "only separators: nothing to send");
    }

    #[test]
    fn variants_with_and_without_default_port() {
        let check = |url: &str, want: &[&str]| assert_eq!(url_variants(url), want, "{url}");
        check("https://a.com/x?t=1", &["https://a.com/x?t=1", "https://a.com:443/x?t=1"]);
        check("https://a.com:443/x", &["https://a.com:443/x", "https://a.com/x"]);
        check("http://a.com/x", &["http://a.com/x", "http://a.com:80/x"]);
        check("http://a.com:8080/x", &["http://a.com:8080/x"]);
        check("http://[::1]/x", &["http://[::1]/x", "http://[::1]:80/x"]);
        check("http://[::1]:80", &["http://[::1]:80", "http://[::1]"]);
        check("nonsense", &["nonsense"]);
    }

    #[test]
    fn callbacks_round_trip_their_segments() {
        for (segment, callback) in Callback::ALL {
            assert_eq!(Callback::from_segment(segment, &[]), Some(callback));
            assert_eq!(callback.segment(), segment);
        }
        assert_eq!(Callback::from_segment("answer", &["answer"]), Some(Callback::Other("answer")));
        assert_eq!(Callback::from_segment("answer", &[]), None);
    }

    #[test]
    fn timeouts_beyond_a_providers_bounds_are_warnings_naming_it() {
        let support = include_str!("../../flows/support.toml");
        let with = |timeout: &str| {
            // A longer timeout would break the flow's own bound on the time to a person.
            let source = support
                .replace("timeout = \"5s\"", &format!("timeout = \"{timeout}\""))
                .replace("max_time_to_person = \"3m\"", "max_time_to_person = \"60m\"");
            let (flow, diags) = crate::engine::parse_and_check(&source);
            let Some(flow) = flow else { panic!("{timeout}: {:?}", diags) };
            let warnings = limit_warnings(&flow).into_iter().map(|d| d.message);
            warnings.filter(|m| !m.contains("`after`")).collect::<Vec<_>>()
        };
        assert_eq!(with("5s"), Vec::<String>::new());
        let long = with("90s");
        assert!(
            !long.is_empty()
                && long.iter().all(|m| m.ends_with(
                    "plivo (5–60 s: callers there get 60 s) and vonage (0–10 s: callers there get 10 s) accept"
                )),
            "{long:?}"
        );
        let longer = with("125s");
        assert!(longer.iter().all(|m| m.contains("telnyx (1–120 s: callers there get 120 s) and plivo")), "{longer:?}");
        assert!(!with("3s").is_empty() && with("3s").iter().all(|m| m.contains("callers there get 5 s")));
    }

    #[test]
    fn a_queue_s_after_is_a_warning_naming_the_providers_that_never_reach_it() {
        let support = include_str!("../../flows/support.toml");
        let (flow, _) = crate::engine::parse_and_check(support);
        let warnings: Vec<String> =
            limit_warnings(&flow.expect("the sample parses")).into_iter().map(|d| d.message).collect();
        let vonage = "on vonage, the call ends with the conversation: `after` is not reached";
        assert_eq!(warnings, [vonage, vonage], "first_line and second_line");
        let (flow, _) = crate::engine::parse_and_check(&support.replace("after = \"after_call\"\n", ""));
        assert!(limit_warnings(&flow.expect("parses without after")).is_empty());
    }

    #[test]
    fn voices_are_per_provider_and_checked_as_it_names_them() {
        let table = VoiceTable::parse(
            "twilio:ru=Polly.Tatyana, vonage:ru=2, twilio:en-GB=Polly.Amy, jambonz:ru=google/ru-RU-Wavenet-A",
        )
        .expect("valid");
        assert_eq!(table.of("twilio").for_language("ru-RU"), Some("Polly.Tatyana"));
        assert_eq!(table.of("twilio").for_language("en-GB"), Some("Polly.Amy"));
        assert_eq!(table.of("vonage").for_language("ru"), Some("2"));
        assert_eq!(table.of("plivo").for_language("ru"), None, "another provider's voices are not Plivo's");
        assert_eq!(table.of("jambonz").for_language("ru"), Some("google/ru-RU-Wavenet-A"));
        let refused = |spec: &str, says: &str| {
            let error = VoiceTable::parse(spec).expect_err(spec);
            assert!(error.contains(says), "{spec}: {error}");
        };
        refused("ru=Polly.Tatyana", "names no provider");
        refused("twillio:ru=Polly.Tatyana", "no provider `twillio`");
        refused("vonage:ru=Polly.Tatyana", "numbered styles");
        refused("jambonz:ru=google/", "VENDOR/VOICE");
        refused("twilio:ru", "not LANG=VOICE");
        refused("twilio:ru=Polly Tatyana", "no spaces");
        assert_eq!(VoiceTable::parse("").expect("empty"), VoiceTable::default());
    }

    #[test]
    fn more_digits_than_vonage_takes_is_a_warning_naming_it() {
        let support = include_str!("../../flows/support.toml");
        let with = |digits: &str| {
            let source = support.replace("max_digits = 10", &format!("max_digits = {digits}"));
            let (flow, diags) = crate::engine::parse_and_check(&source);
            let Some(flow) = flow else { panic!("{digits}: {diags:?}") };
            limit_warnings(&flow)
                .into_iter()
                .map(|d| d.message)
                .filter(|m| m.starts_with("max_digits"))
                .collect::<Vec<_>>()
        };
        assert_eq!(with("20"), Vec::<String>::new());
        assert_eq!(with("21"), ["max_digits 21 is more than vonage (20: callers there are cut off after 20) accepts"]);
    }

    #[test]
    fn configure_refuses_unknown_providers_and_lists_the_enabled() {
        assert!(Providers::configure(&[("twillio", "x")], true).is_err());
        let p = Providers::configure(&[("twilio", "x"), ("signalwire", "")], true).expect("valid");
        assert_eq!(p.enabled(), ["twilio"]);
        assert_eq!(Providers::insecure().enabled().len(), ADAPTERS.len());
    }
}
