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
        // A caller sent back to a queue after a conversation is offered to it twice.
        assert_eq!(i.calls + i.requeued, ended_in_ivr + offered + i.in_system_at_end, "{i:?}");
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

/// Every caller goes straight to queue `line`: the fitted arrivals are then the model's.
const STRAIGHT_FLOW: &str = r#"
[flow]
name = "straight"
languages = ["en"]
start = "wait"
operator = "wait"

[nodes.wait]
kind = "queue"
queue = "line"
prompt = "Please hold."
"#;

/// 60 calls on Mondays 10:00-11:00, 3 min of handling on two agents (three erlangs offered):
/// a queue builds up and callers with 2 min of patience give up. Nobody calls again.
const BUSY_MONDAY: &str = r#"
[queues.line]
arrivals = { mon = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }
handle_time = "3m"
patience = "2m"
agents = { mon = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }
[callers]
retrial = 0
"#;

/// `simulate --events-db` writes the calls the simulator counts, `report --simulated` finds the
/// same counts, and `fit --db --simulated` learns back the model that was simulated.
#[test]
fn simulated_calls_go_into_the_event_log_report_and_fit() {
    let dir = tempfile::tempdir().unwrap();
    let (flow, model) = (dir.path().join("straight.toml"), dir.path().join("busy.model.toml"));
    std::fs::write(&flow, STRAIGHT_FLOW).unwrap();
    std::fs::write(&model, BUSY_MONDAY).unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let (flow, model) = (flow.to_str().unwrap(), model.to_str().unwrap());
    // 2 replications of 4 weeks: 8 Mondays, in two threads writing into one log.
    let sim = ["simulate", "--flow", flow, "--model", model, "--weeks", "4", "--replications", "2", "--seed", "7"];
    let s = run(&[&sim[..], &["--json", "--events-db", &db]].concat()).code(0).json();
    let weeks_run = 8.0;
    let total = |v: &serde_json::Value| (v.as_f64().unwrap() * weeks_run).round() as u64;
    let (offered, answered, abandoned) =
        (total(&s["queues"][0]["offered"]), total(&s["queues"][0]["answered"]), total(&s["queues"][0]["abandoned"]));
    assert!(answered > 100 && abandoned > 20, "a queue with both outcomes: {s}");
    let ivr = &s["ivr"];
    assert_eq!(ivr["in_system_at_end"], 0, "every call ended within the week");

    // Without the log, the same seed gives the same week: logging draws no random numbers.
    let bare = run(&[&sim[..], &["--json"]].concat()).code(0).json();
    assert_eq!((bare["ivr"].clone(), bare["queues"].clone()), (ivr.clone(), s["queues"].clone()));

    let r = run(&["report", "--db", &db, "--simulated", "--json"]).code(0).json();
    assert_eq!(r["simulated"], true);
    assert_eq!(r["calls"], ivr["calls"]);
    assert_eq!(r["outcomes"]["queue"], ivr["queued"]);
    let line = &r["queues"][0];
    assert_eq!(line["name"], "line");
    assert_eq!((line["joined"].as_u64(), line["answered"].as_u64()), (Some(offered), Some(answered)));
    assert_eq!(line["abandoned"].as_u64(), Some(abandoned));
    // Real calls stay apart: the log holds none.
    run(&["report", "--db", &db]).code(1).stderr_has("other calls: try with --simulated");

    // Fit back. Each Monday's count is Poisson(60): the mean of 8 is 60 ± √(60/8) = 2.7 (one
    // standard deviation); 4 of them (±11) fail about once in 16,000 seeds. Handle time and
    // patience are exponential means: a relative standard error of 1/√n for n answered
    // (respectively abandoned) callers, allowed 4 of them.
    let fitted = dir.path().join("fitted.model.toml");
    run(&["fit", "--db", &db, "--tz", "UTC", "-o", fitted.to_str().unwrap()])
        .code(2)
        .stderr_has("no ended queue stays of real calls");
    run(&["fit", "--db", &db, "--simulated", "--tz", "UTC", "-o", fitted.to_str().unwrap()]).code(0);
    let m = switchboard::queue::model::parse(&std::fs::read_to_string(&fitted).unwrap()).unwrap();
    let q = m.queue("line").unwrap();
    let monday = |h| q.arrivals.at(reference_day(chrono::Weekday::Mon).and_hms_opt(h, 30, 0).unwrap());
    // Callers join after a second of prompt: the last of 10:59 count at 11:00.
    let per_monday = monday(10) + monday(11);
    assert!((per_monday - 60.0).abs() < 4.0 * (60.0f64 / 8.0).sqrt(), "{per_monday}");
    assert_eq!(monday(12) + q.arrivals.at(reference_day(chrono::Weekday::Tue).and_hms_opt(10, 30, 0).unwrap()), 0.0);
    let near = |fit: f64, truth: f64, n: u64| (fit - truth).abs() < 4.0 * truth / (n as f64).sqrt();
    assert!(near(q.aht_s, 180.0, answered), "handle time {}", q.aht_s);
    let patience = q.patience_s.unwrap();
    assert!(near(patience, 120.0, abandoned), "patience {patience}");
}
