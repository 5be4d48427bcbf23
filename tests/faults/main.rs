//! Faults under load (issue 16): real `switchboard serve` processes, behind nginx where the
//! fault needs two, called by callers that behave as Twilio does ([`caller`]), while
//! something goes wrong. Each test prints its figures (`--nocapture` shows them) and asserts
//! the promise: no caller is left without an answer.
//!
//! `cargo test --test faults` runs the short form (CI); `faults/run.sh --long` sets
//! `SWITCHBOARD_FAULTS=long` for the long one (more callers, longer phases, the
//! 1,000,000-call soak). The tests take turns (one lock): each measures latency and memory,
//! which a neighbour would disturb.

#[path = "../common/postgres.rs"]
mod pg;
#[path = "../common/twilio.rs"]
mod twilio;

mod caller;
mod clock;
mod dies;
mod edits;
mod hostile;
mod local;
mod procs;
mod soak;
mod storage;

use std::sync::{Mutex, MutexGuard};

/// The short form or the long one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Form {
    Short,
    Long,
}

pub fn form() -> Form {
    match std::env::var("SWITCHBOARD_FAULTS").as_deref() {
        Ok("long") => Form::Long,
        _ => Form::Short,
    }
}

/// One test at a time: the first that panicked does not stop the others.
pub fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A runtime for the callers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime")
}

#[test]
fn an_instance_killed_mid_call_strands_no_caller() {
    let _turn = turn();
    dies::run();
}

#[test]
fn hostile_clients_leave_real_calls_their_latency() {
    let _turn = turn();
    hostile::run();
}

#[test]
fn flows_and_models_edited_under_load_fail_no_request() {
    let _turn = turn();
    edits::run();
}

#[test]
fn memory_stays_flat_over_a_soak() {
    let _turn = turn();
    soak::run();
}

#[test]
fn calls_go_on_when_the_database_stops() {
    let _turn = turn();
    storage::database_gone();
}

#[test]
fn calls_go_on_when_the_disk_is_full() {
    let _turn = turn();
    storage::disk_full();
}

#[test]
fn calls_go_on_when_the_clock_steps() {
    let _turn = turn();
    clock::run();
}

/// Regression: `axum::serve` gave hyper no timer, so a connection that never finished its
/// request head was kept forever (slow-loris, idle connections: about 40 kB each). Now it is
/// closed after the header timeout (30 s by default; 300 ms here).
#[test]
fn a_connection_that_never_finishes_its_headers_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let site = procs::Site::new();
    runtime().block_on(async {
        let timeout = std::time::Duration::from_millis(300);
        let server = local::Local::start(&site, |mut state| {
            state.header_timeout = timeout;
            state
        })
        .await;
        let addr = server.url.trim_start_matches("http://").to_owned();
        let mut idle = tokio::net::TcpStream::connect(&addr).await.expect("connects");
        let mut slow = tokio::net::TcpStream::connect(&addr).await.expect("connects");
        slow.write_all(b"POST /twilio/line HTTP/1.1\r\nHost: x\r\n").await.expect("writes");
        for stream in [&mut idle, &mut slow] {
            let mut buf = [0u8; 256];
            let read = tokio::time::timeout(timeout * 10, stream.read(&mut buf)).await;
            let read = read.expect("closed within ten times the header timeout");
            let closed = read.as_ref().map_or(true, |n| *n == 0 || buf.starts_with(b"HTTP/1.1 408"));
            assert!(closed, "{read:?}");
        }
        server.stop().await;
    });
}

/// Regression: there was no cap on open connections (10,000 idle ones took the server from 28
/// to 135 MB until the header timeout). With a cap of 50, 200 idle connections opened first
/// do not keep real calls out: at the cap the connection idle longest is closed, so the
/// attacker's, opened before, go first, and no more than the cap stay open.
#[test]
fn idle_connections_beyond_the_cap_leave_room_for_real_calls() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    use tokio::io::AsyncReadExt;
    let _turn = turn();
    let site = procs::Site::new();
    let cap = 50;
    runtime().block_on(async {
        let server = local::Local::start(&site, |mut state| {
            state.max_connections = cap;
            state
        })
        .await;
        let addr = server.url.trim_start_matches("http://").to_owned();
        let mut idle = Vec::new();
        for _ in 0..4 * cap {
            idle.push(tokio::net::TcpStream::connect(&addr).await.expect("connects"));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let timer = {
            let stop = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                stop.store(true, Ordering::Relaxed);
            })
        };
        let line = caller::Line::new(&server.url);
        let tally = caller::until(&line, 4, Duration::from_millis(20), stop).await;
        let _ = timer.await;
        // A closed connection reads its end at once; one still open reads nothing.
        let mut open = 0;
        for stream in &mut idle {
            let mut byte = [0u8; 1];
            if tokio::time::timeout(Duration::from_millis(20), stream.read(&mut byte)).await.is_err() {
                open += 1;
            }
        }
        drop(idle);
        server.stop().await;
        println!(
            "faults: {} idle connections against a cap of {cap}: {}; {open} idle ones still open",
            4 * cap,
            tally.line()
        );
        assert!(tally.calls() > 0, "no call completed");
        assert_eq!((tally.stranded, tally.failed_requests, tally.person), (0, 0, 0), "{:?}", tally.why);
        assert!(open < cap, "{open} idle connections open against a cap of {cap}");
    });
}
