//! The Twilio webhook server, for real: bound to 127.0.0.1:0 and driven with signed HTTP
//! requests the way Twilio sends them, following the URLs in the TwiML it answers.

// Only the server harness and the Twilio driver of tests/common, not the CLI runner.
mod common {
    pub mod server;
    pub mod twilio;
}

use std::path::Path;
use std::time::Duration;

use common::server::{AUTH_TOKEN, Call, Dirs, PUBLIC, Server, after_hours, open_hours};
use common::twilio::Reply;
use switchboard::events::{DbUrl, Writer, WriterConfig};

#[tokio::test]
async fn zero_reaches_the_operator_from_every_menu() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, open_hours()).await;
    // Keys that reach each menu of flows/support.toml from the start.
    let menus: [(&str, &[&str]); 7] = [
        ("language", &[]),
        ("main", &["1"]),
        ("consult", &["1", "1"]),
        ("tech", &["1", "2"]),
        ("ticket_more", &["1", "3", "123456"]),
        ("payments", &["1", "5"]),
        ("feedback", &["1", "6"]),
    ];
    for (menu, keys) in menus {
        let mut call = server.call("support").await;
        call.says("Здравствуйте");
        for key in keys {
            call.press(key).await.listening();
        }
        call.press("0").await;
        assert!(call.doc.find("Enqueue").is_some(), "0 at {menu} did not reach a queue:\n{}", call.body);
        call.says("Соединяю с оператором.").queued("first_line");
    }
    let metrics = server.get("/metrics").await.body;
    assert!(metrics.contains("switchboard_escapes_total{flow=\"support\"} 7"), "{metrics}");
    assert!(metrics.contains("switchboard_calls_started_total{flow=\"support\"} 7"), "{metrics}");
    assert!(metrics.contains("switchboard_call_outcomes_total{flow=\"support\",kind=\"queue\"} 7"), "{metrics}");
    server.stop().await;
}

#[tokio::test]
async fn silence_reprompts_then_falls_back_to_the_operator() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, open_hours()).await;
    let mut call = server.call("support").await;
    call.press("1").await.says("Главное меню");
    call.silence().await.says("Извините, я вас не слышу.").listening();
    call.silence().await.says("Извините, я вас не слышу.").listening();
    call.silence().await.queued("first_line");
    let metrics = server.get("/metrics").await.body;
    assert!(metrics.contains("switchboard_timeout_fallbacks_total{flow=\"support\"} 1"), "{metrics}");
    server.stop().await;
}

#[tokio::test]
async fn invalid_keys_escalate_to_the_operator() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, open_hours()).await;
    let mut call = server.call("support").await;
    call.press("1").await;
    call.press("9").await.says("такого варианта нет").listening();
    call.press("8").await.says("такого варианта нет").listening();
    call.press("7").await.queued("first_line");
    server.stop().await;
}

#[tokio::test]
async fn speech_reaches_the_operator() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, open_hours()).await;
    let mut call = server.call("support").await;
    call.press("1").await;
    let gather = call.doc.find("Gather").expect("the main menu gathers");
    assert_eq!(gather.attr("input"), Some("dtmf speech"));
    assert_eq!(gather.attr("language"), Some("ru-RU"));
    call.speak("Я хочу поговорить с оператором").await.queued("first_line");
    server.stop().await;
}

#[tokio::test]
async fn request_number_ends_with_hash() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, open_hours()).await;
    let mut call = server.call("support").await;
    call.press("1").await;
    call.press("3").await;
    let gather = call.doc.find("Gather").expect("the ticket input gathers");
    assert_eq!(gather.attr("finishOnKey"), Some("#"));
    assert_eq!(gather.attr("numDigits"), Some("10"));
    assert_eq!(gather.attr("timeout"), Some("7"));
    // Twilio strips the finish key from Digits.
    call.press("1234567").await.says("сейчас не получается узнать статус заявки").listening();
    call.press("2").await.says("До свидания");
    assert!(call.doc.find("Hangup").is_some(), "{}", call.body);
    server.stop().await;
}

#[tokio::test]
async fn after_hours_goes_to_voicemail() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, after_hours()).await;
    let call = server.call("support").await;
    call.says("Служба поддержки работает по будням");
    let record = call.doc.find("Record").unwrap_or_else(|| panic!("no <Record> in\n{}", call.body));
    assert_eq!(record.attr("maxLength"), Some("120"));
    let action = record.attr("action").expect("a Record action").to_owned();
    let reply = server.post(&action, &[("CallSid", "CA0001"), ("RecordingUrl", "https://api.twilio.com/r/RE1")]).await;
    assert!(reply.twiml().find("Hangup").is_some(), "{}", reply.body);
    server.stop().await;
}

#[tokio::test]
async fn a_call_survives_a_restart() {
    let dirs = Dirs::new();
    let a = Server::start(&dirs, open_hours()).await;
    let mut call = a.call("support").await;
    call.press("1").await.says("Главное меню");
    let action = call.gather_action();
    a.stop().await;

    let b = Server::start(&dirs, open_hours()).await;
    let reply = b.post(&action, &[("CallSid", "CA0001"), ("Digits", "2")]).await;
    let mut call = Call::new(&b, reply);
    call.says("Техническая помощь").listening();
    call.press("3").await.queued("second_line");
    b.stop().await;
}

/// Waits until `/flows` shows a version of `flow` other than `old`.
async fn wait_for_new_version(server: &Server, flow: &str, old: &str) -> String {
    for _ in 0..50 {
        let version = flow_version(server, flow).await;
        if version != old {
            return version;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{flow} was not reloaded");
}

async fn flow_version(server: &Server, flow: &str) -> String {
    let reply = server.get("/flows").await;
    let list: serde_json::Value = serde_json::from_str(&reply.body).expect("/flows is JSON");
    list.as_array()
        .and_then(|l| l.iter().find(|f| f["name"] == flow))
        .and_then(|f| f["version"].as_str())
        .unwrap_or_else(|| panic!("{flow} not in {}", reply.body))
        .to_owned()
}

#[tokio::test]
async fn an_edited_flow_serves_new_calls_while_old_calls_finish() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, open_hours()).await;
    let v1 = flow_version(&server, "support").await;
    let mut old = server.call("support").await;
    old.press("1").await.says("Главное меню.");

    dirs.rename_main_menu();
    let v2 = wait_for_new_version(&server, "support", &v1).await;

    // The call in progress repeats the menu (star) from the version it started on.
    old.press("*").await.says("Главное меню.");
    let mut new = server.call("support").await;
    new.press("1").await.says("Новое меню.");

    // A broken edit is refused: the last good version keeps serving.
    std::fs::write(dirs.support(), "[flow]\nname = \"support\"\nstart = \"nowhere\"\n").expect("break the flow");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(flow_version(&server, "support").await, v2);
    let listing = server.get("/flows").await.body;
    assert!(listing.contains("rejected_edit") && listing.contains("support.toml:"), "{listing}");
    let mut after = server.call("support").await;
    after.press("1").await.says("Новое меню.");
    old.press("0").await.queued("first_line");
    server.stop().await;
}

#[tokio::test]
async fn forged_and_malformed_requests_are_refused() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, open_hours()).await;
    let url = server.public_url("/twilio/support");
    let (_, params) = server.twilio.sign(&url, &[("CallSid", "CA0001"), ("From", "+7999")]);

    let wrong = server.post_raw(&url, "bm90IGl0", params.clone()).await;
    assert_eq!(wrong.status, 403, "wrong signature: {}", wrong.body);
    let missing = server
        .client
        .post(server.local_url(&url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(params.clone())
        .send()
        .await
        .expect("an answer");
    assert_eq!(missing.status().as_u16(), 403, "missing signature");

    let mut call = server.call("support").await;

    let garbage = server.post_raw(&url, "x", vec![0xff, 0xfe, b'=', 0x00, 0x81]).await;
    assert_eq!(garbage.status, 400, "garbage body: {}", garbage.body);
    let no_sid = server.post(&url, &[("From", "+7999")]).await;
    assert_eq!(no_sid.status, 400, "no CallSid: {}", no_sid.body);
    let huge = "x".repeat(200 * 1024);
    let oversized = server.post(&url, &[("CallSid", "CA0001"), ("Junk", &huge)]).await;
    assert_eq!(oversized.status, 413, "oversized body");

    // The call itself carries on.
    call.press("1").await.says("Главное меню");
    server.stop().await;
}

/// A signed request whose state token does not open: a real caller, who goes to a person.
#[track_caller]
fn to_the_operator(reply: &Reply, queue: &str, why: &str) {
    assert_eq!(reply.status, 200, "{why}: {}", reply.body);
    let doc = reply.twiml();
    assert_eq!(doc.find("Enqueue").map(|e| e.text.as_str()), Some(queue), "{why}: {}", reply.body);
}

#[tokio::test]
async fn a_state_token_opens_only_in_its_call_its_flow_and_its_lifetime() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, open_hours()).await;
    let call = server.call("support").await;
    let action = call.gather_action();
    let press = |url: String, sid: &'static str| {
        let server = &server;
        async move { server.post(&url, &[("CallSid", sid), ("Digits", "1")]).await }
    };
    let token = action.split_once("t=").map(|(_, t)| t.to_owned()).expect("a token");
    // Nothing of the state reads in the URL: the caller's number is not in it, in any encoding.
    let plain = printable(&token);
    assert!(!plain.contains("79990001122"), "{plain}");

    let tampered = action.replacen("t=", "t=A", 1);
    to_the_operator(&press(tampered, "CA0001").await, "first_line", "tampered");
    let other_call = press(action.clone(), "CA0002").await;
    to_the_operator(&other_call, "first_line", "another call's token");
    let foreign = action.replace("/twilio/support/", "/twilio/hello/");
    let hello = press(foreign, "CA0001").await;
    assert_eq!(hello.status, 200, "{}", hello.body);
    assert!(hello.twiml().find("Gather").is_none(), "the other flow's operator, not its menu: {}", hello.body);

    // Another instance sharing the secret, five hours later: the token has expired.
    let later = Server::start(&dirs, open_hours() + chrono::Duration::hours(5)).await;
    let expired = later.post(&action, &[("CallSid", "CA0001"), ("Digits", "1")]).await;
    to_the_operator(&expired, "first_line", "expired");
    // An hour later it still opens there.
    let soon = Server::start(&dirs, open_hours() + chrono::Duration::hours(1)).await;
    let fine = soon.post(&action, &[("CallSid", "CA0001"), ("Digits", "1")]).await;
    assert!(fine.twiml().said().contains("Главное меню"), "{}", fine.body);

    let metrics = server.get("/metrics").await.body;
    assert!(metrics.contains("switchboard_tokens_refused_total{reason=\"does_not_open\"} 3"), "{metrics}");
    let metrics = later.get("/metrics").await.body;
    assert!(metrics.contains("switchboard_tokens_refused_total{reason=\"expired\"} 1"), "{metrics}");
    for server in [server, later, soon] {
        server.stop().await;
    }
}

/// The token's bytes read as text where they are printable, to look for what it must not show.
fn printable(token: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).expect("base64url");
    bytes.iter().map(|&b| if b.is_ascii_graphic() { b as char } else { '.' }).collect()
}

#[tokio::test]
async fn an_unknown_flow_is_a_404_and_the_fallback_url_routes_to_a_person() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, open_hours()).await;
    // A number pointed at a misspelt flow: a 404, so that Twilio calls its Fallback URL.
    let ring = [("CallSid", "CA0001"), ("From", "+79990001122")];
    let unknown = server.post(&server.public_url("/twilio/suport"), &ring).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert!(unknown.body.contains("no flow `suport` is loaded"), "{}", unknown.body);

    // The Fallback URL for a call to a loaded flow: its operator.
    let url = server.public_url("/twilio/fallback");
    let fallback = |failed: String| {
        let url = &url;
        let server = &server;
        async move {
            let params = [("CallSid", "CA0001"), ("ErrorCode", "11200"), ("ErrorUrl", failed.as_str())];
            server.post(url, &params).await
        }
    };
    let reply = fallback(format!("{PUBLIC}/twilio/support/gather?t=abc")).await;
    let doc = reply.twiml();
    assert_eq!(doc.find("Enqueue").map(|e| e.text.as_str()), Some("first_line"), "{}", reply.body);
    assert!(doc.said().contains("Соединяю с оператором"), "{}", reply.body);
    // For the misspelt flow no queue is known to be served: an apology and goodbye, not a
    // queue nobody answers.
    let reply = fallback(format!("{PUBLIC}/twilio/suport")).await;
    let doc = reply.twiml();
    assert!(doc.find("Enqueue").is_none() && doc.find("Hangup").is_some(), "{}", reply.body);
    assert!(doc.said().contains("Please call again later"), "{}", reply.body);

    let metrics = server.get("/metrics").await.body;
    assert!(metrics.contains("switchboard_unknown_flow_total{flow=\"suport\"} 2"), "{metrics}");
    assert!(
        metrics.contains("switchboard_http_requests_total{route=\"/twilio/{flow}\",status=\"404\"} 1"),
        "{metrics}"
    );

    // A call's callback reaching an instance (same secret) that does not serve its flow.
    let call = server.call("hello").await;
    let other_dirs = Dirs::new();
    std::fs::remove_file(other_dirs.flows.join("hello.toml")).expect("drop a flow");
    let other = Server::start(&other_dirs, open_hours()).await;
    let reply = other.post(&call.gather_action(), &[("CallSid", "CA0001"), ("Digits", "1")]).await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    let metrics = other.get("/metrics").await.body;
    assert!(metrics.contains("switchboard_unknown_flow_total{flow=\"hello\"} 1"), "{metrics}");
    other.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn queued_callers_hear_the_wait_and_hold() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, open_hours()).await;
    let mut call = server.call("support").await;
    call.press("1").await;
    call.press("5").await;
    call.press("1").await.says("специалистом по картам").queued("first_line");
    let wait = call.doc.find("Enqueue").and_then(|e| e.attr("waitUrl")).expect("a wait URL").to_owned();
    let params = [("CallSid", "CA0001"), ("QueuePosition", "3"), ("AvgQueueTime", "120"), ("CurrentQueueSize", "5")];
    let reply = server.post(&wait, &params).await;
    let doc = reply.twiml();
    assert!(doc.find("Pause").is_some(), "no hold music file, so a pause:\n{}", reply.body);
    // The queue is full: the flow's operator route is the same queue, so an apology and goodbye.
    let left = call.doc.find("Enqueue").and_then(|e| e.attr("action")).expect("an Enqueue action").to_owned();
    let reply = server.post(&left, &[("CallSid", "CA0001"), ("QueueResult", "queue-full")]).await;
    let doc = reply.twiml();
    assert!(doc.said().contains("перезвоните позже") && doc.find("Hangup").is_some(), "{}", reply.body);
    let reply = server.post(&left, &[("CallSid", "CA0001"), ("QueueResult", "bridged")]).await;
    assert!(reply.twiml().find("Hangup").is_some(), "{}", reply.body);
    // A full second line falls back to the first.
    let mut tech = server.call("support").await;
    tech.press("1").await;
    tech.press("2").await;
    tech.press("3").await.queued("second_line");
    let left = tech.doc.find("Enqueue").and_then(|e| e.attr("action")).expect("an Enqueue action").to_owned();
    let reply = server.post(&left, &[("CallSid", "CA0001"), ("QueueResult", "queue-full")]).await;
    assert_eq!(reply.twiml().find("Enqueue").map(|e| e.text.as_str()), Some("first_line"), "{}", reply.body);

    // The caller hangs up while waiting: Twilio's status callback ends nothing badly.
    let reply = server.post(&wait, &[("CallSid", "CA0001"), ("CallStatus", "completed")]).await;
    reply.twiml();
    server.stop().await;
}

#[tokio::test]
async fn proxies_and_get_requests_are_verified() {
    let dirs = Dirs::new();
    let server = Server::start_with(&dirs, open_hours(), None).await;
    // Behind a proxy: Twilio signed https://ivr.example.com:443/..., we hear plain HTTP.
    let signed_as = "https://ivr.example.com:443/twilio/hello";
    let (sig, body) = server.twilio.sign(signed_as, &[("CallSid", "CA0002"), ("From", "+7999")]);
    let reply = server
        .client
        .post(format!("{}/twilio/hello", server.local))
        .header("X-Twilio-Signature", sig)
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "ivr.example.com")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("an answer");
    let reply = Reply::read(reply).await.expect("a readable answer");
    let doc = reply.twiml();
    let action = doc.find("Gather").and_then(|g| g.attr("action")).expect("a gather");
    assert!(action.starts_with("https://ivr.example.com/twilio/hello/gather?t="), "{action}");

    // A GET webhook is signed over the URL alone.
    let path = "/twilio/hello?CallSid=CA0003&From=%2B7999";
    let url = format!("{}{path}", server.local);
    let reply = server
        .client
        .get(&url)
        .header("X-Twilio-Signature", server.twilio.sign::<&str, &str>(&url, &[]).0)
        .send()
        .await
        .expect("an answer");
    Reply::read(reply).await.expect("a readable answer").twiml();
    server.stop().await;
}

#[tokio::test]
async fn health_flows_metrics_and_sounds() {
    let dirs = Dirs::new();
    std::fs::write(dirs.sounds.join("hold.wav"), b"RIFF....WAVE").expect("a sound file");
    let server = Server::start(&dirs, open_hours()).await;
    assert_eq!(server.get("/healthz").await.status, 200);
    let flows = server.get("/flows").await;
    assert!(flows.body.contains("\"support\"") && flows.body.contains("\"hello\""), "{}", flows.body);
    let sound = server.get("/sounds/hold.wav").await;
    assert_eq!(sound.status, 200);
    assert_eq!(sound.content_type, "audio/wav");
    let cache = server.client.get(format!("{}/sounds/hold.wav", server.local)).send().await.expect("an answer");
    assert!(cache.headers().get("cache-control").is_some());
    assert_eq!(server.get("/sounds/..%2Fsecret").await.status, 404);
    assert_eq!(server.get("/sounds/missing.wav").await.status, 404);
    let metrics = server.get("/metrics").await;
    assert!(
        metrics.body.contains("switchboard_http_requests_total{route=\"/healthz\",status=\"200\"} 1"),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains("# TYPE switchboard_request_duration_seconds histogram"));
    server.stop().await;
}

#[tokio::test]
async fn a_call_finishes_on_its_version_after_an_edit_and_a_restart() {
    let dirs = Dirs::new();
    let a = Server::start(&dirs, open_hours()).await;
    let mut call = a.call("support").await;
    call.press("1").await.says("Главное меню.");
    let action = call.gather_action();
    a.stop().await;

    dirs.rename_main_menu();
    // The new server only reads the edited file; the old version comes from the data dir.
    let b = Server::start(&dirs, open_hours()).await;
    let reply = b.post(&action, &[("CallSid", "CA0001"), ("Digits", "*")]).await;
    Call::new(&b, reply).says("Главное меню.");
    b.call("support").await.press("1").await.says("Новое меню.");
    b.stop().await;
}

#[tokio::test]
async fn an_unanswered_transfer_goes_to_voicemail() {
    let dirs = Dirs::new();
    std::fs::write(
        dirs.flows.join("dialer.toml"),
        r#"
[flow]
name = "dialer"
languages = ["en"]
start = "menu"
operator = "desk"

[nodes.menu]
kind = "menu"
prompt = "Press 1 for the desk."
options = { "1" = "desk" }

[nodes.desk]
kind = "dial"
number = "+74950000000"
timeout = "20s"
prompt = "Transferring you."
no_answer = "voicemail"

[nodes.voicemail]
kind = "voicemail"
mailbox = "desk"
max_length = "1m"
prompt = "Nobody answered. Leave a message."
"#,
    )
    .expect("write a flow");
    let server = Server::start(&dirs, open_hours()).await;
    let mut call = server.call("dialer").await;
    let gather = call.doc.find("Gather").expect("a menu");
    // The flow keeps the default operator phrases, so the menu listens for speech too.
    assert_eq!(gather.attr("input"), Some("dtmf speech"));
    call.press("1").await.says("Transferring you.");
    let dial = call.doc.find("Dial").unwrap_or_else(|| panic!("no <Dial> in\n{}", call.body));
    assert_eq!((dial.text.as_str(), dial.attr("timeout")), ("+74950000000", Some("20")));
    let action = dial.attr("action").expect("a Dial action").to_owned();
    let reply = server.post(&action, &[("CallSid", "CA0001"), ("DialCallStatus", "no-answer")]).await;
    let doc = reply.twiml();
    assert!(doc.said().contains("Nobody answered."), "{}", reply.body);
    assert_eq!(doc.find("Record").and_then(|r| r.attr("maxLength")), Some("60"), "{}", reply.body);

    // An answered transfer that ends hangs up.
    let mut again = server.call("dialer").await;
    again.press("1").await;
    let action = again.doc.find("Dial").and_then(|d| d.attr("action")).expect("a Dial action").to_owned();
    let reply = server.post(&action, &[("CallSid", "CA0001"), ("DialCallStatus", "completed")]).await;
    assert!(reply.twiml().find("Hangup").is_some(), "{}", reply.body);
    let metrics = server.get("/metrics").await.body;
    assert!(metrics.contains("switchboard_call_outcomes_total{flow=\"dialer\",kind=\"dial\"} 2"), "{metrics}");
    assert!(metrics.contains("switchboard_call_outcomes_total{flow=\"dialer\",kind=\"voicemail\"} 1"), "{metrics}");
    server.stop().await;
}

/// The real binary: refuses to start unsigned, serves, and stops cleanly on SIGTERM.
#[test]
fn the_binary_serves_and_stops_on_sigterm() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    let dirs = Dirs::new();
    let unsigned = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--addr", "127.0.0.1:0", "--flows"])
        .arg(&dirs.flows)
        .env_remove("TWILIO_AUTH_TOKEN")
        .env("SWITCHBOARD_DATA_DIR", &dirs.data)
        .output()
        .expect("the binary runs");
    assert_eq!(unsigned.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unsigned.stderr).contains("TWILIO_AUTH_TOKEN"));
    let bad_db = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--addr", "127.0.0.1:0", "--db", "mysql://db/calls", "--flows"])
        .arg(&dirs.flows)
        .env("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .env("SWITCHBOARD_DATA_DIR", &dirs.data)
        .output()
        .expect("the binary runs");
    assert_eq!(bad_db.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_db.stderr).contains("`mysql://db/calls` is not an event-log URL"));

    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--addr", "127.0.0.1:0", "--log-json", "--flows"])
        .arg(&dirs.flows)
        .env("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .env("SWITCHBOARD_DATA_DIR", &dirs.data)
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
    let addr = loop {
        let line = lines.next().expect("the server logs until it listens").expect("a log line");
        let entry: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if entry["fields"]["message"] == "listening" {
            break entry["fields"]["addr"].as_str().expect("an address").to_owned();
        }
    };
    let health = std::net::TcpStream::connect(&addr).and_then(|mut s| {
        use std::io::{Read, Write};
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
        let mut text = String::new();
        s.read_to_string(&mut text)?;
        Ok(text)
    });
    assert!(health.expect("/healthz answers").starts_with("HTTP/1.1 200"));
    assert!(dirs.data.join("secret").is_file(), "the secret is kept for the next start");

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(killed.success());
    let status = child.wait().expect("the server exits");
    assert_eq!(status.code(), Some(0), "a clean exit after SIGTERM");
    // The event log is SQLite in the data folder by default, and says what it wrote at the end.
    assert!(dirs.data.join("calls.db").is_file(), "the default event log");
    let closed = lines.map_while(Result::ok).find_map(|line| {
        let entry: serde_json::Value = serde_json::from_str(&line).ok()?;
        (entry["fields"]["message"] == "event log closed").then(|| entry["fields"].clone())
    });
    let closed = closed.expect("a last line about the event log");
    assert_eq!((closed["written"].as_u64(), closed["lost"].as_u64()), (Some(0), Some(0)));
}

/// The sample flow's Russian announcement of a wait in whole minutes.
fn announcement(minutes: u32) -> String {
    let noun = if minutes % 10 == 1 && minutes % 100 != 11 { "минуты" } else { "минут" };
    format!("Все операторы заняты. Примерное время ожидания — около {minutes} {noun}.")
}

#[tokio::test]
async fn queued_callers_hear_the_wait_the_model_computes() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, open_hours()).await;
    let mut call = server.call("support").await;
    // Wednesday 11:00 on the first line: 127 calls an hour (9,200 a week × 14.5% × 10/105),
    // 4m30s handle time, 14 agents, 3m patience. Erlang A gives a mean wait of answered
    // callers of 2.6 s (`estimate` prints 0:03; checked with an independent birth–death
    // computation): under half a minute, so the caller hears no wait and no word of busy
    // operators, only to stay on the line.
    let queued = call.press("0").await;
    queued.queued("first_line").says("оставайтесь на линии");
    assert!(!queued.doc.said().contains("заняты") && !queued.body.contains("wait_"), "{}", queued.body);
    server.stop().await;
}

#[tokio::test]
async fn the_wait_url_announces_the_position_refined_wait_sparingly() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, open_hours()).await;
    let mut call = server.call("support").await;
    call.press("0").await.queued("first_line");
    let wait = call.doc.find("Enqueue").and_then(|e| e.attr("waitUrl")).expect("a wait URL").to_owned();
    // Refined by position, the wait is the time for everyone ahead to go: with 14 agents of
    // 4m30s and 3m patience, the i-th place ahead clears at 14/270 + i/180 per second. Sixth in
    // line: 19.3 + 17.4 + 15.9 + 14.6 + 13.5 + 12.6 = 93 s, two minutes, news beside the one
    // minute announced on joining; fifth: 81 s, one minute.
    let position = 6;
    let ask = |position: u32, queue_time_s: u32| {
        let (position, queue_time) = (position.to_string(), queue_time_s.to_string());
        let server = &server;
        let wait = &wait;
        async move {
            let params = [
                ("CallSid", "CA0001"),
                ("QueuePosition", position.as_str()),
                ("QueueTime", queue_time.as_str()),
                ("CurrentQueueSize", "40"),
            ];
            let reply = server.post(wait, &params).await;
            let doc = reply.twiml();
            let last = doc.children.last().map(|e| e.name.clone());
            assert_eq!(last.as_deref(), Some("Pause"), "hold (no music file here) after any words:\n{}", reply.body);
            doc.said()
        }
    };
    let said = ask(position, 0).await;
    assert!(said.contains(&announcement(2)), "{said}");
    assert_eq!(ask(position, 30).await, "", "the same position half a minute later: only hold");
    let said = ask(position, 75).await;
    assert!(said.contains(&announcement(2)), "a minute later: {said}");
    let said = ask(position - 1, 80).await;
    assert!(said.contains(&announcement(1)), "the queue moved: {said}");
    server.stop().await;
}

/// GETs `/estimate` with a query and parses the JSON answer.
async fn estimate(server: &Server, query: &str) -> (u16, serde_json::Value) {
    let reply = server.get(&format!("/estimate?{query}")).await;
    assert!(reply.content_type.starts_with("application/json"), "{}: {}", reply.content_type, reply.body);
    (reply.status, serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {}", reply.body)))
}

#[tokio::test]
async fn estimate_answers_the_cell_the_cli_prints() {
    use switchboard::queue::estimate::{cell_json, slot_at};
    let dirs = Dirs::new();
    let server = Server::start(&dirs, open_hours()).await;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows/support.model.toml");
    let model = switchboard::files::read_model(&path).expect("the sample model loads");
    let queue = model.queue("first_line").expect("a first line");
    let at = switchboard::calendar::parse_at("wed 10:00").expect("a time");
    // Through the same serialisation as the answer, so floats compare exactly.
    let expected: serde_json::Value =
        serde_json::from_str(&cell_json(queue, &slot_at(&model, queue, at)).to_string()).expect("JSON");
    let keys = [
        "queue",
        "weekday",
        "hour",
        "minute",
        "open",
        "agents",
        "arrivals_per_hour",
        "p_wait",
        "mean_wait_s",
        "mean_wait_answered_s",
        "service_level",
        "p_abandon",
        "occupancy",
        "agents_needed",
        "overloaded",
        "busy",
    ];
    for query in ["queue=first_line&at=wed%2010:00", "queue=first_line&at=wed+10:00&flow=support"] {
        let (status, got) = estimate(&server, query).await;
        assert_eq!(status, 200, "{got}");
        for key in keys {
            assert_eq!(got[key], expected[key], "{key} for {query}");
        }
        assert!(got["busy"]["arrivals_per_hour"].as_f64() > got["arrivals_per_hour"].as_f64(), "{got}");
        assert_eq!(got["flow"], "support");
    }

    // RFC 3339 is converted to the flow's zone; without `at`, the server's clock (Wed 11:00 MSK).
    for query in ["queue=first_line&at=2026-05-06T08:00:00Z", "queue=first_line"] {
        let (status, got) = estimate(&server, query).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!((got["weekday"].as_str(), got["hour"].as_u64()), (Some("wed"), Some(11)), "{query}: {got}");
        let wait = got["expected_wait_s"].as_f64().expect("an expected wait");
        // A caller joining without a position hears the typical day's wait of answered callers.
        assert_eq!(Some(wait), got["mean_wait_answered_s"].as_f64(), "{got}");
    }
    let (_, sunday) = estimate(&server, "queue=first_line&at=sun%2012:00").await;
    assert_eq!((sunday["open"].as_bool(), sunday["agents"].as_u64()), (Some(false), Some(0)), "{sunday}");
    server.stop().await;
}

#[tokio::test]
async fn estimate_refuses_bad_requests_with_json() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, open_hours()).await;
    let cases: [(&str, u16, &str); 6] = [
        ("queue=first_line&at=someday", 400, "`at` must be RFC 3339"),
        ("queue=first_line&at=2026-13-45T99:00:00Z", 400, "`at` must be"),
        ("queue=nope", 404, "no queue `nope` (it has: first_line, second_line, supervisors)"),
        ("at=wed%2010:00", 400, "`queue` is missing"),
        ("queue=first_line&flow=hello", 404, "flow `hello` has no queue model"),
        ("queue=first_line&flow=nosuch", 404, "no flow `nosuch` is loaded"),
    ];
    for (query, status, message) in cases {
        let (got, body) = estimate(&server, query).await;
        assert_eq!(got, status, "{query}: {body}");
        let error = body["error"].as_str().unwrap_or_else(|| panic!("{query}: no error in {body}"));
        assert!(error.contains(message), "{query}: {error}");
    }
    // A second flow with a model makes `flow=` necessary.
    std::fs::copy(dirs.support(), dirs.flows.join("support_copy.toml")).expect("copy the flow");
    for _ in 0..50 {
        if server.get("/flows").await.body.contains("support_copy") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = estimate(&server, "queue=first_line").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("support, support_copy")), "{body}");
    assert_eq!(estimate(&server, "queue=first_line&flow=support_copy").await.0, 200);
    server.stop().await;
}

/// The first line's agents on Wednesday at 11:00, as `/estimate` says.
async fn agents(server: &Server) -> Option<u64> {
    estimate(server, "queue=first_line&at=wed%2011:00").await.1["agents"].as_u64()
}

#[tokio::test]
async fn a_model_edit_is_served_and_a_broken_one_refused() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, open_hours()).await;
    let version = flow_version(&server, "support").await;
    assert_eq!(agents(&server).await, Some(14));
    let mut call = server.call("support").await;
    call.press("1").await;
    let action = call.gather_action();

    let model_file = dirs.flows.join("support.model.toml");
    let source = std::fs::read_to_string(&model_file).expect("read the model");
    let line = "from = \"09:00\", to = \"21:00\", agents = 10 }";
    assert!(source.contains(line), "the first line's shifts moved");
    // One agent on the long shift: 5 at 11:00 with the 10:00–20:00 shift's 4.
    std::fs::write(&model_file, source.replace(line, "from = \"09:00\", to = \"21:00\", agents = 1 }")).expect("edit");
    let mut reloaded = false;
    for _ in 0..50 {
        if agents(&server).await == Some(5) {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reloaded, "the model edit was not picked up");
    assert_eq!(flow_version(&server, "support").await, version, "a model edit keeps the flow's version");
    // The call in progress keeps going, and hears the new model's wait.
    let reply = server.post(&action, &[("CallSid", "CA0001"), ("Digits", "0")]).await;
    let call = Call::new(&server, reply);
    call.queued("first_line");
    // 127 calls an hour of 4m30s on 5 agents, 3m patience: Erlang A waits 98 s for answered
    // callers (`switchboard erlang` and an independent birth–death computation agree), two
    // minutes where 14 agents gave one.
    call.says(&announcement(2));

    std::fs::write(&model_file, source.replace("handle_time = \"4m 30s\"", "handle_time = \"soon\"")).expect("break");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(agents(&server).await, Some(5), "the last good model keeps serving");
    let listing = server.get("/flows").await.body;
    assert!(listing.contains("rejected_edit") && listing.contains("support.model.toml:"), "{listing}");
    server.call("support").await.press("0").await.queued("first_line").says(&announcement(2));
    server.stop().await;
}

/// The kinds of a call's logged events, in seq order.
fn kinds(events: &[(u32, Option<String>, &'static str, String)]) -> Vec<&'static str> {
    events.iter().map(|e| e.2).collect()
}

/// What a caller hears up to the language menu, as logged: the same start for every call.
const START: [&str; 6] =
    ["call_started", "node_entered", "node_entered", "prompt_played", "node_entered", "prompt_played"];
/// The way to the first line's queue from the operator node: its words and the queue's. On
/// Wednesday at 11:00 the model expects a wait of seconds, so no wait is announced.
const TO_FIRST_LINE: [&str; 5] = ["node_entered", "prompt_played", "node_entered", "prompt_played", "queue_joined"];

#[tokio::test]
async fn a_call_pressing_zero_is_logged_in_order_and_leaves_the_queue_bridged() {
    let dirs = Dirs::new();
    let server = Server::start_logged(&dirs, open_hours(), dirs.writer()).await;
    let mut call = server.call("support").await;
    call.press("0").await.queued("first_line");
    let left = call.doc.find("Enqueue").and_then(|e| e.attr("action")).expect("an Enqueue action").to_owned();
    // The agent hangs up; the caller is still on the line, and the queue's `after` asks for a
    // rating, which the log keeps.
    let reply = server.post(&left, &[("CallSid", "CA0001"), ("QueueResult", "bridged"), ("QueueTime", "40")]).await;
    let mut call = Call::new(&server, reply);
    call.says("по шкале от 1 до 5").listening();
    call.press("5").await.says("Ваша оценка — 5.");
    let stats = server.stop().await.expect("a log");
    assert_eq!((stats.written, stats.dropped), (22, 0));

    let events = dirs.events("CA0001");
    let after = ["node_entered", "prompt_played", "digits", "node_entered", "rated", "node_entered", "prompt_played"];
    let expected: Vec<&str> =
        [&START[..], &["digits", "escape"], &TO_FIRST_LINE, &["queue_left"], &after, &["flow_ended"]].concat();
    assert_eq!(kinds(&events), expected);
    assert_eq!(events.iter().map(|e| e.0).collect::<Vec<u32>>(), (0..22).collect::<Vec<u32>>());
    assert_eq!(events[0].3, r#"{"caller":"+79990001122"}"#, "the harness keeps numbers plain");
    assert_eq!(events[6], (6, Some("language".into()), "digits", r#"{"count":1,"keys":"0"}"#.into()));
    assert_eq!(events[7], (7, Some("language".into()), "escape", "{}".into()));
    // Wednesday 11:00 on the first line: a wait of seconds, not announced (see the test of the wait).
    assert_eq!(events[12], (12, Some("first_line".into()), "queue_joined", r#"{"queue":"first_line"}"#.into()));
    let left = r#"{"queue":"first_line","queue_time_s":40,"result":"bridged"}"#;
    assert_eq!(events[13], (13, Some("first_line".into()), "queue_left", left.into()));
    assert_eq!(events[14].1.as_deref(), Some("after_call"));
    // At the menu that asked, not the `set` node that stored the score.
    assert_eq!(events[18], (18, Some("after_call".into()), "rated", r#"{"score":5}"#.into()));
}

#[tokio::test]
async fn wait_requests_log_the_position_of_a_caller_who_gives_up() {
    let dirs = Dirs::new();
    let server = Server::start_logged(&dirs, open_hours(), dirs.writer()).await;
    let mut call = server.call("support").await;
    call.press("0").await.queued("first_line");
    let enqueue = call.doc.find("Enqueue").expect("an Enqueue");
    let (wait, left) = (enqueue.attr("waitUrl").expect("a wait URL"), enqueue.attr("action").expect("an action"));
    let (wait, left) = (wait.to_owned(), left.to_owned());
    for (position, queue_time) in [("4", "10"), ("2", "50")] {
        let params = [("CallSid", "CA0001"), ("QueuePosition", position), ("QueueTime", queue_time)];
        server.post(&wait, &params).await.twiml();
    }
    server.post(&left, &[("CallSid", "CA0001"), ("QueueResult", "hangup"), ("QueueTime", "70")]).await.twiml();
    server.stop().await.expect("a log");

    let events = dirs.events("CA0001");
    let waits: Vec<_> = events.iter().filter(|e| e.2 == "queue_waiting").collect();
    assert_eq!(waits.len(), 2, "{events:?}");
    // Numbered by time in queue, after the call's own events and before the status callback's.
    assert_eq!((waits[0].0, waits[1].0), ((1 << 31) + 10, (1 << 31) + 50));
    assert!(waits[0].3.contains(r#""position":4"#) && waits[1].3.contains(r#""position":2"#), "{waits:?}");
    assert!(waits.iter().all(|w| w.3.contains(r#""queue":"first_line""#)));
    let last = events.last().expect("events");
    assert_eq!(last.2, "queue_waiting", "sorted after queue_left by seq: {events:?}");
}

#[tokio::test]
async fn silence_is_logged_up_to_the_timeout_fallback() {
    let dirs = Dirs::new();
    let server = Server::start_logged(&dirs, open_hours(), dirs.writer()).await;
    let mut call = server.call("support").await;
    call.press("1").await;
    call.silence().await;
    call.silence().await;
    call.silence().await.queued("first_line");
    server.stop().await;

    let events = dirs.events("CA0001");
    let reprompt = ["no_input", "prompt_played", "prompt_played"];
    let expected: Vec<&str> = [
        &START[..],
        &["digits", "node_entered", "node_entered", "prompt_played"],
        &reprompt,
        &reprompt,
        &["no_input", "timeout_fallback"],
        &TO_FIRST_LINE,
    ]
    .concat();
    assert_eq!(kinds(&events), expected);
    assert_eq!(events.len(), 23);
    assert_eq!(events[17], (17, Some("main".into()), "timeout_fallback", "{}".into()));
}

#[tokio::test]
async fn the_status_callback_logs_a_hang_up_mid_menu_and_the_duration() {
    let dirs = Dirs::new();
    let server = Server::start_logged(&dirs, open_hours(), dirs.writer()).await;
    let mut call = server.call("support").await;
    call.press("1").await.says("Главное меню");
    // The caller hangs up in the main menu: Twilio posts nothing but the number's status URL.
    let status = server.public_url("/twilio/status?flow=support");
    let params = [("CallSid", "CA0001"), ("CallStatus", "completed"), ("CallDuration", "42")];
    let reply = server.post(&status, &params).await;
    reply.twiml();
    // Signed like every webhook.
    let forged =
        server.post_raw(&status, "bm90IGEgc2lnbmF0dXJl", b"CallSid=CA0001&CallStatus=completed".to_vec()).await;
    assert_eq!(forged.status, 403);
    // Without `?flow=`, or under the flow's own path, the same.
    let mut other = server.call_as("support", "CA0002").await;
    other.press("2").await;
    let params = [("CallSid", "CA0002"), ("CallStatus", "completed"), ("CallDuration", "7")];
    server.post(&server.public_url("/twilio/support/status"), &params).await.twiml();
    server.post(&server.public_url("/twilio/status"), &[("CallSid", "CA0003"), ("CallStatus", "busy")]).await;
    server.stop().await;

    let events = dirs.events("CA0001");
    let expected: Vec<&str> =
        [&START[..], &["digits", "node_entered", "node_entered", "prompt_played", "caller_hung_up", "call_completed"]]
            .concat();
    assert_eq!(kinds(&events), expected);
    // The callback carries no state token: its events sort last, and the node where the caller
    // hung up is the last one entered, `main`.
    assert_eq!(events[8], (8, Some("main".into()), "node_entered", "{}".into()));
    assert_eq!(events[10], (u32::MAX - 1, None, "caller_hung_up", "{}".into()));
    assert_eq!(events[11], (u32::MAX, None, "call_completed", r#"{"duration_s":42}"#.into()));
    let other = dirs.events("CA0002");
    assert_eq!(other.last(), Some(&(u32::MAX, None, "call_completed", r#"{"duration_s":7}"#.into())));
    // A call that never connected completes without a hang-up.
    assert_eq!(kinds(&dirs.events("CA0003")), ["call_completed"]);
}

#[tokio::test]
async fn a_restart_mid_call_keeps_its_events_in_order() {
    let dirs = Dirs::new();
    let a = Server::start_logged(&dirs, open_hours(), dirs.writer()).await;
    let mut call = a.call("support").await;
    call.press("1").await.says("Главное меню");
    let action = call.gather_action();
    a.stop().await;

    // Another instance, the same secret and log: the numbering goes on from the token.
    let b = Server::start_logged(&dirs, open_hours(), dirs.writer()).await;
    let reply = b.post(&action, &[("CallSid", "CA0001"), ("Digits", "2")]).await;
    let mut call = Call::new(&b, reply);
    call.says("Техническая помощь").listening();
    call.press("3").await.queued("second_line");
    b.stop().await;

    let events = dirs.events("CA0001");
    assert_eq!(events.iter().map(|e| e.0).collect::<Vec<u32>>(), (0..events.len() as u32).collect::<Vec<u32>>());
    // Start (6), `1` into the main menu (4), then on the second instance `2` into technical
    // help (3) and `3` to the second line (4: no wait announced on Wednesday at 11:00).
    assert_eq!(events.len(), 17);
    assert_eq!(
        events[9],
        (9, Some("main".into()), "prompt_played", r#"{"duration_ms":19883,"file":"main_menu.ru.wav"}"#.into())
    );
    assert_eq!(events[10], (10, Some("main".into()), "digits", r#"{"count":1,"keys":"2"}"#.into()));
    assert_eq!(events[11], (11, Some("tech".into()), "node_entered", "{}".into()));
    let tail = ["digits", "node_entered", "prompt_played", "queue_joined"];
    assert_eq!(kinds(&events[13..]), tail);
    assert_eq!(events[16].1.as_deref(), Some("second_line"));
}

#[tokio::test]
async fn a_database_that_is_down_changes_nothing_for_callers() {
    let dirs = Dirs::new();
    let healthy = Server::start_logged(&dirs, open_hours(), dirs.writer()).await;
    // A log in a folder that does not exist: every attempt to open it fails.
    let missing = DbUrl::Sqlite(dirs.data.join("no such folder").join("calls.db"));
    // Four events wait in memory beside the one the writer holds; it retries once a minute, so
    // the others are dropped whatever the machine's speed.
    let config =
        WriterConfig { capacity: 4, batch_max: 1, retry_min: Duration::from_secs(60), ..WriterConfig::default() };
    let writer = Writer::open(&missing, config).expect("the writer starts").expect("a database");
    let down = Server::start_logged(&dirs, open_hours(), writer).await;
    let mut answers = Vec::new();
    for server in [&healthy, &down] {
        let mut call = server.call("support").await;
        let mut bodies = vec![call.body.clone()];
        bodies.push(call.press("1").await.body.clone());
        bodies.push(call.silence().await.body.clone());
        bodies.push(call.press("0").await.queued("first_line").body.clone());
        answers.push(bodies);
    }
    // The same TwiML, byte for byte but the tokens' random nonces.
    let masked = |bodies: &Vec<String>| -> Vec<String> {
        let token = regex::Regex::new(r"t=[A-Za-z0-9_-]+").expect("valid");
        bodies.iter().map(|b| token.replace_all(b, "t=TOKEN").into_owned()).collect()
    };
    assert_eq!(masked(&answers[0]), masked(&answers[1]));
    let metrics = down.get("/metrics").await.body;
    assert!(metrics.lines().any(|l| l == "switchboard_events_written_total 0"), "{metrics}");
    let dropped = metrics
        .lines()
        .find_map(|l| l.strip_prefix("switchboard_events_dropped_total "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no dropped events counter in\n{metrics}"));
    assert!(dropped >= 15, "at most 5 events are kept; the rest are dropped:\n{metrics}");
    let stats = down.stop().await.expect("a log");
    // Nothing written, and every event of the call counted as lost by shutdown: the start (6),
    // `1` into the main menu (4), a silence (3), `0` to the first line (7).
    assert_eq!((stats.written, stats.dropped), (0, 20));
    let stats = healthy.stop().await.expect("a log");
    assert_eq!((stats.written, stats.dropped), (20, 0));
}

#[tokio::test]
async fn metrics_show_the_event_log() {
    let dirs = Dirs::new();
    let server = Server::start_logged(&dirs, open_hours(), dirs.writer()).await;
    server.call("support").await;
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = server.get("/metrics").await.body;
        if metrics.contains("switchboard_events_written_total 6") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(metrics.lines().any(|l| l == "switchboard_events_written_total 6"), "{metrics}");
    assert!(metrics.lines().any(|l| l == "switchboard_events_dropped_total 0"), "{metrics}");
    server.stop().await;
}

/// The server's `fetch` requests against a backend this test runs on 127.0.0.1: answers,
/// 404, 500, a slow one, an oversized one, redirects, and a host the flow does not allow. In
/// every case the caller gets a document at once and the flow goes its way.
mod fetch {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::common::server::{Dirs, Server, open_hours};
    use axum::extract::Path;
    use axum::http::{StatusCode, header};
    use axum::response::{IntoResponse, Response};

    /// The request-status backend: each request number behaves one way.
    async fn backend() -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let port = listener.local_addr().expect("an address").port();
        let app = axum::Router::new().route(
            "/requests/{number}",
            axum::routing::get(move |Path(number): Path<String>| async move {
                let json = |body: String| ([(header::CONTENT_TYPE, "application/json")], body).into_response();
                let found: Response = match number.as_str() {
                    "111111" => json(r#"{"status": "done"}"#.into()),
                    "222222" => StatusCode::NOT_FOUND.into_response(),
                    "333333" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                    "444444" => {
                        tokio::time::sleep(Duration::from_secs(4)).await;
                        json(r#"{"status": "done"}"#.into())
                    }
                    "555555" => json(format!(r#"{{"status": "done", "pad": "{}"}}"#, "x".repeat(100 * 1024))),
                    // `localhost` is another host than the 127.0.0.1 the flow called.
                    "666666" => redirect(&format!("http://localhost:{port}/requests/111111")),
                    "777777" => redirect("/requests/111111"),
                    "888888" => json("not json".into()),
                    _ => StatusCode::BAD_REQUEST.into_response(),
                };
                found
            }),
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the backend serves");
        });
        (format!("http://127.0.0.1:{port}"), task)
    }

    fn redirect(to: &str) -> Response {
        (StatusCode::FOUND, [(header::LOCATION, to.to_owned())]).into_response()
    }

    /// A server whose SUPPORT_API_URL is `base`.
    async fn server(dirs: &Dirs, base: &str) -> Server {
        let base = base.to_owned();
        Server::start_env(dirs, open_hours(), Arc::new(move |name| (name == "SUPPORT_API_URL").then(|| base.clone())))
            .await
    }

    /// What the caller hears after entering `number` at main → 3, and how long the answer took.
    async fn status_of(server: &Server, number: &str) -> (String, Duration) {
        let mut call = server.call("support").await;
        call.press("1").await;
        call.press("3").await;
        let started = Instant::now();
        call.press(&format!("{number}#")).await;
        (call.body.clone(), started.elapsed())
    }

    const DONE: &str = "Заявка номер 1 1 1 1 1 1 выполнена";
    const UNAVAILABLE: &str = "сейчас не получается узнать статус заявки";

    #[tokio::test]
    async fn the_status_is_looked_up_and_said() {
        let dirs = Dirs::new();
        let (base, backend) = backend().await;
        let server = server(&dirs, &base).await;
        let (body, _) = status_of(&server, "111111").await;
        assert!(body.contains(DONE), "{body}");
        assert!(body.contains("<Gather"), "then the request menu: {body}");
        let (body, _) = status_of(&server, "777777").await;
        assert!(body.contains("7 7 7 7 7 7 выполнена"), "a redirect on the same host is followed: {body}");
        let (body, _) = status_of(&server, "222222").await;
        assert!(body.contains("Заявка с номером 2 2 2 2 2 2 не найдена"), "404: {body}");
        server.stop().await;
        backend.abort();
    }

    #[tokio::test]
    async fn every_failure_takes_the_failed_way_with_a_document_for_the_caller() {
        let dirs = Dirs::new();
        let (base, backend) = backend().await;
        let server = server(&dirs, &base).await;
        for (number, what) in [
            ("333333", "a 500"),
            ("555555", "an answer over 64 KiB"),
            ("666666", "a redirect to another host"),
            ("888888", "an answer that is not JSON"),
        ] {
            let (body, _) = status_of(&server, number).await;
            assert!(body.contains(UNAVAILABLE), "{what}: {body}");
            assert!(body.contains("Чтобы поговорить с оператором о заявке"), "{what}: the operator offered: {body}");
        }
        let (body, took) = status_of(&server, "444444").await;
        assert!(body.contains(UNAVAILABLE), "a slow backend: {body}");
        assert!(took < Duration::from_millis(3500), "answered at the 2 s timeout, not the backend's 4 s: {took:?}");
        server.stop().await;
        backend.abort();
    }

    #[tokio::test]
    async fn a_host_outside_allow_hosts_or_no_backend_at_all_is_refused() {
        let dirs = Dirs::new();
        let (base, backend) = backend().await;
        // The flow allows the host SUPPORT_API_URL names; this edit allows another one only.
        let flow = std::fs::read_to_string(dirs.support()).expect("the flow");
        let edited = flow.replace("allow_hosts = [\"{env.SUPPORT_API_URL}\"]", "allow_hosts = [\"api.example.com\"]");
        assert_ne!(flow, edited, "the sample's allow_hosts moved");
        std::fs::write(dirs.support(), edited).expect("edit the flow");
        let server = server(&dirs, &base).await;
        let (body, _) = status_of(&server, "111111").await;
        assert!(body.contains(UNAVAILABLE), "a host not allowed: {body}");
        server.stop().await;

        let dirs = Dirs::new();
        let server = Server::start_env(&dirs, open_hours(), Arc::new(|_| None)).await;
        let (body, _) = status_of(&server, "111111").await;
        assert!(body.contains(UNAVAILABLE), "SUPPORT_API_URL unset: {body}");
        server.stop().await;
        backend.abort();
    }
}

/// Monday 18 May 2026, 12:00 in Moscow: the model's busiest hour, when the hotline offers a
/// call-back.
fn busiest_hour() -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc.with_ymd_and_hms(2026, 5, 18, 9, 0, 0).single().expect("a valid time")
}

const API_TOKEN: &str = "test-api-token";

/// A call that takes the call-back offer of the sample hotline: Russian, technical help, the
/// first line, then 1 for "call me back".
async fn take_the_call_back_offer(call: &mut Call<'_>) {
    call.press("1").await;
    call.press("2").await;
    call.press("2").await.says("Чтобы мы перезвонили вам");
    call.press("1").await;
}

/// An API request with `token` as the bearer token (none with `None`): status and JSON.
async fn api(server: &Server, method: &str, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let url = format!("{}{path}", server.local);
    let mut request = server.client.request(method.parse().expect("a method"), url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let body = response.text().await.expect("a body");
    (status, serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)))
}

#[tokio::test]
async fn a_call_back_is_booked_then_listed_claimed_once_and_done() {
    use switchboard::server::callbacks::Desk;
    let dirs = Dirs::new();
    let desk = Desk::new(dirs.db(), Some(API_TOKEN.to_owned()));
    let server = Server::start_tweaked(&dirs, busiest_hour(), |state| state.with_callbacks(desk)).await;
    let mut call = server.call("support").await;
    take_the_call_back_offer(&mut call).await;
    call.says("Мы перезвоним вам");
    assert!(call.doc.find("Hangup").is_some(), "{}", call.body);

    for token in [None, Some("wrong"), Some("")] {
        let (status, _) = api(&server, "GET", "/callbacks", token).await;
        assert_eq!(status, 401, "token {token:?}");
    }
    let (status, list) = api(&server, "GET", "/callbacks?queue=first_line", Some(API_TOKEN)).await;
    assert_eq!(status, 200, "{list}");
    let booked = &list[0];
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(booked["number"], "+79990001122", "the real number, whatever --caller-numbers says");
    assert_eq!(
        (&booked["queue"], &booked["language"], &booked["window"]),
        (&"first_line".into(), &"ru".into(), &"09:00-21:00".into())
    );
    assert_eq!(
        (&booked["call_id"], &booked["status"], &booked["timezone"]),
        (&"CA0001".into(), &"pending".into(), &"Europe/Moscow".into())
    );
    assert!(booked["told_wait_s"].as_u64().is_some_and(|w| w > 25), "over the offer's threshold: {booked}");
    let (_, other) = api(&server, "GET", "/callbacks?queue=second_line", Some(API_TOKEN)).await;
    assert_eq!(other, serde_json::json!([]));

    // The command line reads the same list from the database.
    let db = format!("sqlite://{}", dirs.data.join("calls.db").display());
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard")).args(args).output().expect("it runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let table = cli(&["callbacks", "list", "--db", &db]);
    assert!(
        table.contains("first_line") && table.contains("+79990001122") && table.contains("09:00-21:00 Europe/Moscow"),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&cli(&["callbacks", "list", "--db", &db, "--json"])).expect("JSON");
    assert_eq!(json, list, "the CLI's JSON is the API's");
    assert!(
        cli(&["callbacks", "list", "--db", &db, "--queue", "second_line"])
            .contains("no pending call-backs for second_line")
    );

    let id = booked["id"].as_i64().expect("an id");
    let (status, claimed) = api(&server, "POST", &format!("/callbacks/{id}/claim?by=anna"), Some(API_TOKEN)).await;
    assert_eq!((status, &claimed["status"], &claimed["claimed_by"]), (200, &"claimed".into(), &"anna".into()));
    let (status, refused) = api(&server, "POST", &format!("/callbacks/{id}/claim?by=boris"), Some(API_TOKEN)).await;
    assert_eq!((status, &refused["error"]), (409, &format!("call-back {id} is already claimed").into()));
    let (_, pending) = api(&server, "GET", "/callbacks", Some(API_TOKEN)).await;
    assert_eq!(pending, serde_json::json!([]), "a claimed call-back is no longer pending");
    let (status, done) = api(&server, "POST", &format!("/callbacks/{id}/done"), Some(API_TOKEN)).await;
    assert_eq!((status, &done["status"]), (200, &"done".into()));
    let (status, _) = api(&server, "POST", &format!("/callbacks/{id}/done"), Some(API_TOKEN)).await;
    assert_eq!(status, 409);
    let (status, _) = api(&server, "POST", "/callbacks/999/claim", Some(API_TOKEN)).await;
    assert_eq!(status, 404);
    let (status, _) = api(&server, "POST", "/callbacks/999/claim", None).await;
    assert_eq!(status, 401, "the token is asked before anything is looked up");

    let metrics = server.get("/metrics").await.body;
    assert!(metrics.contains("switchboard_callbacks_total{result=\"booked\"} 1"), "{metrics}");
    server.stop().await;
}

#[tokio::test]
async fn a_call_back_that_cannot_be_stored_leaves_the_caller_in_the_queue() {
    use switchboard::server::callbacks::Desk;
    let dirs = Dirs::new();
    let server =
        Server::start_tweaked(&dirs, busiest_hour(), |state| state.with_callbacks(Desk::new(DbUrl::None, None))).await;
    let mut call = server.call("support").await;
    take_the_call_back_offer(&mut call).await;
    call.queued("first_line");
    assert!(!call.doc.said().contains("Мы перезвоним"), "no promise that cannot be kept:\n{}", call.body);
    let metrics = server.get("/metrics").await.body;
    assert!(metrics.contains("switchboard_callbacks_total{result=\"lost\"} 1"), "{metrics}");
    let (status, _) = api(&server, "GET", "/callbacks", Some(API_TOKEN)).await;
    assert_eq!(status, 404, "without a token the API does not exist");
    server.stop().await;
}

/// Twilio's REST API as the dialler meets it: records each `Calls.json` request (its Basic
/// authorisation and form) and refuses the first with Twilio's error JSON, then creates calls.
async fn fake_twilio_api() -> (String, std::sync::Arc<std::sync::Mutex<Vec<(String, String, Vec<(String, String)>)>>>) {
    use axum::extract::{Path as UrlPath, State};
    use axum::http::{HeaderMap, StatusCode};
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, String, Vec<(String, String)>)>>>;
    let seen: Seen = Default::default();
    let app = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{sid}/Calls.json",
            axum::routing::post(
                |State(seen): State<Seen>, UrlPath(sid): UrlPath<String>, headers: HeaderMap, body: String| async move {
                    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    let form = form_urlencoded::parse(body.as_bytes())
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect();
                    let mut seen = seen.lock().unwrap();
                    seen.push((sid, auth, form));
                    if seen.len() == 1 {
                        (
                            StatusCode::BAD_REQUEST,
                            r#"{"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}"#,
                        )
                    } else {
                        (StatusCode::CREATED, r#"{"sid": "CA0000000000000000000000000000back", "status": "queued"}"#)
                    }
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, seen)
}

#[tokio::test]
async fn the_dialler_places_a_call_back_when_the_wait_is_short_and_the_call_starts_at_its_return() {
    use switchboard::server::callbacks::{Desk, Dialer, dial_due};
    let dirs = Dirs::new();
    let (api_base, seen) = fake_twilio_api().await;
    let dialer = Dialer {
        api_base,
        account_sid: "AC0123456789abcdef0123456789abcdef".into(),
        auth_token: AUTH_TOKEN.into(),
        from: "+74950000000".into(),
        public_url: PUBLIC.into(),
        every: Duration::from_secs(30),
        client: reqwest::Client::new(),
    };
    let busy = Server::start_tweaked(&dirs, busiest_hour(), |s| s.with_callbacks(Desk::new(dirs.db(), None))).await;
    let mut call = busy.call("support").await;
    take_the_call_back_offer(&mut call).await;
    call.says("Мы перезвоним вам");
    assert_eq!(dial_due(busy.state(), &dialer).await, 0, "the queue is still busy: no call-back yet");
    assert!(seen.lock().unwrap().is_empty());
    busy.stop().await;

    // An hour earlier on a Monday the model expects no wait worth a call-back.
    let quiet_hour = busiest_hour() - chrono::Duration::hours(1);
    let quiet = Server::start_tweaked(&dirs, quiet_hour, |s| s.with_callbacks(Desk::new(dirs.db(), None))).await;
    assert_eq!(dial_due(quiet.state(), &dialer).await, 0, "Twilio refused the first: back on the list");
    assert_eq!(dial_due(quiet.state(), &dialer).await, 1);
    assert_eq!(dial_due(quiet.state(), &dialer).await, 0, "placed once");
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    let (sid, auth, form) = &requests[1];
    assert_eq!(sid, "AC0123456789abcdef0123456789abcdef");
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{AUTH_TOKEN}"));
    assert_eq!(*auth, format!("Basic {expected}"));
    let param = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(
        (param("To"), param("From"), param("Method")),
        ("+79990001122".into(), "+74950000000".into(), "POST".into())
    );
    let url = param("Url");
    assert!(url.starts_with(&format!("{PUBLIC}/twilio/support?callback=")), "{url}");

    // Twilio fetches that URL when the caller answers: the flow's return node, then the queue.
    let mut back = common::twilio::Call::new("CA0000000000000000000000000000back", &url);
    let reply = quiet.twilio.act(&mut back, common::twilio::Act::Ring).await.expect("an answer");
    let doc = reply.twiml();
    assert!(doc.said().contains("вы просили перезвонить вам"), "{}", reply.body);
    assert_eq!(doc.find("Enqueue").map(|e| e.text.as_str()), Some("first_line"), "{}", reply.body);
    quiet.stop().await;
}
