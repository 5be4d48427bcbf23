//! Switchboard Studio: one local page where a flow designer sees a flow's graph, edits its TOML
//! with live diagnostics, calls it from a keypad and runs its scenario tests.
//!
//! The page and its vendored graph layout (`assets/studio/`) are compiled into the binary, so
//! nothing is fetched at run time. Everything the page shows comes from the same code as the
//! command line: `check` ([`files::flow_from_source`]), `graph` ([`graph::arrows`]),
//! `check --report`, `call` ([`transcript::run_until_waiting`]) and `test` ([`suite`]).
//!
//! Safe by default: it serves 127.0.0.1, refuses requests whose `Host` or `Origin` is not the
//! address it serves (DNS rebinding), names flows only as plain file names inside the flows
//! folder, and writes a flow only when it has no errors, atomically. Binding elsewhere needs a
//! token, which the page then carries in a cookie.

mod api;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::secret_eq::secret_eq;

/// What the studio serves and how it is reached.
#[derive(Debug, Clone)]
pub struct Studio {
    pub flows_dir: PathBuf,
    pub sounds_dir: PathBuf,
    /// The address the page is served at: the only `Host` accepted.
    pub addr: SocketAddr,
    /// Required (as a cookie, or `?token=` once) when the studio is not on loopback.
    pub token: Option<String>,
}

const INDEX: &str = include_str!("../../assets/studio/index.html");
const SCRIPT: &str = include_str!("../../assets/studio/studio.js");
const STYLE: &str = include_str!("../../assets/studio/studio.css");
const DAGRE: &str = include_str!("../../assets/studio/vendor/dagre.min.js");

/// The whole application.
pub fn app(studio: Arc<Studio>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/studio.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }))
        .route("/studio.css", get(|| async { asset("text/css; charset=utf-8", STYLE) }))
        .route("/vendor/dagre.min.js", get(|| async { asset("text/javascript; charset=utf-8", DAGRE) }))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/api/flows", get(api::list))
        .route("/api/flows/{name}", get(api::show).put(api::save))
        .route("/api/flows/{name}/check", post(api::check))
        .route("/api/flows/{name}/call", post(api::call))
        .route("/api/flows/{name}/tests", post(api::tests))
        .route("/api/flows/{name}/waits", get(api::waits))
        .route("/sounds/{file}", get(api::sound))
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024))
        .layer(middleware::from_fn_with_state(studio.clone(), guard))
        .with_state(studio)
}

/// Serves the studio on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    studio: Arc<Studio>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(studio)).with_graceful_shutdown(shutdown).await
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// The page; `?token=` (when the studio has one) becomes a cookie so the page's requests carry it.
async fn index(State(studio): State<Arc<Studio>>, req: Request) -> Response {
    let mut response = asset("text/html; charset=utf-8", INDEX);
    if let Some(token) = &studio.token
        && query_token(&req).is_some_and(|given| secret_eq(given.as_bytes(), token.as_bytes()))
    {
        let cookie = format!("studio_token={token}; HttpOnly; SameSite=Strict; Path=/");
        if let Ok(value) = cookie.parse() {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    response
}

fn query_token(req: &Request) -> Option<String> {
    let query = req.uri().query()?;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned())
}

/// Refuses what did not come from the page at the address served: another `Host` (a DNS
/// rebinding attack names its own), a cross-site `Origin`, and, with a token, a request
/// without it.
async fn guard(State(studio): State<Arc<Studio>>, req: Request, next: Next) -> Response {
    if let Err(why) = allowed(&studio, req.headers(), &req) {
        return (StatusCode::FORBIDDEN, format!("{why}\n")).into_response();
    }
    next.run(req).await
}

fn allowed(studio: &Studio, headers: &HeaderMap, req: &Request) -> Result<(), &'static str> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let served = studio.addr.to_string();
    let port = studio.addr.port();
    let local_names = [format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")];
    let loopback = studio.addr.ip().is_loopback();
    let host_ok = |host: &str| host == served || (loopback && local_names.iter().any(|n| n == host));
    match text(header::HOST) {
        Some(host) if host_ok(host) => {}
        _ => return Err("this studio answers only requests for the address it serves"),
    }
    if let Some(origin) = text(header::ORIGIN) {
        let host = origin.strip_prefix("http://").unwrap_or("");
        if !host_ok(host) {
            return Err("cross-origin requests are refused");
        }
    }
    if let Some(token) = &studio.token {
        let token = token.as_bytes();
        let cookie = text(header::COOKIE).unwrap_or("");
        let has_cookie = cookie
            .split(';')
            .filter_map(|c| c.trim().strip_prefix("studio_token="))
            .any(|given| secret_eq(given.as_bytes(), token));
        let bearer = text(header::AUTHORIZATION)
            .and_then(|a| a.strip_prefix("Bearer "))
            .is_some_and(|given| secret_eq(given.as_bytes(), token));
        let page_with_token =
            req.uri().path() == "/" && query_token(req).is_some_and(|given| secret_eq(given.as_bytes(), token));
        if !(has_cookie || bearer || page_with_token) {
            return Err("this studio needs its token: open the URL it printed");
        }
    }
    Ok(())
}
