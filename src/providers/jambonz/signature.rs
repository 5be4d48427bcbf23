//! `Jambonz-Signature`: how jambonz signs each webhook request, and how we check it.
//!
//! As jambonz's feature server signs (`_generateSigHeader`) and its Node SDK checks
//! (`WebhookResponse.verifyJambonzSignature`, <https://docs.jambonz.org/guides/features/securing-http-endpoints>):
//! the header is `t=<unix seconds>,v1=<hex>`, where `v1` is the HMAC-SHA256, keyed with the
//! account's webhook secret (`JAMBONZ_WEBHOOK_SECRET`), of `"{t}.{raw JSON body}"`. The header
//! is split on `,` then on `=`; there may be several `v1` values (and other schemes, which are
//! ignored), and any one matching is enough; several secrets may be configured (rotation),
//! comma-separated. A timestamp more than [`TOLERANCE_S`] old is refused, as the SDK does; we
//! also refuse one that far in the future, and a signature already accepted once (a replay).
//! Pure but for the replay memory: the caller passes the time in.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::providers::comma_items;
use crate::providers::replay::Replays;

/// The SDK's tolerance for the age of `t`, in seconds.
pub const TOLERANCE_S: i64 = 300;

/// Why a request is refused (403).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("no Jambonz-Signature header")]
    Missing,
    #[error("Jambonz-Signature has no timestamp `t=`")]
    NoTimestamp,
    #[error("Jambonz-Signature has no `v1=` signature")]
    NoSignature,
    #[error("no Jambonz-Signature value matches the webhook secret and this body")]
    Forged,
    #[error("Jambonz-Signature was made {0} s ago, more than {TOLERANCE_S} s")]
    Stale(i64),
    #[error("Jambonz-Signature was made {0} s in the future")]
    Future(i64),
    #[error("Jambonz-Signature was already used (replay)")]
    Replayed,
}

/// The header value jambonz sends for `body` at time `t` (for tests, the conformance suite
/// and benches).
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let v1 = hex::encode(mac(secret, t, body).finalize().into_bytes());
    format!("t={t},v1={v1}")
}

/// Checks a request's `Jambonz-Signature` against `secrets` (comma-separated, any may match),
/// the raw body, the time `now` (Unix seconds) and the signatures already seen.
pub fn verify(
    secrets: &str,
    header: Option<&str>,
    body: &[u8],
    now: i64,
    replays: &Replays,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t: Option<&str> = None;
    let mut signatures: Vec<&str> = Vec::new();
    for item in header.split(',') {
        match item.trim().split_once('=') {
            Some(("t", value)) => t = Some(value),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let t = t.and_then(|t| t.parse::<i64>().ok()).ok_or(SignatureError::NoTimestamp)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    let matched = comma_items(secrets).find_map(|secret| {
        signatures
            .iter()
            .find(|sig| hex::decode(sig).is_ok_and(|given| mac(secret, t, body).verify_slice(&given).is_ok()))
    });
    let Some(matched) = matched else { return Err(SignatureError::Forged) };
    let age = now - t;
    if age > TOLERANCE_S {
        return Err(SignatureError::Stale(age));
    }
    if -age > TOLERANCE_S {
        return Err(SignatureError::Future(-age));
    }
    if !replays.first_use((t, matched.to_ascii_lowercase()), t + TOLERANCE_S, now) {
        return Err(SignatureError::Replayed);
    }
    Ok(())
}

fn mac(secret: &str, t: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wh_secret_cJ8sVq2mR7xT4nB1";
    const T: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"call_sid":"5fb3cd8a-cc71-4ce6-9c3f-8c1ee5f9f6a6","reason":"dtmfDetected","digits":"1"}"#;

    /// The vector computed independently of [`sign`]: `openssl dgst -sha256 -hmac "$SECRET"`
    /// over `"1700000000." + BODY`.
    #[test]
    fn documented_algorithm() {
        let header = sign(SECRET, T, BODY);
        assert_eq!(header, "t=1700000000,v1=a52c818f9e84a37eff5e0d9e5f3270964e9749e3c927454a23bcb4c45b43d1b3");
    }

    #[test]
    fn genuine_once_then_replay() {
        let replays = Replays::default();
        let header = sign(SECRET, T, BODY);
        assert_eq!(verify(SECRET, Some(&header), BODY, T + 1, &replays), Ok(()));
        assert_eq!(verify(SECRET, Some(&header), BODY, T + 2, &replays), Err(SignatureError::Replayed));
    }

    #[test]
    fn several_signatures_and_secrets() {
        let replays = Replays::default();
        let genuine = sign(SECRET, T, BODY);
        let v1 = genuine.split_once("v1=").map(|(_, v)| v).expect("has v1");
        let header = format!("t={T},v0=ignored,v1={},v1={v1}", "00".repeat(32));
        assert_eq!(verify(SECRET, Some(&header), BODY, T, &replays), Ok(()));
        let rotated = sign(SECRET, T + 1, BODY);
        assert_eq!(verify(&format!("old-secret, {SECRET}"), Some(&rotated), BODY, T + 1, &replays), Ok(()));
    }

    #[test]
    fn forged_stale_missing_and_other_bodies_are_refused() {
        let replays = Replays::default();
        let check = |header: Option<&str>, body: &[u8], now: i64| verify(SECRET, header, body, now, &replays);
        let genuine = sign(SECRET, T, BODY);
        assert_eq!(check(None, BODY, T), Err(SignatureError::Missing));
        assert_eq!(check(Some("v1=abcd"), BODY, T), Err(SignatureError::NoTimestamp));
        assert_eq!(check(Some("t=abc,v1=abcd"), BODY, T), Err(SignatureError::NoTimestamp));
        assert_eq!(check(Some(&format!("t={T}")), BODY, T), Err(SignatureError::NoSignature));
        assert_eq!(check(Some(&sign("wrong", T, BODY)), BODY, T), Err(SignatureError::Forged));
        assert_eq!(check(Some(&genuine), br#"{"call_sid":"x","digits":"0"}"#, T), Err(SignatureError::Forged));
        let moved = genuine.replace(&format!("t={T}"), &format!("t={}", T + 10));
        assert_eq!(check(Some(&moved), BODY, T + 10), Err(SignatureError::Forged), "t is signed too");
        assert_eq!(check(Some("t=1,v1=zz"), BODY, T), Err(SignatureError::Forged));
        assert_eq!(check(Some(&genuine), BODY, T + TOLERANCE_S + 1), Err(SignatureError::Stale(TOLERANCE_S + 1)));
        assert_eq!(check(Some(&genuine), BODY, T - TOLERANCE_S - 1), Err(SignatureError::Future(TOLERANCE_S + 1)));
        assert_eq!(check(Some(&genuine), BODY, T + TOLERANCE_S), Ok(()), "the edge of the window");
    }
}
