//! Engine actions as an NCCO, the JSON array of actions the Vonage Voice API executes on a call
//! (<https://developer.vonage.com/en/voice/voice-api/ncco-reference>). Pure: actions in, JSON out.
//!
//! What each engine action becomes, and why:
//! - `Say` → `talk` (`language` is a BCP-47 locale, `style` picks the voice); `Play` → `stream`.
//!   Prompts right before an `input` get `bargeIn: true`, so a caller who knows the menu can
//!   press a key without hearing it out; Vonage requires the next non-`talk` action after a
//!   barge-in prompt to be an `input`, which is exactly where we set it.
//! - `Pause` → a `talk` of SSML `<break>`s: the NCCO has no pause action, and SSML caps one
//!   break at 10 s.
//! - `Gather` → `input`. Vonage posts the result to its `eventUrl` whatever happens (keys,
//!   speech, or a time-out with `dtmf.timed_out`), and the NCCO returned there replaces the
//!   current one, so no redirect is needed for silence. Its limits differ from Twilio's:
//!   `dtmf.timeOut` is 0–10 s (the gap after the last key, and the wait for the first),
//!   `maxDigits` 1–20, and the only finish key is `#` (`submitOnHash`). Longer flow timeouts are
//!   clamped to [`MAX_DTMF_TIMEOUT_S`]; `check` warns about them.
//! - `Enqueue` → `conversation`: Vonage has no queue verb. The caller joins a named
//!   conversation with `startOnEnter: false`, hearing `musicOnHoldUrl` until an agent joins the
//!   same name (agents join with `startOnEnter: true`). There is no wait callback either, so the
//!   expected wait must be announced before joining: the driver puts the announcement's `Say`
//!   before the `Enqueue`. Queue priorities have no equivalent.
//! - `Dial` → `connect` to a `phone` endpoint with `eventType: synchronous`: then the
//!   `eventUrl` receives the transfer's outcome (`busy`, `timeout`, `failed`, ...) and the NCCO
//!   it returns takes over the call.
//! - `Record` → `record` (`beepStart`, `endOnKey`, `timeOut`) then `notify`: `record` with an
//!   end condition holds the NCCO until the recording ends, and the `notify` that follows asks
//!   our `recorded` callback what to do next (its NCCO replaces the current one). The
//!   recording itself is reported to the application's event URL.
//! - `Hangup` → the end of the NCCO: a call whose NCCO runs out is hung up, so nothing after
//!   it is rendered.

use serde::Serialize;

use crate::engine::{Action, Millis};
use crate::providers::{Hints, Links, OperatorRoute, Voices, locale, words};

/// Vonage's upper bound for `input.dtmf.timeOut`, in seconds.
pub const MAX_DTMF_TIMEOUT_S: u64 = 10;
/// Vonage's upper bound for `input.dtmf.maxDigits`.
pub const MAX_DIGITS: u8 = 20;
/// Vonage's bounds for `input.speech.startTimeout`, in seconds.
const SPEECH_START_TIMEOUT_S: (u64, u64) = (1, 60);
/// Vonage's bounds for `record.timeOut`, in seconds.
const RECORD_TIMEOUT_S: (u32, u32) = (3, 7200);
/// The longest SSML `<break>` Vonage speaks, in milliseconds.
const MAX_BREAK_MS: u64 = 10_000;

/// One NCCO action. Only fields from Vonage's NCCO reference; unset options are left out so
/// Vonage's defaults apply.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Ncco {
    Talk(Talk),
    Stream(Stream),
    Input(Input),
    Connect(Connect),
    Record(Record),
    Conversation(Conversation),
    Notify(Notify),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Talk {
    pub text: String,
    pub language: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<u32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub barge_in: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stream {
    pub stream_url: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub barge_in: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// `["dtmf"]` or `["dtmf", "speech"]`.
    #[serde(rename = "type")]
    pub kind: Vec<&'static str>,
    pub dtmf: Dtmf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speech: Option<Speech>,
    pub event_url: Vec<String>,
    pub event_method: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dtmf {
    pub time_out: u64,
    pub max_digits: u8,
    pub submit_on_hash: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Speech {
    pub language: String,
    #[serde(skip_serializing_if = "Hints::is_empty")]
    pub context: Hints,
    pub start_timeout: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Connect {
    pub endpoint: Vec<Endpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub event_url: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_method: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Endpoint {
    /// A number in E.164 without the leading `+`, as Vonage writes them.
    Phone { number: String },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_on_key: Option<char>,
    pub time_out: u32,
    pub beep_start: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub music_on_hold_url: Vec<String>,
    pub start_on_enter: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notify {
    pub payload: serde_json::Value,
    pub event_url: Vec<String>,
    pub event_method: &'static str,
}

/// The NCCO for the engine's actions after one event.
pub fn render(actions: &[Action], links: &Links) -> Vec<Ncco> {
    let mut ncco = Vec::with_capacity(actions.len() + 1);
    let mut prompts: Vec<&Action> = Vec::new();
    for action in actions {
        match action {
            Action::Say { .. } | Action::Play { .. } | Action::Pause { .. } => prompts.push(action),
            Action::Gather(g) => {
                flush(&mut ncco, &mut prompts, links, true);
                let lang = locale(&g.lang).to_owned();
                let timeout_s = seconds(g.timeout_ms);
                let speech = g.speech.then(|| Speech {
                    language: lang,
                    context: Hints(g.hints.clone()),
                    start_timeout: timeout_s.clamp(SPEECH_START_TIMEOUT_S.0, SPEECH_START_TIMEOUT_S.1),
                });
                ncco.push(Ncco::Input(Input {
                    kind: if g.speech { vec!["dtmf", "speech"] } else { vec!["dtmf"] },
                    dtmf: Dtmf {
                        time_out: timeout_s.min(MAX_DTMF_TIMEOUT_S),
                        // 0 means "no limit" to the engine; Vonage's largest is the nearest.
                        max_digits: if g.max_digits == 0 { MAX_DIGITS } else { g.max_digits.min(MAX_DIGITS) },
                        submit_on_hash: g.finish_key == Some('#'),
                    },
                    speech,
                    event_url: vec![links.gather()],
                    event_method: "POST",
                }));
            }
            Action::Enqueue { queue, .. } => {
                flush(&mut ncco, &mut prompts, links, false);
                ncco.push(join_queue(queue, links));
            }
            Action::Dial { number, timeout_s } => {
                flush(&mut ncco, &mut prompts, links, false);
                ncco.push(Ncco::Connect(Connect {
                    endpoint: vec![phone(number)],
                    timeout: Some(*timeout_s),
                    event_type: Some("synchronous"),
                    event_url: vec![links.dialed()],
                    event_method: Some("POST"),
                }));
            }
            Action::Record { max_length_s, finish_key, .. } => {
                flush(&mut ncco, &mut prompts, links, false);
                ncco.push(Ncco::Record(Record {
                    // Vonage ends on one key only; without one, the time limit ends it.
                    end_on_key: *finish_key,
                    time_out: (*max_length_s).clamp(RECORD_TIMEOUT_S.0, RECORD_TIMEOUT_S.1),
                    beep_start: true,
                }));
                ncco.push(Ncco::Notify(Notify {
                    // The call's uuid comes back in our payload: the state token needs it.
                    payload: match &links.call_id {
                        Some(uuid) => serde_json::json!({ "event": "recorded", "uuid": uuid }),
                        None => serde_json::json!({ "event": "recorded" }),
                    },
                    event_url: vec![links.recorded()],
                    event_method: "POST",
                }));
            }
            Action::Hangup => {
                flush(&mut ncco, &mut prompts, links, false);
                return ncco;
            }
        }
    }
    flush(&mut ncco, &mut prompts, links, false);
    ncco
}

/// A queued caller's announcement, then hold music. Vonage never asks for one (a queue is a
/// conversation, with no wait callback); the announcement is made before joining instead.
pub fn render_wait(actions: &[Action], links: &Links) -> Vec<Ncco> {
    let mut ncco = Vec::new();
    let mut prompts: Vec<&Action> = actions
        .iter()
        .filter(|a| matches!(a, Action::Say { .. } | Action::Play { .. } | Action::Pause { .. }))
        .collect();
    flush(&mut ncco, &mut prompts, links, false);
    if let Some(file) = &links.hold {
        ncco.push(Ncco::Stream(Stream { stream_url: vec![links.sound(file)], barge_in: false }));
    }
    ncco
}

/// An apology in `lang`, then the caller goes to a person: for when the flow cannot go on.
pub fn render_operator(lang: &str, route: &OperatorRoute, links: &Links) -> Vec<Ncco> {
    let (text, lang) = words::operator(lang);
    vec![talk(text, lang, &links.voices, false), to_person(route, links)]
}

/// Nothing to run and nowhere known to send the caller: an apology, then the NCCO ends, which
/// hangs up. For the fallback answer URL, when no flow (and so no language) is known.
pub fn render_apology(voices: &Voices) -> Vec<Ncco> {
    let (text, lang) = words::apology();
    vec![talk(text, lang, voices, false)]
}

/// A queue refused the caller: say so, then try `alternative`, else ask them to call back
/// (the NCCO then ends, which hangs up).
pub fn render_queue_failed(lang: &str, alternative: Option<&OperatorRoute>, links: &Links) -> Vec<Ncco> {
    match alternative {
        Some(route) => {
            let (text, lang) = words::queue_full_alternative(lang);
            vec![talk(text, lang, &links.voices, false), to_person(route, links)]
        }
        None => {
            let (text, lang) = words::queue_full(lang);
            vec![talk(text, lang, &links.voices, false)]
        }
    }
}

/// The NCCO as the JSON text Vonage reads.
pub fn to_json(ncco: &[Ncco]) -> String {
    serde_json::to_string(ncco).expect("NCCO structs hold only strings, numbers and bools")
}

fn to_person(route: &OperatorRoute, links: &Links) -> Ncco {
    match route {
        OperatorRoute::Queue(queue) => join_queue(queue, links),
        OperatorRoute::Dial(number) => Ncco::Connect(Connect {
            endpoint: vec![phone(number)],
            timeout: None,
            event_type: None,
            event_url: Vec::new(),
            event_method: None,
        }),
    }
}

fn join_queue(queue: &str, links: &Links) -> Ncco {
    Ncco::Conversation(Conversation {
        name: queue.to_owned(),
        music_on_hold_url: links.hold.iter().map(|file| links.sound(file)).collect(),
        start_on_enter: false,
    })
}

fn phone(number: &str) -> Endpoint {
    Endpoint::Phone { number: number.trim().trim_start_matches('+').to_owned() }
}

/// Prompts become actions of their own; `barge_in` when an `input` follows them.
fn flush(ncco: &mut Vec<Ncco>, prompts: &mut Vec<&Action>, links: &Links, barge_in: bool) {
    for prompt in prompts.drain(..) {
        match prompt {
            Action::Say { text, lang, .. } => ncco.push(talk(text, lang, &links.voices, barge_in)),
            Action::Play { file, .. } => {
                ncco.push(Ncco::Stream(Stream { stream_url: vec![links.sound(file)], barge_in }))
            }
            Action::Pause { ms } => {
                let mut left = ms.0;
                while left > 0 {
                    let now = left.min(MAX_BREAK_MS);
                    left -= now;
                    let text = format!("<speak><break time=\"{now}ms\"/></speak>");
                    ncco.push(Ncco::Talk(Talk { text, language: "en-US".into(), style: None, barge_in }));
                }
            }
            _ => {}
        }
    }
}

fn talk(text: &str, lang: &str, voices: &Voices, barge_in: bool) -> Ncco {
    Ncco::Talk(Talk { text: text.to_owned(), language: locale(lang).to_owned(), style: style(voices, lang), barge_in })
}

/// Vonage picks a voice by `language` and a numbered `style`
/// (<https://developer.vonage.com/en/voice/voice-api/concepts/text-to-speech>), so a
/// deployment's `--voices vonage:ru=0` names the style (checked to be a number when read).
fn style(voices: &Voices, lang: &str) -> Option<u32> {
    voices.for_language(lang).and_then(|v| v.trim().parse().ok())
}

/// Milliseconds as whole seconds, rounded up: a caller never gets less time than promised.
fn seconds(ms: Millis) -> u64 {
    ms.0.div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Value;

    use super::*;
    use crate::engine::Gather;

    use crate::providers::test_support::say;

    fn links() -> Links {
        crate::providers::test_support::links("vonage")
    }

    fn gather(max_digits: u8, finish_key: Option<char>, speech: bool, timeout_ms: u64) -> Action {
        Action::Gather(Gather {
            min_digits: 1,
            max_digits,
            finish_key,
            timeout_ms: Millis(timeout_ms),
            speech,
            hints: Arc::from(if speech { "оператор, жалоба" } else { "" }),
            lang: "ru".into(),
        })
    }

    fn json(ncco: &[Ncco]) -> Value {
        serde_json::from_str(&to_json(ncco)).expect("valid JSON")
    }

    /// Only fields the provider documents, within its limits (see `schema`).
    fn assert_documented(doc: &Value) {
        let problems = crate::providers::vonage::schema::problems(doc);
        assert!(problems.is_empty(), "{problems:#?}\n{doc:#}");
    }

    fn render_json(actions: &[Action], hold: Option<&str>) -> Value {
        let doc = json(&render(actions, &links().with_hold(hold.map(String::from))));
        assert_documented(&doc);
        doc
    }

    #[test]
    fn menu_prompts_barge_into_the_input() {
        let doc = render_json(&[say("Главное меню. Нажмите 1."), gather(1, None, true, 5000)], None);
        insta::assert_json_snapshot!(doc);
    }

    #[test]
    fn input_with_hash_and_timeouts_beyond_vonage_limits() {
        let doc = render_json(&[say("Введите номер и нажмите решётку."), gather(30, Some('#'), false, 15_000)], None);
        let input = &doc[1];
        assert_eq!(input["dtmf"]["submitOnHash"], true);
        assert_eq!(input["dtmf"]["timeOut"], 10, "clamped to Vonage's 10 s");
        assert_eq!(input["dtmf"]["maxDigits"], 20, "clamped to Vonage's 20 digits");
        assert_eq!(input["type"], serde_json::json!(["dtmf"]));
        insta::assert_json_snapshot!(doc);
    }

    #[test]
    fn every_other_action() {
        let enqueue = [say("Все операторы заняты."), Action::Enqueue { queue: "first_line".into(), priority: 3 }];
        let dial = [Action::Dial { number: "+74950000000".into(), timeout_s: 30 }];
        let record = [
            Action::Play { file: "beep me.wav".into(), text: None, lang: "en".into(), duration_ms: Millis(500) },
            Action::Pause { ms: Millis(12_500) },
            Action::Record { mailbox: "support".into(), max_length_s: 120, finish_key: Some('#') },
        ];
        let hangup = [say("До свидания."), Action::Hangup, say("never said")];
        insta::assert_json_snapshot!("enqueue", render_json(&enqueue, Some("hold.wav")));
        insta::assert_json_snapshot!("dial", render_json(&dial, None));
        insta::assert_json_snapshot!("record", render_json(&record, None));
        let hangup = render_json(&hangup, None);
        assert_eq!(hangup.as_array().map(Vec::len), Some(1), "nothing after a hang-up: {hangup}");
    }

    /// The `notify` after a recording names the call in our payload: the state token in its
    /// URL opens only in that call, and Vonage does not promise the call's uuid with it.
    #[test]
    fn the_recording_notice_names_the_call() {
        let record = [Action::Record { mailbox: "m".into(), max_length_s: 60, finish_key: None }];
        let links = crate::providers::test_support::links("vonage").with_call("aaaa-bbbb");
        let ncco = serde_json::to_value(render(&record, &links)).expect("serializes");
        let notify = ncco.as_array().and_then(|a| a.iter().find(|n| n["action"] == "notify")).expect("a notify");
        assert_eq!(notify["payload"], serde_json::json!({ "event": "recorded", "uuid": "aaaa-bbbb" }));
    }

    #[test]
    fn fallbacks_reach_a_person() {
        let queue = OperatorRoute::Queue("first_line".into());
        let dial = OperatorRoute::Dial("+74950000000".into());
        let voices = Voices::parse("ru=2").expect("valid");
        let links = links().with_voices(voices.clone()).with_hold(Some("hold.wav".into()));
        let docs = [
            ("operator", json(&render_operator("ru", &queue, &links))),
            ("operator_dial_en", json(&render_operator("en", &dial, &links))),
            ("apology", json(&render_apology(&voices))),
            ("wait", json(&render_wait(&[say("Около 3 мин.")], &links))),
            ("queue_failed", json(&render_queue_failed("ru", Some(&dial), &links))),
            ("queue_failed_none", json(&render_queue_failed("en", None, &links))),
        ];
        for (name, doc) in docs {
            assert_documented(&doc);
            insta::assert_json_snapshot!(name, doc);
        }
    }

    #[test]
    fn numbers_lose_their_plus_and_styles_come_from_voices() {
        let doc = render_json(&[Action::Dial { number: " +1 555".into(), timeout_s: 5 }], None);
        assert_eq!(doc[0]["endpoint"][0]["number"], "1 555");
        let links = links().with_voices(Voices::parse("ru=4,en=Polly.Amy").expect("valid"));
        let doc = json(&render(&[say("Привет")], &links));
        assert_eq!(doc[0]["style"], 4);
        let en = Action::Say { text: "Hi".into(), lang: "en".into(), duration_ms: Millis(1) };
        let doc = json(&render(&[en], &links));
        assert!(doc[0].get("style").is_none(), "a voice that is not a style number is left out: {doc}");
    }

    fn action() -> impl proptest::strategy::Strategy<Value = Action> {
        use proptest::prelude::*;
        let text = "[a-zа-я <>&\"'0-9]{0,12}";
        prop_oneof![
            text.prop_map(|t| say(&t)),
            text.prop_map(|t| Action::Play { file: t.into(), text: None, lang: "en".into(), duration_ms: Millis(1) }),
            (0u64..30_000).prop_map(|ms| Action::Pause { ms: Millis(ms) }),
            (0u8..40, any::<bool>(), any::<bool>(), 0u64..90_000).prop_map(|(n, hash, speech, t)| gather(
                n,
                hash.then_some('#'),
                speech,
                t
            )),
            text.prop_map(|q| Action::Enqueue { queue: q.into(), priority: 0 }),
            text.prop_map(|n| Action::Dial { number: n.into(), timeout_s: 30 }),
            (0u32..10_000).prop_map(|s| Action::Record { mailbox: "m".into(), max_length_s: s, finish_key: None }),
            Just(Action::Hangup),
        ]
    }

    proptest::proptest! {
        /// Whatever the engine asks, the NCCO has only documented fields within Vonage's
        /// limits (a `bargeIn` prompt is followed by an `input`), and every `Say` before a
        /// hang-up is spoken.
        #[test]
        fn any_actions_make_a_valid_ncco(actions in proptest::collection::vec(action(), 0..8)) {
            let doc = render_json(&actions, Some("hold.wav"));
            let list = doc.as_array().expect("array");
            let before_hangup = actions.iter().take_while(|a| !matches!(a, Action::Hangup));
            let want: Vec<&str> = before_hangup.filter_map(|a| match a { Action::Say { text, .. } => Some(&**text), _ => None }).collect();
            let said: Vec<&str> = list.iter().filter(|a| a["action"] == "talk").filter_map(|a| a["text"].as_str()).filter(|t| !t.starts_with("<speak>")).collect();
            proptest::prop_assert_eq!(said, want);
        }
    }
}
