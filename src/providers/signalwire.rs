//! SignalWire's cXML (LaML): Twilio's TwiML and request parameters, with SignalWire's own
//! signature header and key.
//!
//! Differences from Twilio that matter here, from SignalWire's SDKs (the compatibility API's
//! `RestClient.validateRequest`, and the newer SDKs' `validate_webhook_signature`):
//! - the header is `X-SignalWire-Signature`; cXML requests may carry the Twilio-compatible
//!   `X-Twilio-Signature` instead, and either is accepted;
//! - the key is the project's Signing Key (`SIGNALWIRE_SIGNING_KEY`), not an auth token;
//! - two schemes are valid: Twilio's (base64 HMAC-SHA1 of the URL and the sorted form
//!   parameters), and hex HMAC-SHA1 of the URL followed by the raw body, for bodies that are
//!   not forms. Both are tried on the URL with and without its default port, as Twilio's.
//!
//! The documents are TwiML ([`twiml::TWIML`]); SignalWire documents every verb and attribute
//! they use (<https://developer.signalwire.com/compatibility-api/cxml/voice>).

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::twilio::{self, Check, Twiml, signature, twiml};
use super::{Provider, RawRequest, Refusal};

/// SignalWire, with the project's signing key.
pub fn build(signing_key: Option<&str>) -> Result<Arc<dyn Provider>, String> {
    Ok(Arc::new(Twiml::new("signalwire", twiml::TWIML, Check::SignalWire(signing_key.map(str::to_owned)))))
}

/// Checks `X-SignalWire-Signature` (or `X-Twilio-Signature`) by either scheme.
pub fn verify(key: &str, req: &RawRequest) -> Result<usize, Refusal> {
    req.require_form()?;
    let given = req.header("x-signalwire-signature").or_else(|| req.header("x-twilio-signature")).unwrap_or("");
    twilio::signed_base(req, |url| {
        !given.is_empty() && (signature::verify(key, given, url, &req.form) || verify_raw(key, given, url, &req.body))
    })
    .ok_or_else(|| twilio::refused(req, "X-SignalWire-Signature", !given.is_empty()))
}

/// The hex signature of scheme B: HMAC-SHA1 of the URL followed by the raw body.
pub fn sign_raw(key: &str, url: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(url.as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn verify_raw(key: &str, given: &str, url: &str, body: &[u8]) -> bool {
    let Ok(given) = hex::decode(given.trim()) else { return false };
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(url.as_bytes());
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_body_scheme_round_trips_and_refuses_other_urls() {
        let sig = sign_raw("PSK", "https://a.com/signalwire/x", b"{\"a\":1}");
        assert_eq!(sig.len(), 40);
        assert!(verify_raw("PSK", &sig, "https://a.com/signalwire/x", b"{\"a\":1}"));
        assert!(!verify_raw("PSK", &sig, "https://a.com/signalwire/y", b"{\"a\":1}"));
        assert!(!verify_raw("other", &sig, "https://a.com/signalwire/x", b"{\"a\":1}"));
        assert!(!verify_raw("PSK", "zz", "https://a.com/signalwire/x", b""));
    }
}
