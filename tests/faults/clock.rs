//! The clock steps under load: the server's clock (its `Clock` seam, in this process) jumps an
//! hour forward, back to true, an hour back and forward again, twice a second, while callers
//! call. A token from the server's "future" (more than `token::CLOCK_SKEW` ahead) does not
//! open, so a caller whose call crosses a step back goes to the operator: calls go on, none
//! is left without an answer, and no request fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use crate::caller;
use crate::local::Local;
use crate::procs::Site;
use crate::{Form, form};
use chrono::Utc;

pub fn run() {
    let phase = match form() {
        Form::Short => Duration::from_secs(4),
        Form::Long => Duration::from_secs(60),
    };
    let site = Site::new();
    let offset_s = Arc::new(AtomicI64::new(0));
    let runtime = crate::runtime();
    let stop = Arc::new(AtomicBool::new(false));
    let tally = runtime.block_on(async {
        let offset = offset_s.clone();
        let clock = move || Utc::now() + chrono::Duration::seconds(offset.load(Ordering::Relaxed));
        let server = Local::start(&site, |state| state.with_clock(Arc::new(clock))).await;
        let stepper = {
            let (offset, stop) = (offset_s.clone(), stop.clone());
            tokio::spawn(async move {
                for step in [3600, 0, -3600, 0].into_iter().cycle() {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    offset.store(step, Ordering::Relaxed);
                }
            })
        };
        let timer = {
            let stop = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(phase).await;
                stop.store(true, Ordering::Relaxed);
            })
        };
        let line = caller::Line::new(&server.url);
        let tally = caller::until(&line, 32, Duration::from_millis(50), stop).await;
        let _ = (timer.await, stepper.await);
        server.stop().await;
        tally
    });
    println!("faults: clock stepped ±1 h twice a second: {}", tally.line());
    assert_eq!((tally.stranded, tally.failed_requests), (0, 0), "{:?}", tally.why);
    assert!(tally.person > 0, "no call crossed a step back: the test did not step the clock");
}
