//! jambonz's webhook requests, read into what the engine needs
//! (<https://docs.jambonz.org/reference/webhooks>).
//!
//! Every request is a JSON POST carrying the call's attributes (`call_sid`, `from`, `to`,
//! `direction`, `call_status`, ...) plus what the hook is about; jambonz writes keys in
//! snake_case:
//! - a `gather`'s `actionHook`: `reason` (`dtmfDetected`, `speechDetected`, `timeout`, `error`,
//!   `stt-low-confidence`), `digits`, and `speech.alternatives[{transcript, confidence}]`;
//! - an `enqueue`'s `waitHook`: `queue_position` (0-based), `queue_size`, `queue_time` (s);
//!   its `actionHook`: `queue_result` (`bridged`, `hangup`, `leave`, `error`) and `queue_time`;
//! - a `dial`'s `actionHook`: `dial_call_status` (`completed`, `no-answer`, `busy`, `failed`);
//! - the call status hook: `call_status` (`trying`, `ringing`, `in-progress`, `completed`,
//!   `failed`, `busy`, `no-answer`).
//!
//! Fields we do not use are ignored, so jambonz adding some breaks nothing.

use serde::Deserialize;

use crate::engine::flow::LiveQueue;
use crate::providers::Input;

/// A body that cannot be read; the request gets a 400 naming this.
#[derive(Debug, thiserror::Error)]
#[error("jambonz webhook: {0}")]
pub struct ParseError(#[from] serde_json::Error);

/// One jambonz webhook body; which fields are present depends on the hook.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Hook {
    pub call_sid: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub call_status: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub digits: Option<String>,
    #[serde(default)]
    pub speech: Option<Speech>,
    #[serde(default)]
    pub queue_position: Option<u32>,
    #[serde(default)]
    pub queue_size: Option<u32>,
    #[serde(default)]
    pub queue_time: Option<u32>,
    #[serde(default)]
    pub queue_result: Option<String>,
    #[serde(default)]
    pub dial_call_status: Option<String>,
    /// Seconds the call lasted, in the final call status.
    #[serde(default)]
    pub duration: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Speech {
    #[serde(default)]
    pub alternatives: Vec<Alternative>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Alternative {
    pub transcript: String,
    /// Some recognisers leave it out; then the transcript is taken as heard.
    #[serde(default = "certain")]
    pub confidence: f32,
}

fn certain() -> f32 {
    1.0
}

/// How a caller left an `enqueue` (`queue_result`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueOutcome {
    /// An agent took the call (`bridged`).
    Bridged,
    /// The caller hung up while waiting (`hangup`).
    Hangup,
    /// A `leave` verb from our `waitHook` took them out (`leave`).
    Left,
    /// jambonz could not queue or bridge them (`error`, or anything unknown).
    Error,
}

impl Hook {
    pub fn from_json(body: &[u8]) -> Result<Hook, ParseError> {
        Ok(serde_json::from_slice(body)?)
    }

    /// A `gather`'s result as the engine's input: keys, else the best transcript, else silence.
    /// A recogniser error or a transcript below jambonz's confidence floor is silence too: the
    /// caller is re-prompted, then taken to a person.
    pub fn gather_input(&self) -> Input {
        let digits = self.digits.as_deref().filter(|d| !d.is_empty());
        match (self.reason.as_deref(), digits) {
            (Some("dtmfDetected") | None, Some(digits)) => return Input::Digits(digits.to_owned()),
            (Some("dtmfDetected"), None) => return Input::NoInput,
            _ => {}
        }
        if self.reason.as_deref() == Some("speechDetected")
            && let Some(best) = self.speech.as_ref().and_then(|s| s.alternatives.first())
            && !best.transcript.trim().is_empty()
        {
            return Input::Speech { text: best.transcript.clone(), confidence: best.confidence.clamp(0.0, 1.0) };
        }
        Input::NoInput
    }

    /// A `waitHook` request as news about the queue. jambonz counts positions from 0; the
    /// engine from 1. It reports no average wait.
    pub fn queue_update(&self) -> LiveQueue {
        LiveQueue { position: self.queue_position.map_or(1, |p| p.saturating_add(1)), avg_wait_s: None }
    }

    /// An `enqueue`'s `actionHook`: how the caller left the queue.
    pub fn queue_outcome(&self) -> QueueOutcome {
        match self.queue_result.as_deref() {
            Some("bridged") => QueueOutcome::Bridged,
            Some("hangup") => QueueOutcome::Hangup,
            Some("leave") => QueueOutcome::Left,
            _ => QueueOutcome::Error,
        }
    }

    /// A `dial`'s `actionHook` as the engine's input.
    pub fn dial_input(&self) -> Input {
        Input::DialEnded { answered: self.dial_call_status.as_deref() == Some("completed") }
    }

    /// Whether the call is over (the call status hook's `completed`, `failed`, `busy`,
    /// `no-answer`).
    pub fn call_ended(&self) -> bool {
        matches!(self.call_status.as_deref(), Some("completed" | "failed" | "busy" | "no-answer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The call attributes jambonz sends with every hook, from its webhook reference.
    const CALL: &str = r#""call_sid":"5fb3cd8a-cc71-4ce6-9c3f-8c1ee5f9f6a6","direction":"inbound",
        "from":"+15083084809","to":"+15083728299","call_id":"c8f8f2ce-5b0a-1239-5e4d-0242ac110002",
        "sip_status":200,"call_status":"in-progress","caller_name":"","account_sid":"fef61e75-cec3-4d47-9ad4-02e0c5cd4a5b",
        "application_sid":"0e0681b0-d49f-4fb8-b973-b5a3c6758de1","originating_sip_ip":"54.172.60.1""#;

    fn hook(extra: &str) -> Hook {
        let body = if extra.is_empty() { format!("{{{CALL}}}") } else { format!("{{{CALL},{extra}}}") };
        Hook::from_json(body.as_bytes()).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    #[test]
    fn call_attributes() {
        let h = hook("");
        assert_eq!(h.call_sid, "5fb3cd8a-cc71-4ce6-9c3f-8c1ee5f9f6a6");
        assert_eq!(h.from.as_deref(), Some("+15083084809"));
        assert_eq!(h.to.as_deref(), Some("+15083728299"));
        assert!(!h.call_ended());
        let err = Hook::from_json(br#"{"from":"+1"}"#).expect_err("no call_sid");
        assert!(err.to_string().contains("call_sid"), "{err}");
        assert!(Hook::from_json(b"{").is_err());
    }

    #[test]
    fn gather_results() {
        assert_eq!(hook(r#""reason":"dtmfDetected","digits":"1234""#).gather_input(), Input::Digits("1234".into()));
        assert_eq!(hook(r#""reason":"dtmfDetected","digits":"""#).gather_input(), Input::NoInput);
        let speech = r#""reason":"speechDetected","speech":{"stability":0,"is_final":true,"language_code":"en-US",
            "alternatives":[{"confidence":0.858,"transcript":"I'd like to speak to an operator"},
            {"confidence":0.5,"transcript":"I'd like to speak to an opera"}]}"#;
        assert_eq!(
            hook(speech).gather_input(),
            Input::Speech { text: "I'd like to speak to an operator".into(), confidence: 0.858 }
        );
        let no_confidence = r#""reason":"speechDetected","speech":{"alternatives":[{"transcript":"оператор"}]}"#;
        assert_eq!(hook(no_confidence).gather_input(), Input::Speech { text: "оператор".into(), confidence: 1.0 });
        for silent in [
            r#""reason":"timeout""#,
            r#""reason":"error","details":"stt failed""#,
            r#""reason":"stt-low-confidence","speech":{"alternatives":[{"confidence":0.1,"transcript":"mumble"}]}"#,
            r#""reason":"speechDetected","speech":{"alternatives":[]}"#,
        ] {
            assert_eq!(hook(silent).gather_input(), Input::NoInput, "{silent}");
        }
    }

    #[test]
    fn queue_hooks() {
        let wait = hook(r#""queue_sid":"queue:acct:support","queue_time":42,"queue_size":3,"queue_position":0"#);
        assert_eq!(wait.queue_update(), LiveQueue { position: 1, avg_wait_s: None });
        assert_eq!(wait.queue_time, Some(42));
        for (result, want) in [
            ("bridged", QueueOutcome::Bridged),
            ("hangup", QueueOutcome::Hangup),
            ("leave", QueueOutcome::Left),
            ("error", QueueOutcome::Error),
            ("something new", QueueOutcome::Error),
        ] {
            let left = hook(&format!(r#""queue_sid":"queue:acct:support","queue_time":7,"queue_result":"{result}""#));
            assert_eq!(left.queue_outcome(), want, "{result}");
        }
    }

    #[test]
    fn dial_and_status() {
        for (status, answered) in [("completed", true), ("no-answer", false), ("busy", false), ("failed", false)] {
            let h = hook(&format!(r#""dial_call_status":"{status}","dial_sip_status":200"#));
            assert_eq!(h.dial_input(), Input::DialEnded { answered }, "{status}");
        }
        let ended = Hook::from_json(br#"{"call_sid":"x","call_status":"completed","sip_status":200,"duration":37}"#)
            .expect("valid");
        assert!(ended.call_ended());
        assert_eq!(ended.duration, Some(37));
    }
}
