//! A scripted call as one stream of audio on the transcript's clock: what the caller hears
//! and what the caller's phone sends, mixed, at 8 kHz.
//!
//! Pure: the driver loads (or synthesises) the audio of every prompt first and hands it in as
//! [`Clip`]s; nothing here reads a file or runs a program. Each transcript entry becomes sound
//! at its `at_ms`:
//!
//! - a prompt or caller speech: its clip, or silence of its slot when there is none (with a
//!   note). A clip longer than its slot is cut where the next sound starts, as a caller's key
//!   cuts a prompt off (barge-in), so the transcript's timing and the keys stay exact;
//! - key presses: DTMF tone pairs (ITU-T Q.23), [`TONE_MS`] of tone and as much gap each, the
//!   [`KEY_MS`] the script's clock gives a key;
//! - waiting for input, pauses: silence;
//! - queued: generated hold music; transferred: ringback; voicemail: a beep, then the silence
//!   of a caller thinking what to say.

use std::collections::HashMap;

use crate::engine::Millis;
use crate::script::{Entry, KEY_MS, Transcript};
use crate::sounds::{dtmf, ms_to_samples, music};

/// Rendered calls are telephone audio.
pub const RATE: u32 = crate::sounds::convert::TELEPHONY_RATE;
/// DTMF tone length per key; the rest of [`KEY_MS`] is the gap. 100 ms is well above the
/// 40 ms a Q.24 receiver must accept.
pub const TONE_MS: u32 = KEY_MS / 2;
/// Level of each key's tone pair, as a fraction of full scale (about −6 dBFS, like
/// `dtmf::render_keys`).
const KEY_AMPLITUDE: f32 = 0.5;
/// How long the hold music of a queued call plays by default.
pub const DEFAULT_HOLD_MS: u32 = 25_000;
/// After the voicemail beep, the caller is heard thinking for this long.
const VOICEMAIL_TAIL_MS: u32 = 3000;
/// A prompt cut off by the next sound fades out over this long instead of clicking.
const CUT_FADE_MS: u32 = 10;

/// The audio a transcript entry needs from the driver.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Clip {
    /// A file from `sounds/`.
    File(String),
    /// Text to synthesise in `lang`; `caller` for the caller's own speech.
    Text { text: String, lang: String, caller: bool },
}

impl Clip {
    /// The clip an entry plays, if it plays one.
    pub fn of(entry: &Entry) -> Option<Clip> {
        match entry {
            Entry::Prompt { file: Some(file), .. } => Some(Clip::File(file.clone())),
            Entry::Prompt { text: Some(text), lang, .. } => {
                Some(Clip::Text { text: text.clone(), lang: lang.clone(), caller: false })
            }
            Entry::Speech { text } => {
                // The transcript does not say which language the caller speaks; the script does.
                let lang = if text.chars().any(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё')) {
                    "ru"
                } else {
                    "en"
                };
                Some(Clip::Text { text: text.clone(), lang: lang.to_owned(), caller: true })
            }
            _ => None,
        }
    }
}

/// A rendered call.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    /// Mono 16-bit samples at [`RATE`].
    pub samples: Vec<i16>,
    /// What could not be rendered as written, for the user.
    pub notes: Vec<String>,
}

struct Segment {
    start: usize,
    samples: Vec<i16>,
    /// Whether a later sound may cut it short.
    cut: bool,
    label: Option<String>,
}

/// Renders `transcript` with the audio in `clips` (mono, at [`RATE`]); a queued call ends with
/// `hold_ms` of hold music.
pub fn render(transcript: &Transcript, clips: &HashMap<Clip, Vec<i16>>, hold_ms: u32) -> Rendered {
    // A rendered call is minutes long; a clock past u32 milliseconds could not be held anyway.
    let at = |ms: Millis| ms_to_samples(u32::try_from(ms.0).unwrap_or(u32::MAX), RATE);
    let mut notes = Vec::new();
    let mut segments: Vec<Segment> = Vec::new();
    for timed in &transcript.entries {
        let start = at(timed.at_ms);
        match &timed.entry {
            entry @ (Entry::Prompt { .. } | Entry::Speech { .. }) => {
                let Some(clip) = Clip::of(entry) else { continue };
                let label = match &clip {
                    Clip::File(file) => file.clone(),
                    Clip::Text { text, .. } => format!("«{text}»"),
                };
                match clips.get(&clip) {
                    Some(samples) => {
                        segments.push(Segment { start, samples: samples.clone(), cut: true, label: Some(label) })
                    }
                    None => notes.push(format!("{label}: no audio, rendered as silence")),
                }
            }
            Entry::Keys { keys } => {
                for (i, key) in keys.chars().enumerate() {
                    let Some(tone) = dtmf::tone(key, RATE, TONE_MS, KEY_AMPLITUDE) else { continue };
                    let offset = at(Millis::from(KEY_MS) * i as u64);
                    segments.push(Segment { start: start + offset, samples: tone, cut: false, label: None });
                }
            }
            Entry::Enqueue { .. } => {
                let samples = music::hold_music(RATE, hold_ms);
                segments.push(Segment { start, samples, cut: false, label: None });
            }
            Entry::Dial { .. } => {
                segments.push(Segment { start, samples: music::ringback(RATE, 2), cut: false, label: None });
            }
            Entry::Record { .. } => {
                let mut samples = music::beep(RATE, 1000.0, 500, 0.4);
                samples.resize(samples.len() + at(VOICEMAIL_TAIL_MS.into()), 0);
                segments.push(Segment { start, samples, cut: false, label: None });
            }
            Entry::Node { .. }
            | Entry::Pause { .. }
            | Entry::Gather { .. }
            | Entry::Silence { .. }
            | Entry::Note { .. }
            | Entry::Fetch { .. }
            | Entry::Callback { .. }
            | Entry::Hangup { .. } => {}
        }
    }

    // Barge-in: a clip ends where the next sound that starts after it begins.
    let starts: Vec<usize> = segments.iter().map(|s| s.start).collect();
    for (i, segment) in segments.iter_mut().enumerate() {
        if !segment.cut {
            continue;
        }
        let Some(&next) = starts[i + 1..].iter().find(|&&s| s > segment.start) else { continue };
        let room = next - segment.start;
        if segment.samples.len() > room {
            let over_ms = crate::sounds::samples_to_ms(segment.samples.len() - room, RATE);
            // The transcript's clock counts whole milliseconds, so a few samples over is rounding.
            if let Some(label) = segment.label.as_ref().filter(|_| over_ms >= 50) {
                notes.push(format!(
                    "{label} runs {:.1} s past its slot: cut at the next sound",
                    f64::from(over_ms) / 1000.0
                ));
            }
            segment.samples.truncate(room);
            let fade = at(CUT_FADE_MS.into()).min(room);
            for (k, s) in segment.samples[room - fade..].iter_mut().enumerate() {
                *s = (f32::from(*s) * (fade - 1 - k) as f32 / fade as f32) as i16;
            }
        }
    }

    let clock_end = at(Millis((transcript.duration_s * 1000.0).round() as u64));
    let end = segments.iter().map(|s| s.start + s.samples.len()).fold(clock_end, usize::max);
    let mut mix = vec![0i32; end];
    for segment in &segments {
        for (dst, &s) in mix[segment.start..].iter_mut().zip(&segment.samples) {
            *dst += i32::from(s);
        }
    }
    let samples = mix.into_iter().map(|v| v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16).collect();
    Rendered { samples, notes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::Timed;

    fn transcript(entries: Vec<(u32, Entry)>, duration_ms: u32) -> Transcript {
        Transcript {
            outcome: None,
            path: Vec::new(),
            heard: Vec::new(),
            duration_s: f64::from(duration_ms) / 1000.0,
            entries: entries.into_iter().map(|(at_ms, entry)| Timed { at_ms: at_ms.into(), entry }).collect(),
            choices: Vec::new(),
            trace: Vec::new(),
        }
    }

    fn prompt(file: Option<&str>, text: &str, duration_ms: u32) -> Entry {
        Entry::Prompt {
            text: Some(text.into()),
            file: file.map(Into::into),
            lang: "ru".into(),
            duration_ms: duration_ms.into(),
        }
    }

    fn keys(k: &str) -> Entry {
        Entry::Keys { keys: k.into() }
    }

    /// A loud 300 Hz "voice", which the DTMF detector must ignore.
    fn voice(ms: u32) -> Vec<i16> {
        music::beep(RATE, 300.0, ms, 0.6)
    }

    #[test]
    fn keys_sound_at_their_time_and_decode() {
        let t = transcript(vec![(0, prompt(Some("a.wav"), "a", 1000)), (1000, keys("1")), (6200, keys("12#"))], 6800);
        let clips = HashMap::from([(Clip::File("a.wav".into()), voice(1000))]);
        let r = render(&t, &clips, 0);
        assert_eq!(r.samples.len(), 6800 * 8);
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        let found = dtmf::detect(&r.samples, RATE);
        let got: String = found.iter().map(|d| d.key).collect();
        assert_eq!(got, "112#");
        for (d, want_ms) in found.iter().zip([1000, 6200, 6400, 6600]) {
            assert!(d.start_ms.abs_diff(want_ms) <= 15, "{d:?}");
        }
        // Between the first key and the second the caller is silent.
        assert!(r.samples[1200 * 8..6200 * 8].iter().all(|&s| s == 0));
    }

    #[test]
    fn long_clips_are_cut_at_the_next_sound_and_missing_ones_noted() {
        let t = transcript(
            vec![(0, prompt(None, "длинный текст", 1000)), (1000, keys("5")), (1200, prompt(None, "нет звука", 500))],
            1700,
        );
        let text = |s: &str| Clip::Text { text: s.into(), lang: "ru".into(), caller: false };
        let clips = HashMap::from([(text("длинный текст"), voice(3000))]);
        let r = render(&t, &clips, 0);
        assert_eq!(r.samples.len(), 1700 * 8);
        assert_eq!(r.notes.len(), 2, "{:?}", r.notes);
        assert!(r.notes[0].contains("«нет звука»: no audio"), "{:?}", r.notes);
        assert!(r.notes[1].contains("runs 2.0 s past its slot"), "{:?}", r.notes);
        let got: String = dtmf::detect(&r.samples, RATE).iter().map(|d| d.key).collect();
        assert_eq!(got, "5");
        assert_eq!(r.samples[999 * 8 + 7], 0, "the fade ends in silence before the key");
    }

    #[test]
    fn queued_calls_end_with_hold_music() {
        let t = transcript(vec![(0, keys("0")), (200, Entry::Enqueue { queue: "first_line".into() })], 200);
        let r = render(&t, &HashMap::new(), 20_000);
        assert_eq!(r.samples.len(), (200 + 20_000) * 8);
        assert!(r.samples[10_000 * 8..11_000 * 8].iter().any(|s| s.unsigned_abs() > 1000));
        let got: String = dtmf::detect(&r.samples, RATE).iter().map(|d| d.key).collect();
        assert_eq!(got, "0");
    }

    #[test]
    fn caller_speech_picks_a_voice_by_script() {
        let of = |text: &str| Clip::of(&Entry::Speech { text: text.into() });
        assert_eq!(of("оператор"), Some(Clip::Text { text: "оператор".into(), lang: "ru".into(), caller: true }));
        assert_eq!(of("operator"), Some(Clip::Text { text: "operator".into(), lang: "en".into(), caller: true }));
        assert_eq!(Clip::of(&keys("1")), None);
    }
}
