//! The shared call step, the same for every provider: the request in ([`RawRequest`]), the
//! adapter's signature check and parse, state token → engine event → engine → new token and
//! actions, and the adapter's document out.
//!
//! Order of checks on every webhook: body size (413), parameter syntax (400), the provider
//! enabled (403), the adapter's signature check (403, or 400 for a body the provider never
//! sends), its parse (400: no call id), the flow (404). Past those, the caller is on the line
//! and gets a document whatever happens: a state token that does not open (expired, from
//! another call, tampered) and an engine that cannot go on send them to a person, a queue that
//! refuses them offers another way to one.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::Span;

use super::AppState;
use super::waits::WaitRequest;
use crate::engine::{Call, Event, Flow, Outcome, Output, Start, Trace};
use crate::events::{self, Before, CallHead, Kind, QueueResult, Step};
use crate::providers::{
    Callback, Document, Incoming, Links, OperatorRoute, Provider, ProviderRequest, RawRequest, Refusal,
};

/// The engine's variable holding the announced wait in minutes.
const WAIT_MIN: &str = "wait_min";
/// `seq` of the events the status callback records. It carries no state token, so it cannot
/// continue the call's numbering; these sort after any event a call's requests can number.
pub const SEQ_HUNG_UP: u32 = u32::MAX - 1;
pub const SEQ_COMPLETED: u32 = u32::MAX;

/// A request refused before any document: forged or malformed. Everything else answers one.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("cannot read the body")]
    Body(StatusCode),
    #[error("not found")]
    NotFound,
    /// No flow of this name is loaded: the number points at the wrong URL, or the flow file is
    /// gone. A 4xx makes the provider call the number's fallback URL rather than park the caller.
    #[error("no flow `{0}` is loaded")]
    UnknownFlow(String),
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let status = match &self {
            WebhookError::Refused(Refusal::Forbidden(_)) => StatusCode::FORBIDDEN,
            WebhookError::Refused(Refusal::BadRequest(_)) => StatusCode::BAD_REQUEST,
            WebhookError::Body(status) => *status,
            WebhookError::NotFound | WebhookError::UnknownFlow(_) => StatusCode::NOT_FOUND,
        };
        (status, format!("{self}\n")).into_response()
    }
}

impl FromRequest<Arc<AppState>> for RawRequest {
    type Rejection = WebhookError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<RawRequest, WebhookError> {
        // The headers are taken rather than cloned; reading the body needs only the rest.
        let (mut parts, body) = req.into_parts();
        let headers = std::mem::take(&mut parts.headers);
        let method = parts.method.clone();
        let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|r| WebhookError::Body(r.status()))?;
        let query = parse_form(path_and_query.split_once('?').map_or("", |(_, q)| q).as_bytes())?;
        let form_body = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let form = if method == Method::POST && form_body { parse_form(&body)? } else { Vec::new() };
        let bases = base_urls(state, &headers);
        Ok(RawRequest { method, path_and_query, bases, headers, body, query, form, form_body })
    }
}

fn parse_form(bytes: &[u8]) -> Result<Vec<(String, String)>, WebhookError> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(Refusal::BadRequest("the parameters are not UTF-8".into()).into());
    };
    // What `form_urlencoded::parse` gives, pair by pair; most of a provider's pairs need no
    // decoding (`ApiVersion=2010-04-01`) and are copied as they are.
    let pair = |piece: &str| {
        if piece.bytes().any(|b| b == b'%' || b == b'+') {
            let (name, value) = form_urlencoded::parse(piece.as_bytes()).next().unwrap_or_default();
            (name.into_owned(), value.into_owned())
        } else {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            (name.to_owned(), value.to_owned())
        }
    };
    Ok(text.split('&').filter(|piece| !piece.is_empty()).map(pair).collect())
}

/// The base URLs the provider may have used to reach us, most trusted first: `--public-url`,
/// then what the proxy headers or `Host` say.
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

/// A verified, parsed webhook: what it says and the base URL to point callbacks at.
struct Hook {
    req: ProviderRequest,
    raw: RawRequest,
    base: String,
}

/// The provider's checks on a request: enabled, signed, parsed.
fn admit(
    state: &AppState,
    provider: &dyn Provider,
    raw: RawRequest,
    callback: Option<Callback>,
) -> Result<Hook, WebhookError> {
    let mut base = 0;
    if state.providers.check_signatures {
        if !provider.enabled() {
            tracing::warn!(provider = provider.name(), "request for a provider whose credentials are not configured");
            return Err(Refusal::Forbidden(format!("the {} provider is not configured", provider.name())).into());
        }
        base = provider.verify(&raw, (state.clock)())?;
    }
    let req = provider.parse(&raw, callback)?;
    Span::current().record("call_sid", req.call_id.as_str());
    let base = raw.bases.get(base).or(raw.bases.first()).cloned().unwrap_or_default();
    Ok(Hook { req, raw, base })
}

fn respond(doc: Document) -> Response {
    ([(header::CONTENT_TYPE, doc.content_type)], doc.body).into_response()
}

/// `/{provider}/{flow}`: a call comes in.
pub async fn start(
    state: Arc<AppState>,
    provider: Arc<dyn Provider>,
    name: String,
    raw: RawRequest,
) -> Result<Response, WebhookError> {
    Span::current().record("flow", name.as_str());
    let hook = admit(&state, &*provider, raw, None)?;
    begin(&state, &*provider, name, &hook).await
}

async fn begin(state: &AppState, provider: &dyn Provider, name: String, hook: &Hook) -> Result<Response, WebhookError> {
    let Some(flow) = state.flows.current(&name) else { return Err(unknown_flow(state, name)) };
    let utc = (state.clock)();
    let now = crate::clock::local_time(&flow, utc);
    let caller = hook.req.caller.as_deref();
    let mut out = Output::default();
    let node = super::callbacks::start_node(&flow, &hook.raw.query);
    let mut call = Call::start_at(&flow, &Start { caller, language: None }, node, now, &mut out);
    state.metrics.call_started(&name);
    tracing::info!(
        provider = provider.name(),
        flow = name.as_str(),
        call_sid = hook.req.call_id.as_str(),
        "call started"
    );
    let mut seq = 0;
    if state.events.is_some() {
        let kept = state.caller_numbers.keep(&state.caller_key, caller);
        let step = Step { at: utc, before: None, input: None, caller: kept.as_deref(), output: &out };
        log_step(state, provider, &name, &flow, hook, &mut seq, &call, step);
    }
    settle(state, provider, &name, &flow, hook, &mut seq, &mut call, &mut out, now).await;
    Ok(event_response(state, provider, &name, &flow, &call, &out, None, hook, seq))
}

/// `/{provider}/status` (`?flow=NAME`): the number's status callback.
pub async fn status(
    state: Arc<AppState>,
    provider: Arc<dyn Provider>,
    raw: RawRequest,
) -> Result<Response, WebhookError> {
    let hook = admit(&state, &*provider, raw, Some(Callback::Status))?;
    let flow = hook.raw.query.iter().find(|(k, _)| k == "flow").map(|(_, v)| v.clone()).unwrap_or_default();
    Ok(call_status(&state, &*provider, &flow, &hook))
}

/// A status report without a state token. When the call is over it logs `caller_hung_up`
/// (for a call that was answered) and `call_completed` with its duration. Without a token it
/// cannot know where the call was: `caller_hung_up` has no node, and a reader takes the call's
/// last `node_entered`, and whether it had reached a queue or a transfer, from the log.
fn call_status(state: &AppState, provider: &dyn Provider, name: &str, hook: &Hook) -> Response {
    if let Incoming::Status { label, ended, hung_up, duration_s } = &hook.req.incoming {
        tracing::info!(flow = name, call_sid = hook.req.call_id.as_str(), call_status = label.as_str(), "call status");
        if let Some(writer) = state.events.as_ref().filter(|_| *ended) {
            // The version loaded now: the callback does not say which one the call ran on.
            let version = state.flows.current(name).map_or(0, |f| f.version);
            let head = call_head(provider, name, version, hook);
            let at = (state.clock)();
            if *hung_up {
                writer.record(head.event(SEQ_HUNG_UP, at, None, Kind::CallerHungUp {}));
            }
            writer.record(head.event(SEQ_COMPLETED, at, None, Kind::CallCompleted { duration_s: *duration_s }));
        }
    }
    respond(provider.render_ack())
}

/// A request for a flow that is not loaded: logged, counted, and refused with a 404.
fn unknown_flow(state: &AppState, name: String) -> WebhookError {
    tracing::error!(flow = %name, "request for a flow that is not loaded; answering 404 for the number's fallback URL");
    state.metrics.unknown_flow(&name);
    WebhookError::UnknownFlow(name)
}

/// `/{provider}/{flow}/{callback}`: the follow-ups a document points back to.
pub async fn callback(
    state: Arc<AppState>,
    provider: Arc<dyn Provider>,
    name: String,
    segment: String,
    raw: RawRequest,
) -> Result<Response, WebhookError> {
    Span::current().record("flow", name.as_str());
    let Some(kind) = Callback::from_segment(&segment, provider.extra_callbacks()) else {
        return Err(WebhookError::NotFound);
    };
    let provider = &*provider;
    let hook = admit(&state, provider, raw, Some(kind))?;
    if hook.req.incoming == Incoming::Start {
        return begin(&state, provider, name, &hook).await;
    }
    let Some(token) = hook.raw.token() else {
        return match &hook.req.incoming {
            // The number's status callback, set in the console rather than by our document.
            Incoming::Status { .. } => Ok(call_status(&state, provider, &name, &hook)),
            // Hold music for a queue entered without a token (the fallbacks' queue).
            Incoming::Wait { .. } => {
                Ok(respond(provider.render_wait(&[], &links(&state, provider, &hook.base, &name, None))))
            }
            _ => Err(Refusal::BadRequest("the state token `t` is missing".into()).into()),
        };
    };
    let call_id = hook.req.call_id.as_str();
    let opened = match state.tokens.open(&name, call_id, token, (state.clock)()) {
        Ok(opened) => opened,
        // The provider's signature proved a real caller is on the line (an expired token, one
        // from another call or sealed with a dropped secret): take them to a person.
        Err(e) => return refused_token(&state, provider, &name, &hook, &e),
    };
    let mut call = opened.call;
    let mut seq = opened.seq;
    // The version the call started on; if it is gone (file deleted and not archived), the
    // current one, where the engine notices the stale state and goes to the operator.
    let Some(flow) = state.flows.version(&name, call.flow_version).or_else(|| state.flows.current(&name)) else {
        return Err(unknown_flow(&state, name));
    };
    let utc = (state.clock)();
    let now = crate::clock::local_time(&flow, utc);
    let before = call.outcome(&flow);
    let links_now = |token: &str| links(&state, provider, &hook.base, &name, Some(token)).with_call(call_id);

    let (event, queue_time_s) = match &hook.req.incoming {
        Incoming::LeftQueue { result, refused, queue_time_s, label } => {
            state.waits.forget(call_id);
            if let (Some(writer), Some(queued)) = (&state.events, &before) {
                let node = flow.nodes.get(call.node().index()).map(|n| n.id.clone());
                let left = Kind::QueueLeft {
                    queue: queued.target.to_string(),
                    result: *result,
                    queue_time_s: *queue_time_s,
                    // The leaving request does not say; the wait requests do, but another
                    // instance may have answered them.
                    last_position: None,
                };
                writer.record(call_head(provider, &name, flow.version, &hook).event(seq, utc, node, left));
                seq = seq.saturating_add(1);
            }
            // The agent hung up on a bridged caller who is still on the line: the queue's
            // `after` goes on with the flow (a rating, say).
            match call.conversation_end(&flow) {
                Some(end) if *result == QueueResult::Bridged => (end, 0),
                _ => {
                    let lang = call_language(&flow, &call);
                    let links = links_now(token);
                    return Ok(left_queue(provider, &flow, lang, before.as_ref(), *refused, label, &links));
                }
            }
        }
        Incoming::Input(input) => (input.event(), 0),
        Incoming::Wait { live, queue_time_s } => (Event::QueueUpdate(*live), *queue_time_s),
        // Progress of a transfer (Vonage's `connect` reports ringing and answered to the same
        // URL as its end): nothing for the engine, only an acknowledgement.
        Incoming::Status { .. } => return Ok(call_status(&state, provider, &name, &hook)),
        // A fallback or a start on a follow-up path carrying a token: not ours to send.
        Incoming::Fallback { .. } | Incoming::Start => {
            return Err(Refusal::BadRequest(format!("`{segment}` does not take this request")).into());
        }
    };
    let waiting = matches!(hook.req.incoming, Incoming::Wait { .. });
    // What the queue node announced when the caller joined, before a wait update changes it.
    let joined_min = call.var(&flow, WAIT_MIN).map(str::to_owned);
    let listening = Before::of(&call);
    let mut out = call.handle(&flow, event, now);
    // The wait URL is fixed in the queue verb, so its requests cannot number the call's events:
    // each is one `queue_waiting` numbered by the time in queue (the caller's position and the
    // wait the engine would announce), which gives the report the last position of callers who
    // gave up.
    if !waiting || matches!(event, Event::Hangup) {
        let step = Step { at: utc, before: Some(listening), input: Some(event), caller: None, output: &out };
        log_step(&state, provider, &name, &flow, &hook, &mut seq, &call, step);
    } else if let (Some(writer), Event::QueueUpdate(live), Some(queued)) = (&state.events, event, &before) {
        let node = flow.nodes.get(call.node().index()).map(|n| n.id.clone());
        let announced = call.var(&flow, WAIT_MIN).and_then(|m| m.parse().ok());
        let head = call_head(provider, &name, flow.version, &hook);
        writer.record(events::queue_waiting(&head, utc, node, &queued.target, live.position, announced, queue_time_s));
    }
    if matches!(event, Event::Hangup) {
        state.waits.forget(call_id);
        record(&state, (&name, call_id), &flow, &call, &out, before.as_ref());
        return Ok(respond(provider.render_ack()));
    }
    if waiting {
        // No new token: only what to hear now. The engine announces the wait refined by the
        // live position every time; `waits` decides whether the caller hears it this time or
        // only the hold music.
        record(&state, (&name, call_id), &flow, &call, &out, before.as_ref());
        let announce = !out.actions.is_empty()
            && state.waits.should_announce(WaitRequest {
                call_sid: call_id,
                position: match event {
                    Event::QueueUpdate(live) => live.position,
                    _ => 1,
                },
                queue_time_s,
                joined_min: joined_min.as_deref(),
                now_min: call.var(&flow, WAIT_MIN),
            });
        let actions = if announce { &out.actions[..] } else { &[] };
        return Ok(respond(provider.render_wait(actions, &links_now(token))));
    }
    settle(&state, provider, &name, &flow, &hook, &mut seq, &mut call, &mut out, now).await;
    Ok(event_response(&state, provider, &name, &flow, &call, &out, before.as_ref(), &hook, seq))
}

/// A state token that does not open on a request the provider signed: the caller is real, so
/// they hear an apology and go to the flow's operator, as the fallback URL would take them.
fn refused_token(
    state: &AppState,
    provider: &dyn Provider,
    name: &str,
    hook: &Hook,
    error: &super::TokenError,
) -> Result<Response, WebhookError> {
    let Some(flow) = state.flows.current(name) else { return Err(unknown_flow(state, name.to_owned())) };
    tracing::warn!(
        flow = name,
        call_sid = hook.req.call_id.as_str(),
        error = %error,
        "state token refused; sending the caller to the operator"
    );
    state.metrics.token_refused(error.label());
    let links = links(state, provider, &hook.base, name, None);
    Ok(respond(provider.render_operator(super::default_language(&flow), &super::operator_route(&flow), &links)))
}

/// Makes the requests of the `fetch` nodes and stores the call-backs of the `callback` nodes
/// the engine asks for, inside this webhook request, feeding each answer back (each step
/// logged) until `out` holds only what the caller hears: the prompts before the request and
/// those after, in order, in one document.
#[allow(clippy::too_many_arguments)]
async fn settle(
    state: &AppState,
    provider: &dyn Provider,
    name: &str,
    flow: &Flow,
    hook: &Hook,
    seq: &mut u32,
    call: &mut Call,
    out: &mut Output,
    now: chrono::NaiveDateTime,
) {
    loop {
        let answer; // a fetch's answer, which its event borrows
        let input = if let Some(request) = out.fetch.take() {
            let node = flow.nodes.get(call.node().index()).map_or_else(String::new, |n| n.id.to_string());
            answer = state.fetcher.perform(flow, &node, &request).await;
            Event::Fetched(answer.fetched())
        } else if let Some(booking) = out.book.take() {
            Event::Booked(super::callbacks::book(state, provider.name(), flow, &hook.req.call_id, &booking).await)
        } else {
            break;
        };
        let before = Before::of(call);
        let next = call.handle(flow, input, now);
        let step = Step { at: (state.clock)(), before: Some(before), input: Some(input), caller: None, output: &next };
        log_step(state, provider, name, flow, hook, seq, call, step);
        let shift = out.actions.len();
        out.actions.extend(next.actions);
        out.trace.extend(next.trace.into_iter().map(|(i, t)| (i + shift, t)));
        out.fetch = next.fetch;
        out.book = next.book;
    }
}

/// The links of one answer: callbacks on `base`, the deployment's hold music and the
/// provider's voices.
fn links(state: &AppState, provider: &dyn Provider, base: &str, name: &str, token: Option<&str>) -> Links {
    Links::new(base, provider.name(), name, token)
        .with_voices(state.voices.of(provider.name()))
        .with_hold(state.hold_music.clone())
}

/// The caller left the queue. Only a queue that refused them leaves them on the line
/// unserved: then the flow's other way to a person, if it has one.
fn left_queue(
    provider: &dyn Provider,
    flow: &Flow,
    lang: &str,
    queued: Option<&Outcome>,
    refused: bool,
    label: &str,
    links: &Links,
) -> Response {
    let span = Span::current();
    if !span.is_disabled() {
        span.record("outcome", format!("left queue: {label}"));
    }
    if !refused {
        // Bridged to an agent and finished, hung up, or taken out on purpose: the call is done.
        return respond(provider.render_hangup());
    }
    tracing::error!(queue_result = label, queue = ?queued.map(|o| &o.target), "a queue refused the caller");
    let route = super::operator_route(flow);
    let same = match (&route, queued) {
        (OperatorRoute::Queue(q), Some(o)) => *q == o.target,
        _ => false,
    };
    respond(provider.render_queue_failed(lang, (!same).then_some(&route), links))
}

/// The language the call is in, for words the driver says itself.
fn call_language<'f>(flow: &'f Flow, call: &Call) -> &'f str {
    flow.languages.get(usize::from(call.language())).map(|l| &**l).unwrap_or_else(|| super::default_language(flow))
}

/// Metrics and the request span for the engine's answer to one event.
fn record(
    state: &AppState,
    (name, call_sid): (&str, &str),
    flow: &Flow,
    call: &Call,
    out: &Output,
    before: Option<&Outcome>,
) {
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
        if !span.is_disabled() {
            span.record("outcome", format!("{kind} {}", outcome.target));
        }
        tracing::info!(flow = name, call_sid, outcome = kind, target = %outcome.target, "call left the IVR");
    }
}

/// The document for the engine's answer to one event, its callbacks carrying the call's new
/// state and the number of its next event.
#[allow(clippy::too_many_arguments)]
fn event_response(
    state: &AppState,
    provider: &dyn Provider,
    name: &str,
    flow: &Flow,
    call: &Call,
    out: &Output,
    before: Option<&Outcome>,
    hook: &Hook,
    seq: u32,
) -> Response {
    record(state, (name, &hook.req.call_id), flow, call, out, before);
    let token = state.tokens.seal(name, &hook.req.call_id, call, seq, (state.clock)());
    let links = links(state, provider, &hook.base, name, Some(&token)).with_call(&hook.req.call_id);
    respond(match (out.actions.is_empty(), call.is_over()) {
        (false, _) => provider.render(&out.actions, &links),
        (true, true) => provider.render_hangup(),
        // Listening with nothing to say: an event that did not apply (a replayed callback).
        // Rather than silence, take the caller to a person.
        (true, false) => {
            tracing::warn!(
                flow = name,
                call_sid = hook.req.call_id.as_str(),
                "the engine had nothing to do for this callback; sending the caller to the operator"
            );
            provider.render_operator(call_language(flow, call), &super::operator_route(flow), &links)
        }
    })
}

/// `/{provider}/fallback`: the provider's fallback URL, called when our answer failed
/// (timeout, an invalid document, a 4xx or 5xx). Takes the caller to the flow's operator. It is
/// the last resort, so it never refuses: when the failed URL names no loaded flow, there is no
/// queue known to be served, and the caller hears an apology and is hung up on rather than
/// parked in a queue nobody answers.
pub async fn fallback(
    state: Arc<AppState>,
    provider: Arc<dyn Provider>,
    raw: RawRequest,
) -> Result<Response, WebhookError> {
    let provider = &*provider;
    let hook = admit(&state, provider, raw, Some(Callback::Other("fallback")))?;
    let Incoming::Fallback { flow, error } = &hook.req.incoming else {
        return Err(Refusal::BadRequest("not a fallback request".into()).into());
    };
    Span::current().record("flow", flow.as_str());
    tracing::error!(
        provider = provider.name(),
        error = error.as_str(),
        "the fallback URL was called; sending the caller to a person"
    );
    let links = links(&state, provider, &hook.base, flow, None);
    Ok(respond(match state.flows.current(flow) {
        Some(loaded) => {
            provider.render_operator(super::default_language(&loaded), &super::operator_route(&loaded), &links)
        }
        None => {
            tracing::error!(flow = flow.as_str(), "the fallback URL names no loaded flow; apologising and hanging up");
            state.metrics.unknown_flow(flow);
            provider.render_apology(&links)
        }
    }))
}

/// Who the call is, for its events.
fn call_head(provider: &dyn Provider, name: &str, flow_version: u64, hook: &Hook) -> CallHead {
    CallHead {
        call_id: hook.req.call_id.as_str().into(),
        provider: provider.name().into(),
        flow: name.into(),
        flow_version,
        simulated: false,
    }
}

/// Queues the events of one engine step for the log (never waits), numbering them from `*seq`.
#[allow(clippy::too_many_arguments)]
fn log_step(
    state: &AppState,
    provider: &dyn Provider,
    name: &str,
    flow: &Flow,
    hook: &Hook,
    seq: &mut u32,
    after: &Call,
    step: Step,
) {
    if let Some(writer) = &state.events {
        writer.record_all(events::events_of(&call_head(provider, name, flow.version, hook), seq, flow, after, step));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_parse_as_form_urlencoded_parses_them() {
        let bodies = [
            "",
            "CallSid=CA1&From=%2B79161234567&Digits=1",
            "a=1&&b=x+y%20z&c&=v&d=%ZZ&e=a=b&&",
            "SpeechResult=%D0%BE%D0%BF%D0%B5%D1%80%D0%B0%D1%82%D0%BE%D1%80&Confidence=0.9",
            "broken=%FF%FE",
        ];
        for body in bodies {
            let expected: Vec<(String, String)> =
                form_urlencoded::parse(body.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            assert_eq!(parse_form(body.as_bytes()).expect("UTF-8"), expected, "{body}");
        }
        assert!(parse_form(b"a=\xff").is_err());
    }
}
