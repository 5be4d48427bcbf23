//! `switchboard graph FLOW --format dot|mermaid|json`: the flow's nodes and every edge,
//! escapes and fallbacks included, each labelled with what takes the call along it.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use switchboard::engine::graph::{self, arrows};
use switchboard::engine::{Flow, NodeKind};

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Dot,
    Mermaid,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    flow: PathBuf,
    #[arg(long, value_enum, default_value = "dot")]
    format: Format,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sounds = super::sounds_dir_for(&args.flow);
    let flow = &super::read_flow(&args.flow, &sounds)?;
    print!(
        "{}",
        match args.format {
            Format::Dot => dot(flow),
            Format::Mermaid => mermaid(flow),
            Format::Json => serde_json::to_string_pretty(&json_graph(flow))? + "\n",
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn json_graph(flow: &Flow) -> serde_json::Value {
    let nodes: Vec<_> = flow.nodes.iter().map(|n| json!({ "id": &*n.id, "kind": n.kind.name() })).collect();
    let edges: Vec<_> = graph::edges(flow)
        .iter()
        .map(|e| {
            json!({
                "from": &*flow.node(e.from).id,
                "to": &*flow.node(e.to).id,
                "on": e.on.label(),
                "condition": e.condition(flow),
            })
        })
        .collect();
    json!({
        "start": &*flow.node(flow.start).id,
        "operator": &*flow.node(flow.operator).id,
        "nodes": nodes,
        "edges": edges,
    })
}

fn shape(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::Menu(_) | NodeKind::Input(_) => "box",
        NodeKind::Branch(_) => "diamond",
        NodeKind::Queue(_) | NodeKind::Dial { .. } => "doubleoctagon",
        NodeKind::Hangup { .. } | NodeKind::Voicemail { .. } | NodeKind::Callback(_) => "octagon",
        _ => "ellipse",
    }
}

fn dot(flow: &Flow) -> String {
    let mut out = format!("digraph {:?} {{\n  rankdir=LR;\n  node [fontname=\"sans-serif\"];\n", flow.name);
    for n in &flow.nodes {
        let _ = writeln!(
            out,
            "  {:?} [label={:?}, shape={}];",
            &*n.id,
            format!("{}\n({})", n.id, n.kind.name()),
            shape(&n.kind)
        );
    }
    let _ = writeln!(out, "  \"__start\" [shape=point];\n  \"__start\" -> {:?};", &*flow.node(flow.start).id);
    for a in arrows(flow) {
        let style = if a.dashed { ", style=dashed" } else { "" };
        let _ = writeln!(
            out,
            "  {:?} -> {:?} [label={:?}{style}];",
            &*flow.node(a.from).id,
            &*flow.node(a.to).id,
            a.label()
        );
    }
    out.push_str("}\n");
    out
}

fn mermaid(flow: &Flow) -> String {
    // Mermaid ids must be plain words: number the nodes and show their names as labels.
    let mut out = String::from("flowchart LR\n");
    for (i, n) in flow.nodes.iter().enumerate() {
        let label = format!("{} ({})", n.id, n.kind.name()).replace('"', "'");
        let (open, close) = match n.kind {
            NodeKind::Branch(_) => ("{", "}"),
            NodeKind::Queue(_) | NodeKind::Dial { .. } => ("[[", "]]"),
            NodeKind::Hangup { .. } | NodeKind::Voicemail { .. } | NodeKind::Callback(_) => ("([", "])"),
            _ => ("[", "]"),
        };
        let _ = writeln!(out, "  n{i}{open}\"{label}\"{close}");
    }
    let _ = writeln!(out, "  start((start)) --> n{}", flow.start.index());
    for a in arrows(flow) {
        let arrow = if a.dashed { "-.->" } else { "-->" };
        // A quote would end Mermaid's label: write it as the entity Mermaid reads back.
        let label = a.label().replace('"', "#quot;");
        let _ = writeln!(out, "  n{} {arrow}|\"{label}\"| n{}", a.from.index(), a.to.index());
    }
    out
}
