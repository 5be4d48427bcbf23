//! Twilio: TwiML answers ([`twiml`]), `X-Twilio-Signature` checks ([`signature`]), and the
//! request parameters Twilio sends (<https://www.twilio.com/docs/voice/twiml#request-parameters>),
//! which SignalWire and Telnyx send too ([`parse_params`]).

pub mod signature;
pub mod twiml;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{
    Callback, Document, Incoming, Input, Links, OperatorRoute, Provider, ProviderRequest, RawRequest, Refusal,
    url_variants,
};
use crate::engine::Action;
use crate::engine::flow::LiveQueue;
use crate::events::QueueResult;

/// The TwiML family's adapter: Twilio, SignalWire and Telnyx speak the same parameters and
/// nearly the same document ([`twiml::Dialect`]); they differ in how requests are signed.
pub struct Twiml {
    name: &'static str,
    dialect: twiml::Dialect,
    check: Check,
}

/// Each member's signature check and its credential (`None`: not configured).
pub enum Check {
    /// `X-Twilio-Signature` with the account's auth token ([`signature`]).
    Twilio(Option<String>),
    /// `X-SignalWire-Signature` with the project's signing key ([`super::signalwire`]).
    SignalWire(Option<String>),
    /// `telnyx-signature-ed25519` with the account's public key ([`super::telnyx`]).
    Telnyx(Option<ed25519_dalek::VerifyingKey>),
}

impl Twiml {
    pub fn new(name: &'static str, dialect: twiml::Dialect, check: Check) -> Twiml {
        Twiml { name, dialect, check }
    }

    /// Twilio, with its account auth token.
    pub fn build(auth_token: Option<&str>) -> Result<Arc<dyn Provider>, String> {
        Ok(Arc::new(Twiml::new("twilio", twiml::TWIML, Check::Twilio(auth_token.map(str::to_owned)))))
    }
}

impl Provider for Twiml {
    fn name(&self) -> &'static str {
        self.name
    }

    fn gather_timeout_s(&self) -> Option<(u64, u64)> {
        // TeXML's `<Gather timeout>`: 1–120 s. Twilio and SignalWire document no bound.
        matches!(self.check, Check::Telnyx(_)).then_some(super::telnyx::GATHER_TIMEOUT_S)
    }

    fn enabled(&self) -> bool {
        match &self.check {
            Check::Twilio(key) | Check::SignalWire(key) => key.is_some(),
            Check::Telnyx(key) => key.is_some(),
        }
    }

    fn verify(&self, req: &RawRequest, now: DateTime<Utc>) -> Result<usize, Refusal> {
        match &self.check {
            Check::Twilio(token) => {
                req.require_form()?;
                let token = token.as_deref().unwrap_or_default();
                let given = req.header("x-twilio-signature").unwrap_or("");
                // A GET is signed over the URL alone; a POST over the URL and the body parameters.
                signed_base(req, |url| !given.is_empty() && signature::verify(token, given, url, &req.form))
                    .ok_or_else(|| refused(req, "X-Twilio-Signature", !given.is_empty()))
            }
            Check::SignalWire(key) => super::signalwire::verify(key.as_deref().unwrap_or_default(), req),
            Check::Telnyx(Some(key)) => super::telnyx::verify(key, req, now),
            Check::Telnyx(None) => Err(Refusal::Forbidden("no Telnyx public key".into())),
        }
    }

    fn parse(&self, req: &RawRequest, callback: Option<Callback>) -> Result<ProviderRequest, Refusal> {
        match self.check {
            Check::Telnyx(_) => parse_params(&super::telnyx::params(req)?, req, callback),
            _ => {
                req.require_form()?;
                parse_params(req.params(), req, callback)
            }
        }
    }

    fn render(&self, actions: &[Action], links: &Links) -> Document {
        Document::xml(twiml::render(actions, links, self.dialect))
    }

    fn render_wait(&self, actions: &[Action], links: &Links) -> Document {
        Document::xml(twiml::render_wait(actions, links))
    }

    fn render_operator(&self, lang: &str, route: &OperatorRoute, links: &Links) -> Document {
        Document::xml(twiml::render_operator(lang, route, &links.voices))
    }

    fn render_apology(&self, links: &Links) -> Document {
        Document::xml(twiml::render_apology(&links.voices))
    }

    fn render_queue_failed(&self, lang: &str, alternative: Option<&OperatorRoute>, links: &Links) -> Document {
        Document::xml(twiml::render_queue_failed(lang, alternative, &links.voices))
    }

    fn render_hangup(&self) -> Document {
        Document::xml(twiml::render_hangup())
    }

    fn render_ack(&self) -> Document {
        Document::xml(twiml::render_empty())
    }
}

/// The first base whose URL (or its default-port variant) `signed` accepts.
pub(crate) fn signed_base(req: &RawRequest, signed: impl Fn(&str) -> bool) -> Option<usize> {
    req.urls().find(|(_, url)| url_variants(url).iter().any(|u| signed(u))).map(|(i, _)| i)
}

/// The refusal of a missing or wrong signature header, logged with the URLs tried.
pub(crate) fn refused(req: &RawRequest, header: &str, present: bool) -> Refusal {
    let tried: Vec<String> = req.urls().flat_map(|(_, url)| url_variants(&url)).collect();
    tracing::warn!(?tried, signed = present, "{header} missing or wrong");
    Refusal::Forbidden(format!("{header} missing or wrong"))
}

/// Twilio's final call statuses (<https://www.twilio.com/docs/voice/api/call-resource#call-status-values>).
pub fn is_final(status: &str) -> bool {
    matches!(status, "completed" | "busy" | "failed" | "no-answer" | "canceled")
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

/// Twilio's request parameters in the shared layer's words: `CallSid`, `From`, and per
/// callback `Digits`/`SpeechResult`/`Confidence`, `QueuePosition`/`AvgQueueTime`/`QueueTime`,
/// `QueueResult`, `DialCallStatus`, `CallStatus`/`CallDuration`, `ErrorCode`/`ErrorUrl`.
pub fn parse_params(
    params: &[(String, String)],
    req: &RawRequest,
    callback: Option<Callback>,
) -> Result<ProviderRequest, Refusal> {
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
    let Some(call_id) = param("CallSid") else {
        return Err(Refusal::BadRequest("CallSid is missing".into()));
    };
    let number = |name: &str| param(name).and_then(|v| v.parse::<u32>().ok());
    let status = param("CallStatus");
    // Twilio reports a call that ended (the caller hung up) in CallStatus.
    let ended = status.is_some_and(is_final);
    let incoming = match callback {
        None => Incoming::Start,
        Some(Callback::Other("fallback")) => {
            let url = param("ErrorUrl").unwrap_or("?");
            // The flow is the path segment after /{provider}/ in the URL that failed.
            let flow = url
                .split(&format!("/{}/", provider_segment(req)))
                .nth(1)
                .and_then(|rest| rest.split(['/', '?']).next())
                .unwrap_or("");
            Incoming::Fallback {
                flow: flow.to_owned(),
                error: format!("ErrorCode {} at {url}", param("ErrorCode").unwrap_or("?")),
            }
        }
        Some(Callback::Status) if req.token().is_none() => {
            let label = status.unwrap_or("?").to_owned();
            Incoming::Status {
                ended,
                hung_up: matches!(status, Some("completed" | "canceled")),
                duration_s: number("CallDuration").unwrap_or(0),
                label,
            }
        }
        Some(Callback::Left) => {
            let label = param("QueueResult").unwrap_or("").to_owned();
            Incoming::LeftQueue {
                result: queue_result(&label),
                refused: matches!(label.as_str(), "queue-full" | "error" | "system-error"),
                queue_time_s: number("QueueTime").unwrap_or(0),
                label,
            }
        }
        _ if ended => Incoming::Input(Input::Hangup),
        Some(Callback::Status) => Incoming::Input(Input::Hangup),
        Some(Callback::Gather) => Incoming::Input(match (param("Digits"), param("SpeechResult")) {
            (Some(digits), _) => Input::Digits(digits.to_owned()),
            // A recogniser that reports no confidence is taken at its word.
            (None, Some(text)) => Input::Speech {
                text: text.to_owned(),
                confidence: param("Confidence").and_then(|c| c.parse().ok()).unwrap_or(1.0),
            },
            (None, None) => Input::NoInput,
        }),
        Some(Callback::Silence) => Incoming::Input(Input::NoInput),
        Some(Callback::Wait) => Incoming::Wait {
            live: LiveQueue {
                position: number("QueuePosition").unwrap_or(1),
                avg_wait_s: param("AvgQueueTime").and_then(|p| p.parse().ok()),
            },
            queue_time_s: number("QueueTime").unwrap_or(0),
        },
        Some(Callback::Dialed) => Incoming::Input(Input::DialEnded {
            answered: matches!(param("DialCallStatus"), Some("completed" | "answered")),
        }),
        Some(Callback::Recorded | Callback::Other(_)) => Incoming::Input(Input::RecordingDone),
    };
    Ok(ProviderRequest { call_id: call_id.to_owned(), caller: param("From").map(str::to_owned), incoming })
}

/// The first path segment of the request: the provider's route prefix.
fn provider_segment(req: &RawRequest) -> &str {
    req.path_and_query.trim_start_matches('/').split(['/', '?']).next().unwrap_or("")
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
