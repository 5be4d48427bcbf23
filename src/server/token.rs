//! Signed state tokens: a call's engine state, carried in the callback URLs Twilio requests.
//!
//! The server keeps no per-call state, so any instance can serve any step and a restart loses
//! nothing. A token is `base64url(postcard(Call) ‖ varint(seq) ‖ HMAC-SHA256(key, flow ‖
//! payload)[..16])`: postcard keeps the state to a few dozen bytes (Twilio accepts URLs of
//! several thousand), `seq` is the number of the call's next event in the log (one to five
//! bytes), the MAC binds both to the flow they belong to, and a 128-bit truncated MAC is the
//! standard RFC 2104 length trade-off. Tokens made before the log existed end after the `Call`;
//! they still open, with no `seq`. Nothing here does I/O; the key comes from the caller.

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

/// What a token carries.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub call: Call,
    /// The `seq` of the call's next event in the log; `None` in a token from before the log.
    pub seq: Option<u32>,
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

    /// A key for another purpose, derived from the secret (HMAC-SHA256 of `purpose`), so that
    /// what it keys never reveals or reuses the token secret itself.
    pub fn derive(&self, purpose: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(b"switchboard derived key\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The token for `call` on `flow`, whose next event in the log is numbered `seq`.
    pub fn seal(&self, flow: &str, call: &Call, seq: u32) -> String {
        let mut bytes = postcard::to_stdvec(call).expect("a Call always serializes");
        bytes = postcard::to_extend(&seq, bytes).expect("a u32 always serializes");
        let tag = self.mac(flow, &bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The call state in `token`, if this key signed it for `flow`.
    pub fn open(&self, flow: &str, token: &str) -> Result<State, TokenError> {
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| TokenError::NotBase64)?;
        if bytes.len() < MAC_LEN {
            return Err(TokenError::TooShort);
        }
        let (payload, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        // verify_truncated_left compares in constant time.
        self.mac(flow, payload).verify_truncated_left(tag).map_err(|_| TokenError::BadSignature)?;
        let (call, rest) =
            postcard::take_from_bytes::<Call>(payload).map_err(|e| TokenError::BadState(e.to_string()))?;
        if rest.is_empty() {
            return Ok(State { call, seq: None });
        }
        match postcard::take_from_bytes::<u32>(rest) {
            Ok((seq, [])) => Ok(State { call, seq: Some(seq) }),
            Ok(_) => Err(TokenError::BadState("bytes after the event number".into())),
            Err(e) => Err(TokenError::BadState(e.to_string())),
        }
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
        let token = key.seal("hello", &call(), 300);
        assert!(token.len() < 100, "{} chars: {token}", token.len());
        assert_eq!(key.open("hello", &token), Ok(State { call: call(), seq: Some(300) }));
        let longest = key.seal("hello", &call(), u32::MAX);
        assert_eq!(key.open("hello", &longest).map(|s| s.seq), Ok(Some(u32::MAX)));
    }

    /// A token as the server signed it before the log: `postcard(Call) ‖ MAC`, no `seq`.
    fn old_format(key: &TokenKey, flow: &str, call: &Call) -> String {
        let mut bytes = postcard::to_stdvec(call).expect("serializes");
        let tag = key.mac(flow, &bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn tokens_from_before_the_log_still_open() {
        let key = TokenKey::new(b"secret");
        let token = old_format(&key, "hello", &call());
        assert_eq!(key.open("hello", &token), Ok(State { call: call(), seq: None }));
        // Anything after the number is refused, even when signed.
        let mut bytes = postcard::to_stdvec(&call()).expect("serializes");
        bytes.extend_from_slice(&[5, 7]);
        let tag = key.mac("hello", &bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..MAC_LEN]);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        assert!(matches!(key.open("hello", &token), Err(TokenError::BadState(_))));
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_from_the_secret() {
        let key = TokenKey::new(b"secret");
        assert_eq!(key.derive("caller numbers").len(), 32);
        assert_ne!(key.derive("caller numbers"), key.derive("other"));
        assert_ne!(key.derive("caller numbers"), TokenKey::new(b"other").derive("caller numbers"));
    }

    #[test]
    fn refuses_what_it_did_not_sign() {
        let key = TokenKey::new(b"secret");
        let token = key.seal("hello", &call(), 0);
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
