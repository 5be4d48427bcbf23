//! How long a caller needs to reach a person: the worst case from every menu by pressing the
//! escape key and by staying silent, and the longest way through the flow to a person.
//!
//! Times add up prompt lengths (the sound file's, or the text's at a speaking rate; the longest
//! language counts) and gather timeouts times re-prompts, the way `switchboard call` plays them.

use super::flow::{Flow, NodeId, Prompt};
use super::graph::{self, On};
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
    /// The longest way from the start to a person choosing options, entries and escapes (no
    /// silence, wrong entries or going back), in ms, with the nodes on it.
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
        .filter(|&n| flow.node(n).kind.ask().is_some())
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

/// The time a node's own prompt takes before the call moves on; a `fetch` also waits for
/// its answer, at worst its timeout.
fn here_ms(flow: &Flow, n: NodeId) -> Millis {
    let wait = match &flow.node(n).kind {
        crate::engine::flow::NodeKind::Fetch(f) => f.timeout_ms,
        _ => Millis::ZERO,
    };
    opt_ms(flow, flow.node(n).kind.main_prompt()) + wait
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
        let kind = &flow.node(n).kind;
        let here = here_ms(flow, n);
        let edges = graph::edges_out(flow, n);
        let t = if kind.is_person() {
            Some(here)
        } else if let Some(ask) = kind.ask() {
            let escape = edges.iter().find(|e| matches!(e.on, On::EscapeKey(_)));
            match (self.strategy, escape) {
                (Strategy::Escape, Some(escape)) => self.time(escape.to).map(|t| t + here),
                _ => {
                    let s = &ask.settings;
                    let again =
                        opt_ms(flow, s.no_input.as_ref()) + opt_ms(flow, ask.reprompt.as_ref().or(Some(&ask.prompt)));
                    let waiting = here + s.timeout_ms + (again + s.timeout_ms) * u64::from(s.retries);
                    let fallback = edges.iter().find(|e| e.on == On::Timeout);
                    fallback.and_then(|e| self.time(e.to)).map(|t| t + waiting)
                }
            }
        } else {
            // The worst of the ways on that lead to a person: a branch to after-hours
            // voicemail does not make the open-hours way unmeasurable. A call-back's return
            // is another call, not this caller's way.
            edges.iter().filter(|e| e.on != On::Returned).filter_map(|e| self.time(e.to)).max().map(|t| t + here)
        };
        self.memo[n.index()] = Memo::Done(t);
        t
    }
}

/// The time from a node to a person and the next node on the way (`None`: no way).
type Way = Option<(Millis, Option<NodeId>)>;

/// The longest choosing way to a person (options, entries, escapes, any branch; no silence,
/// wrong entries or going back), ignoring cycles.
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
        let here = here_ms(flow, n);
        let result = if flow.node(n).kind.is_person() {
            Some((here, None))
        } else {
            graph::edges_out(flow, n)
                .into_iter()
                .filter(|e| e.on.is_choice())
                .filter_map(|e| self.from(e.to, depth + 1).map(|(t, _)| (t, e.to)))
                .max_by_key(|(t, _)| *t)
                .map(|(t, next)| (t + here, Some(next)))
        };
        self.on_stack[n.index()] = false;
        self.memo[n.index()] = Some(result);
        result
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::parse::parse;

    /// `on` keeps the escape; `off` turns it off but falls back to the operator; `shut` turns it
    /// off and falls back to a hangup. Every prompt has 14 characters: 300 + 1000 ms.
    pub(crate) const ESCAPES: &str = r#"
[flow]
name = "t"
start = "on"
operator = "op"

[nodes.on]
kind = "menu"
prompt = "Menu one here."
options = { "1" = "off", "2" = "shut" }

[nodes.off]
kind = "menu"
prompt = "Menu two here."
escape = false
options = { "1" = "op" }

[nodes.shut]
kind = "menu"
prompt = "Menu 3 is here"
escape = false
fallback = "bye"
options = { "1" = "bye" }

[nodes.op]
kind = "queue"
queue = "first_line"

[nodes.bye]
kind = "hangup"
prompt = "Bye."
"#;

    #[test]
    fn without_escape_the_worst_case_by_pressing_0_is_the_silent_one() {
        let flow = parse(ESCAPES).flow.expect("parses");
        let r = report(&flow);
        let row = |node: &str| r.menus.iter().find(|m| m.node == node).map(|m| (m.escape_ms, m.silence_ms));
        // Silence: the prompt, 5 s, then twice the prompt again and 5 s: 1.3 + 5 + 2 × 6.3 = 18.9 s.
        assert_eq!(row("on"), Some((Some(Millis(1300)), Some(Millis(18_900)))));
        assert_eq!(row("off"), Some((Some(Millis(18_900)), Some(Millis(18_900)))));
        assert_eq!(row("shut"), Some((None, None)));
        // on → off (1.3 s) → op by option 1 (1.3 s); no escape edges leave `off`.
        assert_eq!(r.longest_ms, Some(Millis(2600)));
        assert_eq!(r.longest_path, ["on", "off", "op"]);
    }
}
