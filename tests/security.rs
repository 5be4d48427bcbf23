//! The server's security promises, end to end in this process: file routes never leave their
//! folder, the operational endpoints can be locked, and no secret ever shows in an answer, in
//! `/flows`, in `/metrics` or in the logs.

// The Twilio harness's folders and clock; not all of it is used here.
#[allow(dead_code)]
mod common {
    pub mod server;
    pub mod twilio;
}

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::server::{AUTH_TOKEN, Dirs, PUBLIC, SECRET, open_hours};
use switchboard::providers::Providers;
use switchboard::providers::twilio::signature;
use switchboard::server::{self, AppState, Flows, Ops, TokenKey};
use tower::ServiceExt as _;

const OPS_TOKEN: &str = "ops-token-7f3c1d";
const PREVIOUS_SECRET: &[u8] = b"previous-secret-9a8b";

fn state(dirs: &Dirs, ops: Ops) -> Arc<AppState> {
    let (flows, report) = Flows::open(vec![dirs.flows.clone()], dirs.sounds.clone(), Some(dirs.data.clone()));
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let providers = Providers::configure(&[("twilio", AUTH_TOKEN)], true).expect("valid credentials");
    let tokens = TokenKey::new(SECRET).with_previous(PREVIOUS_SECRET);
    let mut state = AppState::new(flows, tokens, providers, Some(PUBLIC.into()), dirs.sounds.clone())
        .with_clock(Arc::new(open_hours));
    state.ops = ops;
    Arc::new(state)
}

/// One request to the app: status and body as text.
async fn send(app: axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.oneshot(request).await.expect("the app answers");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("a body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).header(header::HOST, "ivr.example.com").body(Body::empty()).expect("a request")
}

/// A POST of `params` to `path`, signed as Twilio signs it.
fn signed(path: &str, params: &[(&str, &str)]) -> Request<Body> {
    let owned: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let url = if path.starts_with("http") { path.to_owned() } else { format!("{PUBLIC}{path}") };
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&owned).finish();
    let local = url.strip_prefix(PUBLIC).expect("a public URL");
    Request::post(local)
        .header(header::HOST, "ivr.example.com")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature::sign(AUTH_TOKEN, &url, &owned))
        .body(Body::from(body))
        .expect("a request")
}

#[tokio::test]
async fn sounds_never_leave_their_folder() {
    let dirs = Dirs::new();
    std::fs::write(dirs.data.join("secret.wav"), b"not for callers").expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(dirs.data.join("secret.wav"), dirs.sounds.join("escape.wav")).expect("symlink");
    let app = server::app(state(&dirs, Ops::default()));
    let (status, _) = send(app.clone(), get("/sounds/main_menu.ru.wav")).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/sounds/..%2fdata%2fsecret.wav",
        "/sounds/%2e%2e%2fdata%2fsecret.wav",
        "/sounds/%2e%2e",
        "/sounds/..",
        "/sounds/.%2e/data/secret.wav",
        "/sounds/%2fetc%2fpasswd",
        "/sounds/escape.wav",
        "/sounds/..%5cdata%5csecret.wav",
        "/sounds/missing.wav",
    ] {
        let (status, body) = send(app.clone(), get(path)).await;
        assert!(status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST, "{path}: {status} {body}");
        assert!(!body.contains("not for callers"), "{path}: {body}");
    }
}

#[tokio::test]
async fn the_ops_token_guards_flows_metrics_and_estimate() {
    let dirs = Dirs::new();
    let app = server::app(state(&dirs, Ops { token: Some(OPS_TOKEN.into()), apart: false }));
    for path in ["/flows", "/metrics", "/estimate?queue=first_line"] {
        let (status, _) = send(app.clone(), get(path)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} without the token");
        let mut wrong = get(path);
        wrong.headers_mut().insert(header::AUTHORIZATION, "Bearer ops-token-7f3c1e".parse().expect("a header"));
        assert_eq!(send(app.clone(), wrong).await.0, StatusCode::UNAUTHORIZED, "{path} with a wrong token");
        let mut right = get(path);
        right.headers_mut().insert(header::AUTHORIZATION, format!("Bearer {OPS_TOKEN}").parse().expect("a header"));
        let (status, body) = send(app.clone(), right).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    // The webhooks, the sounds and the health check need no ops token.
    assert_eq!(send(app.clone(), get("/healthz")).await.0, StatusCode::OK);
    let (status, body) = send(app, signed("/twilio/support", &[("CallSid", "CA1"), ("From", "+7999")])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn ops_apart_moves_them_to_their_own_listener() {
    let dirs = Dirs::new();
    let state = state(&dirs, Ops { token: None, apart: true });
    let (main, ops) = (server::app(state.clone()), server::ops_app(state));
    for path in ["/flows", "/metrics", "/estimate?queue=first_line"] {
        assert_eq!(send(main.clone(), get(path)).await.0, StatusCode::NOT_FOUND, "{path} beside the webhooks");
        assert_eq!(send(ops.clone(), get(path)).await.0, StatusCode::OK, "{path} on the ops listener");
    }
    assert_eq!(send(ops.clone(), get("/twilio/support")).await.0, StatusCode::NOT_FOUND, "no webhooks there");
    assert_eq!(send(ops, get("/healthz")).await.0, StatusCode::OK);
}

/// A writer the test's log lines go to.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_show_in_answers_listings_metrics_or_logs() {
    let dirs = Dirs::new();
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let state = state(&dirs, Ops { token: Some(OPS_TOKEN.into()), apart: false });
    let app = server::app(state.clone());
    let mut answers = Vec::new();
    // A call, a step with a token, a forged request, a refused token, a bad ops token.
    let (_, start) = send(app.clone(), signed("/twilio/support", &[("CallSid", "CA1"), ("From", "+7999")])).await;
    let action = start.split("action=\"").nth(1).and_then(|a| a.split('"').next()).expect("a gather action");
    let action = action.replace("&amp;", "&");
    answers.push(send(app.clone(), signed(&action, &[("CallSid", "CA1"), ("Digits", "1")])).await.1);
    answers.push(send(app.clone(), signed(&action, &[("CallSid", "CA2"), ("Digits", "1")])).await.1);
    let mut forged = signed("/twilio/support", &[("CallSid", "CA3")]);
    forged.headers_mut().insert("X-Twilio-Signature", "bm90IGl0".parse().expect("a header"));
    answers.push(send(app.clone(), forged).await.1);
    let mut bad_ops = get("/metrics");
    bad_ops.headers_mut().insert(header::AUTHORIZATION, "Bearer guess".parse().expect("a header"));
    answers.push(send(app.clone(), bad_ops).await.1);
    for path in ["/flows", "/metrics"] {
        let mut request = get(path);
        request.headers_mut().insert(header::AUTHORIZATION, format!("Bearer {OPS_TOKEN}").parse().expect("a header"));
        answers.push(send(app.clone(), request).await.1);
    }
    answers.push(start);
    answers.push(format!("{:?}", state.tokens));
    let logs = String::from_utf8(logs.0.lock().expect("not poisoned").clone()).expect("UTF-8 logs");
    assert!(logs.contains("state token refused"), "the logs were captured:\n{logs}");

    let secret = std::str::from_utf8(SECRET).expect("ASCII");
    let previous = std::str::from_utf8(PREVIOUS_SECRET).expect("ASCII");
    for text in answers.iter().chain([&logs]) {
        for secret in [secret, previous, AUTH_TOKEN, OPS_TOKEN] {
            assert!(!text.contains(secret), "{secret:?} shows in\n{text}");
        }
    }
}
