//! The Vonage Voice API dialect: NCCO documents ([`ncco`]), its webhooks ([`webhook`]) and its
//! signed requests ([`signature`]).
//!
//! A Vonage application has an answer URL (`/vonage/{flow}/answer`, GET by default) and an
//! event URL (`/vonage/{flow}/event`); every other callback is a URL we put in the NCCO
//! (`input` and `connect` `eventUrl`, `notify`), carrying the call's signed state token like
//! Twilio's. Vonage has no queue: a queue is a named conversation with hold music.

pub mod ncco;
pub mod schema;
pub mod signature;
pub mod webhook;

pub use ncco::{Extras, Ncco, render, render_apology, render_operator, render_queue_failed, render_wait};
pub use signature::{Payload, SignatureError};
pub use webhook::{Answer, CallEvent, InputResult, Status};
