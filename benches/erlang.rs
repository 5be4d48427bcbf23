//! Benchmarks for the queue mathematics: Erlang C at 100,000 agents (beside 100 agents, the
//! same formula's small case), Erlang A at 55 agents, the staffing search, and the full
//! weekday × hour table of the default model with staffing (target: under 1 ms), beside the same
//! cells without staffing and a trivial per-cell loop, all measured in the same run.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use switchboard::queue::estimate::{self, busy_factor};
use switchboard::queue::model::{self, Model};
use switchboard::queue::{ErlangInputs, Target, agents_needed, erlang_a, erlang_c_metrics, metrics};

fn formulas(c: &mut Criterion) {
    let big = ErlangInputs {
        arrivals_per_hour: 1_980_000.0,
        aht_s: 180.0,
        agents: 100_000,
        patience_s: None,
        target_s: 20.0,
    };
    c.bench_function("erlang_c_100k_agents", |b| b.iter(|| erlang_c_metrics(black_box(&big))));
    let small = ErlangInputs { arrivals_per_hour: 1_980.0, agents: 100, ..big };
    c.bench_function("baseline: erlang_c_100_agents", |b| b.iter(|| erlang_c_metrics(black_box(&small))));
    let mid =
        ErlangInputs { arrivals_per_hour: 1000.0, aht_s: 180.0, agents: 55, patience_s: Some(120.0), target_s: 20.0 };
    c.bench_function("erlang_a_55_agents", |b| b.iter(|| erlang_a(black_box(&mid))));
    let staff = ErlangInputs { agents: 1, patience_s: None, ..mid };
    c.bench_function("staffing_search", |b| b.iter(|| agents_needed(black_box(&staff), Target::ServiceLevel(0.8))));
}

fn default_model() -> Model {
    let text = include_str!("../flows/support.model.toml");
    model::parse(text).unwrap_or_else(|d| panic!("the default model parses: {d:?}"))
}

/// The cells of the table: every open slot of every queue, typical and busy day.
fn open_cells(m: &Model) -> Vec<ErlangInputs> {
    let mut cells = Vec::new();
    for q in &m.queues {
        for s in estimate::week(m, q).iter().filter(|s| s.agents > 0) {
            let Some(typical) = s.typical.map(|d| d.arrivals_per_hour) else { continue };
            for arrivals_per_hour in [typical, typical * busy_factor(q.daily_cv, m.busy_quantile)] {
                cells.push(ErlangInputs {
                    arrivals_per_hour,
                    aht_s: q.aht_s,
                    agents: s.agents,
                    patience_s: q.patience_s,
                    target_s: m.target_s,
                });
            }
        }
    }
    cells
}

fn table(c: &mut Criterion) {
    let m = default_model();
    c.bench_function("week_table_with_staffing_all_queues", |b| {
        b.iter(|| black_box(&m).queues.iter().map(|q| estimate::week(&m, q).len()).sum::<usize>())
    });
    let cells = open_cells(&m);
    c.bench_function("baseline: week_cells_metrics_only", |b| {
        b.iter(|| black_box(&cells).iter().filter_map(|cell| metrics(cell).ok()).map(|x| x.p_wait).sum::<f64>())
    });
    c.bench_function("baseline: week_cells_trivial_loop", |b| {
        b.iter(|| black_box(&cells).iter().map(|cell| cell.arrivals_per_hour * f64::from(cell.agents)).sum::<f64>())
    });
}

criterion_group!(erlang, formulas, table);
criterion_main!(erlang);
