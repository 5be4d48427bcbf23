//! Vonage's signed webhooks: how each request is signed, and how we check it.
//!
//! From Vonage's "Signed webhooks" (<https://developer.vonage.com/en/getting-started/concepts/webhooks#validating-signed-webhooks>),
//! which the Voice API follows "in the same form as Messages and Dispatch":
//! - every request carries `Authorization: Bearer <JWT>`, signed HS256 with the account's
//!   signature secret (`VONAGE_SIGNATURE_SECRET`);
//! - its claims are `iat` (issued at, Unix seconds), `jti` (unique id), `iss` (`Vonage`),
//!   `api_key`, `application_id` and `payload_hash`, "a SHA-256 hash of the request payload"
//!   in hex; a mismatch means the payload was changed in transit.
//!
//! The JWT alone proves only that Vonage signed *some* request, so we also check
//! `payload_hash` against what arrived: for a POST, the raw body; for a GET answer webhook, the
//! payload is its query parameters, not the empty body. Vonage does not spell out how it
//! serialises them, so the hash may match either the query string as sent or its parameters as
//! a JSON object in the order sent (how Vonage's SDK examples rebuild a payload from
//! `request.query`); both bind the token to these parameters and no others.
//!
//! Signed webhooks "defend against interception and later replay": a token is accepted only
//! within [`TOLERANCE_S`] of its `iat` (and before its `exp`, if it has one), and only once
//! (its `jti`). Only HS256 is accepted; `alg: none` and any other algorithm are refused.
//! Pure but for the replay memory: the caller passes the time in.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::providers::replay::Replays;

/// How far `iat` may be from now, in seconds, either way.
pub const TOLERANCE_S: i64 = 300;

/// What the request's `payload_hash` must cover.
#[derive(Clone, Copy, Debug)]
pub enum Payload<'a> {
    /// A POST's raw body.
    Body(&'a [u8]),
    /// A GET's query string as sent, without the `?`.
    Query(&'a str),
}

/// Why a request is refused (403).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("no `Authorization: Bearer` token")]
    Missing,
    #[error("the token is not a JWT: {0}")]
    Malformed(&'static str),
    #[error("the token is signed with `{0}`, not HS256")]
    Algorithm(String),
    #[error("the token's signature does not match the signature secret")]
    Forged,
    #[error("the token was issued {0} s ago, more than {TOLERANCE_S} s")]
    Stale(i64),
    #[error("the token was issued {0} s in the future")]
    Future(i64),
    #[error("the token has expired")]
    Expired,
    #[error("the token was signed for another payload (payload_hash does not match)")]
    PayloadHash,
    #[error("the token was already used (replay)")]
    Replayed,
}

/// The claims Vonage puts in a webhook's JWT.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Claims {
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

/// Checks a request's `Authorization` header value against `secret`, the payload that
/// arrived, the time `now` (Unix seconds) and the tokens already seen.
pub fn verify(
    secret: &str,
    authorization: Option<&str>,
    payload: Payload<'_>,
    now: i64,
    replays: &Replays,
) -> Result<Claims, SignatureError> {
    let auth = authorization.ok_or(SignatureError::Missing)?.trim();
    let token = match auth.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Err(SignatureError::Missing),
    };
    let mut parts = token.split('.');
    let (Some(header), Some(body), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SignatureError::Malformed("not three dot-separated parts"));
    };
    let header: Header = decode(header).ok_or(SignatureError::Malformed("unreadable header"))?;
    if header.alg != "HS256" {
        return Err(SignatureError::Algorithm(header.alg));
    }
    let signature =
        URL_SAFE_NO_PAD.decode(signature).map_err(|_| SignatureError::Malformed("signature not base64url"))?;
    let signed_len = token.len() - signature_len(token);
    mac(secret, &token.as_bytes()[..signed_len]).verify_slice(&signature).map_err(|_| SignatureError::Forged)?;
    let claims: Claims = decode(body).ok_or(SignatureError::Malformed("unreadable claims"))?;
    let age = now - claims.iat;
    if age > TOLERANCE_S {
        return Err(SignatureError::Stale(age));
    }
    if -age > TOLERANCE_S {
        return Err(SignatureError::Future(-age));
    }
    if claims.exp.is_some_and(|exp| exp < now) {
        return Err(SignatureError::Expired);
    }
    let given = claims.payload_hash.as_deref().ok_or(SignatureError::PayloadHash)?;
    if !payload_matches(payload, given.trim()) {
        return Err(SignatureError::PayloadHash);
    }
    // A token without `jti` is remembered by its signature, which is as unique.
    let key = claims.jti.as_deref().unwrap_or(&token[signed_len + 1..]);
    if !replays.first_use(key, claims.iat + TOLERANCE_S, now) {
        return Err(SignatureError::Replayed);
    }
    Ok(claims)
}

/// The JWT Vonage would send with `claims`: for tests, the conformance suite and benches.
pub fn sign(secret: &str, claims: &Claims) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims are plain data"));
    let signed = format!("{header}.{body}");
    let signature = URL_SAFE_NO_PAD.encode(mac(secret, signed.as_bytes()).finalize().into_bytes());
    format!("{signed}.{signature}")
}

/// `payload_hash` for a request's payload: the hex SHA-256 of the body, or of the query string.
pub fn payload_hash(payload: Payload<'_>) -> String {
    match payload {
        Payload::Body(body) => hex_sha256(body),
        Payload::Query(query) => hex_sha256(query.as_bytes()),
    }
}

/// Whether `given` is a hash a genuine request's `payload_hash` may hold (see the module doc).
fn payload_matches(payload: Payload<'_>, given: &str) -> bool {
    if payload_hash(payload).eq_ignore_ascii_case(given) {
        return true;
    }
    let Payload::Query(query) = payload else { return false };
    // Written by hand to keep the order sent (serde_json's map would sort the keys).
    let quote = |s: &str| serde_json::to_string(s).expect("strings serialise");
    let fields: Vec<String> =
        form_urlencoded::parse(query.as_bytes()).map(|(k, v)| format!("{}:{}", quote(&k), quote(&v))).collect();
    hex_sha256(format!("{{{}}}", fields.join(",")).as_bytes()).eq_ignore_ascii_case(given)
}

fn signature_len(token: &str) -> usize {
    token.rsplit('.').next().map_or(0, |s| s.len() + 1)
}

fn mac(secret: &str, signed: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(signed);
    mac
}

fn decode<T: for<'de> Deserialize<'de>>(part: &str) -> Option<T> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "k7f3T9qLm2Xv8RzA5wN1cH4jP6sD0gYe";
    const NOW: i64 = 1_587_494_962;
    const BODY: &[u8] = br#"{"dtmf":{"digits":"1","timed_out":false},"uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab"}"#;

    fn claims(payload: Payload<'_>, iat: i64, jti: &str) -> Claims {
        Claims {
            iat,
            jti: Some(jti.into()),
            iss: Some("Vonage".into()),
            payload_hash: Some(payload_hash(payload)),
            api_key: Some("a1b2c3d".into()),
            application_id: Some("aaaaaaaa-bbbb-cccc-dddd-0123456789ab".into()),
            exp: None,
        }
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    #[test]
    fn a_signed_body_passes_once() {
        let replays = Replays::default();
        let token = sign(SECRET, &claims(Payload::Body(BODY), NOW, "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5"));
        let auth = bearer(&token);
        let got = verify(SECRET, Some(&auth), Payload::Body(BODY), NOW + 2, &replays).expect("genuine");
        assert_eq!(got.api_key.as_deref(), Some("a1b2c3d"));
        assert_eq!(verify(SECRET, Some(&auth), Payload::Body(BODY), NOW + 3, &replays), Err(SignatureError::Replayed));
    }

    /// The documented algorithm, step by step, without our `sign`: base64url of the header and
    /// claims, HMAC-SHA256 of `header.claims` with the secret, base64url of that.
    #[test]
    fn independent_vector() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
        let hash = hex_sha256(BODY);
        let body = URL_SAFE_NO_PAD
            .encode(format!(r#"{{"iat":{NOW},"jti":"x","iss":"Vonage","payload_hash":"{hash}","api_key":"a1b2c3d"}}"#));
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key");
        mac.update(format!("{header}.{body}").as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        let auth = bearer(&format!("{header}.{body}.{sig}"));
        assert!(verify(SECRET, Some(&auth), Payload::Body(BODY), NOW, &Replays::default()).is_ok());
        // sha256("") is the well-known e3b0c442...; the helper must agree.
        assert_eq!(&payload_hash(Payload::Body(b""))[..8], "e3b0c442");
    }

    #[test]
    fn forged_stale_missing_and_other_payloads_are_refused() {
        let replays = Replays::default();
        let good = claims(Payload::Body(BODY), NOW, "1");
        let check = |auth: Option<&str>, payload: Payload<'_>| verify(SECRET, auth, payload, NOW, &replays);
        assert_eq!(check(None, Payload::Body(BODY)), Err(SignatureError::Missing));
        assert_eq!(check(Some("Basic abc"), Payload::Body(BODY)), Err(SignatureError::Missing));
        assert!(matches!(check(Some("Bearer a.b"), Payload::Body(BODY)), Err(SignatureError::Malformed(_))));
        let forged = bearer(&sign("another secret", &good));
        assert_eq!(check(Some(&forged), Payload::Body(BODY)), Err(SignatureError::Forged));
        let stale = bearer(&sign(SECRET, &Claims { iat: NOW - TOLERANCE_S - 1, ..good.clone() }));
        assert_eq!(check(Some(&stale), Payload::Body(BODY)), Err(SignatureError::Stale(TOLERANCE_S + 1)));
        let future = bearer(&sign(SECRET, &Claims { iat: NOW + TOLERANCE_S + 5, ..good.clone() }));
        assert_eq!(check(Some(&future), Payload::Body(BODY)), Err(SignatureError::Future(TOLERANCE_S + 5)));
        let expired = bearer(&sign(SECRET, &Claims { exp: Some(NOW - 1), ..good.clone() }));
        assert_eq!(check(Some(&expired), Payload::Body(BODY)), Err(SignatureError::Expired));
        let genuine = bearer(&sign(SECRET, &good));
        let other_body = br#"{"dtmf":{"digits":"0","timed_out":false}}"#;
        assert_eq!(check(Some(&genuine), Payload::Body(other_body)), Err(SignatureError::PayloadHash));
        let no_hash = bearer(&sign(SECRET, &Claims { payload_hash: None, ..good.clone() }));
        assert_eq!(check(Some(&no_hash), Payload::Body(BODY)), Err(SignatureError::PayloadHash));
        // A token re-signed without a signature ("alg": "none") never passes.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = genuine.split('.').nth(1).expect("three parts");
        let none = format!("Bearer {header}.{body}.");
        assert_eq!(check(Some(&none), Payload::Body(BODY)), Err(SignatureError::Algorithm("none".into())));
        // Swapping the claims of a genuine token breaks its signature.
        let mut parts: Vec<String> = genuine["Bearer ".len()..].split('.').map(String::from).collect();
        parts[1] = URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&claims(Payload::Body(other_body), NOW, "2")).expect("serialises"));
        let swapped = bearer(&parts.join("."));
        assert_eq!(check(Some(&swapped), Payload::Body(other_body)), Err(SignatureError::Forged));
        assert!(check(Some(&genuine), Payload::Body(BODY)).is_ok(), "the genuine one still passes");
    }

    #[test]
    fn a_get_answer_is_bound_to_its_query_not_an_empty_body() {
        let query = "to=442079460000&from=447700900000&uuid=aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
        let replays = Replays::default();
        let by_string = bearer(&sign(SECRET, &claims(Payload::Query(query), NOW, "q1")));
        assert!(verify(SECRET, Some(&by_string), Payload::Query(query), NOW, &replays).is_ok());
        let json = r#"{"to":"442079460000","from":"447700900000","uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab"}"#;
        let by_json =
            Claims { payload_hash: Some(hex_sha256(json.as_bytes())), ..claims(Payload::Query(query), NOW, "q2") };
        assert!(verify(SECRET, Some(&bearer(&sign(SECRET, &by_json))), Payload::Query(query), NOW, &replays).is_ok());
        let empty = bearer(&sign(SECRET, &claims(Payload::Body(b""), NOW, "q3")));
        assert_eq!(
            verify(SECRET, Some(&empty), Payload::Query(query), NOW, &replays),
            Err(SignatureError::PayloadHash)
        );
        let other = "to=442079460000&from=447700900001&uuid=aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
        let fresh = bearer(&sign(SECRET, &claims(Payload::Query(query), NOW, "q4")));
        assert_eq!(
            verify(SECRET, Some(&fresh), Payload::Query(other), NOW, &replays),
            Err(SignatureError::PayloadHash)
        );
    }
}
