//! Everything that reads outside input, on stable Rust with structured generators: the same entry
//! points as the fuzz targets (`fuzz/`), checked on every `cargo test`. Flows are built from the
//! grammar with durations and retry counts far past what the format allows; tokens, call logs,
//! caller scripts, scenarios and file names are random text.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use switchboard::engine::{Action, Call, Event, Start, parse_and_check};
use switchboard::server::TokenKey;

/// A number as a flow file might hold one: ordinary, at the limits, or absurd.
fn extreme() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..100).prop_map(|n| n.to_string()),
        Just("86400".to_owned()),
        Just("86401".to_owned()),
        Just("-1".to_owned()),
        Just(i64::MAX.to_string()),
        Just(i64::MIN.to_string()),
        Just("18446744073709551615".to_owned()),
        Just("1e300".to_owned()),
        Just("0.5".to_owned()),
        Just("\"10s\"".to_owned()),
        Just("\"1000000h\"".to_owned()),
        Just("\"\"".to_owned()),
    ]
}

fn hands_over(actions: &[Action]) -> bool {
    actions.iter().any(|a| matches!(a, Action::Enqueue { .. } | Action::Dial { .. } | Action::Record { .. }))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Menus and inputs with any timeout and retry count: diagnostics, never a panic; a flow
    /// that is accepted takes a silent caller to a person.
    #[test]
    fn flows_with_extreme_timeouts_and_retries(
        nodes in prop::collection::vec((any::<bool>(), extreme(), extreme()), 1..6),
    ) {
        let mut text = "[flow]\nname = \"x\"\nstart = \"n0\"\noperator = \"op\"\n".to_owned();
        for (i, (menu, timeout, retries)) in nodes.iter().enumerate() {
            let next = if i + 1 == nodes.len() { "op".to_owned() } else { format!("n{}", i + 1) };
            let kind = if *menu {
                format!("kind = \"menu\"\noptions = {{ \"1\" = \"{next}\" }}")
            } else {
                format!("kind = \"input\"\nvar = \"v{i}\"\nnext = \"{next}\"")
            };
            text += &format!(
                "[nodes.n{i}]\n{kind}\nprompt = \"p\"\ntimeout = {timeout}\nretries = {retries}\nfallback = \"{next}\"\n"
            );
        }
        text += "[nodes.op]\nkind = \"queue\"\nqueue = \"q\"\n";
        let (flow, _diagnostics) = parse_and_check(&text);
        let Some(flow) = flow else { return Ok(()) };
        let _ = switchboard::engine::report::report(&flow);
        let at = chrono::NaiveDate::from_ymd_opt(2026, 5, 6).and_then(|d| d.and_hms_opt(11, 0, 0)).expect("valid");
        let (mut call, out) = Call::start(&flow, &Start { caller: None, language: None }, at);
        let mut reached = hands_over(&out.actions);
        for _ in 0..10_000 {
            if reached || call.is_over() {
                break;
            }
            reached = hands_over(&call.handle(&flow, Event::NoInput, at).actions);
        }
        prop_assert!(reached, "a silent caller never reached a person in\n{text}");
    }

    /// Any text as a state token is refused or opens, never panics; a sealed token opens to the
    /// same state for any call id and flow name, and in no other call.
    #[test]
    fn tokens_open_only_what_was_sealed(text in ".{0,200}", call_id in ".{0,60}", flow in "[a-z_-]{1,20}", seq: u32) {
        let key = TokenKey::new(b"prop").with_previous(b"old");
        let now: DateTime<Utc> = DateTime::from_timestamp(1_778_065_200, 0).expect("valid");
        let _ = key.open(&flow, &call_id, &text, now);
        let (hello, _) = parse_and_check(include_str!("../flows/hello.toml"));
        let hello = hello.expect("valid");
        let at = chrono::NaiveDate::from_ymd_opt(2026, 5, 6).and_then(|d| d.and_hms_opt(11, 0, 0)).expect("valid");
        let (call, _) = Call::start(&hello, &Start { caller: Some("+7999"), language: None }, at);
        let token = key.seal(&flow, &call_id, &call, seq, now);
        prop_assert!(token.len() < 200, "{} chars", token.len());
        let opened = key.open(&flow, &call_id, &token, now).expect("opens");
        prop_assert_eq!((opened.call, opened.seq), (call, seq));
        let other = format!("{call_id}x");
        prop_assert!(key.open(&flow, &other, &token, now).is_err());
    }

    /// Call logs of random rows: read or refused with a reason, never a panic; every warning
    /// names the file, a line and a column.
    #[test]
    fn call_logs_never_panic(
        header in prop::sample::subsequence(vec!["start", "queue", "wait", "duration", "handle_time", "status", "abandoned", "calls"], 0..8),
        rows in prop::collection::vec(prop::collection::vec("[0-9:. ,\"a-z-]{0,20}", 0..9), 0..30),
    ) {
        let mut text = header.join(",") + "\n";
        for row in &rows {
            text += &(row.join(",") + "\n");
        }
        if let Ok(log) = switchboard::fit_log::read("log.csv", &text) {
            for warning in &log.warnings {
                prop_assert!(warning.starts_with("log.csv:") && warning.contains(": warning: "), "{warning}");
            }
            let _ = switchboard::queue::fit::fit(&log.history, switchboard::queue::fit::EmptyDays::Closed);
        }
    }

    /// Caller scripts and scenario files of random text never panic.
    #[test]
    fn scripts_and_scenarios_never_panic(text in "[\\[\\]{}=\"a-z0-9\\n .#*,_-]{0,200}") {
        let _ = switchboard::script::parse_script(&text);
        let _ = switchboard::script::scenario::Scenarios::parse(&text);
    }

    /// A file name a request carries is plain only without separators, `..` or a leading dot.
    #[test]
    fn plain_names_never_leave_the_folder(name in "[./\\\\a-z%0-9]{0,12}") {
        if switchboard::confined::is_plain_name(&name) {
            prop_assert!(!name.contains('/') && !name.contains('\\') && !name.starts_with('.') && !name.is_empty());
            let path = std::path::Path::new("sounds").join(&name);
            prop_assert_eq!(path.parent(), Some(std::path::Path::new("sounds")));
        }
    }
}

/// Fuzz finding (`fit_csv`): one row with a mistyped year among a log's real dates made `fit`
/// walk every day up to the year 5089. The row is skipped with a warning at its place, and the
/// rest of the log is fitted.
#[test]
fn a_mistyped_year_is_skipped_not_walked() {
    let text = "interval,queue,calls\n5089-03-16 09:00,main,12\n2026-03-16 09:30,main,15\n2026-03-23 09:00,main,11\n";
    let log = switchboard::fit_log::read("log.csv", text).expect("a readable log");
    assert_eq!(log.skipped, 1);
    assert!(
        log.warnings[0].starts_with("log.csv:2:1: warning: skipped a row: a start more than 10 years"),
        "{:?}",
        log.warnings
    );
    let fit = switchboard::queue::fit::fit(&log.history, switchboard::queue::fit::EmptyDays::Closed).expect("a fit");
    assert_eq!((fit.first_day.to_string(), fit.days()), ("2026-03-16".to_owned(), 8));
}
