//! Validation of a parsed flow beyond what parsing catches: reachability, loops that never
//! wait, menus a caller cannot leave for a person, missing translations, empty prompts,
//! placeholders nothing stores and the flow's own time-to-person limit; with the queue model's
//! names in hand, the queues the flow names ([`check_queues`]). Sound files and the model are
//! the loader's business (it can read files; this module cannot).

use std::collections::HashSet;

use super::call::{BUILTIN_VARS, ENV_PREFIX};
use super::diagnostic::{Diagnostic, suggest};
use super::flow::{Flow, NodeId, NodeKind, Prompt, Template};
use super::graph;
use super::report::{self, Report};
use super::spoken;

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
    let stored = stored_vars(flow);
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
            placeholders(flow, &stored, &prompt.text.0, &mut diags);
            no_env(&prompt.text.0, &mut diags);
            empty_texts(prompt, &mut diags);
        }
        if let NodeKind::Set { assign, .. } = &node.kind {
            let any_language: Vec<_> = assign.iter().map(|(_, t)| (None, t.clone())).collect();
            placeholders(flow, &stored, &any_language, &mut diags);
        }
        if let NodeKind::Fetch(f) = &node.kind {
            fetch::check(flow, f, &stored, &mut diags);
        }
        if let NodeKind::Callback(c) = &node.kind
            && let (Some(span), Some(name)) = (&c.number_span, flow.vars.get(usize::from(c.number)))
            && !stored.contains(&&**name)
        {
            let mut d = Diagnostic::error(
                span.clone(),
                format!("number `{name}` is never set: no `input`, `set` or `fetch` node stores it"),
            );
            d.help = suggest(name, stored.iter().copied())
                .or_else(|| Some("leave `number` out to call back the number the caller rang from".into()));
            diags.push(d);
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
    // A `[defaults]` prompt is every menu's: report each problem once, at its one place.
    let mut seen = HashSet::new();
    diags.retain(|d| seen.insert((d.span.clone(), d.message.clone())));
    diags
}

/// The queues the flow names that its queue model, whose queues are `known`, lacks: callers
/// sent there would meet no agents and get no wait estimate. The driver that read the model
/// calls this; the engine never reads it.
pub fn check_queues(flow: &Flow, known: &[&str]) -> Vec<Diagnostic> {
    let model = flow.model.as_deref().unwrap_or("the queue model");
    let unknown = flow.queues.iter().filter(|(name, _)| !known.contains(&&**name));
    unknown
        .map(|(name, span)| {
            let mut d = Diagnostic::error(span.clone(), format!("queue `{name}` is not a queue of {model}"));
            d.help = suggest(name, known.iter().copied())
                .or_else(|| Some(format!("the model's queues are: {}", known.join(", "))));
            d
        })
        .collect()
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
        | NodeKind::Hangup { prompt, .. } => vec![prompt],
        NodeKind::Fetch(f) => vec![&f.prompt],
        NodeKind::Callback(c) => vec![&c.prompt],
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

/// A `fetch` node's templates, its URL's host and where `{env.NAME}` may appear.
mod fetch {
    use super::super::call::ENV_PREFIX;
    use super::super::diagnostic::Diagnostic;
    use super::super::flow::{Fetch, Flow, host_allowed};
    use super::{no_env, placeholders};

    pub(super) fn check(flow: &Flow, f: &Fetch, stored: &[&str], diags: &mut Vec<Diagnostic>) {
        let url = &f.url.raw;
        if !(url.starts_with("https://") || url.starts_with("http://") || url.starts_with("{env.")) {
            diags.push(
                Diagnostic::error(f.url_span.clone(), "a fetch url must start with https:// or http://")
                    .with_help("or with {env.NAME}, a base URL the server reads from its environment"),
            );
        } else if let Some(host) = literal_host(url)
            && !flow.allow_hosts.iter().any(|(allowed, _)| host_allowed(allowed, host))
        {
            let listed: Vec<&str> = flow.allow_hosts.iter().map(|(h, _)| &**h).collect();
            diags.push(
                Diagnostic::error(f.url_span.clone(), format!("host `{host}` is not in the flow's allow_hosts"))
                    .with_help(if listed.is_empty() {
                        format!("add allow_hosts = [\"{host}\"] to [flow]")
                    } else {
                        format!("allow_hosts lists: {}", listed.join(", "))
                    }),
            );
        }
        for t in std::iter::once(&f.url).chain(f.headers.iter().map(|(_, t)| t)) {
            for (name, span) in t.placeholders().filter(|(p, _)| p.starts_with(ENV_PREFIX)) {
                let var = &name[ENV_PREFIX.len()..];
                if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    diags.push(Diagnostic::error(span, format!("`{{{name}}}` does not name an environment variable")));
                }
            }
            placeholders(flow, stored, &[(None, t.clone())], diags);
        }
        let body: Vec<_> = f.body_texts.iter().map(|t| (None, t.clone())).collect();
        placeholders(flow, stored, &body, diags);
        no_env(&body, diags);
    }

    /// The host of a URL when the flow writes it out (no placeholder in the authority).
    fn literal_host(url: &str) -> Option<&str> {
        let rest = url.split_once("://")?.1;
        let authority = rest.split(['/', '?', '#']).next()?;
        let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        (!authority.contains('{') && !authority.is_empty()).then_some(authority)
    }
}

/// The variables a call can have a value for: the built-in ones, `lang`, and those an `input`
/// or `set` node stores (a branch only reads them).
fn stored_vars(flow: &Flow) -> Vec<&str> {
    let mut vars: Vec<&str> = BUILTIN_VARS.to_vec();
    vars.push("lang");
    let name = |v: &u16| flow.vars.get(usize::from(*v)).map(|name| &**name);
    for node in &flow.nodes {
        match &node.kind {
            NodeKind::Input(i) => vars.extend(name(&i.var)),
            NodeKind::Set { assign, .. } => vars.extend(assign.iter().filter_map(|(v, _)| name(v))),
            NodeKind::Fetch(f) => vars.extend(f.store.iter().filter_map(|(v, _)| name(v))),
            _ => {}
        }
    }
    vars
}

/// A placeholder nothing stores reads as empty in every call: the caller hears a gap. A form
/// that does not parse, or a plural form that does not fit the text's language (every language
/// of the flow for a text written for all), is an error at the placeholder too.
/// `{env.NAME}` is left to `no_env` and the fetch checks.
fn placeholders(flow: &Flow, stored: &[&str], texts: &[(Option<u8>, Template)], diags: &mut Vec<Diagnostic>) {
    for (lang, text) in texts {
        for (inner, span) in text.placeholders().filter(|(p, _)| !p.starts_with(ENV_PREFIX)) {
            let placeholder = match spoken::parse(inner) {
                Ok(p) => p,
                Err(why) => {
                    diags.push(Diagnostic::error(span, format!("`{{{inner}}}`: {why}")));
                    continue;
                }
            };
            let name = placeholder.name;
            if !stored.contains(&name) {
                let mut d =
                    Diagnostic::error(span, format!("`{{{name}}}` is never set: no `set` or `input` node stores it"));
                d.help = suggest(name, stored.iter().copied());
                diags.push(d);
                continue;
            }
            if let spoken::Form::Plural(forms) = &placeholder.form {
                let langs = match lang {
                    Some(l) => vec![&*flow.languages[usize::from(*l)]],
                    None => flow.languages.iter().map(|l| &**l).collect(),
                };
                if let Some(why) = langs.into_iter().find_map(|l| spoken::check_plural(l, forms).err()) {
                    diags.push(Diagnostic::error(span.clone(), format!("`{{{inner}}}`: {why}")));
                }
            }
        }
    }
}

/// `{env.NAME}` belongs in a fetch's url and headers only: the server's environment (tokens)
/// must never be spoken, sent in a body or logged.
fn no_env(texts: &[(Option<u8>, Template)], diags: &mut Vec<Diagnostic>) {
    for (_, text) in texts {
        for (name, span) in text.placeholders().filter(|(p, _)| p.starts_with(ENV_PREFIX)) {
            diags.push(
                Diagnostic::error(span, format!("`{{{name}}}` may only be used in a fetch's url and headers"))
                    .with_help("the server's environment is never spoken, sent in a body or logged"),
            );
        }
    }
}

/// Text that says nothing, in a language that has no sound file to play instead.
fn empty_texts(prompt: &Prompt, diags: &mut Vec<Diagnostic>) {
    for (lang, text) in &prompt.text.0 {
        let has_sound = match lang {
            Some(l) => prompt.play.has(*l),
            None => !prompt.play.0.is_empty(),
        };
        if text.raw.trim().is_empty() && !has_sound {
            diags.push(
                Diagnostic::warning(text.span.clone(), "the prompt is empty: the caller hears nothing")
                    .with_help("write what the caller should hear, or delete the prompt"),
            );
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
    use super::super::diagnostic::Severity;
    use super::super::parse::parse;
    use super::*;
    use crate::engine::report::tests::ESCAPES;

    const TWO_MENUS: &str = r#"
[flow]
name = "t"
start = "a"
operator = "op"

[defaults]
no_input = "Sorry, {nam}."

[nodes.a]
kind = "menu"
prompt = "Press 1."
options = { "1" = "b" }

[nodes.b]
kind = "menu"
prompt = "Press 1."
options = { "1" = "ask" }

[nodes.ask]
kind = "input"
prompt = "Your name?"
var = "name"
next = "op"

[nodes.op]
kind = "queue"
queue = "first_line"
"#;

    #[test]
    fn queues_are_checked_against_the_model_s_names() {
        let src = TWO_MENUS.replace("queue = \"first_line\"", "queue = \"frist_line\"");
        let flow = parse(&src).flow.expect("the flow parses");
        assert!(check_queues(&flow, &["frist_line"]).is_empty());
        let diags = check_queues(&flow, &["first_line", "second_line"]);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(&src[diags[0].span.clone()], "frist_line");
        assert_eq!(diags[0].message, "queue `frist_line` is not a queue of the queue model");
        assert_eq!(diags[0].help.as_deref(), Some("did you mean `first_line`?"));
    }

    #[test]
    fn an_empty_text_warns_unless_a_sound_plays_instead() {
        let empty = |prompt: &str| {
            let src = TWO_MENUS.replace("prompt = \"Your name?\"", prompt).replace("{nam}", "{name}");
            let flow = parse(&src).flow.expect("the flow parses");
            let diags = check(&flow);
            diags
                .iter()
                .filter(|d| d.message.contains("empty"))
                .map(|d| src[d.span.clone()].to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(empty("prompt = \"\""), ["\"\""]);
        assert_eq!(empty("prompt = \" \""), [" "]);
        assert!(empty("prompt = { text = \"\", play = \"name.wav\" }").is_empty());
        assert!(empty("prompt = \"\"\nplay = \"name.wav\"").is_empty());
        assert!(empty("prompt = \"Your name?\"").is_empty());
    }

    #[test]
    fn a_set_node_s_values_are_held_to_the_same_placeholders() {
        let set = "next = \"greet\"\n\n[nodes.greet]\nkind = \"set\"\nvars = { hi = \"Hi {nmae}\" }\nnext = \"op\"";
        let src = TWO_MENUS.replace("{nam}", "{name}").replace("next = \"op\"", set);
        let flow = parse(&src).flow.expect("the flow parses");
        let diags = check(&flow);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(&src[diags[0].span.clone()], "{nmae}");
        assert_eq!(diags[0].help.as_deref(), Some("did you mean `name`?"));
    }

    #[test]
    fn a_defaults_prompt_is_reported_once_for_all_menus() {
        let flow = parse(TWO_MENUS).flow.expect("the flow parses");
        let diags = check(&flow);
        assert_eq!(diags.len(), 1, "{diags:?}");
        let d = &diags[0];
        assert_eq!((d.severity, &TWO_MENUS[d.span.clone()]), (Severity::Error, "{nam}"));
        assert_eq!(d.help.as_deref(), Some("did you mean `name`?"));
    }

    #[test]
    fn a_menu_without_escape_warns_only_when_silence_reaches_no_person() {
        let flow = crate::engine::parse::parse(ESCAPES).flow.expect("parses");
        let warnings: Vec<String> =
            check(&flow).into_iter().map(|d| d.message).filter(|m| m.contains("neither an escape")).collect();
        assert_eq!(warnings, ["menu `shut` has neither an escape key nor a timeout fallback that reaches a person"]);
    }

    #[test]
    fn spoken_forms_are_checked_for_each_text_s_language() {
        let two =
            TWO_MENUS.replace("{nam}", "{name}").replace("name = \"t\"", "name = \"t\"\nlanguages = [\"ru\", \"en\"]");
        let problems = |prompt: &str| {
            let src = two.replace("prompt = \"Your name?\"", prompt);
            let flow = parse(&src).flow.expect("the flow parses");
            check(&flow).into_iter().map(|d| (src[d.span.clone()].to_owned(), d.message)).collect::<Vec<_>>()
        };
        let ru_ok = "prompt.ru = \"{name} {name:plural(one=минута, few=минуты, many=минут)}\"";
        let en_ok = "prompt.en = \"{name:digits}, {name:plural(one=minute, other=minutes)}\"";
        assert!(problems(&format!("{ru_ok}\n{en_ok}")).is_empty(), "{:?}", problems(&format!("{ru_ok}\n{en_ok}")));
        // English forms in the Russian text: Russian needs `few` and `many`.
        let wrong = "prompt.ru = \"{name:plural(one=minute, many=minutes)}\"";
        assert_eq!(
            problems(&format!("{wrong}\n{en_ok}")),
            [(
                "{name:plural(one=minute, many=minutes)}".to_owned(),
                "`{name:plural(one=minute, many=minutes)}`: `ru` numbers take one, few, many: add few (or `other` for the rest)"
                    .to_owned()
            )]
        );
        // A text for every language must suit each of them.
        assert_eq!(problems("prompt = \"{name:plural(one=a, few=b, many=c)}\"").len(), 1, "English has no `few`");
        let unknown = problems("prompt = \"{name:spelled}\"");
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].0, "{name:spelled}");
        assert!(unknown[0].1.contains("unknown form `spelled`"), "{unknown:?}");
        let unset = problems("prompt = \"{nmae:digits}\"");
        assert_eq!(
            unset,
            [("{nmae:digits}".to_owned(), "`{nmae}` is never set: no `set` or `input` node stores it".to_owned())]
        );
    }
}

#[cfg(test)]
mod fetch_tests {
    use super::super::diagnostic::{Severity, line_column};
    use super::super::parse_and_check;

    const FLOW: &str = r#"[flow]
name = "f"
start = "look"
operator = "op"
allow_hosts = ["api.example.com", "{env.SUPPORT_API_HOST}"]

[nodes.look]
kind = "fetch"
url = "https://api.example.com/r/{caller}"
headers = { Authorization = "Bearer {env.CRM_TOKEN}" }
store = { status = "/status" }
ok = "said"

[nodes.said]
kind = "hangup"
prompt = "Status {status}."

[nodes.op]
kind = "queue"
queue = "first_line"
"#;

    /// Errors of the flow with `from` replaced by `to`, as `line:column: message`.
    fn errors(from: &str, to: &str) -> Vec<String> {
        let src = FLOW.replace(from, to);
        assert_ne!(src, FLOW, "{from} is in the flow");
        let (_, diags) = parse_and_check(&src);
        diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| {
                let (line, col) = line_column(&src, d.span.start);
                format!("{line}:{col}: {}", d.message)
            })
            .collect()
    }

    #[test]
    fn a_fetch_s_templates_pointers_hosts_and_timeout_are_checked_where_written() {
        assert_eq!(parse_and_check(FLOW).1.iter().filter(|d| d.severity == Severity::Error).count(), 0);
        assert_eq!(
            errors("/r/{caller}", "/r/{ticket}"),
            ["9:34: `{ticket}` is never set: no `set` or `input` node stores it"]
        );
        assert_eq!(
            errors("https://api.example.com", "https://evil.example.net"),
            ["9:7: host `evil.example.net` is not in the flow's allow_hosts"]
        );
        assert_eq!(errors("https://api.example.com", "https://api.example.com:8443"), Vec::<String>::new());
        assert_eq!(
            errors("https://api.example.com", "ftp://api.example.com"),
            ["9:7: a fetch url must start with https:// or http://"]
        );
        assert_eq!(errors("https://api.example.com", "{env.SUPPORT_API_URL}"), Vec::<String>::new());
        assert_eq!(
            errors("\"/status\"", "\"status\""),
            ["11:20: `status` is not a JSON pointer: it must start with `/`"]
        );
        assert_eq!(
            errors("\"/status\"", "\"/a~2\""),
            ["11:20: `/a~2` is not a JSON pointer: `~` must be `~0` (for ~) or `~1` (for /)"]
        );
        assert_eq!(
            errors("ok = \"said\"", "ok = \"said\"\ntimeout = \"6s\""),
            ["13:11: a fetch timeout of 6000 ms is not from 1 ms to 5 s"]
        );
        assert_eq!(errors("ok = \"said\"", "ok = \"siad\""), ["12:6: ok `siad` is not a node of this flow"]);
        assert_eq!(
            errors("Status {status}.", "Status {env.CRM_TOKEN}."),
            ["16:18: `{env.CRM_TOKEN}` may only be used in a fetch's url and headers"]
        );
        assert_eq!(
            errors("ok = \"said\"", "ok = \"said\"\nbody = { token = \"{env.CRM_TOKEN}\" }"),
            ["13:19: `{env.CRM_TOKEN}` may only be used in a fetch's url and headers"]
        );
    }
}
