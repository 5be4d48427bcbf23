//! Sealed state tokens: a call's engine state, carried in the callback URLs a provider requests.
//!
//! The server keeps no per-call state, so any instance can serve any step and a restart loses
//! nothing. Those URLs end up in the provider's logs and in every proxy's, and the state holds
//! the caller's number and the digits they typed, so a token is encrypted, not only signed:
//!
//! `base64url(nonce[12] ‖ AES-256-GCM-SIV(postcard(Call) ‖ varint(seq) ‖ varint(issued)) ‖ tag[16])`
//!
//! - the key is HKDF-SHA256 of the server secret with a label of its own, so it is never the
//!   secret itself nor any other key derived from it ([`TokenKey::derive`]);
//! - the associated data is the flow name and the provider's call id: a token opens only in the
//!   call and the flow it was made for (a token from call A replayed into call B is refused);
//! - `issued` (Unix seconds) makes tokens expire after [`TokenKey::max_age`]: a token from
//!   yesterday cannot resume a call. An issue time in the future is accepted up to `max_age`
//!   ahead (see [`TokenKey::open`]): only our own clocks put it there;
//! - GCM-SIV because nonces are random: it stays safe if two tokens ever draw the same nonce,
//!   which plain GCM or ChaCha20-Poly1305 does not past a few billion tokens per key;
//! - `seq` is the number of the call's next event in the log;
//! - previous secrets ([`TokenKey::with_previous`]) still open tokens, so a secret can be
//!   rotated under live calls: their tokens carry an issue time, so once `max_age` has passed
//!   since the rotation the old secret opens nothing and can be dropped.
//!
//! Nothing here does I/O apart from drawing the nonce; the keys and the time come from the caller.

use std::time::Duration;

use aes_gcm_siv::aead::{AeadInPlace, KeyInit};
use aes_gcm_siv::{Aes256GcmSiv, Nonce, Tag};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng as _;
use sha2::Sha256;

use crate::engine::Call;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// The HKDF label of the token key: no other key derived from the secret uses it.
const KEY_INFO: &[u8] = b"switchboard state token v2 aes-256-gcm-siv";
/// Domain separation inside the associated data.
const CONTEXT: &[u8] = b"switchboard state token v2\0";
/// How long a token opens by default: longer than any call.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(4 * 3600);

/// Why a token was refused. None of them says more than that: the token's contents stay sealed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is not base64url")]
    NotBase64,
    #[error("the token is too short to be one")]
    TooShort,
    #[error("the token does not open (tampered, sealed with another secret, or for another call or flow)")]
    Sealed,
    #[error("the token expired: issued {age_s} s ago, the limit is {max_s} s")]
    Expired { age_s: u64, max_s: u64 },
    #[error("the token was issued {ahead_s} s in the future")]
    FromTheFuture { ahead_s: u64 },
    #[error("the token's state cannot be decoded: {0}")]
    BadState(String),
}

impl TokenError {
    /// A short label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            TokenError::NotBase64 | TokenError::TooShort | TokenError::BadState(_) => "malformed",
            TokenError::Sealed => "does_not_open",
            TokenError::Expired { .. } => "expired",
            TokenError::FromTheFuture { .. } => "from_the_future",
        }
    }
}

/// What a token carries.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub call: Call,
    /// The `seq` of the call's next event in the log.
    pub seq: u32,
}

/// The keys that seal and open state tokens: the current secret's, then previous ones'.
#[derive(Clone)]
pub struct TokenKey {
    /// The current secret, for [`TokenKey::derive`].
    secret: Vec<u8>,
    /// Current first; only the first seals.
    ciphers: Vec<Aes256GcmSiv>,
    max_age: Duration,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret or a key.
        write!(f, "TokenKey({} key(s), max age {:?})", self.ciphers.len(), self.max_age)
    }
}

fn cipher(secret: &[u8]) -> Aes256GcmSiv {
    let mut key = [0u8; 32];
    hkdf::Hkdf::<Sha256>::new(None, secret).expand(KEY_INFO, &mut key).expect("32 bytes is a valid HKDF-SHA256 length");
    Aes256GcmSiv::new(&key.into())
}

/// The associated data: the flow and the call a token belongs to, length-prefixed so that no
/// two pairs give the same bytes.
fn associated(flow: &str, call_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(CONTEXT.len() + 8 + flow.len() + call_id.len());
    aad.extend_from_slice(CONTEXT);
    aad.extend_from_slice(&(flow.len() as u64).to_le_bytes());
    aad.extend_from_slice(flow.as_bytes());
    aad.extend_from_slice(call_id.as_bytes());
    aad
}

fn unix_seconds(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp()).unwrap_or(0)
}

impl TokenKey {
    /// Keys from `secret`, tokens opening for [`DEFAULT_MAX_AGE`].
    pub fn new(secret: &[u8]) -> TokenKey {
        TokenKey { secret: secret.to_vec(), ciphers: vec![cipher(secret)], max_age: DEFAULT_MAX_AGE }
    }

    /// The same keys, also opening (never sealing) tokens sealed with `previous`.
    pub fn with_previous(mut self, previous: &[u8]) -> TokenKey {
        self.ciphers.push(cipher(previous));
        self
    }

    /// The same keys, tokens opening for `max_age` after they were issued.
    pub fn with_max_age(mut self, max_age: Duration) -> TokenKey {
        self.max_age = max_age;
        self
    }

    /// How long after it was issued a token still opens.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// A key for another purpose, derived from the current secret (HMAC-SHA256 of `purpose`),
    /// so that what it keys never reveals or reuses the secret itself.
    pub fn derive(&self, purpose: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(b"switchboard derived key\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The token for `call` on `flow`, the provider's call `call_id`, whose next event in the
    /// log is numbered `seq`, issued at `now`.
    pub fn seal(&self, flow: &str, call_id: &str, call: &Call, seq: u32, now: DateTime<Utc>) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill(&mut nonce);
        let mut bytes = Vec::with_capacity(96);
        bytes.extend_from_slice(&nonce);
        bytes = postcard::to_extend(call, bytes).expect("a Call always serializes");
        bytes = postcard::to_extend(&seq, bytes).expect("a u32 always serializes");
        bytes = postcard::to_extend(&unix_seconds(now), bytes).expect("a u64 always serializes");
        let tag = self.ciphers[0]
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &associated(flow, call_id), &mut bytes[NONCE_LEN..])
            .expect("a state is far below AES-GCM-SIV's length limit");
        bytes.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The state in `token`, if one of these keys sealed it for `flow` and `call_id` and it is
    /// still young enough at `now`.
    ///
    /// An issue time after `now` is accepted up to `max_age` ahead. Only a holder of the secret
    /// can seal a token, so a future issue time never comes from a client: it comes from our
    /// clock stepping back (NTP correcting a clock that ran fast, a VM restored) or from an
    /// instance whose clock runs ahead. Refusing those tokens would send every call in progress
    /// across a step to the operator. The bound keeps a token's whole life within `2 × max_age`
    /// of wall time whatever the clocks did, and still refuses tokens issued by a clock that
    /// was wildly wrong (a year ahead) once it is corrected.
    pub fn open(&self, flow: &str, call_id: &str, token: &str, now: DateTime<Utc>) -> Result<State, TokenError> {
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| TokenError::NotBase64)?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(TokenError::TooShort);
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let (sealed, tag) = rest.split_at(rest.len() - TAG_LEN);
        let (nonce, tag) = (Nonce::from_slice(nonce), Tag::from_slice(tag));
        let aad = associated(flow, call_id);
        let mut plain = sealed.to_vec();
        let opened = self.ciphers.iter().any(|cipher| {
            // A failed attempt leaves the buffer as it was.
            cipher.decrypt_in_place_detached(nonce, &aad, &mut plain, tag).is_ok()
        });
        if !opened {
            return Err(TokenError::Sealed);
        }
        let bad = |e: postcard::Error| TokenError::BadState(e.to_string());
        let (call, rest) = postcard::take_from_bytes::<Call>(&plain).map_err(bad)?;
        let (seq, rest) = postcard::take_from_bytes::<u32>(rest).map_err(bad)?;
        let (issued, rest) = postcard::take_from_bytes::<u64>(rest).map_err(bad)?;
        if !rest.is_empty() {
            return Err(TokenError::BadState("bytes after the issue time".into()));
        }
        let now = unix_seconds(now);
        if issued > now.saturating_add(self.max_age.as_secs()) {
            return Err(TokenError::FromTheFuture { ahead_s: issued - now });
        }
        let age_s = now.saturating_sub(issued);
        if age_s > self.max_age.as_secs() {
            return Err(TokenError::Expired { age_s, max_s: self.max_age.as_secs() });
        }
        Ok(State { call, seq })
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

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_778_065_200, 0).expect("valid") // 2026-05-06 11:00 UTC
    }

    fn later(seconds: i64) -> DateTime<Utc> {
        now() + chrono::Duration::seconds(seconds)
    }

    const CALL: &str = "CA0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip_and_small() {
        let key = TokenKey::new(b"secret");
        let token = key.seal("hello", CALL, &call(), 300, now());
        assert!(token.len() < 120, "{} chars: {token}", token.len());
        assert_eq!(key.open("hello", CALL, &token, later(60)), Ok(State { call: call(), seq: 300 }));
        let longest = key.seal("hello", CALL, &call(), u32::MAX, now());
        assert_eq!(key.open("hello", CALL, &longest, now()).map(|s| s.seq), Ok(u32::MAX));
    }

    #[test]
    fn nothing_of_the_state_reads_in_the_token() {
        let key = TokenKey::new(b"secret");
        let a = key.seal("hello", CALL, &call(), 7, now());
        let b = key.seal("hello", CALL, &call(), 7, now());
        assert_ne!(a, b, "a fresh nonce for every token");
        let bytes = URL_SAFE_NO_PAD.decode(&a).expect("base64url");
        let plain = postcard::to_stdvec(&call()).expect("serializes");
        // The caller's number, in the clear in the state, appears nowhere in the token.
        let number = b"79990001122";
        assert!(plain.windows(number.len()).any(|w| w == number), "the state holds the number");
        assert!(!bytes.windows(number.len()).any(|w| w == number));
        assert!(!bytes.windows(8).any(|w| plain.windows(8).any(|p| p == w)), "no 8 bytes of the state in clear");
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_from_the_secret() {
        let key = TokenKey::new(b"secret");
        assert_eq!(key.derive("caller numbers").len(), 32);
        assert_ne!(key.derive("caller numbers"), key.derive("other"));
        assert_ne!(key.derive("caller numbers"), TokenKey::new(b"other").derive("caller numbers"));
        // Rotation keeps the derived keys of the current secret.
        let rotated = TokenKey::new(b"secret").with_previous(b"old");
        assert_eq!(rotated.derive("caller numbers"), key.derive("caller numbers"));
    }

    #[test]
    fn refuses_what_it_did_not_seal() {
        let key = TokenKey::new(b"secret");
        let token = key.seal("hello", CALL, &call(), 0, now());
        for at in [2, 20, token.len() - 1] {
            let mut tampered = token.clone().into_bytes();
            tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(tampered).expect("ascii");
            assert_eq!(key.open("hello", CALL, &tampered, now()), Err(TokenError::Sealed), "byte {at}");
        }
        assert_eq!(TokenKey::new(b"other").open("hello", CALL, &token, now()), Err(TokenError::Sealed));
        assert_eq!(key.open("support", CALL, &token, now()), Err(TokenError::Sealed));
        assert_eq!(key.open("hello", "%%%", "%%%", now()), Err(TokenError::NotBase64));
        assert_eq!(key.open("hello", CALL, "AAAA", now()), Err(TokenError::TooShort));
    }

    #[test]
    fn a_token_opens_only_in_its_own_call() {
        let key = TokenKey::new(b"secret");
        let token = key.seal("hello", "CA-a", &call(), 0, now());
        assert_eq!(key.open("hello", "CA-b", &token, now()), Err(TokenError::Sealed));
        assert_eq!(key.open("hello", "", &token, now()), Err(TokenError::Sealed));
        // The flow and the call id cannot trade bytes.
        let shifted = key.seal("hell", "oCA-a", &call(), 0, now());
        assert_eq!(key.open("hello", "CA-a", &shifted, now()), Err(TokenError::Sealed));
    }

    #[test]
    fn tokens_expire() {
        let key = TokenKey::new(b"secret").with_max_age(Duration::from_secs(3600));
        let token = key.seal("hello", CALL, &call(), 0, now());
        assert!(key.open("hello", CALL, &token, later(3600)).is_ok());
        assert_eq!(key.open("hello", CALL, &token, later(3601)), Err(TokenError::Expired { age_s: 3601, max_s: 3600 }));
        assert_eq!(key.open("hello", CALL, &token, later(86_400)).map_err(|e| e.label()), Err("expired"));
        assert_eq!(DEFAULT_MAX_AGE, TokenKey::new(b"x").max_age());
    }

    /// Regression (docs/faults.md): a clock stepped back more than 5 minutes made every token
    /// sealed before the step look issued in the future, and sent its caller to the operator.
    #[test]
    fn a_clock_stepped_back_strands_no_token_within_its_lifetime() {
        let key = TokenKey::new(b"secret").with_max_age(Duration::from_secs(3600));
        let token = key.seal("hello", CALL, &call(), 0, now());
        for back in [301, 600, 1800, 3600] {
            assert!(key.open("hello", CALL, &token, later(-back)).is_ok(), "stepped back {back} s");
        }
        // Still bounded: a clock that was an hour and a second ahead sealed nothing that opens.
        assert_eq!(key.open("hello", CALL, &token, later(-3601)), Err(TokenError::FromTheFuture { ahead_s: 3601 }));
        assert_eq!(
            key.open("hello", CALL, &token, later(-86_400 * 365)).map_err(|e| e.label()),
            Err("from_the_future")
        );
        // The other checks hold across the step: the call binding, and expiry once time catches up.
        assert_eq!(key.open("hello", "CA-other", &token, later(-600)), Err(TokenError::Sealed));
        assert!(matches!(key.open("hello", CALL, &token, later(3601)), Err(TokenError::Expired { .. })));
    }

    #[test]
    fn a_previous_secret_opens_tokens_until_they_expire() {
        let old = TokenKey::new(b"old secret");
        let token = old.seal("hello", CALL, &call(), 5, now());
        let rotated = TokenKey::new(b"new secret").with_previous(b"old secret");
        // In the grace period: the old secret's tokens open, new tokens use the new secret.
        assert_eq!(rotated.open("hello", CALL, &token, later(600)).map(|s| s.seq), Ok(5));
        let fresh = rotated.seal("hello", CALL, &call(), 6, later(600));
        assert_eq!(TokenKey::new(b"new secret").open("hello", CALL, &fresh, later(600)).map(|s| s.seq), Ok(6));
        assert_eq!(old.open("hello", CALL, &fresh, later(600)), Err(TokenError::Sealed));
        // After it: the old secret's tokens have all expired, and once it is dropped nothing opens them.
        let after = later(DEFAULT_MAX_AGE.as_secs() as i64 + 1);
        assert!(matches!(rotated.open("hello", CALL, &token, after), Err(TokenError::Expired { .. })));
        assert_eq!(TokenKey::new(b"new secret").open("hello", CALL, &token, later(600)), Err(TokenError::Sealed));
    }

    #[test]
    fn debug_shows_no_secret() {
        let key = TokenKey::new(b"hunter2-secret").with_previous(b"old-hunter2");
        let shown = format!("{key:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("2 key(s)"), "{shown}");
    }
}
