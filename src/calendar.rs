//! The time vocabulary every part shares: the one weekday table, the reference week that
//! `"wed 10:00"` means, and the times people write on the command line, in scenario files and
//! in requests.
//!
//! Pure, like the engine: nothing here reads a clock or the machine's time zone.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Weekday};

/// Monday first, as flows, models and tables list the week.
pub const WEEKDAYS: [Weekday; 7] =
    [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

/// Weekday keys as flow and model files, JSON and CSV write them, Monday first.
pub const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Weekday names for sentences, Monday first; their first three letters head table columns.
const DAY_NAMES: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// The key of a weekday: `"mon"` … `"sun"`.
pub fn day_key(day: Weekday) -> &'static str {
    DAY_KEYS[day.num_days_from_monday() as usize]
}

/// The English name of a weekday: `"Monday"` … `"Sunday"`.
pub fn day_name(day: Weekday) -> &'static str {
    DAY_NAMES[day.num_days_from_monday() as usize]
}

/// The abbreviated name: `"Mon"` … `"Sun"`.
pub fn day_abbrev(day: Weekday) -> &'static str {
    &day_name(day)[..3]
}

/// The weekday of a time, as an index into [`WEEKDAYS`] (Monday 0).
pub fn day_index(at: NaiveDateTime) -> usize {
    at.weekday().num_days_from_monday() as usize
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a time: write a weekday and a time such as \"mon 10:15\", or \"2026-05-04 10:15\"")]
pub struct BadTime(pub String);

/// `"mon 10:15"` (in the [`reference_day`]s' week), `"2026-05-04 10:15"` or `"2026-05-04T10:15"`,
/// seconds optional.
pub fn parse_at(text: &str) -> Result<NaiveDateTime, BadTime> {
    let bad = || BadTime(text.to_owned());
    let t = text.trim();
    for format in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(t, format) {
            return Ok(at);
        }
    }
    let (day, time) = t.split_once(char::is_whitespace).ok_or_else(bad)?;
    let weekday: Weekday = day.parse().map_err(|_| bad())?;
    let time = NaiveTime::parse_from_str(time.trim(), "%H:%M").map_err(|_| bad())?;
    Ok(reference_day(weekday).and_time(time))
}

/// The given weekday in the reference week of 16-22 March 2026, chosen for having no public
/// holiday in the countries the sample flows serve.
pub fn reference_day(weekday: Weekday) -> NaiveDate {
    let monday = NaiveDate::from_ymd_opt(2026, 3, 16).expect("16 March 2026 is a date");
    monday + chrono::Days::new(u64::from(weekday.num_days_from_monday()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let at = parse_at("mon 10:15").unwrap();
        assert_eq!(at.to_string(), "2026-03-16 10:15:00");
        assert_eq!(parse_at("Sunday 23:59").unwrap().to_string(), "2026-03-22 23:59:00");
        assert_eq!(parse_at("2026-01-01 09:30").unwrap().to_string(), "2026-01-01 09:30:00");
        assert_eq!(parse_at("someday"), Err(BadTime("someday".into())));
        assert!(parse_at("mon 25:00").is_err());
    }

    #[test]
    fn weekday_table() {
        for (i, day) in WEEKDAYS.into_iter().enumerate() {
            assert_eq!(day.num_days_from_monday() as usize, i);
            assert_eq!(day_key(day), day.to_string().to_lowercase());
            assert_eq!(day_abbrev(day), day.to_string());
            assert_eq!(day_index(reference_day(day).and_hms_opt(12, 0, 0).unwrap()), i);
        }
    }
}
