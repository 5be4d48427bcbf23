//! Queueing: the call-centre model (arrivals, staffing and handle times by weekday and hour)
//! and its mathematics: Erlang B, Erlang C (M/M/c) and Erlang A (M/M/c+M, exponential
//! patience), and the search for the fewest agents meeting a target.
//!
//! Everything here is pure: plain functions of their inputs, with no I/O, clocks, randomness or
//! async runtime, so results are reproducible and the module can be used from any driver.

pub mod erlang;
pub mod estimate;
pub mod fit;
pub mod model;

pub use erlang::{
    ErlangInputs, Metrics, QueueError, Target, agents_needed, erlang_a, erlang_b, erlang_c, erlang_c_metrics, metrics,
};
