//! The request handlers: webhook parameters in, engine events through, TwiML out.
//!
//! Order of checks on every webhook: body size (413), form syntax (400), signature (403),
//! `CallSid` (400), state token (403), the flow (404). Past those, the caller is on the line and
//! gets TwiML whatever happens.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::Span;

use super::twiml::{self, Links, OperatorRoute};
use super::waits::WaitRequest;
use super::{AppState, SignatureCheck, signature};
use crate::engine::{Call, Event, Flow, Outcome, Output, Start, Trace, flow::LiveQueue};
use crate::events::{self, Before, CallHead, Kind, QueueResult, Step};

/// How long a queued caller hears silence before Twilio asks the wait URL again, when there is
/// no hold music. Long enough not to hammer the server, short enough for fresh announcements.
const WAIT_PAUSE_S: u32 = 30;
/// The engine's variable holding the announced wait in minutes.
const WAIT_MIN: &str = "wait_min";
/// The log's name for calls this driver serves.
const PROVIDER: &str = "twilio";
/// `seq` of the events the status callback records. It carries no state token, so it cannot
/// continue the call's numbering; these sort after any event a call's requests can number.
pub const SEQ_HUNG_UP: u32 = u32::MAX - 1;
pub const SEQ_COMPLETED: u32 = u32::MAX;

/// A request refused before any TwiML: forged or malformed. Everything else answers TwiML.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("cannot read the body")]
    Body(StatusCode),
    #[error("not found")]
    NotFound,
    /// No flow of this name is loaded: the number points at the wrong URL, or the flow file is
    /// gone. A 4xx makes Twilio call the number's Fallback URL rather than park the caller.
    #[error("no flow `{0}` is loaded")]
    UnknownFlow(String),
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let status = match &self {
            WebhookError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebhookError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebhookError::Body(status) => *status,
            WebhookError::NotFound | WebhookError::UnknownFlow(_) => StatusCode::NOT_FOUND,
        };
        (status, format!("{self}\n")).into_response()
    }
}

/// A verified webhook request: its parameters and the base URL to point callbacks at.
pub struct Webhook {
    /// Twilio's parameters: the form body of a POST, the query string of a GET.
    params: Vec<(String, String)>,
    /// The query string (our own `t` token lives there).
    query: Vec<(String, String)>,
    base: String,
}

impl Webhook {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    fn token(&self) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == "t").map(|(_, v)| v.as_str())
    }
}

impl FromRequest<Arc<AppState>> for Webhook {
    type Rejection = WebhookError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Webhook, WebhookError> {
        // The headers are taken rather than cloned; reading the body needs only the rest.
        let (mut parts, body) = req.into_parts();
        let headers = std::mem::take(&mut parts.headers);
        let method = parts.method.clone();
        let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|r| WebhookError::Body(r.status()))?;

        let query = parse_form(path_and_query.split_once('?').map_or("", |(_, q)| q).as_bytes())?;
        let form = if method == Method::POST && !body.is_empty() {
            let form_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            if !form_type {
                return Err(WebhookError::BadRequest("the body must be application/x-www-form-urlencoded".into()));
            }
            parse_form(&body)?
        } else {
            Vec::new()
        };

        let bases = base_urls(state, &headers);
        // Callbacks go to the base the signature proved Twilio used.
        let mut base = bases.first().cloned().unwrap_or_default();
        if let SignatureCheck::AuthToken(auth_token) = &state.signature {
            let given = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
            // A GET is signed over the URL alone; a POST over the URL and the body parameters.
            let signed = bases.iter().find(|b| {
                signature::url_variants(&format!("{b}{path_and_query}"))
                    .iter()
                    .any(|url| !given.is_empty() && signature::verify(auth_token, given, url, &form))
            });
            match signed {
                Some(b) => base = b.clone(),
                None => {
                    let tried: Vec<String> =
                        bases.iter().flat_map(|b| signature::url_variants(&format!("{b}{path_and_query}"))).collect();
                    tracing::warn!(?tried, signed = !given.is_empty(), "X-Twilio-Signature missing or wrong");
                    return Err(WebhookError::Forbidden("X-Twilio-Signature missing or wrong".into()));
                }
            }
        }

        let params = if method == Method::POST { form } else { query.clone() };
        let webhook = Webhook { params, query, base };
        let Some(call_sid) = webhook.param("CallSid") else {
            return Err(WebhookError::BadRequest("CallSid is missing".into()));
        };
        Span::current().record("call_sid", call_sid);
        Ok(webhook)
    }
}

fn parse_form(bytes: &[u8]) -> Result<Vec<(String, String)>, WebhookError> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(WebhookError::BadRequest("the parameters are not UTF-8".into()));
    }
    // What serde_urlencoded does for a Vec of pairs, without serde's machinery on every request.
    Ok(form_urlencoded::parse(bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

/// The base URLs Twilio may have used to reach us, most trusted first: `--public-url`, then
/// what the proxy headers or `Host` say.
fn base_urls(state: &AppState, headers: &HeaderMap) -> Vec<String> {
    let first =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.split(',').next()).map(str::trim);
    let mut bases = Vec::new();
    if let Some(url) = &state.public_url {
        bases.push(url.clone());
    }
    let proto = first("x-forwarded-proto").unwrap_or("http");
    for host in [first("x-forwarded-host"), first("host")].into_iter().flatten() {
        let base = format!("{proto}://{host}");
        if !bases.contains(&base) {
            bases.push(base);
        }
    }
    if bases.is_empty() {
        bases.push("http://localhost".to_owned());
    }
    bases
}

fn twiml_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

/// The voice webhook: a call comes in.
pub async fn voice(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    hook: Webhook,
) -> Result<Response, WebhookError> {
    Span::current().record("flow", name.as_str());
    let Some(flow) = state.flows.current(&name) else { return Err(unknown_flow(&state, name)) };
    let utc = (state.clock)();
    let now = crate::clock::local_time(&flow, utc);
    let (call, out) = Call::start(&flow, &Start { caller: hook.param("From"), language: None }, now);
    state.metrics.call_started(&name);
    tracing::info!("call started");
    let mut seq = 0;
    if state.events.is_some() {
        let caller = state.caller_numbers.keep(&state.caller_key, hook.param("From"));
        let step = Step { at: utc, before: None, input: None, caller: caller.as_deref(), output: &out };
        log_step(&state, &name, &flow, &hook, &mut seq, &call, step);
    }
    Ok(event_response(&state, &name, &flow, &call, &out, None, &hook.base, seq))
}

/// Who the call is, for its events.
fn call_head(name: &str, flow_version: u64, hook: &Webhook) -> CallHead {
    CallHead {
        call_id: hook.param("CallSid").unwrap_or_default().to_owned(),
        provider: PROVIDER.to_owned(),
        flow: name.to_owned(),
        flow_version,
        simulated: false,
    }
}

/// Queues the events of one engine step for the log (never waits), numbering them from `*seq`.
fn log_step(state: &AppState, name: &str, flow: &Flow, hook: &Webhook, seq: &mut u32, after: &Call, step: Step) {
    if let Some(writer) = &state.events {
        writer.record_all(events::events_of(&call_head(name, flow.version, hook), seq, flow, after, step));
    }
}

/// Twilio's `QueueResult` (<https://www.twilio.com/docs/voice/twiml/enqueue#attributes-action>)
/// as the log words it: `bridged` and `hangup` as they are; `redirected` and `leave` (the
/// caller was taken out on purpose) as `redirected`; `queue-full`, `error`, `system-error` and
/// anything else as `error`.
pub fn queue_result(twilio: &str) -> QueueResult {
    match twilio {
        "bridged" => QueueResult::Bridged,
        "hangup" => QueueResult::Hangup,
        "redirected" | "leave" => QueueResult::Redirected,
        _ => QueueResult::Error,
    }
}

/// Twilio's final call statuses (<https://www.twilio.com/docs/voice/api/call-resource#call-status-values>).
fn is_final(status: &str) -> bool {
    matches!(status, "completed" | "busy" | "failed" | "no-answer" | "canceled")
}

/// The number's "Call status changes" URL (`/twilio/status`, optionally `?flow=NAME`; or
/// `/twilio/{flow}/status`). When the call is over it logs `caller_hung_up` (for a call that
/// was answered) and `call_completed` with Twilio's `CallDuration`. Without a state token it
/// cannot know where the call was: `caller_hung_up` has no node, and a reader takes the call's
/// last `node_entered`, and whether it had reached a queue or a transfer, from the log.
pub async fn status(State(state): State<Arc<AppState>>, hook: Webhook) -> Response {
    let flow = hook.query.iter().find(|(k, _)| k == "flow").map(|(_, v)| v.clone()).unwrap_or_default();
    call_status(&state, &flow, &hook)
}

fn call_status(state: &AppState, name: &str, hook: &Webhook) -> Response {
    let status = hook.param("CallStatus").unwrap_or("?");
    tracing::info!(call_status = status, "call status");
    if let Some(writer) = state.events.as_ref().filter(|_| is_final(status)) {
        // The version loaded now: the callback does not say which one the call ran on.
        let version = state.flows.current(name).map_or(0, |f| f.version);
        let head = call_head(name, version, hook);
        let at = (state.clock)();
        if matches!(status, "completed" | "canceled") {
            writer.record(head.event(SEQ_HUNG_UP, at, None, Kind::CallerHungUp {}));
        }
        let duration_s = hook.param("CallDuration").and_then(|d| d.parse().ok()).unwrap_or(0);
        writer.record(head.event(SEQ_COMPLETED, at, None, Kind::CallCompleted { duration_s }));
    }
    twiml_response(twiml::render_empty())
}

/// A request for a flow that is not loaded: logged, counted, and refused with a 404.
fn unknown_flow(state: &AppState, name: String) -> WebhookError {
    tracing::error!(flow = %name, "request for a flow that is not loaded; answering 404 for the number's Fallback URL");
    state.metrics.unknown_flow(&name);
    WebhookError::UnknownFlow(name)
}

/// Callbacks the TwiML points back to: `gather`, `silence`, `wait`, `left`, `dialed`,
/// `recorded`, `status`.
pub async fn callback(
    State(state): State<Arc<AppState>>,
    Path((name, kind)): Path<(String, String)>,
    hook: Webhook,
) -> Result<Response, WebhookError> {
    Span::current().record("flow", name.as_str());
    if !matches!(kind.as_str(), "gather" | "silence" | "wait" | "left" | "dialed" | "recorded" | "status") {
        return Err(WebhookError::NotFound);
    }
    let Some(token) = hook.token() else {
        if kind == "status" {
            // The number's status callback, set in the console rather than by our TwiML.
            return Ok(call_status(&state, &name, &hook));
        }
        return Err(WebhookError::BadRequest("the state token `t` is missing".into()));
    };
    let opened = state.tokens.open(&name, token).map_err(|e| {
        tracing::warn!(error = %e, "state token refused");
        WebhookError::Forbidden(e.to_string())
    })?;
    let mut call = opened.call;
    // A token from before the log: nothing of this call was logged, so its numbering starts.
    let mut seq = opened.seq.unwrap_or(0);
    // The version the call started on; if it is gone (file deleted and not archived), the
    // current one, where the engine notices the stale state and goes to the operator.
    let Some(flow) = state.flows.version(&name, call.flow_version).or_else(|| state.flows.current(&name)) else {
        return Err(unknown_flow(&state, name));
    };
    let utc = (state.clock)();
    let now = crate::clock::local_time(&flow, utc);
    let before = call.outcome(&flow);
    let call_sid = hook.param("CallSid").unwrap_or_default();
    if kind == "left" {
        state.waits.forget(call_sid);
        let result = hook.param("QueueResult").unwrap_or("");
        if let (Some(writer), Some(queued)) = (&state.events, &before) {
            let node = flow.nodes.get(call.node().index()).map(|n| n.id.to_string());
            let left = Kind::QueueLeft {
                queue: queued.target.to_string(),
                result: queue_result(result),
                queue_time_s: hook.param("QueueTime").and_then(|t| t.parse().ok()).unwrap_or(0),
                // Twilio's action request does not say; the wait requests do, but another
                // instance may have answered them.
                last_position: None,
            };
            writer.record(call_head(&name, flow.version, &hook).event(seq, utc, node, left));
        }
        let lang = call_language(&flow, &call);
        return Ok(left_queue(&state, &flow, lang, before.as_ref(), result));
    }

    // Twilio reports a call that ended (the caller hung up) in CallStatus.
    let ended = hook
        .param("CallStatus")
        .is_some_and(|s| matches!(s, "completed" | "busy" | "failed" | "no-answer" | "canceled"));
    let confidence = hook.param("Confidence").and_then(|c| c.parse::<f32>().ok());
    let event = match kind.as_str() {
        _ if ended => Event::Hangup,
        "status" => Event::Hangup,
        "gather" => match (hook.param("Digits"), hook.param("SpeechResult")) {
            (Some(digits), _) => Event::Digits(digits),
            // A recogniser that reports no confidence is taken at its word.
            (None, Some(text)) => Event::Speech { text, confidence: confidence.unwrap_or(1.0) },
            (None, None) => Event::NoInput,
        },
        "silence" => Event::NoInput,
        "wait" => Event::QueueUpdate(LiveQueue {
            position: hook.param("QueuePosition").and_then(|p| p.parse().ok()).unwrap_or(1),
            avg_wait_s: hook.param("AvgQueueTime").and_then(|p| p.parse().ok()),
        }),
        "dialed" => {
            Event::DialEnded { answered: matches!(hook.param("DialCallStatus"), Some("completed" | "answered")) }
        }
        _ => Event::RecordingDone,
    };
    // What the queue node announced when the caller joined, before a wait update changes it.
    let joined_min = call.var(&flow, WAIT_MIN).map(str::to_owned);
    let listening = Before::of(&call);
    let out = call.handle(&flow, event, now);
    // The wait URL is fixed in the <Enqueue>, so its requests cannot number new events; what
    // the caller hears while queued is not logged.
    if kind != "wait" || matches!(event, Event::Hangup) {
        let step = Step { at: utc, before: Some(listening), input: Some(event), caller: None, output: &out };
        log_step(&state, &name, &flow, &hook, &mut seq, &call, step);
    }
    if matches!(event, Event::Hangup) {
        state.waits.forget(call_sid);
        record(&state, &name, &flow, &call, &out, before.as_ref());
        return Ok(twiml_response(twiml::render_empty()));
    }
    if kind == "wait" {
        // No new token: only what to hear now. The engine announces the wait refined by the
        // live position every time; `waits` decides whether the caller hears it this time or
        // only the hold music.
        record(&state, &name, &flow, &call, &out, before.as_ref());
        let announce = !out.actions.is_empty()
            && state.waits.should_announce(WaitRequest {
                call_sid,
                position: match event {
                    Event::QueueUpdate(live) => live.position,
                    _ => 1,
                },
                queue_time_s: hook.param("QueueTime").and_then(|t| t.parse().ok()).unwrap_or(0),
                joined_min: joined_min.as_deref(),
                now_min: call.var(&flow, WAIT_MIN),
            });
        let actions = if announce { &out.actions[..] } else { &[] };
        let links = Links::new(&hook.base, &name, token).with_voices(state.voices.clone());
        return Ok(twiml_response(twiml::render_wait(actions, state.hold_music.as_deref(), WAIT_PAUSE_S, &links)));
    }
    Ok(event_response(&state, &name, &flow, &call, &out, before.as_ref(), &hook.base, seq))
}

/// The caller left the queue (`<Enqueue action>`). Only a queue that refused them leaves them
/// on the line unserved: then the flow's other way to a person, if it has one.
fn left_queue(state: &AppState, flow: &Flow, lang: &str, queued: Option<&Outcome>, result: &str) -> Response {
    Span::current().record("outcome", format!("left queue: {result}"));
    if !matches!(result, "queue-full" | "error" | "system-error") {
        // Bridged to an agent and finished, hung up, or taken out on purpose: the call is done.
        return twiml_response(twiml::render_hangup());
    }
    tracing::error!(queue_result = result, queue = ?queued.map(|o| &o.target), "a queue refused the caller");
    let route = super::operator_route(flow);
    let same = match (&route, queued) {
        (OperatorRoute::Queue(q), Some(o)) => *q == o.target,
        _ => false,
    };
    twiml_response(twiml::render_queue_failed(lang, (!same).then_some(&route), &state.voices))
}

/// The language the call is in, for words the driver says itself.
fn call_language<'f>(flow: &'f Flow, call: &Call) -> &'f str {
    flow.languages.get(usize::from(call.language())).map(|l| &**l).unwrap_or_else(|| super::default_language(flow))
}

/// Metrics and the request span for the engine's answer to one event.
fn record(state: &AppState, name: &str, flow: &Flow, call: &Call, out: &Output, before: Option<&Outcome>) {
    for (_, trace) in &out.trace {
        match trace {
            Trace::Escape => state.metrics.escape(name),
            Trace::Fallback => state.metrics.timeout_fallback(name),
            _ => {}
        }
    }
    let span = Span::current();
    if let Some(node) = flow.nodes.get(call.node().index()) {
        span.record("node", &*node.id);
    }
    // Counted when it changes: a transfer nobody answered may still end in voicemail.
    if let Some(outcome) = call.outcome(flow).filter(|o| Some(o) != before) {
        let kind = outcome.kind.as_str();
        state.metrics.outcome(name, kind);
        span.record("outcome", format!("{kind} {}", outcome.target));
        tracing::info!(outcome = kind, target = %outcome.target, "call left the IVR");
    }
}

/// The TwiML for the engine's answer to one event, its callbacks carrying the call's new state
/// and the number of its next event.
#[allow(clippy::too_many_arguments)]
fn event_response(
    state: &AppState,
    name: &str,
    flow: &Flow,
    call: &Call,
    out: &Output,
    before: Option<&Outcome>,
    base: &str,
    seq: u32,
) -> Response {
    record(state, name, flow, call, out, before);
    let token = state.tokens.seal(name, call, seq);
    let links = Links::new(base, name, &token).with_voices(state.voices.clone());
    let body = match (out.actions.is_empty(), call.is_over()) {
        (false, _) => twiml::render(&out.actions, &links),
        (true, true) => twiml::render_hangup(),
        // Listening with nothing to say: an event that did not apply (a replayed callback).
        // Rather than silence, take the caller to a person.
        (true, false) => {
            tracing::warn!("the engine had nothing to do for this callback; sending the caller to the operator");
            twiml::render_operator(call_language(flow, call), &super::operator_route(flow), &state.voices)
        }
    };
    twiml_response(body)
}

/// Twilio's Fallback URL: called when our answer failed (timeout, invalid TwiML, a 4xx or 5xx).
/// Reads `ErrorCode` and `ErrorUrl` and takes the caller to the flow's operator. It is the last
/// resort, so it never refuses: when the failed URL names no loaded flow, there is no queue
/// known to be served, and the caller hears an apology and is hung up on rather than parked in
/// a queue nobody answers.
pub async fn fallback(State(state): State<Arc<AppState>>, hook: Webhook) -> Response {
    let code = hook.param("ErrorCode").unwrap_or("?");
    let url = hook.param("ErrorUrl").unwrap_or("?");
    // The flow is the path segment after /twilio/ in the URL that failed.
    let flow = url.split("/twilio/").nth(1).and_then(|rest| rest.split(['/', '?']).next()).unwrap_or("");
    Span::current().record("flow", flow);
    tracing::error!(
        error_code = code,
        error_url = url,
        "Twilio called the fallback URL; sending the caller to a person"
    );
    match state.flows.current(flow) {
        Some(flow) => twiml_response(twiml::render_operator(
            super::default_language(&flow),
            &super::operator_route(&flow),
            &state.voices,
        )),
        None => {
            tracing::error!(flow, "the fallback URL names no loaded flow; apologising and hanging up");
            state.metrics.unknown_flow(flow);
            twiml_response(twiml::render_apology(&state.voices))
        }
    }
}

/// Prompt audio for `<Play>`.
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
        // Twilio caches media by URL; an hour keeps edits visible the same day.
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], bytes)
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The loaded flows and their version hashes, as JSON.
pub async fn list_flows(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.flows.list()).into_response()
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut text = state.metrics.render();
    super::metrics::render_event_log(&mut text, state.events.as_ref().map(events::Writer::stats));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_results_map_to_the_logs_words() {
        // Twilio's values, from <https://www.twilio.com/docs/voice/twiml/enqueue>.
        for (twilio, logged) in [
            ("bridged", QueueResult::Bridged),
            ("hangup", QueueResult::Hangup),
            ("redirected", QueueResult::Redirected),
            ("leave", QueueResult::Redirected),
            ("queue-full", QueueResult::Error),
            ("error", QueueResult::Error),
            ("system-error", QueueResult::Error),
            ("", QueueResult::Error),
        ] {
            assert_eq!(queue_result(twilio), logged, "{twilio}");
        }
    }
}
