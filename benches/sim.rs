//! Simulator speed on the stationary scenario of the load-simulation issue: λ = 600 calls/h,
//! exponential handle time with mean 300 s, 55 agents, exponential patience with mean 120 s.
//! Target: over 4 million calls a second on one core. The baseline in the same run is the cost
//! of only drawing the three random numbers each call needs (the floor for any simulator).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand_distr::{Distribution, Exp};
use switchboard::sim::stationary::{Scenario, Service, streams};

const CALLS: u64 = 1_000_000;

fn stationary(c: &mut Criterion) {
    let scenario = Scenario {
        arrivals_per_hour: 600.0,
        aht_s: 300.0,
        agents: 55,
        patience_s: Some(120.0),
        target_s: 20.0,
        service: Service::Exponential,
        calls: CALLS,
        warmup: 0.02,
    };
    let mut g = c.benchmark_group("stationary_1M_calls");
    g.sample_size(10);
    g.throughput(Throughput::Elements(CALLS));
    g.bench_function("baseline_random_draws", |b| {
        b.iter(|| {
            let mut rngs = streams(1, 0, 3);
            let (a, s, p) =
                (Exp::new(1.0 / 6.0).unwrap(), Exp::new(1.0 / 300.0).unwrap(), Exp::new(1.0 / 120.0).unwrap());
            let mut sum = 0.0;
            for _ in 0..CALLS {
                sum += a.sample(&mut rngs[0]) + s.sample(&mut rngs[1]) + p.sample(&mut rngs[2]);
            }
            black_box(sum)
        })
    });
    g.bench_function("simulate", |b| b.iter(|| black_box(scenario.run(1, 0).unwrap())));
    g.finish();
}

criterion_group!(benches, stationary);
criterion_main!(benches);
