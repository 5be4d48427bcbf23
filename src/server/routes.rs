//! The routes that are not webhooks: prompt audio, the loaded flows, metrics.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::events;

/// Prompt audio for the providers' play verbs.
pub async fn sound(State(state): State<Arc<AppState>>, Path(file): Path<String>) -> Response {
    let safe = !file.is_empty()
        && !file.starts_with('.')
        && file.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let content_type = match file.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()) {
        Some(ext) if ext == "wav" => "audio/wav",
        Some(ext) if ext == "mp3" => "audio/mpeg",
        Some(ext) if ext == "ogg" => "audio/ogg",
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    if !safe {
        return StatusCode::NOT_FOUND.into_response();
    }
    match tokio::fs::read(state.sounds_dir.join(&file)).await {
        // Providers cache media by URL; an hour keeps edits visible the same day.
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], bytes)
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The loaded flows, their version hashes, and each flow's webhook path on every enabled
/// provider (`"webhooks": {"twilio": "/twilio/support", …}`), as JSON.
pub async fn list_flows(State(state): State<Arc<AppState>>) -> Response {
    let enabled = state.providers.enabled();
    let list: Vec<serde_json::Value> = state
        .flows
        .list()
        .into_iter()
        .map(|listing| {
            let mut value = serde_json::to_value(&listing).unwrap_or_default();
            let webhooks: serde_json::Map<String, serde_json::Value> =
                enabled.iter().map(|p| ((*p).to_owned(), format!("/{p}/{}", listing.name).into())).collect();
            if let Some(object) = value.as_object_mut() {
                object.insert("webhooks".into(), webhooks.into());
            }
            value
        })
        .collect();
    axum::Json(list).into_response()
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut text = state.metrics.render();
    super::metrics::render_event_log(&mut text, state.events.as_ref().map(events::Writer::stats));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}
