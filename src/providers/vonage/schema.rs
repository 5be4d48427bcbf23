//! The fields Vonage's NCCO reference documents for each action
//! (<https://developer.vonage.com/en/voice/voice-api/ncco-reference>), and a check of an NCCO
//! against them and against Vonage's limits.

use serde_json::Value;

use super::ncco::{MAX_DIGITS, MAX_DTMF_TIMEOUT_S};
use crate::providers::schema::{array, keys_in};

/// The documented fields of an action, `None` for an action that does not exist.
pub fn fields(action: &str) -> Option<&'static [&'static str]> {
    Some(match action {
        "talk" => &["action", "text", "bargeIn", "loop", "level", "language", "style", "premium"],
        "stream" => &["action", "streamUrl", "level", "bargeIn", "loop"],
        "input" => &["action", "type", "dtmf", "speech", "eventUrl", "eventMethod", "mode"],
        "connect" => &[
            "action",
            "endpoint",
            "from",
            "randomFromNumber",
            "eventType",
            "timeout",
            "limit",
            "machineDetection",
            "advancedMachineDetection",
            "eventUrl",
            "eventMethod",
            "ringbackTone",
        ],
        "record" => &[
            "action",
            "format",
            "split",
            "channels",
            "endOnSilence",
            "endOnKey",
            "timeOut",
            "beepStart",
            "eventUrl",
            "eventMethod",
            "transcription",
        ],
        "conversation" => &[
            "action",
            "name",
            "musicOnHoldUrl",
            "startOnEnter",
            "endOnExit",
            "record",
            "canSpeak",
            "canHear",
            "mute",
            "transcription",
        ],
        "notify" => &["action", "payload", "eventUrl", "eventMethod"],
        _ => return None,
    })
}

const DTMF: &[&str] = &["timeOut", "maxDigits", "submitOnHash"];
const SPEECH: &[&str] =
    &["uuid", "endOnSilence", "language", "context", "startTimeout", "maxDuration", "saveAudio", "sensitivity"];
const PHONE: &[&str] = &["type", "number", "dtmfAnswer", "onAnswer", "shaken"];

/// Everything in `ncco` that Vonage does not document or would refuse; empty when valid.
pub fn problems(ncco: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let actions = array(ncco, "the NCCO", &mut problems);
    for (i, action) in actions.iter().enumerate() {
        let Some(name) = action.get("action").and_then(Value::as_str) else {
            problems.push(format!("action {i} has no `action`"));
            continue;
        };
        let Some(allowed) = fields(name) else {
            problems.push(format!("`{name}` is not an NCCO action"));
            continue;
        };
        keys_in(action, allowed, name, &mut problems);
        for url in ["eventUrl", "streamUrl", "musicOnHoldUrl"] {
            if action.get(url).is_some_and(|v| !v.is_array()) {
                problems.push(format!("{name}.{url} must be an array"));
            }
        }
        match name {
            "input" => {
                let dtmf = &action["dtmf"];
                keys_in(dtmf, DTMF, "input.dtmf", &mut problems);
                if dtmf["timeOut"].as_u64().is_none_or(|t| t > MAX_DTMF_TIMEOUT_S) {
                    problems.push(format!("input.dtmf.timeOut must be 0..={MAX_DTMF_TIMEOUT_S}: {dtmf}"));
                }
                if !dtmf["maxDigits"].as_u64().is_some_and(|d| (1..=u64::from(MAX_DIGITS)).contains(&d)) {
                    problems.push(format!("input.dtmf.maxDigits must be 1..={MAX_DIGITS}: {dtmf}"));
                }
                if let Some(speech) = action.get("speech") {
                    keys_in(speech, SPEECH, "input.speech", &mut problems);
                }
            }
            "connect" => {
                for endpoint in array(&action["endpoint"], "connect.endpoint", &mut problems) {
                    keys_in(endpoint, PHONE, "a phone endpoint", &mut problems);
                    if endpoint["type"] != "phone" {
                        problems.push(format!("connect.endpoint is not a phone: {endpoint}"));
                    }
                }
            }
            _ => {}
        }
    }
    // Vonage: "If you set bargeIn to true the next non-talk action in the NCCO stack must be
    // an input action."
    for (i, action) in actions.iter().enumerate() {
        if action.get("bargeIn") == Some(&Value::Bool(true)) {
            let next = actions[i + 1..].iter().find(|n| n["action"] != "talk" && n["action"] != "stream");
            if next.map(|n| &n["action"]) != Some(&Value::from("input")) {
                problems.push(format!("action {i} barges in, but no input follows it"));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undocumented_fields_and_broken_limits_are_found() {
        let ncco = serde_json::json!([
            {"action": "talk", "text": "hi", "voiceName": "Amy", "bargeIn": true},
            {"action": "input", "type": ["dtmf"], "dtmf": {"timeOut": 30, "maxDigits": 1, "finishOnKey": "#"},
             "eventUrl": "https://x"},
            {"action": "connect", "endpoint": [{"type": "sip", "uri": "sip:a@b"}]},
            {"action": "queue", "name": "q"},
        ]);
        let found = problems(&ncco);
        for want in [
            "`voiceName` is not a documented field of talk",
            "input.eventUrl must be an array",
            "`finishOnKey` is not a documented field of input.dtmf",
            "input.dtmf.timeOut must be 0..=10",
            "`uri` is not a documented field of a phone endpoint",
            "connect.endpoint is not a phone",
            "`queue` is not an NCCO action",
        ] {
            assert!(found.iter().any(|p| p.starts_with(want)), "missing {want:?} in {found:#?}");
        }
        let talk_then_connect = serde_json::json!([{"action": "talk", "text": "x", "bargeIn": true},
            {"action": "connect", "endpoint": [{"type": "phone", "number": "1"}]}]);
        assert_eq!(problems(&talk_then_connect), ["action 0 barges in, but no input follows it"]);
        assert_eq!(problems(&serde_json::json!({})), ["the NCCO is not an array: {}"]);
    }
}
