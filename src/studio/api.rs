//! The page's JSON API. Every answer comes from the code the command line runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Studio;
use crate::calendar::{self, parse_at};
use crate::engine::NodeKind;
use crate::engine::diagnostic::line_column;
use crate::engine::flow::QueueNode;
use crate::engine::{Diagnostic, Flow, Start, graph, report};
use crate::files::{self, FlowFile};
use crate::queue::estimate;
use crate::script::Mocks;
use crate::script::caller::{Turn, parse_script};
use crate::script::scenario::Scenarios;
use crate::script::suite::{self, SuiteError};
use crate::script::transcript::{Entry, Transcript, run_until_waiting};

/// A refusal the page shows as it is.
pub(super) struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

pub(super) type Answer = Result<Json<Value>, Refusal>;

fn bad(message: impl Into<String>) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, message.into())
}

/// The file of flow `name`: a plain name, so no path leaves the flows folder.
fn flow_path(studio: &Studio, name: &str) -> Result<PathBuf, Refusal> {
    let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !plain {
        return Err(bad(format!("`{name}` is not a flow name (letters, digits, _ and - only)")));
    }
    Ok(studio.flows_dir.join(format!("{name}.toml")))
}

fn existing_flow_path(studio: &Studio, name: &str) -> Result<PathBuf, Refusal> {
    let path = flow_path(studio, name)?;
    if !path.is_file() {
        return Err(Refusal(StatusCode::NOT_FOUND, format!("no flow `{name}` in {}", studio.flows_dir.display())));
    }
    Ok(path)
}

fn read(studio: &Studio, name: &str) -> Result<FlowFile, Refusal> {
    let path = existing_flow_path(studio, name)?;
    files::read_flow(&path, &studio.sounds_dir).map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// Diagnostics as the page marks them: 1-based line and column of both ends.
fn diagnostics(source: &str, diags: &[Diagnostic]) -> Value {
    let list: Vec<Value> = diags
        .iter()
        .map(|d| {
            let (line, column) = line_column(source, d.span.start);
            let (end_line, end_column) = line_column(source, d.span.end);
            json!({
                "severity": if d.is_error() { "error" } else { "warning" },
                "line": line, "column": column, "end_line": end_line, "end_column": end_column,
                "message": d.message, "help": d.help,
            })
        })
        .collect();
    Value::Array(list)
}

/// Nodes with their kind, line and time to a person, and the arrows `graph` draws.
fn graph_json(source: &str, flow: &Flow) -> Value {
    let times = report::report(flow);
    let nodes: Vec<Value> = flow
        .nodes
        .iter()
        .map(|n| {
            let t = times.menus.iter().find(|m| *m.node == *n.id);
            json!({
                "id": &*n.id,
                "kind": n.kind.name(),
                "line": line_column(source, n.span.start).0,
                "escape_ms": t.and_then(|t| t.escape_ms).map(|m| m.0),
                "silence_ms": t.and_then(|t| t.silence_ms).map(|m| m.0),
            })
        })
        .collect();
    let edges: Vec<Value> = graph::arrows(flow)
        .iter()
        .map(|a| {
            json!({
                "from": &*flow.node(a.from).id, "to": &*flow.node(a.to).id,
                "label": a.label(), "dashed": a.dashed,
            })
        })
        .collect();
    json!({
        "start": &*flow.node(flow.start).id,
        "operator": &*flow.node(flow.operator).id,
        "languages": flow.languages.iter().map(|l| l.to_string()).collect::<Vec<_>>(),
        "nodes": nodes,
        "edges": edges,
    })
}

/// A flow file as the page shows it: source, diagnostics, and the graph when it parses.
fn flow_json(name: &str, file: &FlowFile) -> Value {
    let graph = crate::engine::parse::parse(&file.source).flow.map(|f| graph_json(&file.source, &f));
    json!({
        "name": name,
        "source": file.source,
        "diagnostics": diagnostics(&file.source, &file.diagnostics),
        "errors": file.diagnostics.iter().filter(|d| d.is_error()).count(),
        "graph": graph,
        "has_tests": scenario_path(&file.path).is_file(),
    })
}

fn scenario_path(flow_path: &Path) -> PathBuf {
    flow_path.with_extension("test.toml")
}

pub(super) async fn list(State(studio): State<Arc<Studio>>) -> Answer {
    let files = files::flow_files(std::slice::from_ref(&studio.flows_dir)).map_err(|e| bad(e.to_string()))?;
    let flows: Vec<Value> = files
        .iter()
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_owned();
            let file = files::read_flow(p, &studio.sounds_dir).ok()?;
            let errors = file.diagnostics.iter().filter(|d| d.is_error()).count();
            Some(json!({ "name": name, "errors": errors, "warnings": file.diagnostics.len() - errors }))
        })
        .collect();
    Ok(Json(json!({ "flows": flows })))
}

pub(super) async fn show(State(studio): State<Arc<Studio>>, UrlPath(name): UrlPath<String>) -> Answer {
    let file = read(&studio, &name)?;
    Ok(Json(flow_json(&name, &file)))
}

#[derive(Deserialize)]
pub(super) struct Source {
    source: String,
}

/// Diagnostics for text being edited, as `check` would give for the saved file.
pub(super) async fn check(
    State(studio): State<Arc<Studio>>,
    UrlPath(name): UrlPath<String>,
    Json(body): Json<Source>,
) -> Answer {
    let path = flow_path(&studio, &name)?;
    let file = files::flow_from_source(&path, body.source, &studio.sounds_dir);
    Ok(Json(flow_json(&name, &file)))
}

/// Saves a flow that has no errors, atomically; one with errors is refused with them.
pub(super) async fn save(
    State(studio): State<Arc<Studio>>,
    UrlPath(name): UrlPath<String>,
    Json(body): Json<Source>,
) -> Result<Response, Refusal> {
    let path = flow_path(&studio, &name)?;
    let file = files::flow_from_source(&path, body.source, &studio.sounds_dir);
    if file.has_errors() {
        let answer = json!({ "saved": false, "flow": flow_json(&name, &file) });
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(answer)).into_response());
    }
    files::write_atomic(&path, &file.source).map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    tracing::info!(flow = %name, "saved");
    Ok(Json(json!({ "saved": true, "flow": flow_json(&name, &file) })).into_response())
}

#[derive(Deserialize)]
pub(super) struct CallRequest {
    /// When the call happens, as `call --at` takes it (`wed 11:00`).
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    /// The caller's turns so far, as `call --keys` takes them (`1 - 12345# say:оператор`).
    #[serde(default)]
    script: String,
    /// A case of the flow's scenario file whose `mock` answers the fetch nodes, over the mock
    /// file next to the flow (`NAME.mock.toml`, as `call --mock` reads).
    #[serde(default)]
    case: Option<String>,
}

/// The answers for the flow's fetch nodes: its mock file's, with the scenario case's over them.
fn call_mocks(flow_path: &Path, case: Option<&str>) -> Result<Mocks, Refusal> {
    let read =
        |path: &Path| std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())));
    let file = flow_path.with_extension("mock.toml");
    let mut mocks = Mocks::default();
    if file.is_file() {
        let text = read(&file)?;
        mocks = Mocks::parse(&text).map_err(|d| bad(d.render(&file.display().to_string(), &text).trim_end()))?;
    }
    let Some(name) = case.filter(|c| !c.is_empty()) else { return Ok(mocks) };
    let scenarios = scenario_path(flow_path);
    let text = read(&scenarios)?;
    let parsed =
        Scenarios::parse(&text).map_err(|d| bad(d.render(&scenarios.display().to_string(), &text).trim_end()))?;
    let case = parsed.cases.iter().find(|c| c.name == name);
    let case = case.ok_or_else(|| bad(format!("no case `{name}` in {}", scenarios.display())))?;
    Ok(mocks.with(&case.mock))
}

/// The transcript's entries as JSON, each fetch with the mocked answer it got (`answer`). The
/// URL is the engine's: `{env.NAME}` stays unresolved, so no secret is shown.
fn entries_json(t: &Transcript, mocks: &Mocks) -> Value {
    let mut node = String::new();
    let entries = t
        .entries
        .iter()
        .map(|timed| {
            let mut v = serde_json::to_value(timed).unwrap_or(Value::Null);
            match &timed.entry {
                Entry::Node { id } => node.clone_from(id),
                Entry::Fetch { url, status: Some(_), .. } => {
                    v["answer"] = mocks.find(&node, url).and_then(|m| m.json.clone()).unwrap_or(Value::Null);
                }
                _ => {}
            }
            v
        })
        .collect();
    Value::Array(entries)
}

/// The call so far, replayed from its start with every turn the caller made: the engine is
/// deterministic, so this is the call `switchboard call --keys` makes, stopped where it waits.
pub(super) async fn call(
    State(studio): State<Arc<Studio>>,
    UrlPath(name): UrlPath<String>,
    Json(req): Json<CallRequest>,
) -> Answer {
    let file = read(&studio, &name)?;
    let path = file.path.clone();
    let Some(mut flow) = file.flow else { return Err(bad(format!("`{name}` has errors: fix them to call it"))) };
    files::attach_model(&path, &mut flow, None).map_err(|e| bad(e.to_string()))?;
    let at = parse_at(req.at.as_deref().unwrap_or("wed 11:00")).map_err(|e| bad(e.to_string()))?;
    if let Some(lang) = req.lang.as_deref().filter(|l| !l.is_empty())
        && flow.language_index(lang).is_none()
    {
        return Err(bad(format!("`{lang}` is not a language of the flow")));
    }
    let turns = parse_script(&req.script).map_err(|e| bad(e.to_string()))?;
    let start = Start { caller: None, language: req.lang.as_deref().filter(|l| !l.is_empty()) };
    let mocks = call_mocks(&path, req.case.as_deref())?;
    let (t, waiting) = run_until_waiting(&flow, &turns, &start, at, &mocks);
    // Handed to a person at a node with `after`: the caller's next turn comes after the
    // conversation, and the flow goes on there.
    let last = t.path.last().and_then(|id| flow.nodes.iter().find(|n| *n.id == **id));
    let after = match last.map(|n| &n.kind) {
        Some(NodeKind::Queue(QueueNode { after: Some(next), .. }) | NodeKind::Dial { after: Some(next), .. })
            if waiting.is_none() && turns.last() != Some(&Turn::Hangup) =>
        {
            Some(flow.node(*next).id.to_string())
        }
        _ => None,
    };
    let waiting = waiting.map(|g| {
        json!({
            "max_digits": g.max_digits, "finish_key": g.finish_key.map(String::from),
            "timeout_ms": g.timeout_ms.0, "speech": g.speech,
        })
    });
    Ok(Json(json!({
        "entries": entries_json(&t, &mocks),
        "after": after,
        "path": t.path,
        "current": t.path.last(),
        "waiting": waiting,
        "outcome": t.outcome.as_ref().map(ToString::to_string),
        "duration_s": t.duration_s,
    })))
}

/// The flow's scenario file, run as `switchboard test` runs it.
pub(super) async fn tests(State(studio): State<Arc<Studio>>, UrlPath(name): UrlPath<String>) -> Answer {
    let path = existing_flow_path(&studio, &name)?;
    let scenarios = scenario_path(&path);
    if !scenarios.is_file() {
        return Err(Refusal(StatusCode::NOT_FOUND, format!("`{name}` has no scenario file ({})", scenarios.display())));
    }
    let sounds = studio.sounds_dir.clone();
    let result = match suite::run_file(&scenarios, |_| sounds.clone()) {
        Ok(result) => result,
        Err(SuiteError::Read(e)) => return Err(bad(e.to_string())),
        Err(e) => {
            return Ok(Json(json!({ "cases": [], "error": e.to_string(), "summary": "0 passed, 1 failed" })));
        }
    };
    let passed = result.cases.iter().filter(|c| c.passed()).count();
    Ok(Json(json!({
        "cases": result.cases.iter().map(|c| json!({ "name": c.name, "passed": c.passed(), "problems": c.problems })).collect::<Vec<_>>(),
        "uncovered_nodes": result.uncovered.nodes,
        "uncovered_options": result.uncovered.options,
        "summary": format!("{passed} passed, {} failed", result.cases.len() - passed),
    })))
}

/// The expected wait of each queue of the flow's model, by weekday and hour, and the best and
/// worst times to call as `estimate --best` words them.
pub(super) async fn waits(State(studio): State<Arc<Studio>>, UrlPath(name): UrlPath<String>) -> Answer {
    let file = read(&studio, &name)?;
    let Some(flow) = &file.flow else { return Err(bad(format!("`{name}` has errors"))) };
    let Some(model_path) = files::model_path_for(&file.path, flow, None).filter(|p| p.is_file()) else {
        return Ok(Json(json!({ "queues": [] })));
    };
    let model = files::read_model(&model_path).map_err(|e| bad(e.to_string()))?;
    let queues: Vec<Value> = model
        .queues
        .iter()
        .map(|q| {
            let mut cells: Vec<Value> = Vec::new();
            let week = estimate::week(&model, q);
            let best = estimate::best_sentences(&estimate::best_times(&week), q.arrivals.slot_min);
            for s in week {
                let day = calendar::day_key(s.weekday);
                let hour = s.hour();
                // The hour's first slot stands for it; the page shows hours.
                if s.start_min % 60 != 0 {
                    continue;
                }
                cells.push(
                    json!({ "day": day, "hour": hour, "open": s.open, "wait_s": s.wait_s().filter(|w| w.is_finite()) }),
                );
            }
            json!({ "name": q.name, "cells": cells, "best": best })
        })
        .collect();
    Ok(Json(json!({ "queues": queues })))
}

/// A sound the flow plays, for the page's audio: a plain file name inside the sounds folder
/// ([`crate::confined`]), as the server serves it.
pub(super) async fn sound(
    State(studio): State<Arc<Studio>>,
    UrlPath(file): UrlPath<String>,
) -> Result<Response, Refusal> {
    let kind = crate::server::sound_type(&file).filter(|_| crate::confined::is_plain_name(&file));
    let Some(kind) = kind else { return Err(bad("not a sound file name")) };
    let bytes = crate::confined::read(&studio.sounds_dir, &file)
        .map_err(|_| Refusal(StatusCode::NOT_FOUND, format!("no sound `{file}`")))?;
    Ok(([(header::CONTENT_TYPE, kind)], bytes).into_response())
}
