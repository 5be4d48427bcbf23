//! The webhook server that runs flows on real phone calls, for every provider in
//! [`crate::providers`].
//!
//! A provider requests `/{provider}/{flow}` when a call comes in; the answer is the provider's
//! document whose callback URLs carry the call's engine state in a signed token ([`token`]), so
//! the server keeps nothing per call. Every request must carry the provider's valid signature,
//! checked by its adapter. Whatever goes wrong while a caller is on the line, the provider gets
//! a valid document that takes the caller to a person, never a 5xx or an empty answer; only
//! forged or malformed requests, and requests for a flow that is not loaded (a misconfigured
//! number, left to its fallback URL), get a 4xx.
//!
//! Every request also hands the call's events to the event log's writer
//! ([`AppState::events`]), which only queues them: the caller never waits for the database.
//!
//! Shape: [`app`] builds the router around one shared [`AppState`], a set of routes per
//! adapter around the one call step in [`webhook`]; [`serve`] runs it on a listener the caller
//! bound, so tests use port 0.

pub mod callbacks;
mod estimate;
pub mod fetch;
pub mod flows;
pub mod http;
pub mod metrics;
mod routes;
pub mod token;
pub mod waits;
pub mod webhook;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::engine::{Flow, NodeKind, graph};
use crate::providers::{OperatorRoute, Provider, Providers, RawRequest, VoiceTable};
pub use flows::Flows;
pub use metrics::Metrics;
pub use routes::sound_type;
pub use token::{TokenError, TokenKey};

/// Largest request body accepted. Providers' webhook parameters fit in a few kilobytes.
pub const BODY_LIMIT: usize = 64 * 1024;
/// A request slower than this gets a 408. Twilio itself gives up after 15 s, and an answer
/// that comes that late has already left the caller in silence.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the caller-number hash key is derived for (see [`TokenKey::derive`]): the same secret
/// gives every instance the same hashes.
pub const CALLER_KEY_PURPOSE: &str = "caller numbers";

/// The server's notion of "now". Production uses the system clock; tests inject their own.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Everything the handlers share.
pub struct AppState {
    pub flows: Flows,
    pub tokens: TokenKey,
    /// The provider adapters, their credentials, and whether signatures are checked.
    pub providers: Providers,
    /// The URL providers use to reach us (`https://ivr.example.com`), when a proxy sits between.
    pub public_url: Option<String>,
    pub sounds_dir: PathBuf,
    /// Hold music for queued callers, a file in `sounds_dir`.
    pub hold_music: Option<String>,
    /// Each provider's voices for spoken prompts, by language.
    pub voices: VoiceTable,
    pub clock: Clock,
    pub metrics: Metrics,
    /// What each queued caller last heard about their wait.
    pub waits: waits::WaitAnnouncements,
    /// How often flow files are checked for edits.
    pub reload_every: Duration,
    /// How long a connection may go without sending a request head ([`http::HEADER_READ_TIMEOUT`]).
    pub header_timeout: Duration,
    /// How many connections each listener keeps open ([`http::default_max_connections`]).
    pub max_connections: usize,
    /// The call-event log, if any: requests only queue events for it, never wait.
    pub events: Option<crate::events::Writer>,
    /// What the log keeps of a caller's number.
    pub caller_numbers: crate::events::CallerNumbers,
    /// The key of caller-number hashes, derived from the token secret.
    pub caller_key: Vec<u8>,
    /// Who may read the operational endpoints ([`ops_routes`]).
    pub ops: Ops,
    /// Makes `fetch` nodes' requests (one client, one connection pool).
    pub fetcher: fetch::Fetcher,
    /// Where `callback` nodes' bookings are stored, and the call-back API's token.
    pub callbacks: callbacks::Desk,
}

/// How the operational endpoints (`/flows`, `/metrics`, `/estimate`) are restricted. They
/// show flow names, versions, traffic and staffing: nothing secret, but nothing a caller or
/// the internet needs either.
#[derive(Clone, Debug, Default)]
pub struct Ops {
    /// A bearer token they require (`Authorization: Bearer …`), compared in constant time.
    pub token: Option<String>,
    /// Served only by a listener of their own ([`ops_app`]), not beside the webhooks.
    pub apart: bool,
}

impl AppState {
    pub fn new(
        flows: Flows,
        tokens: TokenKey,
        providers: Providers,
        public_url: Option<String>,
        sounds_dir: PathBuf,
    ) -> AppState {
        let hold_music = ["hold.wav", "hold.mp3"].into_iter().find(|f| sounds_dir.join(f).is_file()).map(str::to_owned);
        let caller_key = tokens.derive(CALLER_KEY_PURPOSE);
        AppState {
            flows,
            tokens,
            providers,
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
            sounds_dir,
            hold_music,
            voices: VoiceTable::default(),
            clock: Arc::new(Utc::now),
            metrics: Metrics::default(),
            waits: waits::WaitAnnouncements::default(),
            reload_every: Duration::from_secs(1),
            header_timeout: http::HEADER_READ_TIMEOUT,
            max_connections: http::default_max_connections(),
            events: None,
            caller_numbers: crate::events::CallerNumbers::default(),
            caller_key,
            ops: Ops::default(),
            fetcher: fetch::Fetcher::default(),
            callbacks: callbacks::Desk::default(),
        }
    }

    /// The same state resolving `{env.NAME}` in `env` (tests: a backend's address).
    pub fn with_env(mut self, env: fetch::Env) -> AppState {
        self.fetcher = fetch::Fetcher::new(env);
        self
    }

    /// The same state logging calls to `events`, keeping callers' numbers as `numbers` says.
    pub fn with_events(mut self, events: crate::events::Writer, numbers: crate::events::CallerNumbers) -> AppState {
        self.events = Some(events);
        self.caller_numbers = numbers;
        self
    }

    /// The same state booking call-backs at `desk`.
    pub fn with_callbacks(mut self, desk: callbacks::Desk) -> AppState {
        self.callbacks = desk;
        self
    }

    /// The same state reading time from `clock` (tests: after-hours calls).
    pub fn with_clock(mut self, clock: Clock) -> AppState {
        self.clock = clock;
        self
    }
}

/// The whole HTTP application: for every adapter, `/{name}/{flow}`, `/{name}/{flow}/{callback}`,
/// `/{name}/status` and `/{name}/fallback` (all GET or POST, as each provider is configured),
/// around the shared routes.
pub fn app(state: Arc<AppState>) -> Router {
    let mut router = Router::new();
    for provider in state.providers.all() {
        router = provider_routes(router, provider);
    }
    router = router.route("/sounds/{file}", get(routes::sound)).route("/healthz", get(|| async { "ok\n" }));
    if state.callbacks.api_token.is_some() {
        router = router.merge(callbacks::routes(&state));
    }
    if !state.ops.apart {
        router = router.merge(ops_routes(&state));
    }
    layers(router, state)
}

/// The operational endpoints alone, for a listener of their own (`--ops-addr`).
pub fn ops_app(state: Arc<AppState>) -> Router {
    let router = ops_routes(&state).route("/healthz", get(|| async { "ok\n" }));
    layers(router, state)
}

/// `/flows`, `/metrics` and `/estimate`, behind the ops token when there is one.
fn ops_routes(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/flows", get(routes::list_flows))
        .route("/metrics", get(routes::metrics))
        .route("/estimate", get(estimate::estimate))
        .route_layer(middleware::from_fn_with_state(state.clone(), ops_guard))
}

/// Refuses an operational request without the ops token, when one is set.
async fn ops_guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(token) = &state.ops.token {
        let given = req.headers().get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let given = given.and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
        if !crate::secret_eq::secret_eq(given.as_bytes(), token.as_bytes()) {
            let challenge = [(axum::http::header::WWW_AUTHENTICATE, "Bearer")];
            return (StatusCode::UNAUTHORIZED, challenge, "this endpoint needs the ops token\n").into_response();
        }
    }
    next.run(req).await
}

/// What every route shares: the body limit, metrics, the timeout, the request span.
///
/// The span is at debug: at the default level a span per request cost more than the rest of
/// the logging together (its fields formatted and stored on every request), so the lines
/// logged at info carry the call's `flow` and `call_sid` themselves.
fn layers(router: Router<Arc<AppState>>, state: Arc<AppState>) -> Router {
    router
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), count_request))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(TraceLayer::new_for_http().on_response(()).make_span_with(|req: &Request| {
            tracing::debug_span!(
                "request",
                method = %req.method(),
                path = %req.uri().path(),
                call_sid = tracing::field::Empty,
                flow = tracing::field::Empty,
                node = tracing::field::Empty,
                outcome = tracing::field::Empty,
            )
        }))
        .with_state(state)
}

/// One adapter's routes, each handler holding the adapter.
fn provider_routes(router: Router<Arc<AppState>>, provider: &Arc<dyn Provider>) -> Router<Arc<AppState>> {
    let name = provider.name();
    let p = provider.clone();
    let fallback = move |State(state): State<Arc<AppState>>, raw: RawRequest| webhook::fallback(state, p, raw);
    let p = provider.clone();
    let status = move |State(state): State<Arc<AppState>>, raw: RawRequest| webhook::status(state, p, raw);
    let p = provider.clone();
    let start = move |State(state): State<Arc<AppState>>, Path(flow): Path<String>, raw: RawRequest| {
        webhook::start(state, p, flow, raw)
    };
    let p = provider.clone();
    let callback = move |State(state): State<Arc<AppState>>,
                         Path((flow, segment)): Path<(String, String)>,
                         raw: RawRequest| { webhook::callback(state, p, flow, segment, raw) };
    router
        .route(&format!("/{name}/fallback"), get(fallback.clone()).post(fallback))
        .route(&format!("/{name}/status"), get(status.clone()).post(status))
        .route(&format!("/{name}/{{flow}}"), get(start.clone()).post(start))
        .route(&format!("/{name}/{{flow}}/{{callback}}"), get(callback.clone()).post(callback))
}

/// Serves `app(state)` on `listener` until `shutdown` completes, then finishes the requests
/// in flight. Also re-reads edited flow files every `state.reload_every`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let reloader = tokio::spawn(watch_flows(state.clone()));
    let (header_timeout, max_connections) = (state.header_timeout, state.max_connections);
    let result = http::serve(listener, app(state), header_timeout, max_connections, shutdown).await;
    reloader.abort();
    result
}

/// Serves [`ops_app`] on `listener` until `shutdown` completes.
pub async fn serve_ops(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (header_timeout, max_connections) = (state.header_timeout, state.max_connections);
    http::serve(listener, ops_app(state), header_timeout, max_connections, shutdown).await
}

/// Re-reads changed flow files and logs what happened. Blocking file I/O: call it from a
/// blocking context (the poller uses `spawn_blocking`).
pub fn reload(state: &AppState) {
    let report = state.flows.reload();
    for name in &report.updated {
        let version = state.flows.current(name).map(|f| flows::version_hex(f.version)).unwrap_or_default();
        tracing::info!(flow = %name, %version, "flow loaded");
    }
    for (path, errors) in &report.rejected {
        tracing::error!(
            file = %path.display(),
            "flow not loaded; the previous version (if any) keeps serving:\n{errors}"
        );
    }
}

async fn watch_flows(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(state.reload_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate, and the flows were just loaded
    loop {
        tick.tick().await;
        let state = state.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || reload(&state)).await {
            tracing::error!(error = %e, "flow reload failed");
        }
    }
}

/// Counts every request by route and status, and its latency; logs it. A call logs its start
/// and its outcome at info; its webhook requests, nine or more for a call through a few menus,
/// log at debug unless they failed: a line per request at info cost a fifth of the server's
/// time under load.
async fn count_request(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    // MatchedPath is an Arc<str>: cloning it allocates nothing; nor does the Uri's.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let started = Instant::now();
    let response = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let (status, took) = (response.status().as_u16(), started.elapsed());
    state.metrics.request(route, status, took);
    let latency_ms = took.as_secs_f64() * 1000.0;
    if response.status().is_success() {
        tracing::debug!(%method, path = uri.path(), status, latency_ms, "finished processing request");
    } else {
        tracing::info!(%method, path = uri.path(), status, latency_ms, "finished processing request");
    }
    response
}

/// The flow's default language, for apologies outside the engine.
pub fn default_language(flow: &Flow) -> &str {
    flow.languages.first().map_or("en", |l| l)
}

/// Where the flow's operator node leads ([`graph::operator_route`]), else the `operator`
/// queue. For when the engine cannot be run.
pub fn operator_route(flow: &Flow) -> OperatorRoute {
    match graph::operator_route(flow).map(|id| &flow.node(id).kind) {
        Some(NodeKind::Queue(q)) => OperatorRoute::Queue(q.queue.to_string()),
        Some(NodeKind::Dial { number, .. }) => OperatorRoute::Dial(number.to_string()),
        _ => OperatorRoute::Queue(crate::engine::OPERATOR_QUEUE.to_owned()),
    }
}
