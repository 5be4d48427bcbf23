//! Webhook requests of every provider adapter, through the whole HTTP app: the request's
//! parameters, the adapter's signature check and parse, the state token, the engine step and
//! the document. No input may make the server panic or answer a 5xx.
//!
//! Input: byte 0 picks the provider (low 3 bits), whether signatures are checked (bit 3), GET
//! or POST (bit 4) and a form or JSON body (bit 5); then the path after `/{provider}/` up to
//! the first newline (`support`, `support/gather?t=…`, `fallback`, `status?flow=…`); then
//! the body. Header lines `Name: value` may follow the path, up to an empty line.
#![no_main]

use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use switchboard::providers::{ADAPTERS, Providers};
use switchboard::server::{self, AppState, Flows, TokenKey};
use tower::ServiceExt as _;

fn app(check_signatures: bool) -> axum::Router {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (flows, _) = Flows::open(vec![root.join("flows")], root.join("sounds"), None);
    // Credentials for the adapters that take any text; Telnyx's needs a real public key and
    // stays unconfigured (its requests are refused when signatures are checked).
    let secrets: &[(&str, &str)] = if check_signatures {
        &[("twilio", "t"), ("signalwire", "s"), ("plivo", "p"), ("vonage", "v"), ("jambonz", "j")]
    } else {
        &[]
    };
    let providers = Providers::configure(secrets, check_signatures).expect("valid credentials");
    let at = chrono::DateTime::from_timestamp(1_778_065_200, 0).expect("valid");
    let state = AppState::new(
        flows,
        TokenKey::new(b"fuzz"),
        providers,
        Some("https://ivr.example.com".into()),
        root.join("sounds"),
    )
    .with_clock(Arc::new(move || at));
    server::app(Arc::new(state))
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime"));
static OPEN: LazyLock<axum::Router> = LazyLock::new(|| app(false));
static SIGNED: LazyLock<axum::Router> = LazyLock::new(|| app(true));

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let provider = ADAPTERS[usize::from(selector & 7) % ADAPTERS.len()].name;
    let (head, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(path) = std::str::from_utf8(head) else { return };
    let mut request = Request::builder()
        .method(if selector & 16 == 0 { "POST" } else { "GET" })
        .uri(format!("/{provider}/{path}"))
        .header("host", "ivr.example.com")
        .header(
            "content-type",
            if selector & 32 == 0 { "application/x-www-form-urlencoded" } else { "application/json" },
        );
    // Header lines before an empty line, then the body.
    let mut body = body;
    while let Some(i) = body.iter().position(|&b| b == b'\n') {
        let line = &body[..i];
        let Some(colon) = line.iter().position(|&b| b == b':') else { break };
        request = request.header(&line[..colon], line[colon + 1..].trim_ascii());
        body = &body[i + 1..];
    }
    let Ok(request) = request.body(Body::from(body.to_vec())) else { return };
    let app: &axum::Router = if selector & 8 == 0 { &OPEN } else { &SIGNED };
    let status = RUNTIME.block_on(async { app.clone().oneshot(request).await.map(|r| r.status()) });
    let status = status.unwrap_or(StatusCode::OK);
    assert!(!status.is_server_error(), "a {status} for {provider}/{path}");
});
