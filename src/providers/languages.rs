//! Which languages each provider's text-to-speech speaks. For `switchboard check`, a prompt
//! spoken (not played from a file) in a language a provider cannot speak with any voice is a
//! warning naming the provider and the language, at the prompt's text. Where the voice decides
//! the language (Telnyx), `serve` warns at start about a flow language of an enabled provider
//! that `--voices` names no voice for.
//!
//! The tables hold primary language subtags (`ru`, `kk`), compared with the flow's language
//! codes (`ru` or `ru-RU`). Sources, each provider's documentation:
//! - Amazon Polly's languages (<https://docs.aws.amazon.com/polly/latest/dg/supported-languages.html>):
//!   Plivo's `<Speak>` voices are Polly's;
//! - Twilio's `<Say>` takes Polly and Google voices
//!   (<https://www.twilio.com/docs/voice/twiml/say/text-speech>), with a default voice per
//!   language set in the console; SignalWire's cXML `<Say>` the same;
//! - Vonage's `talk` languages: the `TTSLanguages` of Vonage's Node SDK (`@vonage/voice`);
//! - Telnyx's TeXML `<Say>`: the default voices `man` and `woman` speak en-US only; another
//!   language needs a voice (`alice`, `Polly.…`, `Azure.…`), which then decides the language
//!   (<https://developers.telnyx.com/docs/voice/programmable-voice/texml-verbs/say>): named in
//!   `--voices`, else the Polly voice of [`TELNYX_VOICES`];
//! - jambonz speaks with the speech vendor the application configures, so nothing is known here.
//!
//! Speech recognition likewise: a menu that listens for speech in a language a provider's
//! recogniser does not know is a warning at the menu, naming the provider and the language.
//! - Twilio's `<Gather language>`: the values its Node library's TwiML types accept
//!   (`GatherLanguage`, generated from Twilio's API definition; `twilio-node`
//!   `src/twiml/VoiceResponse.ts`); SignalWire's cXML `<Gather>` takes Twilio's values.
//! - Vonage's `input.speech.language`: the "Supported languages" table of "Speech Recognition
//!   (ASR)" (<https://developer.vonage.com/voice/voice-api/guides/asr>), as Vonage's Java SDK
//!   transcribes it (`com.vonage.client.voice.ncco.Language`).
//! - Telnyx's TeXML `<Gather language>`: "See RESTful API documentation for supported values"
//!   (<https://developers.telnyx.com/docs/voice/programmable-voice/texml-verbs/gather>), which
//!   points at the `language` of the Speak Text command
//!   (<https://developers.telnyx.com/api-reference/call-commands/speak-text>; the enum of the
//!   Telnyx SDKs' `ActionSpeakParams`). Telnyx's transcription engines know more languages,
//!   but `<Gather>` documents only these.
//! - Plivo's `<GetInput language>` (<https://www.plivo.com/docs/voice/xml/input>) lists only
//!   "common languages" (en-US, en-GB, en-AU, es-US, es-ES, fr-FR, de-DE, it-IT, pt-BR, ja-JP,
//!   zh-CN), not all it recognises: a language off that list may work, so Plivo is not judged.
//! - jambonz recognises with the application's vendor: not judged.
//!
//! Twilio's table stays keyed by primary subtag, as before. Vonage's and Telnyx's lists are
//! short per language and name each region apart (Vonage has `de-DE` but no `de-AT`, Telnyx
//! `pt-BR` and `pt-PT` but one German), so a primary subtag would claim `de-AT` for them: their
//! tables hold the full tags and are compared with the tag the adapter sends
//! ([`super::locale`]: `ru` goes out as `ru-RU`, `de-AT` as itself).

use std::collections::BTreeSet;

use crate::engine::check::prompts;
use crate::engine::{Diagnostic, Flow};

use super::{ADAPTERS, VoiceTable};

/// What a provider's text-to-speech speaks.
#[derive(Clone, Copy, Debug)]
pub enum Speaks {
    /// These languages, whichever of its voices is named.
    Table(&'static [&'static str]),
    /// These languages with the default voice; any other only with a voice named in
    /// `--voices` (which then decides the language).
    DefaultOnly(&'static [&'static str]),
    /// Whatever the deployment's speech vendor speaks: nothing to check.
    Vendor,
}

/// Amazon Polly.
pub const POLLY: &[&str] = &[
    "ar", "ca", "cmn", "cs", "cy", "da", "de", "en", "es", "fi", "fr", "hi", "is", "it", "ja", "ko", "nb", "nl", "no",
    "pl", "pt", "ro", "ru", "sv", "tr", "yue", "zh",
];

/// Twilio's and SignalWire's `<Say>`: Polly's languages and Google's.
pub const POLLY_GOOGLE: &[&str] = &[
    "af", "ar", "bg", "bn", "ca", "cmn", "cs", "cy", "da", "de", "el", "en", "es", "eu", "fi", "fil", "fr", "gl", "gu",
    "he", "hi", "hu", "id", "is", "it", "ja", "kn", "ko", "lt", "lv", "ml", "mr", "ms", "nb", "nl", "no", "pa", "pl",
    "pt", "ro", "ru", "sk", "sr", "sv", "ta", "te", "th", "tr", "uk", "vi", "yue", "zh",
];

/// Vonage's `talk`.
pub const VONAGE: &[&str] = &[
    "af", "ar", "bg", "bn", "ca", "cmn", "cs", "cy", "da", "de", "el", "en", "es", "eu", "fi", "fil", "fr", "he", "hi",
    "hu", "id", "is", "it", "ja", "ko", "nb", "nl", "no", "pl", "pt", "ro", "ru", "sk", "sv", "th", "tr", "uk", "vi",
    "yue", "zh",
];

/// Telnyx's default voices.
pub const ENGLISH: &[&str] = &["en"];

/// The voice Telnyx speaks a language in when `--voices` names none, by primary subtag: the
/// default voices `man` and `woman` speak en-US only, and TeXML's `<Say voice>` takes Amazon
/// Polly's voices as `Polly.VoiceId`
/// (<https://developers.telnyx.com/docs/voice/programmable-voice/texml-verbs/say>). One
/// standard Polly voice per language Polly speaks
/// (<https://docs.aws.amazon.com/polly/latest/dg/available-voices.html>); the voice decides
/// the accent (Portuguese is Brazilian, Spanish European).
pub const TELNYX_VOICES: &[(&str, &str)] = &[
    ("ar", "Polly.Zeina"),
    ("cmn", "Polly.Zhiyu"),
    ("cy", "Polly.Gwyneth"),
    ("da", "Polly.Naja"),
    ("de", "Polly.Marlene"),
    ("es", "Polly.Conchita"),
    ("fr", "Polly.Celine"),
    ("hi", "Polly.Aditi"),
    ("is", "Polly.Dora"),
    ("it", "Polly.Carla"),
    ("ja", "Polly.Mizuki"),
    ("ko", "Polly.Seoyeon"),
    ("nb", "Polly.Liv"),
    ("nl", "Polly.Lotte"),
    ("no", "Polly.Liv"),
    ("pl", "Polly.Ewa"),
    ("pt", "Polly.Camila"),
    ("ro", "Polly.Carmen"),
    ("ru", "Polly.Tatyana"),
    ("sv", "Polly.Astrid"),
    ("tr", "Polly.Filiz"),
    ("zh", "Polly.Zhiyu"),
];

/// The voice `provider` speaks `lang` in when `--voices` names none, where its default voice
/// does not speak it (Telnyx only: the others' default voice follows the language).
pub fn default_voice(provider: &str, lang: &str) -> Option<&'static str> {
    if provider != "telnyx" || ENGLISH.contains(&primary(lang).as_str()) {
        return None;
    }
    TELNYX_VOICES.iter().find(|(l, _)| *l == primary(lang)).map(|(_, v)| *v)
}

/// Twilio's `<Gather>` speech recognition, by primary subtag.
pub const TWILIO_ASR: &[&str] = &[
    "af", "am", "ar", "az", "bg", "bn", "ca", "cmn", "cs", "da", "de", "el", "en", "es", "et", "eu", "fa", "fi", "fil",
    "fr", "gl", "gu", "he", "hi", "hr", "hu", "hy", "id", "is", "it", "ja", "jv", "ka", "km", "kn", "ko", "lo", "lt",
    "lv", "mk", "ml", "mn", "mr", "ms", "my", "nar", "nb", "ne", "nl", "pa", "pl", "pt", "ro", "ru", "si", "sk", "sl",
    "sq", "sr", "su", "sv", "sw", "ta", "te", "th", "tr", "uk", "ur", "uz", "vi", "yue", "zh", "zu",
];

/// Vonage's `input.speech.language`, full tags as documented (`eu-EX` sic).
#[rustfmt::skip] // several tags a line: one a line (rustfmt's choice for long tags) is 118 lines
pub const VONAGE_ASR: &[&str] = &[
    "af-ZA", "am-ET", "ar-AE", "ar-BH", "ar-DZ", "ar-EG", "ar-IL", "ar-IQ", "ar-JO", "ar-KW", "ar-LB", "ar-MA", "ar-OM",
    "ar-PS", "ar-QA", "ar-SA", "ar-TN", "az-AZ", "bg-BG", "bn-BD", "bn-IN", "ca-ES", "cs-CZ", "da-DK", "de-DE", "el-GR",
    "en-AU", "en-CA", "en-GB", "en-GH", "en-IE", "en-IN", "en-KE", "en-NG", "en-NZ", "en-PH", "en-TZ", "en-US", "en-ZA",
    "es-AR", "es-BO", "es-CL", "es-CO", "es-CR", "es-DO", "es-EC", "es-ES", "es-GT", "es-HN", "es-MX", "es-NI", "es-PA",
    "es-PE", "es-PR", "es-PY", "es-SV", "es-US", "es-UY", "es-VE", "eu-EX", "fa-IR", "fi-FI", "fr-CA", "fr-FR", "gl-ES",
    "gu-IN", "he-IL", "hi-IN", "hr-HR", "hu-HU", "hy-AM", "id-ID", "is-IS", "it-IT", "ja-JP", "jv-ID", "ka-GE", "km-KH",
    "kn-IN", "ko-KR", "lo-LA", "lt-LT", "lv-LV", "ml-IN", "mr-IN", "ms-MY", "nb-NO", "ne-NP", "nl-NL", "pl-PL", "pt-BR",
    "pt-PT", "ro-RO", "ru-RU", "si-LK", "sk-SK", "sl-SI", "sq-AL", "sr-RS", "su-ID", "sv-SE", "sw-KE", "sw-TZ", "ta-IN",
    "ta-LK", "ta-MY", "ta-SG", "te-IN", "th-TH", "tr-TR", "uk-UA", "ur-IN", "ur-PK", "vi-VN", "zh", "zh-cmn-Hans-CN",
    "zu-ZA",
];

/// Telnyx's TeXML `<Gather language>`, full tags as documented.
#[rustfmt::skip] // several tags a line, like the tables above
pub const TELNYX_ASR: &[&str] = &[
    "arb", "cmn-CN", "cy-GB", "da-DK", "de-DE", "en-AU", "en-GB", "en-GB-WLS", "en-IN", "en-US", "es-ES", "es-MX",
    "es-US", "fr-CA", "fr-FR", "hi-IN", "is-IS", "it-IT", "ja-JP", "ko-KR", "nb-NO", "nl-NL", "pl-PL", "pt-BR", "pt-PT",
    "ro-RO", "ru-RU", "sv-SE", "tr-TR",
];

/// What a provider's speech recognition knows, and how its table is keyed.
#[derive(Clone, Copy, Debug)]
pub enum Hears {
    /// These primary subtags, in any region.
    Languages(&'static [&'static str]),
    /// These tags exactly (without regard to case), compared with the one the adapter sends.
    Locales(&'static [&'static str]),
}

impl Hears {
    /// Whether a menu listening in the flow language `lang` is understood.
    pub fn knows(self, lang: &str) -> bool {
        match self {
            Self::Languages(table) => table.contains(&primary(lang).as_str()),
            Self::Locales(table) => {
                let sent = super::locale(lang);
                table.iter().any(|tag| tag.eq_ignore_ascii_case(sent))
            }
        }
    }

    /// The tags of a table keyed by full tags that share `lang`'s primary subtag: what a flow
    /// could name instead. Empty for a table of primary subtags.
    pub fn regions(self, lang: &str) -> Vec<&'static str> {
        match self {
            Self::Languages(_) => Vec::new(),
            Self::Locales(table) => table.iter().copied().filter(|tag| primary(tag) == primary(lang)).collect(),
        }
    }
}

/// What `provider`'s speech recognition knows, where this module has its list.
pub fn hears(provider: &str) -> Option<Hears> {
    match provider {
        "twilio" | "signalwire" => Some(Hears::Languages(TWILIO_ASR)),
        "vonage" => Some(Hears::Locales(VONAGE_ASR)),
        "telnyx" => Some(Hears::Locales(TELNYX_ASR)),
        _ => None,
    }
}

/// What `provider` speaks (by its name in [`ADAPTERS`]).
pub fn speaks(provider: &str) -> Speaks {
    match provider {
        "twilio" | "signalwire" => Speaks::Table(POLLY_GOOGLE),
        "plivo" => Speaks::Table(POLLY),
        "vonage" => Speaks::Table(VONAGE),
        "telnyx" => Speaks::DefaultOnly(ENGLISH),
        _ => Speaks::Vendor,
    }
}

/// The primary subtag of a language code: `ru-RU` → `ru`.
fn primary(code: &str) -> String {
    code.split(['-', '_']).next().unwrap_or(code).to_ascii_lowercase()
}

/// Whether `provider` cannot speak `lang` with any of its voices (a flow's property, for
/// `check`). A provider whose voice decides the language is not judged here, but at start by
/// [`needs_voice`], which knows the deployment's voices.
fn cannot_speak(provider: &str, lang: &str) -> bool {
    matches!(speaks(provider), Speaks::Table(table) if !table.contains(&primary(lang).as_str()))
}

/// The languages of `languages` an enabled `provider` would speak in its default voice, which
/// does not speak them, because `voices` names none for it and it has no default voice for
/// them ([`default_voice`]): for a warning when `serve` starts.
pub fn needs_voice<'l>(provider: &str, languages: &[&'l str], voices: &VoiceTable) -> Vec<&'l str> {
    let Speaks::DefaultOnly(table) = speaks(provider) else { return Vec::new() };
    let voices = voices.of(provider);
    languages
        .iter()
        .copied()
        .filter(|l| !table.contains(&primary(l).as_str()) && voices.for_language(l).is_none())
        .collect()
}

/// Warnings for the spoken prompts of `flow` some provider cannot speak in their language,
/// one per prompt text and language, at the text; and for its menus that listen for speech
/// in a language some provider cannot recognise, one per menu and language, at the menu.
pub fn language_warnings(flow: &Flow) -> Vec<crate::engine::Diagnostic> {
    let mut warnings = speech_warnings(flow);
    // The same prompt is reached from several nodes (the defaults' `no_input`): warned once.
    let mut seen = BTreeSet::new();
    for node in &flow.nodes {
        for prompt in prompts(&node.kind) {
            for (index, text) in &prompt.text.0 {
                // A prompt for any language is spoken in each of the flow's.
                let languages: Vec<(u8, &str)> = match index {
                    Some(i) => flow.languages.get(usize::from(*i)).map(|l| (*i, &**l)).into_iter().collect(),
                    None => (0..).zip(flow.languages.iter().map(|l| &**l)).collect(),
                };
                for (i, lang) in languages {
                    // A sound file in this language is played instead of the text.
                    let played = prompt.play.0.iter().any(|(l, _)| l.is_none_or(|l| l == i));
                    if played || !seen.insert((text.span.start, text.span.end, i)) {
                        continue;
                    }
                    let unable: Vec<&str> = ADAPTERS.iter().map(|a| a.name).filter(|p| cannot_speak(p, lang)).collect();
                    if !unable.is_empty() {
                        warnings.push(
                            Diagnostic::warning(
                                text.span.clone(),
                                format!("{} cannot speak `{lang}` ({})", unable.join(" and "), super::locale(lang)),
                            )
                            .with_help(format!(
                                "callers there would hear `{lang}` text in another language's voice: record the \
                                 prompt as a sound file, or serve this language through another provider"
                            )),
                        );
                    }
                }
            }
        }
    }
    warnings
}

/// A menu listens in the call's language, which may be any of the flow's.
fn speech_warnings(flow: &Flow) -> Vec<Diagnostic> {
    let mut warnings = Vec::new();
    for node in &flow.nodes {
        let crate::engine::NodeKind::Menu(menu) = &node.kind else { continue };
        if !menu.speech {
            continue;
        }
        for lang in flow.languages.iter().map(|l| &**l) {
            let deaf: Vec<&str> =
                ADAPTERS.iter().map(|a| a.name).filter(|p| hears(p).is_some_and(|known| !known.knows(lang))).collect();
            if !deaf.is_empty() {
                // A provider keyed by full tags may know the language in another region.
                let regions: Vec<String> = deaf
                    .iter()
                    .filter_map(|p| {
                        let tags = hears(p)?.regions(lang);
                        (!tags.is_empty()).then(|| format!("{p}: {}", tags.join(", ")))
                    })
                    .collect();
                let regions = if regions.is_empty() {
                    String::new()
                } else {
                    format!("write the language with a region the provider knows ({}), ", regions.join("; "))
                };
                warnings.push(
                    Diagnostic::warning(
                        node.span.clone(),
                        format!(
                            "{} cannot recognise speech in `{lang}` ({}): `{}` listens for it",
                            deaf.join(" and "),
                            super::locale(lang),
                            node.id
                        ),
                    )
                    .with_help(format!(
                        "callers speaking `{lang}` there are never understood and fall back to keys: {regions}\
                         set `speech = false` for this menu, or serve this language through another provider"
                    )),
                );
            }
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(languages: &str) -> Flow {
        let source = include_str!("../../flows/hello.toml").replace("languages = [\"en\"]", languages);
        let (flow, diags) = crate::engine::parse_and_check(&source);
        flow.unwrap_or_else(|| panic!("{diags:?}"))
    }

    /// The text-to-speech warnings.
    fn messages(flow: &Flow) -> Vec<String> {
        language_warnings(flow).into_iter().map(|d| d.message).filter(|m| m.contains("cannot speak")).collect()
    }

    #[test]
    fn english_and_russian_are_spoken_everywhere() {
        assert_eq!(messages(&flow("languages = [\"en\"]")), Vec::<String>::new());
        assert_eq!(messages(&flow("languages = [\"ru\", \"en\"]")), Vec::<String>::new());
    }

    #[test]
    fn kazakh_names_every_provider_that_cannot() {
        let warned = messages(&flow("languages = [\"kk\"]"));
        assert!(!warned.is_empty(), "hello.toml speaks");
        for message in &warned {
            assert_eq!(message, "twilio and signalwire and plivo and vonage cannot speak `kk` (kk-KZ)");
        }
    }

    #[test]
    fn telnyx_needs_a_voice_beyond_english_and_its_defaults() {
        let none = VoiceTable::default();
        assert_eq!(needs_voice("telnyx", &["ru", "en", "uk", "kk"], &none), ["uk", "kk"]);
        let named = VoiceTable::parse("telnyx:uk=Azure.uk-UA-PolinaNeural").expect("valid");
        assert_eq!(needs_voice("telnyx", &["ru", "en", "uk"], &named), Vec::<&str>::new());
        assert_eq!(needs_voice("twilio", &["kk"], &none), Vec::<&str>::new(), "not a voice question there");
    }

    #[test]
    fn telnyx_speaks_the_call_s_language_without_voices() {
        let voices = VoiceTable::default().of("telnyx");
        assert_eq!(voices.for_language("ru"), Some("Polly.Tatyana"));
        assert_eq!(voices.for_language("pt-BR"), Some("Polly.Camila"));
        assert_eq!(voices.for_language("en"), None, "its default voice speaks English");
        assert_eq!(voices.for_language("kk"), None, "no Polly voice speaks Kazakh");
        let named = VoiceTable::parse("telnyx:ru=Polly.Maxim").expect("valid").of("telnyx");
        assert_eq!(named.for_language("ru-RU"), Some("Polly.Maxim"), "--voices first");
        assert_eq!(named.for_language("de"), Some("Polly.Marlene"), "then the defaults");
        assert_eq!(VoiceTable::default().of("twilio").for_language("ru"), None, "Twilio's default voice follows");
        assert!(TELNYX_VOICES.windows(2).all(|w| w[0].0 < w[1].0), "sorted, one voice a language");
    }

    #[test]
    fn speech_in_kazakh_names_the_providers_that_cannot_recognise_it() {
        let menu_of = |languages: &str, speech: bool| {
            let source = include_str!("../../flows/hello.toml")
                .replace("languages = [\"en\"]", languages)
                .replace("kind = \"menu\"\n", &format!("kind = \"menu\"\nspeech = {speech}\n"));
            let (flow, diags) = crate::engine::parse_and_check(&source);
            flow.unwrap_or_else(|| panic!("{diags:?}"))
        };
        assert!(speech_warnings(&menu_of("languages = [\"en\"]", true)).is_empty(), "English is recognised everywhere");
        assert!(speech_warnings(&menu_of("languages = [\"kk\"]", false)).is_empty(), "a menu that only takes keys");
        let flow = menu_of("languages = [\"kk\"]", true);
        let warned = speech_warnings(&flow);
        let menu = flow.nodes.iter().find(|n| &*n.id == "menu").expect("hello.toml's menu");
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert_eq!(
            warned[0].message,
            "twilio and signalwire and telnyx and vonage cannot recognise speech in `kk` (kk-KZ): `menu` listens for it"
        );
        assert_eq!(warned[0].span, menu.span, "at the menu");
        assert!(language_warnings(&flow).iter().any(|w| w.message == warned[0].message), "`check` shows it");
    }

    /// The providers `check` names for a speech menu in `lang`, and the help's regions.
    fn deaf(lang: &str) -> (String, String) {
        let source = include_str!("../../flows/hello.toml")
            .replace("languages = [\"en\"]", &format!("languages = [\"{lang}\"]"))
            .replace("kind = \"menu\"\n", "kind = \"menu\"\nspeech = true\n");
        let (flow, diags) = crate::engine::parse_and_check(&source);
        let flow = flow.unwrap_or_else(|| panic!("{diags:?}"));
        let warned = speech_warnings(&flow);
        let Some(warning) = warned.first() else { return (String::new(), String::new()) };
        let names = warning.message.split(" cannot recognise").next().unwrap_or_default().to_owned();
        let help = warning.help.clone().unwrap_or_default();
        let regions = help.split_once("knows (").and_then(|(_, r)| r.split_once(')')).map(|(r, _)| r.to_owned());
        (names, regions.unwrap_or_default())
    }

    #[test]
    fn speech_names_each_provider_whose_documented_languages_lack_it() {
        // (flow language, who is named, the regions the help offers), from the tables' sources.
        let cases = [
            ("ru", "", ""),
            ("en", "", ""),
            ("pt", "", ""),
            ("pt-PT", "", ""),
            ("es", "", ""),
            ("uk", "telnyx", ""),
            ("es-AR", "telnyx", "telnyx: es-ES, es-MX, es-US"),
            ("de-AT", "telnyx and vonage", "telnyx: de-DE; vonage: de-DE"),
            ("fr-BE", "telnyx and vonage", "telnyx: fr-CA, fr-FR; vonage: fr-CA, fr-FR"),
            ("sv", "", ""), // sent as sv-SE
            ("fi", "telnyx", ""),
            ("sw", "telnyx and vonage", "vonage: sw-KE, sw-TZ"),
            ("cy", "twilio and signalwire and telnyx and vonage", "telnyx: cy-GB"),
            // Never plivo (documents common languages only) nor jambonz (the vendor's).
            ("kk", "twilio and signalwire and telnyx and vonage", ""),
        ];
        for (lang, names, regions) in cases {
            assert_eq!(deaf(lang), (names.to_owned(), regions.to_owned()), "{lang}");
        }
    }

    #[test]
    fn full_tag_tables_compare_the_tag_the_adapter_sends() {
        let vonage = hears("vonage").expect("a table");
        assert!(vonage.knows("ru"), "sent as ru-RU");
        assert!(vonage.knows("EN-gb"), "case does not matter");
        assert!(!vonage.knows("zh"), "sent as zh-CN, while Vonage lists `zh` and `zh-cmn-Hans-CN`");
        assert!(!vonage.knows("de-AT"));
        assert!(!hears("telnyx").expect("a table").knows("zh-CN"), "Telnyx names Mandarin `cmn-CN`");
        for table in [VONAGE_ASR, TELNYX_ASR] {
            assert!(table.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates: {table:?}");
            let lower = |t: &&str| primary(t) == t.split('-').next().unwrap_or(t);
            assert!(table.iter().all(lower), "primary subtags in lower case: {table:?}");
        }
    }

    #[test]
    fn tables_are_primary_subtags_in_order() {
        for table in [POLLY, POLLY_GOOGLE, VONAGE, ENGLISH, TWILIO_ASR] {
            assert!(table.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates: {table:?}");
            assert!(table.iter().all(|l| primary(l) == *l), "{table:?}");
        }
        assert_eq!(primary("ru-RU"), "ru");
        assert!(!cannot_speak("vonage", "uk-UA"));
        assert!(cannot_speak("plivo", "uk"), "Polly has no Ukrainian");
        assert!(!cannot_speak("jambonz", "kk"), "the vendor decides");
        assert!(!cannot_speak("telnyx", "kk"), "the voice decides");
    }
}
