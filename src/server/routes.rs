//! The routes that are not webhooks: prompt audio, the loaded flows, metrics.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::{confined, events};

/// Prompt audio for the providers' play verbs: a plain file name inside the sounds folder
/// ([`confined`]), else a 404.
pub async fn sound(State(state): State<Arc<AppState>>, Path(file): Path<String>) -> Response {
    let Some(content_type) = sound_type(&file) else { return StatusCode::NOT_FOUND.into_response() };
    let dir = state.sounds_dir.clone();
    match tokio::task::spawn_blocking(move || confined::read(&dir, &file)).await {
        // Providers cache media by URL; an hour keeps edits visible the same day.
        Ok(Ok(bytes)) => {
            ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], bytes)
                .into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The content type of a sound file by its extension; `None` for what is not a sound.
pub fn sound_type(file: &str) -> Option<&'static str> {
    match file.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase())?.as_str() {
        "wav" => Some("audio/wav"),
        "mp3" => Some("audio/mpeg"),
        "ogg" => Some("audio/ogg"),
        _ => None,
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
    state.callbacks.render_metrics(&mut text);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}
