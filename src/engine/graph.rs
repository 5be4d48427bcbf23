//! The flow as a graph: every way a call can move from node to node. One list of edges serves
//! `graph`, reachability and loop checks, the time-to-person report and test coverage.

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
    Key(char),
    Speech,
    Timeout,
    Invalid,
    Next,
    Branch,
}

impl On {
    /// The label used by `graph --format json`: a key, or one of the words below.
    pub fn label(self) -> String {
        match self {
            On::Key(k) => k.to_string(),
            On::Speech => "speech".into(),
            On::Timeout => "timeout".into(),
            On::Invalid => "invalid".into(),
            On::Next => "next".into(),
            On::Branch => "branch".into(),
        }
    }
}

/// The edges leaving `from`, in a stable order.
pub fn edges_from(flow: &Flow, from: NodeId, out: &mut Vec<Edge>) {
    let mut push = |to: NodeId, on: On| out.push(Edge { from, to, on });
    match &flow.node(from).kind {
        NodeKind::Menu(m) => {
            let s = &m.ask.settings;
            for o in &m.options {
                if let Some(k) = o.key {
                    push(o.target, On::Key(k));
                }
                if !o.phrases.is_empty() && m.speech {
                    push(o.target, On::Speech);
                }
            }
            if let Some(k) = s.escape {
                push(flow.operator, On::Key(k));
            }
            if m.speech && !flow.operator_phrases.is_empty() {
                push(flow.operator, On::Speech);
            }
            if let Some((k, back)) = s.back {
                push(back, On::Key(k));
            }
            push(s.fallback, On::Timeout);
            push(s.escalate, On::Invalid);
        }
        NodeKind::Input(i) => {
            let s = &i.ask.settings;
            push(i.next, On::Next);
            if let Some(k) = s.escape.filter(|_| i.min_digits > 1) {
                push(flow.operator, On::Key(k));
            }
            push(s.fallback, On::Timeout);
            push(s.escalate, On::Invalid);
        }
        NodeKind::Say { next, .. } | NodeKind::Set { next, .. } => push(*next, On::Next),
        NodeKind::Goto { target } => push(*target, On::Next),
        NodeKind::Branch(b) => {
            for c in &b.cases {
                push(c.target, On::Branch);
            }
            push(b.otherwise, On::Branch);
        }
        NodeKind::Dial { no_answer: Some(next), .. } => push(*next, On::Next),
        NodeKind::Queue(_) | NodeKind::Dial { .. } | NodeKind::Voicemail { .. } | NodeKind::Hangup { .. } => {}
    }
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
