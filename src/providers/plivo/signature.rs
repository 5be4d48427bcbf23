//! `X-Plivo-Signature-V3`: how Plivo signs each webhook request, as its SDK checks it
//! (plivo-python's `plivo/utils/signature_v3.py`, `validate_v3_signature`). Pure: no I/O.
//!
//! The signed text is the URL rebuilt from its scheme, host and path, then:
//! - for a GET: `?` and every parameter (the query's and the request's), sorted by name and
//!   then value, as `name=value` joined by `&` (nothing when there are none);
//! - for a POST without body parameters: the same, over the query's parameters;
//! - for a POST with body parameters: `?`, the query's sorted `name=value` pairs, a `.` if there
//!   were any, then every body parameter sorted by name (then value) as `namevalue` with no
//!   separators;
//!
//! followed by `.` and the `X-Plivo-Signature-V3-Nonce` header. The signature is the base64 of
//! its HMAC-SHA256 keyed with the auth token. The header may hold several signatures separated
//! by commas (one per token, while a token is rotated); any one matching is enough. Values are
//! compared decoded, as the SDK's `parse_qs` decodes them.
//!
//! The Python SDK hands the text to HMAC after a detour through `chr` of each UTF-8 byte and
//! back to UTF-8, so text beyond ASCII is signed encoded twice; the other SDKs sign it encoded
//! once. Both are accepted ([`verify`]): for ASCII they are the same text.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::providers::comma_items;

/// The text Plivo signs for a request to `url` (with its query string) whose body parameters
/// are `post` (empty for a GET, whose parameters are all in the URL).
pub fn signed_text(method_is_post: bool, url: &str, post: &[(String, String)], nonce: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let base = base.split_once('#').map_or(base, |(b, _)| b);
    let mut query: Vec<(String, String)> =
        form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    query.sort();
    let query_text: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let query_text = query_text.join("&");
    let mut text = base.to_owned();
    let with_body = method_is_post && !post.is_empty();
    if !query_text.is_empty() || with_body {
        text.push('?');
        text.push_str(&query_text);
    }
    if !query_text.is_empty() && with_body {
        text.push('.');
    }
    if with_body {
        let mut sorted: Vec<&(String, String)> = post.iter().collect();
        sorted.sort();
        for (k, v) in sorted {
            text.push_str(k);
            text.push_str(v);
        }
    }
    text.push('.');
    text.push_str(nonce);
    text
}

fn mac(auth_token: &str, text: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(text);
    mac
}

/// The signature Plivo sends for `text` ([`signed_text`]).
pub fn sign(auth_token: &str, text: &str) -> String {
    STANDARD.encode(mac(auth_token, text.as_bytes()).finalize().into_bytes())
}

/// `text` as the Python SDK hands it to HMAC: each UTF-8 byte taken as a character, encoded again.
fn python_bytes(text: &str) -> Vec<u8> {
    text.bytes().map(char::from).collect::<String>().into_bytes()
}

/// Whether any of the comma-separated `header` signatures is Plivo's for `text`, compared in
/// constant time.
pub fn verify(auth_token: &str, header: &str, text: &str) -> bool {
    let twice = (!text.is_ascii()).then(|| python_bytes(text));
    comma_items(header).any(|given| {
        let Ok(given) = STANDARD.decode(given) else { return false };
        mac(auth_token, text.as_bytes()).verify_slice(&given).is_ok()
            || twice.as_ref().is_some_and(|t| mac(auth_token, t).verify_slice(&given).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_signed_text_follows_the_sdk() {
        let post = pairs(&[("To", "+2"), ("CallUUID", "abc"), ("From", "+1")]);
        // POST with body parameters and a query: query, a dot, then the body as namevalue.
        assert_eq!(
            signed_text(true, "https://a.com/plivo/f/gather?t=X&b=2", &post, "N"),
            "https://a.com/plivo/f/gather?b=2&t=X.CallUUIDabcFrom+1To+2.N"
        );
        // POST with body parameters and no query: a bare `?`.
        assert_eq!(
            signed_text(true, "https://a.com/plivo/f", &post, "N"),
            "https://a.com/plivo/f?CallUUIDabcFrom+1To+2.N"
        );
        // A GET: everything is in the query, decoded.
        assert_eq!(
            signed_text(false, "https://a.com/plivo/f?From=%2B1&CallUUID=abc", &[], "N"),
            "https://a.com/plivo/f?CallUUID=abc&From=+1.N"
        );
        assert_eq!(signed_text(false, "https://a.com/plivo/f", &[], "N"), "https://a.com/plivo/f.N");
    }

    #[test]
    fn any_listed_signature_passes_and_forgeries_do_not() {
        let text = signed_text(true, "https://a.com/plivo/f", &pairs(&[("CallUUID", "abc")]), "12345");
        let good = sign("TOKEN", &text);
        assert!(verify("TOKEN", &good, &text));
        assert!(verify("TOKEN", &format!("AAAA,{good}"), &text), "several signatures");
        assert!(!verify("OTHER", &good, &text));
        assert!(!verify("TOKEN", &good, &text.replace("12345", "12346")), "another nonce");
        assert!(!verify("TOKEN", "", &text));
        assert!(!verify("TOKEN", "not base64!", &text));
    }

    #[test]
    fn text_beyond_ascii_is_accepted_signed_once_or_as_the_python_sdk_signs_it() {
        let text = signed_text(true, "https://a.com/plivo/f", &pairs(&[("Speech", "оператор")]), "1");
        let once = sign("T", &text);
        let twice = STANDARD.encode(mac("T", &python_bytes(&text)).finalize().into_bytes());
        assert_ne!(once, twice);
        assert!(verify("T", &once, &text) && verify("T", &twice, &text));
    }
}
