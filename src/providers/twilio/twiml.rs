//! Engine actions as TwiML, the XML Twilio executes on a call, and its dialects: SignalWire's
//! cXML (the same document) and Telnyx's TeXML ([`Dialect`]). Pure: text in, text out.
//!
//! What each verb does follows Twilio's reference:
//! - `<Gather>` (<https://www.twilio.com/docs/voice/twiml/gather>): only `<Say>`, `<Play>` and
//!   `<Pause>` may nest in it. When it ends without input Twilio calls no action and falls
//!   through to the next verb, hanging up if there is none, so every gather is followed by a
//!   `<Redirect>` to the no-input callback: that is how a silent caller reaches
//!   `Event::NoInput` and gets re-prompts and the timeout fallback. We leave
//!   `actionOnEmptyResult` at its default (`false`) for the same reason: with it, the redirect
//!   would never run and silence would look like an empty entry.
//! - Twilio strips the `finishOnKey` from `Digits`; the default finish key is `#`, so menus set
//!   `finishOnKey=""` to let `#` be an option (go back) rather than end the gather empty.
//! - `<Enqueue waitUrl>` (<https://www.twilio.com/docs/voice/twiml/enqueue>): the wait URL is
//!   requested again each time its document ends, with `QueuePosition` and `AvgQueueTime`. Its
//!   `action` is requested when the caller leaves the queue, with `QueueResult`; without one a
//!   caller refused by a full queue would fall off the end of the document and be hung up.
//! - `<Dial action>` (<https://www.twilio.com/docs/voice/twiml/dial>) posts `DialCallStatus`;
//!   `<Record action>` (<https://www.twilio.com/docs/voice/twiml/record>) posts the recording,
//!   and an empty recording falls through to the next verb, so a `<Redirect>` follows it too.
//! - `<Say language>` (<https://www.twilio.com/docs/voice/twiml/say>) takes a BCP-47 locale such
//!   as `ru-RU`; flows name languages by their short code, mapped by [`locale`].

use crate::engine::{Action, Gather};
use crate::providers::xml::{Doc, Xml, empty_element, seconds, text_element};
use crate::providers::{Links, OperatorRoute, Voices, locale, words};

/// Where a TwiML-like dialect departs from Twilio's TwiML.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dialect {
    /// Whether `<Gather>` takes `method` (Telnyx: no, its action uses the TeXML application's
    /// method).
    pub gather_method: bool,
    /// Whether `<Gather timeout>` is the gap between digits and the digit count is bounded by
    /// `minDigits`/`maxDigits` (Telnyx) rather than Twilio's whole-input `numDigits`.
    pub digit_bounds: bool,
    /// Whether `<Pause>` may nest in `<Gather>` (Telnyx: only `<Say>` and `<Play>`).
    pub pause_in_gather: bool,
}

/// Twilio's TwiML, and SignalWire's cXML, which is the same document.
pub const TWIML: Dialect = Dialect { gather_method: true, digit_bounds: false, pause_in_gather: true };

/// The TwiML document for the engine's actions after one event.
pub fn render(actions: &[Action], links: &Links, dialect: Dialect) -> String {
    let mut doc = Doc::new();
    let mut prompts: Vec<&Action> = Vec::new();
    for action in actions {
        match action {
            Action::Say { .. } | Action::Play { .. } | Action::Pause { .. } => prompts.push(action),
            Action::Gather(g) => {
                let mut nested = std::mem::take(&mut prompts);
                if !dialect.pause_in_gather {
                    // Everything up to the last pause plays before the gather, in order.
                    let cut = nested.iter().rposition(|a| matches!(a, Action::Pause { .. })).map_or(0, |i| i + 1);
                    for p in nested.drain(..cut) {
                        prompt(&mut doc.writer, p, links);
                    }
                }
                gather(&mut doc, g, &nested, links, dialect);
                redirect(&mut doc, &links.silence());
            }
            Action::Enqueue { queue, .. } => {
                flush(&mut doc, &mut prompts, links);
                let (left, wait) = (links.left(), links.wait());
                let attrs =
                    [("action", left.as_str()), ("method", "POST"), ("waitUrl", &wait), ("waitUrlMethod", "POST")];
                doc.text_element("Enqueue", &attrs, queue);
            }
            Action::Dial { number, timeout_s } => {
                flush(&mut doc, &mut prompts, links);
                let timeout = timeout_s.to_string();
                let dialed = links.dialed();
                let attrs = [("action", dialed.as_str()), ("method", "POST"), ("timeout", &timeout)];
                doc.text_element("Dial", &attrs, number);
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
                // Without a finish key the provider's default applies: any key ends the recording.
                if let Some(finish) = &finish {
                    attrs.push(("finishOnKey", finish));
                }
                doc.empty_element("Record", &attrs);
                redirect(&mut doc, &recorded);
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

fn gather(doc: &mut Doc, g: &Gather, nested: &[&Action], links: &Links, dialect: Dialect) {
    let timeout = seconds(g.timeout_ms).max(1).to_string();
    let min_digits = g.min_digits.max(1).to_string();
    let max_digits = g.max_digits.to_string();
    let finish = g.finish_key.map(String::from).unwrap_or_default();
    let action = links.gather();
    let mut attrs: Vec<(&str, &str)> = vec![("action", &action)];
    if dialect.gather_method {
        attrs.push(("method", "POST"));
    }
    attrs.extend([
        ("input", if g.speech { "dtmf speech" } else { "dtmf" }),
        ("timeout", &timeout),
        ("finishOnKey", &finish),
    ]);
    if g.max_digits > 0 {
        if dialect.digit_bounds {
            attrs.push(("minDigits", &min_digits));
            attrs.push(("maxDigits", &max_digits));
        } else {
            attrs.push(("numDigits", &max_digits));
        }
    }
    if g.speech {
        attrs.push(("language", locale(&g.lang)));
        if !g.hints.is_empty() {
            attrs.push(("hints", &g.hints));
        }
    }
    with_prompts(doc, "Gather", &attrs, nested, links);
}

fn redirect(doc: &mut Doc, url: &str) {
    doc.text_element("Redirect", &[("method", "POST")], url);
}

/// What a queued caller hears on each request of the wait URL: the engine's announcement,
/// then hold music if `links.hold` names a file, else a pause (the provider then asks again).
///
/// Twilio allows only `<Play>`, `<Say>`, `<Pause>`, `<Hangup>`, `<Redirect>`, `<Leave>` and
/// `<Gather>` in waitUrl TwiML (<https://www.twilio.com/docs/voice/twiml/enqueue>, "waitUrl");
/// this writes only the first three.
pub fn render_wait(actions: &[Action], links: &Links) -> String {
    let mut doc = Doc::new();
    for action in actions {
        if matches!(action, Action::Say { .. } | Action::Play { .. } | Action::Pause { .. }) {
            prompt(&mut doc.writer, action, links);
        }
    }
    match &links.hold {
        Some(file) => doc.text_element("Play", &[], &links.sound(file)),
        None => doc.empty_element("Pause", &[("length", &links.pause_s.to_string())]),
    }
    doc.finish()
}

/// An apology in `lang`, then the caller goes to a person: for when the flow cannot go on.
pub fn render_operator(lang: &str, route: &OperatorRoute, voices: &Voices) -> String {
    let mut doc = Doc::new();
    let (text, lang) = words::operator(lang);
    say(&mut doc.writer, text, lang, voices);
    to_person(&mut doc, route);
    doc.finish()
}

/// Nothing to run and nowhere known to send the caller: an apology, then `<Hangup>`. For the
/// Fallback URL when the failed request named no loaded flow, so no language is known either.
pub fn render_apology(voices: &Voices) -> String {
    let mut doc = Doc::new();
    let (text, lang) = words::apology();
    say(&mut doc.writer, text, lang, voices);
    doc.empty_element("Hangup", &[]);
    doc.finish()
}

/// A queue refused the caller (full, or an error): say so, then try `alternative` (another
/// way to a person), else ask them to call back and hang up.
pub fn render_queue_failed(lang: &str, alternative: Option<&OperatorRoute>, voices: &Voices) -> String {
    let mut doc = Doc::new();
    match alternative {
        Some(route) => {
            let (text, lang) = words::queue_full_alternative(lang);
            say(&mut doc.writer, text, lang, voices);
            to_person(&mut doc, route);
        }
        None => {
            let (text, lang) = words::queue_full(lang);
            say(&mut doc.writer, text, lang, voices);
            doc.empty_element("Hangup", &[]);
        }
    }
    doc.finish()
}

/// Just `<Hangup/>`.
pub fn render_hangup() -> String {
    let mut doc = Doc::new();
    doc.empty_element("Hangup", &[]);
    doc.finish()
}

/// An empty document: Twilio ends the call (used to answer status callbacks).
pub fn render_empty() -> String {
    Doc::new().finish()
}

/// An element whose children are prompts (only `<Gather>` has any).
fn with_prompts(doc: &mut Doc, name: &str, attrs: &[(&str, &str)], prompts: &[&Action], links: &Links) {
    doc.parent(name, attrs, |w| {
        for p in prompts {
            prompt(w, p, links);
        }
    });
}

/// The caller goes to a person: a queue, or a number.
fn to_person(doc: &mut Doc, route: &OperatorRoute) {
    match route {
        OperatorRoute::Queue(queue) => doc.text_element("Enqueue", &[], queue),
        OperatorRoute::Dial(number) => doc.text_element("Dial", &[], number),
    }
}

/// Prompts that no gather follows are played on their own.
fn flush(doc: &mut Doc, prompts: &mut Vec<&Action>, links: &Links) {
    for p in prompts.drain(..) {
        prompt(&mut doc.writer, p, links);
    }
}

fn say(w: &mut Xml, text: &str, lang: &str, voices: &Voices) {
    let code = locale(lang);
    let mut attrs = vec![("language", code)];
    if let Some(voice) = voices.for_language(lang) {
        attrs.push(("voice", voice));
    }
    text_element(w, "Say", &attrs, text);
}

/// `<Say>`, `<Play>` or `<Pause>`: the verbs that may nest in a `<Gather>`.
fn prompt(w: &mut Xml, action: &Action, links: &Links) {
    match action {
        Action::Say { text, lang, .. } => say(w, text, lang, &links.voices),
        Action::Play { file, .. } => text_element(w, "Play", &[], &links.sound(file)),
        Action::Pause { ms } => empty_element(w, "Pause", &[("length", &seconds(*ms).max(1).to_string())]),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use quick_xml::events::Event;

    use crate::engine::{Gather, Millis};

    use crate::providers::test_support::say;

    fn links() -> Links {
        crate::providers::test_support::links("twilio")
    }

    fn gather(max_digits: u8, finish_key: Option<char>, speech: bool) -> Action {
        Action::Gather(Gather {
            min_digits: 1,
            max_digits,
            finish_key,
            timeout_ms: Millis(5000),
            speech,
            hints: Arc::from(if speech { "оператор, жалоба" } else { "" }),
            lang: "ru".into(),
        })
    }

    #[test]
    fn menu_nests_prompts_in_gather_and_redirects_on_silence() {
        let actions = [say("Главное меню. Нажмите 1 & <2>."), gather(1, None, true)];
        insta::assert_snapshot!(render(&actions, &links(), TWIML));
    }

    #[test]
    fn telnyx_bounds_digits_drops_the_gather_method_and_plays_pauses_first() {
        let actions =
            [say("Нажмите 1."), Action::Pause { ms: Millis(500) }, say("Или 2."), gather(10, Some('#'), false)];
        insta::assert_snapshot!(render(&actions, &links(), crate::providers::telnyx::DIALECT));
    }

    #[test]
    fn input_with_finish_key() {
        let actions = [say("Введите номер и нажмите решётку."), gather(10, Some('#'), false)];
        insta::assert_snapshot!(render(&actions, &links(), TWIML));
    }

    #[test]
    fn handovers() {
        let enqueue = [say("Все операторы заняты."), Action::Enqueue { queue: "first_line".into(), priority: 0 }];
        let dial = [Action::Dial { number: "+74950000000".into(), timeout_s: 30 }];
        let record = [
            Action::Play { file: "beep me.wav".into(), text: None, lang: "en".into(), duration_ms: Millis(500) },
            Action::Record { mailbox: "support".into(), max_length_s: 120, finish_key: Some('#') },
        ];
        let hangup = [say("До свидания."), Action::Hangup];
        insta::assert_snapshot!("enqueue", render(&enqueue, &links(), TWIML));
        insta::assert_snapshot!("dial", render(&dial, &links(), TWIML));
        insta::assert_snapshot!("record", render(&record, &links(), TWIML));
        insta::assert_snapshot!("hangup", render(&hangup, &links(), TWIML));
    }

    #[test]
    fn wait_and_operator() {
        insta::assert_snapshot!("wait_pause", render_wait(&[say("Около 3 мин.")], &Links { pause_s: 20, ..links() }));
        insta::assert_snapshot!("wait_music", render_wait(&[], &links().with_hold(Some("hold.wav".into()))));
        let voices = Voices::parse("ru=Polly.Tatyana").expect("valid");
        let route = OperatorRoute::Queue("first_line".into());
        insta::assert_snapshot!("operator", render_operator("ru", &route, &voices));
        insta::assert_snapshot!("operator_en", render_operator("en", &route, &Voices::default()));
        insta::assert_snapshot!("queue_failed", render_queue_failed("ru", Some(&route), &Voices::default()));
        insta::assert_snapshot!("queue_failed_en", render_queue_failed("en", None, &Voices::default()));
    }

    #[test]
    fn voices_by_language() {
        let voices = Voices::parse("ru=Polly.Tatyana, en-GB=Polly.Amy").expect("valid");
        assert_eq!(voices.for_language("ru"), Some("Polly.Tatyana"));
        assert_eq!(voices.for_language("ru-RU"), Some("Polly.Tatyana"));
        assert_eq!(voices.for_language("en-GB"), Some("Polly.Amy"));
        assert_eq!(voices.for_language("en"), None);
        assert!(Voices::parse("Polly.Tatyana").is_err());
        let links = links().with_voices(voices);
        let xml = render(&[say("Привет")], &links, TWIML);
        assert!(xml.contains(r#"<Say language="ru-RU" voice="Polly.Tatyana">Привет</Say>"#), "{xml}");
    }

    #[test]
    fn languages_map_to_twilio_locales() {
        for (code, want) in [
            ("ru", "ru-RU"),
            ("en", "en-US"),
            ("EN", "en-US"),
            ("en-GB", "en-GB"),
            ("sv", "sv-SE"),
            ("no", "nb-NO"),
            ("xx", "xx"),
        ] {
            assert_eq!(locale(code), want, "{code}");
        }
    }

    fn action() -> impl proptest::strategy::Strategy<Value = Action> {
        use proptest::prelude::*;
        let text = "[a-zа-я <>&\"'0-9\u{1}\u{b}]{0,12}";
        prop_oneof![
            text.prop_map(|t| say(&t)),
            text.prop_map(|t| Action::Play { file: t.into(), text: None, lang: "en".into(), duration_ms: Millis(1) }),
            (0u64..10_000).prop_map(|ms| Action::Pause { ms: Millis(ms) }),
            (1u8..12, any::<bool>(), any::<bool>()).prop_map(|(n, hash, speech)| gather(
                n,
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
        /// Whatever the engine asks, the TwiML is well-formed, every prompt is said with its
        /// text intact, and a <Gather> holds only <Say>, <Play> and <Pause>.
        #[test]
        fn any_actions_make_valid_twiml(actions in proptest::collection::vec(action(), 0..8)) {
            let xml = render(&actions, &links(), TWIML);
            let mut reader = quick_xml::Reader::from_str(&xml);
            reader.config_mut().check_end_names = true;
            let (mut stack, mut said) = (Vec::<String>::new(), Vec::<String>::new());
            loop {
                let event = reader.read_event().unwrap_or_else(|e| panic!("malformed ({e}):\n{xml}"));
                match event {
                    Event::Eof => break,
                    Event::Start(ref e) | Event::Empty(ref e) if stack.last().is_some_and(|p| p == "Gather") => {
                        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                        assert!(["Say", "Play", "Pause"].contains(&name.as_str()), "<{name}> in <Gather>:\n{xml}");
                        if matches!(event, Event::Start(_)) {
                            if name == "Say" {
                                said.push(String::new());
                            }
                            stack.push(name);
                        }
                    }
                    Event::Start(e) => {
                        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                        if name == "Say" {
                            said.push(String::new());
                        }
                        stack.push(name);
                    }
                    Event::End(_) => {
                        stack.pop();
                    }
                    // quick-xml reports text and entity references as separate events.
                    Event::Text(t) if stack.last().is_some_and(|p| p == "Say") => {
                        said.last_mut().expect("inside a Say").push_str(&t.decode().expect("utf-8"));
                    }
                    Event::GeneralRef(r) if stack.last().is_some_and(|p| p == "Say") => {
                        let text = match r.resolve_char_ref().expect("a valid reference") {
                            Some(c) => c.to_string(),
                            None => quick_xml::escape::resolve_predefined_entity(&r.decode().expect("utf-8"))
                                .expect("a predefined entity")
                                .to_owned(),
                        };
                        said.last_mut().expect("inside a Say").push_str(&text);
                    }
                    _ => {}
                }
            }
            assert!(stack.is_empty(), "unclosed:\n{xml}");
            let want: Vec<String> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::Say { text, .. } => Some(text.replace(['\u{1}', '\u{b}'], "")),
                    _ => None,
                })
                .collect();
            said.retain(|t| !t.is_empty());
            let want: Vec<String> = want.into_iter().filter(|t| !t.is_empty()).collect();
            proptest::prop_assert_eq!(said, want, "{}", xml);
        }
    }
}
