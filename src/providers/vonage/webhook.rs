//! Vonage's webhook requests, read into what the engine needs
//! (<https://developer.vonage.com/en/voice/voice-api/webhook-reference>).
//!
//! - The answer webhook is a GET by default, its fields in the query string (`to`, `from`,
//!   `uuid`, `conversation_uuid`), or a POST with the same fields as a JSON body when the
//!   application's `answer_method` is POST.
//! - An `input` action posts its result as JSON to its `eventUrl`: `dtmf.digits` and
//!   `dtmf.timed_out`, `speech.results[{text, confidence}]` (best first), and for speech that
//!   ended without words `speech.timeout_reason` or `speech.error`.
//! - The event webhook (and a synchronous `connect`'s `eventUrl`) posts the call's `status`.
//!
//! Fields we do not use are ignored, so Vonage adding some breaks nothing.

use serde::{Deserialize, Deserializer};

use crate::providers::Input;

/// A webhook body or query that cannot be read; the request gets a 400 naming this.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("Vonage {what}: {source}")]
    Json { what: &'static str, source: serde_json::Error },
    #[error("Vonage {what}: no `{field}`")]
    Missing { what: &'static str, field: &'static str },
}

/// The answer webhook: a call has come in.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Answer {
    pub uuid: String,
    #[serde(default)]
    pub conversation_uuid: Option<String>,
    /// The caller's number.
    #[serde(default)]
    pub from: Option<String>,
    /// The number called.
    #[serde(default)]
    pub to: Option<String>,
}

impl Answer {
    /// From the query string of a GET answer webhook (without the leading `?`).
    pub fn from_query(query: &str) -> Result<Answer, ParseError> {
        let mut answer = Answer::default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = Some(value.into_owned()).filter(|v| !v.is_empty());
            match &*name {
                "uuid" => answer.uuid = value.unwrap_or_default(),
                "conversation_uuid" => answer.conversation_uuid = value,
                "from" => answer.from = value,
                "to" => answer.to = value,
                _ => {}
            }
        }
        if answer.uuid.is_empty() {
            return Err(ParseError::Missing { what: "answer webhook", field: "uuid" });
        }
        Ok(answer)
    }

    /// From the JSON body of a POST answer webhook.
    pub fn from_json(body: &[u8]) -> Result<Answer, ParseError> {
        let answer: Answer =
            serde_json::from_slice(body).map_err(|source| ParseError::Json { what: "answer webhook", source })?;
        if answer.uuid.is_empty() {
            return Err(ParseError::Missing { what: "answer webhook", field: "uuid" });
        }
        Ok(answer)
    }
}

/// What an `input` action heard, posted to its `eventUrl`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct InputResult {
    #[serde(default)]
    pub uuid: Option<String>,
    #[serde(default)]
    pub dtmf: Option<DtmfResult>,
    #[serde(default)]
    pub speech: Option<SpeechResult>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct DtmfResult {
    #[serde(default)]
    pub digits: Option<String>,
    #[serde(default)]
    pub timed_out: bool,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct SpeechResult {
    #[serde(default)]
    pub results: Vec<Recognised>,
    /// Why recognition stopped without words: `end_on_silence_timeout`, `max_duration`,
    /// `start_timeout`.
    #[serde(default)]
    pub timeout_reason: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Recognised {
    pub text: String,
    /// Vonage's examples send it as a string (`"0.9405097"`); a number is taken as well.
    #[serde(deserialize_with = "number_or_string")]
    pub confidence: f32,
}

impl InputResult {
    pub fn from_json(body: &[u8]) -> Result<InputResult, ParseError> {
        serde_json::from_slice(body).map_err(|source| ParseError::Json { what: "input result", source })
    }

    /// The engine's input: keys if any were pressed, else the best transcript, else silence.
    /// A recogniser error is silence too: the caller is re-prompted, then taken to a person.
    pub fn input(&self) -> Input {
        if let Some(digits) = self.dtmf.as_ref().and_then(|d| d.digits.as_deref()).filter(|d| !d.is_empty()) {
            return Input::Digits(digits.to_owned());
        }
        let best = self.speech.as_ref().and_then(|s| s.results.first()).filter(|r| !r.text.trim().is_empty());
        match best {
            Some(r) => Input::Speech { text: r.text.clone(), confidence: r.confidence.clamp(0.0, 1.0) },
            None => Input::NoInput,
        }
    }
}

/// A call status from the event webhook or a `connect`'s `eventUrl`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct CallEvent {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub uuid: Option<String>,
    #[serde(default)]
    pub conversation_uuid: Option<String>,
    /// Seconds the call lasted, on `completed` (Vonage sends it as a string).
    #[serde(default)]
    pub duration: Option<String>,
    /// Why the fallback URL was requested, or why a call failed.
    #[serde(default)]
    pub reason: Option<String>,
}

/// What a call status means to the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `started`, `ringing`, `answered` and the like: nothing to do.
    Progress,
    /// The leg ended normally (`completed`).
    Completed,
    /// The leg never connected: `busy`, `cancelled`, `unanswered`, `rejected`, `failed`,
    /// `timeout`.
    NotConnected,
    /// Anything else (`record`, `input`, `transfer`, `human`, `machine`...): informational.
    Other,
}

impl CallEvent {
    pub fn from_json(body: &[u8]) -> Result<CallEvent, ParseError> {
        serde_json::from_slice(body).map_err(|source| ParseError::Json { what: "event webhook", source })
    }

    pub fn status(&self) -> Status {
        match self.status.as_deref().unwrap_or("") {
            "started" | "ringing" | "answered" => Status::Progress,
            "completed" => Status::Completed,
            "busy" | "cancelled" | "unanswered" | "rejected" | "failed" | "timeout" => Status::NotConnected,
            _ => Status::Other,
        }
    }

    /// Whether the call is over: completed, or never connected.
    pub fn ended(&self) -> bool {
        matches!(self.status(), Status::Completed | Status::NotConnected)
    }

    /// The call's length in whole seconds, when the event says.
    pub fn duration_s(&self) -> Option<u32> {
        self.duration.as_deref().and_then(|d| d.trim().parse().ok())
    }

    /// The engine's input for this status on the `eventUrl` of a `dial` node's `connect`:
    /// only the end of the transfer matters.
    pub fn dial_input(&self) -> Option<Input> {
        match self.status() {
            Status::Completed => Some(Input::DialEnded { answered: true }),
            Status::NotConnected => Some(Input::DialEnded { answered: false }),
            Status::Progress | Status::Other => None,
        }
    }
}

fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(f32),
        Text(String),
    }
    match Either::deserialize(d)? {
        Either::Number(n) => Ok(n),
        Either::Text(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer webhook's example from Vonage's webhook reference.
    #[test]
    fn answer_from_query_and_json() {
        let query = "to=442079460000&from=447700900000&conversation_uuid=CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab\
                     &uuid=aaaaaaaa-bbbb-cccc-dddd-0123456789ab&SipHeader_X-UserId=1938ND9";
        let answer = Answer::from_query(query).expect("valid");
        assert_eq!(answer.uuid, "aaaaaaaa-bbbb-cccc-dddd-0123456789ab");
        assert_eq!(answer.from.as_deref(), Some("447700900000"));
        assert_eq!(answer.to.as_deref(), Some("442079460000"));
        let body = br#"{"from":"447700900000","to":"442079460000","uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
            "conversation_uuid":"CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab","region_url":"https://api-us-3.vonage.com",
            "custom_data":{}}"#;
        assert_eq!(Answer::from_json(body).expect("valid"), answer);
        assert!(matches!(Answer::from_query("from=1"), Err(ParseError::Missing { field: "uuid", .. })));
        let err = Answer::from_json(b"{\"uuid\": 5}").expect_err("uuid is a string");
        assert!(err.to_string().contains("line 1 column"), "{err}");
    }

    /// The input webhook's examples from Vonage's webhook reference (`dtmf`, `speech`, and a
    /// time-out with neither).
    #[test]
    fn input_results_become_events() {
        let dtmf = br#"{"from":"447700900000","to":"447700900000","uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
            "conversation_uuid":"CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab","dtmf":{"digits":"1234","timed_out":true},
            "timestamp":"2020-01-01T14:00:00.000Z"}"#;
        assert_eq!(InputResult::from_json(dtmf).expect("valid").input(), Input::Digits("1234".into()));
        let speech = br#"{"speech":{"results":[{"confidence":"0.9405097","text":"I want to pay my bill"},
            {"confidence":"0.70543784","text":"I want to pay my bills"}]},"dtmf":{"digits":null,"timed_out":false},
            "uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab"}"#;
        let result = InputResult::from_json(speech).expect("valid");
        assert_eq!(result.input(), Input::Speech { text: "I want to pay my bill".into(), confidence: 0.940_509_7 });
        let numeric = br#"{"speech":{"results":[{"confidence":0.5,"text":"operator"}]}}"#;
        assert_eq!(
            InputResult::from_json(numeric).expect("valid").input(),
            Input::Speech { text: "operator".into(), confidence: 0.5 }
        );
        let silence = br#"{"speech":{"timeout_reason":"start_timeout"},"dtmf":{"digits":"","timed_out":true}}"#;
        assert_eq!(InputResult::from_json(silence).expect("valid").input(), Input::NoInput);
        let error = br#"{"speech":{"error":"ERR1: Failed to analyze audio"},"dtmf":{"digits":"","timed_out":false}}"#;
        assert_eq!(InputResult::from_json(error).expect("valid").input(), Input::NoInput);
        assert!(InputResult::from_json(br#"{"speech":{"results":[{"confidence":"high","text":"x"}]}}"#).is_err());
        assert!(InputResult::from_json(b"not json").is_err());
    }

    #[test]
    fn statuses() {
        let event = |status: &str| CallEvent::from_json(format!(r#"{{"status":"{status}","uuid":"u"}}"#).as_bytes());
        for (status, want, dial) in [
            ("started", Status::Progress, None),
            ("ringing", Status::Progress, None),
            ("answered", Status::Progress, None),
            ("completed", Status::Completed, Some(Input::DialEnded { answered: true })),
            ("busy", Status::NotConnected, Some(Input::DialEnded { answered: false })),
            ("timeout", Status::NotConnected, Some(Input::DialEnded { answered: false })),
            ("unanswered", Status::NotConnected, Some(Input::DialEnded { answered: false })),
            ("record", Status::Other, None),
        ] {
            let e = event(status).expect("valid");
            assert_eq!((e.status(), e.dial_input()), (want, dial), "{status}");
        }
        assert_eq!(CallEvent::from_json(b"{}").expect("valid").status(), Status::Other);
        // The `completed` example of Vonage's webhook reference.
        let completed = br#"{"end_time":"2020-01-01T12:00:00.000Z","network":"65512","duration":"2","start_time":
            "2020-01-01T12:00:00.000Z","rate":"0.00450000","price":"0.00015000","from":"447700900000",
            "to":"447700900000","uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","status":"completed",
            "direction":"outbound","timestamp":"2020-01-01T12:00:00.000Z"}"#;
        let completed = CallEvent::from_json(completed).expect("valid");
        assert!(completed.ended());
        assert_eq!(completed.duration_s(), Some(2));
        assert!(!event("answered").expect("valid").ended());
    }
}
