//! Mono 16-bit sample access to WAV files: any integer or float WAV in, mixed to mono;
//! 16-bit PCM out.

use std::path::Path;

use super::SoundError;

/// All samples of a WAV file mixed to mono 16-bit, and its sample rate.
/// Reads 8/16/24/32-bit integer and 32-bit float files; a truncated or malformed file is an error.
pub fn read_mono(path: &Path) -> Result<(Vec<i16>, u32), SoundError> {
    let (samples, spec) = read(path)?;
    Ok((samples, spec.sample_rate))
}

/// Like [`read_mono`], with the file's own format (channels, sample size, rate) alongside.
pub fn read(path: &Path) -> Result<(Vec<i16>, hound::WavSpec), SoundError> {
    let file =
        std::fs::File::open(path).map_err(|source| SoundError::Io { path: path.display().to_string(), source })?;
    decode(std::io::BufReader::new(file))
}

/// The WAV file `bytes` read as [`read`] reads a file (the fuzz target's entry).
pub fn decode(bytes: impl std::io::Read) -> Result<(Vec<i16>, hound::WavSpec), SoundError> {
    let mut reader = hound::WavReader::new(bytes)?;
    let spec = reader.spec();
    if spec.sample_rate == 0 {
        return Err(SoundError::ZeroRate);
    }
    let channels = usize::from(spec.channels.max(1));
    // Every format is brought to −1.0..1.0 first, so mixing and rescaling are uniform.
    let values: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let full_scale = 2f32.powi(i32::from(spec.bits_per_sample.clamp(1, 32)) - 1);
            reader.samples::<i32>().map(|s| s.map(|v| v as f32 / full_scale)).collect::<Result<_, _>>()?
        }
    };
    let mono = values
        .chunks(channels)
        .map(|frame| {
            let mean = frame.iter().sum::<f32>() / frame.len() as f32;
            (mean * 32768.0).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect();
    Ok((mono, spec))
}

/// Writes mono 16-bit PCM.
pub fn write_mono(path: &Path, samples: &[i16], sample_rate: u32) -> Result<(), SoundError> {
    if sample_rate == 0 {
        return Err(SoundError::ZeroRate);
    }
    let spec =
        hound::WavSpec { channels: 1, sample_rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut writer = hound::WavWriter::create(path, spec)?;
    for &s in samples {
        writer.write_sample(s)?;
    }
    writer.finalize()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_stereo_mix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        write_mono(&path, &[0, 1000, -1000, 32767], 8000).unwrap();
        assert_eq!(read_mono(&path).unwrap(), (vec![0, 1000, -1000, 32767], 8000));

        let stereo = dir.path().join("b.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16000,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&stereo, spec).unwrap();
        for s in [256 * 1000, 256 * 3000, -256 * 500, -256 * 1500] {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        assert_eq!(read_mono(&stereo).unwrap(), (vec![2000, -1000], 16000));
    }

    #[test]
    fn garbage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.wav");
        std::fs::write(&path, b"RIFF\x10\x00\x00\x00WAVEfmt ").unwrap();
        assert!(read_mono(&path).is_err());
    }
}
