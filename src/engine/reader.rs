//! Reading a spanned TOML document by hand, collecting a [`Diagnostic`] for every problem.
//! Shared by the flow parser and the queue-model parser, so both report the same way.

use chrono::Datelike;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::{Diagnostic, suggest};
use super::flow::{Holiday, Hours, Span};
use super::matching::is_phone_key;
use crate::calendar::{self, DAY_KEYS as DAYS};

pub type Value<'i> = Spanned<DeValue<'i>>;

/// Collects diagnostics while values are read.
#[derive(Default)]
pub struct Reader {
    pub diags: Vec<Diagnostic>,
}

/// The fields of one table, checked against the names allowed there.
pub struct Fields<'t, 'i> {
    pub table: &'t DeTable<'i>,
    pub span: Span,
}

impl<'t, 'i> Fields<'t, 'i> {
    pub fn get(&self, name: &str) -> Option<&'t Value<'i>> {
        self.table.get(name)
    }
}

impl Reader {
    pub fn error(&mut self, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, message));
    }

    pub fn fields<'t, 'i>(&mut self, value: &'t Value<'i>, allowed: &[&str], what: &str) -> Option<Fields<'t, 'i>> {
        let table = self.table(value, what)?;
        for (key, _) in table.iter() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                let mut d = Diagnostic::error(key.span(), format!("unknown field `{}` in {what}", key.get_ref()));
                d.help = suggest(key.get_ref(), allowed.iter().copied())
                    .or_else(|| Some(format!("expected one of: {}", allowed.join(", "))));
                self.diags.push(d);
            }
        }
        Some(Fields { table, span: value.span() })
    }

    pub fn table<'t, 'i>(&mut self, value: &'t Value<'i>, what: &str) -> Option<&'t DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.error(value.span(), format!("{what} must be a table, not {}", other.type_str()));
                None
            }
        }
    }

    pub fn string<'t>(&mut self, value: &'t Value, what: &str) -> Option<&'t str> {
        match value.get_ref() {
            DeValue::String(s) => Some(s),
            other => {
                self.error(value.span(), format!("{what} must be a string, not {}", other.type_str()));
                None
            }
        }
    }

    pub fn strings(&mut self, value: &Value, what: &str) -> Vec<(String, Span)> {
        match value.get_ref() {
            DeValue::String(s) => vec![(s.to_string(), value.span())],
            DeValue::Array(items) => {
                items.iter().filter_map(|v| self.string(v, what).map(|s| (s.to_owned(), v.span()))).collect()
            }
            other => {
                self.error(
                    value.span(),
                    format!("{what} must be a string or a list of strings, not {}", other.type_str()),
                );
                Vec::new()
            }
        }
    }

    pub fn int(&mut self, value: &Value, what: &str, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
        let n = match value.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
            _ => None,
        };
        match n {
            Some(n) if range.contains(&n) => Some(n),
            _ => {
                self.error(
                    value.span(),
                    format!("{what} must be a whole number from {} to {}", range.start(), range.end()),
                );
                None
            }
        }
    }

    /// A number, written as an integer or a float.
    pub fn number(&mut self, value: &Value, what: &str) -> Option<f64> {
        let x = match value.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok().map(|n| n as f64),
            DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            _ => None,
        };
        match x {
            Some(x) if x.is_finite() => Some(x),
            _ => {
                self.error(value.span(), format!("{what} must be a number"));
                None
            }
        }
    }

    pub fn small(&mut self, value: &Value, what: &str, max: u8) -> Option<u8> {
        self.int(value, what, 0..=i64::from(max)).and_then(|n| u8::try_from(n).ok())
    }

    /// A duration: `"5s"`, `"1m 30s"`, `"250ms"`, or a number of seconds.
    pub fn duration_ms(&mut self, value: &Value, what: &str) -> Option<u32> {
        let ms = match value.get_ref() {
            DeValue::Integer(_) => return self.int(value, what, 0..=86_400).map(|s| s as u32 * 1000),
            DeValue::Float(f) => {
                f.as_str().parse::<f64>().ok().filter(|s| (0.0..=86_400.0).contains(s)).map(|s| (s * 1000.0) as u32)
            }
            DeValue::String(s) => humantime::parse_duration(s.trim())
                .ok()
                .and_then(|d| u32::try_from(d.as_millis()).ok())
                .filter(|&ms| ms <= 86_400_000),
            _ => None,
        };
        if ms.is_none() {
            self.diags.push(
                Diagnostic::error(value.span(), format!("{what} is not a valid duration"))
                    .with_help("write a duration such as \"5s\", \"1m 30s\" or \"250ms\" (at most a day)"),
            );
        }
        ms
    }

    /// A key on the phone pad, or `false` for none.
    pub fn key(&mut self, value: &Value, what: &str) -> Option<Option<char>> {
        match value.get_ref() {
            DeValue::Boolean(false) => return Some(None),
            DeValue::String(s) => {
                let mut chars = s.chars();
                if let (Some(c), None) = (chars.next(), chars.next())
                    && is_phone_key(c)
                {
                    return Some(Some(c));
                }
            }
            DeValue::Integer(i) if i.as_str().len() == 1 => return Some(i.as_str().chars().next()),
            _ => {}
        }
        self.error(value.span(), format!("{what} must be one key of 0-9, * or #, or false"));
        None
    }

    pub fn hours(&mut self, value: &Value) -> Hours {
        let mut allowed: Vec<&str> = DAYS.to_vec();
        allowed.push("holidays");
        let Some(f) = self.fields(value, &allowed, "[hours]") else { return Hours::default() };
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for (day, ranges) in DAYS.iter().zip(week.iter_mut()) {
            let Some(v) = f.get(day) else { continue };
            for (text, span) in self.strings(v, day) {
                if text.eq_ignore_ascii_case("closed") {
                    continue;
                }
                match parse_range(&text) {
                    Some(range) => ranges.push(range),
                    None => self.diags.push(
                        Diagnostic::error(span, format!("`{text}` is not a time range"))
                            .with_help("write opening hours as \"09:00-18:00\", or \"closed\""),
                    ),
                }
            }
        }
        let mut holidays = Vec::new();
        if let Some(v) = f.get("holidays") {
            let items: Vec<&Value> = match v.get_ref() {
                DeValue::Array(a) => a.iter().collect(),
                _ => vec![v],
            };
            for item in items {
                let text = match item.get_ref() {
                    DeValue::Datetime(d) => d.to_string(),
                    DeValue::String(s) => s.to_string(),
                    _ => String::new(),
                };
                if let Some(days) = calendar::holiday_calendar(&text) {
                    holidays.extend(days.map(|d| Holiday { year: Some(d.year()), month: d.month(), day: d.day() }));
                    continue;
                }
                match parse_holiday(&text) {
                    Some(h) => holidays.push(h),
                    None => self.diags.push(
                        Diagnostic::error(item.span(), "a holiday must be a date or a country's calendar").with_help(
                            format!(
                                "write \"MM-DD\" for every year, \"YYYY-MM-DD\" for one date, or one of: {}",
                                calendar::HOLIDAY_CALENDARS.join(", ")
                            ),
                        ),
                    ),
                }
            }
        }
        let any_hours = DAYS.iter().any(|d| f.get(d).is_some());
        Hours { week: any_hours.then_some(week), holidays }
    }
}

/// `"09:00-18:00"` to minutes since midnight; the end may be `24:00`.
pub fn parse_range(text: &str) -> Option<(u16, u16)> {
    let (from, to) = text.split_once('-')?;
    let minutes = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let (from, to) = (minutes(from)?, minutes(to)?);
    (from < to).then_some((from, to))
}

/// `"MM-DD"` (every year) or `"YYYY-MM-DD"`.
pub fn parse_holiday(text: &str) -> Option<Holiday> {
    let parts: Vec<&str> = text.trim().split('-').collect();
    let (year, month, day) = match parts.as_slice() {
        [m, d] => (None, m.parse().ok()?, d.parse().ok()?),
        [y, m, d] => (Some(y.parse().ok()?), m.parse().ok()?, d.parse().ok()?),
        _ => return None,
    };
    let valid_for = chrono::NaiveDate::from_ymd_opt(year.unwrap_or(2024), month, day);
    valid_for.map(|_| Holiday { year, month, day })
}
