//! A flow file: parse and check, `check --report`, then a call through it driven by a caller
//! script. Input: the flow's TOML, then optionally `\n#---\n` and a caller script.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::engine::{Start, parse_and_check, report};
use switchboard::script::{Mocks, parse_script, run};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (flow_text, script) = text.split_once("\n#---\n").unwrap_or((text, "1"));
    let (flow, _diagnostics) = parse_and_check(flow_text);
    let Some(flow) = flow else { return };
    let _ = report::report(&flow);
    if let Ok(turns) = parse_script(script) {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 5, 6).and_then(|d| d.and_hms_opt(11, 0, 0)).expect("valid");
        let _ = run(&flow, &turns, &Start { caller: Some("+79990001122"), language: None }, at, &Mocks::default());
    }
});
