//! Validation of a parsed flow beyond what parsing catches: reachability, loops that never
//! wait, menus a caller cannot leave for a person, missing translations, unknown variables and
//! the flow's own time-to-person limit. Sound files are the loader's business (it can read
//! files; this module cannot).

use super::diagnostic::Diagnostic;
use super::flow::{Flow, NodeId, NodeKind, Prompt};
use super::graph;
use super::report::{self, Report};

/// Every problem in `flow`, most severe first within each node.
pub fn check(flow: &Flow) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let reachable = graph::reachable(flow);
    for id in flow.node_ids() {
        let node = flow.node(id);
        if !reachable[id.index()] && id != flow.operator {
            diags.push(
                Diagnostic::warning(node.span.clone(), format!("node `{}` can never be reached", node.id))
                    .with_help("point an option, `next` or branch at it, or delete it"),
            );
        }
    }
    instant_loops(flow, &mut diags);
    let operator = flow.node(flow.operator);
    if !operator.kind.is_person()
        && !matches!(
            operator.kind,
            NodeKind::Say { .. } | NodeKind::Branch(_) | NodeKind::Set { .. } | NodeKind::Goto { .. }
        )
    {
        diags.push(Diagnostic::warning(
            operator.span.clone(),
            format!(
                "the operator target `{}` is a {}, not a queue or dial: escapes reach no person",
                operator.id,
                operator.kind.name()
            ),
        ));
    }
    let report = report::report(flow);
    let mut silence_ms = vec![None; flow.nodes.len()];
    for t in &report.menus {
        silence_ms[t.id.index()] = t.silence_ms;
    }
    for id in flow.node_ids() {
        let node = flow.node(id);
        if let NodeKind::Menu(_) = &node.kind {
            if !graph::edges_out(flow, id).iter().any(|e| e.on.is_escape()) && silence_ms[id.index()].is_none() {
                diags.push(
                    Diagnostic::warning(
                        node.span.clone(),
                        format!(
                            "menu `{}` has neither an escape key nor a timeout fallback that reaches a person",
                            node.id
                        ),
                    )
                    .with_help("keep escape = \"0\", or set fallback to a path that ends in a queue"),
                );
            }
        }
        for prompt in prompts(&node.kind) {
            languages(flow, prompt, &mut diags);
            placeholders(flow, prompt, &mut diags);
        }
        if matches!(node.kind, NodeKind::Menu(_) | NodeKind::Input(_) | NodeKind::Say { .. })
            && prompts(&node.kind).next().is_some_and(Prompt::is_empty)
        {
            diags.push(Diagnostic::warning(
                node.span.clone(),
                format!("`{}` has no prompt: the caller hears nothing", node.id),
            ));
        }
    }
    time_limit(flow, &report, &mut diags);
    diags
}

/// The prompts of a node, its main prompt first.
pub fn prompts(kind: &NodeKind) -> impl Iterator<Item = &Prompt> {
    let list: Vec<&Prompt> = match kind {
        NodeKind::Menu(m) => [
            Some(&m.ask.prompt),
            m.ask.reprompt.as_ref(),
            m.ask.settings.no_input.as_ref(),
            m.ask.settings.invalid.as_ref(),
        ]
        .into_iter()
        .flatten()
        .collect(),
        NodeKind::Input(i) => [
            Some(&i.ask.prompt),
            i.ask.reprompt.as_ref(),
            i.ask.settings.no_input.as_ref(),
            i.ask.settings.invalid.as_ref(),
        ]
        .into_iter()
        .flatten()
        .collect(),
        NodeKind::Queue(q) => [Some(&q.prompt), q.announce.as_ref()].into_iter().flatten().collect(),
        NodeKind::Say { prompt, .. }
        | NodeKind::Dial { prompt, .. }
        | NodeKind::Voicemail { prompt, .. }
        | NodeKind::Hangup { prompt } => vec![prompt],
        NodeKind::Branch(_) | NodeKind::Set { .. } | NodeKind::Goto { .. } => vec![],
    };
    list.into_iter()
}

fn languages(flow: &Flow, prompt: &Prompt, diags: &mut Vec<Diagnostic>) {
    if prompt.is_empty() {
        return;
    }
    let missing: Vec<&str> = (0..flow.languages.len())
        .filter(|&l| !prompt.text.has(l as u8) && !prompt.play.has(l as u8))
        .map(|l| &*flow.languages[l])
        .collect();
    if !missing.is_empty() {
        diags.push(
            Diagnostic::warning(
                prompt.span.clone(),
                format!("prompt has no text or sound for language {}", missing.join(", ")),
            )
            .with_help("callers in that language hear the default language's prompt"),
        );
    }
}

fn placeholders(flow: &Flow, prompt: &Prompt, diags: &mut Vec<Diagnostic>) {
    for (_, text) in &prompt.text.0 {
        for name in text.placeholders() {
            if name != "lang" && !flow.vars.iter().any(|v| **v == *name) {
                diags.push(Diagnostic::warning(
                    prompt.span.clone(),
                    format!("`{{{name}}}` is never set: no `set` or `input` node stores it"),
                ));
            }
        }
    }
}

/// Cycles of nodes that never wait for the caller (say, set, branch, goto): a call that enters
/// one would spin until the engine's hop limit sends it to the operator.
fn instant_loops(flow: &Flow, diags: &mut Vec<Diagnostic>) {
    // A node is instant when the call leaves it without input: every edge out is instant.
    let mut buf = Vec::new();
    let instant: Vec<bool> = flow
        .node_ids()
        .map(|n| {
            buf.clear();
            graph::edges_from(flow, n, &mut buf);
            !buf.is_empty() && buf.iter().all(|e| e.on.is_instant())
        })
        .collect();
    let instant = |n: NodeId| instant[n.index()];
    // Iterative three-colour DFS over the instant subgraph; each back edge closes a cycle.
    let mut colour = vec![0u8; flow.nodes.len()];
    for root in flow.node_ids().filter(|&n| instant(n)) {
        if colour[root.index()] != 0 {
            continue;
        }
        let mut stack: Vec<(NodeId, Vec<NodeId>)> = Vec::new();
        colour[root.index()] = 1;
        buf.clear();
        graph::edges_from(flow, root, &mut buf);
        stack.push((root, buf.iter().map(|e| e.to).filter(|&t| instant(t)).collect()));
        while let Some((node, nexts)) = stack.last_mut() {
            let node = *node;
            match nexts.pop() {
                Some(next) if colour[next.index()] == 0 => {
                    colour[next.index()] = 1;
                    buf.clear();
                    graph::edges_from(flow, next, &mut buf);
                    stack.push((next, buf.iter().map(|e| e.to).filter(|&t| instant(t)).collect()));
                }
                Some(next) if colour[next.index()] == 1 => {
                    let start = stack.iter().position(|(n, _)| *n == next).unwrap_or(0);
                    let cycle: Vec<&str> =
                        stack[start..].iter().map(|(n, _)| &*flow.node(*n).id).chain([&*flow.node(next).id]).collect();
                    let conditional =
                        stack[start..].iter().any(|(n, _)| matches!(flow.node(*n).kind, NodeKind::Branch(_)));
                    let message = format!("nodes {} loop without ever waiting for input", cycle.join(" → "));
                    let span = flow.node(next).span.clone();
                    let help = "put a menu or input on the loop, or end it in a queue or hangup";
                    diags.push(
                        if conditional { Diagnostic::warning(span, message) } else { Diagnostic::error(span, message) }
                            .with_help(help),
                    );
                }
                Some(_) => {}
                None => {
                    colour[node.index()] = 2;
                    stack.pop();
                }
            }
        }
    }
}

fn time_limit(flow: &Flow, report: &Report, diags: &mut Vec<Diagnostic>) {
    let Some(limit) = flow.max_time_to_person_ms else { return };
    // The start row repeats a menu's row when the flow starts at a menu.
    let start_is_menu = report.menus.iter().any(|m| m.id == report.start.id);
    let start = (!start_is_menu).then_some(&report.start);
    for times in start.into_iter().chain(&report.menus) {
        let span = flow.node(times.id).span.clone();
        for (how, t) in [("pressing the escape key", times.escape_ms), ("staying silent", times.silence_ms)] {
            if let Some(t) = t.filter(|&t| t > limit) {
                diags.push(Diagnostic::error(
                    span.clone(),
                    format!(
                        "reaching a person from `{}` by {how} takes up to {}, over max_time_to_person ({})",
                        times.node, t, limit
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::report::tests::ESCAPES;

    #[test]
    fn a_menu_without_escape_warns_only_when_silence_reaches_no_person() {
        let flow = crate::engine::parse::parse(ESCAPES).flow.expect("parses");
        let warnings: Vec<String> =
            check(&flow).into_iter().map(|d| d.message).filter(|m| m.contains("neither an escape")).collect();
        assert_eq!(warnings, ["menu `shut` has neither an escape key nor a timeout fallback that reaches a person"]);
    }
}
