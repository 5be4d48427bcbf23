//! The webhook server speaking the two JSON dialects, Vonage (NCCO) and jambonz, for real:
//! bound to 127.0.0.1:0, every request signed as the provider signs it, following the URLs in
//! the documents it answers, and every document checked against the provider's published
//! fields (`providers::{vonage, jambonz}::schema`).

// The Twilio harness's folders and clock; its Twilio driver is compiled along but not used.
#[allow(dead_code)]
mod common {
    pub mod server;
    pub mod twilio;
}

use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::server::{Dirs, PUBLIC, SECRET, open_hours};
use serde_json::{Value, json};
use switchboard::providers::Providers;
use switchboard::providers::jambonz::{self, signature as jambonz_signature};
use switchboard::providers::vonage::{self, signature as vonage_signature};
use switchboard::server::{self, AppState, Flows, TokenKey};

const VONAGE_SECRET: &str = "vonage-signature-secret";
const JAMBONZ_SECRET: &str = "jambonz-webhook-secret";

/// The server with Vonage's and jambonz's credentials, on a fixed clock.
struct Server {
    local: String,
    client: reqwest::Client,
    now: DateTime<Utc>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Makes each signed request unique, as the providers' are.
    nonce: std::sync::atomic::AtomicU64,
}

/// One answer: status, content type and body.
struct Reply {
    status: u16,
    content_type: String,
    body: String,
}

impl Reply {
    /// The JSON document of a 200 answer, checked against the provider's documented fields.
    #[track_caller]
    fn doc(&self, problems: fn(&Value) -> Vec<String>) -> Value {
        assert_eq!(self.status, 200, "{}", self.body);
        assert!(self.content_type.starts_with("application/json"), "{}", self.content_type);
        let doc: Value = serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body));
        let found = problems(&doc);
        assert!(found.is_empty(), "{found:#?}\n{doc:#}");
        doc
    }
}

impl Server {
    async fn start(dirs: &Dirs) -> Server {
        let now = open_hours();
        let (flows, report) = Flows::open(vec![dirs.flows.clone()], dirs.sounds.clone(), Some(dirs.data.clone()));
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        let providers = Providers::configure(&[("vonage", VONAGE_SECRET), ("jambonz", JAMBONZ_SECRET)], true)
            .expect("valid credentials");
        let state = AppState::new(flows, TokenKey::new(SECRET), providers, Some(PUBLIC.into()), dirs.sounds.clone())
            .with_clock(Arc::new(move || now));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let local = format!("http://{}", listener.local_addr().expect("an address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, Arc::new(state), async move {
            let _ = stopped.await;
        }));
        Server { local, client: reqwest::Client::new(), now, stop, task, nonce: 0.into() }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("the server task ends").expect("the server ends cleanly");
    }

    /// `url` (public, as written in our documents) on the test's local address.
    fn local_url(&self, url: &str) -> String {
        url.replacen(PUBLIC, &self.local, 1)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Reply { status, content_type, body: response.text().await.expect("a body") }
    }

    /// The JWT Vonage sends for `payload`, issued `age_s` ago.
    fn vonage_token(&self, payload: vonage_signature::Payload<'_>, age_s: i64) -> String {
        let jti = self.nonce.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let claims = vonage_signature::Claims {
            iat: self.now.timestamp() - age_s,
            jti: Some(format!("jti-{jti}")),
            iss: Some("Vonage".into()),
            payload_hash: Some(vonage_signature::payload_hash(payload)),
            api_key: Some("a1b2c3d".into()),
            application_id: Some("aaaaaaaa-bbbb-cccc-dddd-0123456789ab".into()),
            exp: None,
        };
        vonage_signature::sign(VONAGE_SECRET, &claims)
    }

    /// A signed POST of `body` to a Vonage callback URL.
    async fn vonage_post(&self, url: &str, body: &Value) -> Reply {
        let body = serde_json::to_vec(body).expect("serialises");
        let token = self.vonage_token(vonage_signature::Payload::Body(&body), 1);
        self.vonage_post_with(url, Some(&format!("Bearer {token}")), body).await
    }

    async fn vonage_post_with(&self, url: &str, auth: Option<&str>, body: Vec<u8>) -> Reply {
        let mut request = self.client.post(self.local_url(url)).header("content-type", "application/json").body(body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        self.send(request).await
    }

    /// Vonage's GET answer webhook for a call from `from`, signed over its query.
    async fn vonage_answer(&self, flow: &str, uuid: &str) -> Reply {
        let query = format!("to=74950000001&from=79161234567&uuid={uuid}&conversation_uuid=CON-{uuid}");
        let token = self.vonage_token(vonage_signature::Payload::Query(&query), 1);
        let url = format!("{}/vonage/{flow}/answer?{query}", self.local);
        self.send(self.client.get(url).header("authorization", format!("Bearer {token}"))).await
    }

    /// A jambonz POST of `body`, signed a little while ago: each request of a call at another
    /// second, as on a real call (the server's clock is fixed; a signature is accepted once).
    async fn jambonz_post(&self, url: &str, body: &Value) -> Reply {
        let body = serde_json::to_vec(body).expect("serialises");
        let step = self.nonce.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = self.now.timestamp() - 1 - i64::try_from(step % 200).expect("small");
        let header = jambonz_signature::sign(JAMBONZ_SECRET, t, &body);
        self.jambonz_post_with(url, Some(&header), body).await
    }

    async fn jambonz_post_with(&self, url: &str, header: Option<&str>, body: Vec<u8>) -> Reply {
        let mut request = self.client.post(self.local_url(url)).header("content-type", "application/json").body(body);
        if let Some(header) = header {
            request = request.header("jambonz-signature", header);
        }
        self.send(request).await
    }
}

/// Everything a document says or plays (sound files by name), nested prompts included.
fn said(doc: &Value) -> String {
    let mut out = Vec::new();
    for item in doc.as_array().into_iter().flatten() {
        let texts = [&item["text"], &item["say"]["text"]];
        let sounds = [&item["streamUrl"][0], &item["url"], &item["play"]["url"]];
        for text in texts.into_iter().chain(sounds) {
            if let Some(t) = text.as_str().filter(|t| !t.starts_with("<speak>")) {
                out.push(t.rsplit('/').next().unwrap_or(t).to_owned());
            }
        }
    }
    out.join("\n")
}

fn find<'a>(doc: &'a Value, key: &str, name: &str) -> Option<&'a Value> {
    doc.as_array()?.iter().find(|item| item[key] == name)
}

/// Vonage's input result for keys, or for silence (empty digits, timed out).
fn vonage_keys(uuid: &str, digits: &str) -> Value {
    json!({"uuid": uuid, "conversation_uuid": format!("CON-{uuid}"), "from": "79161234567", "to": "74950000001",
        "dtmf": {"digits": digits, "timed_out": digits.is_empty()}, "timestamp": "2026-05-06T08:00:00.000Z"})
}

fn vonage_input_url(doc: &Value) -> String {
    let input = find(doc, "action", "input").unwrap_or_else(|| panic!("no input: {doc:#}"));
    input["eventUrl"][0].as_str().expect("an eventUrl").to_owned()
}

#[tokio::test]
async fn vonage_call_reaches_the_operator_by_zero_by_silence_and_by_speech() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs).await;
    let problems = vonage::schema::problems;

    let start = server.vonage_answer("support", "u-zero").await.doc(problems);
    assert!(said(&start).contains("welcome.wav"), "{start:#}");
    let url = vonage_input_url(&start);
    assert!(url.starts_with(&format!("{PUBLIC}/vonage/support/gather?t=")), "{url}");
    let queued = server.vonage_post(&url, &vonage_keys("u-zero", "0")).await.doc(problems);
    let conversation = find(&queued, "action", "conversation").unwrap_or_else(|| panic!("not queued: {queued:#}"));
    assert_eq!((&conversation["name"], &conversation["startOnEnter"]), (&json!("first_line"), &json!(false)));
    assert!(said(&queued).contains("operator.ru.wav"), "{queued:#}");

    // Silence: re-prompts, then the timeout fallback to the operator.
    let mut doc = server.vonage_answer("support", "u-silent").await.doc(problems);
    doc = server.vonage_post(&vonage_input_url(&doc), &vonage_keys("u-silent", "1")).await.doc(problems);
    for _ in 0..2 {
        doc = server.vonage_post(&vonage_input_url(&doc), &vonage_keys("u-silent", "")).await.doc(problems);
        assert!(said(&doc).contains("no_input.ru.wav"), "{doc:#}");
    }
    doc = server.vonage_post(&vonage_input_url(&doc), &vonage_keys("u-silent", "")).await.doc(problems);
    assert!(find(&doc, "action", "conversation").is_some(), "silence did not reach a queue: {doc:#}");

    // Speech, as Vonage reports it (confidence as a string).
    let mut doc = server.vonage_answer("support", "u-speech").await.doc(problems);
    doc = server.vonage_post(&vonage_input_url(&doc), &vonage_keys("u-speech", "1")).await.doc(problems);
    let speech = json!({"uuid": "u-speech", "dtmf": {"digits": null, "timed_out": false},
        "speech": {"results": [{"confidence": "0.91", "text": "Я хочу поговорить с оператором"}]}});
    doc = server.vonage_post(&vonage_input_url(&doc), &speech).await.doc(problems);
    assert!(find(&doc, "action", "conversation").is_some(), "speech did not reach a queue: {doc:#}");

    // A request number ended with `#`: Vonage submits on hash and leaves it out of the digits.
    let mut doc = server.vonage_answer("support", "u-ticket").await.doc(problems);
    for key in ["1", "3"] {
        doc = server.vonage_post(&vonage_input_url(&doc), &vonage_keys("u-ticket", key)).await.doc(problems);
    }
    let dtmf = &find(&doc, "action", "input").expect("the ticket input")["dtmf"];
    assert_eq!((&dtmf["submitOnHash"], &dtmf["maxDigits"]), (&json!(true), &json!(10)), "{doc:#}");
    doc = server.vonage_post(&vonage_input_url(&doc), &vonage_keys("u-ticket", "1234567")).await.doc(problems);
    assert!(said(&doc).contains("сейчас не получается узнать статус заявки"), "no status backend: {doc:#}");
    server.stop().await;
}

#[tokio::test]
async fn vonage_refuses_forged_stale_missing_replayed_and_other_payload_requests() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs).await;
    let start = server.vonage_answer("support", "u-sec").await.doc(vonage::schema::problems);
    let url = vonage_input_url(&start);
    let body = serde_json::to_vec(&vonage_keys("u-sec", "0")).expect("serialises");
    let payload = vonage_signature::Payload::Body(&body);

    let missing = server.vonage_post_with(&url, None, body.clone()).await;
    assert_eq!(missing.status, 403, "{}", missing.body);
    let claims = vonage_signature::Claims {
        iat: server.now.timestamp(),
        jti: Some("forged".into()),
        payload_hash: Some(vonage_signature::payload_hash(payload)),
        ..Default::default()
    };
    let forged = format!("Bearer {}", vonage_signature::sign("not the secret", &claims));
    assert_eq!(server.vonage_post_with(&url, Some(&forged), body.clone()).await.status, 403);
    let stale = format!("Bearer {}", server.vonage_token(payload, vonage_signature::TOLERANCE_S + 1));
    assert_eq!(server.vonage_post_with(&url, Some(&stale), body.clone()).await.status, 403);
    let other = serde_json::to_vec(&vonage_keys("u-sec", "1")).expect("serialises");
    let for_other = format!("Bearer {}", server.vonage_token(vonage_signature::Payload::Body(&other), 0));
    assert_eq!(server.vonage_post_with(&url, Some(&for_other), body.clone()).await.status, 403);
    // A GET answer signed as if it had an empty body is not signed for its query.
    let query = "to=1&from=2&uuid=u-get";
    let empty = server.vonage_token(vonage_signature::Payload::Body(b""), 0);
    let get = server.client.get(format!("{}/vonage/support/answer?{query}", server.local));
    assert_eq!(server.send(get.header("authorization", format!("Bearer {empty}"))).await.status, 403);

    let genuine = format!("Bearer {}", server.vonage_token(payload, 0));
    let first = server.vonage_post_with(&url, Some(&genuine), body.clone()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let replayed = server.vonage_post_with(&url, Some(&genuine), body).await;
    assert_eq!(replayed.status, 403, "a replay: {}", replayed.body);
    server.stop().await;
}

#[tokio::test]
async fn vonage_events_and_transfer_progress_are_acknowledged() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs).await;
    let event = json!({"uuid": "u-ev", "conversation_uuid": "CON-u-ev", "status": "completed", "duration": "42",
        "direction": "inbound", "timestamp": "2026-05-06T08:00:00.000Z"});
    let ack = server.vonage_post(&format!("{PUBLIC}/vonage/support/event"), &event).await;
    assert_eq!((ack.status, ack.body.as_str()), (200, ""), "the event webhook needs no NCCO");
    let unknown = server.vonage_post(&format!("{PUBLIC}/vonage/support/wait"), &event).await;
    assert_eq!(unknown.status, 400, "Vonage never requests a wait URL: {}", unknown.body);
    server.stop().await;
}

/// jambonz's call attributes, with `extra` fields for the hook.
fn jambonz_body(call_sid: &str, extra: Value) -> Value {
    let mut body = json!({"call_sid": call_sid, "direction": "inbound", "from": "+79161234567",
        "to": "+74950000001", "call_status": "in-progress", "account_sid": "acct", "application_sid": "app"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    body
}

fn jambonz_hook(doc: &Value, verb: &str, hook: &str) -> String {
    let item = find(doc, "verb", verb).unwrap_or_else(|| panic!("no {verb}: {doc:#}"));
    item[hook].as_str().unwrap_or_else(|| panic!("no {hook}: {item}")).to_owned()
}

#[tokio::test]
async fn jambonz_call_queues_hears_the_wait_and_leaves_bridged() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs).await;
    let problems = jambonz::schema::problems;
    let digits = |d: &str| json!({"reason": "dtmfDetected", "digits": d});

    let start = server.jambonz_post(&format!("{PUBLIC}/jambonz/support"), &jambonz_body("j-1", json!({}))).await;
    let start = start.doc(problems);
    assert!(said(&start).contains("welcome.wav"), "{start:#}");
    let gather = jambonz_hook(&start, "gather", "actionHook");
    assert!(gather.starts_with(&format!("{PUBLIC}/jambonz/support/gather?t=")), "{gather}");
    let queued = server.jambonz_post(&gather, &jambonz_body("j-1", digits("0"))).await.doc(problems);
    let enqueue = find(&queued, "verb", "enqueue").unwrap_or_else(|| panic!("not queued: {queued:#}"));
    assert_eq!(enqueue["name"], "first_line");
    let wait = jambonz_hook(&queued, "enqueue", "waitHook");
    let left = jambonz_hook(&queued, "enqueue", "actionHook");

    let position = json!({"queue_sid": "queue:acct:first_line", "queue_time": 5, "queue_size": 3, "queue_position": 2});
    let hold = server.jambonz_post(&wait, &jambonz_body("j-1", position)).await.doc(problems);
    let verbs = hold.as_array().expect("an array");
    assert!(!verbs.is_empty(), "an empty waitHook answer would stop the hold");
    for verb in verbs {
        assert!(["say", "play", "pause", "leave"].contains(&verb["verb"].as_str().unwrap_or("")), "{hold:#}");
    }
    let bridged = json!({"queue_sid": "queue:acct:first_line", "queue_time": 40, "queue_result": "bridged"});
    let after = server.jambonz_post(&left, &jambonz_body("j-1", bridged)).await;
    assert_eq!(after.status, 200, "{}", after.body);

    // Silence: jambonz calls the actionHook with `reason: timeout`; re-prompts, then the operator.
    let mut doc =
        server.jambonz_post(&format!("{PUBLIC}/jambonz/support"), &jambonz_body("j-2", json!({}))).await.doc(problems);
    doc = server
        .jambonz_post(&jambonz_hook(&doc, "gather", "actionHook"), &jambonz_body("j-2", digits("1")))
        .await
        .doc(problems);
    for _ in 0..2 {
        let timeout = jambonz_body("j-2", json!({"reason": "timeout"}));
        doc = server.jambonz_post(&jambonz_hook(&doc, "gather", "actionHook"), &timeout).await.doc(problems);
        assert!(said(&doc).contains("no_input.ru.wav"), "{doc:#}");
    }
    let timeout = jambonz_body("j-2", json!({"reason": "timeout"}));
    doc = server.jambonz_post(&jambonz_hook(&doc, "gather", "actionHook"), &timeout).await.doc(problems);
    assert!(find(&doc, "verb", "enqueue").is_some(), "silence did not reach a queue: {doc:#}");

    // A request number ended with `#`, which jambonz leaves out of `digits`.
    let mut doc =
        server.jambonz_post(&format!("{PUBLIC}/jambonz/support"), &jambonz_body("j-3", json!({}))).await.doc(problems);
    for key in ["1", "3"] {
        doc = server
            .jambonz_post(&jambonz_hook(&doc, "gather", "actionHook"), &jambonz_body("j-3", digits(key)))
            .await
            .doc(problems);
    }
    let gather = find(&doc, "verb", "gather").expect("the ticket input");
    assert_eq!(gather["finishOnKey"], "#", "{doc:#}");
    doc = server
        .jambonz_post(&jambonz_hook(&doc, "gather", "actionHook"), &jambonz_body("j-3", digits("1234567")))
        .await
        .doc(problems);
    assert!(said(&doc).contains("сейчас не получается узнать статус заявки"), "no status backend: {doc:#}");
    server.stop().await;
}

#[tokio::test]
async fn jambonz_refuses_forged_stale_missing_and_replayed_requests() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs).await;
    let url = format!("{PUBLIC}/jambonz/support");
    let body = serde_json::to_vec(&jambonz_body("j-sec", json!({}))).expect("serialises");
    let t = server.now.timestamp();

    assert_eq!(server.jambonz_post_with(&url, None, body.clone()).await.status, 403);
    let forged = jambonz_signature::sign("not the secret", t, &body);
    assert_eq!(server.jambonz_post_with(&url, Some(&forged), body.clone()).await.status, 403);
    let stale = jambonz_signature::sign(JAMBONZ_SECRET, t - jambonz_signature::TOLERANCE_S - 1, &body);
    assert_eq!(server.jambonz_post_with(&url, Some(&stale), body.clone()).await.status, 403);
    let other = serde_json::to_vec(&jambonz_body("j-other", json!({}))).expect("serialises");
    let for_other = jambonz_signature::sign(JAMBONZ_SECRET, t, &other);
    assert_eq!(server.jambonz_post_with(&url, Some(&for_other), body.clone()).await.status, 403);

    let genuine = jambonz_signature::sign(JAMBONZ_SECRET, t, &body);
    let first = server.jambonz_post_with(&url, Some(&genuine), body.clone()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let replayed = server.jambonz_post_with(&url, Some(&genuine), body).await;
    assert_eq!(replayed.status, 403, "a replay: {}", replayed.body);
    // A provider without credentials is refused: Twilio is not configured here.
    let twilio = server
        .client
        .post(format!("{}/twilio/support", server.local))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("CallSid=CA1");
    assert_eq!(server.send(twilio).await.status, 403);
    server.stop().await;
}
