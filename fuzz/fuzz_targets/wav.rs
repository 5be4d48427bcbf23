//! A WAV file, read as prompts and call audio are read.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = switchboard::sounds::wav::decode(data);
});
