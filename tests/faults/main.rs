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
