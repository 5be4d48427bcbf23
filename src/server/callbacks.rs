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
use crate::events::callbacks::{Change, NewCallback, Status};
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
