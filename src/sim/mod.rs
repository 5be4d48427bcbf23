//! Discrete-event simulation of call load on a virtual clock, with seeded random streams so
//! that the same seed gives the same output on any machine. Statistics are streamed.

pub mod stationary;
pub mod stats;
