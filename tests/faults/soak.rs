//! The soak: one `serve` instance logging to SQLite in its data folder takes call after call
//! (5,000 in the short form: a debug build on a shared 2-core machine makes about 70 a second, 1,000,000 in the long one) while its resident memory is sampled.
//! After warm-up (the first tenth of the samples) memory stays flat: the mean of the last
//! tenth of the samples is within 20% (and 8 MB) of the second tenth's.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::caller;
use crate::procs::{Serve, Site};
use crate::{Form, form};

pub fn run() {
    let calls = match form() {
        Form::Short => 5_000,
        Form::Long => 1_000_000,
    };
    let site = Site::new();
    let db = format!("sqlite://{}", site.data().join("calls.db").display());
    let mut serve = Serve::start(&site, &site.data(), None, &db);
    let line = caller::Line::new(&serve.url());
    let runtime = crate::runtime();
    let started = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (done, pid) = (done.clone(), serve.pid());
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !done.load(Ordering::Relaxed) {
                samples.push(crate::procs::rss_kb(pid));
                std::thread::sleep(Duration::from_millis(200));
            }
            samples
        })
    };
    let tally = runtime.block_on(caller::calls(&line, 64, Duration::ZERO, calls));
    done.store(true, Ordering::Relaxed);
    let samples = sampler.join().expect("the sampler");
    let took = started.elapsed();
    let log = serve.stop();
    let decile = |i: usize| {
        let n = samples.len() / 10;
        let part = &samples[i * n..(i + 1) * n];
        part.iter().sum::<u64>() as f64 / part.len().max(1) as f64 / 1024.0
    };
    let (warm, last) = (decile(1), decile(9));
    println!(
        "faults: soak of {calls} calls in {:.0} s: {}; RSS MB by decile of {} samples: first {:.1}, second {warm:.1}, last {last:.1}, peak {:.1}",
        took.as_secs_f64(),
        tally.line(),
        samples.len(),
        decile(0),
        samples.iter().max().copied().unwrap_or(0) as f64 / 1024.0,
    );
    let closed = log.lines().find(|l| l.contains("event log closed")).unwrap_or("no `event log closed` line");
    println!("faults: soak event log: {closed}");
    assert_eq!((tally.calls(), tally.stranded, tally.failed_requests), (calls, 0, 0), "{:?}", tally.why);
    assert!(samples.len() >= 20, "too few samples: {}", samples.len());
    assert!(last <= warm * 1.2 + 8.0, "memory grew after warm-up: {warm:.1} MB → {last:.1} MB");
}
