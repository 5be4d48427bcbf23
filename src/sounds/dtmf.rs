//! DTMF (touch-tone) generation and detection.
//!
//! Frequencies follow ITU-T Q.23: a key is one "row" tone (697, 770, 852, 941 Hz) plus one
//! "column" tone (1209, 1336, 1477, 1633 Hz), sent at equal level.
//!
//! The detector runs Goertzel filters over short, half-overlapping blocks (102 samples at
//! 8 kHz ≈ 12.75 ms, scaled with the sample rate) and accepts a block only when all of these
//! hold — the limits are the typical receiver values from ITU-T Q.24:
//!
//! - the strongest row tone and the strongest column tone together hold at least
//!   [`MIN_TONE_SHARE`] of the block's energy, which rejects speech, music and noise;
//! - twist: the column tone may be at most 8 dB below the row tone ("normal twist") and the row
//!   tone at most 4 dB below the column tone ("reverse twist");
//! - each tone is at least 6 dB above every other tone of its group;
//! - the column tone has no strong second harmonic (real DTMF is nearly pure; voiced speech and
//!   music are rich in harmonics);
//! - the signal is above a floor of about −45 dBFS per tone.
//!
//! Debouncing: a key starts after it holds for [`MIN_ON_BLOCKS`] consecutive blocks (about 32 ms,
//! so tones of 40 ms or more are always accepted and tones under ~27 ms never are), and ends after
//! [`MIN_OFF_BLOCKS`] blocks without it, so the same key twice needs a pause between them.

use std::f32::consts::PI;

/// Row (low group) frequencies, ITU-T Q.23.
pub const ROW_HZ: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// Column (high group) frequencies, ITU-T Q.23.
pub const COLUMN_HZ: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// The keypad, `KEYS[row][column]`.
const KEYS: [[char; 4]; 4] = [['1', '2', '3', 'A'], ['4', '5', '6', 'B'], ['7', '8', '9', 'C'], ['*', '0', '#', 'D']];

/// Share of the block's energy the two DTMF tones must hold.
pub const MIN_TONE_SHARE: f32 = 0.8;
/// Column tone may be this far below the row tone (Q.24 normal twist).
pub const MAX_NORMAL_TWIST_DB: f32 = 8.0;
/// Row tone may be this far below the column tone (Q.24 reverse twist).
pub const MAX_REVERSE_TWIST_DB: f32 = 4.0;
/// Each tone must be this far above the other tones of its group.
pub const MIN_GROUP_MARGIN_DB: f32 = 6.0;
/// A tone's second harmonic must be at least this far below it.
pub const MIN_HARMONIC_MARGIN_DB: f32 = 10.0;
/// Per-tone amplitude floor, as a fraction of full scale (about −45 dBFS).
const MIN_TONE_AMPLITUDE: f32 = 0.0056;
/// Consecutive accepted blocks before a key counts.
pub const MIN_ON_BLOCKS: usize = 4;
/// Consecutive blocks without the key before it ends.
pub const MIN_OFF_BLOCKS: usize = 3;
/// Block length in seconds: 102 samples at 8 kHz, long enough to separate 697 and 770 Hz.
const BLOCK_SECONDS: f64 = 102.0 / 8000.0;

/// A key found by [`detect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Detected {
    pub key: char,
    pub start_ms: u32,
    pub duration_ms: u32,
}

/// The (row, column) frequencies of a key, or `None` if it is not on the keypad.
pub fn frequencies(key: char) -> Option<(f32, f32)> {
    let key = key.to_ascii_uppercase();
    KEYS.iter().enumerate().find_map(|(r, row)| row.iter().position(|&k| k == key).map(|c| (ROW_HZ[r], COLUMN_HZ[c])))
}

/// The samples of one key: both tones at equal level, their sum peaking at `amplitude`
/// (a fraction of full scale, clamped to 0..=1 so the sum never clips).
pub fn tone(key: char, sample_rate: u32, duration_ms: u32, amplitude: f32) -> Option<Vec<i16>> {
    let (row_hz, column_hz) = frequencies(key)?;
    if sample_rate == 0 || column_hz * 2.0 >= sample_rate as f32 {
        return None;
    }
    let each = amplitude.clamp(0.0, 1.0) / 2.0 * f32::from(i16::MAX);
    let count = samples_for_ms(sample_rate, duration_ms);
    let rate = sample_rate as f32;
    Some(
        (0..count)
            .map(|n| {
                let t = n as f32 / rate;
                let v = each * ((2.0 * PI * row_hz * t).sin() + (2.0 * PI * column_hz * t).sin());
                v.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
            })
            .collect(),
    )
}

/// Keys as audio: each `tone_ms` long at half full scale, followed by `gap_ms` of silence.
/// Characters that are not keys are skipped.
pub fn render_keys(keys: &str, sample_rate: u32, tone_ms: u32, gap_ms: u32) -> Vec<i16> {
    let gap = samples_for_ms(sample_rate, gap_ms);
    let mut out = Vec::new();
    for key in keys.chars() {
        if let Some(samples) = tone(key, sample_rate, tone_ms, 0.5) {
            out.extend(samples);
            out.resize(out.len() + gap, 0);
        }
    }
    out
}

fn samples_for_ms(sample_rate: u32, ms: u32) -> usize {
    usize::try_from(u64::from(sample_rate) * u64::from(ms) / 1000).unwrap_or(usize::MAX)
}

/// Goertzel power of `freq_hz` in `block`, normalised so a full-block sinusoid of amplitude A
/// gives about A²/2 × len — the same scale as the block's energy Σx².
fn goertzel(block: &[f32], freq_hz: f32, sample_rate: f32) -> f32 {
    let coeff = 2.0 * (2.0 * PI * freq_hz / sample_rate).cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in block {
        let s = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power / block.len() as f32
}

fn db_ratio(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

/// The strongest of four powers, its index, and whether it beats the others by the group margin.
fn strongest(powers: &[f32; 4]) -> (usize, bool) {
    let (best, &peak) = powers.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap_or((0, &0.0));
    let margin = db_ratio(MIN_GROUP_MARGIN_DB);
    let clear = powers.iter().enumerate().all(|(i, &p)| i == best || p * margin <= peak);
    (best, clear)
}

/// The key one block holds, if it passes every check in the module docs.
fn classify(block: &[f32], sample_rate: f32) -> Option<char> {
    let energy: f32 = block.iter().map(|x| x * x).sum();
    let floor = MIN_TONE_AMPLITUDE * MIN_TONE_AMPLITUDE / 2.0 * block.len() as f32;
    if energy < 2.0 * floor {
        return None;
    }
    let rows = ROW_HZ.map(|f| goertzel(block, f, sample_rate));
    let columns = COLUMN_HZ.map(|f| goertzel(block, f, sample_rate));
    let (r, row_clear) = strongest(&rows);
    let (c, column_clear) = strongest(&columns);
    let (row_power, column_power) = (rows[r], columns[c]);
    if !row_clear || !column_clear || row_power < floor || column_power < floor {
        return None;
    }
    if row_power + column_power < MIN_TONE_SHARE * energy {
        return None;
    }
    if column_power * db_ratio(MAX_NORMAL_TWIST_DB) < row_power
        || row_power * db_ratio(MAX_REVERSE_TWIST_DB) < column_power
    {
        return None;
    }
    // Only the column tone's second harmonic is checked: a row tone's harmonic (1394–1882 Hz)
    // lies within one Goertzel bin (~78 Hz) of a column tone, whose leakage would reject real
    // keys. Above Nyquist the harmonic cannot be measured; the energy share check still applies.
    let second_hz = 2.0 * COLUMN_HZ[c];
    if second_hz < sample_rate / 2.0
        && goertzel(block, second_hz, sample_rate) * db_ratio(MIN_HARMONIC_MARGIN_DB) > column_power
    {
        return None;
    }
    Some(KEYS[r][c])
}

/// Keys in mono 16-bit audio, in order, with their start and length in milliseconds.
/// Sample rates from 8 kHz up work; the block length scales with the rate.
pub fn detect(samples: &[i16], sample_rate: u32) -> Vec<Detected> {
    let rate = sample_rate as f32;
    let block_len = (f64::from(sample_rate) * BLOCK_SECONDS).round() as usize;
    if block_len < 8 || COLUMN_HZ[3] * 2.0 >= rate {
        return Vec::new();
    }
    // Half-overlapping blocks give finer timing without shortening the block (which would blur
    // the 73 Hz spacing between neighbouring row tones).
    let hop = block_len / 2;
    let scale = 1.0 / f32::from(i16::MAX);
    let to_ms = |sample: usize| u32::try_from(sample as u64 * 1000 / u64::from(sample_rate)).unwrap_or(u32::MAX);

    let mut found = Vec::new();
    let mut block = vec![0.0f32; block_len];
    // The run of identical block results that is building up, and the key currently held.
    let mut run: Option<(char, usize, usize)> = None; // key, first block, length
    let mut active: Option<(char, usize, usize)> = None; // key, first block, last block
    let mut misses = 0usize;
    let blocks = if samples.len() < block_len { 0 } else { (samples.len() - block_len) / hop + 1 };
    let finish = |active: (char, usize, usize), found: &mut Vec<Detected>| {
        let (key, first, last) = active;
        let start = first * hop;
        let end = last * hop + block_len;
        found.push(Detected { key, start_ms: to_ms(start), duration_ms: to_ms(end) - to_ms(start) });
    };
    for i in 0..blocks {
        let start = i * hop;
        for (dst, &src) in block.iter_mut().zip(&samples[start..start + block_len]) {
            *dst = f32::from(src) * scale;
        }
        let key = classify(&block, rate);

        run = match (key, run) {
            (Some(k), Some((rk, first, len))) if rk == k => Some((k, first, len + 1)),
            (Some(k), _) => Some((k, i, 1)),
            (None, _) => None,
        };
        match active {
            Some((ak, first, _)) if key == Some(ak) => {
                active = Some((ak, first, i));
                misses = 0;
            }
            Some(held) => {
                misses += 1;
                if misses >= MIN_OFF_BLOCKS {
                    finish(held, &mut found);
                    active = None;
                }
            }
            None => {}
        }
        if let (None, Some((k, first, len))) = (active, run) {
            if len >= MIN_ON_BLOCKS {
                active = Some((k, first, i));
                misses = 0;
            }
        }
    }
    if let Some(held) = active {
        finish(held, &mut found);
    }
    found
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;

    fn keys_of(found: &[Detected]) -> String {
        found.iter().map(|d| d.key).collect()
    }

    const ALL: &str = "0123456789*#ABCD";

    #[test]
    fn every_key_round_trips_at_8_and_16_khz() {
        for rate in [8000, 16000] {
            for key in ALL.chars() {
                let samples = tone(key, rate, 100, 0.5).unwrap();
                let found = detect(&samples, rate);
                assert_eq!(keys_of(&found), key.to_string(), "{key} at {rate} Hz");
            }
        }
    }

    #[test]
    fn sequence_decodes_with_timestamps() {
        for rate in [8000, 16000] {
            let samples = render_keys(ALL, rate, 100, 100);
            let found = detect(&samples, rate);
            assert_eq!(keys_of(&found), ALL, "at {rate} Hz");
            for (i, d) in found.iter().enumerate() {
                let expected_start = i as i64 * 200;
                assert!((i64::from(d.start_ms) - expected_start).abs() <= 15, "{d:?} at {rate} Hz");
                assert!((i64::from(d.duration_ms) - 100).abs() <= 15, "{d:?} at {rate} Hz");
            }
        }
    }

    #[test]
    fn repeated_key_needs_a_gap() {
        let samples = render_keys("55", 8000, 60, 50);
        assert_eq!(keys_of(&detect(&samples, 8000)), "55");
        // Back to back with no pause it is one long press.
        let samples = render_keys("55", 8000, 60, 0);
        assert_eq!(keys_of(&detect(&samples, 8000)), "5");
    }

    #[test]
    fn sequence_survives_white_noise_at_20_db_snr() {
        for rate in [8000, 16000] {
            let clean = render_keys(ALL, rate, 100, 100);
            // Signal power measured over the tones only; noise at 1/100 of it.
            let tone_samples = tone('5', rate, 100, 0.5).unwrap();
            let signal_power: f32 =
                tone_samples.iter().map(|&x| f32::from(x).powi(2)).sum::<f32>() / tone_samples.len() as f32;
            // Uniform noise on [-a, a] has power a²/3.
            let noise_amplitude = (signal_power / 100.0 * 3.0).sqrt();
            let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(0x9E37_79B9_7F4A_7C15);
            let noisy: Vec<i16> = clean
                .iter()
                .map(|&x| {
                    (f32::from(x) + noise_amplitude * rng.random_range(-1.0f32..1.0)).round().clamp(-32768.0, 32767.0)
                        as i16
                })
                .collect();
            let found = detect(&noisy, rate);
            assert_eq!(keys_of(&found), ALL, "at {rate} Hz");
        }
    }

    /// A vowel-like sound: harmonics of a gliding 120–150 Hz fundamental shaped by formants
    /// near 700, 1220 and 2600 Hz (an "a").
    fn vowel(rate: u32, seconds: f32) -> Vec<i16> {
        let count = (rate as f32 * seconds) as usize;
        let formants = [(700.0f32, 130.0f32), (1220.0, 70.0), (2600.0, 160.0)];
        let mut phase = 0.0f32;
        let mut harmonic_phases = [0.0f32; 40];
        let mut out = Vec::with_capacity(count);
        for n in 0..count {
            let t = n as f32 / rate as f32;
            let f0 = 120.0 + 30.0 * (t / seconds);
            phase += 2.0 * PI * f0 / rate as f32;
            let mut v = 0.0;
            for (h, hp) in harmonic_phases.iter_mut().enumerate() {
                let hz = f0 * (h + 1) as f32;
                if hz * 2.0 >= rate as f32 {
                    break;
                }
                *hp = phase * (h + 1) as f32;
                let gain: f32 = formants.iter().map(|&(fc, bw)| 1.0 / (1.0 + ((hz - fc) / bw).powi(2))).sum();
                v += gain * hp.sin();
            }
            out.push((v * 3000.0).clamp(-32768.0, 32767.0) as i16);
        }
        out
    }

    #[test]
    fn speech_like_audio_gives_no_keys() {
        for rate in [8000, 16000] {
            let found = detect(&vowel(rate, 2.0), rate);
            assert!(found.is_empty(), "{found:?} at {rate} Hz");
        }
    }

    fn two_tones(rate: u32, row_hz: f32, row_amp: f32, column_hz: f32, column_amp: f32) -> Vec<i16> {
        (0..rate as usize / 5)
            .map(|n| {
                let t = n as f32 / rate as f32;
                (row_amp * (2.0 * PI * row_hz * t).sin() + column_amp * (2.0 * PI * column_hz * t).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn single_tone_gives_no_key() {
        for rate in [8000, 16000] {
            assert!(detect(&two_tones(rate, 697.0, 10000.0, 1209.0, 0.0), rate).is_empty());
        }
    }

    #[test]
    fn twist_limits() {
        // 12 dB is a factor of about 3.98 in amplitude.
        for rate in [8000, 16000] {
            assert!(detect(&two_tones(rate, 770.0, 12000.0, 1336.0, 3000.0), rate).is_empty());
            assert!(detect(&two_tones(rate, 770.0, 3000.0, 1336.0, 12000.0), rate).is_empty());
            // Within limits: 6 dB normal twist and 3 dB reverse twist are accepted.
            assert_eq!(keys_of(&detect(&two_tones(rate, 770.0, 8000.0, 1336.0, 4000.0), rate)), "5");
            assert_eq!(keys_of(&detect(&two_tones(rate, 770.0, 5600.0, 1336.0, 8000.0), rate)), "5");
        }
    }

    #[test]
    fn short_tones_give_no_key() {
        for rate in [8000, 16000] {
            for ms in [15, 20, 25] {
                let found = detect(&render_keys("5", rate, ms, 100), rate);
                assert!(found.is_empty(), "{ms} ms at {rate} Hz: {found:?}");
            }
            // 40 ms is the shortest tone Q.24 receivers must accept.
            assert_eq!(keys_of(&detect(&render_keys("5", rate, 40, 100), rate)), "5");
        }
    }

    #[test]
    fn unknown_keys_and_silence() {
        assert!(tone('x', 8000, 100, 0.5).is_none());
        assert!(detect(&[0; 8000], 8000).is_empty());
        assert!(detect(&[], 8000).is_empty());
    }
}
