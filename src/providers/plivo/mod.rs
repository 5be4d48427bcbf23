//! Plivo XML (<https://www.plivo.com/docs/voice/xml/>): the engine's actions as Plivo's
//! elements, Plivo's callback parameters, and `X-Plivo-Signature-V3` ([`signature`]).
//!
//! How the engine maps onto Plivo:
//! - a gather is `<GetInput>` with its prompts nested (`<Speak>`, `<Play>`, `<Wait>` may nest);
//!   its `action` receives `Digits` or `Speech`; without input Plivo goes on to the next
//!   element, so a `<Redirect>` to the no-input callback follows, as with TwiML.
//!   `executionTimeout` (5–60 s) is the flow's timeout, `digitEndTimeout` (2–10 s) the same
//!   clamped, `finishOnKey` the flow's key or `none` (so `#` can be a menu option);
//! - Plivo has no queue element: a queue is a `<Conference>` named after the queue that the
//!   caller waits in (`startConferenceOnEnter="false"`, so the caller hears `waitSound` until
//!   an agent, who joins with it true, arrives). `waitSound` is our wait callback, which
//!   answers with the wait announcement and hold music; the conference's `action` is our
//!   queue-left callback;
//! - `<Dial>` holds a `<Number>`; `<Record>` then a `<Redirect>`, as with TwiML;
//! - the number's Hangup URL is `/plivo/status?flow=NAME` (`CallStatus`, `Duration`), its
//!   Fallback URL `/plivo/fallback?flow=NAME`.

pub mod signature;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::xml::{Doc, Xml, empty_element, seconds, text_element};
use super::{
    Callback, Document, Incoming, Input, Links, OperatorRoute, Provider, ProviderRequest, RawRequest, Refusal, locale,
    words,
};
use crate::engine::flow::LiveQueue;
use crate::engine::{Action, Gather};
use crate::events::QueueResult;

/// `<GetInput executionTimeout>` bounds, in seconds.
pub const EXECUTION_TIMEOUT_S: (u64, u64) = (5, 60);
/// `<GetInput digitEndTimeout>` bounds, in seconds.
pub const DIGIT_END_TIMEOUT_S: (u64, u64) = (2, 10);

/// The Plivo adapter, checking signatures with the account's auth token.
pub struct Plivo {
    auth_token: Option<String>,
}

impl Plivo {
    pub fn build(auth_token: Option<&str>) -> Result<Arc<dyn Provider>, String> {
        Ok(Arc::new(Plivo { auth_token: auth_token.map(str::to_owned) }))
    }
}

/// Plivo's final call statuses, as its Hangup URL reports them.
fn is_final(status: &str) -> bool {
    matches!(status, "completed" | "busy" | "failed" | "timeout" | "no-answer" | "cancel" | "canceled")
}

impl Provider for Plivo {
    fn name(&self) -> &'static str {
        "plivo"
    }

    fn enabled(&self) -> bool {
        self.auth_token.is_some()
    }

    fn gather_timeout_s(&self) -> Option<(u64, u64)> {
        Some(EXECUTION_TIMEOUT_S)
    }

    fn verify(&self, req: &RawRequest, _now: DateTime<Utc>) -> Result<usize, Refusal> {
        req.require_form()?;
        let token = self.auth_token.as_deref().unwrap_or_default();
        let given = req.header("x-plivo-signature-v3").unwrap_or("");
        let nonce = req.header("x-plivo-signature-v3-nonce").unwrap_or("");
        let post = req.method == axum::http::Method::POST;
        req.urls()
            .find(|(_, url)| {
                !given.is_empty()
                    && signature::verify(token, given, &signature::signed_text(post, url, &req.form, nonce))
            })
            .map(|(i, _)| i)
            .ok_or_else(|| {
                tracing::warn!(signed = !given.is_empty(), "X-Plivo-Signature-V3 missing or wrong");
                Refusal::Forbidden("X-Plivo-Signature-V3 missing or wrong".into())
            })
    }

    fn parse(&self, req: &RawRequest, callback: Option<Callback>) -> Result<ProviderRequest, Refusal> {
        req.require_form()?;
        let param = |name: &str| req.param(name);
        let Some(call_id) = param("CallUUID") else {
            return Err(Refusal::BadRequest("CallUUID is missing".into()));
        };
        let status = param("CallStatus");
        let ended = status.is_some_and(is_final);
        let incoming = match callback {
            None => Incoming::Start,
            Some(Callback::Other("fallback")) => Incoming::Fallback {
                flow: req.query.iter().find(|(k, _)| k == "flow").map(|(_, v)| v.clone()).unwrap_or_default(),
                error: "Plivo called the fallback URL".into(),
            },
            Some(Callback::Status) if req.token().is_none() => Incoming::Status {
                label: status.unwrap_or("?").to_owned(),
                ended,
                hung_up: status == Some("completed"),
                duration_s: param("Duration").and_then(|d| d.parse().ok()).unwrap_or(0),
            },
            Some(Callback::Left) => {
                // The conference's action: the caller left it. Plivo does not say whether an
                // agent was there; a caller who hung up says so in CallStatus.
                let (result, label) =
                    if ended { (QueueResult::Hangup, "hangup") } else { (QueueResult::Bridged, "exit") };
                Incoming::LeftQueue { result, refused: false, queue_time_s: 0, label: label.into() }
            }
            _ if ended => Incoming::Input(Input::Hangup),
            Some(Callback::Status) => Incoming::Input(Input::Hangup),
            Some(Callback::Gather) => Incoming::Input(match (param("Digits"), param("Speech")) {
                (Some(digits), _) => Input::Digits(digits.to_owned()),
                (None, Some(text)) => Input::Speech {
                    text: text.to_owned(),
                    confidence: param("SpeechConfidenceScore").and_then(|c| c.parse().ok()).unwrap_or(1.0),
                },
                (None, None) => Input::NoInput,
            }),
            Some(Callback::Silence) => Incoming::Input(Input::NoInput),
            // Plivo's waitSound request says nothing of the caller's place in the conference.
            Some(Callback::Wait) => {
                Incoming::Wait { live: LiveQueue { position: 1, avg_wait_s: None }, queue_time_s: 0 }
            }
            Some(Callback::Dialed) => Incoming::Input(Input::DialEnded {
                answered: matches!(param("DialStatus"), Some("completed" | "answer")),
            }),
            Some(Callback::Recorded | Callback::Other(_)) => Incoming::Input(Input::RecordingDone),
        };
        Ok(ProviderRequest { call_id: call_id.to_owned(), caller: param("From").map(str::to_owned), incoming })
    }

    fn render(&self, actions: &[Action], links: &Links) -> Document {
        Document::xml(render(actions, links))
    }

    fn render_wait(&self, actions: &[Action], links: &Links) -> Document {
        let mut doc = Doc::new();
        for action in actions {
            prompt(&mut doc.writer, action, links);
        }
        match &links.hold {
            Some(file) => doc.text_element("Play", &[], &links.sound(file)),
            None => doc.empty_element("Wait", &[("length", &links.pause_s.to_string())]),
        }
        Document::xml(doc.finish())
    }

    fn render_operator(&self, lang: &str, route: &OperatorRoute, links: &Links) -> Document {
        let mut doc = Doc::new();
        let (text, lang) = words::operator(lang);
        speak(&mut doc.writer, text, lang, links);
        to_person(&mut doc, route, links);
        Document::xml(doc.finish())
    }

    fn render_apology(&self, links: &Links) -> Document {
        let mut doc = Doc::new();
        let (text, lang) = words::apology();
        speak(&mut doc.writer, text, lang, links);
        doc.empty_element("Hangup", &[]);
        Document::xml(doc.finish())
    }

    fn render_queue_failed(&self, lang: &str, alternative: Option<&OperatorRoute>, links: &Links) -> Document {
        let mut doc = Doc::new();
        match alternative {
            Some(route) => {
                let (text, lang) = words::queue_full_alternative(lang);
                speak(&mut doc.writer, text, lang, links);
                to_person(&mut doc, route, links);
            }
            None => {
                let (text, lang) = words::queue_full(lang);
                speak(&mut doc.writer, text, lang, links);
                doc.empty_element("Hangup", &[]);
            }
        }
        Document::xml(doc.finish())
    }

    fn render_hangup(&self) -> Document {
        let mut doc = Doc::new();
        doc.empty_element("Hangup", &[]);
        Document::xml(doc.finish())
    }

    fn render_ack(&self) -> Document {
        Document::xml(Doc::new().finish())
    }
}

/// The Plivo XML for the engine's actions after one event.
pub fn render(actions: &[Action], links: &Links) -> String {
    let mut doc = Doc::new();
    let mut prompts: Vec<&Action> = Vec::new();
    for action in actions {
        match action {
            Action::Say { .. } | Action::Play { .. } | Action::Pause { .. } => prompts.push(action),
            Action::Gather(g) => {
                let nested = std::mem::take(&mut prompts);
                get_input(&mut doc, g, &nested, links);
                doc.text_element("Redirect", &[("method", "POST")], &links.silence());
            }
            Action::Enqueue { queue, .. } => {
                flush(&mut doc, &mut prompts, links);
                conference(&mut doc, queue, Some(&links.left()), links);
            }
            Action::Dial { number, timeout_s } => {
                flush(&mut doc, &mut prompts, links);
                dial(&mut doc, number, Some((&links.dialed(), *timeout_s)));
            }
            Action::Record { max_length_s, finish_key, .. } => {
                flush(&mut doc, &mut prompts, links);
                let max_length = max_length_s.to_string();
                let finish = finish_key.map(String::from);
                let recorded = links.recorded();
                let mut attrs = vec![
                    ("action", recorded.as_str()),
                    ("method", "POST"),
                    ("maxLength", &max_length),
                    ("playBeep", "true"),
                ];
                if let Some(finish) = &finish {
                    attrs.push(("finishOnKey", finish));
                }
                doc.empty_element("Record", &attrs);
                doc.text_element("Redirect", &[("method", "POST")], &recorded);
            }
            Action::Hangup => {
                flush(&mut doc, &mut prompts, links);
                doc.empty_element("Hangup", &[]);
            }
        }
    }
    flush(&mut doc, &mut prompts, links);
    doc.finish()
}

fn get_input(doc: &mut Doc, g: &Gather, nested: &[&Action], links: &Links) {
    let total = seconds(g.timeout_ms);
    let execution = total.clamp(EXECUTION_TIMEOUT_S.0, EXECUTION_TIMEOUT_S.1).to_string();
    let digit_end = total.clamp(DIGIT_END_TIMEOUT_S.0, DIGIT_END_TIMEOUT_S.1).to_string();
    let finish = g.finish_key.map_or_else(|| "none".to_owned(), String::from);
    let num_digits = g.max_digits.to_string();
    let action = links.gather();
    let mut attrs: Vec<(&str, &str)> = vec![
        ("action", &action),
        ("method", "POST"),
        ("inputType", if g.speech { "dtmf speech" } else { "dtmf" }),
        ("executionTimeout", &execution),
        ("digitEndTimeout", &digit_end),
        ("finishOnKey", &finish),
        ("redirect", "true"),
    ];
    if g.max_digits > 0 {
        attrs.push(("numDigits", &num_digits));
    }
    if g.speech {
        attrs.push(("language", locale(&g.lang)));
        if !g.hints.is_empty() {
            attrs.push(("hints", &g.hints));
        }
    }
    doc.parent("GetInput", &attrs, |w| {
        for p in nested {
            prompt(w, p, links);
        }
    });
}

/// The queue as a conference the caller waits in; `action` is where Plivo reports them leaving.
fn conference(doc: &mut Doc, queue: &str, action: Option<&str>, links: &Links) {
    let wait = links.wait();
    let mut attrs =
        vec![("startConferenceOnEnter", "false"), ("endConferenceOnExit", "false"), ("waitSound", wait.as_str())];
    if let Some(action) = action {
        attrs.extend([("action", action), ("method", "POST")]);
    }
    doc.text_element("Conference", &attrs, queue);
}

fn dial(doc: &mut Doc, number: &str, action: Option<(&str, u32)>) {
    let timeout = action.map(|(_, t)| t.to_string()).unwrap_or_default();
    let mut attrs = Vec::new();
    if let Some((url, _)) = action {
        attrs.extend([("action", url), ("method", "POST"), ("timeout", timeout.as_str())]);
    }
    doc.parent("Dial", &attrs, |w| text_element(w, "Number", &[], number));
}

/// The caller goes to a person outside the engine: the queue's conference (hold music, no
/// announcements: its wait URL has no token) or a number.
fn to_person(doc: &mut Doc, route: &OperatorRoute, links: &Links) {
    match route {
        OperatorRoute::Queue(queue) => conference(doc, queue, None, links),
        OperatorRoute::Dial(number) => dial(doc, number, None),
    }
}

fn flush(doc: &mut Doc, prompts: &mut Vec<&Action>, links: &Links) {
    for p in prompts.drain(..) {
        prompt(&mut doc.writer, p, links);
    }
}

fn speak(w: &mut Xml, text: &str, lang: &str, links: &Links) {
    let mut attrs = vec![("language", locale(lang))];
    if let Some(voice) = links.voices.for_language(lang) {
        attrs.push(("voice", voice));
    }
    text_element(w, "Speak", &attrs, text);
}

/// `<Speak>`, `<Play>` or `<Wait>`: the elements that may nest in a `<GetInput>`.
fn prompt(w: &mut Xml, action: &Action, links: &Links) {
    match action {
        Action::Say { text, lang, .. } => speak(w, text, lang, links),
        Action::Play { file, .. } => text_element(w, "Play", &[], &links.sound(file)),
        Action::Pause { ms } => empty_element(w, "Wait", &[("length", &seconds(*ms).max(1).to_string())]),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::Millis;

    use crate::providers::test_support::say;

    fn links() -> Links {
        crate::providers::test_support::links("plivo")
    }

    #[test]
    fn menus_queues_transfers_and_recordings() {
        let gather = |max_digits, finish_key, speech| {
            Action::Gather(Gather {
                min_digits: 1,
                max_digits,
                finish_key,
                timeout_ms: Millis(5000),
                speech,
                hints: Arc::from(if speech { "оператор" } else { "" }),
                lang: "ru".into(),
            })
        };
        let menu = [say("Нажмите 1."), Action::Pause { ms: Millis(500) }, gather(1, None, true)];
        let number = [say("Введите номер и нажмите решётку."), gather(10, Some('#'), false)];
        let queue = [say("Все операторы заняты."), Action::Enqueue { queue: "first_line".into(), priority: 0 }];
        let dial = [Action::Dial { number: "+74950000000".into(), timeout_s: 30 }];
        let record = [Action::Record { mailbox: "support".into(), max_length_s: 120, finish_key: Some('#') }];
        insta::assert_snapshot!("menu", render(&menu, &links()));
        insta::assert_snapshot!("number", render(&number, &links()));
        insta::assert_snapshot!("queue", render(&queue, &links()));
        insta::assert_snapshot!("dial", render(&dial, &links()));
        insta::assert_snapshot!("record", render(&record, &links()));
        let operator =
            Plivo { auth_token: None }.render_operator("ru", &OperatorRoute::Queue("first_line".into()), &links());
        insta::assert_snapshot!("operator", operator.body);
    }
}
