//! Benchmarks for the queue mathematics: Erlang C at 100,000 agents, Erlang A at 55 agents and
//! the staffing search.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use switchboard::queue::{Cell, Target, agents_needed, erlang_a, erlang_c_metrics};

fn benches(c: &mut Criterion) {
    let big = Cell { arrivals_per_hour: 1_980_000.0, aht_s: 180.0, agents: 100_000, patience_s: None, target_s: 20.0 };
    c.bench_function("erlang_c_100k_agents", |b| b.iter(|| erlang_c_metrics(black_box(&big))));
    let mid = Cell { arrivals_per_hour: 1000.0, aht_s: 180.0, agents: 55, patience_s: Some(120.0), target_s: 20.0 };
    c.bench_function("erlang_a_55_agents", |b| b.iter(|| erlang_a(black_box(&mid))));
    let staff = Cell { agents: 1, patience_s: None, ..mid };
    c.bench_function("staffing_search", |b| b.iter(|| agents_needed(black_box(&staff), Target::ServiceLevel(0.8))));
}

criterion_group!(erlang, benches);
criterion_main!(erlang);
