//! State tokens: whatever arrives in `?t=` is refused or opens, never panics; and what is
//! sealed opens to the same state. Input: the token text.
#![no_main]

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use switchboard::engine::{Call, Start, parse_and_check};
use switchboard::server::TokenKey;

static KEY: LazyLock<TokenKey> = LazyLock::new(|| TokenKey::new(b"fuzz secret").with_previous(b"old"));
static CALL: LazyLock<Call> = LazyLock::new(|| {
    let (flow, _) = parse_and_check(include_str!("../../flows/support.toml"));
    let flow = flow.expect("the sample flow is valid");
    let at = chrono::NaiveDate::from_ymd_opt(2026, 5, 6).and_then(|d| d.and_hms_opt(11, 0, 0)).expect("valid");
    Call::start(&flow, &Start { caller: Some("+79990001122"), language: None }, at).0
});

fuzz_target!(|data: &[u8]| {
    let now = DateTime::<Utc>::from_timestamp(1_778_065_200, 0).expect("valid");
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = KEY.open("support", "CA1", text, now);
    // The text as a call id: sealing and opening agree whatever the id.
    let seq = data.len() as u32;
    let token = KEY.seal("support", text, &CALL, seq, now);
    let opened = KEY.open("support", text, &token, now).expect("a sealed token opens");
    assert_eq!((opened.call, opened.seq), (CALL.clone(), seq));
});
