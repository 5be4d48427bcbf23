//! Switchboard: an IVR flow engine with drivers around it.
//!
//! [`engine`] parses declarative flows and runs calls through them without any I/O. The
//! drivers — the command line, the Twilio webhook server ([`twilio`]), the load simulator — feed it events
//! and perform the actions it returns. [`load`] reads flows and their sounds from disk.

pub mod engine;
pub mod load;
pub mod plot;
pub mod queue;
pub mod script;
pub mod sim;
pub mod sounds;
pub mod twilio;
