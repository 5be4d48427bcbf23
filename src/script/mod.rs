//! The scripted caller: a script of caller turns ([`caller`]), played against a flow on a
//! simulated clock into a [`Transcript`] ([`transcript`]), scenario files that state what a call
//! must do and check it ([`scenario`]), and a transcript rendered as the audio of the call
//! ([`audio`]); [`suite`] runs a scenario file's cases with their coverage. `switchboard call`,
//! `switchboard test`, `call --wav` and the studio drive it; so can any other driver.

pub mod audio;
pub mod caller;
pub mod mock;
pub mod scenario;
pub mod suite;
pub mod transcript;

pub use caller::{ScriptError, Turn, parse_script};
pub use mock::Mocks;
pub use transcript::{Entry, KEY_MS, SPEECH_CONFIDENCE, Timed, Transcript, drive, run};
