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

/// Official non-working days of a country by year, as `(year, month, day)`: the days a flow's
/// `holidays = ["ru"]` closes on. Weekend days are listed only where a holiday falls on them.
///
/// Russia: the holidays of the Labour Code, art. 112 (1–8 January, 23 February, 8 March,
/// 1 and 9 May, 12 June, 4 November) and the days off they move to.
/// 2026: Government decree No. 1466 of 24 September 2025 moves 3 and 4 January (Saturday,
/// Sunday) to Friday 9 January and Thursday 31 December; 8 March (Sunday) and 9 May (Saturday)
/// move to the next Mondays by art. 112 itself.
/// 2027: art. 112 and its automatic moves (1 May, a Saturday, to Monday 3 May; 9 May, a Sunday,
/// to 10 May; 12 June, a Saturday, to 14 June). Where 2 and 3 January 2027 go is the next
/// decree's to say (Mintrud's draft of 2026 put New Year's days off at 31 December – 10 January);
/// add its days here when it is published.
#[rustfmt::skip]
const RU: &[(i32, u32, u32)] = &[
    (2026, 1, 1), (2026, 1, 2), (2026, 1, 3), (2026, 1, 4), (2026, 1, 5), (2026, 1, 6), (2026, 1, 7),
    (2026, 1, 8), (2026, 1, 9), (2026, 2, 23), (2026, 3, 8), (2026, 3, 9), (2026, 5, 1), (2026, 5, 9),
    (2026, 5, 11), (2026, 6, 12), (2026, 11, 4), (2026, 12, 31),
    (2027, 1, 1), (2027, 1, 2), (2027, 1, 3), (2027, 1, 4), (2027, 1, 5), (2027, 1, 6), (2027, 1, 7),
    (2027, 1, 8), (2027, 2, 23), (2027, 3, 8), (2027, 5, 1), (2027, 5, 3), (2027, 5, 9), (2027, 5, 10),
    (2027, 6, 12), (2027, 6, 14), (2027, 11, 4),
];

/// The named holiday calendars a flow may use.
pub const HOLIDAY_CALENDARS: [&str; 1] = ["ru"];

/// The non-working days of a named calendar, or `None` for a name there is no calendar for.
pub fn holiday_calendar(name: &str) -> Option<impl Iterator<Item = NaiveDate>> {
    let days = match name {
        "ru" => RU,
        _ => return None,
    };
    Some(days.iter().filter_map(|&(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)))
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

    #[test]
    fn russian_non_working_days() {
        let days: Vec<NaiveDate> = holiday_calendar("ru").unwrap().collect();
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        for d in 1..=9 {
            assert!(days.contains(&day(2026, 1, d)), "1-9 January 2026");
        }
        assert!(!days.contains(&day(2026, 1, 12)), "work resumes on 12 January 2026");
        for moved in [day(2026, 3, 9), day(2026, 5, 11), day(2026, 12, 31), day(2027, 5, 3), day(2027, 6, 14)] {
            assert!(days.contains(&moved), "{moved} is a day off moved from a weekend holiday");
            assert!(moved.weekday().num_days_from_monday() < 5, "{moved} is a weekday");
        }
        assert_eq!(days.len(), 35, "every date is a real one");
        assert!(holiday_calendar("xx").is_none());
    }
}
