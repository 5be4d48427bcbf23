//! The clock steps under load: the server's clock (its `Clock` seam, in this process) jumps an
//! hour forward and back to true, ten minutes back and forward again, an hour back and forward
//! again, twice a second, while callers call. A token sealed before a step back looks issued
//! in the server's future; it opens while that lies within the token lifetime (4 h), so no
//! call goes to the operator, none is left without an answer, and no request fails.
//! (Before: tokens more than 5 minutes ahead were refused and those callers went to the
//! operator, 35 of 506 in one run.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
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
    let steps = Arc::new(AtomicU32::new(0));
    let tally = runtime.block_on(async {
        let offset = offset_s.clone();
        let clock = move || Utc::now() + chrono::Duration::seconds(offset.load(Ordering::Relaxed));
        let server = Local::start(&site, |state| state.with_clock(Arc::new(clock))).await;
        let stepper = {
            let (offset, stop, steps) = (offset_s.clone(), stop.clone(), steps.clone());
            tokio::spawn(async move {
                for step in [3600, 0, -600, 0, -3600, 0].into_iter().cycle() {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    offset.store(step, Ordering::Relaxed);
                    steps.fetch_add(1, Ordering::Relaxed);
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
    let steps = steps.load(Ordering::Relaxed);
    println!("faults: clock stepped +1 h, −10 min, −1 h and back, twice a second ({steps} steps): {}", tally.line());
    assert!(steps >= 4, "{steps} steps: the test did not step the clock back 10 min and forward again");
    assert_eq!((tally.stranded, tally.failed_requests, tally.person), (0, 0, 0), "{:?}", tally.why);
}
