//! Prompt audio with hound: reading and writing WAV files, checking them for the telephone
//! line, converting them to it, generated tones and hold music, and DTMF tones and their
//! detection. A whole scripted call rendered as audio is `script::audio`.
//!
//! Everything here except the file readers and writers (`wav`, `duration_ms`, `inspect`,
//! `convert_files`) works on samples in memory, so tests need no files.

pub mod check;
pub mod convert;
pub mod dtmf;
pub mod music;
pub mod synth;
pub mod wav;

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SoundError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("not a readable WAV file: {0}")]
    Wav(#[from] hound::Error),
    #[error("the WAV header declares a sample rate of 0")]
    ZeroRate,
    #[error("cannot resample: {0}")]
    Resample(String),
}

/// The playing time of a WAV file in milliseconds, from its header.
pub fn duration_ms(path: &Path) -> Result<u32, SoundError> {
    let file =
        std::fs::File::open(path).map_err(|source| SoundError::Io { path: path.display().to_string(), source })?;
    let reader = hound::WavReader::new(std::io::BufReader::new(file))?;
    let rate = reader.spec().sample_rate;
    if rate == 0 {
        return Err(SoundError::ZeroRate);
    }
    let frames = u64::from(reader.duration());
    Ok(u32::try_from(frames * 1000 / u64::from(rate)).unwrap_or(u32::MAX))
}

/// The length of `count` samples at `sample_rate`, in milliseconds (rounded down).
pub fn samples_to_ms(count: usize, sample_rate: u32) -> u32 {
    if sample_rate == 0 {
        return 0;
    }
    u32::try_from(count as u64 * 1000 / u64::from(sample_rate)).unwrap_or(u32::MAX)
}

/// The number of samples in `ms` milliseconds at `sample_rate`.
pub fn ms_to_samples(ms: u32, sample_rate: u32) -> usize {
    usize::try_from(u64::from(sample_rate) * u64::from(ms) / 1000).unwrap_or(usize::MAX)
}
