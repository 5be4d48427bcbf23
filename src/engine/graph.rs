//! The flow as a graph: every way a call can move from node to node. One list of edges serves
//! every walk over it: `graph`, reachability and loop checks, the time-to-person report, test
//! coverage and the drivers' way to the operator. Nothing else works out successors by hand.
//!
//! The edges follow the engine's rules (`call.rs`): the escape key and operator phrases reach
//! the operator only where `escape` is on; silence goes to `fallback` and too many wrong entries
//! to `escalate` whatever `escape` says.

use super::call::{FetchResult, MAX_HOPS};
use super::flow::{Flow, NodeId, NodeKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: NodeId,
    pub to: NodeId,
    pub on: On,
}

/// What moves the call along an edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum On {
    /// A menu option (by index in `Menu::options`) chosen by its key.
    OptionKey { option: usize, key: char },
    /// A menu option chosen by one of its phrases.
    OptionSpeech { option: usize },
    /// The escape key, to the operator.
    EscapeKey(char),
    /// An operator phrase, to the operator.
    EscapeSpeech,
    /// A menu's back key.
    Back(char),
    /// An input stored a valid entry.
    Entry,
    /// Silence after the last re-prompt: the fallback.
    Timeout,
    /// The `max_invalid`-th wrong entry: the escalation.
    Invalid,
    /// A say, set or goto going on.
    Next,
    /// A branch's case (by index in `Branch::cases`).
    Case(usize),
    /// A branch's `else`.
    Else,
    /// A transfer nobody answered.
    NoAnswer,
    /// The conversation with a person (queue agent or dialled number) ended, the caller still
    /// on the line: a queue's or dial's `after`.
    After,
    /// A `fetch` node's answer went this way (a failure without `failed`: the operator).
    Fetched(FetchResult),
    /// A `callback` node could not book the call-back (without `failed`: the operator).
    NotBooked,
    /// The call-back call the server places starts here (a `callback` node's `returns`).
    Returned,
}

impl On {
    /// The label of `graph --format json`'s `on`: a key, or a word. Tools read it; keep it.
    pub fn label(self) -> String {
        match self {
            On::OptionKey { key, .. } | On::EscapeKey(key) | On::Back(key) => key.to_string(),
            On::OptionSpeech { .. } | On::EscapeSpeech => "speech".into(),
            On::Timeout => "timeout".into(),
            On::Invalid => "invalid".into(),
            On::Entry | On::Next | On::NoAnswer => "next".into(),
            On::After => "after".into(),
            On::Fetched(result) => result.as_str().into(),
            On::NotBooked => "failed".into(),
            On::Returned => "returns".into(),
            On::Case(_) | On::Else => "branch".into(),
        }
    }

    /// The caller's explicit way out to a person: the escape key or an operator phrase.
    pub fn is_escape(self) -> bool {
        matches!(self, On::EscapeKey(_) | On::EscapeSpeech)
    }

    /// Taken without any input from the caller: what a call runs through on its own.
    pub fn is_instant(self) -> bool {
        matches!(self, On::Next | On::Case(_) | On::Else | On::Fetched(_) | On::NotBooked)
    }

    /// Taken by choosing: an option, an entry, the escape, or a branch that might hold. Not
    /// silence, wrong entries or going back, nor the call-back call (another call, later).
    pub fn is_choice(self) -> bool {
        !matches!(self, On::Timeout | On::Invalid | On::Back(_) | On::Returned)
    }
}

impl Edge {
    /// What takes the call along the edge, as a reader of the flow would say it: the key, the
    /// phrases in quotes, the branch condition as written, `else`, `timeout`, `invalid`,
    /// `no_answer`, `entry`, `next`.
    pub fn condition(&self, flow: &Flow) -> String {
        let quoted = |phrases: &mut dyn Iterator<Item = &str>| {
            phrases.map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(" / ")
        };
        match (self.on, &flow.node(self.from).kind) {
            (On::OptionKey { key, .. } | On::EscapeKey(key) | On::Back(key), _) => key.to_string(),
            (On::OptionSpeech { option }, NodeKind::Menu(m)) => {
                quoted(&mut m.options.get(option).into_iter().flat_map(|o| o.phrases.iter().map(|p| &*p.text)))
            }
            (On::EscapeSpeech, _) => quoted(&mut flow.operator_phrases.iter().map(|p| &*p.text)),
            (On::Case(i), NodeKind::Branch(b)) => b.cases.get(i).map_or_else(String::new, |c| c.text.to_string()),
            (On::Else, _) => "else".into(),
            (On::NoAnswer, _) => "no_answer".into(),
            (On::Entry, _) => "entry".into(),
            (on, _) => on.label(),
        }
    }
}

/// The edges leaving `from`, in a stable order.
pub fn edges_from(flow: &Flow, from: NodeId, out: &mut Vec<Edge>) {
    let mut push = |to: NodeId, on: On| out.push(Edge { from, to, on });
    let speech_escape = !flow.operator_phrases.is_empty();
    match &flow.node(from).kind {
        NodeKind::Menu(m) => {
            let s = &m.ask.settings;
            for (option, o) in m.options.iter().enumerate() {
                if let Some(key) = o.key {
                    push(o.target, On::OptionKey { option, key });
                }
                if !o.phrases.is_empty() && m.speech {
                    push(o.target, On::OptionSpeech { option });
                }
            }
            if let Some(k) = s.escape {
                push(flow.operator, On::EscapeKey(k));
                if m.speech && speech_escape {
                    push(flow.operator, On::EscapeSpeech);
                }
            }
            if let Some((k, back)) = s.back {
                push(back, On::Back(k));
            }
            push(s.fallback, On::Timeout);
            push(s.escalate, On::Invalid);
        }
        NodeKind::Input(i) => {
            let s = &i.ask.settings;
            push(i.next, On::Entry);
            if let Some(k) = s.escape {
                // A lone escape key is an entry when entries may be one digit long.
                if i.min_digits > 1 {
                    push(flow.operator, On::EscapeKey(k));
                }
                if speech_escape {
                    push(flow.operator, On::EscapeSpeech);
                }
            }
            push(s.fallback, On::Timeout);
            push(s.escalate, On::Invalid);
        }
        NodeKind::Say { next, .. } | NodeKind::Set { next, .. } => push(*next, On::Next),
        NodeKind::Goto { target } => push(*target, On::Next),
        NodeKind::Branch(b) => {
            for (i, c) in b.cases.iter().enumerate() {
                push(c.target, On::Case(i));
            }
            push(b.otherwise, On::Else);
        }
        NodeKind::Dial { no_answer, after, .. } => {
            if let Some(next) = *no_answer {
                push(next, On::NoAnswer);
            }
            if let Some(next) = *after {
                push(next, On::After);
            }
        }
        NodeKind::Queue(q) => q.after.into_iter().for_each(|next| push(next, On::After)),
        NodeKind::Fetch(f) => {
            let failed = f.failed.unwrap_or(flow.operator);
            push(f.ok, On::Fetched(FetchResult::Ok));
            push(f.not_found.unwrap_or(failed), On::Fetched(FetchResult::NotFound));
            push(failed, On::Fetched(FetchResult::Failed));
        }
        NodeKind::Callback(c) => {
            push(c.failed.unwrap_or(flow.operator), On::NotBooked);
            if let Some(returns) = c.returns {
                push(returns, On::Returned);
            }
        }
        NodeKind::Voicemail { .. } | NodeKind::Hangup { .. } => {}
    }
}

/// The edges leaving `from`, collected (walks that visit many nodes reuse one buffer with
/// [`edges_from`] instead).
pub fn edges_out(flow: &Flow, from: NodeId) -> Vec<Edge> {
    let mut out = Vec::new();
    edges_from(flow, from, &mut out);
    out
}

/// Every edge of the flow.
pub fn edges(flow: &Flow) -> Vec<Edge> {
    let mut out = Vec::new();
    for id in flow.node_ids() {
        edges_from(flow, id, &mut out);
    }
    out
}

/// Which nodes a call can reach from the start.
pub fn reachable(flow: &Flow) -> Vec<bool> {
    let mut seen = vec![false; flow.nodes.len()];
    let mut stack = vec![flow.start];
    let mut buf = Vec::new();
    while let Some(n) = stack.pop() {
        if std::mem::replace(&mut seen[n.index()], true) {
            continue;
        }
        buf.clear();
        edges_from(flow, n, &mut buf);
        stack.extend(buf.iter().map(|e| e.to).filter(|t| !seen[t.index()]));
    }
    seen
}

/// The queue or dial node a call sent to the operator reaches without answering anything:
/// from `flow.operator` through say, set and goto nodes and branches' `else`, within the
/// engine's `MAX_HOPS`. `None` when that way asks the caller something, ends elsewhere or
/// loops; then the drivers use `OPERATOR_QUEUE`, as the engine does for a loop.
pub fn operator_route(flow: &Flow) -> Option<NodeId> {
    let mut at = flow.operator;
    let mut buf = Vec::new();
    for _ in 0..MAX_HOPS {
        let node = flow.nodes.get(at.index())?;
        if node.kind.is_person() {
            return Some(at);
        }
        buf.clear();
        edges_from(flow, at, &mut buf);
        at = buf.iter().find(|e| matches!(e.on, On::Next | On::Else))?.to;
    }
    None
}

/// One arrow of a drawing: the edges between two nodes drawn alike, their conditions joined,
/// so a key and its phrases to one target, or an escape key and the operator phrases, are one
/// arrow. Escapes, fallbacks and escalations are dashed so the designer sees every way out.
pub struct Arrow {
    pub from: NodeId,
    pub to: NodeId,
    pub dashed: bool,
    pub conditions: Vec<String>,
}

impl Arrow {
    pub fn label(&self) -> String {
        self.conditions.join(", ")
    }
}

pub fn arrows(flow: &Flow) -> Vec<Arrow> {
    let mut out: Vec<Arrow> = Vec::new();
    for e in edges(flow) {
        let dashed = is_exit(&e);
        let condition = e.condition(flow);
        match out.iter_mut().find(|a| a.from == e.from && a.to == e.to && a.dashed == dashed) {
            Some(a) if a.conditions.contains(&condition) => {}
            Some(a) => a.conditions.push(condition),
            None => out.push(Arrow { from: e.from, to: e.to, dashed, conditions: vec![condition] }),
        }
    }
    out
}

fn is_exit(e: &Edge) -> bool {
    e.on.is_escape() || matches!(e.on, On::Timeout | On::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = r#"
[flow]
name = "t"
start = "main"
operator = "op"

[nodes.main]
kind = "menu"
prompt = "Menu."
options = { "1" = { goto = "num", phrases = ["number"] }, "2" = "op" }

[nodes.num]
kind = "input"
prompt = "Number?"
min_digits = 3
var = "n"
next = "op"

[nodes.op]
kind = "say"
prompt = "Connecting."
next = "check"

[nodes.check]
kind = "branch"
cases = [{ if = "holiday", goto = "bye" }, { var = "n", eq = "123", goto = "bye" }]
else = "line"

[nodes.line]
kind = "queue"
queue = "first_line"

[nodes.bye]
kind = "hangup"
"#;

    fn flow(src: &str) -> Flow {
        crate::engine::parse::test_flow(src)
    }

    fn edges_of(flow: &Flow, node: &str) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        edges_from(flow, flow.find(node).expect("node exists"), &mut out);
        out.iter().map(|e| (flow.node(e.to).id.to_string(), e.on.label(), e.condition(flow))).collect()
    }

    fn row(to: &str, on: &str, condition: &str) -> (String, String, String) {
        (to.into(), on.into(), condition.into())
    }

    #[test]
    fn menu_edges_say_what_takes_them() {
        let f = flow(FLOW);
        assert_eq!(
            edges_of(&f, "main"),
            [
                row("num", "1", "1"),
                row("num", "speech", "\"number\""),
                row("op", "2", "2"),
                row("op", "0", "0"),
                row("op", "speech", "\"оператор\" / \"человек\" / \"operator\" / \"agent\" / \"human\""),
                row("op", "timeout", "timeout"),
                row("op", "invalid", "invalid"),
            ]
        );
        let phrases = "\"оператор\" / \"человек\" / \"operator\" / \"agent\" / \"human\"";
        assert_eq!(
            edges_of(&f, "num"),
            [
                row("op", "next", "entry"),
                row("op", "0", "0"),
                row("op", "speech", phrases),
                row("op", "timeout", "timeout"),
                row("op", "invalid", "invalid"),
            ],
            "entries are three digits, so a lone 0 escapes"
        );
        assert_eq!(
            edges_of(&f, "check"),
            [row("bye", "branch", "holiday"), row("bye", "branch", "n = \"123\""), row("line", "branch", "else")]
        );
    }

    #[test]
    fn escape_off_removes_the_key_and_the_phrases_but_not_fallback_or_escalation() {
        let f = flow(&FLOW.replace("\n[nodes.main]", "\n[defaults]\nescape = false\n\n[nodes.main]"));
        let main = edges_of(&f, "main");
        assert!(!main.iter().any(|(_, on, _)| on == "0"), "{main:?}");
        assert!(!main.iter().any(|(_, _, c)| c.contains("оператор")), "{main:?}");
        assert!(main.contains(&row("op", "timeout", "timeout")) && main.contains(&row("op", "invalid", "invalid")));
        let num = edges_of(&f, "num");
        assert_eq!(num, [row("op", "next", "entry"), row("op", "timeout", "timeout"), row("op", "invalid", "invalid")]);
    }

    #[test]
    fn operator_route_follows_else_to_the_queue() {
        let f = flow(FLOW);
        assert_eq!(operator_route(&f), f.find("line"));
        let looping = flow(&FLOW.replace("else = \"line\"", "else = \"op\""));
        assert_eq!(operator_route(&looping), None, "a loop reaches no person");
        let asks = flow(&FLOW.replace("else = \"line\"", "else = \"main\""));
        assert_eq!(operator_route(&asks), None, "a menu on the way asks the caller");
    }
}
