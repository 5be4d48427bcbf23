//! The jambonz dialect: JSON verbs ([`verbs`]), its webhooks ([`webhook`]), its signed
//! requests ([`signature`]) and the documented verb properties ([`schema`]).
//!
//! A jambonz application's calling webhook is `/jambonz/{flow}`; every other callback is an
//! `actionHook` or `waitHook` we put in the verbs, carrying the call's signed state token like
//! every adapter's. jambonz has real queues (`enqueue` with a `waitHook`), used as such.

pub mod schema;
pub mod signature;
pub mod verbs;
pub mod webhook;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use self::webhook::{Hook, QueueOutcome};
use super::replay::Replays;
use super::{
    Callback, Document, Incoming, Input, Links, OperatorRoute, Provider, ProviderRequest, RawRequest, Refusal,
};
use crate::engine::Action;
use crate::events::QueueResult;

/// The jambonz adapter: JSON verbs, `Jambonz-Signature` requests.
pub struct Jambonz {
    /// The webhook secret (`JAMBONZ_WEBHOOK_SECRET`); several, comma-separated, during a rotation.
    secrets: Option<String>,
    replays: Replays,
}

impl Jambonz {
    /// jambonz, with the account's webhook secret(s).
    pub fn build(secrets: Option<&str>) -> Result<Arc<dyn Provider>, String> {
        Ok(Arc::new(Jambonz { secrets: secrets.map(str::to_owned), replays: Replays::default() }))
    }
}

/// jambonz's `queue_result` as the log words it: `leave` (our `waitHook` took the caller out)
/// as `redirected`.
fn queue_result(outcome: QueueOutcome) -> QueueResult {
    match outcome {
        QueueOutcome::Bridged => QueueResult::Bridged,
        QueueOutcome::Hangup => QueueResult::Hangup,
        QueueOutcome::Left => QueueResult::Redirected,
        QueueOutcome::Error => QueueResult::Error,
    }
}

impl Provider for Jambonz {
    fn name(&self) -> &'static str {
        "jambonz"
    }

    fn enabled(&self) -> bool {
        self.secrets.is_some()
    }

    /// The signature covers the body, not the URL, so callbacks go to the first base.
    fn verify(&self, req: &RawRequest, now: DateTime<Utc>) -> Result<usize, Refusal> {
        let secrets = self.secrets.as_deref().unwrap_or_default();
        match signature::verify(secrets, req.header("jambonz-signature"), &req.body, now.timestamp(), &self.replays) {
            Ok(()) => Ok(0),
            Err(e) => {
                tracing::warn!(error = %e, "Jambonz-Signature refused");
                Err(Refusal::Forbidden(e.to_string()))
            }
        }
    }

    fn parse(&self, req: &RawRequest, callback: Option<Callback>) -> Result<ProviderRequest, Refusal> {
        let hook = Hook::from_json(&req.body).map_err(|e| Refusal::BadRequest(e.to_string()))?;
        let incoming = match callback {
            None => Incoming::Start,
            Some(Callback::Other("fallback")) => Incoming::Fallback {
                // jambonz names no failed URL: the fallback URL names the flow (`?flow=`).
                flow: req.query.iter().find(|(k, _)| k == "flow").map(|(_, v)| v.clone()).unwrap_or_default(),
                error: "jambonz requested the application's fallback URL".into(),
            },
            Some(Callback::Status) if req.token().is_none() => Incoming::Status {
                label: hook.call_status.clone().unwrap_or_else(|| "?".into()),
                ended: hook.call_ended(),
                hung_up: hook.call_status.as_deref() == Some("completed"),
                duration_s: hook.duration.unwrap_or(0),
            },
            Some(Callback::Left) => {
                let outcome = hook.queue_outcome();
                Incoming::LeftQueue {
                    result: queue_result(outcome),
                    refused: outcome == QueueOutcome::Error,
                    queue_time_s: hook.queue_time.unwrap_or(0),
                    label: hook.queue_result.clone().unwrap_or_default(),
                }
            }
            Some(Callback::Wait) => {
                Incoming::Wait { live: hook.queue_update(), queue_time_s: hook.queue_time.unwrap_or(0) }
            }
            _ if hook.call_ended() => Incoming::Input(Input::Hangup),
            Some(Callback::Status) => Incoming::Input(Input::Hangup),
            Some(Callback::Gather) => Incoming::Input(hook.gather_input()),
            Some(Callback::Silence) => Incoming::Input(Input::NoInput),
            Some(Callback::Dialed) => Incoming::Input(hook.dial_input()),
            Some(Callback::Recorded) => Incoming::Input(Input::RecordingDone),
            Some(other) => return Err(Refusal::BadRequest(format!("jambonz never requests `{}`", other.segment()))),
        };
        Ok(ProviderRequest { call_id: hook.call_sid, caller: hook.from, incoming })
    }

    fn render(&self, actions: &[Action], links: &Links) -> Document {
        Document::json(verbs::to_json(&verbs::render(actions, links)))
    }

    fn render_wait(&self, actions: &[Action], links: &Links) -> Document {
        Document::json(verbs::to_json(&verbs::render_wait(actions, links)))
    }

    fn render_operator(&self, lang: &str, route: &OperatorRoute, links: &Links) -> Document {
        Document::json(verbs::to_json(&verbs::render_operator(lang, route, links)))
    }

    fn render_apology(&self, links: &Links) -> Document {
        Document::json(verbs::to_json(&verbs::render_apology(&links.voices)))
    }

    fn render_queue_failed(&self, lang: &str, alternative: Option<&OperatorRoute>, links: &Links) -> Document {
        Document::json(verbs::to_json(&verbs::render_queue_failed(lang, alternative, links)))
    }

    fn render_hangup(&self) -> Document {
        Document::json(verbs::to_json(&verbs::render_hangup()))
    }

    /// A status hook needs no verbs: an empty array.
    fn render_ack(&self) -> Document {
        Document::json("[]".into())
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, Method};

    use super::*;
    use crate::engine::flow::LiveQueue;

    fn parse(path: &str, body: &str, callback: Option<Callback>) -> Result<ProviderRequest, Refusal> {
        let query = form_urlencoded::parse(path.split_once('?').map_or("", |(_, q)| q).as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let raw = RawRequest {
            method: Method::POST,
            path_and_query: path.to_owned(),
            bases: vec!["https://ivr.example.com".into()],
            headers: HeaderMap::new(),
            body: body.to_owned().into(),
            query,
            form: Vec::new(),
            form_body: false,
        };
        Jambonz { secrets: None, replays: Replays::default() }.parse(&raw, callback)
    }

    #[test]
    fn requests_in_the_shared_words() {
        let start = parse("/jambonz/support", r#"{"call_sid":"c1","from":"+7916"}"#, None).expect("valid");
        assert_eq!(
            (start.call_id.as_str(), start.caller.as_deref(), &start.incoming),
            ("c1", Some("+7916"), &Incoming::Start)
        );
        let wait = parse("/x?t=T", r#"{"call_sid":"c1","queue_position":0,"queue_time":12}"#, Some(Callback::Wait));
        let want = Incoming::Wait { live: LiveQueue { position: 1, avg_wait_s: None }, queue_time_s: 12 };
        assert_eq!(wait.expect("valid").incoming, want);
        let left = parse("/x?t=T", r#"{"call_sid":"c1","queue_result":"leave","queue_time":30}"#, Some(Callback::Left));
        let want = Incoming::LeftQueue {
            result: QueueResult::Redirected,
            refused: false,
            queue_time_s: 30,
            label: "leave".into(),
        };
        assert_eq!(left.expect("valid").incoming, want);
        let error =
            parse("/x?t=T", r#"{"call_sid":"c1","queue_result":"error"}"#, Some(Callback::Left)).expect("valid");
        assert!(matches!(error.incoming, Incoming::LeftQueue { refused: true, .. }));
        let status = parse(
            "/jambonz/status?flow=support",
            r#"{"call_sid":"c1","call_status":"completed","duration":9}"#,
            Some(Callback::Status),
        );
        let want = Incoming::Status { label: "completed".into(), ended: true, hung_up: true, duration_s: 9 };
        assert_eq!(status.expect("valid").incoming, want);
        let hung_up = parse(
            "/x?t=T",
            r#"{"call_sid":"c1","call_status":"completed","reason":"timeout"}"#,
            Some(Callback::Gather),
        );
        assert_eq!(hung_up.expect("valid").incoming, Incoming::Input(Input::Hangup));
        let dialed = parse("/x?t=T", r#"{"call_sid":"c1","dial_call_status":"no-answer"}"#, Some(Callback::Dialed));
        assert_eq!(dialed.expect("valid").incoming, Incoming::Input(Input::DialEnded { answered: false }));
        assert!(matches!(parse("/x", r#"{"from":"+1"}"#, None), Err(Refusal::BadRequest(_))), "no call_sid");
    }
}
