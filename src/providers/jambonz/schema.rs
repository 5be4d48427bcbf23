//! The properties jambonz's verb specifications (`@jambonz/verb-specifications`, `specs.json`)
//! give each verb we write and the objects nested in them, and a check of a verb array
//! against them.

use serde_json::Value;

use crate::providers::schema::{array, keys_in};

const SAY: &[&str] = &["verb", "id", "text", "instructions", "stream", "loop", "synthesizer", "earlyMedia"];
const PLAY: &[&str] = &["verb", "id", "url", "loop", "earlyMedia", "seekOffset", "timeoutSecs", "actionHook"];
const SYNTHESIZER: &[&str] = &["vendor", "label", "language", "voice", "engine", "gender", "options"];
const RECOGNIZER: &[&str] = &["vendor", "label", "language", "hints", "hintsBoost", "altLanguages", "vad"];
const TARGET: &[&str] = &["type", "confirmHook", "method", "headers", "from", "name", "number", "sipUri", "auth"];

/// The documented properties of a verb, `None` for one this driver never writes.
pub fn fields(verb: &str) -> Option<&'static [&'static str]> {
    Some(match verb {
        "say" => SAY,
        "play" => PLAY,
        "pause" => &["verb", "id", "length"],
        "gather" => &[
            "verb",
            "id",
            "actionHook",
            "finishOnKey",
            "input",
            "numDigits",
            "minDigits",
            "maxDigits",
            "interDigitTimeout",
            "partialResultHook",
            "speechTimeout",
            "listenDuringPrompt",
            "dtmfBargein",
            "bargein",
            "minBargeinWordCount",
            "timeout",
            "recognizer",
            "play",
            "say",
        ],
        "enqueue" => &["verb", "id", "name", "actionHook", "waitHook", "priority"],
        "dequeue" => &["verb", "id", "name", "actionHook", "timeout", "beep", "callSid"],
        "dial" => &["verb", "id", "actionHook", "answerOnBridge", "callerId", "target", "timeLimit", "timeout"],
        "redirect" => &["verb", "id", "actionHook", "statusHook"],
        "hangup" => &["verb", "id", "headers"],
        "leave" => &["verb", "id"],
        "config" => &["verb", "id", "synthesizer", "recognizer", "bargeIn"],
        _ => return None,
    })
}

/// Everything in `verbs` that jambonz does not document; empty when valid.
pub fn problems(verbs: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, verb) in array(verbs, "the verbs", &mut problems).iter().enumerate() {
        let Some(name) = verb.get("verb").and_then(Value::as_str) else {
            problems.push(format!("verb {i} has no `verb`"));
            continue;
        };
        let Some(allowed) = fields(name) else {
            problems.push(format!("`{name}` is not a verb this driver writes"));
            continue;
        };
        keys_in(verb, allowed, name, &mut problems);
        if let Some(s) = verb.get("synthesizer") {
            keys_in(s, SYNTHESIZER, &format!("{name}.synthesizer"), &mut problems);
        }
        match name {
            "gather" => {
                if let Some(say) = verb.get("say") {
                    keys_in(say, &SAY[1..], "gather.say", &mut problems);
                    if let Some(s) = say.get("synthesizer") {
                        keys_in(s, SYNTHESIZER, "gather.say.synthesizer", &mut problems);
                    }
                }
                if let Some(play) = verb.get("play") {
                    keys_in(play, &PLAY[1..], "gather.play", &mut problems);
                }
                if let Some(r) = verb.get("recognizer") {
                    keys_in(r, RECOGNIZER, "gather.recognizer", &mut problems);
                }
                for input in array(&verb["input"], "gather.input", &mut problems) {
                    if input != "digits" && input != "speech" {
                        problems.push(format!("gather.input has {input}"));
                    }
                }
            }
            "dial" => {
                for target in array(&verb["target"], "dial.target", &mut problems) {
                    keys_in(target, TARGET, "dial.target", &mut problems);
                    if !["phone", "sip", "user", "teams"].contains(&target["type"].as_str().unwrap_or("")) {
                        problems.push(format!("dial.target has no valid type: {target}"));
                    }
                }
            }
            _ => {}
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undocumented_properties_are_found() {
        let verbs = serde_json::json!([
            {"verb": "say", "text": "hi", "voice": "Polly.Amy"},
            {"verb": "gather", "input": ["digits", "dtmf"], "actionHook": "/x", "method": "POST",
             "say": {"text": "x", "synthesizer": {"vendor": "default", "rate": 1}}},
            {"verb": "dial", "target": [{"type": "pstn", "number": "1"}]},
            {"verb": "record", "path": "x"},
            {"text": "no verb"},
        ]);
        let found = problems(&verbs);
        for want in [
            "`voice` is not a documented field of say",
            "`method` is not a documented field of gather",
            "`rate` is not a documented field of gather.say.synthesizer",
            "gather.input has \"dtmf\"",
            "dial.target has no valid type",
            "`record` is not a verb this driver writes",
            "verb 4 has no `verb`",
        ] {
            assert!(found.iter().any(|p| p.starts_with(want)), "missing {want:?} in {found:#?}");
        }
    }
}
