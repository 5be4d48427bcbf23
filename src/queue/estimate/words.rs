//! The estimate in words for callers: the best and worst times to call (runs of the quickest
//! and slowest slots per weekday, weekdays ranked by their wait) and waits (as a clock and in seconds) and periods in English.

use chrono::Weekday;

use super::SlotEstimate;
use crate::calendar::{WEEKDAYS, day_name};

/// A run of slots on one weekday, for the best and worst times to call.
#[derive(Clone, Debug, PartialEq)]
pub struct Period {
    pub weekday: Weekday,
    pub from_min: u32,
    pub to_min: u32,
    /// The longest typical wait of answered callers in the run; `+∞` when overloaded.
    pub wait_s: f64,
}

/// The best and worst times to call one queue.
#[derive(Clone, Debug, PartialEq)]
pub struct BestTimes {
    pub best: Vec<Period>,
    pub worst: Vec<Period>,
    /// Open weekdays, quickest first, with the call-weighted mean wait of answered callers.
    pub days: Vec<(Weekday, f64)>,
}

/// The few quickest and slowest open slots (ties at the cut included), merged into runs per
/// weekday, and the weekdays ranked by their call-weighted mean wait.
pub fn best_times(slots: &[SlotEstimate]) -> BestTimes {
    const FEW: usize = 6;
    let open: Vec<(&SlotEstimate, f64)> = slots.iter().filter_map(|s| s.wait_s().map(|w| (s, w))).collect();
    let mut waits: Vec<f64> = open.iter().map(|(_, w)| *w).collect();
    waits.sort_by(f64::total_cmp);
    let (best, worst) = match (waits.get(FEW.min(waits.len()).saturating_sub(1)), waits.len().checked_sub(FEW)) {
        (Some(&low), high) => {
            let high = waits[high.unwrap_or(0)];
            (runs(open.iter().filter(|(_, w)| *w <= low)), runs(open.iter().filter(|(_, w)| *w >= high)))
        }
        (None, _) => (Vec::new(), Vec::new()),
    };
    let mut days = Vec::new();
    for weekday in WEEKDAYS {
        let (mut weighted, mut calls) = (0.0, 0.0);
        for s in slots.iter().filter(|s| s.weekday == weekday) {
            if let (Some(t), Some(w)) = (s.typical, s.wait_s()) {
                weighted += w * t.arrivals_per_hour;
                calls += t.arrivals_per_hour;
            }
        }
        if calls > 0.0 {
            days.push((weekday, weighted / calls));
        }
    }
    days.sort_by(|a, b| a.1.total_cmp(&b.1));
    BestTimes { best, worst, days }
}

fn runs<'a>(cells: impl Iterator<Item = &'a (&'a SlotEstimate, f64)>) -> Vec<Period> {
    let mut out: Vec<Period> = Vec::new();
    for (s, w) in cells {
        let slot_min = s.slot_min;
        match out.last_mut() {
            Some(p) if p.weekday == s.weekday && p.to_min == s.start_min => {
                p.to_min += slot_min;
                p.wait_s = p.wait_s.max(*w);
            }
            _ => out.push(Period {
                weekday: s.weekday,
                from_min: s.start_min,
                to_min: s.start_min + slot_min,
                wait_s: *w,
            }),
        }
    }
    out
}

/// A wait as a clock and in seconds: `0:42 (42 s)`, `2:05 (125 s)`; overloaded without bound.
pub fn wait_clock(wait_s: f64) -> String {
    if !wait_s.is_finite() {
        return "without bound (the line is overloaded)".to_owned();
    }
    let s = wait_s.max(0.0).round() as u64;
    let clock = if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    };
    format!("{clock} ({s} s)")
}

/// A run of slots with its expected wait: `Wednesday 9:00–10:00, expected wait 0:42 (42 s)`;
/// a longer run gives its longest wait ("up to").
pub fn period_wait_words(p: &Period, slot_min: u32) -> String {
    let up_to = if p.to_min - p.from_min > slot_min { "up to " } else { "" };
    format!("{}, expected wait {up_to}{}", period_words(p), wait_clock(p.wait_s))
}

/// `1 day`, `2 days`: a count with its noun (regular plurals only).
pub fn count(n: impl Into<i64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// `9:00–10:00`.
pub fn period_words(p: &Period) -> String {
    let t = |m: u32| format!("{}:{:02}", m / 60, m % 60);
    format!("{} {}–{}", day_name(p.weekday), t(p.from_min), t(p.to_min))
}

/// The best and worst times as sentences a caller understands, with the expected waits.
pub fn best_sentences(b: &BestTimes, slot_min: u32) -> Vec<String> {
    let list = |ps: &[Period]| ps.iter().map(|p| period_wait_words(p, slot_min)).collect::<Vec<_>>().join("; ");
    let mut out = Vec::new();
    if b.best.is_empty() {
        out.push("The line is closed all week.".to_owned());
        return out;
    }
    out.push(format!("Best time to call: {}.", list(&b.best)));
    out.push(format!("Worst time to call: {}.", list(&b.worst)));
    let names: Vec<String> = b.days.iter().map(|(d, w)| format!("{} {}", day_name(*d), wait_clock(*w))).collect();
    out.push(format!("Days from quickest to slowest, with the mean wait: {}.", names.join(", ")));
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::default_model;
    use super::super::week;
    use super::*;

    #[test]
    fn best_and_worst_times() {
        let m = default_model();
        let b = best_times(&week(&m, m.queue("first_line").unwrap()));
        let rank = |d: Weekday| b.days.iter().position(|x| x.0 == d).unwrap();
        assert!(rank(Weekday::Wed) < rank(Weekday::Tue) && rank(Weekday::Thu) < rank(Weekday::Fri), "{:?}", b.days);
        assert_eq!(b.days.last().map(|d| d.0), Some(Weekday::Mon), "{:?}", b.days);
        assert!(b.worst.iter().all(|p| p.weekday == Weekday::Mon), "{:?}", b.worst);
        assert!(b.best.iter().all(|p| p.wait_s < b.worst[0].wait_s));
        assert_eq!(
            (count(1, "day"), count(0, "day"), count(2_u32, "week")),
            ("1 day".into(), "0 days".into(), "2 weeks".into())
        );
        assert_eq!(wait_clock(42.4), "0:42 (42 s)");
        assert_eq!(wait_clock(125.0), "2:05 (125 s)");
        assert_eq!(wait_clock(3723.0), "1:02:03 (3723 s)");
        assert_eq!(wait_clock(f64::INFINITY), "without bound (the line is overloaded)");
        let p = |from_min, to_min| Period { weekday: Weekday::Wed, from_min, to_min, wait_s: 42.0 };
        assert_eq!(period_wait_words(&p(540, 600), 60), "Wednesday 9:00–10:00, expected wait 0:42 (42 s)");
        assert_eq!(period_wait_words(&p(540, 660), 60), "Wednesday 9:00–11:00, expected wait up to 0:42 (42 s)");
        assert_eq!(
            period_words(&Period { weekday: Weekday::Wed, from_min: 540, to_min: 600, wait_s: 1.0 }),
            "Wednesday 9:00–10:00"
        );
    }
}
