//! Queueing: the call-centre model (arrivals, staffing, handle times by weekday and hour).
//! Pure: no I/O, clocks or randomness.

pub mod model;
