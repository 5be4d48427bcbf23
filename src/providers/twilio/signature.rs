//! `X-Twilio-Signature`: how Twilio signs each webhook request, and how we check it.
//!
//! From <https://www.twilio.com/docs/usage/security#validating-requests>: take the full URL
//! Twilio requested (with its query string); for a POST, append every body parameter, sorted
//! by name, as name then value with no separators; HMAC-SHA1 that with the account's auth
//! token as the key; base64. Twilio's own libraries try the URL both with and without the
//! default port (:443 for https, :80 for http), because what Twilio signed depends on how the
//! webhook URL was written ([`crate::providers::url_variants`]). Pure: no I/O.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The signature Twilio sends for a request to `url` with POST `params` (empty for a GET).
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(mac(auth_token, url, params).finalize().into_bytes())
}

fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Hmac<Sha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// Whether `signature` is Twilio's for `url` and `params`, compared in constant time.
pub fn verify(auth_token: &str, signature: &str, url: &str, params: &[(String, String)]) -> bool {
    let Ok(given) = STANDARD.decode(signature.trim()) else { return false };
    mac(auth_token, url, params).verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// The worked example of Twilio's security docs
    /// (<https://www.twilio.com/docs/usage/security#validating-requests>).
    #[test]
    fn twilio_documented_example() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(sign("12345", url, &params), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        assert!(verify("12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", url, &params));
        let mut reversed = params.clone();
        reversed.reverse();
        assert!(verify("12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", url, &reversed), "order must not matter");
        assert!(!verify("12346", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", url, &params));
        assert!(!verify("12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", "https://mycompany.com/myapp.php", &params));
        assert!(!verify("12345", "not base64!", url, &params));
    }
}
