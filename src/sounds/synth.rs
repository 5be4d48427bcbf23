//! Speech for prompts that have no sound file, from espeak-ng when it is installed
//! (`apt-get install espeak-ng`). The same voices and settings as `sounds/make.sh`, so a
//! synthesised prompt sounds like the recorded ones around it.
//!
//! Runs a program and writes a temporary file: a driver-side helper, never used by the engine.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{convert, wav};

/// The synthesizer's command.
pub const PROGRAM: &str = "espeak-ng";
/// Words per minute: a little above espeak's default 175 wpm, the pace of a brisk IVR voice;
/// keep it in step with `sounds/make.sh`.
pub const WORDS_PER_MINUTE: u32 = 170;
/// espeak's amplitude (0-200, default 100): 60 keeps its peaks near −3 dBFS, clear of clipping.
pub const AMPLITUDE: u32 = 60;

/// The espeak-ng voice for a flow language; the caller gets a different (female) variant so
/// the two sides of a rendered call are easy to tell apart.
pub fn voice(lang: &str, caller: bool) -> String {
    let base = match lang {
        "en" => "en-us",
        other => other,
    };
    if caller { format!("{base}+f3") } else { base.to_owned() }
}

/// Whether espeak-ng can be run.
pub fn available() -> bool {
    Command::new(PROGRAM).arg("--version").output().is_ok_and(|o| o.status.success())
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("cannot run {PROGRAM}: {0}")]
    Run(#[from] std::io::Error),
    #[error("{PROGRAM} failed: {0}")]
    Failed(String),
    #[error("{PROGRAM} wrote unreadable audio: {0}")]
    Audio(#[from] super::SoundError),
}

/// `text` spoken in `lang`, as mono samples at 8 kHz.
pub fn speak(text: &str, lang: &str, caller: bool) -> Result<Vec<i16>, SynthError> {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let path: PathBuf = std::env::temp_dir().join(format!(
        "switchboard-speech-{}-{}.wav",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    ));
    let output = Command::new(PROGRAM)
        .args(["-v", &voice(lang, caller), "-s", &WORDS_PER_MINUTE.to_string(), "-a", &AMPLITUDE.to_string()])
        .arg("-w")
        .arg(&path)
        .arg("--")
        .arg(text)
        .output()?;
    let result = if output.status.success() {
        wav::read_mono(&path)
            .and_then(|(samples, rate)| convert::resample(&samples, rate, convert::TELEPHONY_RATE))
            .map_err(SynthError::from)
    } else {
        Err(SynthError::Failed(String::from_utf8_lossy(&output.stderr).trim().to_owned()))
    };
    let _ = std::fs::remove_file(&path);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voices() {
        assert_eq!(voice("ru", false), "ru");
        assert_eq!(voice("en", false), "en-us");
        assert_eq!(voice("en", true), "en-us+f3");
        assert_eq!(voice("de", false), "de");
    }
}
