//! `switchboard sounds dtmf`: rendered keys written to a WAV come back out; broken files are
//! reported with exit code 2 rather than a panic.

mod common;

use common::{Run, switchboard};
use switchboard::sounds::{dtmf, wav};

#[test]
fn finds_keys_in_a_wav_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.wav");
    wav::write_mono(&path, &dtmf::render_keys("159#", 8000, 80, 80), 8000).unwrap();

    let found = Run::of(switchboard().args(["sounds", "dtmf"]).arg(&path).arg("--json")).code(0).json();
    let keys: String = found.as_array().unwrap().iter().map(|d| d["key"].as_str().unwrap()).collect();
    assert_eq!(keys, "159#");
    assert!(found[1]["start_ms"].as_u64().unwrap().abs_diff(160) <= 15);

    let text = Run::of(switchboard().args(["sounds", "dtmf"]).arg(&path)).code(0).stdout();
    assert!(text.lines().next().unwrap().contains("  1  ("), "{text}");
}

#[test]
fn broken_files_exit_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wav");
    wav::write_mono(&good, &dtmf::render_keys("12", 8000, 100, 100), 8000).unwrap();
    let bytes = std::fs::read(&good).unwrap();

    let truncated = dir.path().join("truncated.wav");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2 + 1]).unwrap();
    let garbage = dir.path().join("garbage.wav");
    std::fs::write(&garbage, b"this is not a wav file at all").unwrap();
    let missing = dir.path().join("missing.wav");

    for path in [truncated, garbage, missing] {
        let r = Run::of(switchboard().args(["sounds", "dtmf"]).arg(&path)).code(2);
        assert!(r.stderr().starts_with("error:"), "{}: {}", path.display(), r.stderr());
        assert!(!r.stderr().contains("panicked"), "{}", r.stderr());
    }
}
