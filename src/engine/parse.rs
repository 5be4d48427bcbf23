//! TOML text to a [`Flow`], collecting every problem with its span instead of stopping at the
//! first. The format is documented in `docs/flows.md`; keep the two in agreement.
//!
//! The text is read into `toml`'s spanned document tree and walked by hand, so that unknown
//! fields, bad values and dangling targets each become a [`Diagnostic`] at the right place.

use std::collections::HashMap;
use std::sync::Arc;

use toml::de::{DeTable, DeValue};

use super::call::BUILTIN_VARS;
use super::diagnostic::{Diagnostic, suggest};
use super::flow::*;
use super::matching::{self, is_phone_key};
use super::millis::Millis;
use super::reader::{Fields, Reader, Value};

/// A flow, if the text had no errors, and everything found on the way.
#[derive(Debug)]
pub struct Parsed {
    pub flow: Option<Flow>,
    pub diagnostics: Vec<Diagnostic>,
}

const FLOW_FIELDS: &[&str] = &[
    "name",
    "languages",
    "start",
    "operator",
    "timezone",
    "model",
    "max_time_to_person",
    "operator_phrases",
    "allow_hosts",
];
const SETTING_FIELDS: &[&str] = &[
    "escape",
    "timeout",
    "retries",
    "fallback",
    "max_invalid",
    "escalate",
    "repeat",
    "back_key",
    "min_confidence",
    "no_input",
    "invalid",
];
const KINDS: &[&str] =
    &["menu", "input", "say", "branch", "set", "queue", "dial", "voicemail", "hangup", "callback", "goto", "fetch"];

/// Parses a flow. `Parsed::flow` is `None` when any diagnostic is an error.
pub fn parse(source: &str) -> Parsed {
    let mut p = Parser { source, ..Parser::default() };
    let flow = match DeTable::parse(source) {
        Ok(doc) => p.flow(doc.get_ref(), source),
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim_end().to_owned();
            p.diags.push(Diagnostic::error(span, format!("invalid TOML: {message}")));
            None
        }
    };
    let flow = flow.filter(|_| !p.diags.iter().any(Diagnostic::is_error));
    Parsed { flow, diagnostics: p.r.diags }
}

/// Whether `pointer` is a JSON pointer (RFC 6901): empty, or `/`-separated tokens in which
/// `~` is only ever `~0` or `~1`.
pub fn check_pointer(pointer: &str) -> Result<(), &'static str> {
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err("it must start with `/`");
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err("`~` must be `~0` (for ~) or `~1` (for /)");
        }
    }
    Ok(())
}

/// A test's flow, parsed; its diagnostics are the panic message when it has errors.
#[cfg(test)]
pub(crate) fn test_flow(source: &str) -> Flow {
    let parsed = parse(source);
    parsed.flow.unwrap_or_else(|| panic!("{:?}", parsed.diagnostics))
}

#[derive(Default)]
struct Parser<'s> {
    source: &'s str,
    r: Reader,
    ids: HashMap<String, NodeId>,
    languages: Vec<Arc<str>>,
    vars: Vec<Arc<str>>,
    sounds: Vec<(Arc<str>, Span)>,
    queues: Vec<(Arc<str>, Span)>,
    /// The flow's operator phrases: a menu listens for speech by default when there are any.
    operator_phrases: Vec<Arc<str>>,
}

/// The generic readers (`string`, `fields`, `duration_ms`, ...) are the shared [`Reader`]'s.
impl std::ops::Deref for Parser<'_> {
    type Target = Reader;
    fn deref(&self) -> &Reader {
        &self.r
    }
}

impl std::ops::DerefMut for Parser<'_> {
    fn deref_mut(&mut self) -> &mut Reader {
        &mut self.r
    }
}

impl Parser<'_> {
    fn target(&mut self, value: &Value, what: &str) -> Option<NodeId> {
        let name = self.string(value, what)?;
        if let Some(id) = self.ids.get(name) {
            return Some(*id);
        }
        let mut d = Diagnostic::error(value.span(), format!("{what} `{name}` is not a node of this flow"));
        d.help = suggest(name, self.ids.keys().map(String::as_str));
        self.diags.push(d);
        None
    }

    /// A queue's name, remembered with its span for checks against the queue model.
    fn queue(&mut self, value: &Value) -> Option<Arc<str>> {
        let name: Arc<str> = self.string(value, "queue")?.into();
        let span = self.text_span(value, &name);
        self.queues.push((name.clone(), span));
        Some(name)
    }

    /// A duration the provider takes in whole seconds (<Gather timeout>, <Dial timeout>,
    /// <Record maxLength>), rounded up and at least 1 s, so that the flow's clock (`call`, the
    /// report, the simulator) waits what the real call will; a warning says when it rounded.
    fn whole_seconds(&mut self, value: &Value, what: &str) -> Option<u32> {
        let ms = self.duration_ms(value, what)?;
        let secs = ms.div_ceil(1000).max(1);
        if ms != secs * 1000 {
            self.diags.push(
                Diagnostic::warning(
                    value.span(),
                    format!("{what} of {ms} ms is not whole seconds: the provider waits {secs} s"),
                )
                .with_help(format!("the provider counts this in whole seconds; write \"{secs}s\"")),
            );
        }
        Some(secs)
    }

    fn language(&mut self, value: &Value) -> Option<u8> {
        let code = self.string(value, "a language")?;
        match self.languages.iter().position(|l| **l == *code) {
            Some(i) => u8::try_from(i).ok(),
            None => {
                let langs = self.languages.join(", ");
                self.error(value.span(), format!("language `{code}` is not one of the flow's languages ({langs})"));
                None
            }
        }
    }

    fn var(&mut self, name: &str) -> u16 {
        let index = self.vars.iter().position(|v| **v == *name).unwrap_or_else(|| {
            self.vars.push(name.into());
            self.vars.len() - 1
        });
        u16::try_from(index).unwrap_or(u16::MAX)
    }

    /// Where a string's text is written: the bytes between its quotes when they hold the text
    /// verbatim, so that a diagnostic can point inside it; else the whole string.
    fn text_span(&self, value: &Value, text: &str) -> Span {
        let span = value.span();
        let literal = self.source.get(span.clone()).unwrap_or("");
        let quote = if literal.starts_with("\"\"\"") || literal.starts_with("'''") { 3 } else { 1 };
        let inner = span.start + quote..span.end.saturating_sub(quote);
        if !text.is_empty() && self.source.get(inner.clone()) == Some(text) { inner } else { span }
    }

    /// One string, or a table from language to string; `make` gets each string and its span.
    fn localized<T>(&mut self, value: &Value, what: &str, make: impl Fn(&str, Span) -> T) -> Localized<T> {
        match value.get_ref() {
            DeValue::String(s) => Localized(vec![(None, make(s, self.text_span(value, s)))]),
            DeValue::Table(t) => {
                let mut out = Vec::new();
                for (lang, text) in t.iter() {
                    let Some(index) = self.languages.iter().position(|l| **l == **lang.get_ref()) else {
                        let langs = self.languages.join(", ");
                        self.error(
                            lang.span(),
                            format!("`{}` in {what} is not one of the flow's languages ({langs})", lang.get_ref()),
                        );
                        continue;
                    };
                    if let Some(s) = self.string(text, what) {
                        out.push((u8::try_from(index).ok(), make(s, self.text_span(text, s))));
                    }
                }
                Localized(out)
            }
            other => {
                self.error(
                    value.span(),
                    format!("{what} must be a string or a table of languages, not {}", other.type_str()),
                );
                Localized::default()
            }
        }
    }

    fn files(&mut self, value: &Value) -> Localized<Arc<str>> {
        let files = self.localized(value, "play", |s, _| Arc::<str>::from(s));
        for (_, file) in &files.0 {
            self.sounds.push((file.clone(), value.span()));
        }
        files
    }

    /// A prompt written as text (one string or per language) or as `{ text = ..., play = ... }`.
    fn prompt(&mut self, value: &Value, what: &str) -> Prompt {
        let is_full = matches!(value.get_ref(), DeValue::Table(t)
            if !t.is_empty() && t.iter().all(|(k, _)| matches!(k.get_ref().as_ref(), "text" | "play")));
        if !is_full {
            let text = self.localized(value, what, Template::new);
            return Prompt { text, play: Localized::default(), span: value.span() };
        }
        let Some(f) = self.fields(value, &["text", "play"], what) else { return Prompt::default() };
        let text = f.get("text").map(|v| self.localized(v, what, Template::new)).unwrap_or_default();
        let play = f.get("play").map(|v| self.files(v)).unwrap_or_default();
        Prompt { text, play, span: value.span() }
    }

    /// A node's main prompt: its `prompt` text and `play` file together.
    fn node_prompt(&mut self, f: &Fields) -> Prompt {
        let mut prompt = f.get("prompt").map(|v| self.prompt(v, "prompt")).unwrap_or_default();
        if let Some(play) = f.get("play") {
            if prompt.span == (0..0) {
                prompt.span = play.span();
            }
            let files = self.files(play);
            prompt.play = files;
        }
        if prompt.span == (0..0) {
            prompt.span = f.span.clone();
        }
        prompt
    }

    fn settings(&mut self, f: &Fields, base: &Settings) -> Settings {
        let mut s = base.clone();
        if let Some(v) = f.get("escape") {
            s.escape = self.key(v, "escape").unwrap_or(s.escape);
        }
        if let Some(v) = f.get("timeout")
            && let Some(secs) = self.whole_seconds(v, "timeout")
        {
            s.timeout_ms = Millis::from(secs * 1000);
        }
        if let Some(v) = f.get("retries") {
            s.retries = self.small(v, "retries", 20).unwrap_or(s.retries);
        }
        if let Some(v) = f.get("fallback") {
            s.fallback = self.target(v, "fallback").unwrap_or(s.fallback);
        }
        if let Some(v) = f.get("max_invalid") {
            match self.small(v, "max_invalid", 20) {
                Some(0) => self.error(v.span(), "max_invalid must be at least 1"),
                Some(n) => s.max_invalid = n,
                None => {}
            }
        }
        if let Some(v) = f.get("escalate") {
            s.escalate = self.target(v, "escalate").unwrap_or(s.escalate);
        }
        if let Some(v) = f.get("repeat") {
            s.repeat = self.key(v, "repeat").unwrap_or(s.repeat);
        }
        if let Some(v) = f.get("back_key") {
            let key = self.key(v, "back_key").unwrap_or(None);
            s.back = key.map(|k| (k, s.back.map_or(NodeId(0), |b| b.1)));
        }
        if let Some(v) = f.get("min_confidence") {
            match v.get_ref() {
                DeValue::Float(x) => match x.as_str().parse::<f32>() {
                    Ok(c) if (0.0..=1.0).contains(&c) => s.min_confidence = c,
                    _ => self.error(v.span(), "min_confidence must be from 0.0 to 1.0"),
                },
                DeValue::Integer(_) => s.min_confidence = self.int(v, "min_confidence", 0..=1).unwrap_or(0) as f32,
                _ => self.error(v.span(), "min_confidence must be a number from 0.0 to 1.0"),
            }
        }
        if let Some(v) = f.get("no_input") {
            s.no_input = Some(self.prompt(v, "no_input"));
        }
        if let Some(v) = f.get("invalid") {
            s.invalid = Some(self.prompt(v, "invalid"));
        }
        s
    }

    fn flow(&mut self, doc: &DeTable, source: &str) -> Option<Flow> {
        for (key, _) in doc.iter() {
            if !matches!(key.get_ref().as_ref(), "flow" | "defaults" | "hours" | "nodes") {
                let mut d = Diagnostic::error(key.span(), format!("unknown section `{}`", key.get_ref()));
                d.help = suggest(key.get_ref(), ["flow", "defaults", "hours", "nodes"])
                    .or_else(|| Some("a flow has the sections [flow], [defaults], [hours] and [nodes.*]".into()));
                self.diags.push(d);
            }
        }
        let Some(header) = doc.get("flow") else {
            self.error(0..0, "the flow has no [flow] section");
            return None;
        };
        let head = self.fields(header, FLOW_FIELDS, "[flow]")?;
        let name = head.get("name").and_then(|v| self.string(v, "name")).unwrap_or("flow").to_owned();

        self.languages = match head.get("languages") {
            Some(v) => self.strings(v, "languages").into_iter().map(|(s, _)| s.into()).collect(),
            None => vec!["en".into()],
        };
        if self.languages.is_empty() {
            self.error(head.span.clone(), "a flow needs at least one language");
            self.languages.push("en".into());
        }
        if self.languages.len() > 200 {
            self.error(head.span.clone(), "a flow may have at most 200 languages");
        }
        self.vars = BUILTIN_VARS.iter().map(|v| Arc::from(*v)).collect();

        // Node names first, so that targets can point forwards.
        let empty = DeTable::default();
        let nodes = match doc.get("nodes") {
            Some(v) => self.table(v, "[nodes]").unwrap_or(&empty),
            None => {
                self.error(0..0, "the flow has no nodes: add [nodes.<name>] sections");
                &empty
            }
        };
        for (i, (key, _)) in nodes.iter().enumerate() {
            match u16::try_from(i) {
                Ok(i) => {
                    self.ids.insert(key.get_ref().to_string(), NodeId(i));
                }
                Err(_) => {
                    self.error(key.span(), "a flow may have at most 65,535 nodes");
                    return None;
                }
            }
        }

        let start = head.get("start").and_then(|v| self.target(v, "start"));
        let operator = head.get("operator").and_then(|v| self.target(v, "operator"));
        if head.get("start").is_none() {
            self.error(head.span.clone(), "[flow] needs `start`, the node where calls begin");
        }
        if head.get("operator").is_none() {
            self.diags.push(
                Diagnostic::error(head.span.clone(), "[flow] needs `operator`, the node escapes go to")
                    .with_help("pressing 0 must reach a person from every menu: name a queue or dial node"),
            );
        }
        let timezone = head.get("timezone").and_then(|v| {
            let tz = self.string(v, "timezone")?;
            let zone = tz.parse::<chrono_tz::Tz>().ok();
            if zone.is_none() {
                self.error(v.span(), format!("`{tz}` is not an IANA time zone (such as \"Europe/Moscow\")"));
            }
            zone
        });
        let model = head.get("model").and_then(|v| self.string(v, "model")).map(str::to_owned);
        let max_time_to_person_ms =
            head.get("max_time_to_person").and_then(|v| self.duration_ms(v, "max_time_to_person")).map(Millis::from);
        let operator_phrases = match head.get("operator_phrases") {
            Some(v) => self.strings(v, "operator_phrases").iter().map(|(s, _)| matching::phrase(s)).collect(),
            None => ["оператор", "человек", "operator", "agent", "human"].map(matching::phrase).to_vec(),
        };
        self.operator_phrases = operator_phrases.iter().map(|p| p.text.clone()).collect();

        let allow_hosts = match head.get("allow_hosts") {
            Some(v) => self.strings(v, "allow_hosts").into_iter().map(|(s, span)| (s.into(), span)).collect(),
            None => Vec::new(),
        };
        let hours = doc.get("hours").map(|v| self.hours(v)).unwrap_or_default();

        let fallback_target = operator.unwrap_or(NodeId(0));
        let base = Settings {
            escape: Some('0'),
            timeout_ms: Millis(5000),
            retries: 2,
            fallback: fallback_target,
            max_invalid: 3,
            escalate: fallback_target,
            repeat: Some('*'),
            back: Some(('#', NodeId(0))),
            min_confidence: 0.3,
            no_input: None,
            invalid: None,
        };
        let defaults = match doc.get("defaults") {
            Some(v) => match self.fields(v, SETTING_FIELDS, "[defaults]") {
                Some(f) => self.settings(&f, &base),
                None => base,
            },
            None => base,
        };

        let mut built = Vec::with_capacity(nodes.len());
        for (key, value) in nodes.iter() {
            let kind = self.node(key.get_ref(), value, &defaults);
            built.push(Node {
                id: key.get_ref().as_ref().into(),
                span: key.span(),
                kind: kind.unwrap_or(NodeKind::Hangup { prompt: Prompt::default() }),
            });
        }

        let (start, operator) = (start?, operator?);
        // XXH3 is specified and stable across versions and machines, unlike std's hasher, and
        // hashes a large flow in well under a millisecond.
        let version = xxhash_rust::xxh3::xxh3_64(source.as_bytes());
        Some(Flow {
            name,
            version,
            languages: std::mem::take(&mut self.languages),
            start,
            operator,
            timezone,
            model,
            max_time_to_person_ms,
            hours,
            nodes: built,
            vars: std::mem::take(&mut self.vars),
            sound_ms: HashMap::new(),
            estimator: None,
            operator_phrases,
            sounds: std::mem::take(&mut self.sounds),
            queues: std::mem::take(&mut self.queues),
            allow_hosts,
        })
    }

    fn node(&mut self, name: &str, value: &Value, defaults: &Settings) -> Option<NodeKind> {
        let what = format!("node `{name}`");
        let table = self.table(value, &what)?;
        let Some(kind_value) = table.get("kind") else {
            self.diags.push(
                Diagnostic::error(value.span(), format!("{what} has no `kind`"))
                    .with_help(format!("add kind = one of: {}", KINDS.join(", "))),
            );
            return None;
        };
        let kind = self.string(kind_value, "kind")?;
        let prompt_fields: &[&str] = &["kind", "prompt", "play"];
        let gather_fields = |extra: &[&'static str]| -> Vec<&'static str> {
            let mut all = vec!["kind", "prompt", "play", "reprompt"];
            all.extend_from_slice(SETTING_FIELDS);
            all.extend_from_slice(extra);
            all
        };
        let allowed: Vec<&str> = match kind {
            "menu" => gather_fields(&["options", "phrases", "speech", "back"]),
            "input" => {
                gather_fields(&["min_digits", "max_digits", "finish_key", "pattern", "var", "next", "sensitive"])
            }
            "say" => [prompt_fields, &["next"]].concat(),
            "branch" => vec!["kind", "cases", "else"],
            "set" => vec!["kind", "vars", "language", "next"],
            "queue" => [prompt_fields, &["queue", "priority", "announce", "after"]].concat(),
            "dial" => [prompt_fields, &["number", "timeout", "no_answer", "after"]].concat(),
            "voicemail" => [prompt_fields, &["mailbox", "max_length", "finish_key"]].concat(),
            // `callback` is read only to say where it went (the `callback` kind).
            "hangup" => [prompt_fields, &["callback"]].concat(),
            "callback" => [prompt_fields, &["queue", "number", "window", "failed", "returns"]].concat(),
            "goto" => vec!["kind", "target"],
            "fetch" => {
                [prompt_fields, &["method", "url", "headers", "body", "timeout", "store", "ok", "not_found", "failed"]]
                    .concat()
            }
            other => {
                let mut d = Diagnostic::error(kind_value.span(), format!("unknown node kind `{other}`"));
                d.help = suggest(other, KINDS.iter().copied())
                    .or_else(|| Some(format!("expected one of: {}", KINDS.join(", "))));
                self.diags.push(d);
                return None;
            }
        };
        let f = self.fields(value, &allowed, &what)?;
        let required = |p: &mut Parser<'_>, field: &str| -> Option<&Value> {
            let v = f.get(field);
            if v.is_none() {
                p.error(value.span(), format!("{what} ({kind}) needs `{field}`"));
            }
            v
        };
        let next = |p: &mut Parser<'_>, field: &str| required(p, field).and_then(|v| p.target(v, field));
        Some(match kind {
            "menu" => NodeKind::Menu(self.menu(&f, &what, defaults)?),
            "input" => {
                let ask = self.ask(&f, defaults);
                let min_digits = f.get("min_digits").and_then(|v| self.small(v, "min_digits", 64)).unwrap_or(1);
                let max_digits = f.get("max_digits").and_then(|v| self.small(v, "max_digits", 64)).unwrap_or(20);
                if min_digits > max_digits || max_digits == 0 {
                    self.error(f.span.clone(), format!("{what}: min_digits ({min_digits}) must not exceed max_digits ({max_digits}), which must be at least 1"));
                }
                let finish_key = match f.get("finish_key") {
                    Some(v) => self.key(v, "finish_key").unwrap_or(Some('#')),
                    None => Some('#'),
                };
                let pattern = f.get("pattern").and_then(|v| {
                    let text = self.string(v, "pattern")?;
                    regex::Regex::new(text)
                        .map_err(|e| self.error(v.span(), format!("pattern is not a valid regular expression: {e}")))
                        .ok()
                });
                let var = required(self, "var").and_then(|v| self.string(v, "var")).map(str::to_owned);
                let sensitive = match f.get("sensitive") {
                    Some(v) => match v.get_ref() {
                        DeValue::Boolean(b) => *b,
                        _ => {
                            self.error(v.span(), "sensitive must be true or false");
                            // Unreadable: err on the side of never logging the entry.
                            true
                        }
                    },
                    None => false,
                };
                let next = next(self, "next");
                NodeKind::Input(Input {
                    ask,
                    min_digits,
                    max_digits,
                    finish_key,
                    pattern,
                    var: self.var(var.as_deref().unwrap_or("input")),
                    sensitive,
                    next: next?,
                })
            }
            "say" => NodeKind::Say { prompt: self.node_prompt(&f), next: next(self, "next")? },
            "branch" => {
                let cases = match required(self, "cases") {
                    Some(v) => match v.get_ref() {
                        DeValue::Array(items) => items.iter().filter_map(|c| self.case(c)).collect(),
                        _ => {
                            self.error(
                                v.span(),
                                "cases must be a list of tables such as { if = \"open\", goto = \"main\" }",
                            );
                            Vec::new()
                        }
                    },
                    None => Vec::new(),
                };
                NodeKind::Branch(Branch { cases, otherwise: next(self, "else")? })
            }
            "set" => {
                let mut assign = Vec::new();
                if let Some(v) = f.get("vars")
                    && let Some(t) = self.table(v, "vars")
                {
                    for (k, val) in t.iter() {
                        if let Some(s) = self.string(val, "a variable's value") {
                            assign.push((self.var(k.get_ref()), Template::new(s, self.text_span(val, s))));
                        }
                    }
                }
                let language = f.get("language").and_then(|v| self.language(v));
                NodeKind::Set { assign, language, next: next(self, "next")? }
            }
            "queue" => {
                let prompt = self.node_prompt(&f);
                let queue = required(self, "queue").and_then(|v| self.queue(v)).unwrap_or_else(|| "".into());
                let priority = f.get("priority").and_then(|v| self.small(v, "priority", 255)).unwrap_or(0);
                let announce = f.get("announce").map(|v| self.prompt(v, "announce"));
                let after = f.get("after").and_then(|v| self.target(v, "after"));
                NodeKind::Queue(QueueNode { prompt, queue, priority, announce, after })
            }
            "dial" => {
                let prompt = self.node_prompt(&f);
                let number = required(self, "number").and_then(|v| self.string(v, "number")).unwrap_or("");
                let timeout_s = f.get("timeout").and_then(|v| self.whole_seconds(v, "timeout")).unwrap_or(30);
                let no_answer = f.get("no_answer").and_then(|v| self.target(v, "no_answer"));
                let after = f.get("after").and_then(|v| self.target(v, "after"));
                NodeKind::Dial { prompt, number: number.into(), timeout_s, no_answer, after }
            }
            "voicemail" => {
                let prompt = self.node_prompt(&f);
                let mailbox = f.get("mailbox").and_then(|v| self.string(v, "mailbox")).unwrap_or(name);
                let max_length_s = f.get("max_length").and_then(|v| self.whole_seconds(v, "max_length")).unwrap_or(120);
                let finish_key = match f.get("finish_key") {
                    Some(v) => self.key(v, "finish_key").unwrap_or(Some('#')),
                    None => Some('#'),
                };
                NodeKind::Voicemail { prompt, mailbox: mailbox.into(), max_length_s, finish_key }
            }
            "hangup" => {
                if let Some(v) = f.get("callback") {
                    self.diags.push(
                        Diagnostic::error(v.span(), "a hangup node no longer takes `callback`: it booked nothing")
                            .with_help("make the node kind = \"callback\" with queue = \"…\": it books the call-back"),
                    );
                }
                NodeKind::Hangup { prompt: self.node_prompt(&f) }
            }
            "callback" => {
                let prompt = self.node_prompt(&f);
                let queue = required(self, "queue").and_then(|v| self.queue(v)).unwrap_or_else(|| "".into());
                let (number, number_span) = match f.get("number") {
                    Some(v) => match self.string(v, "number") {
                        Some(name) => {
                            let span = self.text_span(v, name);
                            (self.var(name), Some(span))
                        }
                        None => (self.var(BUILTIN_VARS[0]), None),
                    },
                    None => (self.var(BUILTIN_VARS[0]), None),
                };
                let window = f.get("window").and_then(|v| {
                    let text = self.string(v, "window")?;
                    Window::parse(text)
                        .map_err(|why| {
                            self.diags.push(
                                Diagnostic::error(v.span(), format!("window `{text}`: {why}"))
                                    .with_help("hours in the flow's time zone, e.g. window = \"10:00-18:00\""),
                            )
                        })
                        .ok()
                });
                let failed = f.get("failed").and_then(|v| self.target(v, "failed"));
                let returns = f.get("returns").and_then(|v| self.target(v, "returns"));
                NodeKind::Callback(Box::new(CallbackNode {
                    prompt,
                    queue,
                    number,
                    number_span,
                    window,
                    failed,
                    returns,
                }))
            }
            "goto" => NodeKind::Goto { target: next(self, "target")? },
            "fetch" => {
                let prompt = self.node_prompt(&f);
                let method = match f.get("method") {
                    Some(v) => {
                        let m = self.string(v, "method").unwrap_or("GET").to_ascii_uppercase();
                        if !Fetch::METHODS.contains(&&*m) {
                            self.error(v.span(), format!("method `{m}` is not one of {}", Fetch::METHODS.join(", ")));
                        }
                        m
                    }
                    None => "GET".to_owned(),
                };
                let url_value = required(self, "url");
                let url_span = url_value.map_or(f.span.clone(), |v| v.span());
                let url = url_value
                    .and_then(|v| self.string(v, "url").map(|s| Template::new(s, self.text_span(v, s))))
                    .unwrap_or_else(|| Template::new("", url_span.clone()));
                let mut headers = Vec::new();
                if let Some(v) = f.get("headers")
                    && let Some(t) = self.table(v, "headers")
                {
                    for (k, val) in t.iter() {
                        if let Some(s) = self.string(val, "a header's value") {
                            headers.push((Arc::from(&**k.get_ref()), Template::new(s, self.text_span(val, s))));
                        }
                    }
                }
                let mut body_texts = Vec::new();
                let body = f.get("body").map(|v| self.json(v, &mut body_texts));
                let timeout_ms = match f.get("timeout").and_then(|v| Some((v, self.duration_ms(v, "timeout")?))) {
                    Some((v, ms)) if Millis::from(ms) > Fetch::MAX_TIMEOUT || ms == 0 => {
                        self.diags.push(
                            Diagnostic::error(v.span(), format!("a fetch timeout of {ms} ms is not from 1 ms to 5 s"))
                                .with_help("the provider waits for our answer: a fetch may take at most 5 s"),
                        );
                        Fetch::DEFAULT_TIMEOUT
                    }
                    Some((_, ms)) => Millis::from(ms),
                    None => Fetch::DEFAULT_TIMEOUT,
                };
                let mut store = Vec::new();
                if let Some(v) = f.get("store")
                    && let Some(t) = self.table(v, "store")
                {
                    for (k, val) in t.iter() {
                        let Some(pointer) = self.string(val, "a JSON pointer") else { continue };
                        if let Err(why) = check_pointer(pointer) {
                            self.diags.push(
                                Diagnostic::error(val.span(), format!("`{pointer}` is not a JSON pointer: {why}"))
                                    .with_help("write \"/status\" or \"/items/0/name\" (RFC 6901)"),
                            );
                            continue;
                        }
                        store.push((self.var(k.get_ref()), Arc::from(pointer)));
                    }
                }
                let ok = next(self, "ok");
                let not_found = f.get("not_found").and_then(|v| self.target(v, "not_found"));
                let failed = f.get("failed").and_then(|v| self.target(v, "failed"));
                NodeKind::Fetch(Box::new(Fetch {
                    prompt,
                    method: method.into(),
                    url,
                    headers,
                    body,
                    body_texts,
                    timeout_ms,
                    store,
                    url_span,
                    ok: ok?,
                    not_found,
                    failed,
                }))
            }
            _ => unreachable!("kinds were checked above"),
        })
    }

    /// A `fetch` body as JSON; each string is a template, collected into `texts` for `check`.
    fn json(&mut self, value: &Value, texts: &mut Vec<Template>) -> serde_json::Value {
        use serde_json::Value as Json;
        match value.get_ref() {
            DeValue::String(s) => {
                texts.push(Template::new(s, self.text_span(value, s)));
                Json::String(s.to_string())
            }
            DeValue::Integer(i) => i.as_str().parse::<i64>().map_or(Json::Null, Json::from),
            DeValue::Float(x) => x.as_str().parse::<f64>().ok().map_or(Json::Null, Json::from),
            DeValue::Boolean(b) => Json::Bool(*b),
            DeValue::Array(items) => Json::Array(items.iter().map(|v| self.json(v, texts)).collect()),
            DeValue::Table(t) => {
                Json::Object(t.iter().map(|(k, v)| (k.get_ref().to_string(), self.json(v, texts))).collect())
            }
            DeValue::Datetime(d) => Json::String(d.to_string()),
        }
    }

    fn ask(&mut self, f: &Fields, defaults: &Settings) -> Ask {
        let prompt = self.node_prompt(f);
        let reprompt = f.get("reprompt").map(|v| self.prompt(v, "reprompt"));
        let settings = self.settings(f, defaults);
        Ask { prompt, reprompt, settings }
    }

    fn menu(&mut self, f: &Fields, what: &str, defaults: &Settings) -> Option<Menu> {
        let mut ask = self.ask(f, defaults);
        ask.settings.back = match f.get("back") {
            Some(v) => {
                let target = self.target(v, "back");
                match (ask.settings.back, target) {
                    (Some((key, _)), Some(t)) => Some((key, t)),
                    (None, Some(_)) => {
                        self.error(v.span(), "`back` needs a back_key (set back_key = \"#\")");
                        None
                    }
                    _ => None,
                }
            }
            None => None,
        };
        // Duplicate keys in one table are TOML syntax errors, so each key appears once here.
        let mut options: Vec<MenuOption> = Vec::new();
        let reserved = [
            (ask.settings.escape, "the escape key"),
            (ask.settings.repeat, "the repeat key"),
            (ask.settings.back.map(|b| b.0), "the back key"),
        ];
        if let Some(v) = f.get("options")
            && let Some(t) = self.table(v, "options")
        {
            for (k, target) in t.iter() {
                let key_text = k.get_ref();
                let mut chars = key_text.chars();
                let key = match (chars.next(), chars.next()) {
                    (Some(c), None) if is_phone_key(c) => c,
                    _ => {
                        self.error(k.span(), format!("option key `{key_text}` must be one key of 0-9, * or #"));
                        continue;
                    }
                };
                if let Some((_, role)) = reserved.iter().find(|(r, _)| *r == Some(key)) {
                    self.diags.push(
                        Diagnostic::error(k.span(), format!("key {key} in {what} is also {role}"))
                            .with_help("pick another key, or turn that role off in this menu (e.g. repeat = false)"),
                    );
                    continue;
                }
                let (goto, phrases) = match target.get_ref() {
                    DeValue::Table(_) => {
                        let Some(o) = self.fields(target, &["goto", "phrases"], "an option") else { continue };
                        let goto = o.get("goto").and_then(|g| self.target(g, "goto"));
                        if o.get("goto").is_none() {
                            self.error(target.span(), "an option table needs `goto`");
                        }
                        let phrases = o.get("phrases").map(|p| self.phrases(p)).unwrap_or_default();
                        (goto, phrases)
                    }
                    _ => (self.target(target, "option target"), Vec::new()),
                };
                if let Some(goto) = goto {
                    options.push(MenuOption { key: Some(key), phrases, target: goto, span: k.span() });
                }
            }
        }
        if let Some(v) = f.get("phrases")
            && let Some(t) = self.table(v, "phrases")
        {
            for (target_name, list) in t.iter() {
                let Some(&goto) = self.ids.get(target_name.get_ref().as_ref()) else {
                    let mut d = Diagnostic::error(
                        target_name.span(),
                        format!("phrases target `{}` is not a node of this flow", target_name.get_ref()),
                    );
                    d.help = suggest(target_name.get_ref(), self.ids.keys().map(String::as_str));
                    self.diags.push(d);
                    continue;
                };
                let phrases = self.phrases(list);
                match options.iter_mut().find(|o| o.target == goto) {
                    Some(o) => o.phrases.extend(phrases),
                    None => options.push(MenuOption { key: None, phrases, target: goto, span: target_name.span() }),
                }
            }
        }
        if f.get("options").is_none() && f.get("phrases").is_none() {
            self.error(f.span.clone(), format!("{what} has no options"));
        }
        let has_phrases = options.iter().any(|o| !o.phrases.is_empty());
        let speech = match f.get("speech") {
            Some(v) => match v.get_ref() {
                DeValue::Boolean(b) => *b,
                _ => {
                    self.error(v.span(), "speech must be true or false");
                    has_phrases
                }
            },
            None => has_phrases || !self.operator_phrases.is_empty(),
        };
        let option_phrases = options.iter().flat_map(|o| o.phrases.iter().map(|p| &*p.text));
        let operator_phrases = self.operator_phrases.iter().map(|p| &**p).filter(|_| speech);
        let hints = option_phrases.chain(operator_phrases).collect::<Vec<_>>().join(", ");
        Some(Menu { ask, options, speech, hints: hints.into() })
    }

    fn phrases(&mut self, value: &Value) -> Vec<Phrase> {
        self.strings(value, "phrases")
            .into_iter()
            .filter_map(|(text, span)| {
                let phrase = matching::phrase(&text);
                if phrase.stems.is_empty() {
                    self.error(span, "a phrase needs at least one word");
                    return None;
                }
                Some(phrase)
            })
            .collect()
    }

    fn case(&mut self, value: &Value) -> Option<Case> {
        let f = self.fields(value, &["if", "var", "eq", "language", "wait_over", "queue", "goto"], "a branch case")?;
        let target = match f.get("goto") {
            Some(v) => self.target(v, "goto"),
            None => {
                self.error(value.span(), "a branch case needs `goto`");
                None
            }
        };
        let conds = ["if", "var", "language", "wait_over"].iter().filter(|k| f.get(k).is_some()).count();
        if conds != 1 {
            self.diags.push(
                Diagnostic::error(value.span(), "a branch case needs exactly one condition")
                    .with_help("use one of: if = \"open\" | \"closed\" | \"holiday\", var = \"x\" (with eq = \"...\"), language = \"en\", wait_over = \"5m\" (with queue = \"...\")"),
            );
            return None;
        }
        let written = |v: &Value| match v.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Integer(i) => i.as_str().to_owned(),
            DeValue::Float(x) => x.as_str().to_owned(),
            _ => String::new(),
        };
        let text;
        let cond = if let Some(v) = f.get("if") {
            text = written(v);
            match self.string(v, "if")? {
                "open" => Cond::Open,
                "closed" => Cond::Closed,
                "holiday" => Cond::Holiday,
                other => {
                    self.error(v.span(), format!("unknown condition `{other}`: expected open, closed or holiday"));
                    return None;
                }
            }
        } else if let Some(v) = f.get("var") {
            let name = self.string(v, "var")?.to_owned();
            let var = self.var(&name);
            match f.get("eq") {
                Some(eq) => {
                    let value = self.string(eq, "eq")?;
                    text = format!("{name} = \"{value}\"");
                    Cond::VarEq(var, value.into())
                }
                None => {
                    text = format!("{name} is set");
                    Cond::VarSet(var)
                }
            }
        } else if let Some(v) = f.get("language") {
            text = format!("language = {}", written(v));
            Cond::Language(self.language(v)?)
        } else {
            let v = f.get("wait_over")?;
            let secs = self.duration_ms(v, "wait_over")? / 1000;
            let Some(queue) = f.get("queue") else {
                self.error(value.span(), "wait_over needs `queue`, the queue whose wait is compared");
                return None;
            };
            let queue = self.queue(queue)?;
            text = format!("wait_over {} on {queue}", written(v));
            Cond::WaitOver { queue, secs }
        };
        Some(Case { cond, target: target?, text: text.into() })
    }
}

#[cfg(test)]
mod tests {
    use super::super::reader::{parse_holiday, parse_range};
    use super::*;

    const MINIMAL: &str = r#"
[flow]
name = "t"
start = "main"
operator = "op"

[nodes.main]
kind = "menu"
prompt = "Press 1."
options = { "1" = "op" }

[nodes.op]
kind = "queue"
queue = "first_line"
"#;

    fn errors(src: &str) -> Vec<String> {
        parse(src).diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.clone()).collect()
    }

    #[test]
    fn minimal_flow_parses_with_defaults() {
        let parsed = parse(MINIMAL);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let flow = parsed.flow.unwrap();
        let NodeKind::Menu(menu) = &flow.node(flow.start).kind else { panic!("start is a menu") };
        let s = &menu.ask.settings;
        assert_eq!(
            (s.escape, s.timeout_ms, s.retries, s.max_invalid, s.repeat),
            (Some('0'), Millis(5000), 2, 3, Some('*'))
        );
        assert_eq!(s.fallback, flow.operator);
        assert_eq!(&*flow.languages[0], "en");
    }

    #[test]
    fn an_input_is_sensitive_only_when_it_says_so() {
        let input = |extra: &str| {
            let node =
                format!("[nodes.pin]\nkind = \"input\"\nprompt = \"PIN?\"\nvar = \"pin\"\nnext = \"op\"\n{extra}");
            format!("{}\n{node}", MINIMAL.replace("\"1\" = \"op\"", "\"1\" = \"pin\""))
        };
        let sensitive = |src: &str| {
            let flow = parse(src).flow.expect("the flow parses");
            let pin = flow.nodes.iter().find(|n| &*n.id == "pin").map(|n| &n.kind);
            matches!(pin, Some(NodeKind::Input(i)) if i.sensitive)
        };
        assert!(!sensitive(&input("")));
        assert!(sensitive(&input("sensitive = true")));
        assert!(!sensitive(&input("sensitive = false")));
        assert_eq!(errors(&input("sensitive = \"yes\"")), ["sensitive must be true or false"]);
    }

    #[track_caller]
    fn check_error(replace: (&str, &str), expected: &str) {
        let src = MINIMAL.replace(replace.0, replace.1);
        let errors = errors(&src);
        assert!(errors.iter().any(|e| e.contains(expected)), "expected {expected:?} in {errors:?}");
        assert!(parse(&src).flow.is_none());
    }

    #[test]
    fn mistakes_are_errors() {
        check_error(("prompt = ", "promt = "), "unknown field `promt`");
        check_error(("kind = \"menu\"", "kind = \"manu\""), "unknown node kind `manu`");
        check_error(("\"1\" = \"op\"", "\"1\" = \"nowhere\""), "`nowhere` is not a node");
        check_error(("\"1\" = \"op\"", "\"0\" = \"op\""), "also the escape key");
        check_error(("\"1\" = \"op\"", "\"12\" = \"op\""), "must be one key");
        check_error(("queue = \"first_line\"", "queue = \"first_line\"\ntimeout = \"5 parsecs\""), "unknown field");
        check_error(("[nodes.op]", "[nodes.op]\nkind = \"queue\""), "invalid TOML");
        check_error(("operator = \"op\"", ""), "needs `operator`");
        check_error(("prompt = \"Press 1.\"", "prompt = \"Press 1.\"\ntimeout = \"soon\""), "not a valid duration");
        check_error(("prompt = \"Press 1.\"", "prompt = { de = \"Hallo\" }"), "not one of the flow's languages");
        check_error(("name = \"t\"", "name = \"t\"\ntimezone = \"Mars/Olympus\""), "not an IANA time zone");
    }

    #[test]
    fn every_error_is_collected() {
        let src = MINIMAL.replace("prompt = ", "promt = ").replace("\"1\" = \"op\"", "\"1\" = \"nowhere\"");
        assert_eq!(errors(&src).len(), 2, "{:?}", errors(&src));
    }

    #[test]
    fn ranges_and_holidays() {
        assert_eq!(parse_range("09:00-18:30"), Some((540, 1110)));
        assert_eq!(parse_range("00:00-24:00"), Some((0, 1440)));
        assert_eq!(parse_range("18:00-09:00"), None);
        assert_eq!(parse_range("9-18"), None);
        assert_eq!(parse_holiday("01-07"), Some(Holiday { year: None, month: 1, day: 7 }));
        assert_eq!(parse_holiday("2026-05-09"), Some(Holiday { year: Some(2026), month: 5, day: 9 }));
        assert_eq!(parse_holiday("02-30"), None);
    }

    /// The menu's prompt texts with where each placeholder in them is written.
    fn placeholder_spans(src: &str) -> Vec<(Option<u8>, String, &str)> {
        let flow = parse(src).flow.expect("the flow parses");
        let NodeKind::Menu(menu) = &flow.node(flow.start).kind else { panic!("start is a menu") };
        let texts = &menu.ask.prompt.text.0;
        texts
            .iter()
            .flat_map(|(l, t)| t.placeholders().map(move |(name, span)| (*l, name.to_owned(), &src[span])))
            .collect()
    }

    #[test]
    fn each_text_knows_where_it_is_written() {
        let two = MINIMAL.replace("name = \"t\"", "name = \"t\"\nlanguages = [\"ru\", \"en\"]");
        let dotted = two.replace("prompt = \"Press 1.\"", "prompt.ru = \"Номер {a}.\"\nprompt.en = \"No. {b}, {a}.\"");
        let expected =
            [(Some(0), "a".to_owned(), "{a}"), (Some(1), "b".to_owned(), "{b}"), (Some(1), "a".to_owned(), "{a}")];
        assert_eq!(placeholder_spans(&dotted), expected);
        let inline = two.replace("prompt = \"Press 1.\"", "prompt = { ru = \"Номер {a}.\", en = \"No. {b}, {a}.\" }");
        assert_eq!(placeholder_spans(&inline), expected);
        // With an escape the text is not in the source as it reads: the whole string is meant.
        let escaped = MINIMAL.replace("prompt = \"Press 1.\"", "prompt = \"Say \\\"{a}\\\".\"");
        assert_eq!(placeholder_spans(&escaped), [(None, "a".to_owned(), "\"Say \\\"{a}\\\".\"")]);
    }

    #[test]
    fn gather_timeouts_are_whole_seconds_as_the_provider_waits() {
        for (written, expected_ms, warned) in [
            ("\"500ms\"", 1000, true),
            ("\"1500ms\"", 2000, true),
            ("\"0s\"", 1000, true),
            ("\"7s\"", 7000, false),
            ("3", 3000, false),
        ] {
            let src = MINIMAL.replace("prompt = \"Press 1.\"", &format!("prompt = \"Press 1.\"\ntimeout = {written}"));
            let parsed = parse(&src);
            let flow = parsed.flow.expect("the flow parses");
            let NodeKind::Menu(menu) = &flow.node(flow.start).kind else { panic!("start is a menu") };
            assert_eq!(menu.ask.settings.timeout_ms, Millis(expected_ms), "{written}");
            assert_eq!(parsed.diagnostics.len(), usize::from(warned), "{written}: {:?}", parsed.diagnostics);
        }
    }

    #[test]
    fn dial_and_voicemail_lengths_are_whole_seconds_too() {
        let dial = "[nodes.op]\nkind = \"dial\"\nnumber = \"+15550100\"\ntimeout = \"500ms\"\nno_answer = \"vm\"\n\n\
                    [nodes.vm]\nkind = \"voicemail\"\nmax_length = \"90500ms\"\n";
        let src = MINIMAL.replace("[nodes.op]\nkind = \"queue\"\nqueue = \"first_line\"\n", dial);
        let parsed = parse(&src);
        let flow = parsed.flow.expect("the flow parses");
        let op = flow.find("op").expect("op exists");
        let NodeKind::Dial { timeout_s, .. } = &flow.node(op).kind else { panic!("op is a dial") };
        assert_eq!(*timeout_s, 1);
        let vm = flow.find("vm").expect("vm exists");
        let NodeKind::Voicemail { max_length_s, .. } = &flow.node(vm).kind else { panic!("vm is a voicemail") };
        assert_eq!(*max_length_s, 91);
        let warnings: Vec<&str> = parsed.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            warnings,
            [
                "timeout of 500 ms is not whole seconds: the provider waits 1 s",
                "max_length of 90500 ms is not whole seconds: the provider waits 91 s"
            ]
        );
    }

    #[test]
    fn version_changes_with_the_text() {
        let a = parse(MINIMAL).flow.unwrap().version;
        let b = parse(&MINIMAL.replace("Press 1.", "Press one.")).flow.unwrap().version;
        assert_ne!(a, b);
    }
}
