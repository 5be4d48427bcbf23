//! Telnyx TeXML: TwiML's parameters and nearly its document, signed with Ed25519.
//!
//! Differences from Twilio (<https://developers.telnyx.com/docs/voice/programmable-voice/texml-translator>):
//! - `<Gather timeout>` is the gap between digits (1–120 s) and the count is bounded by
//!   `minDigits`/`maxDigits` (1–128), not `numDigits`; `<Gather>` has no `method` (its action
//!   uses the TeXML application's), and only `<Say>` and `<Play>` nest in it, so pauses before
//!   a gather play before it ([`DIALECT`]);
//! - requests carry `telnyx-signature-ed25519` (base64) over `"{telnyx-timestamp}|{raw body}"`,
//!   verified with the account's public key (`TELNYX_PUBLIC_KEY`, base64 of its 32 bytes);
//!   a timestamp more than [`TOLERANCE_S`] from now is refused, so a captured request cannot be
//!   replayed later. The signature does not cover the URL: the token in it is what binds a
//!   callback to its call.
//! - the callbacks' parameters may come as a form or a JSON object; both are read.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};

use super::twilio::{Check, Twiml, twiml};
use super::{Provider, RawRequest, Refusal};

/// `<Gather timeout>` bounds, in seconds.
pub const GATHER_TIMEOUT_S: (u64, u64) = (1, 120);

/// Seconds a signed timestamp may differ from our clock.
pub const TOLERANCE_S: i64 = 300;

/// TeXML's departures from TwiML.
pub const DIALECT: twiml::Dialect = twiml::Dialect { gather_method: false, digit_bounds: true, pause_in_gather: false };

/// Telnyx, with the account's public key (base64).
pub fn build(public_key: Option<&str>) -> Result<Arc<dyn Provider>, String> {
    let key = public_key.map(parse_key).transpose()?;
    Ok(Arc::new(Twiml::new("telnyx", DIALECT, Check::Telnyx(key))))
}

/// The public key from its base64 text.
pub fn parse_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = STANDARD.decode(text.trim()).map_err(|e| format!("the public key is not base64: {e}"))?;
    let bytes: [u8; 32] =
        bytes.try_into().map_err(|b: Vec<u8>| format!("the public key has {} bytes, not 32", b.len()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an Ed25519 public key: {e}"))
}

/// Checks the Ed25519 signature and the timestamp's age.
pub fn verify(key: &VerifyingKey, req: &RawRequest, now: DateTime<Utc>) -> Result<usize, Refusal> {
    let forbidden = |why: &str| {
        tracing::warn!(why, "telnyx-signature-ed25519 refused");
        Refusal::Forbidden(format!("telnyx-signature-ed25519: {why}"))
    };
    let (Some(signature), Some(timestamp)) = (req.header("telnyx-signature-ed25519"), req.header("telnyx-timestamp"))
    else {
        return Err(forbidden("the signature or its timestamp is missing"));
    };
    let Ok(at) = timestamp.trim().parse::<i64>() else { return Err(forbidden("the timestamp is not a number")) };
    if (now.timestamp() - at).abs() > TOLERANCE_S {
        return Err(forbidden("the timestamp is more than 300 s from now (a replay?)"));
    }
    let signature = STANDARD
        .decode(signature.trim())
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or_else(|| forbidden("the signature is not base64 Ed25519"))?;
    key.verify(&signed_payload(timestamp.trim(), &req.body), &signature)
        .map_err(|_| forbidden("the signature does not match"))?;
    Ok(0)
}

/// What Telnyx signs: `"{timestamp}|{raw body}"`.
pub fn signed_payload(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(timestamp.len() + 1 + body.len());
    payload.extend_from_slice(timestamp.as_bytes());
    payload.push(b'|');
    payload.extend_from_slice(body);
    payload
}

/// The request's parameters: the query of a GET, a form body, or a JSON object's fields
/// (strings and numbers as text).
pub fn params(req: &RawRequest) -> Result<Vec<(String, String)>, Refusal> {
    if req.form_body || req.body.is_empty() || req.method != axum::http::Method::POST {
        return Ok(req.params().to_vec());
    }
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&req.body)
        .map_err(|e| Refusal::BadRequest(format!("the body is neither a form nor a JSON object: {e}")))?;
    Ok(object
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            serde_json::Value::Number(n) => Some((k, n.to_string())),
            serde_json::Value::Bool(b) => Some((k, b.to_string())),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_32_bytes_of_base64() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        let text = STANDARD.encode(key.as_bytes());
        assert_eq!(parse_key(&text), Ok(key));
        assert!(parse_key("not base64!").is_err());
        assert!(parse_key(&STANDARD.encode([1u8; 31])).is_err());
    }

    #[test]
    fn the_payload_is_timestamp_bar_body() {
        assert_eq!(signed_payload("1700000000", b"a=1"), b"1700000000|a=1");
    }

    #[test]
    fn russian_is_said_in_a_russian_voice_when_voices_names_none() {
        let telnyx = build(None).expect("no key: built, not enabled");
        let voices = crate::providers::VoiceTable::default().of("telnyx");
        let links = crate::providers::test_support::links("telnyx").with_voices(voices);
        let say = |lang: &str| crate::engine::Action::Say {
            text: "Привет".into(),
            lang: lang.into(),
            duration_ms: crate::engine::Millis(1000),
        };
        let xml = telnyx.render(&[say("ru")], &links).body;
        assert!(xml.contains(r#"<Say language="ru-RU" voice="Polly.Tatyana">Привет</Say>"#), "{xml}");
        let xml = telnyx.render(&[say("en")], &links).body;
        assert!(xml.contains(r#"<Say language="en-US">Привет</Say>"#), "English keeps the default voice: {xml}");
        let operator = telnyx.render_operator("ru", &crate::providers::OperatorRoute::Queue("q".into()), &links);
        assert!(operator.body.contains(r#"voice="Polly.Tatyana""#), "the server's own words too: {}", operator.body);
    }

    #[test]
    fn a_speech_menu_names_its_recognition_language_on_the_gather() {
        // TeXML's `<Gather language>`, in the locale the flow's language maps to: what
        // `languages::TELNYX_ASR` judges.
        let telnyx = build(None).expect("no key: built, not enabled");
        let links = crate::providers::test_support::links("telnyx");
        let menu = |speech| {
            crate::engine::Action::Gather(crate::engine::Gather {
                min_digits: 1,
                max_digits: 1,
                finish_key: None,
                timeout_ms: crate::engine::Millis(5000),
                speech,
                hints: Arc::from(if speech { "оператор" } else { "" }),
                lang: "ru".into(),
            })
        };
        let gather_tag = |xml: &str| xml.split("<Gather ").nth(1).and_then(|t| t.split('>').next()).map(str::to_owned);
        let xml = telnyx.render(&[menu(true)], &links).body;
        let tag = gather_tag(&xml).unwrap_or_else(|| panic!("a <Gather>: {xml}"));
        for attr in [r#"input="dtmf speech""#, r#"language="ru-RU""#, r#"hints="оператор""#] {
            assert!(tag.contains(attr), "{attr} in {tag}");
        }
        let xml = telnyx.render(&[menu(false)], &links).body;
        let tag = gather_tag(&xml).unwrap_or_else(|| panic!("a <Gather>: {xml}"));
        assert!(!tag.contains("language="), "keys only, nothing to recognise: {tag}");
    }
}
