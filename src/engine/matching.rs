//! Matching what a caller said against the phrases a flow lists.
//!
//! Speech recognisers return text in whatever case and punctuation they like, and callers use
//! any word form ("оператор", "оператором", "operators"). Both sides are reduced to Snowball
//! stems (Russian for Cyrillic words, English otherwise) with `ё` folded into `е`; a phrase
//! matches when every one of its stems occurs among the stems of what was said.

use rust_stemmers::{Algorithm, Stemmer};
use std::sync::LazyLock;

use super::flow::Phrase;

static RUSSIAN: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::Russian));
static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// Whether `c` is a key on the phone pad: `0`-`9`, `*` or `#`.
pub fn is_phone_key(c: char) -> bool {
    c.is_ascii_digit() || c == '*' || c == '#'
}

/// The stems of the words of `text`, in order.
pub fn stems(text: &str) -> Vec<Box<str>> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|word| {
            let word = word.to_lowercase().replace('ё', "е");
            let cyrillic = word.chars().any(|c| matches!(c, 'а'..='я'));
            let stemmer = if cyrillic { &*RUSSIAN } else { &*ENGLISH };
            stemmer.stem(&word).into()
        })
        .collect()
}

/// Builds a phrase for matching.
pub fn phrase(text: &str) -> Phrase {
    Phrase { text: text.into(), stems: stems(text) }
}

/// Whether every stem of `phrase` was heard.
pub fn matches(heard: &[Box<str>], phrase: &Phrase) -> bool {
    !phrase.stems.is_empty() && phrase.stems.iter().all(|s| heard.contains(s))
}

/// The best-matching candidate: the one whose phrase has the most words (the most specific),
/// the first listed on a tie. Returns the number of matched words and the candidate's tag.
pub fn best<'p, T: Copy>(
    heard: &[Box<str>],
    candidates: impl IntoIterator<Item = (&'p Phrase, T)>,
) -> Option<(usize, T)> {
    let mut best: Option<(usize, T)> = None;
    for (phrase, tag) in candidates {
        if matches(heard, phrase) && best.is_none_or(|(n, _)| phrase.stems.len() > n) {
            best = Some((phrase.stems.len(), tag));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(said: &str, phrase_text: &str, expected: bool) {
        assert_eq!(matches(&stems(said), &phrase(phrase_text)), expected, "{said:?} ~ {phrase_text:?}");
    }

    #[test]
    fn word_forms_case_and_punctuation() {
        check("Я хочу поговорить с оператором!", "оператор", true);
        check("ОПЕРАТОР", "оператор", true);
        check("Я хочу подать жалобу.", "жалоба", true);
        check("Мне нужна помощь человека", "человек", true);
        check("Мне нужна помощь человека", "помощь человека", true);
        check("I want to talk to an operator, please", "operator", true);
        check("operators", "operator", true);
        check("ещё раз", "еще раз", true);
        check("Speak to a human", "human", true);
    }

    #[test]
    fn mismatches() {
        check("ммм э-э", "оператор", false);
        check("", "оператор", false);
        check("оплата картой", "жалоба", false);
        check("человек", "помощь человека", false);
        check("anything", "", false);
    }

    #[test]
    fn most_specific_phrase_wins() {
        let a = phrase("карта");
        let b = phrase("заблокирована карта");
        let heard = stems("у меня заблокирована карта");
        assert_eq!(best(&heard, [(&a, 'a'), (&b, 'b')]), Some((2, 'b')));
        assert_eq!(best(&stems("карту"), [(&a, 'a'), (&b, 'b')]), Some((1, 'a')));
        assert_eq!(best(&stems("нет"), [(&a, 'a'), (&b, 'b')]), None);
    }
}
