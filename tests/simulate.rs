//! The week simulator on the sample hotline: reproducible from a seed, and no caller lost.

mod common;

use std::path::Path;

use common::run;

use switchboard::calendar::reference_day;
use switchboard::engine::Flow;
use switchboard::files;
use switchboard::queue::model::Model;
use switchboard::sim::week::{self, Setup};

fn inputs() -> (Flow, Model) {
    let flow = files::read_flow(Path::new("flows/support.toml"), Path::new("sounds")).unwrap().flow.unwrap();
    let model = files::read_model(Path::new("flows/support.model.toml")).unwrap();
    (flow, model)
}

fn setup<'a>(flow: &'a Flow, model: &'a Model) -> Setup<'a> {
    let start = reference_day(chrono::Weekday::Mon).and_hms_opt(0, 0, 0).unwrap();
    Setup { flow, model, weeks: 1, start, warmup_s: 86_400.0 }
}

#[test]
fn the_same_seed_gives_the_same_week() {
    let (flow, model) = inputs();
    let s = setup(&flow, &model);
    let a = week::run(&s, 11, 0).unwrap();
    assert_eq!(a, week::run(&s, 11, 0).unwrap());
    assert_ne!(a, week::run(&s, 12, 0).unwrap());
    assert_ne!(a, week::run(&s, 11, 1).unwrap());
}

#[test]
fn every_caller_is_accounted_for() {
    let (flow, model) = inputs();
    let s = setup(&flow, &model);
    for seed in [1, 2, 3] {
        let r = week::run(&s, seed, 0).unwrap();
        let i = &r.ivr;
        let offered: u64 = r.cells.iter().flatten().map(|c| c.callers.offered).sum();
        let answered: u64 = r.cells.iter().flatten().map(|c| c.callers.answered).sum();
        let abandoned: u64 = r.cells.iter().flatten().map(|c| c.callers.abandoned).sum();
        assert_eq!(offered, answered + abandoned);
        let ended_in_ivr = i.contained + i.voicemail + i.callbacks_booked + i.transferred + i.hung_up_in_ivr;
        assert_eq!(i.calls, ended_in_ivr + offered + i.in_system_at_end, "{i:?}");
        assert!(i.calls > 10_000 && i.queued > 5_000 && i.zero_outs > 0 && i.timeout_fallbacks > 0, "{i:?}");
    }
}

#[test]
fn summary_keeps_the_cells_of_every_queue() {
    let (flow, model) = inputs();
    let s = setup(&flow, &model);
    let reps: Vec<_> = (0..2).map(|r| week::run(&s, 5, r).unwrap()).collect();
    let summary = week::summarize(&model, 1, &reps);
    assert_eq!(summary.cells.len(), 3 * 7 * 24);
    let monday_noon = summary
        .cells
        .iter()
        .find(|c| c.queue == "first_line" && c.weekday == chrono::Weekday::Mon && c.hour == 12)
        .unwrap();
    assert!(monday_noon.offered > 50.0 && monday_noon.mean_wait_s.is_some() && monday_noon.mean_wait_ci99.is_some());
    assert!(monday_noon.occupancy.is_some_and(|o| o > 0.3 && o <= 1.0), "{monday_noon:?}");
    let sunday = summary
        .cells
        .iter()
        .find(|c| c.queue == "first_line" && c.weekday == chrono::Weekday::Sun && c.hour == 12)
        .unwrap();
    assert_eq!(sunday.offered, 0.0);
}

/// A short run through the CLI: weekdays written as keys in every file, the charts drawn, and a
/// warning that per-cell figures of one week are too noisy, which a longer run quiets down.
#[test]
fn simulate_writes_weekday_keys_and_warns_when_too_short() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let short = run(&["simulate", "--replications", "2", "--seed", "3", "--json", "--out", out]).code(0);
    let v = short.json();
    let keys = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    for c in v["cells"].as_array().unwrap() {
        assert!(keys.contains(&c["weekday"].as_str().unwrap_or("")), "{c}");
    }
    let csv_text = std::fs::read_to_string(dir.path().join("cells.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let col = reader.headers().unwrap().iter().position(|h| h == "weekday").unwrap();
    let days: Vec<String> = reader.records().map(|r| r.unwrap()[col].to_owned()).collect();
    assert_eq!(days.len(), 3 * 7 * 24);
    assert!(days.iter().all(|d| keys.contains(&d.as_str())), "{days:?}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(json["cells"][0]["weekday"], "mon");
    for name in ["wait-first_line.png", "wait-first_line.svg", "vs-erlang-first_line.png"] {
        assert!(std::fs::metadata(dir.path().join(name)).is_ok_and(|m| m.len() > 1000), "{name}");
    }
    let svg = std::fs::read_to_string(dir.path().join("wait-first_line.svg")).unwrap();
    assert!(svg.contains("mean wait, s") && svg.contains("closed or no calls"), "the legend says the unit");

    // The warning counts the cells the summary itself finds unreliable.
    let weeks_run = 2.0;
    let cells = v["cells"].as_array().unwrap();
    let measured: Vec<_> = cells.iter().filter(|c| c["offered"].as_f64().unwrap() > 0.0).collect();
    let unreliable = measured
        .iter()
        .filter(|c| {
            let wait = c["mean_wait_s"].as_f64().unwrap();
            let few = c["offered"].as_f64().unwrap() * weeks_run < 30.0;
            few || c["mean_wait_ci99"].as_f64().is_some_and(|ci| ci > wait.max(1.0))
        })
        .count();
    assert!(unreliable > 0);
    short
        .stderr_has(&format!("warning: {unreliable} of {} cells with calls", measured.len()))
        .stderr_has("--replications");

    // One replication of one week has no intervals: only the thin cells are flagged, fewer.
    let one = run(&["simulate", "--replications", "1", "--seed", "3"]).code(0);
    let flagged = |r: &common::Run| -> usize {
        let text = r.stderr();
        let at = text.find("warning: ").map(|i| i + "warning: ".len());
        at.and_then(|i| text[i..].split(' ').next()?.parse().ok()).unwrap_or(0)
    };
    assert!(flagged(&one) < unreliable, "{}", one.stderr());
    one.stdout_has("in 1 replication of 1 week, seed 3");
}
