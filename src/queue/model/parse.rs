//! `*.model.toml` text → [`Model`], read with the engine's spanned `Reader` so that every
//! problem becomes a [`Diagnostic`] at its span; all problems are collected, and nothing in the
//! analyst's file may panic us.

use toml::de::{DeTable, DeValue};

use super::{Callback, Callers, FetchOdds, IvrArrivals, Model, Overflow, QueueModel, Week, slots_per_day};
use crate::calendar::DAY_KEYS as DAYS;
use crate::engine::diagnostic::{Diagnostic, suggest};
use crate::engine::reader::{Fields, Reader, Value, parse_range};

/// Parses a model; `Err` holds every problem found.
pub fn parse(source: &str) -> Result<Model, Vec<Diagnostic>> {
    let mut r = Reader::default();
    let model = match DeTable::parse(source) {
        Ok(doc) => model(&mut r, doc.get_ref()),
        Err(e) => {
            let message = e.message().trim_end().to_owned();
            r.diags.push(Diagnostic::error(e.span().unwrap_or(0..0), format!("invalid TOML: {message}")));
            None
        }
    };
    match model {
        Some(m) if !r.diags.iter().any(Diagnostic::is_error) => Ok(m),
        _ => Err(r.diags),
    }
}

const TOP: &[&str] =
    &["timezone", "interval", "service_level", "busy_quantile", "hours", "ivr", "queues", "callers", "fetch"];
const FETCH: &[&str] = &["latency", "not_found", "failed", "values"];
const IVR: &[&str] = &["weekly_calls", "weekday_shares", "hour_shares", "arrivals", "daily_cv"];
const QUEUE: &[&str] = &[
    "weekly_calls",
    "weekday_shares",
    "hour_shares",
    "arrivals",
    "daily_cv",
    "handle_time",
    "handle_time_cv",
    "patience",
    "shifts",
    "agents",
    "overflow",
];
const CALLERS: &[&str] = &[
    "think_time",
    "zero_out",
    "silent",
    "speak",
    "mumble",
    "hangup",
    "retrial",
    "retrial_delay",
    "choices",
    "callback",
];

fn model(r: &mut Reader, doc: &DeTable) -> Option<Model> {
    let whole = 0..0;
    let root = Value::new(whole.clone(), DeValue::Table(doc.clone()));
    let f = r.fields(&root, TOP, "the model")?;
    let timezone = f.get("timezone").and_then(|v| {
        let tz = r.string(v, "timezone")?;
        if tz.parse::<chrono_tz::Tz>().is_err() {
            r.diags.push(Diagnostic::error(
                v.span(),
                format!("`{tz}` is not an IANA time zone (such as \"Europe/Moscow\")"),
            ));
        }
        Some(tz.to_owned())
    });
    let slot_min = match f.get("interval") {
        Some(v) => match r.duration_ms(v, "interval").map(|ms| ms / 60_000) {
            Some(m @ (15 | 30 | 60)) => m,
            Some(_) => {
                r.diags.push(Diagnostic::error(v.span(), "interval must be 15m, 30m or 60m"));
                60
            }
            None => 60,
        },
        None => 60,
    };
    let (mut target_s, mut target_share) = (20.0, 0.8);
    if let Some(v) = f.get("service_level")
        && let Some(sl) = r.fields(v, &["target", "share"], "service_level")
    {
        if let Some(t) = sl.get("target") {
            target_s = r.duration_ms(t, "target").map_or(target_s, |ms| f64::from(ms) / 1000.0);
        }
        if let Some(s) = sl.get("share") {
            target_share = probability(r, s, "share").unwrap_or(target_share);
        }
    }
    let busy_quantile = f.get("busy_quantile").and_then(|v| probability(r, v, "busy_quantile")).unwrap_or(0.9);
    let hours = f.get("hours").map(|v| r.hours(v)).unwrap_or_default();
    let ivr = f.get("ivr").and_then(|v| {
        let i = r.fields(v, IVR, "[ivr]")?;
        let arrivals = arrivals(r, &i, "[ivr]", slot_min)?;
        let daily_cv = i.get("daily_cv").and_then(|x| positive(r, x, "daily_cv")).unwrap_or(0.0);
        Some(IvrArrivals { arrivals, daily_cv })
    });
    let mut queues = Vec::new();
    match f.get("queues") {
        Some(v) => {
            if let Some(t) = r.table(v, "[queues]") {
                for (name, q) in t.iter() {
                    if let Some(queue) = queue(r, name.get_ref(), q, slot_min) {
                        queues.push(queue);
                    }
                }
            }
        }
        None => r.diags.push(Diagnostic::error(whole.clone(), "the model has no queues: add [queues.<name>] sections")),
    }
    for q in &queues {
        if let Some(o) = &q.overflow
            && !queues.iter().any(|other| other.name == o.to)
        {
            let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
            let mut d = Diagnostic::error(
                whole.clone(),
                format!("queue `{}` overflows to `{}`, which is not a queue of the model", q.name, o.to),
            );
            d.help = suggest(&o.to, names);
            r.diags.push(d);
        }
    }
    let callers = match f.get("callers") {
        Some(v) => callers(r, v),
        None => Callers::default(),
    };
    let fetch = f.get("fetch").map(|v| fetch(r, v)).unwrap_or_default();
    Some(Model { timezone, slot_min, target_s, target_share, busy_quantile, hours, ivr, queues, callers, fetch })
}

/// `[fetch]`: per fetch node id (or `default`), its backend's latency and odds.
fn fetch(r: &mut Reader, v: &Value) -> Vec<(String, FetchOdds)> {
    let mut all = Vec::new();
    let Some(nodes) = r.table(v, "[fetch]") else { return all };
    for (node, odds) in nodes.iter() {
        let what = format!("fetch `{}`", node.get_ref());
        let Some(f) = r.fields(odds, FETCH, &what) else { continue };
        let mut o = FetchOdds::default();
        if let Some(x) = f.get("latency") {
            o.latency_s = seconds(r, x, "latency").unwrap_or(0.0);
        }
        if let Some(x) = f.get("not_found") {
            o.not_found = probability(r, x, "not_found").unwrap_or(0.0);
        }
        if let Some(x) = f.get("failed") {
            o.failed = probability(r, x, "failed").unwrap_or(0.0);
        }
        if o.not_found + o.failed > 1.0 {
            r.diags
                .push(Diagnostic::error(f.span.clone(), format!("{what}: not_found and failed add up to more than 1")));
        }
        if let Some(x) = f.get("values")
            && let Some(pointers) = r.table(x, "values")
        {
            for (pointer, weights) in pointers.iter() {
                if !pointer.get_ref().starts_with('/') {
                    let message = format!("`{}` is not a JSON pointer: write \"/field\"", pointer.get_ref());
                    r.diags.push(Diagnostic::error(pointer.span(), message));
                    continue;
                }
                let Some(w) = r.table(weights, "a pointer's values") else { continue };
                let mut values = Vec::new();
                for (value, weight) in w.iter() {
                    if let Some(x) = positive(r, weight, "a value's weight") {
                        values.push((value.get_ref().to_string(), x));
                    }
                }
                if values.iter().map(|(_, x)| x).sum::<f64>() <= 0.0 {
                    r.diags.push(Diagnostic::error(weights.span(), "give at least one value a weight above 0"));
                }
                o.values.push((pointer.get_ref().to_string(), values));
            }
        }
        all.push((node.get_ref().to_string(), o));
    }
    all
}

fn probability(r: &mut Reader, v: &Value, what: &str) -> Option<f64> {
    let p = r.number(v, what)?;
    if (0.0..=1.0).contains(&p) {
        Some(p)
    } else {
        r.diags.push(Diagnostic::error(v.span(), format!("{what} must be from 0 to 1")));
        None
    }
}

fn positive(r: &mut Reader, v: &Value, what: &str) -> Option<f64> {
    let x = r.number(v, what)?;
    if x >= 0.0 {
        Some(x)
    } else {
        r.diags.push(Diagnostic::error(v.span(), format!("{what} must not be negative")));
        None
    }
}

fn seconds(r: &mut Reader, v: &Value, what: &str) -> Option<f64> {
    r.duration_ms(v, what).map(|ms| f64::from(ms) / 1000.0)
}

fn queue(r: &mut Reader, name: &str, value: &Value, slot_min: u32) -> Option<QueueModel> {
    let what = format!("queue `{name}`");
    let f = r.fields(value, QUEUE, &what)?;
    let arrivals = arrivals(r, &f, &what, slot_min);
    let daily_cv = f.get("daily_cv").and_then(|v| positive(r, v, "daily_cv")).unwrap_or(0.0);
    let aht_s = match f.get("handle_time") {
        Some(v) => seconds(r, v, "handle_time").filter(|s| *s > 0.0),
        None => {
            r.diags.push(Diagnostic::error(f.span.clone(), format!("{what} needs handle_time, such as \"5m\"")));
            None
        }
    };
    let service_cv = f.get("handle_time_cv").and_then(|v| positive(r, v, "handle_time_cv")).filter(|cv| *cv > 0.0);
    let patience_s = f.get("patience").and_then(|v| seconds(r, v, "patience")).filter(|s| *s > 0.0);
    let agents = match (f.get("agents"), f.get("shifts")) {
        (Some(table), None) => day_table(r, table, "agents", slot_min),
        (None, Some(list)) => shifts(r, list, slot_min),
        (Some(v), Some(_)) => {
            r.diags.push(Diagnostic::error(v.span(), "give either `agents` or `shifts`, not both"));
            None
        }
        (None, None) => {
            r.diags.push(Diagnostic::error(
                f.span.clone(),
                format!("{what} needs its staffing: `shifts` or an `agents` table"),
            ));
            None
        }
    };
    let overflow = f.get("overflow").and_then(|v| {
        let o = r.fields(v, &["to", "after"], "overflow")?;
        let to = o.get("to").and_then(|t| r.string(t, "to")).map(str::to_owned);
        let after_s = o.get("after").and_then(|a| seconds(r, a, "after"));
        match (to, after_s) {
            (Some(to), Some(after_s)) => Some(Overflow { to, after_s }),
            _ => {
                r.diags.push(Diagnostic::error(v.span(), "overflow needs `to` (a queue) and `after` (a wait)"));
                None
            }
        }
    });
    Some(QueueModel {
        name: name.to_owned(),
        arrivals: arrivals?,
        daily_cv,
        aht_s: aht_s?,
        service_cv,
        patience_s,
        agents: agents?,
        overflow,
    })
}

/// Arrivals from `weekly_calls` with `weekday_shares` and `hour_shares`, or an `arrivals`
/// table of calls per hour.
fn arrivals(r: &mut Reader, f: &Fields, what: &str, slot_min: u32) -> Option<Week> {
    let slots = slots_per_day(slot_min);
    match (f.get("arrivals"), f.get("weekly_calls")) {
        (Some(table), None) => day_table(r, table, "arrivals", slot_min),
        (None, Some(weekly)) => {
            let weekly = positive(r, weekly, "weekly_calls")?;
            let days = match f.get("weekday_shares") {
                Some(v) => shares_by_day(r, v)?,
                None => [1.0 / 7.0; 7],
            };
            let hours = match f.get("hour_shares") {
                Some(v) => series(r, v, "hour_shares", slots)?,
                None => vec![1.0; slots],
            };
            let hour_sum: f64 = hours.iter().sum();
            if hour_sum <= 0.0 {
                r.diags.push(Diagnostic::error(f.span.clone(), "hour_shares add up to zero"));
                return None;
            }
            let mut week = Week::zero(slot_min);
            let slot_h = f64::from(slot_min) / 60.0;
            for (d, share) in days.iter().enumerate() {
                for (s, h) in hours.iter().enumerate() {
                    // Calls in the slot, as a rate per hour.
                    week.values[d * slots + s] = weekly * share * (h / hour_sum) / slot_h;
                }
            }
            Some(week)
        }
        (Some(v), Some(_)) => {
            r.diags.push(Diagnostic::error(v.span(), "give either `arrivals` or `weekly_calls`, not both"));
            None
        }
        (None, None) => {
            r.diags.push(
                Diagnostic::error(f.span.clone(), format!("{what} needs its arrivals"))
                    .with_help("add weekly_calls with weekday_shares and hour_shares, or an arrivals table"),
            );
            None
        }
    }
}

/// `{ mon = 22, tue = 18, ... }`, normalised to sum to 1; missing days are 0.
fn shares_by_day(r: &mut Reader, v: &Value) -> Option<[f64; 7]> {
    let t = r.fields(v, &DAYS, "weekday_shares")?;
    let mut shares = [0.0; 7];
    for (i, day) in DAYS.iter().enumerate() {
        if let Some(x) = t.get(day) {
            shares[i] = positive(r, x, day)?;
        }
    }
    let sum: f64 = shares.iter().sum();
    if sum <= 0.0 {
        r.diags.push(Diagnostic::error(v.span(), "weekday_shares add up to zero"));
        return None;
    }
    Some(shares.map(|s| s / sum))
}

/// A list of `slots` non-negative numbers.
fn series(r: &mut Reader, v: &Value, what: &str, slots: usize) -> Option<Vec<f64>> {
    let DeValue::Array(items) = v.get_ref() else {
        r.diags.push(Diagnostic::error(
            v.span(),
            format!("{what} must be a list of {slots} numbers, one per slot of the day"),
        ));
        return None;
    };
    if items.len() != slots {
        r.diags.push(Diagnostic::error(
            v.span(),
            format!("{what} has {} values; the day has {slots} slots at this interval", items.len()),
        ));
        return None;
    }
    items.iter().map(|x| positive(r, x, what)).collect()
}

/// `{ mon = [...], tue = [...] }` with one value per slot; missing days are 0.
fn day_table(r: &mut Reader, v: &Value, what: &str, slot_min: u32) -> Option<Week> {
    let t = r.fields(v, &DAYS, what)?;
    let slots = slots_per_day(slot_min);
    let mut week = Week::zero(slot_min);
    for (d, day) in DAYS.iter().enumerate() {
        if let Some(list) = t.get(day) {
            let values = series(r, list, &format!("{what}.{day}"), slots)?;
            week.values[d * slots..(d + 1) * slots].copy_from_slice(&values);
        }
    }
    Some(week)
}

/// Shifts add up: `[{ days = "mon-fri", from = "09:00", to = "17:00", agents = 12 }, ...]`.
fn shifts(r: &mut Reader, v: &Value, slot_min: u32) -> Option<Week> {
    let DeValue::Array(items) = v.get_ref() else {
        r.diags.push(Diagnostic::error(v.span(), "shifts must be a list of { days, from, to, agents } tables"));
        return None;
    };
    let slots = slots_per_day(slot_min);
    let mut week = Week::zero(slot_min);
    for item in items.iter() {
        let Some(s) = r.fields(item, &["days", "from", "to", "agents"], "a shift") else { continue };
        let days = s.get("days").and_then(|d| {
            let text = r.string(d, "days")?;
            let days = parse_days(text);
            if days.is_none() {
                r.diags.push(
                    Diagnostic::error(d.span(), format!("`{text}` is not a set of days"))
                        .with_help("write \"mon-fri\", \"sat,sun\", \"wed\" or \"all\""),
                );
            }
            days
        });
        let range = match (s.get("from").and_then(|x| r.string(x, "from")), s.get("to").and_then(|x| r.string(x, "to")))
        {
            (Some(from), Some(to)) => {
                let range = parse_range(&format!("{from}-{to}"));
                if range.is_none() {
                    r.diags.push(Diagnostic::error(item.span(), format!("`{from}`-`{to}` is not a time range")));
                }
                range
            }
            _ => {
                r.diags.push(Diagnostic::error(item.span(), "a shift needs `from` and `to` times such as \"09:00\""));
                None
            }
        };
        let agents = s.get("agents").and_then(|a| r.int(a, "agents", 0..=1_000_000));
        let (Some(days), Some((from, to)), Some(agents)) = (days, range, agents) else { continue };
        for (d, on) in days.iter().enumerate() {
            if !on {
                continue;
            }
            for slot in 0..slots {
                let start = slot as u32 * slot_min;
                // A slot counts the agents present for all of it.
                if start >= u32::from(from) && start + slot_min <= u32::from(to) {
                    week.values[d * slots + slot] += agents as f64;
                }
            }
        }
    }
    Some(week)
}

/// `"mon-fri"`, `"sat,sun"`, `"wed"`, `"all"`.
pub fn parse_days(text: &str) -> Option<[bool; 7]> {
    let mut days = [false; 7];
    let index = |d: &str| DAYS.iter().position(|x| x.eq_ignore_ascii_case(d.trim()));
    for part in text.split(',') {
        let part = part.trim();
        if part.eq_ignore_ascii_case("all") {
            return Some([true; 7]);
        }
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (index(a)?, index(b)?);
                if a > b {
                    return None;
                }
                days[a..=b].iter_mut().for_each(|d| *d = true);
            }
            None => days[index(part)?] = true,
        }
    }
    Some(days)
}

fn callers(r: &mut Reader, v: &Value) -> Callers {
    let mut c = Callers::default();
    let Some(f) = r.fields(v, CALLERS, "[callers]") else { return c };
    if let Some(x) = f.get("think_time") {
        c.think_s = seconds(r, x, "think_time").unwrap_or(c.think_s);
    }
    for (field, slot) in [
        ("zero_out", &mut c.zero_out),
        ("silent", &mut c.silent),
        ("speak", &mut c.speak),
        ("mumble", &mut c.mumble),
        ("hangup", &mut c.hangup),
        ("retrial", &mut c.retrial),
    ] {
        if let Some(x) = f.get(field) {
            *slot = probability(r, x, field).unwrap_or(*slot);
        }
    }
    if let Some(x) = f.get("retrial_delay") {
        c.retrial_delay_s = seconds(r, x, "retrial_delay").unwrap_or(c.retrial_delay_s);
    }
    if let Some(x) = f.get("choices")
        && let Some(menus) = r.table(x, "choices")
    {
        for (menu, weights) in menus.iter() {
            let Some(w) = r.table(weights, "a menu's choices") else { continue };
            let mut keys = Vec::new();
            for (key, weight) in w.iter() {
                let mut chars = key.get_ref().chars();
                match (chars.next(), chars.next()) {
                    (Some(k), None) if crate::engine::matching::is_phone_key(k) => {
                        if let Some(x) = positive(r, weight, "a choice weight") {
                            keys.push((k, x));
                        }
                    }
                    _ => r.diags.push(Diagnostic::error(
                        key.span(),
                        format!("`{}` is not a key of 0-9, * or #", key.get_ref()),
                    )),
                }
            }
            c.choices.push((menu.get_ref().to_string(), keys));
        }
    }
    if let Some(x) = f.get("callback")
        && let Some(cb) = r.fields(x, &["node", "queue", "after"], "callback")
    {
        let node = cb.get("node").and_then(|n| r.string(n, "node")).map(str::to_owned);
        let queue = cb.get("queue").and_then(|q| r.string(q, "queue")).map(str::to_owned);
        let delay_s = cb.get("after").and_then(|a| seconds(r, a, "after")).unwrap_or(1200.0);
        match (node, queue) {
            (Some(node), Some(queue)) => c.callback = Some(Callback { node, queue, delay_s }),
            _ => r
                .diags
                .push(Diagnostic::error(x.span(), "callback needs `node` (the flow node that books it) and `queue`")),
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_at;

    const MODEL: &str = r#"
interval = "60m"
service_level = { target = "20s", share = 0.8 }
[hours]
mon = "09:00-18:00"
[queues.first_line]
weekly_calls = 700
weekday_shares = { mon = 2, tue = 1, wed = 1, thu = 1, fri = 1, sat = 1 }
hour_shares = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
handle_time = "5m"
handle_time_cv = 0.8
patience = "2m"
shifts = [{ days = "mon-fri", from = "09:00", to = "18:00", agents = 10 }, { days = "mon", from = "11:00", to = "13:00", agents = 2 }]
overflow = { to = "second_line", after = "3m" }
[queues.second_line]
arrivals = { mon = [0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 5, 5, 5, 5, 5, 5, 5, 0, 0, 0, 0, 0, 0, 0] }
handle_time = "10m"
agents = { mon = [0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0] }
[callers]
zero_out = 0.1
choices = { main = { "1" = 3, "2" = 1 } }
callback = { node = "callback", queue = "first_line", after = "30m" }
"#;

    #[test]
    fn parses_shares_and_shifts() {
        let m = parse(MODEL).unwrap_or_else(|d| panic!("{d:?}"));
        let q = m.queue("first_line").unwrap();
        // Monday: 700 × 2/7 = 200 calls; 11:00 has 2/10 of them.
        assert!((q.arrivals.at(parse_at("mon 11:30").unwrap()) - 40.0).abs() < 1e-9);
        assert!((q.arrivals.at(parse_at("tue 09:00").unwrap()) - 10.0).abs() < 1e-9);
        assert_eq!(q.arrivals.at(parse_at("sun 11:00").unwrap()), 0.0);
        assert_eq!(q.agents.at(parse_at("mon 12:00").unwrap()), 12.0);
        assert_eq!(q.agents.at(parse_at("wed 12:00").unwrap()), 10.0);
        assert_eq!(q.agents.at(parse_at("wed 18:00").unwrap()), 0.0);
        assert_eq!((q.aht_s, q.service_cv, q.patience_s), (300.0, Some(0.8), Some(120.0)));
        assert_eq!(q.overflow, Some(Overflow { to: "second_line".into(), after_s: 180.0 }));
        assert_eq!(m.queue("second_line").unwrap().arrivals.at(parse_at("mon 10:00").unwrap()), 5.0);
        assert_eq!(m.callers.zero_out, 0.1);
        assert_eq!(m.callers.choices, vec![("main".to_owned(), vec![('1', 3.0), ('2', 1.0)])]);
        assert!(m.is_open(parse_at("mon 10:00").unwrap()) && !m.is_open(parse_at("tue 10:00").unwrap()));
    }

    #[test]
    fn problems_are_reported_with_spans() {
        let check = |from: &str, to: &str, expected: &str| {
            let src = MODEL.replace(from, to);
            let errors = parse(&src).expect_err("the model has an error");
            assert!(errors.iter().any(|d| d.message.contains(expected)), "{expected:?} not in {errors:?}");
            assert!(errors.iter().all(|d| d.span.end <= src.len()));
        };
        check("handle_time = \"5m\"", "handle_tme = \"5m\"", "unknown field `handle_tme`");
        check("days = \"mon-fri\"", "days = \"fri-mon\"", "not a set of days");
        check("to = \"second_line\"", "to = \"third_line\"", "not a queue of the model");
        check("0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2", "0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2", "has 23 values");
        check("zero_out = 0.1", "zero_out = 1.5", "must be from 0 to 1");
        check("interval = \"60m\"", "interval = \"45m\"", "15m, 30m or 60m");
        check("[hours]", "[hours", "invalid TOML");
    }

    #[test]
    fn fetch_odds_are_read_and_checked_where_written() {
        let odds = "[fetch.look]\nlatency = \"300ms\"\nnot_found = 0.05\nfailed = 0.02\n\
                    values = { \"/status\" = { done = 3, new = 1 } }\n[fetch.default]\nfailed = 0.5\n";
        let m = parse(&format!("{MODEL}{odds}")).unwrap_or_else(|d| panic!("{d:?}"));
        let look = m.fetch_odds("look").unwrap();
        assert_eq!((look.latency_s, look.not_found, look.failed), (0.3, 0.05, 0.02));
        assert_eq!(look.values, vec![("/status".to_owned(), vec![("done".to_owned(), 3.0), ("new".to_owned(), 1.0)])]);
        assert_eq!(m.fetch_odds("other").map(|o| o.failed), Some(0.5), "the default");
        assert!(parse(MODEL).unwrap().fetch_odds("look").is_none());
        let error_at = |odds: &str, expected: &str| {
            let src = format!("{MODEL}{odds}");
            let errors = parse(&src).expect_err("the model has an error");
            let d = errors.iter().find(|d| d.message.contains(expected)).unwrap_or_else(|| panic!("{errors:?}"));
            let rendered = d.render("m.toml", &src);
            let line = src[..d.span.start].matches('\n').count() + 1;
            assert!(rendered.contains(&format!("m.toml:{line}:")), "{rendered}");
        };
        error_at("[fetch.look]\nnot_found = 1.5\n", "not_found must be from 0 to 1");
        error_at("[fetch.look]\nnot_found = 0.6\nfailed = 0.6\n", "add up to more than 1");
        error_at("[fetch.look]\nvalues = { status = { done = 1 } }\n", "not a JSON pointer");
        error_at("[fetch.look]\nvalues = { \"/s\" = { done = 0 } }\n", "a weight above 0");
        error_at("[fetch.look]\nlatncy = \"1s\"\n", "unknown field `latncy`");
    }

    #[test]
    fn days() {
        assert_eq!(parse_days("mon-fri"), Some([true, true, true, true, true, false, false]));
        assert_eq!(parse_days("sat, sun"), Some([false, false, false, false, false, true, true]));
        assert_eq!(parse_days("all"), Some([true; 7]));
        assert_eq!(parse_days("fri-mon"), None);
        assert_eq!(parse_days("someday"), None);
    }
}
