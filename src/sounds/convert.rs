//! Sample-rate conversion to telephony audio: band-limited resampling with rubato's FFT
//! resampler, so content above the new Nyquist frequency is filtered out instead of folding
//! back as aliasing (which plain sample dropping would do).

use std::path::Path;

use rubato::{FftFixedInOut, Resampler};

use super::{SoundError, wav};

/// The sample rate of telephone audio (G.711 narrowband), and of every file `convert` writes.
pub const TELEPHONY_RATE: u32 = 8000;

/// Input frames per resampler chunk: large enough to keep the FFT efficient, small enough
/// that the zero padding after the last chunk costs nothing.
const CHUNK_FRAMES: usize = 1024;

/// `samples` at `from_hz` resampled to `to_hz`. The result has `len × to / from` samples
/// (rounded up) and is aligned with the input: the resampler's delay is removed.
pub fn resample(samples: &[i16], from_hz: u32, to_hz: u32) -> Result<Vec<i16>, SoundError> {
    if from_hz == 0 || to_hz == 0 {
        return Err(SoundError::ZeroRate);
    }
    if from_hz == to_hz || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let rate = |hz: u32| usize::try_from(hz).map_err(|_| SoundError::Resample(format!("{hz} Hz is too high")));
    let mut resampler = FftFixedInOut::<f32>::new(rate(from_hz)?, rate(to_hz)?, CHUNK_FRAMES, 1)
        .map_err(|e| SoundError::Resample(e.to_string()))?;
    let wanted = (samples.len() as u64 * u64::from(to_hz)).div_ceil(u64::from(from_hz));
    let wanted = usize::try_from(wanted).map_err(|_| SoundError::Resample("the file is too long".into()))?;
    let delay = resampler.output_delay();

    let scale = 1.0 / 32768.0;
    let mut input = samples.iter().map(|&s| f32::from(s) * scale);
    let mut out: Vec<f32> = Vec::with_capacity(wanted + delay + CHUNK_FRAMES);
    let mut chunk = Vec::with_capacity(resampler.input_frames_max());
    // After the input runs out, zeros flush the filter until the delayed tail is out too.
    while out.len() < wanted + delay {
        chunk.clear();
        chunk.extend(input.by_ref().take(resampler.input_frames_next()));
        chunk.resize(resampler.input_frames_next(), 0.0);
        let frames = resampler.process(&[&chunk], None).map_err(|e| SoundError::Resample(e.to_string()))?;
        out.extend_from_slice(&frames[0]);
    }
    Ok(out[delay..delay + wanted].iter().map(|&v| to_i16(v)).collect())
}

fn to_i16(v: f32) -> i16 {
    (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// Reads every input (any integer or float WAV, any rate, any number of channels), joins them
/// in order and writes the result as 8 kHz mono 16-bit PCM. Returns the output's length in
/// milliseconds.
pub fn convert_files(inputs: &[&Path], output: &Path) -> Result<u32, SoundError> {
    let mut joined = Vec::new();
    for input in inputs {
        let (samples, rate) = wav::read_mono(input)?;
        joined.extend(resample(&samples, rate, TELEPHONY_RATE)?);
    }
    wav::write_mono(output, &joined, TELEPHONY_RATE)?;
    Ok(super::samples_to_ms(joined.len(), TELEPHONY_RATE))
}

#[cfg(test)]
mod tests {
    use std::f32::consts::PI;

    use super::*;

    fn sine(hz: f32, rate: u32, samples: usize, amplitude: f32) -> Vec<i16> {
        (0..samples).map(|n| (amplitude * (2.0 * PI * hz * n as f32 / rate as f32).sin()) as i16).collect()
    }

    fn rms(samples: &[i16]) -> f32 {
        (samples.iter().map(|&s| f32::from(s).powi(2)).sum::<f32>() / samples.len().max(1) as f32).sqrt()
    }

    /// Power at `hz` relative to the whole signal, by Goertzel over the middle of the signal.
    fn share_at(samples: &[i16], rate: u32, hz: f32) -> f32 {
        let middle = &samples[samples.len() / 4..samples.len() * 3 / 4];
        let coeff = 2.0 * (2.0 * PI * hz / rate as f32).cos();
        let (mut s1, mut s2) = (0.0f32, 0.0f32);
        for &x in middle {
            let s = f32::from(x) + coeff * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let power = 2.0 * (s1 * s1 + s2 * s2 - coeff * s1 * s2) / middle.len() as f32;
        let energy: f32 = middle.iter().map(|&x| f32::from(x).powi(2)).sum();
        power / energy.max(1.0)
    }

    #[test]
    fn length_and_level_survive_resampling() {
        for from in [11025, 16000, 22050, 44100, 48000] {
            let input = sine(1000.0, from, from as usize, 10000.0);
            let output = resample(&input, from, TELEPHONY_RATE).unwrap();
            assert_eq!(output.len(), 8000, "from {from} Hz");
            let level = rms(&output[400..7600]) / rms(&input);
            assert!((level - 1.0).abs() < 0.02, "from {from} Hz: level {level}");
            assert!(share_at(&output, TELEPHONY_RATE, 1000.0) > 0.95, "from {from} Hz");
        }
    }

    #[test]
    fn content_above_the_new_nyquist_is_filtered_not_aliased() {
        // 5 kHz at 22.05 kHz would fold to 3 kHz if samples were simply dropped.
        let input = sine(5000.0, 22050, 22050, 10000.0);
        let output = resample(&input, 22050, TELEPHONY_RATE).unwrap();
        assert!(rms(&output[400..7600]) < 100.0, "rms {}", rms(&output));
    }

    #[test]
    fn upsampling_and_identity() {
        let input = sine(440.0, 8000, 800, 8000.0);
        assert_eq!(resample(&input, 8000, 8000).unwrap(), input);
        assert_eq!(resample(&input, 8000, 16000).unwrap().len(), 1600);
        assert!(resample(&[], 22050, 8000).unwrap().is_empty());
        assert!(resample(&input, 0, 8000).is_err());
    }

    #[test]
    fn convert_joins_and_writes_telephony_wav() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, out) = (dir.path().join("a.wav"), dir.path().join("b.wav"), dir.path().join("out.wav"));
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 22050,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(&a, spec).unwrap();
        for n in 0..22050 {
            let v = 0.3 * (2.0 * PI * 800.0 * n as f32 / 22050.0).sin();
            w.write_sample(v).unwrap();
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
        wav::write_mono(&b, &sine(600.0, 16000, 8000, 5000.0), 16000).unwrap();

        let ms = convert_files(&[&a, &b], &out).unwrap();
        assert_eq!(ms, 1500);
        let reader = hound::WavReader::open(&out).unwrap();
        let spec = reader.spec();
        assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (1, 8000, 16));
        assert_eq!(reader.duration(), 12000);
    }
}
