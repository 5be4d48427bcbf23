//! Every provider's dialect against the same flows: every sample flow in `flows/`, through every
//! adapter, driven by the same caller scripts, must reach the same engine outcome (the same
//! words said, in order, and the same hand-over); every document must use only the elements
//! and attributes its provider documents; every provider's signature must be checked as the
//! provider defines it. Requests go straight into the router (no sockets), signed here by each
//! provider's documented algorithm, independently of the server's own code.
//!
//! Adding a provider is one entry in [`dialects`]: its parameter names, how it encodes (`form`,
//! or JSON from dotted names: `vonage_json`, `jambonz_json`) and signs a request, how to read its documents into an
//! [`Answer`], and its element/attribute whitelist; plus its arms in [`left_params`] and in
//! `fallback_urls_take_the_caller_to_a_person` where its queue report or fallback differ.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeZone, Utc};
use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, Mac};
use quick_xml::events::Event as XmlEvent;
use tower::Service as _;

use switchboard::providers::Providers;
use switchboard::server::{self, AppState, Flows, TokenKey};

const PUBLIC: &str = "https://ivr.example.com";
const TWILIO_TOKEN: &str = "twilio-auth-token";
const SIGNALWIRE_KEY: &str = "PSK_signalwire_signing_key";
const PLIVO_TOKEN: &str = "plivo-auth-token";
const VONAGE_SECRET: &str = "vonage-signature-secret";
const JAMBONZ_SECRET: &str = "jambonz-webhook-secret";
/// Names the Telnyx account's key pair; the server holds only the public half.
const TELNYX_KEY: &str = "telnyx-private-key";

/// Wednesday 6 May 2026, 11:00 in Moscow: the sample hotline is open.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 6, 8, 0, 0).single().expect("a valid time")
}

/// What the caller (or the provider on their behalf) does next.
#[derive(Clone, Copy, Debug)]
enum Act {
    Press(&'static str),
    Speak(&'static str, f32),
    Silence,
    Hangup,
}

/// A request a provider sends: to which URL, with which parameters (in the provider's own names).
struct Sent {
    url: String,
    params: Vec<(String, String)>,
}

/// How one provider signs a request with `key`, given its URL, its parameters, its body as
/// sent and the time: the headers to add.
type Sign = fn(key: &str, url: &str, params: &[(String, String)], body: &[u8], now: i64) -> Vec<(&'static str, String)>;

/// How one provider encodes a request's parameters: content type and body. Dotted names
/// (`dtmf.digits`) are for JSON dialects to nest.
type Encode = fn(&[(String, String)]) -> (&'static str, Vec<u8>);

/// A form body, as the XML dialects' providers send.
fn form(params: &[(String, String)]) -> (&'static str, Vec<u8>) {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    ("application/x-www-form-urlencoded", body.into_bytes())
}

/// Puts `value` at the dotted `name` (`dtmf.digits`) of a JSON object.
fn nest(object: &mut serde_json::Map<String, serde_json::Value>, name: &str, value: serde_json::Value) {
    match name.split_once('.') {
        None => {
            object.insert(name.to_owned(), value);
        }
        Some((head, rest)) => {
            let inner = object.entry(head).or_insert_with(|| serde_json::json!({}));
            if let Some(inner) = inner.as_object_mut() {
                nest(inner, rest, value);
            }
        }
    }
}

fn json_body(object: serde_json::Map<String, serde_json::Value>) -> (&'static str, Vec<u8>) {
    ("application/json", serde_json::to_vec(&object).expect("plain JSON"))
}

/// Vonage's JSON, as its webhook reference shows: `speech.results[{text, confidence}]` with
/// the confidence as a string and `dtmf.timed_out` a boolean.
fn vonage_json(params: &[(String, String)]) -> (&'static str, Vec<u8>) {
    use serde_json::Value;
    let mut object = serde_json::Map::new();
    let mut result = serde_json::Map::new();
    for (name, value) in params {
        match name.as_str() {
            "speech.text" => drop(result.insert("text".into(), value.as_str().into())),
            "speech.confidence" => drop(result.insert("confidence".into(), value.as_str().into())),
            "dtmf.timed_out" => nest(&mut object, name, Value::Bool(value == "true")),
            _ => nest(&mut object, name, value.as_str().into()),
        }
    }
    if !result.is_empty() {
        nest(&mut object, "speech.results", Value::Array(vec![Value::Object(result)]));
    }
    json_body(object)
}

/// jambonz's JSON, as its webhook reference shows: `speech.alternatives[{transcript,
/// confidence}]` with a numeric confidence and the `reason` a `gather` ended for.
fn jambonz_json(params: &[(String, String)]) -> (&'static str, Vec<u8>) {
    use serde_json::Value;
    let mut object = serde_json::Map::new();
    let mut alternative = serde_json::Map::new();
    for (name, value) in params {
        match name.as_str() {
            "speech.transcript" => drop(alternative.insert("transcript".into(), value.as_str().into())),
            "speech.confidence" => {
                let confidence: f64 = value.parse().expect("a number");
                drop(alternative.insert("confidence".into(), confidence.into()))
            }
            "digits" => {
                object.insert("digits".into(), value.as_str().into());
                object.entry("reason").or_insert_with(|| "dtmfDetected".into());
            }
            _ => nest(&mut object, name, value.as_str().into()),
        }
    }
    if !alternative.is_empty() {
        object.entry("reason").or_insert_with(|| "speechDetected".into());
        nest(&mut object, "speech.alternatives", Value::Array(vec![Value::Object(alternative)]));
    }
    json_body(object)
}

/// Vonage's signed-webhook JWT, by its documented algorithm: HS256 over base64url header and
/// claims, `payload_hash` the hex SHA-256 of the body; `jti` unique per request.
fn vonage_jwt(key: &str, body: &[u8], iat: i64) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sha2::Digest as _;
    static JTI: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let jti = JTI.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let hash: String = sha2::Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
    let claims = serde_json::json!({
        "iat": iat, "jti": format!("jti-{jti}"), "iss": "Vonage", "api_key": "abcd1234",
        "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", "payload_hash": hash,
    });
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("any key");
    mac.update(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// An Ed25519 key pair named by `key`, for the providers that sign with one.
fn key_pair(key: &str) -> SigningKey {
    use sha2::Digest as _;
    SigningKey::from_bytes(&sha2::Sha256::digest(key.as_bytes()).into())
}

/// One provider's dialect, as the conformance suite sees it.
struct Dialect {
    name: &'static str,
    /// The credential `Providers::configure` takes, and the key the provider signs with (the
    /// same, or the private half of it).
    secret: String,
    key: &'static str,
    /// The parameter naming the call, the caller, digits, speech and its confidence, and the
    /// parameter and value a hang-up sends.
    call_id: &'static str,
    from: &'static str,
    to: &'static str,
    hangup: (&'static str, &'static str),
    /// Where a hang-up is reported: the callback under the flow (Vonage's event URL), or
    /// `None` for the URL the caller was gathered at.
    hangup_to: Option<&'static str>,
    /// The path under the flow its calls start at (Vonage's answer URL).
    answer: &'static str,
    /// What a request after silence carries besides the call.
    silence: &'static [(&'static str, &'static str)],
    digits: &'static str,
    speech: &'static str,
    confidence: &'static str,
    sign: Sign,
    encode: Encode,
    /// How to read one of its documents.
    read: fn(&str) -> Result<Answer, String>,
    /// The JSON dialects' check of a document against their documented fields.
    schema: Option<fn(&serde_json::Value) -> Vec<String>>,
    /// Elements and the attributes each may carry, from the provider's documentation.
    allowed: &'static [(&'static str, &'static [&'static str])],
    /// Elements that may nest in the input-gathering element.
    in_gather: &'static [&'static str],
    /// Whether the signature covers the URL (Telnyx signs the body only).
    signs_url: bool,
    /// Whether the signature carries a timestamp a replay is refused by.
    timestamped: bool,
}

/// What a document tells the caller and where it points back to.
#[derive(Debug, Default)]
struct Answer {
    /// Words said and files played, in order.
    heard: Vec<String>,
    /// Where input goes, and where silence goes.
    gather: Option<String>,
    silence: Option<String>,
    /// The hand-over, if any: `queue NAME`, `dial NUMBER`, `record`, `hangup`.
    handover: Option<String>,
    /// A queue's hold document URL and where the provider reports the caller leaving it.
    wait: Option<String>,
    left: Option<String>,
    /// Every element with its attributes, and its parent, for the whitelist.
    elements: Vec<(String, Vec<String>, String)>,
    /// Whether `#` ends the input and is left out of the digits reported (the JSON dialects;
    /// the XML suite sends it as keyed, which the server strips).
    ends_on_hash: bool,
}

/// Every dialect the server speaks: four XML ones, then Vonage's NCCO and jambonz's verbs.
fn dialects() -> Vec<Dialect> {
    let telnyx_public = STANDARD.encode(key_pair(TELNYX_KEY).verifying_key().as_bytes());
    vec![
        Dialect {
            name: "twilio",
            secret: TWILIO_TOKEN.into(),
            key: TWILIO_TOKEN,
            call_id: "CallSid",
            from: "From",
            to: "To",
            hangup: ("CallStatus", "completed"),
            hangup_to: None,
            answer: "",
            silence: &[],
            digits: "Digits",
            speech: "SpeechResult",
            confidence: "Confidence",
            sign: |key, url, form, _, _| vec![("X-Twilio-Signature", twilio_signature(key, url, form))],
            encode: form,
            read: read_twiml,
            schema: None,
            allowed: TWIML,
            in_gather: &["Say", "Play", "Pause"],
            signs_url: true,
            timestamped: false,
        },
        Dialect {
            name: "signalwire",
            secret: SIGNALWIRE_KEY.into(),
            key: SIGNALWIRE_KEY,
            call_id: "CallSid",
            from: "From",
            to: "To",
            hangup: ("CallStatus", "completed"),
            hangup_to: None,
            answer: "",
            silence: &[],
            digits: "Digits",
            speech: "SpeechResult",
            confidence: "Confidence",
            sign: |key, url, form, _, _| vec![("X-SignalWire-Signature", twilio_signature(key, url, form))],
            encode: form,
            read: read_twiml,
            schema: None,
            allowed: TWIML,
            in_gather: &["Say", "Play", "Pause"],
            signs_url: true,
            timestamped: false,
        },
        Dialect {
            name: "telnyx",
            secret: telnyx_public,
            key: TELNYX_KEY,
            call_id: "CallSid",
            from: "From",
            to: "To",
            hangup: ("CallStatus", "completed"),
            hangup_to: None,
            answer: "",
            silence: &[],
            digits: "Digits",
            speech: "SpeechResult",
            confidence: "Confidence",
            sign: |key, _, _, body, now| {
                let t = now.to_string();
                let mut payload = format!("{t}|").into_bytes();
                payload.extend_from_slice(body);
                let sig = key_pair(key).sign(&payload);
                vec![("telnyx-signature-ed25519", STANDARD.encode(sig.to_bytes())), ("telnyx-timestamp", t)]
            },
            encode: form,
            read: read_twiml,
            schema: None,
            allowed: TEXML,
            in_gather: &["Say", "Play"],
            signs_url: false,
            timestamped: true,
        },
        Dialect {
            name: "plivo",
            secret: PLIVO_TOKEN.into(),
            key: PLIVO_TOKEN,
            call_id: "CallUUID",
            from: "From",
            to: "To",
            hangup: ("CallStatus", "completed"),
            hangup_to: None,
            answer: "",
            silence: &[],
            digits: "Digits",
            speech: "Speech",
            confidence: "SpeechConfidenceScore",
            sign: |key, url, form, _, _| {
                let nonce = "31415926535897932384";
                vec![
                    ("X-Plivo-Signature-V3", plivo_signature(key, url, form, nonce)),
                    ("X-Plivo-Signature-V3-Nonce", nonce.into()),
                ]
            },
            encode: form,
            read: read_plivo,
            schema: None,
            allowed: PLIVO,
            in_gather: &["Speak", "Play", "Wait"],
            signs_url: true,
            timestamped: false,
        },
        Dialect {
            name: "vonage",
            secret: VONAGE_SECRET.into(),
            key: VONAGE_SECRET,
            call_id: "uuid",
            from: "from",
            to: "to",
            hangup: ("status", "completed"),
            hangup_to: Some("event"),
            answer: "/answer",
            silence: &[("dtmf.digits", ""), ("dtmf.timed_out", "true")],
            digits: "dtmf.digits",
            speech: "speech.text",
            confidence: "speech.confidence",
            sign: |key, _, _, body, now| vec![("Authorization", format!("Bearer {}", vonage_jwt(key, body, now)))],
            encode: vonage_json,
            read: read_ncco,
            schema: Some(switchboard::providers::vonage::schema::problems),
            allowed: &[],
            in_gather: &[],
            signs_url: false,
            timestamped: true,
        },
        Dialect {
            name: "jambonz",
            secret: JAMBONZ_SECRET.into(),
            key: JAMBONZ_SECRET,
            call_id: "call_sid",
            from: "from",
            to: "to",
            hangup: ("call_status", "completed"),
            hangup_to: None,
            answer: "",
            silence: &[("reason", "timeout")],
            digits: "digits",
            speech: "speech.transcript",
            confidence: "speech.confidence",
            sign: |key, _, _, body, now| {
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("any key");
                mac.update(format!("{now}.").as_bytes());
                mac.update(body);
                let v1: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
                vec![("Jambonz-Signature", format!("t={now},v1={v1}"))]
            },
            encode: jambonz_json,
            read: read_jambonz,
            schema: Some(switchboard::providers::jambonz::schema::problems),
            allowed: &[],
            in_gather: &[],
            signs_url: false,
            timestamped: true,
        },
    ]
}

/// Twilio's verbs and the attributes used here, from <https://www.twilio.com/docs/voice/twiml>;
/// SignalWire's cXML documents the same (<https://developer.signalwire.com/compatibility-api/cxml/voice>).
const TWIML: &[(&str, &[&str])] = &[
    ("Response", &[]),
    ("Say", &["voice", "language", "loop"]),
    ("Play", &["loop", "digits"]),
    ("Pause", &["length"]),
    (
        "Gather",
        &[
            "action",
            "method",
            "input",
            "timeout",
            "finishOnKey",
            "numDigits",
            "language",
            "hints",
            "speechTimeout",
            "actionOnEmptyResult",
        ],
    ),
    ("Redirect", &["method"]),
    ("Enqueue", &["action", "method", "waitUrl", "waitUrlMethod", "maxQueueSize"]),
    ("Dial", &["action", "method", "timeout", "callerId", "timeLimit", "record"]),
    ("Record", &["action", "method", "timeout", "finishOnKey", "maxLength", "playBeep", "trim"]),
    ("Hangup", &[]),
];

/// TeXML, from <https://developers.telnyx.com/docs/voice/programmable-voice/texml-translator>:
/// `<Gather>` has no `method` and bounds digits with `minDigits`/`maxDigits`.
const TEXML: &[(&str, &[&str])] = &[
    ("Response", &[]),
    ("Say", &["voice", "language", "loop"]),
    ("Play", &["loop"]),
    ("Pause", &["length"]),
    (
        "Gather",
        &[
            "action",
            "input",
            "timeout",
            "finishOnKey",
            "numDigits",
            "minDigits",
            "maxDigits",
            "validDigits",
            "language",
            "hints",
            "speechTimeout",
        ],
    ),
    ("Redirect", &["method"]),
    ("Enqueue", &["action", "method", "waitUrl", "waitUrlMethod"]),
    ("Dial", &["action", "method", "timeout", "callerId", "record"]),
    ("Record", &["action", "method", "timeout", "finishOnKey", "maxLength", "playBeep"]),
    ("Hangup", &[]),
];

/// Plivo XML, from <https://www.plivo.com/docs/voice/xml/> and plivo-python's `plivo/xml`.
const PLIVO: &[(&str, &[&str])] = &[
    ("Response", &[]),
    ("Speak", &["voice", "language", "loop"]),
    ("Play", &["loop"]),
    ("Wait", &["length", "silence", "minSilence", "beep"]),
    (
        "GetInput",
        &[
            "action",
            "method",
            "inputType",
            "executionTimeout",
            "digitEndTimeout",
            "speechEndTimeout",
            "finishOnKey",
            "numDigits",
            "speechModel",
            "hints",
            "language",
            "log",
            "redirect",
            "profanityFilter",
        ],
    ),
    ("Redirect", &["method"]),
    (
        "Conference",
        &[
            "muted",
            "enterSound",
            "exitSound",
            "startConferenceOnEnter",
            "endConferenceOnExit",
            "stayAlone",
            "waitSound",
            "maxMembers",
            "timeLimit",
            "hangupOnStar",
            "action",
            "method",
            "callbackUrl",
            "callbackMethod",
        ],
    ),
    ("Dial", &["action", "method", "timeout", "callerId", "redirect", "timeLimit"]),
    ("Number", &["sendDigits", "sendOnPreanswer"]),
    ("Record", &["action", "method", "fileFormat", "redirect", "timeout", "maxLength", "playBeep", "finishOnKey"]),
    ("Hangup", &["reason", "schedule"]),
];

/// Twilio's documented algorithm: base64 HMAC-SHA1 of the URL and the sorted `namevalue` pairs.
fn twilio_signature(key: &str, url: &str, form: &[(String, String)]) -> String {
    let mut sorted = form.to_vec();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).expect("any key");
    mac.update(url.as_bytes());
    for (k, v) in &sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Plivo's V3 for a POST with a form body, as plivo-python's `validate_v3_signature` builds it:
/// the URL without its query, `?`, the query sorted as `k=v&…` and a `.` if there is one, the
/// body sorted as `kv…`, then `.` and the nonce; base64 HMAC-SHA256 with the auth token.
fn plivo_signature(key: &str, url: &str, form: &[(String, String)], nonce: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    query.sort();
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut text = format!("{base}?{}", query.join("&"));
    if !query.is_empty() {
        text.push('.');
    }
    let mut sorted = form.to_vec();
    sorted.sort();
    for (k, v) in &sorted {
        text.push_str(k);
        text.push_str(v);
    }
    text.push('.');
    text.push_str(nonce);
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("any key");
    mac.update(text.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// An element of a document, with its children.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn parse_xml(xml: &str) -> Result<Element, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack = vec![Element::default()];
    loop {
        let event = reader.read_event().map_err(|e| format!("malformed XML ({e}):\n{xml}"))?;
        let open = |e: &quick_xml::events::BytesStart| Element {
            name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
            attrs: e
                .attributes()
                .filter_map(Result::ok)
                .map(|a| {
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map(|v| v.into_owned())
                        .unwrap_or_default();
                    (String::from_utf8_lossy(a.key.as_ref()).into_owned(), value)
                })
                .collect(),
            ..Element::default()
        };
        match event {
            XmlEvent::Eof => break,
            XmlEvent::Start(e) => stack.push(open(&e)),
            XmlEvent::Empty(e) => {
                let element = open(&e);
                stack.last_mut().ok_or("no parent")?.children.push(element);
            }
            XmlEvent::Text(t) => {
                let text = t.decode().map_err(|e| e.to_string())?;
                stack
                    .last_mut()
                    .ok_or("no parent")?
                    .text
                    .push_str(&quick_xml::escape::unescape(&text).map_err(|e| e.to_string())?);
            }
            XmlEvent::GeneralRef(r) => {
                let name = r.decode().map_err(|e| e.to_string())?;
                let text = quick_xml::escape::unescape(&format!("&{name};")).map_err(|e| e.to_string())?.into_owned();
                stack.last_mut().ok_or("no parent")?.text.push_str(&text);
            }
            XmlEvent::End(_) => {
                let done = stack.pop().ok_or("unbalanced")?;
                stack.last_mut().ok_or("unbalanced")?.children.push(done);
            }
            _ => {}
        }
    }
    let mut root = stack.pop().ok_or("empty")?;
    let response = root.children.pop().ok_or_else(|| format!("no root element:\n{xml}"))?;
    if response.name != "Response" {
        return Err(format!("the root is <{}>, not <Response>", response.name));
    }
    Ok(response)
}

fn walk<'e>(element: &'e Element, parent: &str, out: &mut Vec<(&'e Element, String)>) {
    for child in &element.children {
        out.push((child, parent.to_owned()));
        walk(child, &child.name, out);
    }
}

/// TwiML and TeXML.
fn read_twiml(xml: &str) -> Result<Answer, String> {
    read_xml(xml, &["Say"], "Gather", ("Enqueue", "waitUrl"), |dial| dial.text.trim().to_owned())
}

/// Plivo XML.
fn read_plivo(xml: &str) -> Result<Answer, String> {
    read_xml(xml, &["Speak"], "GetInput", ("Conference", "waitSound"), |dial| {
        dial.children.iter().find(|c| c.name == "Number").map(|n| n.text.trim().to_owned()).unwrap_or_default()
    })
}

fn read_xml(
    xml: &str,
    say: &[&str],
    gather: &str,
    (queue, wait): (&str, &str),
    dialed: fn(&Element) -> String,
) -> Result<Answer, String> {
    let response = parse_xml(xml)?;
    let mut all = Vec::new();
    walk(&response, "Response", &mut all);
    let mut answer = Answer::default();
    for (element, parent) in &all {
        let attrs = element.attrs.iter().map(|(k, _)| k.clone()).collect();
        answer.elements.push((element.name.clone(), attrs, parent.clone()));
        let name = element.name.as_str();
        if say.contains(&name) {
            answer.heard.push(element.text.trim().to_owned());
        } else if name == "Play" {
            answer.heard.push(format!("play {}", element.text.rsplit('/').next().unwrap_or("")));
        }
    }
    for (i, element) in response.children.iter().enumerate() {
        let name = element.name.as_str();
        if name == gather {
            answer.gather = element.attr("action").map(str::to_owned);
            answer.silence =
                response.children.get(i + 1).filter(|e| e.name == "Redirect").map(|e| e.text.trim().to_owned());
        } else if name == queue {
            answer.handover.get_or_insert(format!("queue {}", element.text.trim()));
            answer.wait = element.attr(wait).map(str::to_owned);
            answer.left = element.attr("action").map(str::to_owned);
        } else if name == "Dial" {
            answer.handover.get_or_insert(format!("dial {}", dialed(element)));
        } else if name == "Record" {
            answer.handover.get_or_insert("record".into());
        } else if name == "Hangup" {
            answer.handover.get_or_insert("hangup".into());
        }
    }
    Ok(answer)
}

/// The file a sound URL names, as heard.
fn played(url: &str) -> String {
    format!("play {}", url.rsplit('/').next().unwrap_or(""))
}

fn json_doc(text: &str) -> Result<Vec<serde_json::Value>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("malformed JSON ({e}):\n{text}"))?;
    doc.as_array().cloned().ok_or_else(|| format!("not an array:\n{text}"))
}

fn keys(object: &serde_json::Value) -> Vec<String> {
    object.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

fn first_url(value: &serde_json::Value) -> Option<String> {
    value.get(0).and_then(|u| u.as_str()).map(str::to_owned)
}

/// An NCCO. Vonage dials numbers without `+` (it is put back to compare), and an NCCO that
/// ends without passing the call on hangs up; a pause is an SSML `<break>`, not words.
fn read_ncco(text: &str) -> Result<Answer, String> {
    let actions = json_doc(text)?;
    let mut answer = Answer::default();
    for action in &actions {
        let name = action["action"].as_str().ok_or_else(|| format!("an action without a name:\n{text}"))?;
        answer.elements.push((name.to_owned(), keys(action), String::new()));
        match name {
            "talk" => {
                let words = action["text"].as_str().unwrap_or_default();
                if !words.starts_with("<speak><break") {
                    answer.heard.push(words.trim().to_owned());
                }
            }
            "stream" => answer.heard.push(played(&first_url(&action["streamUrl"]).unwrap_or_default())),
            "input" => {
                answer.gather = first_url(&action["eventUrl"]);
                answer.ends_on_hash = action["dtmf"]["submitOnHash"] == true;
                answer.silence.clone_from(&answer.gather);
            }
            "conversation" => {
                answer.handover.get_or_insert(format!("queue {}", action["name"].as_str().unwrap_or_default()));
            }
            "connect" => {
                let number = action["endpoint"][0]["number"].as_str().unwrap_or_default();
                answer.handover.get_or_insert(format!("dial +{number}"));
            }
            "record" => drop(answer.handover.get_or_insert("record".into())),
            _ => {}
        }
    }
    if !actions.is_empty() && answer.gather.is_none() && answer.handover.is_none() {
        answer.handover = Some("hangup".into());
    }
    Ok(answer)
}

/// jambonz verbs. jambonz has no voicemail: a voicemail node says so and redirects to the
/// recording's hook, read here as the recording (the notice is not part of the flow's words).
fn read_jambonz(text: &str) -> Result<Answer, String> {
    let verbs = json_doc(text)?;
    let mut answer = Answer::default();
    let hear = |verb: &serde_json::Value, answer: &mut Answer| match verb["verb"].as_str() {
        Some("say") => answer.heard.push(verb["text"].as_str().unwrap_or_default().trim().to_owned()),
        Some("play") => answer.heard.push(played(verb["url"].as_str().unwrap_or_default())),
        _ => {}
    };
    for (i, verb) in verbs.iter().enumerate() {
        let name = verb["verb"].as_str().ok_or_else(|| format!("a verb without a name:\n{text}"))?;
        answer.elements.push((name.to_owned(), keys(verb), String::new()));
        let next = verbs.get(i + 1).and_then(|v| v["verb"].as_str());
        match name {
            "say" if next == Some("redirect") => {}
            "say" | "play" => hear(verb, &mut answer),
            "gather" => {
                for nested in ["say", "play"] {
                    if let Some(prompt) = verb.get(nested) {
                        answer.elements.push((nested.to_owned(), keys(prompt), "gather".into()));
                        let mut prompt = prompt.clone();
                        prompt["verb"] = nested.into();
                        hear(&prompt, &mut answer);
                    }
                }
                answer.gather = verb["actionHook"].as_str().map(str::to_owned);
                answer.ends_on_hash = verb["finishOnKey"] == "#";
                answer.silence.clone_from(&answer.gather);
            }
            "enqueue" => {
                answer.handover.get_or_insert(format!("queue {}", verb["name"].as_str().unwrap_or_default()));
                answer.wait = verb["waitHook"].as_str().map(str::to_owned);
                answer.left = verb["actionHook"].as_str().map(str::to_owned);
            }
            "dial" => {
                let number = verb["target"][0]["number"].as_str().unwrap_or_default();
                answer.handover.get_or_insert(format!("dial {number}"));
            }
            "redirect" => drop(answer.handover.get_or_insert("record".into())),
            "hangup" => drop(answer.handover.get_or_insert("hangup".into())),
            _ => {}
        }
    }
    Ok(answer)
}

/// One server for every dialect, on a fixed clock, with the sample flows.
fn app() -> axum::Router {
    app_at(now)
}

/// Sunday 10 May 2026, 03:00 in Moscow: the sample hotline is closed.
fn closed() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 10, 0, 0, 0).single().expect("a valid time")
}

fn app_at(clock: fn() -> DateTime<Utc>) -> axum::Router {
    app_with(clock, |state| state)
}

/// [`app_at`] with its state changed by `tweak` (a call-back desk).
fn app_with(clock: fn() -> DateTime<Utc>, tweak: impl FnOnce(AppState) -> AppState) -> axum::Router {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (flows, report) = Flows::open(vec![root.join("flows")], root.join("sounds"), Some(dir.path().to_owned()));
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let secrets: Vec<(&str, String)> = dialects().into_iter().map(|d| (d.name, d.secret)).collect();
    let secrets: Vec<(&str, &str)> = secrets.iter().map(|(n, s)| (*n, s.as_str())).collect();
    let providers = Providers::configure(&secrets, true).expect("valid credentials");
    let state =
        AppState::new(flows, TokenKey::new(b"conformance"), providers, Some(PUBLIC.into()), root.join("sounds"))
            .with_clock(Arc::new(clock))
            .with_env(status_backend());
    std::mem::forget(dir); // the archive of old versions must outlive the server
    server::app(Arc::new(tweak(state)))
}

/// The sample hotline's request-status backend, as SUPPORT_API_URL: request 99999999 is
/// unknown (404), every other one is in progress. A plain thread answering one request per
/// connection, so the synchronous `app_at` can start it.
fn status_backend() -> switchboard::server::fetch::Env {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let (status, body) = if request_line.contains("/requests/99999999 ") {
                ("404 Not Found", "")
            } else {
                ("200 OK", r#"{"status": "in_progress"}"#)
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = (&stream).write_all(answer.as_bytes());
        }
    });
    Arc::new(move |name| (name == "SUPPORT_API_URL").then(|| base.clone()))
}

/// POSTs `body` to `url` with `headers`, answering the status and the body.
async fn post(
    app: &mut axum::Router,
    url: &str,
    (content_type, body): (&str, Vec<u8>),
    headers: &[(&str, String)],
) -> (StatusCode, String) {
    let path = url.strip_prefix(PUBLIC).unwrap_or(url);
    let mut request = Request::post(path).header("host", "ivr.example.com").header("content-type", content_type);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = app.call(request.body(Body::from(body)).expect("a request")).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// A signed request of `dialect`.
async fn send(app: &mut axum::Router, dialect: &Dialect, sent: &Sent) -> (StatusCode, String) {
    send_at(app, dialect, sent, now()).await
}

/// A request signed around `at`, the server's time.
async fn send_at(app: &mut axum::Router, dialect: &Dialect, sent: &Sent, at: DateTime<Utc>) -> (StatusCode, String) {
    let (content_type, body) = (dialect.encode)(&sent.params);
    // Each request is signed at another second of the last few minutes, as a call's requests
    // are: identical bodies (repeated silence) must not look like replays.
    static SENT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let ago = SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 240;
    let headers = (dialect.sign)(dialect.key, &sent.url, &sent.params, &body, at.timestamp() - ago);
    post(app, &sent.url, (content_type, body), &headers).await
}

/// Checks a document against the dialect's whitelist.
fn conforms(dialect: &Dialect, answer: &Answer, xml: &str) {
    if let Some(schema) = dialect.schema {
        let doc: serde_json::Value = if xml.trim().is_empty() {
            serde_json::json!([])
        } else {
            serde_json::from_str(xml).unwrap_or_else(|e| panic!("{}: {e}:\n{xml}", dialect.name))
        };
        let problems = schema(&doc);
        assert!(problems.is_empty(), "{}: {problems:?}:\n{xml}", dialect.name);
        return;
    }
    for (name, attrs, parent) in &answer.elements {
        let Some((_, allowed)) = dialect.allowed.iter().find(|(n, _)| n == name) else {
            panic!("{}: <{name}> is not a documented element:\n{xml}", dialect.name);
        };
        for attr in attrs {
            assert!(allowed.contains(&attr.as_str()), "{}: <{name} {attr}> is not documented:\n{xml}", dialect.name);
        }
        let gathers = ["Gather", "GetInput"];
        if gathers.contains(&parent.as_str()) {
            assert!(
                dialect.in_gather.contains(&name.as_str()),
                "{}: <{name}> may not nest in <{parent}>:\n{xml}",
                dialect.name
            );
        }
    }
}

/// Runs `script` on `flow` through `dialect`: what the caller heard at each step and the
/// hand-over at the end.
async fn run(app: &mut axum::Router, dialect: &Dialect, flow: &str, script: &[Act]) -> Vec<String> {
    run_at(app, dialect, flow, script, now()).await
}

/// [`run`] on a server whose clock says `at`.
async fn run_at(
    app: &mut axum::Router,
    dialect: &Dialect,
    flow: &str,
    script: &[Act],
    at: DateTime<Utc>,
) -> Vec<String> {
    // Every run is another call, as every provider's call ids are unique.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call_id = format!("{}-call-{}", dialect.name, CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let base = |extra: Vec<(String, String)>| {
        let mut params = vec![
            (dialect.call_id.to_owned(), call_id.clone()),
            (dialect.from.to_owned(), "+79990001122".to_owned()),
            (dialect.to.to_owned(), "+74950000000".to_owned()),
        ];
        params.extend(extra);
        params
    };
    let mut transcript = Vec::new();
    let sent = Sent { url: format!("{PUBLIC}/{}/{flow}{}", dialect.name, dialect.answer), params: base(vec![]) };
    let (status, xml) = send_at(app, dialect, &sent, at).await;
    assert_eq!(status, StatusCode::OK, "{} {flow}: {xml}", dialect.name);
    let mut answer = (dialect.read)(&xml).unwrap_or_else(|e| panic!("{}: {e}", dialect.name));
    conforms(dialect, &answer, &xml);
    for act in script {
        transcript.append(&mut answer.heard);
        let (Some(gather), Some(silence)) = (answer.gather.clone(), answer.silence.clone()) else { break };
        let sent = match *act {
            Act::Press(keys) => {
                let keys = if answer.ends_on_hash { keys.trim_end_matches('#') } else { keys };
                Sent { url: gather, params: base(vec![(dialect.digits.into(), keys.into())]) }
            }
            Act::Speak(text, confidence) => Sent {
                url: gather,
                params: base(vec![
                    (dialect.speech.into(), text.into()),
                    (dialect.confidence.into(), confidence.to_string()),
                ]),
            },
            Act::Silence => Sent {
                url: silence,
                params: base(dialect.silence.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
            },
            Act::Hangup => Sent {
                url: dialect.hangup_to.map_or(gather, |to| format!("{PUBLIC}/{}/{flow}/{to}", dialect.name)),
                params: base(vec![(dialect.hangup.0.into(), dialect.hangup.1.into())]),
            },
        };
        let (status, xml) = send_at(app, dialect, &sent, at).await;
        assert_eq!(status, StatusCode::OK, "{} {flow} {act:?}: {xml}", dialect.name);
        answer = (dialect.read)(&xml).unwrap_or_else(|e| panic!("{}: {e}", dialect.name));
        conforms(dialect, &answer, &xml);
        if matches!(act, Act::Hangup) {
            // An empty document, or (jambonz) just `hangup`.
            assert!(
                answer.heard.is_empty()
                    && answer.gather.is_none()
                    && answer.handover.as_deref().is_none_or(|h| h == "hangup"),
                "{}: a hang-up is answered with nothing to do:\n{xml}",
                dialect.name
            );
            transcript.push("hung up".into());
            return transcript;
        }
    }
    transcript.append(&mut answer.heard);
    transcript.push(answer.handover.unwrap_or_else(|| "listening".into()));
    transcript
}

/// The caller scripts: 0 from every menu (reached by 1s and 2s), silence, an operator phrase,
/// mumbling, a request number ended with `#`, and a hang-up.
fn scripts() -> Vec<(String, Vec<Act>)> {
    let mut scripts = Vec::new();
    for path in [&[][..], &["1"], &["2"], &["1", "1"], &["1", "2"], &["1", "3"], &["2", "1"], &["2", "2"]] {
        let mut acts: Vec<Act> = path.iter().map(|k| Act::Press(k)).collect();
        acts.push(Act::Press("0"));
        scripts.push((format!("0 after {path:?}"), acts));
    }
    scripts.push(("silence".into(), vec![Act::Silence; 8]));
    scripts.push((
        "operator phrase".into(),
        vec![Act::Speak("оператор", 0.9), Act::Press("1"), Act::Speak("operator", 0.9)],
    ));
    scripts.push(("mumbling".into(), vec![Act::Speak("ммм э-э ну", 0.2); 5]));
    scripts.push((
        "request number".into(),
        vec![Act::Press("1"), Act::Press("3"), Act::Press("12345678#"), Act::Press("#")],
    ));
    // Both look the request up (a `fetch` node) inside the webhook request.
    scripts.push((
        "unknown request number".into(),
        vec![Act::Press("1"), Act::Press("3"), Act::Press("99999999#"), Act::Press("1")],
    ));
    scripts.push(("hang-up".into(), vec![Act::Press("1"), Act::Hangup]));
    scripts
}

fn flow_names() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("flows/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".toml").filter(|s| !s.contains('.')).map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// A transcript with consecutive sentences joined: jambonz nests one `say` in a `gather`, so
/// a menu's sentences arrive as one.
fn joined(transcript: &[String]) -> Vec<String> {
    let Some((last, heard)) = transcript.split_last() else { return Vec::new() };
    let mut out: Vec<String> = Vec::new();
    for item in heard {
        let words = |s: &str| !s.starts_with("play ") && s != "hung up";
        match out.last_mut() {
            Some(prev) if words(prev) && words(item) => {
                prev.push(' ');
                prev.push_str(item);
            }
            _ => out.push(item.clone()),
        }
    }
    out.push(last.clone());
    out
}

#[tokio::test]
async fn every_flow_through_every_adapter_reaches_the_same_outcome() {
    let mut app = app();
    let dialects = dialects();
    let flows = flow_names();
    assert!(flows.len() >= 2, "{flows:?}");
    for flow in &flows {
        for (label, script) in scripts() {
            let mut outcomes: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for dialect in &dialects {
                outcomes.insert(dialect.name, run(&mut app, dialect, flow, &script).await);
            }
            let reference = joined(&outcomes["twilio"]);
            assert!(reference.len() > 1, "{flow} {label}: nothing heard: {reference:?}");
            let looked_up = match label.as_str() {
                "request number" => Some("находится в работе"),
                "unknown request number" => Some("не найдена"),
                _ => None,
            };
            if let Some(said) = looked_up.filter(|_| flow == "support") {
                assert!(
                    reference.iter().any(|s| s.contains(said)),
                    "{label}: the backend's answer said: {reference:?}"
                );
            }
            for (name, outcome) in &outcomes {
                assert_eq!(joined(outcome), reference, "{flow}, {label}: {name} differs from twilio");
            }
        }
    }
}

/// Out of hours the support line offers voicemail: a recording (jambonz, which has none, goes
/// on as after an empty one); `hello` ends by hanging up (Vonage by ending the NCCO).
#[tokio::test]
async fn voicemail_and_hang_ups_through_every_adapter() {
    let mut app = app_at(closed);
    for (flow, script, ends) in [("support", &[][..], "record"), ("hello", &[Act::Press("1")][..], "hangup")] {
        let mut outcomes: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for dialect in &dialects() {
            outcomes.insert(dialect.name, joined(&run_at(&mut app, dialect, flow, script, closed()).await));
        }
        let reference = &outcomes["twilio"];
        assert_eq!(reference.last().map(String::as_str), Some(ends), "{flow}: {reference:?}");
        for (name, outcome) in &outcomes {
            assert_eq!(outcome, reference, "{flow}: {name} differs from twilio");
        }
    }
}

#[tokio::test]
async fn zero_reaches_a_person_and_silence_ends_with_one() {
    let mut app = app();
    for dialect in dialects() {
        let zero = run(&mut app, &dialect, "support", &[Act::Press("0")]).await;
        assert!(
            zero.last().is_some_and(|h| h.starts_with("queue ") || h.starts_with("dial ")),
            "{}: {zero:?}",
            dialect.name
        );
        let silent = run(&mut app, &dialect, "support", &[Act::Silence; 8]).await;
        assert!(
            silent.last().is_some_and(|h| h.starts_with("queue ") || h.starts_with("dial ")),
            "{}: {silent:?}",
            dialect.name
        );
    }
}

/// The parameters of a call's first request.
fn ring(dialect: &Dialect) -> Vec<(String, String)> {
    vec![(dialect.call_id.to_owned(), "sig-call".to_owned()), (dialect.from.to_owned(), "+7999".to_owned())]
}

#[tokio::test]
async fn forged_stale_missing_replayed_and_other_url_signatures_are_refused() {
    let app = app();
    let at = now().timestamp();
    for dialect in dialects() {
        let url = format!("{PUBLIC}/{}/support", dialect.name);
        let params = ring(&dialect);
        let encoded = (dialect.encode)(&params);
        let sign = |key: &str, url: &str, at: i64| (dialect.sign)(key, url, &params, &encoded.1, at);
        let status = |headers: Vec<(&'static str, String)>| {
            let encoded = encoded.clone();
            let url = url.clone();
            let mut app = app.clone();
            async move { post(&mut app, &url, encoded, &headers).await.0 }
        };
        let name = dialect.name;
        assert_eq!(status(sign(dialect.key, &url, at)).await, StatusCode::OK, "{name}: a good signature");
        assert_eq!(status(vec![]).await, StatusCode::FORBIDDEN, "{name}: missing");
        assert_eq!(status(sign("not the key", &url, at)).await, StatusCode::FORBIDDEN, "{name}: forged");

        let mut tampered = params.clone();
        tampered[1].1 = "+7000".into();
        let good = sign(dialect.key, &url, at);
        let another_body = post(&mut app.clone(), &url, (dialect.encode)(&tampered), &good).await.0;
        assert_eq!(another_body, StatusCode::FORBIDDEN, "{name}: another body");

        if dialect.signs_url {
            let other = format!("{PUBLIC}/{name}/hello");
            assert_eq!(status(sign(dialect.key, &other, at)).await, StatusCode::FORBIDDEN, "{name}: another URL");
        }
        if dialect.timestamped {
            for skew in [-301, 301] {
                assert_eq!(status(sign(dialect.key, &url, at + skew)).await, StatusCode::FORBIDDEN, "{name}: {skew} s");
            }
            assert_eq!(status(sign(dialect.key, &url, at - 299)).await, StatusCode::OK, "{name}: 299 s old");
        }
        if matches!(name, "vonage" | "jambonz") {
            // Their signed requests are good once: the same request again is a replay.
            let once = sign(dialect.key, &url, at - 7);
            assert_eq!(status(once.clone()).await, StatusCode::OK, "{name}: first use");
            assert_eq!(status(once).await, StatusCode::FORBIDDEN, "{name}: a replay");
        }
    }
}

#[tokio::test]
async fn a_provider_without_credentials_is_refused_and_not_listed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (flows, _) = Flows::open(vec![root.join("flows")], root.join("sounds"), None);
    let providers = Providers::configure(&[("plivo", PLIVO_TOKEN)], true).expect("valid");
    let state = AppState::new(flows, TokenKey::new(b"x"), providers, Some(PUBLIC.into()), root.join("sounds"))
        .with_clock(Arc::new(now));
    let mut app = server::app(Arc::new(state));
    let twilio = &dialects()[0];
    let url = format!("{PUBLIC}/twilio/support");
    let params = ring(twilio);
    let (content_type, body) = (twilio.encode)(&params);
    let signed = (twilio.sign)(twilio.key, &url, &params, &body, now().timestamp());
    assert_eq!(post(&mut app, &url, (content_type, body), &signed).await.0, StatusCode::FORBIDDEN);
    let listing = app.call(Request::get("/flows").body(Body::empty()).expect("a request")).await.expect("infallible");
    let bytes = axum::body::to_bytes(listing.into_body(), 1 << 20).await.expect("a body");
    let listing: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
    let support = listing.as_array().and_then(|l| l.iter().find(|f| f["name"] == "support")).expect("support listed");
    assert_eq!(support["webhooks"], serde_json::json!({"plivo": "/plivo/support"}));
}

#[tokio::test]
async fn fallback_urls_take_the_caller_to_a_person() {
    let mut app = app();
    for dialect in dialects() {
        let (url, params) = match dialect.name {
            "plivo" | "vonage" | "jambonz" => {
                let mut params = vec![(dialect.call_id.to_owned(), "f".to_owned())];
                if dialect.name == "vonage" {
                    params.push(("reason".into(), "timeout".into()));
                }
                (format!("{PUBLIC}/{}/fallback?flow=support", dialect.name), params)
            }
            name => (
                format!("{PUBLIC}/{name}/fallback"),
                vec![
                    ("CallSid".to_owned(), "f".to_owned()),
                    ("ErrorCode".to_owned(), "11200".to_owned()),
                    ("ErrorUrl".to_owned(), format!("{PUBLIC}/{name}/support/gather?t=x")),
                ],
            ),
        };
        let (status, xml) = send(&mut app, &dialect, &Sent { url, params }).await;
        assert_eq!(status, StatusCode::OK, "{}: {xml}", dialect.name);
        let answer = (dialect.read)(&xml).expect("a document");
        conforms(&dialect, &answer, &xml);
        assert!(answer.handover.as_deref().is_some_and(|h| h.starts_with("queue ")), "{}: {xml}", dialect.name);
    }
}

/// Each provider's report that the caller left the queue: bridged to an agent, or refused.
fn left_params(dialect: &Dialect, refused: bool) -> Vec<(String, String)> {
    match dialect.name {
        // A conference never refuses a member; Plivo reports only that the caller left.
        "plivo" => vec![],
        "jambonz" => vec![("queue_result".into(), if refused { "error" } else { "bridged" }.into())],
        _ => vec![("QueueResult".into(), if refused { "queue-full" } else { "bridged" }.into())],
    }
}

#[tokio::test]
async fn queued_callers_hear_the_wait_and_leave_through_every_adapter() {
    let mut app = app();
    for dialect in dialects() {
        let id = (dialect.call_id.to_owned(), "queued".to_owned());
        let (status, xml) = send(
            &mut app,
            &dialect,
            &Sent { url: format!("{PUBLIC}/{}/hello{}", dialect.name, dialect.answer), params: vec![id.clone()] },
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let menu = (dialect.read)(&xml).expect("a document");
        let gather = menu.gather.expect("a menu");
        let params = vec![id.clone(), (dialect.digits.to_owned(), "0".to_owned())];
        let (_, xml) = send(&mut app, &dialect, &Sent { url: gather, params }).await;
        let queued = (dialect.read)(&xml).expect("a document");
        assert_eq!(queued.handover.as_deref(), Some("queue first_line"), "{}: {xml}", dialect.name);
        if dialect.name == "vonage" {
            // Vonage has no queue: a named conversation, which never asks what to play or
            // reports the caller leaving.
            assert!(queued.wait.is_none() && queued.left.is_none(), "{xml}");
            continue;
        }
        let (wait, left) = (queued.wait.expect("a wait URL"), queued.left.expect("a leave URL"));
        assert!(wait.contains("t="), "{}: the wait URL carries the state: {wait}", dialect.name);

        let (status, xml) = send(&mut app, &dialect, &Sent { url: wait, params: vec![id.clone()] }).await;
        assert_eq!(status, StatusCode::OK, "{}: {xml}", dialect.name);
        let hold = (dialect.read)(&xml).expect("a document");
        conforms(&dialect, &hold, &xml);
        assert!(hold.gather.is_none() && hold.handover.is_none(), "{}: only words and hold: {xml}", dialect.name);
        assert!(!hold.elements.is_empty(), "{}: something to hear: {xml}", dialect.name);

        let mut params = vec![id.clone()];
        params.extend(left_params(&dialect, false));
        let (_, xml) = send(&mut app, &dialect, &Sent { url: left.clone(), params }).await;
        let done = (dialect.read)(&xml).expect("a document");
        assert_eq!(done.handover.as_deref(), Some("hangup"), "{}: bridged and done: {xml}", dialect.name);

        if dialect.name != "plivo" {
            let mut params = vec![id.clone()];
            params.extend(left_params(&dialect, true));
            let (_, xml) = send(&mut app, &dialect, &Sent { url: left, params }).await;
            let refused = (dialect.read)(&xml).expect("a document");
            conforms(&dialect, &refused, &xml);
            assert!(
                !refused.heard.is_empty() && refused.handover.is_some(),
                "{}: told and handled: {xml}",
                dialect.name
            );
        }
    }
}

/// Monday 18 May 2026, 12:00 in Moscow: the busiest hour, when the sample offers a call-back.
fn busiest_hour() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 18, 9, 0, 0).single().expect("a valid time")
}

/// Russian, technical help, the first line's call-back offer, then 1: "call me back".
const CALL_BACK: [Act; 4] = [Act::Press("1"), Act::Press("2"), Act::Press("2"), Act::Press("1")];

#[tokio::test]
async fn a_call_back_is_booked_through_every_adapter_and_a_lost_one_queues_the_caller() {
    use switchboard::events::callbacks::Status;
    use switchboard::server::callbacks::Desk;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let db = switchboard::events::DbUrl::Sqlite(dir.path().join("calls.db"));
    let desk = Desk::new(db.clone(), None);
    let mut app = app_with(busiest_hour, |state| state.with_callbacks(desk));
    let mut lost = app_at(busiest_hour); // no database: every booking is lost
    for dialect in dialects() {
        let transcript = run_at(&mut app, &dialect, "support", &CALL_BACK, busiest_hour()).await;
        let said = joined(&transcript).join(" | ");
        assert!(said.contains("Мы перезвоним вам"), "{}: {said}", dialect.name);
        assert_eq!(transcript.last().map(String::as_str), Some("hangup"), "{}: {said}", dialect.name);

        let transcript = run_at(&mut lost, &dialect, "support", &CALL_BACK, busiest_hour()).await;
        let said = joined(&transcript).join(" | ");
        assert!(!said.contains("Мы перезвоним вам"), "{}: no promise that cannot be kept: {said}", dialect.name);
        assert_eq!(transcript.last().map(String::as_str), Some("queue first_line"), "{}: {said}", dialect.name);
    }
    let booked = tokio::task::spawn_blocking(move || {
        let mut store = switchboard::events::Store::open(&db).expect("the database opens").expect("a database");
        store.callbacks(Status::Pending, Some("first_line")).expect("the call-backs read")
    })
    .await
    .expect("read");
    let mut providers: Vec<&str> = booked.iter().map(|c| c.booking.provider.as_str()).collect();
    providers.sort_unstable();
    let mut expected: Vec<&str> = dialects().iter().map(|d| d.name).collect();
    expected.sort_unstable();
    assert_eq!(providers, expected, "one booking per adapter");
    for c in &booked {
        assert_eq!(
            (c.booking.number.as_str(), c.booking.language.as_str()),
            ("+79990001122", "ru"),
            "{}",
            c.booking.provider
        );
    }
}

#[tokio::test]
async fn after_a_bridged_queue_the_flow_asks_for_a_rating_through_every_adapter_that_reports_it() {
    let mut app = app();
    for dialect in dialects() {
        let id = (dialect.call_id.to_owned(), format!("{}-rated", dialect.name));
        let start =
            Sent { url: format!("{PUBLIC}/{}/support{}", dialect.name, dialect.answer), params: vec![id.clone()] };
        let (_, xml) = send(&mut app, &dialect, &start).await;
        let gather = (dialect.read)(&xml).expect("a document").gather.expect("the language menu");
        let (_, xml) = send(
            &mut app,
            &dialect,
            &Sent { url: gather, params: vec![id.clone(), (dialect.digits.into(), "1".into())] },
        )
        .await;
        let gather = (dialect.read)(&xml).expect("a document").gather.expect("the main menu");
        let (_, xml) = send(
            &mut app,
            &dialect,
            &Sent { url: gather, params: vec![id.clone(), (dialect.digits.into(), "0".into())] },
        )
        .await;
        let queued = (dialect.read)(&xml).expect("a document");
        assert_eq!(queued.handover.as_deref(), Some("queue first_line"), "{}: {xml}", dialect.name);
        let Some(left) = queued.left else {
            // Vonage's conversation reports nothing when the agent leaves (`asks_after_queue`
            // is false): the call ends with the conversation, and the flow works up to it.
            assert_eq!(dialect.name, "vonage", "only Vonage has no leave URL: {xml}");
            continue;
        };
        let mut params = vec![id.clone()];
        params.extend(left_params(&dialect, false));
        let (status, xml) = send(&mut app, &dialect, &Sent { url: left, params }).await;
        assert_eq!(status, StatusCode::OK, "{}: {xml}", dialect.name);
        let rating = (dialect.read)(&xml).expect("a document");
        conforms(&dialect, &rating, &xml);
        assert!(
            rating.heard.iter().any(|h| h.contains("оцените разговор") || h.contains("after_call")),
            "{}: the rating menu: {xml}",
            dialect.name
        );
        let gather = rating.gather.unwrap_or_else(|| panic!("{}: the rating waits for a key: {xml}", dialect.name));
        let (_, xml) = send(
            &mut app,
            &dialect,
            &Sent { url: gather, params: vec![id.clone(), (dialect.digits.into(), "5".into())] },
        )
        .await;
        let thanks = (dialect.read)(&xml).expect("a document");
        assert_eq!(thanks.handover.as_deref(), Some("hangup"), "{}: thanked and done: {xml}", dialect.name);
    }
}
