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
