//! Engine actions as jambonz verbs, the JSON array a jambonz application returns from its
//! webhooks (<https://docs.jambonz.org/verbs/verbs/overview>; fields as in
//! `@jambonz/verb-specifications`). Pure: actions in, JSON out.
//!
//! What each engine action becomes, and why:
//! - `Say` → `say` with a `synthesizer` naming the language (vendor `default`: the
//!   application's own speech vendor, unless `--voices jambonz:ru=google/ru-RU-Wavenet-A`
//!   names a vendor and voice); `Play` → `play`;
//!   `Pause` → `pause` (whole seconds).
//! - `Gather` → `gather`, with the prompts before it nested (`say` or `play`, one of each at
//!   most, so consecutive `Say`s in one language are joined). jambonz calls its `actionHook` on
//!   every outcome, `reason` saying which (`dtmfDetected`, `speechDetected`, `timeout`, ...), so
//!   silence needs no redirect. `finishOnKey` is left out when the engine has no finish key, so
//!   `#` can be a menu option; `timeout` is the wait for input, `interDigitTimeout` the gap
//!   between keys.
//! - `Enqueue` → `enqueue`, a real queue: `waitHook` is requested while the caller waits (it
//!   may answer only `say`, `play`, `pause` and `leave`), `actionHook` when they leave it
//!   (`queue_result`). jambonz serves the lowest `priority` first; the engine's is
//!   "higher first", so it is inverted.
//! - `Dial` → `dial` to a `phone` target; its `actionHook` gets `dial_call_status`.
//! - `Record`: jambonz has no voicemail verb (audio leaves a call only over a websocket, with
//!   `listen`), so the caller is told that messages cannot be left, and the flow goes on as
//!   after an empty recording (a `redirect` to the `recorded` hook). `check` names such nodes.
//! - `Hangup` → `hangup`.

use serde::Serialize;

use crate::engine::{Action, Millis};
use crate::providers::{Hints, Links, OperatorRoute, Voices, locale, words};

/// What a caller hears at a voicemail node, which jambonz cannot record.
const NO_VOICEMAIL_RU: &str = "Извините, оставить сообщение сейчас нельзя.";
const NO_VOICEMAIL_EN: &str = "Sorry, messages cannot be left on this line.";

/// One jambonz verb. Only fields from the verb specifications; unset options are left out so
/// jambonz's defaults apply.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "verb", rename_all = "camelCase")]
pub enum Verb {
    Say(Say),
    Play(Play),
    Pause { length: u64 },
    Gather(Gather),
    Enqueue(Enqueue),
    Dial(Dial),
    Redirect(Redirect),
    Hangup {},
    Leave {},
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Say {
    pub text: String,
    pub synthesizer: Synthesizer,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Synthesizer {
    pub vendor: String,
    pub language: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Play {
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gather {
    pub action_hook: String,
    /// `["digits"]` or `["digits", "speech"]`.
    pub input: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_on_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_digits: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_digits: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_digits: Option<u8>,
    pub timeout: u64,
    pub inter_digit_timeout: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recognizer: Option<Recognizer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub say: Option<Say>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub play: Option<Play>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recognizer {
    pub vendor: &'static str,
    pub language: String,
    #[serde(skip_serializing_if = "Hints::is_empty")]
    pub hints: Hints,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Enqueue {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_hook: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_hook: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dial {
    pub target: Vec<Target>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_hook: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Target {
    Phone { number: String },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Redirect {
    pub action_hook: String,
}

/// The verbs for the engine's actions after one event.
pub fn render(actions: &[Action], links: &Links) -> Vec<Verb> {
    let mut verbs = Vec::with_capacity(actions.len() + 1);
    let mut prompts: Vec<&Action> = Vec::new();
    for action in actions {
        match action {
            Action::Say { .. } | Action::Play { .. } | Action::Pause { .. } => prompts.push(action),
            Action::Gather(g) => {
                let (say, play) = nest(&mut verbs, &mut prompts, links);
                let timeout = seconds(g.timeout_ms).max(1);
                let (num, min, max) = match (g.min_digits, g.max_digits) {
                    (_, 0) => (None, (g.min_digits > 0).then_some(g.min_digits), None),
                    (min, max) if min == max => (Some(max), None, None),
                    (min, max) => (None, Some(min.max(1)), Some(max)),
                };
                verbs.push(Verb::Gather(Gather {
                    action_hook: links.gather(),
                    input: if g.speech { vec!["digits", "speech"] } else { vec!["digits"] },
                    finish_on_key: g.finish_key.map(String::from),
                    num_digits: num,
                    min_digits: min,
                    max_digits: max,
                    timeout,
                    inter_digit_timeout: timeout,
                    recognizer: g.speech.then(|| Recognizer {
                        vendor: "default",
                        language: locale(&g.lang).to_owned(),
                        hints: Hints(g.hints.clone()),
                    }),
                    say,
                    play,
                }));
            }
            Action::Enqueue { queue, priority } => {
                flush(&mut verbs, &mut prompts, links);
                verbs.push(Verb::Enqueue(Enqueue {
                    name: queue.to_string(),
                    action_hook: Some(links.left()),
                    wait_hook: Some(links.wait()),
                    priority: Some(u8::MAX - priority),
                }));
            }
            Action::Dial { number, timeout_s } => {
                flush(&mut verbs, &mut prompts, links);
                verbs.push(Verb::Dial(Dial {
                    target: vec![Target::Phone { number: number.trim().to_owned() }],
                    action_hook: Some(links.dialed()),
                    timeout: Some(*timeout_s),
                }));
            }
            Action::Record { .. } => {
                flush(&mut verbs, &mut prompts, links);
                let lang = prompt_language(actions);
                let text = if matches!(lang, "ru" | "ru-RU") { NO_VOICEMAIL_RU } else { NO_VOICEMAIL_EN };
                verbs.push(say(text, lang, &links.voices));
                verbs.push(Verb::Redirect(Redirect { action_hook: links.recorded() }));
            }
            Action::Hangup => {
                flush(&mut verbs, &mut prompts, links);
                verbs.push(Verb::Hangup {});
            }
        }
    }
    flush(&mut verbs, &mut prompts, links);
    verbs
}

/// What a queued caller hears on each request of the `waitHook`: the engine's announcement,
/// then hold music if the deployment has some, else a pause (jambonz then asks again). An empty
/// answer would end the asking, so there is always one verb.
pub fn render_wait(actions: &[Action], links: &Links) -> Vec<Verb> {
    let mut verbs = Vec::new();
    let mut prompts: Vec<&Action> = actions
        .iter()
        .filter(|a| matches!(a, Action::Say { .. } | Action::Play { .. } | Action::Pause { .. }))
        .collect();
    flush(&mut verbs, &mut prompts, links);
    verbs.push(match &links.hold {
        Some(file) => Verb::Play(Play { url: links.sound(file) }),
        None => Verb::Pause { length: u64::from(links.pause_s.max(1)) },
    });
    verbs
}

/// An apology in `lang`, then the caller goes to a person: for when the flow cannot go on.
pub fn render_operator(lang: &str, route: &OperatorRoute, links: &Links) -> Vec<Verb> {
    let (text, lang) = words::operator(lang);
    vec![say(text, lang, &links.voices), to_person(route, links)]
}

/// Nothing to run and nowhere known to send the caller: an apology, then `hangup`.
pub fn render_apology(voices: &Voices) -> Vec<Verb> {
    let (text, lang) = words::apology();
    vec![say(text, lang, voices), Verb::Hangup {}]
}

/// A queue refused the caller: say so, then try `alternative`, else ask them to call back.
pub fn render_queue_failed(lang: &str, alternative: Option<&OperatorRoute>, links: &Links) -> Vec<Verb> {
    match alternative {
        Some(route) => {
            let (text, lang) = words::queue_full_alternative(lang);
            vec![say(text, lang, &links.voices), to_person(route, links)]
        }
        None => {
            let (text, lang) = words::queue_full(lang);
            vec![say(text, lang, &links.voices), Verb::Hangup {}]
        }
    }
}

/// Just `hangup`.
pub fn render_hangup() -> Vec<Verb> {
    vec![Verb::Hangup {}]
}

/// The verbs as the JSON text jambonz reads.
pub fn to_json(verbs: &[Verb]) -> String {
    serde_json::to_string(verbs).expect("verb structs hold only strings, numbers and bools")
}

/// The operator's queue keeps its `waitHook`: without a state token it serves hold music.
fn to_person(route: &OperatorRoute, links: &Links) -> Verb {
    match route {
        OperatorRoute::Queue(queue) => Verb::Enqueue(Enqueue {
            name: queue.clone(),
            action_hook: None,
            wait_hook: Some(links.wait()),
            priority: None,
        }),
        OperatorRoute::Dial(number) => Verb::Dial(Dial {
            target: vec![Target::Phone { number: number.clone() }],
            action_hook: None,
            timeout: None,
        }),
    }
}

/// The prompts before a gather: the last `Say` run (joined) and the last `Play` are nested in
/// it, so the caller can answer while they play; whatever cannot nest plays before it.
fn nest(verbs: &mut Vec<Verb>, prompts: &mut Vec<&Action>, links: &Links) -> (Option<Say>, Option<Play>) {
    let start = match prompts.last() {
        Some(Action::Play { .. }) => prompts.len() - 1,
        Some(Action::Say { lang: last, .. }) => {
            prompts.iter().rposition(|p| !matches!(p, Action::Say { lang, .. } if lang == last)).map_or(0, |i| i + 1)
        }
        _ => prompts.len(),
    };
    let nested: Vec<&Action> = prompts.drain(start..).collect();
    flush(verbs, prompts, links);
    match nested.first() {
        Some(Action::Play { file, .. }) => (None, Some(Play { url: links.sound(file) })),
        Some(Action::Say { lang, .. }) => {
            let text: Vec<&str> = nested
                .iter()
                .filter_map(|p| if let Action::Say { text, .. } = p { Some(&**text) } else { None })
                .collect();
            (Some(speech(&text.join(" "), lang, &links.voices)), None)
        }
        _ => (None, None),
    }
}

/// Prompts that no gather follows play as verbs of their own.
fn flush(verbs: &mut Vec<Verb>, prompts: &mut Vec<&Action>, links: &Links) {
    for prompt in prompts.drain(..) {
        match prompt {
            Action::Say { text, lang, .. } => verbs.push(say(text, lang, &links.voices)),
            Action::Play { file, .. } => verbs.push(Verb::Play(Play { url: links.sound(file) })),
            Action::Pause { ms } => verbs.push(Verb::Pause { length: seconds(*ms).max(1) }),
            _ => {}
        }
    }
}

fn say(text: &str, lang: &str, voices: &Voices) -> Verb {
    Verb::Say(speech(text, lang, voices))
}

/// `--voices jambonz:ru=google/ru-RU-Wavenet-A` names the vendor and its voice; a voice alone
/// is one of the application's default vendor.
fn speech(text: &str, lang: &str, voices: &Voices) -> Say {
    let (vendor, voice) = match voices.for_language(lang) {
        Some(named) => match named.split_once('/') {
            Some((vendor, voice)) => (vendor.to_owned(), Some(voice.to_owned())),
            None => ("default".to_owned(), Some(named.to_owned())),
        },
        None => ("default".to_owned(), None),
    };
    Say { text: text.to_owned(), synthesizer: Synthesizer { vendor, language: locale(lang).to_owned(), voice } }
}

/// The language of the call's prompts, for text this driver adds itself.
fn prompt_language(actions: &[Action]) -> &str {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Say { lang, .. } | Action::Play { lang, .. } => Some(&**lang),
            Action::Gather(g) => Some(&*g.lang),
            _ => None,
        })
        .unwrap_or("en")
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
    use crate::engine::Gather as EngineGather;

    use crate::providers::test_support::say as say_ru;

    fn links() -> Links {
        crate::providers::test_support::links("jambonz")
    }

    fn play(file: &str) -> Action {
        Action::Play { file: file.into(), text: None, lang: "ru".into(), duration_ms: Millis(500) }
    }

    fn gather(min: u8, max: u8, finish_key: Option<char>, speech: bool) -> Action {
        Action::Gather(EngineGather {
            min_digits: min,
            max_digits: max,
            finish_key,
            timeout_ms: Millis(5000),
            speech,
            hints: Arc::from(if speech { "оператор, жалоба" } else { "" }),
            lang: "ru".into(),
        })
    }

    fn json(verbs: &[Verb]) -> Value {
        serde_json::from_str(&to_json(verbs)).expect("valid JSON")
    }

    /// Only fields the provider documents, within its limits (see `schema`).
    fn assert_documented(doc: &Value) {
        let problems = crate::providers::jambonz::schema::problems(doc);
        assert!(problems.is_empty(), "{problems:#?}\n{doc:#}");
    }

    fn render_json(actions: &[Action]) -> Value {
        let doc = json(&render(actions, &links()));
        assert_documented(&doc);
        doc
    }

    #[test]
    fn menu_nests_its_prompts_in_the_gather() {
        let doc = render_json(&[say_ru("Главное меню."), say_ru("Нажмите 1."), gather(1, 1, None, true)]);
        assert_eq!(doc.as_array().map(Vec::len), Some(1), "{doc}");
        assert_eq!(doc[0]["say"]["text"], "Главное меню. Нажмите 1.");
        assert!(doc[0].get("finishOnKey").is_none(), "no finish key: `#` stays a menu option");
        insta::assert_json_snapshot!(doc);
    }

    #[test]
    fn input_with_finish_key_and_mixed_prompts() {
        let doc = render_json(&[
            play("intro.wav"),
            Action::Pause { ms: Millis(1500) },
            say_ru("Введите номер и нажмите решётку."),
            gather(3, 10, Some('#'), false),
        ]);
        assert_eq!(doc[0]["verb"], "play");
        assert_eq!(doc[1], serde_json::json!({"verb": "pause", "length": 2}));
        assert_eq!(doc[2]["finishOnKey"], "#");
        assert_eq!((&doc[2]["minDigits"], &doc[2]["maxDigits"]), (&Value::from(3), &Value::from(10)));
        insta::assert_json_snapshot!(doc);
        let played = render_json(&[say_ru("x"), play("menu.wav"), gather(1, 1, None, false)]);
        assert_eq!(
            (&played[0]["verb"], &played[1]["play"]["url"]),
            (&Value::from("say"), &links().sound("menu.wav").into())
        );
        let unlimited = render_json(&[gather(0, 0, Some('#'), false)]);
        assert!(unlimited[0].get("numDigits").is_none() && unlimited[0].get("maxDigits").is_none(), "{unlimited}");
    }

    #[test]
    fn every_other_action() {
        let enqueue = [say_ru("Все операторы заняты."), Action::Enqueue { queue: "first_line".into(), priority: 3 }];
        let dial = [Action::Dial { number: "+74950000000".into(), timeout_s: 30 }];
        let record = [
            say_ru("Оставьте сообщение."),
            Action::Record { mailbox: "support".into(), max_length_s: 120, finish_key: Some('#') },
        ];
        let hangup = [say_ru("До свидания."), Action::Hangup];
        let enqueue = render_json(&enqueue);
        assert_eq!(enqueue[1]["priority"], 252, "jambonz serves the lowest first");
        insta::assert_json_snapshot!("enqueue", enqueue);
        insta::assert_json_snapshot!("dial", render_json(&dial));
        insta::assert_json_snapshot!("record", render_json(&record));
        insta::assert_json_snapshot!("hangup", render_json(&hangup));
    }

    #[test]
    fn voices_name_the_vendor_or_take_the_applications() {
        let voices = Voices::parse("ru=google/ru-RU-Wavenet-A,en=en-US-Standard-C").expect("valid");
        let ru = speech("Привет", "ru", &voices).synthesizer;
        assert_eq!(
            (ru.vendor.as_str(), ru.voice.as_deref(), ru.language.as_str()),
            ("google", Some("ru-RU-Wavenet-A"), "ru-RU")
        );
        let en = speech("Hi", "en", &voices).synthesizer;
        assert_eq!((en.vendor.as_str(), en.voice.as_deref()), ("default", Some("en-US-Standard-C")));
        let de = speech("Hallo", "de", &voices).synthesizer;
        assert_eq!((de.vendor.as_str(), de.voice), ("default", None));
    }

    #[test]
    fn wait_and_fallbacks() {
        let links = links();
        let voices = Voices::parse("ru=ru-RU-Wavenet-A").expect("valid");
        let spoken = links.clone().with_voices(voices.clone());
        let music = links.clone().with_hold(Some("hold.wav".into()));
        let queue = OperatorRoute::Queue("first_line".into());
        let dial = OperatorRoute::Dial("+74950000000".into());
        let docs = [
            ("wait_pause", json(&render_wait(&[say_ru("Около 3 мин.")], &links))),
            ("wait_music", json(&render_wait(&[], &music))),
            ("operator", json(&render_operator("ru", &queue, &spoken))),
            ("operator_dial_en", json(&render_operator("en", &dial, &links))),
            ("apology", json(&render_apology(&Voices::default()))),
            ("queue_failed", json(&render_queue_failed("ru", Some(&dial), &spoken))),
            ("queue_failed_none", json(&render_queue_failed("en", None, &spoken))),
            ("hangup_only", json(&render_hangup())),
        ];
        for (name, doc) in docs {
            assert_documented(&doc);
            insta::assert_json_snapshot!(name, doc);
        }
        // A waitHook may answer only say, play, pause and leave, and never nothing.
        let no_pause = Links { pause_s: 0, ..links.clone() };
        for doc in [render_wait(&[], &no_pause), render_wait(&[say_ru("x"), Action::Hangup], &links)] {
            let doc = json(&doc);
            let verbs = doc.as_array().expect("array");
            assert!(!verbs.is_empty());
            assert!(
                verbs.iter().all(|v| ["say", "play", "pause", "leave"].contains(&v["verb"].as_str().unwrap_or("")))
            );
        }
    }

    fn action() -> impl proptest::strategy::Strategy<Value = Action> {
        use proptest::prelude::*;
        let text = "[a-zа-я <>&\"'0-9]{0,12}";
        prop_oneof![
            text.prop_map(|t| say_ru(&t)),
            text.prop_map(|t| Action::Say { text: t.into(), lang: "en".into(), duration_ms: Millis(1) }),
            text.prop_map(|t| play(&t)),
            (0u64..30_000).prop_map(|ms| Action::Pause { ms: Millis(ms) }),
            (0u8..5, 0u8..12, any::<bool>(), any::<bool>()).prop_map(|(min, max, hash, speech)| gather(
                min,
                max,
                hash.then_some('#'),
                speech
            )),
            text.prop_map(|q| Action::Enqueue { queue: q.into(), priority: 0 }),
            text.prop_map(|n| Action::Dial { number: n.into(), timeout_s: 30 }),
            Just(Action::Record { mailbox: "m".into(), max_length_s: 60, finish_key: None }),
            Just(Action::Hangup),
        ]
    }

    proptest::proptest! {
        /// Whatever the engine asks, the verbs have only documented properties, and every
        /// `Say` is spoken, in order, whole or joined into a gather's prompt.
        #[test]
        fn any_actions_make_valid_verbs(actions in proptest::collection::vec(action(), 0..8)) {
            let doc = render_json(&actions);
            let said: Vec<String> = doc.as_array().expect("array").iter().flat_map(|v| {
                let own = (v["verb"] == "say").then(|| v["text"].as_str().unwrap_or("").to_owned());
                let nested = v.get("say").map(|s| s["text"].as_str().unwrap_or("").to_owned());
                nested.into_iter().chain(own)
            }).collect();
            let driver_lines = [NO_VOICEMAIL_RU, NO_VOICEMAIL_EN];
            let said = said.into_iter().filter(|t| !driver_lines.contains(&t.as_str())).collect::<Vec<_>>().join(" ");
            let want: Vec<&str> = actions.iter().filter_map(|a| match a { Action::Say { text, .. } => Some(&**text), _ => None }).collect();
            proptest::prop_assert_eq!(said, want.join(" "));
        }
    }
}
