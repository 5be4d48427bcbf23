//! Switchboard: an IVR flow engine with drivers around it.
//!
//! The pure core, free of I/O, clocks and ambient randomness:
//! - [`engine`]: flows (parse, check, graph, time to a person) and the call state machine;
//! - [`queue`]: the call-centre model, Erlang C/A, staffing, fitting from history;
//! - [`calendar`]: weekdays, the reference week, times as people write them;
//! - [`import`]: flows of other tools (Twilio Studio) converted to ours.
//!
//! The drivers, which feed the core events and perform the actions it returns:
//! - [`files`]: flows, models and sounds read from disk; [`fit_log`]: the call-log CSV `fit` reads; [`clock`]: a call's local time;
//!   [`confined`]: a file a request names, kept inside its folder; [`secret_eq`]: secrets
//!   compared in constant time;
//! - [`script`]: the scripted caller behind `call` and `test`, scenario files, call audio;
//! - [`sim`]: the discrete-event load simulator and its charts;
//! - [`sounds`]: WAV files, telephone-line checks, tones and DTMF detection;
//! - [`server`]: the webhook server, shared by every provider;
//! - [`providers`]: each telephony provider's dialect (Twilio, SignalWire, Telnyx, Plivo, Vonage,
//!   jambonz);
//! - [`studio`]: the designers' page in the browser;
//! - [`events`]: the durable call-event log (SQLite or PostgreSQL) and its background writer.

pub mod calendar;
pub mod clock;
pub mod confined;
pub mod engine;
pub mod events;
pub mod files;
pub mod fit_log;
pub mod import;
pub mod providers;
pub mod queue;
pub mod script;
pub mod secret_eq;
pub mod server;
pub mod sim;
pub mod sounds;
pub mod studio;
