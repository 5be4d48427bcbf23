//! The call log `fit` reads (CSV), fitted, and the fitted model written and parsed back: the
//! model `fit` writes must always be one `switchboard` reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::queue::fit::{self, Defaults, EmptyDays};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(log) = switchboard::fit_log::read("log.csv", text) else { return };
    let Ok(fitted) = fit::fit(&log.history, EmptyDays::Closed) else { return };
    let defaults = Defaults { target_s: 20.0, target_share: 0.8, aht_s: 180.0, patience_s: None };
    let model = fit::to_toml(&fitted, "log.csv", &defaults);
    if let Err(diagnostics) = switchboard::queue::model::parse(&model) {
        let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
        panic!("the fitted model does not parse: {messages:?}\n{model}");
    }
});
