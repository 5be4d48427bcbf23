//! Every provider's dialect against the same flows: every sample flow in `flows/`, through every
//! adapter, driven by the same caller scripts, must reach the same engine outcome (the same
//! words said, in order, and the same hand-over); every document must use only the elements
//! and attributes its provider documents; every provider's signature must be checked as the
//! provider defines it. Requests go straight into the router (no sockets), signed here by each
//! provider's documented algorithm, independently of the server's own code.
//!
//! Adding a provider is one entry in [`dialects`]: how it sends each caller action (a signed
//! request), how to read its documents, and its element/attribute whitelist.

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
/// The Telnyx account's key pair; the server holds only the public half.
const TELNYX_SEED: [u8; 32] = [42; 32];

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

/// How one provider signs a request, given its URL, its form body and the time.
type Sign = fn(url: &str, form: &[(String, String)], body: &[u8], now: i64) -> Vec<(&'static str, String)>;

/// One provider's dialect, as the conformance suite sees it.
struct Dialect {
    name: &'static str,
    /// The credential `Providers::configure` takes.
    secret: String,
    /// The parameter naming the call, the caller, digits, speech and its confidence.
    call_id: &'static str,
    digits: &'static str,
    speech: &'static str,
    confidence: &'static str,
    sign: Sign,
    /// How to read one of its documents.
    read: fn(&str) -> Result<Answer, String>,
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
}

/// The four XML dialects this branch serves.
fn dialects() -> Vec<Dialect> {
    let telnyx_public = STANDARD.encode(SigningKey::from_bytes(&TELNYX_SEED).verifying_key().as_bytes());
    vec![
        Dialect {
            name: "twilio",
            secret: TWILIO_TOKEN.into(),
            call_id: "CallSid",
            digits: "Digits",
            speech: "SpeechResult",
            confidence: "Confidence",
            sign: |url, form, _, _| vec![("X-Twilio-Signature", twilio_signature(TWILIO_TOKEN, url, form))],
            read: read_twiml,
            allowed: TWIML,
            in_gather: &["Say", "Play", "Pause"],
            signs_url: true,
            timestamped: false,
        },
        Dialect {
            name: "signalwire",
            secret: SIGNALWIRE_KEY.into(),
            call_id: "CallSid",
            digits: "Digits",
            speech: "SpeechResult",
            confidence: "Confidence",
            sign: |url, form, _, _| vec![("X-SignalWire-Signature", twilio_signature(SIGNALWIRE_KEY, url, form))],
            read: read_twiml,
            allowed: TWIML,
            in_gather: &["Say", "Play", "Pause"],
            signs_url: true,
            timestamped: false,
        },
        Dialect {
            name: "telnyx",
            secret: telnyx_public,
            call_id: "CallSid",
            digits: "Digits",
            speech: "SpeechResult",
            confidence: "Confidence",
            sign: |_, _, body, now| {
                let t = now.to_string();
                let mut payload = format!("{t}|").into_bytes();
                payload.extend_from_slice(body);
                let sig = SigningKey::from_bytes(&TELNYX_SEED).sign(&payload);
                vec![("telnyx-signature-ed25519", STANDARD.encode(sig.to_bytes())), ("telnyx-timestamp", t)]
            },
            read: read_twiml,
            allowed: TEXML,
            in_gather: &["Say", "Play"],
            signs_url: false,
            timestamped: true,
        },
        Dialect {
            name: "plivo",
            secret: PLIVO_TOKEN.into(),
            call_id: "CallUUID",
            digits: "Digits",
            speech: "Speech",
            confidence: "SpeechConfidenceScore",
            sign: |url, form, _, _| {
                let nonce = "31415926535897932384";
                vec![
                    ("X-Plivo-Signature-V3", plivo_signature(PLIVO_TOKEN, url, form, nonce)),
                    ("X-Plivo-Signature-V3-Nonce", nonce.into()),
                ]
            },
            read: read_plivo,
            allowed: PLIVO,
            in_gather: &["Speak", "Play", "Wait"],
            signs_url: true,
            timestamped: false,
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

/// One server for every dialect, on a fixed clock, with the sample flows.
fn app() -> axum::Router {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (flows, report) = Flows::open(vec![root.join("flows")], root.join("sounds"), Some(dir.path().to_owned()));
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let secrets: Vec<(&str, String)> = dialects().into_iter().map(|d| (d.name, d.secret)).collect();
    let secrets: Vec<(&str, &str)> = secrets.iter().map(|(n, s)| (*n, s.as_str())).collect();
    let providers = Providers::configure(&secrets, true).expect("valid credentials");
    let state =
        AppState::new(flows, TokenKey::new(b"conformance"), providers, Some(PUBLIC.into()), root.join("sounds"))
            .with_clock(Arc::new(now));
    std::mem::forget(dir); // the archive of old versions must outlive the server
    server::app(Arc::new(state))
}

/// POSTs `form` to `url` with `headers`, answering the status and the body.
async fn post(
    app: &mut axum::Router,
    url: &str,
    form: &[(String, String)],
    headers: &[(&str, String)],
) -> (StatusCode, String) {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let path = url.strip_prefix(PUBLIC).unwrap_or(url);
    let mut request = Request::post(path)
        .header("host", "ivr.example.com")
        .header("content-type", "application/x-www-form-urlencoded");
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
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&sent.params).finish();
    let headers = (dialect.sign)(&sent.url, &sent.params, body.as_bytes(), now().timestamp());
    post(app, &sent.url, &sent.params, &headers).await
}

/// Checks a document against the dialect's whitelist.
fn conforms(dialect: &Dialect, answer: &Answer, xml: &str) {
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
    let call_id = format!("{}-call", dialect.name);
    let base = |extra: Vec<(String, String)>| {
        let mut params = vec![
            (dialect.call_id.to_owned(), call_id.clone()),
            ("From".to_owned(), "+79990001122".to_owned()),
            ("To".to_owned(), "+74950000000".to_owned()),
        ];
        params.extend(extra);
        params
    };
    let mut transcript = Vec::new();
    let sent = Sent { url: format!("{PUBLIC}/{}/{flow}", dialect.name), params: base(vec![]) };
    let (status, xml) = send(app, dialect, &sent).await;
    assert_eq!(status, StatusCode::OK, "{} {flow}: {xml}", dialect.name);
    let mut answer = (dialect.read)(&xml).unwrap_or_else(|e| panic!("{}: {e}", dialect.name));
    conforms(dialect, &answer, &xml);
    for act in script {
        transcript.append(&mut answer.heard);
        let (Some(gather), Some(silence)) = (answer.gather.clone(), answer.silence.clone()) else { break };
        let sent = match *act {
            Act::Press(keys) => Sent { url: gather, params: base(vec![(dialect.digits.into(), keys.into())]) },
            Act::Speak(text, confidence) => Sent {
                url: gather,
                params: base(vec![
                    (dialect.speech.into(), text.into()),
                    (dialect.confidence.into(), confidence.to_string()),
                ]),
            },
            Act::Silence => Sent { url: silence, params: base(vec![]) },
            Act::Hangup => Sent { url: gather, params: base(vec![("CallStatus".into(), "completed".into())]) },
        };
        let (status, xml) = send(app, dialect, &sent).await;
        assert_eq!(status, StatusCode::OK, "{} {flow} {act:?}: {xml}", dialect.name);
        answer = (dialect.read)(&xml).unwrap_or_else(|e| panic!("{}: {e}", dialect.name));
        conforms(dialect, &answer, &xml);
        if matches!(act, Act::Hangup) {
            assert!(
                answer.elements.is_empty(),
                "{}: a hang-up is answered with an empty document:\n{xml}",
                dialect.name
            );
            transcript.push("hung up".into());
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
            let reference = &outcomes["twilio"];
            assert!(reference.len() > 1, "{flow} {label}: nothing heard: {reference:?}");
            for (name, outcome) in &outcomes {
                assert_eq!(outcome, reference, "{flow}, {label}: {name} differs from twilio");
            }
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

/// The parameters and form body of a call's first request.
fn ring(dialect: &Dialect) -> (Vec<(String, String)>, String) {
    let params = vec![(dialect.call_id.to_owned(), "sig-call".to_owned()), ("From".to_owned(), "+7999".to_owned())];
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
    (params, body)
}

#[tokio::test]
async fn forged_stale_missing_and_other_url_signatures_are_refused() {
    let mut app = app();
    let at = now().timestamp();
    for dialect in dialects() {
        let url = format!("{PUBLIC}/{}/support", dialect.name);
        let (params, body) = ring(&dialect);
        let good = (dialect.sign)(&url, &params, body.as_bytes(), at);
        assert_eq!(post(&mut app, &url, &params, &good).await.0, StatusCode::OK, "{}: a good signature", dialect.name);

        assert_eq!(post(&mut app, &url, &params, &[]).await.0, StatusCode::FORBIDDEN, "{}: missing", dialect.name);

        let mut forged = good.clone();
        let (_, value) = &mut forged[0];
        let mut bytes = STANDARD.decode(value.as_bytes()).expect("base64");
        bytes[0] ^= 1;
        *value = STANDARD.encode(bytes);
        assert_eq!(post(&mut app, &url, &params, &forged).await.0, StatusCode::FORBIDDEN, "{}: forged", dialect.name);

        let mut tampered = params.clone();
        tampered[1].1 = "+7000".into();
        assert_eq!(
            post(&mut app, &url, &tampered, &good).await.0,
            StatusCode::FORBIDDEN,
            "{}: another body",
            dialect.name
        );

        if dialect.signs_url {
            let other = format!("{PUBLIC}/{}/hello", dialect.name);
            let for_other = (dialect.sign)(&other, &params, body.as_bytes(), at);
            assert_eq!(
                post(&mut app, &url, &params, &for_other).await.0,
                StatusCode::FORBIDDEN,
                "{}: another URL",
                dialect.name
            );
        }
        if dialect.timestamped {
            for skew in [-301, 301] {
                let stale = (dialect.sign)(&url, &params, body.as_bytes(), at + skew);
                assert_eq!(
                    post(&mut app, &url, &params, &stale).await.0,
                    StatusCode::FORBIDDEN,
                    "{}: {skew} s",
                    dialect.name
                );
            }
            let fresh = (dialect.sign)(&url, &params, body.as_bytes(), at - 299);
            assert_eq!(post(&mut app, &url, &params, &fresh).await.0, StatusCode::OK, "{}: 299 s old", dialect.name);
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
    let (params, body) = ring(twilio);
    let signed = (twilio.sign)(&url, &params, body.as_bytes(), now().timestamp());
    assert_eq!(post(&mut app, &url, &params, &signed).await.0, StatusCode::FORBIDDEN);
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
            "plivo" => (format!("{PUBLIC}/plivo/fallback?flow=support"), vec![("CallUUID".to_owned(), "f".to_owned())]),
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
            &Sent { url: format!("{PUBLIC}/{}/hello", dialect.name), params: vec![id.clone()] },
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let menu = (dialect.read)(&xml).expect("a document");
        let gather = menu.gather.expect("a menu");
        let params = vec![id.clone(), (dialect.digits.to_owned(), "0".to_owned())];
        let (_, xml) = send(&mut app, &dialect, &Sent { url: gather, params }).await;
        let queued = (dialect.read)(&xml).expect("a document");
        assert_eq!(queued.handover.as_deref(), Some("queue first_line"), "{}: {xml}", dialect.name);
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
