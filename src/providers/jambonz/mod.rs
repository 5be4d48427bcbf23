//! The jambonz dialect: JSON verbs ([`verbs`]), its webhooks ([`webhook`]) and its signed
//! requests ([`signature`]).
//!
//! A jambonz application's calling webhook is `/jambonz/{flow}`; every other callback is an
//! `actionHook` or `waitHook` we put in the verbs, carrying the call's signed state token like
//! Twilio's. jambonz has real queues (`enqueue` with a `waitHook`), used as such.

pub mod schema;
pub mod signature;
pub mod verbs;
pub mod webhook;

pub use signature::SignatureError;
pub use verbs::{Verb, render, render_apology, render_hangup, render_operator, render_queue_failed, render_wait};
pub use webhook::{Hook, QueueOutcome};
