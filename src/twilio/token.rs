//! Signed state tokens: a call's engine state, carried in the callback URLs Twilio requests.
//!
//! The server keeps no per-call state, so any instance can serve any step and a restart loses
//! nothing. A token is `base64url(postcard(Call) ‖ HMAC-SHA256(key, flow ‖ payload)[..16])`:
//! postcard keeps the state to a few dozen bytes (Twilio accepts URLs of several thousand),
//! the MAC binds the state to the flow it belongs to, and a 128-bit truncated MAC is the
//! standard RFC 2104 length trade-off. Nothing here does I/O; the key comes from the caller.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::engine::Call;

const MAC_LEN: usize = 16;
/// Domain separation: a MAC made for anything else with the same key never opens a token.
const CONTEXT: &[u8] = b"switchboard state token v1\0";

/// Why a token was refused. Every variant means "not ours": the request gets a 403.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is not base64url")]
    NotBase64,
    #[error("the token is too short to hold a signature")]
    TooShort,
    #[error("the token's signature does not match (tampered, or signed with another secret or for another flow)")]
    BadSignature,
    #[error("the token's state cannot be decoded: {0}")]
    BadState(String),
}

/// The key that signs and opens state tokens.
#[derive(Clone)]
pub struct TokenKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)") // never print the secret
    }
}

impl TokenKey {
    pub fn new(secret: &[u8]) -> TokenKey {
        TokenKey { secret: secret.to_vec() }
    }

    fn mac(&self, flow: &str, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(CONTEXT);
        mac.update(flow.as_bytes());
        mac.update(b"\0");
        mac.update(payload);
        mac
    }

    /// The token for `call` on `flow`.
    pub fn seal(&self, flow: &str, call: &Call) -> String {
        let mut bytes = postcard::to_stdvec(call).expect("a Call always serializes");
        let tag = self.mac(flow, &bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The call state in `token`, if this key signed it for `flow`.
    pub fn open(&self, flow: &str, token: &str) -> Result<Call, TokenError> {
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| TokenError::NotBase64)?;
        if bytes.len() < MAC_LEN {
            return Err(TokenError::TooShort);
        }
        let (payload, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        // verify_truncated_left compares in constant time.
        self.mac(flow, payload).verify_truncated_left(tag).map_err(|_| TokenError::BadSignature)?;
        postcard::from_bytes(payload).map_err(|e| TokenError::BadState(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Start, parse_and_check};

    fn call() -> Call {
        let (flow, _) = parse_and_check(include_str!("../../flows/hello.toml"));
        let flow = flow.expect("hello.toml is valid");
        let at = chrono::NaiveDate::from_ymd_opt(2026, 5, 6).and_then(|d| d.and_hms_opt(11, 0, 0)).expect("valid");
        Call::start(&flow, &Start { caller: Some("+79990001122"), language: None }, at).0
    }

    #[test]
    fn round_trip_and_small() {
        let key = TokenKey::new(b"secret");
        let token = key.seal("hello", &call());
        assert!(token.len() < 100, "{} chars: {token}", token.len());
        assert_eq!(key.open("hello", &token), Ok(call()));
    }

    #[test]
    fn refuses_what_it_did_not_sign() {
        let key = TokenKey::new(b"secret");
        let token = key.seal("hello", &call());
        let mut tampered = token.clone().into_bytes();
        tampered[2] = if tampered[2] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert_eq!(key.open("hello", &tampered), Err(TokenError::BadSignature));
        assert_eq!(TokenKey::new(b"other").open("hello", &token), Err(TokenError::BadSignature));
        assert_eq!(key.open("support", &token), Err(TokenError::BadSignature));
        assert_eq!(key.open("hello", "%%%"), Err(TokenError::NotBase64));
        assert_eq!(key.open("hello", "AAAA"), Err(TokenError::TooShort));
    }
}
