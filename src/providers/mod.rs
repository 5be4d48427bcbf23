//! Provider dialects beside Twilio's: each turns the engine's actions into the provider's call
//! document, its webhooks into engine events, and checks its request signatures.

pub mod jambonz;
pub mod replay;
pub mod schema;
pub mod vonage;
