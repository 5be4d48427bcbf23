//! `GET /estimate?queue=first_line[&at=…][&flow=support]`: one cell of a flow's queue model as
//! JSON, with the keys `switchboard estimate --json` prints ([`estimate::cell_json`]).
//!
//! Not a Twilio webhook, so not signed (like `/healthz` and `/flows`). `at` is RFC 3339
//! (converted to the flow's time zone) or what `switchboard call --at` takes ("wed 10:00",
//! "2026-05-06 11:00", local to the flow); without it, the server's clock in the flow's zone.
//! Problems answer 400 (a bad or ambiguous request) or 404 (no such flow, model or queue) with
//! `{"error": "…"}` saying what is wrong.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime};
use serde_json::json;

use super::AppState;
use crate::engine::flow::Estimator;
use crate::queue::estimate;

/// Why `/estimate` cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum EstimateError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
}

impl IntoResponse for EstimateError {
    fn into_response(self) -> Response {
        let status = match self {
            EstimateError::BadRequest(_) => StatusCode::BAD_REQUEST,
            EstimateError::NotFound(_) => StatusCode::NOT_FOUND,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

pub async fn estimate(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Json<serde_json::Value>, EstimateError> {
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty());

    let name = match param("flow") {
        Some(name) => name.to_owned(),
        None => match state.flows.with_models().as_slice() {
            [only] => only.clone(),
            [] => return Err(EstimateError::NotFound("no loaded flow has a queue model".into())),
            several => {
                return Err(EstimateError::BadRequest(format!(
                    "several flows have a queue model ({}): choose one with `flow=`",
                    several.join(", ")
                )));
            }
        },
    };
    let Some((flow, model)) = state.flows.model(&name) else {
        return Err(EstimateError::NotFound(match state.flows.current(&name) {
            Some(_) => format!("flow `{name}` has no queue model (set `model = \"…\"` in its [flow])"),
            None => format!("no flow `{name}` is loaded"),
        }));
    };
    let queues = || model.model().queues.iter().map(|q| q.name.as_str()).collect::<Vec<_>>().join(", ");
    let Some(queue_name) = param("queue") else {
        return Err(EstimateError::BadRequest(format!("`queue` is missing (the model of `{name}` has: {})", queues())));
    };
    let Some(queue) = model.model().queue(queue_name) else {
        return Err(EstimateError::NotFound(format!(
            "the model of `{name}` has no queue `{queue_name}` (it has: {})",
            queues()
        )));
    };
    let at = match param("at") {
        Some(text) => parse_at(&flow, text)?,
        None => crate::clock::local_time(&flow, (state.clock)()),
    };

    let cell = estimate::slot_at(model.model(), queue, at);
    let mut out = estimate::cell_json(queue, &cell);
    out["flow"] = json!(name);
    out["at"] = json!(at.format("%Y-%m-%dT%H:%M:%S").to_string());
    out["timezone"] = json!(flow.timezone.map(|tz| tz.name()));
    out["target_s"] = json!(model.model().target_s);
    out["target_share"] = json!(model.model().target_share);
    out["busy_quantile"] = json!(model.model().busy_quantile);
    // What a caller joining now would hear announced, before the live position refines it.
    out["expected_wait_s"] = json!(model.expected_wait_s(queue_name, at, None));
    Ok(Json(out))
}

/// `at` as the flow's local time: RFC 3339 converted to the flow's zone, else local as written.
fn parse_at(flow: &crate::engine::Flow, text: &str) -> Result<NaiveDateTime, EstimateError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(crate::clock::local_time(flow, at.to_utc()));
    }
    crate::calendar::parse_at(text).map_err(|_| {
        EstimateError::BadRequest(format!(
            "`at` must be RFC 3339 (2026-05-06T11:00:00+03:00) or a weekday and time (wed 10:00), not `{text}`"
        ))
    })
}
