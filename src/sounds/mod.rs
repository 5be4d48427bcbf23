//! Prompt audio: reading WAV files with hound.

pub mod dtmf;
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
