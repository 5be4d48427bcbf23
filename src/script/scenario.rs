//! Scenario files (`*.test.toml`): cases of a caller script with what the call must do (its
//! outcome, the nodes on its path, what the caller hears), played on the scripted clock and
//! compared, with the coverage of the flow's nodes and menu options across the cases.
//!
//! Pure: the driver reads the files and attaches queue models; this module parses text, plays
//! cases and reports differences.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::{ScriptError, Transcript, parse_script, run};
use crate::calendar::{BadTime, parse_at};
use crate::engine::graph::{self, On};
use crate::engine::{Diagnostic, Flow, OutcomeKind, Start};

/// A case without `at` calls on a Wednesday at 11:00, inside the sample flows' working hours.
pub const DEFAULT_AT: &str = "wed 11:00";

/// A scenario file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenarios {
    /// The flow, relative to the scenario file (default: the file's name without `.test`).
    pub flow: Option<String>,
    #[serde(rename = "case", default)]
    pub cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    /// The caller script (as `switchboard call --keys`).
    #[serde(default)]
    pub keys: String,
    /// The call's local time (default "wed 11:00", inside the sample flows' working hours).
    pub at: Option<String>,
    /// A queue model for this case's estimates, relative to the scenario file (default: the
    /// flow's own), e.g. an understaffed one to reach a `wait_over` branch.
    pub model: Option<String>,
    pub lang: Option<String>,
    pub from: Option<String>,
    /// Answers for the flow's `fetch` nodes, by URL or node name (as `call --mock`).
    #[serde(default)]
    pub mock: super::mock::Mocks,
    #[serde(default)]
    pub expect: Expect,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub outcome: Option<ExpectOutcome>,
    /// The exact node path.
    pub path: Option<Vec<String>>,
    /// Nodes that must be visited, in this order (others may come between).
    pub visits: Option<Vec<String>>,
    /// Nodes that must not be visited.
    pub not_visits: Option<Vec<String>>,
    /// Texts that must be heard, in this order, each as part of a prompt.
    pub heard: Option<Vec<String>>,
    /// The call-back a `callback` node booked: the fields given must match.
    pub callback: Option<ExpectCallback>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectCallback {
    pub queue: Option<String>,
    pub number: Option<String>,
    pub window: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectOutcome {
    pub kind: OutcomeKind,
    pub target: Option<String>,
}

impl Scenarios {
    /// Reads a scenario file's text; a syntax or type error is a diagnostic at its place.
    pub fn parse(text: &str) -> Result<Scenarios, Diagnostic> {
        toml::from_str(text).map_err(|e| Diagnostic::error(e.span().unwrap_or(0..0), e.message().trim_end()))
    }
}

impl Scenarios {
    /// Node names in the cases' `path`, `visits` and `not_visits` that the flow does not have,
    /// one message each with a suggestion: a misspelt name would make `not_visits` pass
    /// whatever the call does, and the others fail with a confusing diff.
    pub fn validate(&self, flow: &Flow) -> Vec<String> {
        let known = || flow.nodes.iter().map(|n| &*n.id);
        let mut problems = Vec::new();
        for case in &self.cases {
            let e = &case.expect;
            for (field, names) in [("path", &e.path), ("visits", &e.visits), ("not_visits", &e.not_visits)] {
                for name in names.iter().flatten().filter(|name| !known().any(|k| k == name.as_str())) {
                    let mut problem =
                        format!("case `{}`: expect.{field} names `{name}`, not a node of the flow", case.name);
                    if let Some(hint) = crate::engine::diagnostic::suggest(name, known()) {
                        problem.push_str("; ");
                        problem.push_str(&hint);
                    }
                    problems.push(problem);
                }
            }
        }
        problems
    }
}

/// Why a case could not be played.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error(transparent)]
    Script(#[from] ScriptError),
    #[error(transparent)]
    Time(#[from] BadTime),
    #[error("`{0}` is not a language of the flow")]
    UnknownLanguage(String),
}

/// Plays a case's script against the flow.
pub fn play(flow: &Flow, case: &Case) -> Result<Transcript, CaseError> {
    let turns = parse_script(&case.keys)?;
    let at = parse_at(case.at.as_deref().unwrap_or(DEFAULT_AT))?;
    if let Some(lang) = &case.lang
        && flow.language_index(lang).is_none()
    {
        return Err(CaseError::UnknownLanguage(lang.clone()));
    }
    let start = Start { caller: case.from.as_deref(), language: case.lang.as_deref() };
    Ok(run(flow, &turns, &start, at, &case.mock))
}

/// What differs between the case's expectations and the call; empty when it passed.
pub fn compare(case: &Case, t: &Transcript) -> Vec<String> {
    let mut problems = Vec::new();
    let e = &case.expect;
    if let Some(want) = &e.outcome {
        let got = t.outcome.as_ref();
        let ok = got.is_some_and(|o| o.kind == want.kind && want.target.as_ref().is_none_or(|w| *w == o.target));
        if !ok {
            let got = got.map_or("still in the IVR".to_owned(), |o| format!("{} {}", o.kind, o.target));
            problems.push(format!(
                "outcome: expected {} {}, got {got}",
                want.kind,
                want.target.as_deref().unwrap_or("(any)")
            ));
        }
    }
    if let Some(want) = &e.path
        && *want != t.path
    {
        problems.push(format!("path:\n- expected: {}\n+ actual:   {}", want.join(" → "), t.path.join(" → ")));
    }
    if let Some(want) = &e.visits {
        let mut rest = t.path.iter();
        if let Some(missing) = want.iter().find(|w| !rest.any(|p| p == *w)) {
            problems.push(format!("visits: `{missing}` not visited in order; path was {}", t.path.join(" → ")));
        }
    }
    for bad in e.not_visits.iter().flatten() {
        if t.path.contains(bad) {
            problems.push(format!("not_visits: `{bad}` was visited; path was {}", t.path.join(" → ")));
        }
    }
    if let Some(want) = &e.callback {
        let booked = t.entries.iter().find_map(|e| match &e.entry {
            super::Entry::Callback { queue, number, window, .. } => Some((queue, number, window)),
            _ => None,
        });
        match booked {
            None => problems.push("callback: no call-back was booked".to_owned()),
            Some((queue, number, window)) => {
                let fields = [("queue", &want.queue, Some(queue)), ("number", &want.number, Some(number))];
                let window_field = [("window", &want.window, window.as_ref())];
                for (field, want, got) in fields.into_iter().chain(window_field) {
                    if let Some(want) = want
                        && got != Some(want)
                    {
                        let got = got.map_or("none", |g| g.as_str());
                        problems.push(format!("callback: expected {field} {want}, got {got}"));
                    }
                }
            }
        }
    }
    if let Some(want) = &e.heard {
        let mut rest = t.heard.iter();
        if let Some(missing) = want.iter().find(|w| !rest.any(|h| h.contains(w.as_str()))) {
            problems.push(format!(
                "heard: «{missing}» not heard in order; heard:\n{}",
                t.heard.iter().map(|h| format!("  «{h}»")).collect::<Vec<_>>().join("\n")
            ));
        }
    }
    problems
}

/// What the cases of one file entered and chose, to report what none of them covered.
#[derive(Debug, Default)]
pub struct Coverage {
    entered: BTreeSet<String>,
    chosen: BTreeSet<(usize, usize)>,
}

/// What no case covered.
#[derive(Debug, PartialEq, Eq)]
pub struct Uncovered {
    pub total_nodes: usize,
    pub total_options: usize,
    /// Node ids no case entered.
    pub nodes: Vec<String>,
    /// Menu options no case chose, as `menu:key` (`menu:speech` for a phrase-only option).
    pub options: Vec<String>,
}

impl Coverage {
    /// Adds what one call entered and chose.
    pub fn add(&mut self, t: &Transcript) {
        self.entered.extend(t.path.iter().cloned());
        self.chosen.extend(t.choices.iter().copied());
    }

    pub fn uncovered(&self, flow: &Flow) -> Uncovered {
        let nodes: Vec<String> =
            flow.nodes.iter().map(|n| n.id.to_string()).filter(|id| !self.entered.contains(id)).collect();
        // Every option the graph has an edge for, by (menu, option), named by its key if it
        // has one, else `speech`.
        let mut all: BTreeMap<(usize, usize), Option<char>> = BTreeMap::new();
        for e in graph::edges(flow) {
            match e.on {
                On::OptionKey { option, key } => _ = all.insert((e.from.index(), option), Some(key)),
                On::OptionSpeech { option } => _ = all.entry((e.from.index(), option)).or_insert(None),
                _ => {}
            }
        }
        let options = all
            .iter()
            .filter(|(at, _)| !self.chosen.contains(at))
            .map(|(&(menu, _), key)| {
                let key = key.map_or_else(|| "speech".to_owned(), |k| k.to_string());
                format!("{}:{key}", flow.nodes[menu].id)
            })
            .collect();
        Uncovered { total_nodes: flow.nodes.len(), total_options: all.len(), nodes, options }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Outcome;

    #[test]
    fn an_outcome_diff_names_both_kinds_in_lowercase() {
        let case: Case =
            toml::from_str("name = \"x\"\nexpect.outcome = { kind = \"queue\", target = \"second_line\" }")
                .expect("a case");
        let outcome = Some(Outcome { kind: OutcomeKind::Queue, target: "first_line".into() });
        let t = Transcript { outcome, ..Transcript::default() };
        assert_eq!(compare(&case, &t), ["outcome: expected queue second_line, got queue first_line"]);
    }
}
