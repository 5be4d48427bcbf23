//! Twilio Studio flow definitions (the JSON of Studio's export and Flows API) to our flow format.
//!
//! Studio is a graph of widgets joined by transitions; ours is a graph of nodes. A
//! `gather-input-on-call` whose keypress (or speech) leads to a `split-based-on` over its
//! `Digits` (or `SpeechResult`) is one `menu`: the split's conditions become options and phrases.
//! A gather that stores an entry for later becomes an `input`. The other widgets map one to one
//! where we have the node, and to a `say` placeholder plus a warning where we do not. A
//! transition with no next widget ends a Studio execution, which hangs the call up: it leads to
//! one `hangup` node.
//!
//! Studio flows rarely offer press-0 or a silence fallback everywhere; ours do by default, so the
//! import keeps our defaults and lists the menus that gained them ([`Imported::gained`]).
//!
//! Pure: JSON text in, TOML text and notes out; the CLI reads and writes the files.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::Value;

/// The flow a Studio export became, and what the conversion could not keep.
#[derive(Debug)]
pub struct Imported {
    /// The flow file's text.
    pub toml: String,
    /// What was approximated or dropped, each at the widget it is about.
    pub warnings: Vec<Note>,
    /// Menus that gained a way to a person Studio did not offer: `(node, what)`.
    pub gained: Vec<(String, String)>,
}

/// A remark about one place of the Studio JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    /// Byte offset of the widget's name in the JSON text, when it can be found.
    pub offset: Option<usize>,
    pub message: String,
}

/// A definition that cannot be converted at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{line}:{column}: not a Studio flow definition: {message}")]
    Json { line: usize, column: usize, message: String },
    #[error("{0}")]
    Shape(String),
}

#[derive(Deserialize)]
struct Definition {
    #[serde(default)]
    description: Option<String>,
    states: Vec<State>,
    initial_state: String,
}

#[derive(Deserialize)]
struct State {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    transitions: Vec<Transition>,
    #[serde(default)]
    properties: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct Transition {
    event: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    conditions: Vec<Condition>,
}

#[derive(Deserialize)]
struct Condition {
    #[serde(default)]
    arguments: Vec<String>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    value: String,
}

/// The key a menu option may use.
fn is_key(s: &str) -> bool {
    s.len() == 1 && s.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#')
}

/// A TOML string literal.
fn q(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A name as our node and variable names are written: lower-case words joined by `_`.
fn sanitize(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_owned();
    match out.chars().next() {
        None => "widget".to_owned(),
        Some(c) if c.is_ascii_digit() => format!("w_{out}"),
        Some(_) => out,
    }
}

fn prop_str<'a>(state: &'a State, key: &str) -> Option<&'a str> {
    state.properties.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// A number Studio writes either as a number or as a string of one.
fn prop_u32(state: &State, key: &str) -> Option<u32> {
    match state.properties.get(key)? {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// One node of the output, its fields already TOML literals, in order.
struct Node {
    name: String,
    kind: &'static str,
    fields: Vec<(String, String)>,
    /// Where it came from, as a comment above it.
    from: Option<String>,
}

impl Node {
    fn new(name: &str, kind: &'static str, from: Option<String>) -> Node {
        Node { name: name.to_owned(), kind, fields: Vec::new(), from }
    }
    fn set(&mut self, key: &str, literal: String) {
        self.fields.push((key.to_owned(), literal));
    }
}

/// What a gather widget becomes.
enum GatherAs<'a> {
    /// A menu; its keypress/speech routers are absorbed into it.
    Menu { routers: Vec<&'a State> },
    /// An entry stored in a variable named after the widget, then `next`.
    Input,
}

struct Converter<'a> {
    json: &'a str,
    states: HashMap<&'a str, &'a State>,
    /// Widget name → node name.
    names: HashMap<&'a str, String>,
    /// Variables some node stores.
    stored: BTreeSet<String>,
    /// Language codes in order of first use.
    languages: Vec<String>,
    warnings: Vec<Note>,
    gained: Vec<(String, String)>,
    /// The `hangup` node transitions without a next widget lead to, once needed.
    end: Option<String>,
    /// Say-play widgets taken as a menu's re-prompt text; dropped unless something else leads there.
    reprompts: BTreeSet<String>,
    taken: BTreeSet<String>,
}

/// Converts a Studio flow definition to a flow named `name`.
pub fn convert(json: &str, name: &str) -> Result<Imported, ImportError> {
    let def: Definition = serde_json::from_str(json).map_err(|e| ImportError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string().split(" at line ").next().unwrap_or_default().to_owned(),
    })?;
    let mut c = Converter {
        json,
        states: HashMap::new(),
        names: HashMap::new(),
        stored: BTreeSet::new(),
        languages: Vec::new(),
        warnings: Vec::new(),
        gained: Vec::new(),
        end: None,
        reprompts: BTreeSet::new(),
        taken: BTreeSet::new(),
    };
    for state in &def.states {
        if c.states.insert(&state.name, state).is_some() {
            return Err(ImportError::Shape(format!("two widgets are named `{}`", state.name)));
        }
        let node = c.unique(&sanitize(&state.name));
        c.names.insert(&state.name, node);
    }
    let trigger = c
        .states
        .get(def.initial_state.as_str())
        .copied()
        .ok_or_else(|| ImportError::Shape(format!("initial_state `{}` is no widget", def.initial_state)))?;
    let Some(first) = trigger.transitions.iter().find(|t| t.event == "incomingCall").and_then(|t| t.next.as_deref())
    else {
        return Err(ImportError::Shape(format!(
            "`{}` has no incomingCall transition: the flow does not answer calls",
            trigger.name
        )));
    };
    for widget in [first]
        .into_iter()
        .chain(def.states.iter().flat_map(|s| s.transitions.iter().filter_map(|t| t.next.as_deref())))
    {
        if !c.states.contains_key(widget) {
            return Err(ImportError::Shape(format!("a transition leads to `{widget}`, which is no widget")));
        }
    }

    // Which gathers are menus, and the routers they absorb.
    let mut gathers = HashMap::new();
    let mut absorbed = BTreeSet::new();
    for state in def.states.iter().filter(|s| s.kind == "gather-input-on-call") {
        let as_ = c.classify(state);
        if let GatherAs::Menu { routers } = &as_ {
            absorbed.extend(routers.iter().map(|r| r.name.as_str()));
        }
        if matches!(as_, GatherAs::Input) {
            c.stored.insert(c.names[state.name.as_str()].clone());
        }
        gathers.insert(state.name.as_str(), as_);
    }
    for state in def.states.iter().filter(|s| s.kind == "set-variables") {
        for (key, _) in set_variables(state) {
            c.stored.insert(sanitize(&key));
        }
    }

    for state in &def.states {
        c.language(state);
    }
    let mut nodes = Vec::new();
    for state in &def.states {
        if state.name == trigger.name || absorbed.contains(state.name.as_str()) {
            continue;
        }
        let node = match state.kind.as_str() {
            "gather-input-on-call" => match &gathers[state.name.as_str()] {
                GatherAs::Menu { routers } => c.menu(state, routers),
                GatherAs::Input => c.input(state),
            },
            "say-play" => c.say_play(state),
            "split-based-on" => c.branch(state),
            "set-variables" => c.set_variables(state),
            "enqueue-call" | "send-to-flex" => c.queue(state),
            "connect-call-to" => c.connect(state),
            "record-voicemail" => c.voicemail(state),
            _ => c.placeholder(state),
        };
        nodes.push(node);
    }
    let start = c.target(Some(first));
    for name in &c.reprompts {
        let wanted = q(name);
        let led_to = start == *name || nodes.iter().any(|n| n.fields.iter().any(|(_, v)| v.contains(&wanted)));
        if !led_to {
            nodes.retain(|n| n.name != *name);
        }
    }
    let operator = c.operator(&mut nodes);
    if let Some(end) = &c.end {
        nodes.push(Node::new(end, "hangup", Some("where a Studio execution ends: the call hangs up".into())));
    }
    if c.languages.is_empty() {
        c.languages.push("en".into());
    }

    let mut out = String::new();
    let _ = writeln!(out, "# Imported from a Twilio Studio flow by `switchboard import studio`.");
    if let Some(d) = def.description.as_deref().filter(|d| !d.trim().is_empty()) {
        let _ = writeln!(out, "# Studio's description: {}", d.trim().replace('\n', " "));
    }
    let _ = writeln!(out, "\n[flow]\nname = {}", q(name));
    let langs: Vec<String> = c.languages.iter().map(|l| q(l)).collect();
    let _ = writeln!(out, "languages = [{}]", langs.join(", "));
    let _ = writeln!(out, "start = {}\noperator = {}", q(&start), q(&operator));
    for node in &nodes {
        out.push('\n');
        if let Some(from) = &node.from {
            let _ = writeln!(out, "# {from}");
        }
        let _ = writeln!(out, "[nodes.{}]\nkind = {}", node.name, q(node.kind));
        for (key, value) in &node.fields {
            let _ = writeln!(out, "{key} = {value}");
        }
    }
    Ok(Imported { toml: out, warnings: c.warnings, gained: c.gained })
}

/// The key/value pairs of a `set-variables` widget.
fn set_variables(state: &State) -> Vec<(String, String)> {
    let Some(Value::Array(vars)) = state.properties.get("variables") else { return Vec::new() };
    vars.iter()
        .filter_map(|v| {
            let key = v.get("key")?.as_str()?.trim();
            let value = match v.get("value")? {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (!key.is_empty()).then(|| (key.to_owned(), value))
        })
        .collect()
}

impl<'a> Converter<'a> {
    fn unique(&mut self, base: &str) -> String {
        let mut name = base.to_owned();
        let mut n = 2;
        while !self.taken.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    }

    fn warn(&mut self, widget: &str, message: impl Into<String>) {
        // The widget's `"name": "…"` member; JSON escapes aside, which names rarely need.
        let member = format!(r#""name"\s*:\s*"{}""#, regex::escape(widget));
        let offset = regex::Regex::new(&member).ok().and_then(|re| re.find(self.json)).map(|m| m.start());
        self.warnings.push(Note { offset, message: format!("`{widget}`: {}", message.into()) });
    }

    /// The node a transition's next widget became; none ends the call.
    fn target(&mut self, next: Option<&str>) -> String {
        match next {
            Some(widget) => self.names[widget].clone(),
            None => {
                if self.end.is_none() {
                    self.end = Some(self.unique("end"));
                }
                self.end.clone().unwrap_or_default()
            }
        }
    }

    fn next_of(&self, state: &'a State, event: &str) -> Option<&'a str> {
        state.transitions.iter().find(|t| t.event == event).and_then(|t| t.next.as_deref())
    }

    /// The language a widget speaks, remembered for the flow's list; `None` for the default.
    fn language(&mut self, state: &State) -> Option<String> {
        let code = prop_str(state, "language").or_else(|| prop_str(state, "gather_language"))?;
        let primary = code.split(['-', '_']).next().unwrap_or(code).to_ascii_lowercase();
        if !self.languages.contains(&primary) {
            self.languages.push(primary.clone());
        }
        Some(primary)
    }

    /// Liquid (`{{flow.variables.x}}`) as our placeholders (`{x}`); what has no equivalent is
    /// dropped with a warning, so the text still passes `check`.
    fn template(&mut self, widget: &str, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            out.push_str(&rest[..open].replace(['{', '}'], ""));
            let Some(close) = rest[open..].find("}}") else {
                rest = &rest[open..];
                break;
            };
            let expr = rest[open + 2..open + close].trim();
            rest = &rest[open + close + 2..];
            let (path, filters) = expr.split_once('|').map_or((expr, None), |(p, f)| (p.trim(), Some(f.trim())));
            let var = if let Some(v) = path.strip_prefix("flow.variables.") {
                Some(sanitize(v))
            } else if path == "trigger.call.From" {
                Some("caller".to_owned())
            } else {
                path.strip_prefix("widgets.").and_then(|p| p.strip_suffix(".Digits")).map(sanitize)
            };
            match var {
                Some(v) if v == "caller" || self.stored.contains(&v) => {
                    if let Some(f) = filters {
                        self.warn(widget, format!("the Liquid filter `{f}` of `{{{{{expr}}}}}` is dropped"));
                    }
                    let _ = write!(out, "{{{v}}}");
                }
                _ => self.warn(widget, format!("`{{{{{expr}}}}}` has no equivalent and is left out of the text")),
            }
        }
        out.push_str(&rest.replace(['{', '}'], ""));
        out
    }

    /// The prompt of a say-play or gather widget, as `prompt` (and `play`) fields.
    fn prompt(&mut self, state: &State, node: &mut Node) {
        let lang = self.language(state);
        let text = match (prop_str(state, "say"), prop_str(state, "play")) {
            (Some(say), _) => self.template(&state.name, say),
            (None, Some(url)) => {
                let file = url.rsplit('/').next().unwrap_or(url);
                self.warn(
                    &state.name,
                    format!("plays {url}: put the file in sounds/ and name it in `play`; its name is said meanwhile"),
                );
                format!("[recording {file}]")
            }
            (None, None) => return,
        };
        if prop_u32(state, "loop").is_some_and(|n| n > 1) {
            self.warn(&state.name, "`loop` (saying the prompt several times) is not kept: it is said once");
        }
        match lang {
            Some(l) if self.languages.len() > 1 => {
                node.set(&format!("prompt.{l}"), q(&text));
            }
            _ => node.set("prompt", q(&text)),
        }
    }

    /// A gather is a menu when what it leads to reads its entry as a choice: a split whose
    /// conditions are single keys or phrases. Else its entry is stored for later.
    fn classify(&self, state: &'a State) -> GatherAs<'a> {
        let digits = prop_u32(state, "number_of_digits");
        let mut routers = Vec::new();
        for event in ["keypress", "speech"] {
            let Some(router) = self.next_of(state, event).and_then(|n| self.states.get(n).copied()) else { continue };
            let reads_this = router.kind == "split-based-on"
                && prop_str(router, "input").is_some_and(|i| i.contains(&format!("widgets.{}.", state.name)));
            if reads_this && !routers.iter().any(|r: &&State| r.name == router.name) {
                routers.push(router);
            }
        }
        // Keys read from `Digits` must be single keys; `SpeechResult` may hold phrases.
        let key_choices = routers.iter().all(|r| {
            r.transitions.iter().flat_map(|t| &t.conditions).all(|c| {
                let subject = c.arguments.first().map(String::as_str).or(prop_str(r, "input")).unwrap_or("");
                !subject.contains(".Digits") || c.value.split(',').all(|v| is_key(v.trim()))
            })
        });
        if !routers.is_empty() && key_choices && digits.is_none_or(|d| d <= 1) {
            GatherAs::Menu { routers }
        } else if routers.is_empty()
            && (digits == Some(1)
                || self.next_of(state, "keypress").is_none() && self.next_of(state, "speech").is_some())
        {
            // One key, or speech only, leading straight on: a menu whose every key goes there.
            GatherAs::Menu { routers: Vec::new() }
        } else {
            GatherAs::Input
        }
    }

    fn menu(&mut self, state: &'a State, routers: &[&'a State]) -> Node {
        let name = self.names[state.name.as_str()].clone();
        let mut node = Node::new(&name, "menu", Some(format!("Studio gather-input-on-call `{}`", state.name)));
        self.prompt(state, &mut node);
        let mut options: Vec<(String, String)> = Vec::new();
        let mut phrases: Vec<(String, Vec<String>)> = Vec::new();
        let mut no_match = None;
        for router in routers {
            for t in &router.transitions {
                if t.event == "noMatch" {
                    no_match = no_match.or(Some(t.next.as_deref()));
                    continue;
                }
                let goto = self.target(t.next.as_deref());
                for cond in &t.conditions {
                    let values: Vec<&str> = match cond.kind.as_str() {
                        "matches_any_of" => cond.value.split(',').map(str::trim).collect(),
                        "equal_to" | "contains" => vec![cond.value.trim()],
                        other => {
                            self.warn(&router.name, format!("a `{other}` condition has no menu equivalent; dropped"));
                            continue;
                        }
                    };
                    for v in values.into_iter().filter(|v| !v.is_empty()) {
                        if is_key(v) {
                            if !options.iter().any(|(k, _)| k == v) {
                                options.push((v.to_owned(), goto.clone()));
                            }
                        } else {
                            match phrases.iter_mut().find(|(g, _)| *g == goto) {
                                Some((_, list)) => list.push(v.to_lowercase()),
                                None => phrases.push((goto.clone(), vec![v.to_lowercase()])),
                            }
                        }
                    }
                }
            }
        }
        // With no router, keypress or speech leads straight on: any entry goes there.
        if routers.is_empty() {
            let next = self.next_of(state, "keypress").or(self.next_of(state, "speech"));
            let goto = self.target(next);
            for key in ["1", "2", "3", "4", "5", "6", "7", "8", "9"] {
                options.push((key.to_owned(), goto.clone()));
            }
            self.warn(&state.name, "any key led on: keys 1-9 lead there, 0 reaches the operator");
        }
        if options.iter().any(|(k, _)| k == "0") {
            node.set("escape", "false".into());
            self.warn(&state.name, "0 is an option here, so press-0 to the operator is off in this menu");
        } else {
            self.gained.push((name.clone(), "0 reaches the operator".into()));
        }
        if options.iter().any(|(k, _)| k == "*") {
            node.set("repeat", "false".into());
        }
        let opts: Vec<String> = options.iter().map(|(k, g)| format!("{} = {}", q(k), q(g))).collect();
        node.set("options", format!("{{ {} }}", opts.join(", ")));
        if !phrases.is_empty() {
            let ph: Vec<String> = phrases
                .iter()
                .map(|(g, list)| format!("{} = [{}]", q(g), list.iter().map(|p| q(p)).collect::<Vec<_>>().join(", ")))
                .collect();
            node.set("phrases", format!("{{ {} }}", ph.join(", ")));
        }
        self.timeout(state, &mut node);
        // Silence: back to the gather (or nowhere) keeps our re-prompts and operator fallback.
        match self.next_of(state, "timeout") {
            Some(n) if n == state.name => self.gained.push((name.clone(), "silence reaches the operator".into())),
            None => self.gained.push((name.clone(), "silence reaches the operator instead of hanging up".into())),
            Some(n) => {
                if let Some(text) = self.reprompt_text(n, &state.name) {
                    node.set("no_input", q(&text));
                    self.gained.push((name.clone(), "silence reaches the operator".into()));
                } else {
                    let fallback = self.target(Some(n));
                    node.set("retries", "0".into());
                    node.set("fallback", q(&fallback));
                }
            }
        }
        // A wrong entry: back to the gather keeps our escalation; elsewhere goes there at once.
        match no_match {
            None | Some(None) => {
                self.gained.push((name.clone(), "wrong entries reach the operator instead of hanging up".into()))
            }
            Some(Some(n)) if n == state.name => {}
            Some(Some(n)) => {
                if let Some(text) = self.reprompt_text(n, &state.name) {
                    node.set("invalid", q(&text));
                } else {
                    let escalate = self.target(Some(n));
                    node.set("max_invalid", "1".into());
                    node.set("escalate", q(&escalate));
                }
            }
        }
        node
    }

    /// The text of a say-play that only leads back to `gather`: a re-prompt, not a place.
    fn reprompt_text(&mut self, widget: &str, gather: &str) -> Option<String> {
        let state = *self.states.get(widget)?;
        if state.kind != "say-play" || self.next_of(state, "audioComplete") != Some(gather) {
            return None;
        }
        let say = prop_str(state, "say")?;
        self.reprompts.insert(self.names[widget].clone());
        Some(self.template(&state.name, say))
    }

    fn timeout(&mut self, state: &State, node: &mut Node) {
        if let Some(s) = prop_u32(state, "timeout").filter(|s| *s > 0) {
            node.set("timeout", q(&format!("{s}s")));
        }
    }

    fn input(&mut self, state: &'a State) -> Node {
        let name = self.names[state.name.as_str()].clone();
        let mut node = Node::new(&name, "input", Some(format!("Studio gather-input-on-call `{}`", state.name)));
        self.prompt(state, &mut node);
        if let Some(n) = prop_u32(state, "number_of_digits").filter(|n| *n > 0) {
            node.set("max_digits", n.min(20).to_string());
        }
        match prop_str(state, "finish_on_key") {
            Some(k) if is_key(k) => node.set("finish_key", q(k)),
            Some(_) => {}
            None => node.set("finish_key", "false".into()),
        }
        node.set("var", q(&name));
        let next = self.next_of(state, "keypress").or(self.next_of(state, "speech"));
        let next = self.target(next);
        node.set("next", q(&next));
        self.timeout(state, &mut node);
        if self.next_of(state, "timeout").is_none_or(|n| n == state.name) {
            self.gained.push((name.clone(), "silence reaches the operator".into()));
        } else {
            let fallback = self.target(self.next_of(state, "timeout"));
            node.set("retries", "0".into());
            node.set("fallback", q(&fallback));
        }
        node
    }

    fn say_play(&mut self, state: &'a State) -> Node {
        let name = self.names[state.name.as_str()].clone();
        let mut node = Node::new(&name, "say", None);
        self.prompt(state, &mut node);
        if prop_str(state, "digits").is_some() {
            self.warn(&state.name, "sending DTMF digits is not supported; left out");
        }
        let next = self.target(self.next_of(state, "audioComplete"));
        node.set("next", q(&next));
        node
    }

    fn branch(&mut self, state: &'a State) -> Node {
        let name = self.names[state.name.as_str()].clone();
        let mut cases = Vec::new();
        for t in state.transitions.iter().filter(|t| t.event != "noMatch") {
            let Some(cond) = t.conditions.first() else { continue };
            if t.conditions.len() > 1 {
                self.warn(&state.name, "only the first of several conditions of a transition is kept");
            }
            let subject = cond.arguments.first().map(String::as_str).or(prop_str(state, "input")).unwrap_or("");
            let var = subject
                .trim()
                .strip_prefix("{{")
                .and_then(|s| s.strip_suffix("}}"))
                .map(str::trim)
                .and_then(|p| {
                    p.strip_prefix("flow.variables.")
                        .or_else(|| p.strip_prefix("widgets.").and_then(|w| w.strip_suffix(".Digits")))
                })
                .map(sanitize)
                .filter(|v| self.stored.contains(v));
            let Some(var) = var else {
                self.warn(&state.name, format!("splitting on `{subject}` has no equivalent; that case is dropped"));
                continue;
            };
            let goto = self.target(t.next.as_deref());
            match cond.kind.as_str() {
                "equal_to" => {
                    cases.push(format!("{{ var = {}, eq = {}, goto = {} }}", q(&var), q(&cond.value), q(&goto)))
                }
                "is_not_blank" => cases.push(format!("{{ var = {}, goto = {} }}", q(&var), q(&goto))),
                other => {
                    self.warn(&state.name, format!("a `{other}` condition has no equivalent; that case is dropped"))
                }
            }
        }
        let otherwise = self.target(self.next_of(state, "noMatch"));
        if cases.is_empty() {
            let mut node =
                Node::new(&name, "goto", Some(format!("Studio split-based-on `{}`: no case kept", state.name)));
            node.set("target", q(&otherwise));
            return node;
        }
        let mut node = Node::new(&name, "branch", None);
        node.set("cases", format!("[\n  {},\n]", cases.join(",\n  ")));
        node.set("else", q(&otherwise));
        node
    }

    fn set_variables(&mut self, state: &'a State) -> Node {
        let name = self.names[state.name.as_str()].clone();
        let mut node = Node::new(&name, "set", None);
        let vars: Vec<String> = set_variables(state)
            .into_iter()
            .map(|(k, v)| {
                let value = self.template(&state.name, &v);
                format!("{} = {}", sanitize(&k), q(&value))
            })
            .collect();
        node.set("vars", format!("{{ {} }}", vars.join(", ")));
        let next = self.target(self.next_of(state, "next"));
        node.set("next", q(&next));
        node
    }

    fn queue(&mut self, state: &'a State) -> Node {
        let name = self.names[state.name.as_str()].clone();
        let queue = match (state.kind.as_str(), prop_str(state, "queue_name")) {
            ("enqueue-call", Some(q)) => sanitize(q),
            _ => {
                self.warn(&state.name, "a TaskRouter/Flex workflow becomes a plain queue named `flex`");
                "flex".to_owned()
            }
        };
        let mut node = Node::new(&name, "queue", Some(format!("Studio {} `{}`", state.kind, state.name)));
        node.set("queue", q(&queue));
        if let Some(p) = prop_u32(state, "priority") {
            node.set("priority", p.min(255).to_string());
        }
        if self.next_of(state, "callComplete").is_some() {
            self.warn(&state.name, "what follows the conversation (callComplete) is not kept: the call ends with it");
        }
        node
    }

    fn connect(&mut self, state: &'a State) -> Node {
        let name = self.names[state.name.as_str()].clone();
        let noun = prop_str(state, "noun").unwrap_or("number");
        let to = prop_str(state, "to").unwrap_or("");
        if !noun.starts_with("number") || to.is_empty() {
            return self.placeholder(state);
        }
        let first = to.split(',').next().unwrap_or(to).trim();
        if to.contains(',') {
            self.warn(&state.name, "only the first of several numbers is dialled");
        }
        let mut node = Node::new(&name, "dial", Some(format!("Studio connect-call-to `{}`", state.name)));
        node.set("number", q(first));
        if let Some(s) = prop_u32(state, "timeout").filter(|s| *s > 0) {
            node.set("timeout", q(&format!("{s}s")));
        }
        node
    }

    fn voicemail(&mut self, state: &'a State) -> Node {
        let name = self.names[state.name.as_str()].clone();
        let mut node = Node::new(&name, "voicemail", Some(format!("Studio record-voicemail `{}`", state.name)));
        if let Some(s) = prop_u32(state, "max_length").filter(|s| *s > 0) {
            node.set("max_length", q(&format!("{}s", s.min(4 * 3600))));
        }
        if let Some(k) =
            prop_str(state, "finish_on_key").and_then(|k| k.chars().next()).filter(|k| is_key(&k.to_string()))
        {
            node.set("finish_key", q(&k.to_string()));
        }
        if self.next_of(state, "recordingComplete").is_some() {
            self.warn(&state.name, "what follows the recording is not kept: the call ends with it");
        }
        node
    }

    /// A widget we cannot express: a `say` that names it, then its first way on.
    fn placeholder(&mut self, state: &'a State) -> Node {
        let name = self.names[state.name.as_str()].clone();
        self.warn(&state.name, format!("a `{}` widget has no equivalent: a placeholder says its name", state.kind));
        let mut node = Node::new(
            &name,
            "say",
            Some(format!("TODO: Studio `{}` widget `{}` was not converted", state.kind, state.name)),
        );
        node.set("prompt", q(&format!("[{} {}]", state.kind, state.name)));
        let next = state.transitions.iter().find_map(|t| t.next.as_deref());
        let next = self.target(next);
        node.set("next", q(&next));
        node
    }

    /// The operator: the first queue, else the first dial, else a new `operator` queue.
    fn operator(&mut self, nodes: &mut Vec<Node>) -> String {
        if let Some(n) = nodes.iter().find(|n| n.kind == "queue").or_else(|| nodes.iter().find(|n| n.kind == "dial")) {
            return n.name.clone();
        }
        let name = self.unique("operator");
        let mut node =
            Node::new(&name, "queue", Some("added: where press-0 and silence lead; Studio had no queue".into()));
        node.set("queue", q("operator"));
        nodes.push(node);
        self.warnings.push(Note {
            offset: None,
            message: format!("the flow hands no call to a person: press-0 and silence lead to a new queue `{name}`"),
        });
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_node_names() {
        assert_eq!(sanitize("Main Menu"), "main_menu");
        assert_eq!(sanitize("split_based_on_1"), "split_based_on_1");
        assert_eq!(sanitize("1st-step"), "w_1st_step");
        assert_eq!(sanitize("---"), "widget");
    }

    #[test]
    fn a_definition_without_an_incoming_call_is_refused() {
        let json = r#"{"description":"x","initial_state":"Trigger","flags":{"allow_concurrent_calls":true},
            "states":[{"name":"Trigger","type":"trigger","transitions":[{"event":"incomingMessage"}],"properties":{}}]}"#;
        let err = convert(json, "x").unwrap_err();
        assert!(err.to_string().contains("incomingCall"), "{err}");
    }

    #[test]
    fn what_follows_a_queue_is_warned_and_the_queue_is_the_operator() {
        let json = r#"{"initial_state":"Trigger","states":[
            {"name":"Trigger","type":"trigger","transitions":[{"event":"incomingCall","next":"q"}]},
            {"name":"q","type":"enqueue-call","properties":{"queue_name":"Sales Team"},
             "transitions":[{"event":"callComplete","next":"survey"}]},
            {"name":"survey","type":"say-play","properties":{"say":"Thanks!"},"transitions":[{"event":"audioComplete"}]}]}"#;
        let imported = convert(json, "x").unwrap();
        assert!(imported.toml.contains("operator = \"q\""), "{}", imported.toml);
        assert!(imported.toml.contains("queue = \"sales_team\""), "{}", imported.toml);
        let warning = &imported.warnings[0];
        assert!(warning.message.contains("callComplete"), "{warning:?}");
        assert_eq!(warning.offset, json.find("\"name\":\"q\""));
    }

    #[test]
    fn broken_json_says_where() {
        let err = convert("{\n  \"states\": [,]\n}", "x").unwrap_err();
        assert!(matches!(err, ImportError::Json { line: 2, .. }), "{err}");
    }
}
