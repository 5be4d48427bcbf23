//! The Vonage Voice API dialect: NCCO documents ([`ncco`]), its webhooks ([`webhook`]), its
//! signed requests ([`signature`]) and the documented NCCO fields ([`schema`]).
//!
//! A Vonage application has an answer URL (`/vonage/{flow}/answer`, GET by default) and an
//! event URL (`/vonage/{flow}/event`); every other callback is a URL we put in the NCCO
//! (`input` and `connect` `eventUrl`, `notify`), carrying the call's signed state token like
//! every adapter's. Vonage has no queue: a queue is a named conversation with hold music.

pub mod ncco;
pub mod schema;
pub mod signature;
pub mod webhook;

use std::sync::Arc;

use axum::http::Method;
use chrono::{DateTime, Utc};

use self::signature::Payload;
use self::webhook::{Answer, CallEvent, InputResult};
use super::replay::Replays;
use super::{
    Callback, Document, Incoming, Input, Links, OperatorRoute, Provider, ProviderRequest, RawRequest, Refusal,
};
use crate::engine::Action;

/// The Vonage adapter: NCCO answers, JWT-signed requests.
pub struct Vonage {
    /// The account's signature secret (`VONAGE_SIGNATURE_SECRET`).
    secret: Option<String>,
    replays: Replays,
}

impl Vonage {
    /// Vonage, with the account's signature secret.
    pub fn build(secret: Option<&str>) -> Result<Arc<dyn Provider>, String> {
        Ok(Arc::new(Vonage { secret: secret.map(str::to_owned), replays: Replays::default() }))
    }
}

/// The query string of a request, without the `?`.
fn query_string(req: &RawRequest) -> &str {
    req.path_and_query.split_once('?').map_or("", |(_, q)| q)
}

fn bad(e: impl std::fmt::Display) -> Refusal {
    Refusal::BadRequest(e.to_string())
}

/// A call status as the shared layer's status report.
fn status_report(event: &CallEvent) -> Incoming {
    Incoming::Status {
        label: event.status.clone().unwrap_or_else(|| "?".into()),
        ended: event.ended(),
        hung_up: event.status.as_deref() == Some("completed"),
        duration_s: event.duration_s().unwrap_or(0),
    }
}

impl Provider for Vonage {
    fn name(&self) -> &'static str {
        "vonage"
    }

    fn enabled(&self) -> bool {
        self.secret.is_some()
    }

    /// A `conversation` sends no request when the agent leaves it: a queue's `after` is never
    /// reached.
    fn asks_after_queue(&self) -> bool {
        false
    }

    /// `input.dtmf.timeOut`: 0–10 s.
    fn gather_timeout_s(&self) -> Option<(u64, u64)> {
        Some((0, ncco::MAX_DTMF_TIMEOUT_S))
    }

    /// `input.dtmf.maxDigits`: at most 20.
    fn gather_digits_max(&self) -> Option<u8> {
        Some(ncco::MAX_DIGITS)
    }

    /// The JWT covers the payload, not the URL, so callbacks go to the first base.
    fn verify(&self, req: &RawRequest, now: DateTime<Utc>) -> Result<usize, Refusal> {
        let secret = self.secret.as_deref().unwrap_or_default();
        let payload =
            if req.method == Method::GET { Payload::Query(query_string(req)) } else { Payload::Body(&req.body) };
        match signature::verify(secret, req.header("authorization"), payload, now.timestamp(), &self.replays) {
            Ok(_) => Ok(0),
            Err(e) => {
                tracing::warn!(error = %e, "Vonage signature refused");
                Err(Refusal::Forbidden(format!("Vonage signature: {e}")))
            }
        }
    }

    fn parse(&self, req: &RawRequest, callback: Option<Callback>) -> Result<ProviderRequest, Refusal> {
        let request = |call_id: Option<String>, caller: Option<String>, incoming: Incoming| {
            let call_id = call_id.filter(|c| !c.is_empty()).ok_or_else(|| bad("uuid is missing"))?;
            Ok(ProviderRequest { call_id, caller, incoming })
        };
        match callback {
            None | Some(Callback::Other("answer")) => {
                let answer = if req.method == Method::GET {
                    Answer::from_query(query_string(req))
                } else {
                    Answer::from_json(&req.body)
                }
                .map_err(bad)?;
                request(Some(answer.uuid), answer.from, Incoming::Start)
            }
            Some(Callback::Other("fallback")) => {
                // Vonage names no failed URL: the fallback URL names the flow (`?flow=`).
                let flow = req.query.iter().find(|(k, _)| k == "flow").map(|(_, v)| v.clone()).unwrap_or_default();
                let event = if req.method == Method::GET {
                    let answer = Answer::from_query(query_string(req)).map_err(bad)?;
                    CallEvent { uuid: Some(answer.uuid), ..CallEvent::default() }
                } else {
                    CallEvent::from_json(&req.body).map_err(bad)?
                };
                let error = format!("Vonage fallback: {}", event.reason.as_deref().unwrap_or("no reason given"));
                request(event.uuid.or(event.conversation_uuid), None, Incoming::Fallback { flow, error })
            }
            Some(Callback::Gather) => {
                let result = InputResult::from_json(&req.body).map_err(bad)?;
                let input = result.input();
                request(result.uuid, None, Incoming::Input(input))
            }
            Some(Callback::Dialed) => {
                let event = CallEvent::from_json(&req.body).map_err(bad)?;
                let incoming = event.dial_input().map_or_else(|| status_report(&event), Incoming::Input);
                request(event.uuid, None, incoming)
            }
            Some(Callback::Recorded) => {
                // The `notify` after a recording posts our payload; Vonage's reference does not
                // promise the call's ids with it, so the payload names the call (`Links::call_id`).
                let event = CallEvent::from_json(&req.body).map_err(bad)?;
                let call_id = event.uuid.or(event.conversation_uuid).unwrap_or_else(|| "vonage-notify".into());
                request(Some(call_id), None, Incoming::Input(Input::RecordingDone))
            }
            Some(Callback::Other("event") | Callback::Status) => {
                let event = CallEvent::from_json(&req.body).map_err(bad)?;
                let incoming = status_report(&event);
                request(event.uuid.or(event.conversation_uuid), None, incoming)
            }
            Some(other) => Err(bad(format!("Vonage never requests `{}`", other.segment()))),
        }
    }

    fn extra_callbacks(&self) -> &'static [&'static str] {
        &["answer", "event"]
    }

    fn render(&self, actions: &[Action], links: &Links) -> Document {
        Document::json(ncco::to_json(&ncco::render(actions, links)))
    }

    fn render_wait(&self, actions: &[Action], links: &Links) -> Document {
        Document::json(ncco::to_json(&ncco::render_wait(actions, links)))
    }

    fn render_operator(&self, lang: &str, route: &OperatorRoute, links: &Links) -> Document {
        Document::json(ncco::to_json(&ncco::render_operator(lang, route, links)))
    }

    fn render_apology(&self, links: &Links) -> Document {
        Document::json(ncco::to_json(&ncco::render_apology(&links.voices)))
    }

    fn render_queue_failed(&self, lang: &str, alternative: Option<&OperatorRoute>, links: &Links) -> Document {
        Document::json(ncco::to_json(&ncco::render_queue_failed(lang, alternative, links)))
    }

    /// An empty NCCO: the call ends.
    fn render_hangup(&self) -> Document {
        Document::json("[]".into())
    }

    /// Status events need no answer, and an empty body changes nothing; an NCCO, even an empty
    /// one, would replace the call's on a synchronous `connect`.
    fn render_ack(&self) -> Document {
        Document { content_type: "application/json", body: String::new() }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;

    fn raw(method: Method, path_and_query: &str, body: &str) -> RawRequest {
        let query = form_urlencoded::parse(path_and_query.split_once('?').map_or("", |(_, q)| q).as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        RawRequest {
            method,
            path_and_query: path_and_query.to_owned(),
            bases: vec!["https://ivr.example.com".into()],
            headers: HeaderMap::new(),
            body: body.to_owned().into(),
            query,
            form: Vec::new(),
            form_body: false,
        }
    }

    fn parse(method: Method, path: &str, body: &str, callback: Option<Callback>) -> Result<ProviderRequest, Refusal> {
        let vonage = Vonage { secret: None, replays: Replays::default() };
        vonage.parse(&raw(method, path, body), callback)
    }

    #[test]
    fn requests_in_the_shared_words() {
        let answer =
            parse(Method::GET, "/vonage/support/answer?from=79161234567&uuid=u1", "", Some(Callback::Other("answer")))
                .expect("an answer");
        assert_eq!((answer.call_id.as_str(), answer.caller.as_deref()), ("u1", Some("79161234567")));
        assert_eq!(answer.incoming, Incoming::Start);
        let posted = parse(Method::POST, "/vonage/support/answer", r#"{"uuid":"u2","from":"1"}"#, None).expect("valid");
        assert_eq!(posted.incoming, Incoming::Start);

        let progress = parse(Method::POST, "/x?t=T", r#"{"uuid":"u1","status":"ringing"}"#, Some(Callback::Dialed));
        assert!(matches!(progress.expect("valid").incoming, Incoming::Status { ended: false, .. }));
        let busy = parse(Method::POST, "/x?t=T", r#"{"uuid":"u1","status":"busy"}"#, Some(Callback::Dialed));
        assert_eq!(busy.expect("valid").incoming, Incoming::Input(Input::DialEnded { answered: false }));

        let completed = r#"{"uuid":"u1","status":"completed","duration":"42"}"#;
        let event = parse(Method::POST, "/vonage/support/event", completed, Some(Callback::Other("event")));
        let want = Incoming::Status { label: "completed".into(), ended: true, hung_up: true, duration_s: 42 };
        assert_eq!(event.expect("valid").incoming, want);

        let notify = parse(Method::POST, "/x?t=T", r#"{"event":"recorded"}"#, Some(Callback::Recorded)).expect("valid");
        assert_eq!(notify.incoming, Incoming::Input(Input::RecordingDone));
        let ours = r#"{"event":"recorded","uuid":"u1"}"#;
        assert_eq!(parse(Method::POST, "/x?t=T", ours, Some(Callback::Recorded)).expect("valid").call_id, "u1");

        let fallback = parse(
            Method::POST,
            "/vonage/fallback?flow=support",
            r#"{"uuid":"u1","reason":"timeout"}"#,
            Some(Callback::Other("fallback")),
        );
        assert!(matches!(fallback.expect("valid").incoming, Incoming::Fallback { ref flow, .. } if flow == "support"));

        assert!(
            matches!(
                parse(Method::POST, "/x", r#"{"dtmf":{"digits":"1"}}"#, Some(Callback::Gather)),
                Err(Refusal::BadRequest(_))
            ),
            "no uuid"
        );
        assert!(matches!(parse(Method::POST, "/x", "{}", Some(Callback::Wait)), Err(Refusal::BadRequest(_))));
        assert!(matches!(parse(Method::POST, "/x", "not json", Some(Callback::Gather)), Err(Refusal::BadRequest(_))));
    }
}
