//! A scenario file (`*.test.toml`), checked against and played on the sample support flow.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use switchboard::engine::{Flow, parse_and_check};
use switchboard::script::scenario::{self, Scenarios};

static SUPPORT: LazyLock<Flow> = LazyLock::new(|| {
    let (flow, _) = parse_and_check(include_str!("../../flows/support.toml"));
    flow.expect("the sample flow is valid")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(scenarios) = Scenarios::parse(text) else { return };
    if !scenarios.validate(&SUPPORT).is_empty() {
        return;
    }
    for case in &scenarios.cases {
        if let Ok(transcript) = scenario::play(&SUPPORT, case) {
            let _ = scenario::compare(case, &transcript);
        }
    }
});
