//! Call-backs on the server: booking them for `callback` nodes (inside the webhook request,
//! written straight to the database, never through the event log's lossy queue) and the API
//! agents and diallers use: `GET /callbacks?queue=Q` (the pending ones), `POST
//! /callbacks/{id}/claim[?by=NAME]` (atomic: a second claim gets 409) and `POST
//! /callbacks/{id}/done`, behind the bearer token `SWITCHBOARD_API_TOKEN`. Without a token the
//! routes do not exist (404).
//!
//! A booking that cannot be stored (no database with `--db none`, the database down or slow)
//! answers `Booked(false)`: the caller goes the node's `failed` way (a queue, the operator)
//! rather than hear a promise nobody will keep, and `switchboard_callbacks_total{result="lost"}`
//! counts it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::AppState;
use crate::engine::Flow;
use crate::engine::call::Booking;
use crate::events::callbacks::{Callback, Change, NewCallback, Status};
use crate::events::{DbUrl, EventLogError, Store};

/// The longest a booking may keep the caller waiting for the database: past it the caller is
/// sent the `failed` way (the provider waits about 15 s for the whole answer).
pub const BOOK_TIMEOUT: Duration = Duration::from_secs(3);

/// Where call-backs are stored, who may read them, and what became of bookings.
#[derive(Default)]
pub struct Desk {
    /// The database (`None`: `--db none`, every booking is lost).
    db: Option<DbUrl>,
    /// Opened on first use and again after a failure.
    store: Arc<Mutex<Option<Store>>>,
    /// The bearer token of the API; `None`: the API is off.
    pub api_token: Option<String>,
    booked: AtomicU64,
    lost: AtomicU64,
}

impl Desk {
    /// Call-backs stored in `db` (`DbUrl::None`: nowhere), the API open to `api_token`.
    pub fn new(db: DbUrl, api_token: Option<String>) -> Desk {
        let db = (db != DbUrl::None).then_some(db);
        Desk { db, api_token: api_token.filter(|t| !t.is_empty()), ..Desk::default() }
    }

    /// Whether bookings can be stored at all.
    pub fn has_db(&self) -> bool {
        self.db.is_some()
    }

    /// Runs `f` on the store in a blocking thread (the PostgreSQL client must not run on the
    /// runtime's), opening it first if need be; a failure closes it, to be reopened next time.
    pub async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, EventLogError> + Send + 'static,
    ) -> Result<T, String> {
        let Some(db) = self.db.clone() else { return Err("no database (--db none)".into()) };
        let store = self.store.clone();
        let work = tokio::task::spawn_blocking(move || {
            let mut slot = store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if slot.is_none() {
                *slot = Store::open(&db).map_err(|e| e.to_string())?;
            }
            let Some(opened) = slot.as_mut() else { return Err("no database".to_owned()) };
            let result = f(opened).map_err(|e| e.to_string());
            if result.is_err() {
                *slot = None;
            }
            result
        });
        match tokio::time::timeout(BOOK_TIMEOUT, work).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(format!("the database task failed: {join}")),
            Err(_) => Err(format!("the database did not answer within {} s", BOOK_TIMEOUT.as_secs())),
        }
    }

    /// Appends the call-back counters in Prometheus' text format.
    pub fn render_metrics(&self, text: &mut String) {
        text.push_str(
            "# HELP switchboard_callbacks_total Call-backs callback nodes booked (stored) or lost (not stored: \
             the caller went the node's failed way).\n# TYPE switchboard_callbacks_total counter\n",
        );
        for (result, n) in [("booked", &self.booked), ("lost", &self.lost)] {
            text.push_str(&format!(
                "switchboard_callbacks_total{{result=\"{result}\"}} {}\n",
                n.load(Ordering::Relaxed)
            ));
        }
    }
}

/// Stores the call-back a `callback` node books; whether it was stored.
pub async fn book(state: &AppState, provider: &str, flow: &Flow, call_id: &str, booking: &Booking) -> bool {
    let new = NewCallback {
        created: (state.clock)(),
        call_id: call_id.to_owned(),
        provider: provider.to_owned(),
        flow: flow.name.clone(),
        number: booking.number.to_string(),
        queue: booking.queue.to_string(),
        language: booking.language.to_string(),
        told_wait_s: booking.told_wait_s,
        window: booking.window.map(|w| w.to_string()),
        timezone: flow.timezone.map(|tz| tz.name().to_owned()),
    };
    let desk = &state.callbacks;
    match desk.with_store(move |store| store.book_callback(&new)).await {
        Ok(id) => {
            desk.booked.fetch_add(1, Ordering::Relaxed);
            tracing::info!(callback = id, queue = %booking.queue, "call-back booked");
            true
        }
        Err(error) => {
            desk.lost.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%error, queue = %booking.queue, "call-back not stored; the caller goes the node's failed way");
            false
        }
    }
}

/// The API's routes, behind the token.
pub fn routes(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/callbacks", get(list))
        .route("/callbacks/{id}/claim", post(claim))
        .route("/callbacks/{id}/done", post(done))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
}

/// Refuses a request without the API token (constant-time compare).
async fn guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let given = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let given = given.and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    let expected = state.callbacks.api_token.as_deref().unwrap_or("");
    if expected.is_empty() || !crate::secret_eq::secret_eq(given.as_bytes(), expected.as_bytes()) {
        let challenge = [(header::WWW_AUTHENTICATE, "Bearer")];
        return (StatusCode::UNAUTHORIZED, challenge, Json(json!({ "error": "this endpoint needs the API token" })))
            .into_response();
    }
    next.run(req).await
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    queue: Option<String>,
}

/// `GET /callbacks?queue=Q`: the pending call-backs, oldest first.
async fn list(State(state): State<Arc<AppState>>, Query(q): Query<ListQuery>) -> Response {
    let queue = q.queue.filter(|q| !q.is_empty());
    match state.callbacks.with_store(move |store| store.callbacks(Status::Pending, queue.as_deref())).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

#[derive(serde::Deserialize)]
pub struct ClaimQuery {
    by: Option<String>,
}

/// `POST /callbacks/{id}/claim?by=NAME`: takes a pending call-back; 409 if it is taken.
async fn claim(State(state): State<Arc<AppState>>, Path(id): Path<i64>, Query(q): Query<ClaimQuery>) -> Response {
    let by = q.by.filter(|b| !b.trim().is_empty()).unwrap_or_else(|| "api".to_owned());
    let at = (state.clock)();
    changed(state.callbacks.with_store(move |store| store.claim_callback(id, &by, at)).await, id)
}

/// `POST /callbacks/{id}/done`: the call-back was made; 409 if it already was.
async fn done(State(state): State<Arc<AppState>>, Path(id): Path<i64>) -> Response {
    let at = (state.clock)();
    changed(state.callbacks.with_store(move |store| store.finish_callback(id, at)).await, id)
}

fn changed(result: Result<Change, String>, id: i64) -> Response {
    match result {
        Ok(Change::Made(callback)) => Json(callback).into_response(),
        Ok(Change::Conflict(status)) => {
            error(StatusCode::CONFLICT, format!("call-back {id} is already {}", status.as_str()))
        }
        Ok(Change::NotFound) => error(StatusCode::NOT_FOUND, format!("no call-back {id}")),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

/// With `--callback-dial`: the server places pending call-backs itself, through Twilio's REST
/// API, when the queue model expects the queue's wait to be short again.
#[derive(Clone)]
pub struct Dialer {
    /// `https://api.twilio.com` (tests: a local fake).
    pub api_base: String,
    pub account_sid: String,
    pub auth_token: String,
    /// The number the call-back comes from: one of the account's.
    pub from: String,
    /// Our URL as Twilio reaches it, for the call's webhook.
    pub public_url: String,
    /// How often the pending list is looked at.
    pub every: Duration,
    pub client: reqwest::Client,
}

/// The wait below which a queue is called back when its flow offers call-backs from no
/// `wait_over` threshold of its own.
pub const DIAL_BELOW_S: u32 = 60;

/// Who the dialler claims call-backs as.
pub const DIALLER: &str = "switchboard-dialler";

/// Places the due call-backs every `Dialer::every`, until the server stops.
pub async fn run_dialer(state: Arc<AppState>, dialer: Dialer) {
    let mut tick = tokio::time::interval(dialer.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        dial_due(&state, &dialer).await;
    }
}

/// One look at the pending list: each call-back whose flow has a `returns` node for its queue,
/// inside its window now, and whose queue the model expects to wait less than the flow's
/// call-back threshold (its smallest `wait_over` for that queue) is claimed and placed; one
/// Twilio refuses goes back to the list. Returns the calls placed.
pub async fn dial_due(state: &AppState, dialer: &Dialer) -> usize {
    let pending = match state.callbacks.with_store(|store| store.callbacks(Status::Pending, None)).await {
        Ok(pending) => pending,
        Err(error) => {
            tracing::warn!(%error, "call-back dialler: cannot read the pending call-backs");
            return 0;
        }
    };
    let mut placed = 0;
    for Callback { id, booking: callback, .. } in pending {
        let Some(flow) = state.flows.current(&callback.flow) else { continue };
        let Some(returns) = return_node(&flow, &callback.queue) else { continue };
        let now = crate::clock::local_time(&flow, (state.clock)());
        let in_window =
            callback.window.as_deref().and_then(|w| crate::engine::flow::Window::parse(w).ok()).is_none_or(|w| {
                let minute =
                    u16::try_from(chrono::Timelike::hour(&now) * 60 + chrono::Timelike::minute(&now)).unwrap_or(0);
                (w.from_min..w.to_min).contains(&minute)
            });
        let expected = flow.estimator.as_ref().and_then(|e| e.expected_wait_s(&callback.queue, now, None));
        let threshold = f64::from(dial_below_s(&flow, &callback.queue));
        if !in_window || expected.is_none_or(|w| w >= threshold) {
            continue;
        }
        let at = (state.clock)();
        match state.callbacks.with_store(move |store| store.claim_callback(id, DIALLER, at)).await {
            Ok(Change::Made(_)) => {}
            _ => continue, // an agent took it meanwhile, or the database is away
        }
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("callback", &id.to_string())
            .append_pair("queue", &callback.queue)
            .finish();
        let url = format!("{}/twilio/{}?{query}", dialer.public_url, callback.flow);
        match place_call(dialer, &callback.number, &url).await {
            Ok(sid) => {
                placed += 1;
                tracing::info!(callback = id, call_sid = %sid, node = %flow.node(returns).id, "call-back placed");
            }
            Err(error) => {
                tracing::error!(callback = id, %error, "call-back not placed; back on the pending list");
                let _ = state.callbacks.with_store(move |store| store.release_callback(id)).await;
            }
        }
    }
    placed
}

/// The node a placed call-back of `queue` starts at: the `returns` of the flow's `callback`
/// node for that queue.
pub fn return_node(flow: &Flow, queue: &str) -> Option<crate::engine::NodeId> {
    flow.nodes.iter().find_map(|n| match &n.kind {
        crate::engine::NodeKind::Callback(c) if *c.queue == *queue => c.returns,
        _ => None,
    })
}

/// The flow's smallest `wait_over` threshold for `queue`: the wait that makes it offer a
/// call-back, below which calling back makes sense.
fn dial_below_s(flow: &Flow, queue: &str) -> u32 {
    use crate::engine::flow::Cond;
    flow.nodes
        .iter()
        .filter_map(|n| match &n.kind {
            crate::engine::NodeKind::Branch(b) => Some(b.cases.iter()),
            _ => None,
        })
        .flatten()
        .filter_map(|c| match &c.cond {
            Cond::WaitOver { queue: q, secs } if **q == *queue => Some(*secs),
            _ => None,
        })
        .min()
        .unwrap_or(DIAL_BELOW_S)
}

/// `POST {base}/2010-04-01/Accounts/{sid}/Calls.json` (To, From, Url, Method; Basic auth):
/// the new call's sid.
async fn place_call(dialer: &Dialer, to: &str, url: &str) -> Result<String, String> {
    let endpoint =
        format!("{}/2010-04-01/Accounts/{}/Calls.json", dialer.api_base.trim_end_matches('/'), dialer.account_sid);
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("To", to)
        .append_pair("From", &dialer.from)
        .append_pair("Url", url)
        .append_pair("Method", "POST")
        .finish();
    let response = dialer
        .client
        .post(&endpoint)
        .basic_auth(&dialer.account_sid, Some(&dialer.auth_token))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| format!("Twilio's API: {e}"))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| format!("Twilio's API answer: {e}"))?;
    if !status.is_success() {
        // Twilio's error JSON has `message`; the body holds no secret of ours.
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| text.chars().take(200).collect());
        return Err(format!("Twilio's API answered {status}: {message}"));
    }
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("Twilio's API answer: {e}"))?;
    json.get("sid").and_then(|s| s.as_str()).map(str::to_owned).ok_or_else(|| "Twilio's API answer has no sid".into())
}

/// Where a call starts: the flow's start, or for the call-back call the dialler placed
/// (`?callback=ID&queue=Q` on the webhook URL, which the provider signs) the `returns` node
/// of the flow's `callback` node for that queue.
pub fn start_node(flow: &Flow, query: &[(String, String)]) -> crate::engine::NodeId {
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    match (param("callback"), param("queue")) {
        (Some(_), Some(queue)) => return_node(flow, queue).unwrap_or(flow.start),
        _ => flow.start,
    }
}
