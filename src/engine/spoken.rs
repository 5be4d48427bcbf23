//! How a value is spoken inside a prompt: `{name}` as it is, `{name:digits}` one digit at a
//! time, `{name:phone}` in groups, and `{name:plural(one=…, few=…, many=…)}` as the word that
//! agrees with the number by the language's CLDR plural rules (1 минута, 2 минуты, 5 минут,
//! 21 минута, 11 минут). Pure text in, text out: every provider speaks it the same way.

use intl_pluralrules::{PluralCategory, PluralRuleType, PluralRules};
use unic_langid::LanguageIdentifier;

/// The CLDR category names, in CLDR's order.
const CATEGORIES: [&str; 6] = ["zero", "one", "two", "few", "many", "other"];

/// One `{…}` placeholder: the variable and how its value is spoken.
#[derive(Debug, PartialEq, Eq)]
pub struct Placeholder<'a> {
    pub name: &'a str,
    pub form: Form<'a>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Form<'a> {
    Plain,
    Digits,
    Phone,
    /// `(category, word)` pairs as written.
    Plural(Vec<(&'a str, &'a str)>),
}

/// Reads what is between the braces; the error says what is wrong with the form.
pub fn parse(inner: &str) -> Result<Placeholder<'_>, String> {
    let (name, form) = match inner.split_once(':') {
        None => (inner.trim(), Form::Plain),
        Some((name, form)) => (name.trim(), parse_form(form.trim())?),
    };
    if name.is_empty() {
        return Err("the placeholder names no variable".into());
    }
    Ok(Placeholder { name, form })
}

fn parse_form(form: &str) -> Result<Form<'_>, String> {
    match form {
        "digits" => return Ok(Form::Digits),
        "phone" => return Ok(Form::Phone),
        _ => {}
    }
    let Some(list) = form.strip_prefix("plural(").and_then(|f| f.strip_suffix(')')) else {
        return Err(format!(
            "unknown form `{form}`: write `digits`, `phone` or `plural(one=…, few=…, many=…, other=…)`"
        ));
    };
    let mut forms: Vec<(&str, &str)> = Vec::new();
    for item in list.split(',') {
        let Some((category, word)) = item.split_once('=') else {
            return Err(format!("`{}` in plural(…) is not `category=word`", item.trim()));
        };
        let (category, word) = (category.trim(), word.trim());
        if !CATEGORIES.contains(&category) {
            return Err(format!("`{category}` is not a plural category: use {}", CATEGORIES.join(", ")));
        }
        if forms.iter().any(|(c, _)| *c == category) {
            return Err(format!("plural category `{category}` is given twice"));
        }
        forms.push((category, word));
    }
    Ok(Form::Plural(forms))
}

fn rules(lang: &str) -> Result<PluralRules, String> {
    let id: LanguageIdentifier = lang.parse().map_err(|_| format!("`{lang}` is not a language code"))?;
    PluralRules::create(id, PluralRuleType::CARDINAL)
        .map_err(|_| format!("there are no CLDR plural rules for `{lang}`"))
}

fn category_name(category: PluralCategory) -> &'static str {
    match category {
        PluralCategory::ZERO => "zero",
        PluralCategory::ONE => "one",
        PluralCategory::TWO => "two",
        PluralCategory::FEW => "few",
        PluralCategory::MANY => "many",
        PluralCategory::OTHER => "other",
    }
}

/// The categories whole numbers take in `lang`, in CLDR's order: a flow's counts (minutes,
/// positions) are whole. Every CLDR rule repeats within 0..=200, except the millions some
/// languages (French, Spanish) give `many`.
fn whole_number_categories(rules: &PluralRules) -> Vec<&'static str> {
    let seen: Vec<&str> =
        (0..=200u32).chain([1_000_000]).filter_map(|n| rules.select(n).ok()).map(category_name).collect();
    CATEGORIES.into_iter().filter(|c| seen.contains(c)).collect()
}

/// Whether a plural form suits `lang`: no category the language lacks, and every category of
/// whole numbers present unless `other` catches the rest.
pub fn check_plural(lang: &str, forms: &[(&str, &str)]) -> Result<(), String> {
    let rules = rules(lang)?;
    let needed = whole_number_categories(&rules);
    let written: Vec<&str> = forms.iter().map(|(c, _)| *c).collect();
    if let Some(extra) = written.iter().find(|c| **c != "other" && !needed.contains(c)) {
        return Err(format!("`{lang}` has no plural category `{extra}`: its numbers take {}", needed.join(", ")));
    }
    let missing: Vec<&str> = needed.iter().copied().filter(|c| !written.contains(c)).collect();
    if !missing.is_empty() && !written.contains(&"other") {
        return Err(format!(
            "`{lang}` numbers take {}: add {} (or `other` for the rest)",
            needed.join(", "),
            missing.join(", ")
        ));
    }
    Ok(())
}

/// The value as the placeholder speaks it in `lang`.
pub fn render(value: &str, form: &Form, lang: &str) -> String {
    match form {
        Form::Plain => value.to_owned(),
        Form::Digits => spaced(value.chars().filter(char::is_ascii_digit).map(String::from)),
        Form::Phone => phone(value),
        Form::Plural(forms) => {
            let category = rules(lang).ok().and_then(|r| r.select(value.trim()).ok()).map(category_name);
            let by = |want: &str| forms.iter().find(|(c, _)| *c == want).map(|(_, w)| *w);
            category
                .and_then(by)
                .or_else(|| by("other"))
                .or_else(|| forms.last().map(|(_, w)| *w))
                .unwrap_or("")
                .to_owned()
        }
    }
}

fn spaced(parts: impl Iterator<Item = String>) -> String {
    parts.collect::<Vec<_>>().join(" ")
}

/// A number in the groups people say it in: the last four digits as two pairs, the rest in
/// threes counted from the right, so `+79161234567` is "+7 916 123 45 67"; a short number
/// (112) stays whole.
fn phone(value: &str) -> String {
    let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 5 {
        return value.trim().to_owned();
    }
    let split = digits.len().saturating_sub(4);
    let (head, tail) = digits.split_at(split);
    let mut groups: Vec<String> = head.rchunks(3).rev().map(|g| g.iter().collect()).collect();
    groups.extend(tail.chunks(2).map(|g| g.iter().collect()));
    let text = spaced(groups.into_iter());
    if value.trim_start().starts_with('+') { format!("+{text}") } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say(value: &str, inner: &str, lang: &str) -> String {
        render(value, &parse(inner).unwrap().form, lang)
    }

    #[test]
    fn russian_nouns_agree_with_their_numbers() {
        let minutes = "m:plural(one=минута, few=минуты, many=минут)";
        let said: Vec<String> =
            [1, 2, 4, 5, 11, 12, 21, 22, 25, 101, 111].map(|n| say(&n.to_string(), minutes, "ru")).into();
        assert_eq!(
            said,
            ["минута", "минуты", "минуты", "минут", "минут", "минут", "минута", "минуты", "минут", "минута", "минут"]
        );
        assert_eq!(say("5", "m:plural(one=minute, other=minutes)", "en"), "minutes");
        assert_eq!(say("1", "m:plural(one=minute, other=minutes)", "en"), "minute");
        assert_eq!(say("", "m:plural(one=minute, other=minutes)", "en"), "minutes", "no number: `other`");
    }

    #[test]
    fn a_plural_form_must_fit_the_language() {
        let forms = |inner: &'static str| match parse(inner).unwrap().form {
            Form::Plural(f) => f,
            _ => unreachable!(),
        };
        assert_eq!(check_plural("ru", &forms("m:plural(one=a, few=b, many=c)")), Ok(()));
        assert_eq!(check_plural("ru", &forms("m:plural(one=a, other=c)")), Ok(()));
        assert_eq!(
            check_plural("ru", &forms("m:plural(one=a, many=c)")).unwrap_err(),
            "`ru` numbers take one, few, many: add few (or `other` for the rest)"
        );
        assert_eq!(
            check_plural("en", &forms("m:plural(one=a, few=b, other=c)")).unwrap_err(),
            "`en` has no plural category `few`: its numbers take one, other"
        );
        assert!(check_plural("xx-unknown-tag-", &forms("m:plural(other=a)")).is_err());
    }

    #[test]
    fn forms_are_parsed_or_refused_with_a_reason() {
        assert_eq!(parse("ticket").unwrap(), Placeholder { name: "ticket", form: Form::Plain });
        assert_eq!(parse("ticket:digits").unwrap().form, Form::Digits);
        assert!(parse("ticket:letters").unwrap_err().contains("unknown form `letters`"));
        assert!(parse("m:plural(one=a, one=b)").unwrap_err().contains("given twice"));
        assert!(parse("m:plural(single=a)").unwrap_err().contains("not a plural category"));
        assert!(parse("m:plural(a)").unwrap_err().contains("not `category=word`"));
        assert!(parse(":digits").is_err());
    }

    #[test]
    fn digits_one_by_one_and_phones_in_groups() {
        assert_eq!(say("123456", "t:digits", "ru"), "1 2 3 4 5 6");
        assert_eq!(say("+79161234567", "c:phone", "ru"), "+7 916 123 45 67");
        assert_eq!(say("8 (916) 123-45-67", "c:phone", "ru"), "8 916 123 45 67");
        assert_eq!(say("1234567", "c:phone", "ru"), "123 45 67");
        assert_eq!(say("112", "c:phone", "ru"), "112");
    }
}
