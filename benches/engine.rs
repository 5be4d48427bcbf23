//! Engine speed: parsing and checking a generated 10,000-node flow (target under 50 ms), and
//! engine steps per second through the support flow (target over a million on one core).
//!
//! Baselines measured in the same run, for ratios on a noisy machine: parsing the same text as
//! a plain `toml::Table` (what any TOML reader pays), and serialising the call state to JSON
//! (what the webhook server pays per step anyway).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use switchboard::calendar::parse_at;
use switchboard::engine::{self, Call, Event, Output, Start};
use switchboard::files;

/// A flow of `n` nodes: a tree of menus nine options wide, each menu after a `say`, with the
/// leaves queueing.
fn generated_flow(n: usize) -> String {
    let mut s = String::from(
        "[flow]\nname = \"big\"\nlanguages = [\"ru\", \"en\"]\nstart = \"m0\"\noperator = \"op\"\n\n[nodes.op]\nkind = \"queue\"\nqueue = \"first_line\"\nprompt = { ru = \"Ждите.\", en = \"Please hold.\" }\n",
    );
    let menus = (n - 1) / 2;
    for i in 0..menus {
        let options: Vec<String> = (1..=9)
            .map(|k| {
                let child = 9 * i + k;
                let target = if child < menus { format!("s{child}") } else { "op".to_owned() };
                format!("\"{k}\" = \"{target}\"")
            })
            .collect();
        s.push_str(&format!(
            "\n[nodes.m{i}]\nkind = \"menu\"\nprompt = {{ ru = \"Меню {i}: нажмите от 1 до 9.\", en = \"Menu {i}: press 1 to 9.\" }}\noptions = {{ {} }}\nphrases = {{ op = [\"оператор {i}\"] }}\n",
            options.join(", ")
        ));
        s.push_str(&format!(
            "\n[nodes.s{i}]\nkind = \"say\"\nprompt = {{ ru = \"Раздел {i}.\", en = \"Section {i}.\" }}\nnext = \"m{i}\"\n"
        ));
    }
    s
}

fn parse_and_check(c: &mut Criterion) {
    let text = generated_flow(10_000);
    let (flow, diags) = engine::parse_and_check(&text);
    let flow = flow.unwrap_or_else(|| panic!("the generated flow is valid: {:?}", &diags[..diags.len().min(3)]));
    assert!(flow.nodes.len() >= 9_999, "{} nodes", flow.nodes.len());
    let mut g = c.benchmark_group("flow_10k_nodes");
    g.sample_size(20);
    g.bench_function("baseline_toml_table", |b| b.iter(|| black_box(text.parse::<toml::Table>().unwrap())));
    g.bench_function("parse_and_check", |b| b.iter(|| black_box(engine::parse_and_check(black_box(&text)))));
    g.finish();
}

fn steps(c: &mut Criterion) {
    let loaded = files::read_flow(Path::new("flows/support.toml"), Path::new("sounds")).unwrap();
    let flow = loaded.flow.unwrap();
    let now = parse_at("wed 11:00").unwrap();
    // One call: choose Russian, silence twice in the main menu, technical help, not solved.
    let events = [Event::Digits("1"), Event::NoInput, Event::NoInput, Event::Digits("2"), Event::Digits("2")];
    let steps_per_call = events.len() as u64 + 1;
    let mut g = c.benchmark_group("support_call");
    g.throughput(Throughput::Elements(steps_per_call));
    let mut out = Output::default();
    g.bench_function("baseline_state_to_json", |b| {
        let (call, _) = Call::start(&flow, &Start::default(), now);
        b.iter(|| {
            for _ in 0..steps_per_call {
                black_box(serde_json::to_string(black_box(&call)).unwrap());
            }
        })
    });
    g.bench_function("engine_steps", |b| {
        b.iter(|| {
            let mut call = Call::start_into(&flow, &Start::default(), now, &mut out);
            for e in &events {
                call.handle_into(&flow, *e, now, &mut out);
            }
            black_box(call)
        })
    });
    g.finish();
}

criterion_group!(benches, parse_and_check, steps);
criterion_main!(benches);
