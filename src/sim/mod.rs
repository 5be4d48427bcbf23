//! Discrete-event simulation of call load on a virtual clock, with seeded random streams so
//! that the same seed gives the same output on any machine. Statistics are streamed.

pub mod plot;
pub mod stationary;
pub mod stats;
pub mod week;

/// Runs `f` for replications `0..n` on all cores; results come back in replication order, so
/// the output does not depend on the number of cores.
pub fn replications<T: Send>(n: u32, f: impl Fn(u32) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |c| c.get()).min(n.max(1) as usize);
    let f = &f;
    let mut all: Vec<(u32, T)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || (0..n).filter(|r| *r as usize % threads == t).map(|r| (r, f(r))).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a replication thread does not panic")).collect()
    });
    all.sort_by_key(|(r, _)| *r);
    all.into_iter().map(|(_, t)| t).collect()
}
