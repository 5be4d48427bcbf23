//! Generated hold music and call-progress tones, so no recorded (or copyrighted) audio is
//! needed for them. Pure: samples in, samples out.
//!
//! The hold music is a slow arpeggio over C – Am – F – G in the octave below 600 Hz, with a soft
//! bass: gentle on a telephone line (300–3400 Hz passes the arpeggio and the bass's overtones),
//! and kept below the DTMF row tones (697 Hz and up) so a receiver never mistakes it for a key.

use std::f32::consts::PI;

use super::ms_to_samples;

/// Length of one note of the arpeggio.
const NOTE_MS: u32 = 250;
/// Chords of the loop as semitones from middle C (C4 = 261.63 Hz): root position triads, each
/// held for eight notes of the arpeggio.
const CHORDS: [[i32; 3]; 4] = [[0, 4, 7], [-3, 0, 4], [-7, -3, 0], [-5, -1, 2]];
/// The order in which the arpeggio walks the chord's three notes (3 = the root an octave up).
const PATTERN: [usize; 8] = [0, 1, 2, 3, 2, 1, 0, 1];
/// Peak level of the mix as a fraction of full scale: about −10 dBFS, comfortable and far
/// from clipping.
const LEVEL: f32 = 0.3;
/// Fade in and out at the ends of the music, so it does not start or stop with a click.
const FADE_MS: u32 = 300;

fn hz(semitones_from_c4: i32) -> f32 {
    261.63 * 2f32.powf(semitones_from_c4 as f32 / 12.0)
}

/// A soft, slightly hollow voice: the fundamental with a little third harmonic, like a
/// rounded triangle wave.
fn voice(phase: f32) -> f32 {
    phase.sin() + (3.0 * phase).sin() / 9.0
}

/// `duration_ms` of hold music at `sample_rate`, looping every eight seconds.
pub fn hold_music(sample_rate: u32, duration_ms: u32) -> Vec<i16> {
    let count = ms_to_samples(duration_ms, sample_rate);
    let rate = sample_rate.max(1) as f32;
    let note_len = ms_to_samples(NOTE_MS, sample_rate).max(1);
    let chord_len = note_len * PATTERN.len();
    let fade = ms_to_samples(FADE_MS, sample_rate).min(count / 2).max(1);
    (0..count)
        .map(|n| {
            let t = n as f32 / rate;
            let chord = CHORDS[(n / chord_len) % CHORDS.len()];
            let step = PATTERN[(n / note_len) % PATTERN.len()];
            let note = if step == 3 { chord[0] + 12 } else { chord[step] };
            // Each note: a 10 ms attack, then an exponential decay, like a plucked string.
            let since_note = (n % note_len) as f32 / rate;
            let envelope = (since_note / 0.01).min(1.0) * (-since_note * 6.0).exp();
            let melody = 0.6 * envelope * voice(2.0 * PI * hz(note) * t);
            // The bass holds the chord's root two octaves down, swelling in over the chord.
            let since_chord = (n % chord_len) as f32 / rate;
            let swell = (since_chord / 0.2).min(1.0) * (0.6 + 0.4 * (-since_chord * 0.8).exp());
            let bass = 0.35 * swell * voice(2.0 * PI * hz(chord[0] - 24) * t);
            let edge = (n.min(count - 1 - n) as f32 / fade as f32).min(1.0);
            let v = LEVEL * edge * (melody + bass) * f32::from(i16::MAX);
            v.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
        })
        .collect()
}

/// A pure tone with 5 ms ramps at both ends (no clicks), at `amplitude` of full scale.
pub fn beep(sample_rate: u32, freq_hz: f32, duration_ms: u32, amplitude: f32) -> Vec<i16> {
    let count = ms_to_samples(duration_ms, sample_rate);
    let rate = sample_rate.max(1) as f32;
    let ramp = ms_to_samples(5, sample_rate).max(1);
    let peak = amplitude.clamp(0.0, 1.0) * f32::from(i16::MAX);
    (0..count)
        .map(|n| {
            let edge = (n.min(count - 1 - n) as f32 / ramp as f32).min(1.0);
            (peak * edge * (2.0 * PI * freq_hz * n as f32 / rate).sin()).round() as i16
        })
        .collect()
}

/// Ringback as callers in Russia and most of Europe hear it while a transfer rings: 425 Hz,
/// one second on, four seconds off (ITU-T E.180 Supplement 2), for `cycles` cycles.
pub fn ringback(sample_rate: u32, cycles: u32) -> Vec<i16> {
    let mut out = Vec::new();
    for _ in 0..cycles {
        out.extend(beep(sample_rate, 425.0, 1000, 0.25));
        out.resize(out.len() + ms_to_samples(4000, sample_rate), 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sounds::dtmf;

    #[test]
    fn hold_music_has_the_length_and_level_asked_for() {
        let music = hold_music(8000, 25_000);
        assert_eq!(music.len(), 200_000);
        let peak = music.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((4000..=32000).contains(&peak), "peak {peak}");
        // Fades in and out rather than clicking.
        assert!(music[0].unsigned_abs() < 100 && music[music.len() - 1].unsigned_abs() < 100);
        // No long gaps: every second has sound.
        for second in music.chunks(8000) {
            assert!(second.iter().any(|s| s.unsigned_abs() > 1000));
        }
        assert!(hold_music(8000, 0).is_empty());
    }

    #[test]
    fn hold_music_and_tones_are_not_dtmf() {
        for rate in [8000, 16000] {
            let found = dtmf::detect(&hold_music(rate, 30_000), rate);
            assert!(found.is_empty(), "{found:?} at {rate} Hz");
            assert!(dtmf::detect(&ringback(rate, 2), rate).is_empty());
            assert!(dtmf::detect(&beep(rate, 1000.0, 500, 0.5), rate).is_empty());
        }
    }

    #[test]
    fn beeps_ramp_and_ringback_cycles() {
        let b = beep(8000, 1000.0, 100, 0.5);
        assert_eq!(b.len(), 800);
        assert_eq!(b[0], 0);
        assert!(b.iter().map(|s| s.unsigned_abs()).max().unwrap() > 16000);
        let ring = ringback(8000, 2);
        assert_eq!(ring.len(), 80_000);
        assert!(ring[8000..40000].iter().all(|&s| s == 0));
    }
}
