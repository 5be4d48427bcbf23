//! `switchboard test [PATH...]`: runs the scenario files (`*.test.toml`) beside flows and
//! reports each case, with a diff for failures, and what no case covered.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde::Deserialize;

use switchboard::engine::{Diagnostic, Flow, NodeKind, OutcomeKind, Start};
use switchboard::load;
use switchboard::script::{self, Transcript};

#[derive(clap::Args)]
pub struct Args {
    /// Scenario files or folders (default: flows/).
    paths: Vec<PathBuf>,
}

/// A scenario file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenarios {
    /// The flow, relative to the scenario file (default: the file's name without `.test`).
    flow: Option<String>,
    #[serde(rename = "case", default)]
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// The caller script (as `switchboard call --keys`).
    #[serde(default)]
    keys: String,
    /// The call's local time (default "wed 11:00", inside the sample flows' working hours).
    at: Option<String>,
    /// A queue model for this case's estimates, relative to the scenario file (default: the
    /// flow's own), e.g. an understaffed one to reach a `wait_over` branch.
    model: Option<String>,
    lang: Option<String>,
    from: Option<String>,
    #[serde(default)]
    expect: Expect,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    outcome: Option<ExpectOutcome>,
    /// The exact node path.
    path: Option<Vec<String>>,
    /// Nodes that must be visited, in this order (others may come between).
    visits: Option<Vec<String>>,
    /// Nodes that must not be visited.
    not_visits: Option<Vec<String>>,
    /// Texts that must be heard, in this order, each as part of a prompt.
    heard: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectOutcome {
    kind: OutcomeKind,
    target: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let paths = if args.paths.is_empty() { vec![super::default_flows()] } else { args.paths };
    let mut files = Vec::new();
    for path in &paths {
        if path.is_dir() {
            for entry in std::fs::read_dir(path).with_context(|| format!("cannot list {}", path.display()))? {
                let p = entry?.path();
                if p.to_string_lossy().ends_with(".test.toml") {
                    files.push(p);
                }
            }
        } else {
            files.push(path.clone());
        }
    }
    files.sort();
    if files.is_empty() {
        anyhow::bail!("no scenario files (*.test.toml) found");
    }
    let (mut passed, mut failed) = (0, 0);
    for file in &files {
        let (p, f) = run_file(file)?;
        passed += p;
        failed += f;
    }
    println!("{passed} passed, {failed} failed");
    Ok(super::exit(failed > 0))
}

fn run_file(file: &Path) -> anyhow::Result<(usize, usize)> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let scenarios: Scenarios = match toml::from_str(&text) {
        Ok(s) => s,
        Err(e) => {
            let d = Diagnostic::error(e.span().unwrap_or(0..0), e.message().trim_end());
            eprint!("{}", load::render(file, &text, &d));
            return Ok((0, 1));
        }
    };
    let flow_path = match &scenarios.flow {
        Some(f) => file.parent().unwrap_or(Path::new(".")).join(f),
        None => PathBuf::from(file.to_string_lossy().replace(".test.toml", ".toml")),
    };
    let mut loaded = load::load_file(&flow_path, &super::sounds_dir_for(&flow_path))
        .with_context(|| format!("{}: cannot read the flow {}", file.display(), flow_path.display()))?;
    let rendered = loaded.render();
    let Some(flow) = &mut loaded.flow else {
        eprint!("{rendered}");
        println!("FAIL {}: the flow {} has errors", file.display(), flow_path.display());
        return Ok((0, 1));
    };
    if let Err(rendered) = load::attach_model(&flow_path, flow, None) {
        eprint!("{rendered}");
        println!("FAIL {}: the queue model of {} has errors", file.display(), flow_path.display());
        return Ok((0, 1));
    }
    let flow = &*flow;
    println!("{} ({} cases on {})", file.display(), scenarios.cases.len(), flow_path.display());
    let (mut passed, mut failed) = (0, 0);
    let mut entered = BTreeSet::new();
    let mut chosen = BTreeSet::new();
    for case in &scenarios.cases {
        let with_model;
        let flow = match &case.model {
            Some(model) => {
                let mut f = flow.clone();
                let path = file.parent().unwrap_or(Path::new(".")).join(model);
                if let Err(rendered) = load::attach_model(&flow_path, &mut f, Some(&path)) {
                    eprint!("{rendered}");
                    failed += 1;
                    println!("  FAIL {}: the queue model {} has errors", case.name, path.display());
                    continue;
                }
                with_model = f;
                &with_model
            }
            None => flow,
        };
        match run_case(flow, case) {
            Ok(t) => {
                let problems = compare(case, &t);
                entered.extend(t.path.iter().cloned());
                chosen.extend(t.choices.iter().copied());
                if problems.is_empty() {
                    passed += 1;
                    println!("  ok   {}", case.name);
                } else {
                    failed += 1;
                    println!("  FAIL {}", case.name);
                    for p in problems {
                        println!("       {}", p.replace('\n', "\n       "));
                    }
                }
            }
            Err(e) => {
                failed += 1;
                println!("  FAIL {}: {e}", case.name);
            }
        }
    }
    coverage(flow, &entered, &chosen);
    Ok((passed, failed))
}

fn run_case(flow: &Flow, case: &Case) -> anyhow::Result<Transcript> {
    let steps = script::parse_script(&case.keys)?;
    let at = script::parse_at(case.at.as_deref().unwrap_or("wed 11:00"))?;
    if let Some(lang) = &case.lang
        && flow.language_index(lang).is_none()
    {
        anyhow::bail!("`{lang}` is not a language of the flow");
    }
    let start = Start { caller: case.from.as_deref(), language: case.lang.as_deref() };
    Ok(script::run(flow, &steps, &start, at))
}

/// What differs between the case's expectations and the call; empty when it passed.
fn compare(case: &Case, t: &Transcript) -> Vec<String> {
    let mut problems = Vec::new();
    let e = &case.expect;
    if let Some(want) = &e.outcome {
        let got = t.outcome.as_ref();
        let ok = got.is_some_and(|o| o.kind == want.kind && want.target.as_ref().is_none_or(|w| *w == o.target));
        if !ok {
            let got = got.map_or("still in the IVR".to_owned(), |o| format!("{:?} {}", o.kind, o.target));
            problems.push(format!(
                "outcome: expected {:?} {}, got {got}",
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

fn coverage(flow: &Flow, entered: &BTreeSet<String>, chosen: &BTreeSet<(usize, usize)>) {
    let nodes: Vec<&str> = flow.nodes.iter().map(|n| &*n.id).filter(|id| !entered.contains(*id)).collect();
    let mut options = Vec::new();
    for (i, n) in flow.nodes.iter().enumerate() {
        if let NodeKind::Menu(m) = &n.kind {
            for (j, o) in m.options.iter().enumerate() {
                if !chosen.contains(&(i, j)) {
                    let key = o.key.map_or_else(|| "speech".to_owned(), |k| k.to_string());
                    options.push(format!("{}:{key}", n.id));
                }
            }
        }
    }
    let total_nodes = flow.nodes.len();
    let total_options: usize =
        flow.nodes.iter().map(|n| if let NodeKind::Menu(m) = &n.kind { m.options.len() } else { 0 }).sum();
    println!(
        "  coverage: {}/{} nodes, {}/{} options",
        total_nodes - nodes.len(),
        total_nodes,
        total_options - options.len(),
        total_options
    );
    if !nodes.is_empty() {
        println!("  nodes no case entered: {}", nodes.join(", "));
    }
    if !options.is_empty() {
        println!("  options no case chose: {}", options.join(", "));
    }
}
