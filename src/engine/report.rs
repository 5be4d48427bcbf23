//! How long a caller needs to reach a person: the worst case from every menu by pressing the
//! escape key and by staying silent, and the longest way through the flow to a person.
//!
//! Times add up prompt lengths (the sound file's, or the text's at a speaking rate; the longest
//! language counts) and gather timeouts times re-prompts, the way `switchboard call` plays them.

use super::flow::{Ask, Flow, NodeId, NodeKind, Prompt};
use super::millis::Millis;

/// Times in milliseconds; `None` means a person is never reached that way.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MenuTimes {
    #[serde(skip)]
    pub id: NodeId,
    pub node: String,
    pub escape_ms: Option<Millis>,
    pub silence_ms: Option<Millis>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Report {
    /// From the start of the call, then from every menu and input.
    pub start: MenuTimes,
    pub menus: Vec<MenuTimes>,
    /// The longest way from the start to a person, choosing options (no timeouts), in ms,
    /// with the nodes on it.
    pub longest_ms: Option<Millis>,
    pub longest_path: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Strategy {
    Escape,
    Silence,
}

#[derive(Clone, Copy)]
enum Memo {
    Unknown,
    Visiting,
    Done(Option<Millis>),
}

pub fn report(flow: &Flow) -> Report {
    let mut escape = Timer::new(flow, Strategy::Escape);
    let mut silence = Timer::new(flow, Strategy::Silence);
    let times = |n: NodeId, e: &mut Timer, s: &mut Timer| MenuTimes {
        id: n,
        node: flow.node(n).id.to_string(),
        escape_ms: e.time(n),
        silence_ms: s.time(n),
    };
    let start = times(flow.start, &mut escape, &mut silence);
    let menus = flow
        .node_ids()
        .filter(|&n| matches!(flow.node(n).kind, NodeKind::Menu(_) | NodeKind::Input(_)))
        .map(|n| times(n, &mut escape, &mut silence))
        .collect();
    let mut longest = Longest { flow, memo: vec![None; flow.nodes.len()], on_stack: vec![false; flow.nodes.len()] };
    let longest_ms = longest.from(flow.start, 0).map(|(ms, _)| ms);
    let mut longest_path = Vec::new();
    let mut at = longest_ms.map(|_| flow.start);
    while let Some(n) = at {
        longest_path.push(flow.node(n).id.to_string());
        at = longest.memo[n.index()].flatten().and_then(|(_, next)| next);
    }
    Report { start, menus, longest_ms, longest_path }
}

/// The longest a prompt can take in any of the flow's languages.
pub fn prompt_ms(flow: &Flow, prompt: &Prompt) -> Millis {
    (0..flow.languages.len()).map(|l| flow.prompt_ms(prompt, l as u8)).max().unwrap_or(Millis::ZERO)
}

fn opt_ms(flow: &Flow, prompt: Option<&Prompt>) -> Millis {
    prompt.map_or(Millis::ZERO, |p| prompt_ms(flow, p))
}

/// Time from entering a node until a person answers, for one caller strategy.
struct Timer<'f> {
    flow: &'f Flow,
    strategy: Strategy,
    memo: Vec<Memo>,
    depth: usize,
}

/// Paths deeper than this are not followed (no real IVR nests so deep), which keeps the
/// recursion far from the stack's limit on any input.
const MAX_DEPTH: usize = 1000;

impl<'f> Timer<'f> {
    fn new(flow: &'f Flow, strategy: Strategy) -> Self {
        Timer { flow, strategy, memo: vec![Memo::Unknown; flow.nodes.len()], depth: 0 }
    }

    fn time(&mut self, n: NodeId) -> Option<Millis> {
        self.depth += 1;
        let t = self.time_inner(n);
        self.depth -= 1;
        t
    }

    fn time_inner(&mut self, n: NodeId) -> Option<Millis> {
        if self.depth > MAX_DEPTH {
            return None;
        }
        match self.memo[n.index()] {
            Memo::Done(t) => return t,
            Memo::Visiting => return None, // a cycle: this way never reaches a person
            Memo::Unknown => {}
        }
        self.memo[n.index()] = Memo::Visiting;
        let flow = self.flow;
        let t = match &flow.node(n).kind {
            NodeKind::Queue(q) => Some(prompt_ms(flow, &q.prompt)),
            NodeKind::Dial { prompt, .. } => Some(prompt_ms(flow, prompt)),
            NodeKind::Voicemail { .. } | NodeKind::Hangup { .. } => None,
            NodeKind::Say { prompt, next } => self.time(*next).map(|t| t + prompt_ms(flow, prompt)),
            NodeKind::Set { next, .. } | NodeKind::Goto { target: next } => self.time(*next),
            // The worst of the branches that lead to a person: a branch to after-hours
            // voicemail does not make the open-hours way unmeasurable.
            NodeKind::Branch(b) => {
                let targets: Vec<NodeId> = b.cases.iter().map(|c| c.target).chain([b.otherwise]).collect();
                targets.into_iter().filter_map(|t| self.time(t)).max()
            }
            NodeKind::Menu(m) => self.ask(&m.ask, true),
            NodeKind::Input(i) => self.ask(&i.ask, i.min_digits > 1),
        };
        self.memo[n.index()] = Memo::Done(t);
        t
    }

    fn ask(&mut self, ask: &Ask, escape_works: bool) -> Option<Millis> {
        let flow = self.flow;
        let s = &ask.settings;
        let first = prompt_ms(flow, &ask.prompt);
        if self.strategy == Strategy::Escape && escape_works && s.escape.is_some() {
            return self.time(flow.operator).map(|t| t + first);
        }
        let again = opt_ms(flow, s.no_input.as_ref()) + opt_ms(flow, ask.reprompt.as_ref().or(Some(&ask.prompt)));
        let waiting = first + s.timeout_ms + (again + s.timeout_ms) * u64::from(s.retries);
        self.time(s.fallback).map(|t| t + waiting)
    }
}

/// The time from a node to a person and the next node on the way (`None`: no way).
type Way = Option<(Millis, Option<NodeId>)>;

/// The longest option-choosing way to a person, ignoring cycles.
struct Longest<'f> {
    flow: &'f Flow,
    /// Per node: the longest time from it to a person and the next node on that way.
    memo: Vec<Option<Way>>,
    on_stack: Vec<bool>,
}

impl Longest<'_> {
    fn from(&mut self, n: NodeId, depth: usize) -> Way {
        if let Some(done) = self.memo[n.index()] {
            return done;
        }
        if self.on_stack[n.index()] || depth > MAX_DEPTH {
            return None;
        }
        self.on_stack[n.index()] = true;
        let flow = self.flow;
        let (here, nexts): (Millis, Vec<NodeId>) = match &flow.node(n).kind {
            NodeKind::Queue(q) => (prompt_ms(flow, &q.prompt), vec![]),
            NodeKind::Dial { prompt, .. } => (prompt_ms(flow, prompt), vec![]),
            NodeKind::Voicemail { .. } | NodeKind::Hangup { .. } => (Millis::ZERO, vec![]),
            NodeKind::Say { prompt, next } => (prompt_ms(flow, prompt), vec![*next]),
            NodeKind::Set { next, .. } | NodeKind::Goto { target: next } => (Millis::ZERO, vec![*next]),
            NodeKind::Branch(b) => (Millis::ZERO, b.cases.iter().map(|c| c.target).chain([b.otherwise]).collect()),
            NodeKind::Menu(m) => {
                let escape = m.ask.settings.escape.map(|_| flow.operator);
                (prompt_ms(flow, &m.ask.prompt), m.options.iter().map(|o| o.target).chain(escape).collect())
            }
            NodeKind::Input(i) => (prompt_ms(flow, &i.ask.prompt), vec![i.next]),
        };
        let result = if flow.node(n).kind.is_person() {
            Some((here, None))
        } else {
            nexts
                .into_iter()
                .filter_map(|next| self.from(next, depth + 1).map(|(t, _)| (t, next)))
                .max_by_key(|(t, _)| *t)
                .map(|(t, next)| (t + here, Some(next)))
        };
        self.on_stack[n.index()] = false;
        self.memo[n.index()] = Some(result);
        result
    }
}
