//! Whether a sound file is fit for the telephone line: its format, length, clipping and the
//! silence at its ends, as structured findings the drivers print (`switchboard check` as
//! diagnostics, `switchboard sounds check` as a table).
//!
//! [`analyse`] is pure; [`inspect`] reads the file (every sample, so a truncated file is
//! caught here rather than when a caller hears it).

use std::path::Path;

use super::{SoundError, samples_to_ms, wav};

/// Sample rates a telephone line carries without resampling: narrowband (G.711) and wideband.
pub const TELEPHONY_RATES: [u32; 2] = [8000, 16000];
/// A sample this close to full scale counts as clipped (about −0.01 dBFS).
const CLIP_LEVEL: u16 = 32_700;
/// Clipping is flat tops: this many clipped samples in a row. A lone peak at full scale is
/// loud, not distorted.
const CLIP_RUN: usize = 3;
/// Below this a sample is silence: 1 % of full scale, −40 dBFS, under the noise floor of a
/// telephone line.
const SILENCE_LEVEL: u16 = 328;
/// Dead air before a prompt makes callers think the line dropped.
pub const MAX_LEADING_SILENCE_MS: u32 = 500;
/// Silence after a prompt delays the menu's timeout and the next prompt.
pub const MAX_TRAILING_SILENCE_MS: u32 = 1000;

/// What one WAV file holds.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Inspection {
    pub sample_rate: u32,
    pub channels: u16,
    pub bits_per_sample: u16,
    pub float: bool,
    pub duration_ms: u32,
    /// Peak level in dBFS (`None` for a file of digital silence).
    pub peak_dbfs: Option<f32>,
    /// Runs of clipped samples.
    pub clipped_runs: usize,
    pub leading_silence_ms: u32,
    pub trailing_silence_ms: u32,
}

/// A problem found in a sound file.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// Not 8 or 16 kHz mono 16-bit PCM: the line would resample or reject it.
    NotTelephony {
        format: String,
    },
    /// No sound at all (empty, or all below the silence level).
    Silent,
    Clipping {
        runs: usize,
    },
    LeadingSilence {
        ms: u32,
    },
    TrailingSilence {
        ms: u32,
    },
}

impl Finding {
    /// One plain sentence, for a diagnostic or a table.
    pub fn message(&self) -> String {
        match self {
            Finding::NotTelephony { format } => {
                format!("is {format}, not telephony audio (8 or 16 kHz mono 16-bit PCM)")
            }
            Finding::Silent => "holds no sound".to_owned(),
            Finding::Clipping { runs } => format!("clips in {runs} place{}", if *runs == 1 { "" } else { "s" }),
            Finding::LeadingSilence { ms } => {
                format!("starts with {:.1} s of silence (more than {MAX_LEADING_SILENCE_MS} ms)", secs(*ms))
            }
            Finding::TrailingSilence { ms } => {
                format!("ends with {:.1} s of silence (more than {MAX_TRAILING_SILENCE_MS} ms)", secs(*ms))
            }
        }
    }

    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            Finding::NotTelephony { .. } => "convert with `switchboard sounds convert IN OUT`",
            Finding::Silent => "record the prompt again, or remove the file",
            Finding::Clipping { .. } => "record or synthesise it at a lower level (peaks around -3 dBFS)",
            Finding::LeadingSilence { .. } | Finding::TrailingSilence { .. } => {
                "trim the silence in an audio editor, or record the prompt again"
            }
        }
    }
}

fn secs(ms: u32) -> f64 {
    f64::from(ms) / 1000.0
}

impl Inspection {
    /// "8000 Hz mono 16-bit PCM", "22050 Hz stereo 32-bit float".
    pub fn format(&self) -> String {
        let channels = match self.channels {
            1 => "mono".to_owned(),
            2 => "stereo".to_owned(),
            n => format!("{n}-channel"),
        };
        let kind = if self.float { "float" } else { "PCM" };
        format!("{} Hz {channels} {}-bit {kind}", self.sample_rate, self.bits_per_sample)
    }

    pub fn is_telephony(&self) -> bool {
        TELEPHONY_RATES.contains(&self.sample_rate) && self.channels == 1 && self.bits_per_sample == 16 && !self.float
    }

    /// Every problem, in a fixed order: format, silence, clipping, leading and trailing silence.
    pub fn findings(&self) -> Vec<Finding> {
        let mut found = Vec::new();
        if !self.is_telephony() {
            found.push(Finding::NotTelephony { format: self.format() });
        }
        if self.peak_dbfs.is_none_or(|db| db < -40.0) {
            // Leading and trailing silence mean nothing in a file that is all silence.
            found.push(Finding::Silent);
            return found;
        }
        if self.clipped_runs > 0 {
            found.push(Finding::Clipping { runs: self.clipped_runs });
        }
        if self.leading_silence_ms > MAX_LEADING_SILENCE_MS {
            found.push(Finding::LeadingSilence { ms: self.leading_silence_ms });
        }
        if self.trailing_silence_ms > MAX_TRAILING_SILENCE_MS {
            found.push(Finding::TrailingSilence { ms: self.trailing_silence_ms });
        }
        found
    }
}

/// Measures mono 16-bit samples of a file whose format is `spec`.
pub fn analyse(samples: &[i16], spec: hound::WavSpec) -> Inspection {
    let rate = spec.sample_rate;
    let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    let peak_dbfs = (peak > 0).then(|| 20.0 * (f32::from(peak) / 32768.0).log10());

    let mut clipped_runs = 0;
    let mut run = 0;
    for s in samples {
        if s.unsigned_abs() >= CLIP_LEVEL {
            run += 1;
            if run == CLIP_RUN {
                clipped_runs += 1;
            }
        } else {
            run = 0;
        }
    }

    let loud = |s: &i16| s.unsigned_abs() >= SILENCE_LEVEL;
    let (leading, trailing) = match (samples.iter().position(loud), samples.iter().rposition(loud)) {
        (Some(first), Some(last)) => (first, samples.len() - 1 - last),
        _ => (samples.len(), samples.len()),
    };
    Inspection {
        sample_rate: rate,
        channels: spec.channels,
        bits_per_sample: spec.bits_per_sample,
        float: spec.sample_format == hound::SampleFormat::Float,
        duration_ms: samples_to_ms(samples.len(), rate),
        peak_dbfs,
        clipped_runs,
        leading_silence_ms: samples_to_ms(leading, rate),
        trailing_silence_ms: samples_to_ms(trailing, rate),
    }
}

/// Reads a WAV file and measures it. Missing, malformed and truncated files are errors.
pub fn inspect(path: &Path) -> Result<Inspection, SoundError> {
    let (samples, spec) = wav::read(path)?;
    Ok(analyse(&samples, spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(sample_rate: u32, channels: u16, bits_per_sample: u16, float: bool) -> hound::WavSpec {
        let sample_format = if float { hound::SampleFormat::Float } else { hound::SampleFormat::Int };
        hound::WavSpec { channels, sample_rate, bits_per_sample, sample_format }
    }

    /// `ms` of a 440 Hz tone at `amplitude`, between `lead_ms` and `trail_ms` of silence, 8 kHz.
    fn prompt(lead_ms: u32, ms: u32, trail_ms: u32, amplitude: f32) -> Vec<i16> {
        let mut out = vec![0; lead_ms as usize * 8];
        out.extend((0..ms as usize * 8).map(|n| {
            let v = amplitude * (2.0 * std::f32::consts::PI * 440.0 * n as f32 / 8000.0).sin();
            v.clamp(-32768.0, 32767.0) as i16
        }));
        out.resize(out.len() + trail_ms as usize * 8, 0);
        out
    }

    fn findings(samples: &[i16], spec: hound::WavSpec) -> Vec<Finding> {
        analyse(samples, spec).findings()
    }

    #[test]
    fn format_checks() {
        let good = prompt(100, 1000, 200, 10000.0);
        let format = |s| Finding::NotTelephony { format: String::from(s) };
        let cases = [
            (spec(8000, 1, 16, false), vec![]),
            (spec(16000, 1, 16, false), vec![]),
            (spec(22050, 1, 16, false), vec![format("22050 Hz mono 16-bit PCM")]),
            (spec(8000, 2, 16, false), vec![format("8000 Hz stereo 16-bit PCM")]),
            (spec(8000, 1, 8, false), vec![format("8000 Hz mono 8-bit PCM")]),
            (spec(44100, 1, 32, true), vec![format("44100 Hz mono 32-bit float")]),
        ];
        for (spec, expected) in cases {
            assert_eq!(findings(&good, spec), expected, "{spec:?}");
        }
        assert!(format("x").help().contains("switchboard sounds convert IN OUT"));
    }

    #[test]
    fn level_and_silence_checks() {
        let s = spec(8000, 1, 16, false);
        let cases: [(&str, Vec<i16>, Vec<Finding>); 6] = [
            ("clean", prompt(100, 1000, 900, 12000.0), vec![]),
            ("clipped", prompt(0, 1000, 0, 40000.0), vec![Finding::Clipping { runs: 880 }]),
            (
                "one loud peak",
                {
                    let mut p = prompt(0, 500, 0, 1000.0);
                    p[100] = 32767;
                    p
                },
                vec![],
            ),
            ("late start", prompt(800, 1000, 0, 10000.0), vec![Finding::LeadingSilence { ms: 800 }]),
            ("long tail", prompt(0, 1000, 1500, 10000.0), vec![Finding::TrailingSilence { ms: 1500 }]),
            ("silence", vec![0; 8000], vec![Finding::Silent]),
        ];
        for (name, samples, expected) in cases {
            assert_eq!(findings(&samples, s), expected, "{name}");
        }
        assert_eq!(findings(&[], s), vec![Finding::Silent]);
        let i = analyse(&prompt(100, 1000, 200, 16384.0), s);
        assert_eq!((i.duration_ms, i.leading_silence_ms, i.trailing_silence_ms), (1300, 100, 200));
        assert!((i.peak_dbfs.unwrap() + 6.0).abs() < 0.1, "{:?}", i.peak_dbfs);
    }

    #[test]
    fn broken_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.wav");
        wav::write_mono(&good, &prompt(0, 500, 0, 8000.0), 8000).unwrap();
        assert_eq!(inspect(&good).unwrap().duration_ms, 500);
        let bytes = std::fs::read(&good).unwrap();
        let truncated = dir.path().join("truncated.wav");
        std::fs::write(&truncated, &bytes[..bytes.len() / 2 + 1]).unwrap();
        let garbage = dir.path().join("garbage.wav");
        std::fs::write(&garbage, b"RIFF....WAVEjunk").unwrap();
        for path in [truncated, garbage, dir.path().join("missing.wav")] {
            assert!(inspect(&path).is_err(), "{}", path.display());
        }
    }
}
