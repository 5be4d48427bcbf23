//! Hearing flows: scripted calls of the sample hotline rendered to WAV by the real binary
//! (`call --record`) decode back to exactly the keys the caller pressed, also under noise;
//! the committed prompts hold no DTMF; `sounds check` and `check` judge sound files;
//! `sounds convert` makes telephony audio.

mod common;

use std::path::Path;

use rand::{Rng, SeedableRng};

use common::{Run, run, switchboard};
use switchboard::sounds::{check, dtmf, wav};

/// White noise added at `snr_db` below the power of a rendered key (a DTMF tone pair at the
/// level `call --record` uses), which is the signal the detector has to find.
fn add_noise(samples: &[i16], snr_db: f32, seed: u64) -> Vec<i16> {
    let key = dtmf::tone('5', 8000, 100, 0.5).expect("5 is a key");
    let signal_power = key.iter().map(|&x| f32::from(x).powi(2)).sum::<f32>() / key.len() as f32;
    // Uniform noise on [-a, a] has power a²/3.
    let amplitude = (signal_power / 10f32.powf(snr_db / 10.0) * 3.0).sqrt();
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    samples
        .iter()
        .map(|&x| (f32::from(x) + amplitude * rng.random_range(-1.0f32..1.0)).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// The keys a transcript says the caller pressed, each with the time it was pressed.
fn pressed(transcript: &serde_json::Value) -> Vec<(char, u64)> {
    let mut keys = Vec::new();
    for e in transcript["entries"].as_array().expect("entries") {
        if e["kind"] == "keys" {
            let at = e["at_ms"].as_u64().expect("at_ms");
            for (i, key) in e["keys"].as_str().expect("keys").chars().enumerate() {
                keys.push((key, at + 200 * i as u64));
            }
        }
    }
    keys
}

/// Renders a call through flows/support.toml; returns its transcript and its audio.
fn render(keys: &str, at: &str, dir: &Path, env_path: Option<&str>) -> (serde_json::Value, Vec<i16>, String) {
    let wav_path = dir.join("call.wav");
    let mut command = switchboard();
    command.args(["call", "flows/support.toml", "--keys", keys, "--at", at, "--json", "--hold", "20", "--record"]);
    command.arg(&wav_path);
    if let Some(path) = env_path {
        command.env("PATH", path);
    }
    let r = Run::of(&mut command).code(0);
    let transcript = r.json();
    let (samples, rate) = wav::read_mono(&wav_path).expect("the recording reads");
    assert_eq!(rate, 8000);
    (transcript, samples, r.stderr())
}

const CALLS: [(&str, &str); 4] = [
    // Main menu, silence, technical help, escape to the operator.
    ("1 - 2 0", "mon 10:15"),
    // English, a request number typed ahead, then the operator about it.
    ("2 3 12345678# 1", "wed 11:00"),
    // Invalid keys until the menu escalates.
    ("1 9 8 7", "wed 11:00"),
    // Products, returns; star and hash on the way.
    ("1 * 1 # 3", "thu 12:00"),
];

#[test]
fn rendered_calls_decode_back_to_the_keys_pressed() {
    let dir = tempfile::tempdir().unwrap();
    for (keys, at) in CALLS {
        let (transcript, samples, _) = render(keys, at, dir.path(), None);
        let want = pressed(&transcript);
        let want_keys: String = want.iter().map(|(k, _)| k).collect();
        assert_eq!(want_keys, keys.replace([' ', '-'], ""), "the transcript has every key of {keys:?}");

        // On the transcript's clock: the call, then the hold music after the caller is queued.
        let duration_ms = (transcript["duration_s"].as_f64().unwrap() * 1000.0) as usize;
        assert!(samples.len() >= duration_ms * 8 + 20_000 * 8 - 8, "{keys:?}: {} samples", samples.len());

        for (snr, noisy) in [("clean", samples.clone()), ("20 dB SNR", add_noise(&samples, 20.0, 0x5EED))] {
            let found = dtmf::detect(&noisy, 8000);
            let got: String = found.iter().map(|d| d.key).collect();
            assert_eq!(got, want_keys, "{keys:?} at {at}, {snr}: {found:?}");
            for (d, (key, at_ms)) in found.iter().zip(&want) {
                assert!(u64::from(d.start_ms).abs_diff(*at_ms) <= 20, "{keys:?} {snr}: {key} at {at_ms} ms: {d:?}");
                assert!(d.duration_ms.abs_diff(100) <= 20, "{keys:?} {snr}: {d:?}");
            }
        }
    }
}

#[test]
fn without_a_synthesizer_text_prompts_are_silence_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    // No PATH: espeak-ng cannot be found even where it is installed.
    let (transcript, samples, stderr) = render("1 - 2 0", "mon 10:15", dir.path(), Some(""));
    assert!(stderr.contains("espeak-ng is not installed"), "{stderr}");
    assert!(stderr.contains("no audio, rendered as silence"), "{stderr}");
    let got: String = dtmf::detect(&samples, 8000).iter().map(|d| d.key).collect();
    assert_eq!(got, "120");
    // The recorded welcome plays from the start of the call.
    assert_eq!(transcript["entries"][2]["file"], "welcome.wav", "{}", transcript["entries"]);
    assert!(samples[..8000].iter().any(|s| s.unsigned_abs() > 3000));
}

#[test]
fn speech_and_music_alone_give_no_keys() {
    let dir = tempfile::tempdir().unwrap();
    // After hours: the closed message, the voicemail prompt and beep; a silent caller.
    let (_, samples, _) = render("", "tue 23:00", dir.path(), None);
    assert!(samples.iter().any(|s| s.unsigned_abs() > 3000), "the call is not silent");
    assert_eq!(dtmf::detect(&samples, 8000), []);
    assert_eq!(dtmf::detect(&add_noise(&samples, 20.0, 7), 8000), []);
    // A caller who only speaks, queued with hold music.
    let (_, samples, _) = render("say:оператор", "wed 11:00", dir.path(), None);
    assert_eq!(dtmf::detect(&samples, 8000), []);
}

#[test]
fn committed_prompts_are_telephony_audio_without_dtmf() {
    let mut count = 0;
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "wav") {
            continue;
        }
        count += 1;
        let inspection = check::inspect(&path).unwrap();
        assert_eq!(inspection.findings(), [], "{}", path.display());
        assert_eq!(inspection.sample_rate, 8000, "{}", path.display());
        let (samples, rate) = wav::read_mono(&path).unwrap();
        assert_eq!(dtmf::detect(&samples, rate), [], "{}", path.display());
    }
    assert!(count >= 20, "{count} prompts");
}

#[test]
fn sounds_check_on_the_samples_is_clean() {
    run(&["sounds", "check"]).code(0).stderr_has(": 0 errors, 0 warnings, 0 unused").stdout_has("main_menu.ru.wav");
}

/// A flow in `dir/flows/` that plays `files` (in a say node each, then hangs up).
fn flow_playing(dir: &Path, files: &[&str]) {
    let mut flow = String::from("[flow]\nname = \"t\"\nstart = \"n0\"\noperator = \"op\"\n\n");
    for (i, file) in files.iter().enumerate() {
        let next = if i + 1 == files.len() { "end".to_owned() } else { format!("n{}", i + 1) };
        flow.push_str(&format!(
            "[nodes.n{i}]\nkind = \"say\"\nprompt = \"Text {i}.\"\nplay = \"{file}\"\nnext = \"{next}\"\n\n"
        ));
    }
    flow.push_str("[nodes.end]\nkind = \"hangup\"\nprompt = \"Bye.\"\n\n");
    flow.push_str("[nodes.op]\nkind = \"queue\"\nqueue = \"first_line\"\nprompt = \"Hold on.\"\n");
    std::fs::create_dir_all(dir.join("flows")).unwrap();
    std::fs::write(dir.join("flows/t.toml"), flow).unwrap();
}

fn tone_8k(ms: u32) -> Vec<i16> {
    switchboard::sounds::music::beep(8000, 440.0, ms, 0.3)
}

#[test]
fn bad_sound_files_are_reported_not_panicked_on() {
    let dir = tempfile::tempdir().unwrap();
    let sounds = dir.path().join("sounds");
    std::fs::create_dir_all(&sounds).unwrap();
    wav::write_mono(&sounds.join("good.wav"), &tone_8k(1000), 8000).unwrap();
    wav::write_mono(&sounds.join("cd.wav"), &switchboard::sounds::music::beep(44100, 440.0, 1000, 0.3), 44100).unwrap();
    let mut late = vec![0; 8000];
    late.extend(tone_8k(500));
    wav::write_mono(&sounds.join("late.wav"), &late, 8000).unwrap();
    let bytes = std::fs::read(sounds.join("good.wav")).unwrap();
    std::fs::write(sounds.join("truncated.wav"), &bytes[..bytes.len() / 2 + 1]).unwrap();
    std::fs::write(sounds.join("garbage.wav"), b"this is not a wav file").unwrap();
    wav::write_mono(&sounds.join("spare.wav"), &tone_8k(300), 8000).unwrap();
    flow_playing(dir.path(), &["good.wav", "cd.wav", "late.wav", "truncated.wav", "garbage.wav", "absent.wav"]);

    // `check`: errors for the broken and missing files, warnings for the others, a note for
    // the unused one.
    let stderr = Run::of(switchboard().arg("check").arg(dir.path().join("flows"))).code(1).stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    for expected in [
        "error: sound `truncated.wav`: not a readable WAV file",
        "error: sound `garbage.wav`: not a readable WAV file",
        "error: sound `absent.wav`: cannot read",
        "warning: sound `cd.wav` is 44100 Hz mono 16-bit PCM, not telephony audio",
        "help: convert with `switchboard sounds convert IN OUT`",
        "warning: sound `late.wav` starts with 1.0 s of silence",
        "note: no flow plays 1 file in",
        "spare.wav",
        "3 errors, 2 warnings",
    ] {
        assert!(stderr.contains(expected), "expected {expected:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("good.wav"), "{stderr}");

    // `sounds check`: the same, file by file.
    let r = Run::of(switchboard().args(["sounds", "check"]).arg(&sounds).arg("--flows").arg(dir.path().join("flows")));
    let r = r.code(1);
    let stderr = r.stderr();
    for expected in [
        "truncated.wav: error: not a readable WAV file",
        "garbage.wav: error: not a readable WAV file",
        "absent.wav: error:",
        "cd.wav: warning: is 44100 Hz mono 16-bit PCM",
        "late.wav: warning: starts with 1.0 s of silence",
        "note: no flow plays spare.wav",
        "checked 6 sound files",
        "3 errors, 2 warnings, 1 unused",
    ] {
        assert!(stderr.contains(expected), "expected {expected:?} in:\n{stderr}");
    }
    r.stdout_has("1.0 s  8000 Hz mono 16-bit PCM");
}

#[test]
fn convert_makes_telephony_audio() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("studio.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44100,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&input, spec).unwrap();
    for n in 0..44100 * 2 {
        let v = 0.4 * (2.0 * std::f32::consts::PI * 500.0 * n as f32 / 44100.0).sin();
        w.write_sample(v).unwrap();
        w.write_sample(-v).unwrap();
    }
    w.finalize().unwrap();
    let keys = dir.path().join("keys.wav");
    wav::write_mono(&keys, &dtmf::render_keys("42", 16000, 100, 100), 16000).unwrap();
    let output = dir.path().join("phone.wav");

    Run::of(switchboard().args(["sounds", "convert"]).arg(&input).arg(&keys).arg(&output))
        .code(0)
        .stderr_has("8000 Hz mono 16-bit PCM, 2.4 s");
    let inspection = check::inspect(&output).unwrap();
    assert!(inspection.is_telephony());
    assert_eq!(inspection.duration_ms, 2400);
    // The keys survive resampling from 16 kHz.
    let (samples, _) = wav::read_mono(&output).unwrap();
    let got: String = dtmf::detect(&samples, 8000).iter().map(|d| d.key).collect();
    assert_eq!(got, "42");

    let garbage = dir.path().join("garbage.wav");
    std::fs::write(&garbage, b"RIFF").unwrap();
    let r = Run::of(switchboard().args(["sounds", "convert"]).arg(&garbage).arg(&output)).code(2);
    assert!(r.stderr().starts_with("error: cannot convert"), "{}", r.stderr());
}
