//! Laws of the engine on the sample hotline, checked on random callers, and the parser's
//! robustness on random damage to a real flow file.

use std::path::Path;

use proptest::prelude::*;
use switchboard::calendar::{parse_at, reference_day};
use switchboard::engine::{Action, Call, Event, Flow, Millis, Start, report};
use switchboard::files;

fn support() -> Flow {
    let loaded = files::read_flow(Path::new("flows/support.toml"), Path::new("sounds")).expect("the sample flow reads");
    loaded.flow.expect("the sample flow is clean")
}

#[derive(Clone, Debug)]
enum Input {
    Key(char),
    Entry(String),
    Silence,
    Speech(&'static str),
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        4 => prop::sample::select(vec!['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#']).prop_map(Input::Key),
        1 => "[0-9]{1,12}#?".prop_map(Input::Entry),
        2 => Just(Input::Silence),
        1 => prop::sample::select(vec!["жалоба", "ммм", "english", "заказ", "не работает", "ну это"]).prop_map(Input::Speech),
    ]
}

fn feed(call: &mut Call, flow: &Flow, input: &Input, now: chrono::NaiveDateTime) -> Vec<Action> {
    let event = match input {
        Input::Key(k) => return call.handle(flow, Event::Digits(&k.to_string()), now).actions,
        Input::Entry(e) => Event::Digits(e),
        Input::Silence => Event::NoInput,
        Input::Speech(s) => Event::Speech { text: s, confidence: 0.9 },
    };
    call.handle(flow, event, now).actions
}

fn hands_over(actions: &[Action]) -> bool {
    actions.iter().any(|a| matches!(a, Action::Enqueue { .. } | Action::Dial { .. }))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// From every state a random caller reaches, pressing 0 hands the call to a person at once,
    /// and staying silent does within a few timeouts; while listening, the engine always asks.
    #[test]
    fn escape_and_silence_reach_a_person_from_every_state(
        inputs in prop::collection::vec(input(), 0..12),
        day in 0u32..5,
        hour in 9u32..21,
    ) {
        let flow = support();
        let weekday = chrono::Weekday::try_from(u8::try_from(day).unwrap()).unwrap();
        let now = reference_day(weekday).and_hms_opt(hour, 0, 0).unwrap();
        let (mut call, out) = Call::start(&flow, &Start::default(), now);
        prop_assert!(matches!(out.actions.last(), Some(Action::Gather(_))));
        for input in &inputs {
            if call.is_over() {
                break;
            }
            let actions = feed(&mut call, &flow, input, now);
            if call.is_listening() {
                prop_assert!(matches!(actions.last(), Some(Action::Gather(_))), "listening without a gather: {actions:?}");
            }
        }
        if call.is_listening() {
            let mut escaped = call.clone();
            let actions = escaped.handle(&flow, Event::Digits("0"), now).actions;
            prop_assert!(hands_over(&actions), "0 at {:?} gave {actions:?}", flow.node(call.node()).id);
            let mut silent = call.clone();
            let mut reached = false;
            for _ in 0..12 {
                if hands_over(&silent.handle(&flow, Event::NoInput, now).actions) {
                    reached = true;
                    break;
                }
            }
            prop_assert!(reached, "silence at {:?} never reached a person", flow.node(call.node()).id);
        }
    }

    /// Chains of menus with timeouts up to a day and up to 20 re-prompts each (the limits the
    /// format allows) never panic, and every worst case is at least each part it adds up.
    #[test]
    fn long_timeouts_add_up_without_overflow(
        menus in prop::collection::vec((0u32..=86_400, 0u8..=20, 1usize..400), 1..40),
    ) {
        let mut text = "[flow]\nname = \"chain\"\nstart = \"m0\"\noperator = \"op\"\n".to_owned();
        for (i, (timeout_s, retries, prompt_len)) in menus.iter().enumerate() {
            let next = if i + 1 == menus.len() { "op".to_owned() } else { format!("m{}", i + 1) };
            text += &format!(
                "[nodes.m{i}]\nkind = \"menu\"\nprompt = \"{}\"\noptions = {{ \"1\" = \"{next}\" }}\n\
                 timeout = {timeout_s}\nretries = {retries}\nfallback = \"{next}\"\n",
                "a".repeat(*prompt_len)
            );
        }
        text += "[nodes.op]\nkind = \"queue\"\nqueue = \"first_line\"\n";
        let (flow, diagnostics) = switchboard::engine::parse_and_check(&text);
        let flow = flow.ok_or_else(|| TestCaseError::fail(format!("{diagnostics:?}")))?;
        let r = report::report(&flow);
        let times = |i: usize| r.menus.iter().find(|m| m.node == format!("m{i}"));
        let silence: Vec<Millis> = (0..menus.len()).map(|i| times(i).and_then(|m| m.silence_ms).unwrap_or_default()).collect();
        for (i, (timeout_s, retries, _)) in menus.iter().enumerate() {
            let waited = Millis(u64::from(*timeout_s) * 1000 * (u64::from(*retries) + 1));
            prop_assert!(silence[i] >= waited, "menu {i}: {:?} < {waited:?}", silence[i]);
            if let Some(next) = silence.get(i + 1) {
                prop_assert!(silence[i] >= *next, "menu {i}: {:?} < the next menu's {next:?}", silence[i]);
            }
            prop_assert!(times(i).and_then(|m| m.escape_ms).is_some_and(|e| e <= silence[i]));
        }
        prop_assert_eq!(r.start.silence_ms, Some(silence[0]));
        prop_assert!(r.longest_ms.is_some());
    }

    /// Damaged flow files give diagnostics, never a panic.
    #[test]
    fn damaged_flows_never_panic(cut in 0usize..20_000, len in 0usize..200, insert in "[\\[\\]{}=\"a-z0-9\\n .#-]{0,20}") {
        let source = std::fs::read_to_string("flows/support.toml").unwrap();
        let mut bytes = source.into_bytes();
        let at = cut.min(bytes.len());
        let end = (at + len).min(bytes.len());
        bytes.splice(at..end, insert.bytes());
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let loaded = files::flow_from_source(Path::new("x.toml"), text, Path::new("sounds"));
        let _ = loaded.render();
    }
}

#[test]
fn after_hours_callers_reach_voicemail() {
    let flow = support();
    let (call, out) = Call::start(&flow, &Start::default(), parse_at("sun 12:00").unwrap());
    assert!(out.actions.iter().any(|a| matches!(a, Action::Record { .. })));
    assert!(call.is_over());
}
