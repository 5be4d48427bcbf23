//! Engine actions as TwiML, the XML Twilio executes on a call. Pure: text in, text out.
//!
//! Escaping is quick-xml's job, never ours. What each verb does follows Twilio's reference:
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
//!   as `ru-RU`; flows name languages by their short code, mapped by [`twilio_language`].

use std::io::Cursor;
use std::sync::Arc;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::engine::{Action, Millis};

/// Where a TwiML answer points Twilio back to, one URL per callback kind. Every URL is absolute and carries the
/// call's new state token where it needs one.
#[derive(Clone, Debug)]
pub struct Links {
    /// Public base URL of the server (`https://ivr.example.com`), no trailing slash.
    pub base: String,
    /// `Gather` action: digits or speech.
    pub gather: String,
    /// Redirect after a `Gather` that ended in silence.
    pub silence: String,
    /// `Enqueue` wait URL.
    pub wait: String,
    /// `Enqueue` action: the caller left the queue.
    pub left: String,
    /// `Dial` action.
    pub dialed: String,
    /// `Record` action, and the redirect after an empty recording.
    pub recorded: String,
    /// Voices for `<Say>`.
    pub voices: Voices,
}

impl Links {
    /// The links of `flow` at `base` for a call whose state is `token`.
    pub fn new(base: &str, flow: &str, token: &str) -> Links {
        let at = |callback: &str| format!("{base}/twilio/{flow}/{callback}?t={token}");
        Links {
            base: base.to_owned(),
            gather: at("gather"),
            silence: at("silence"),
            wait: at("wait"),
            left: at("left"),
            dialed: at("dialed"),
            recorded: at("recorded"),
            voices: Voices::default(),
        }
    }

    /// The same links, with `<Say>` speaking in `voices`.
    pub fn with_voices(mut self, voices: Voices) -> Links {
        self.voices = voices;
        self
    }

    /// The URL Twilio fetches a prompt's sound from.
    pub fn sound(&self, file: &str) -> String {
        format!("{}/sounds/{}", self.base, percent_encode(file))
    }
}

/// The TwiML document for the engine's actions after one event.
pub fn render(actions: &[Action], links: &Links) -> String {
    let mut doc = Doc::new();
    let mut prompts: Vec<&Action> = Vec::new();
    for action in actions {
        match action {
            Action::Say { .. } | Action::Play { .. } | Action::Pause { .. } => prompts.push(action),
            Action::Gather(g) => {
                let timeout = seconds(g.timeout_ms).max(1).to_string();
                let num_digits = g.max_digits.to_string();
                let finish = g.finish_key.map(String::from).unwrap_or_default();
                let lang = twilio_language(&g.lang);
                let mut attrs: Vec<(&str, &str)> = vec![
                    ("action", &links.gather),
                    ("method", "POST"),
                    ("input", if g.speech { "dtmf speech" } else { "dtmf" }),
                    ("timeout", &timeout),
                    ("finishOnKey", &finish),
                ];
                if g.max_digits > 0 {
                    attrs.push(("numDigits", &num_digits));
                }
                if g.speech {
                    attrs.push(("language", lang));
                    if !g.hints.is_empty() {
                        attrs.push(("hints", &g.hints));
                    }
                }
                let nested = std::mem::take(&mut prompts);
                doc.with_prompts("Gather", &attrs, &nested, links);
                doc.text_element("Redirect", &[("method", "POST")], &links.silence);
            }
            Action::Enqueue { queue, .. } => {
                doc.flush(&mut prompts, links);
                let attrs = [
                    ("action", links.left.as_str()),
                    ("method", "POST"),
                    ("waitUrl", &links.wait),
                    ("waitUrlMethod", "POST"),
                ];
                doc.text_element("Enqueue", &attrs, queue);
            }
            Action::Dial { number, timeout_s } => {
                doc.flush(&mut prompts, links);
                let timeout = timeout_s.to_string();
                doc.text_element(
                    "Dial",
                    &[("action", &links.dialed), ("method", "POST"), ("timeout", &timeout)],
                    number,
                );
            }
            Action::Record { max_length_s, finish_key, .. } => {
                doc.flush(&mut prompts, links);
                let max_length = max_length_s.to_string();
                let finish = finish_key.map(String::from);
                let mut attrs = vec![
                    ("action", links.recorded.as_str()),
                    ("method", "POST"),
                    ("maxLength", &max_length),
                    ("playBeep", "true"),
                ];
                // Without a finish key Twilio's default applies: any key ends the recording.
                if let Some(finish) = &finish {
                    attrs.push(("finishOnKey", finish));
                }
                doc.empty_element("Record", &attrs);
                doc.text_element("Redirect", &[("method", "POST")], &links.recorded);
            }
            Action::Hangup => {
                doc.flush(&mut prompts, links);
                doc.empty_element("Hangup", &[]);
            }
        }
    }
    doc.flush(&mut prompts, links);
    doc.finish()
}

/// What a queued caller hears on each request of the wait URL: the engine's announcement,
/// then hold music if `hold` names a file, else a pause (Twilio then asks again).
///
/// Twilio allows only `<Play>`, `<Say>`, `<Pause>`, `<Hangup>`, `<Redirect>`, `<Leave>` and
/// `<Gather>` in waitUrl TwiML (<https://www.twilio.com/docs/voice/twiml/enqueue>, "waitUrl");
/// this writes only the first three.
pub fn render_wait(actions: &[Action], hold: Option<&str>, pause_s: u32, links: &Links) -> String {
    let mut doc = Doc::new();
    for action in actions {
        if matches!(action, Action::Say { .. } | Action::Play { .. } | Action::Pause { .. }) {
            doc.prompt(action, links);
        }
    }
    match hold {
        Some(file) => doc.text_element("Play", &[], &links.sound(file)),
        None => doc.empty_element("Pause", &[("length", &pause_s.to_string())]),
    }
    doc.finish()
}

/// An apology in `lang`, then the caller goes to a person: for when the flow cannot go on.
pub fn render_operator(lang: &str, route: &OperatorRoute, voices: &Voices) -> String {
    let mut doc = Doc::new();
    let (text, lang) = match lang {
        "ru" | "ru-RU" => ("Извините, произошла техническая ошибка. Соединяю с оператором.", "ru"),
        _ => ("Sorry, something went wrong on our side. Connecting you to an operator.", "en"),
    };
    say(&mut doc.writer, text, lang, voices);
    match route {
        OperatorRoute::Queue(queue) => doc.text_element("Enqueue", &[], queue),
        OperatorRoute::Dial(number) => doc.text_element("Dial", &[], number),
    }
    doc.finish()
}

/// Nothing to run and nowhere known to send the caller: an apology, then `<Hangup>`. For the
/// Fallback URL when the failed request named no loaded flow, so no language is known either.
pub fn render_apology(voices: &Voices) -> String {
    let mut doc = Doc::new();
    say(&mut doc.writer, "Sorry, something went wrong on our side. Please call again later.", "en", voices);
    doc.empty_element("Hangup", &[]);
    doc.finish()
}

/// A queue refused the caller (full, or an error): say so, then try `alternative` (another
/// way to a person), else ask them to call back and hang up.
pub fn render_queue_failed(lang: &str, alternative: Option<&OperatorRoute>, voices: &Voices) -> String {
    let mut doc = Doc::new();
    let ru = matches!(lang, "ru" | "ru-RU");
    match alternative {
        Some(route) => {
            let text = if ru {
                "Извините, эта линия сейчас переполнена. Соединяю с другим оператором."
            } else {
                "Sorry, this line is full right now. Connecting you to another operator."
            };
            say(&mut doc.writer, text, if ru { "ru" } else { "en" }, voices);
            match route {
                OperatorRoute::Queue(queue) => doc.text_element("Enqueue", &[], queue),
                OperatorRoute::Dial(number) => doc.text_element("Dial", &[], number),
            }
        }
        None => {
            let text = if ru {
                "Извините, все линии сейчас переполнены. Пожалуйста, перезвоните позже."
            } else {
                "Sorry, all our lines are full right now. Please call again later."
            };
            say(&mut doc.writer, text, if ru { "ru" } else { "en" }, voices);
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

/// How a caller reaches a person when the engine cannot take them there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperatorRoute {
    Queue(String),
    Dial(String),
}

/// Twilio voices by language. Twilio's default voice does not speak every language
/// (<https://www.twilio.com/docs/voice/twiml/say/text-speech>), so a deployment names one, e.g.
/// `ru=Polly.Tatyana,en=Polly.Joanna`; languages not listed get Twilio's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Voices(Arc<[(String, String)]>);

impl Voices {
    /// Reads `lang=Voice` pairs separated by commas.
    pub fn parse(spec: &str) -> Result<Voices, String> {
        let mut pairs = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let Some((lang, voice)) = item.split_once('=') else {
                return Err(format!("`{item}` is not LANG=VOICE (e.g. ru=Polly.Tatyana)"));
            };
            pairs.push((lang.trim().to_owned(), voice.trim().to_owned()));
        }
        Ok(Voices(pairs.into()))
    }

    /// The voice for a language, named by its short or full code.
    pub fn for_language(&self, lang: &str) -> Option<&str> {
        if self.0.is_empty() {
            return None; // the usual case, asked on every `<Say>`
        }
        let full = twilio_language(lang);
        self.0
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(lang) || twilio_language(l).eq_ignore_ascii_case(full))
            .map(|(_, v)| v.as_str())
    }
}

/// Twilio's locale for a flow's language code: `ru` → `ru-RU`; a full code passes through.
/// No allocation: it runs for every `<Say>` and `<Gather>` of every answer.
pub fn twilio_language(code: &str) -> &str {
    const LOCALES: [(&str, &str); 11] = [
        ("ru", "ru-RU"),
        ("en", "en-US"),
        ("uk", "uk-UA"),
        ("de", "de-DE"),
        ("fr", "fr-FR"),
        ("es", "es-ES"),
        ("it", "it-IT"),
        ("pt", "pt-BR"),
        ("pl", "pl-PL"),
        ("tr", "tr-TR"),
        ("kk", "kk-KZ"),
    ];
    LOCALES.iter().find(|(short, _)| short.eq_ignore_ascii_case(code)).map_or(code, |(_, full)| *full)
}

/// Milliseconds as whole seconds, rounded up: Twilio's `timeout` and `length` are integers and
/// a caller should never get less time than the flow promises.
fn seconds(ms: Millis) -> u64 {
    ms.0.div_ceil(1000)
}

/// Percent-encodes a URL path segment (everything but RFC 3986 unreserved characters).
fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A TwiML `<Response>` being written.
struct Doc {
    writer: Writer<Cursor<Vec<u8>>>,
}

// Writing into a Vec cannot fail, so the io::Results below are invariants, not request errors.
const IN_MEMORY: &str = "writing XML into memory cannot fail";

type Xml = Writer<Cursor<Vec<u8>>>;

impl Doc {
    fn new() -> Doc {
        let mut writer = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).expect(IN_MEMORY);
        writer.write_event(Event::Start(BytesStart::new("Response"))).expect(IN_MEMORY);
        Doc { writer }
    }

    fn finish(mut self) -> String {
        self.writer.write_event(Event::End(BytesEnd::new("Response"))).expect(IN_MEMORY);
        String::from_utf8(self.writer.into_inner().into_inner()).expect("quick-xml writes the UTF-8 it is given")
    }

    /// An element whose children are prompts (only `<Gather>` has any).
    fn with_prompts(&mut self, name: &str, attrs: &[(&str, &str)], prompts: &[&Action], links: &Links) {
        self.writer
            .create_element(name)
            .with_attributes(attrs.iter().copied())
            .write_inner_content(|w| {
                for p in prompts {
                    prompt(w, p, links);
                }
                Ok(())
            })
            .expect(IN_MEMORY);
    }

    fn empty_element(&mut self, name: &str, attrs: &[(&str, &str)]) {
        empty_element(&mut self.writer, name, attrs);
    }

    fn text_element(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        text_element(&mut self.writer, name, attrs, text);
    }

    fn prompt(&mut self, action: &Action, links: &Links) {
        prompt(&mut self.writer, action, links);
    }

    /// Prompts that no gather follows are played on their own.
    fn flush(&mut self, prompts: &mut Vec<&Action>, links: &Links) {
        for p in prompts.drain(..) {
            self.prompt(p, links);
        }
    }
}

fn empty_element(w: &mut Xml, name: &str, attrs: &[(&str, &str)]) {
    w.create_element(name).with_attributes(attrs.iter().copied()).write_empty().expect(IN_MEMORY);
}

fn text_element(w: &mut Xml, name: &str, attrs: &[(&str, &str)], text: &str) {
    w.create_element(name)
        .with_attributes(attrs.iter().copied())
        .write_text_content(BytesText::new(&xml_chars(text)))
        .expect(IN_MEMORY);
}

fn say(w: &mut Xml, text: &str, lang: &str, voices: &Voices) {
    let code = twilio_language(lang);
    let mut attrs = vec![("language", code)];
    if let Some(voice) = voices.for_language(lang) {
        attrs.push(("voice", voice));
    }
    text_element(w, "Say", &attrs, text);
}

/// `text` without the control characters XML 1.0 forbids even escaped. Escaping cannot make
/// them legal, and text can carry caller data (`{caller}` comes from Twilio's `From`).
fn xml_chars(text: &str) -> std::borrow::Cow<'_, str> {
    let allowed = |c: char| !c.is_control() || matches!(c, '\t' | '\n' | '\r') || u32::from(c) >= 0x7f;
    if text.chars().all(allowed) { text.into() } else { text.chars().filter(|&c| allowed(c)).collect() }
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
    use crate::engine::Gather;

    fn links() -> Links {
        Links::new("https://ivr.example.com", "support", "TOKEN")
    }

    fn say(text: &str) -> Action {
        Action::Say { text: text.into(), lang: "ru".into(), duration_ms: Millis(1000) }
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
        insta::assert_snapshot!(render(&actions, &links()));
    }

    #[test]
    fn input_with_finish_key() {
        let actions = [say("Введите номер и нажмите решётку."), gather(10, Some('#'), false)];
        insta::assert_snapshot!(render(&actions, &links()));
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
        insta::assert_snapshot!("enqueue", render(&enqueue, &links()));
        insta::assert_snapshot!("dial", render(&dial, &links()));
        insta::assert_snapshot!("record", render(&record, &links()));
        insta::assert_snapshot!("hangup", render(&hangup, &links()));
    }

    #[test]
    fn wait_and_operator() {
        insta::assert_snapshot!("wait_pause", render_wait(&[say("Около 3 мин.")], None, 20, &links()));
        insta::assert_snapshot!("wait_music", render_wait(&[], Some("hold.wav"), 20, &links()));
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
        let xml = render(&[say("Привет")], &links);
        assert!(xml.contains(r#"<Say language="ru-RU" voice="Polly.Tatyana">Привет</Say>"#), "{xml}");
    }

    #[test]
    fn languages_map_to_twilio_locales() {
        for (code, want) in [("ru", "ru-RU"), ("en", "en-US"), ("EN", "en-US"), ("en-GB", "en-GB"), ("xx", "xx")] {
            assert_eq!(twilio_language(code), want, "{code}");
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
            let xml = render(&actions, &links());
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
