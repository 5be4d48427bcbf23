//! The analyst's commands as users run them: `estimate` (table, one cell, JSON, CSV, best times),
//! `staff`, `fit` on a provider export written here, and the expected wait a scripted call
//! announces, compared with the library's own estimate.

mod common;

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal, Poisson};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::Value;
use switchboard::engine::flow::Estimator;
use switchboard::queue::estimate::ModelEstimator;

use common::run;

const UNDERSTAFFED: &str = "tests/fixtures/understaffed.model.toml";

/// The keys the issue lists for every cell of `estimate --json`.
const CELL_KEYS: [&str; 12] = [
    "weekday",
    "hour",
    "arrivals_per_hour",
    "agents",
    "p_wait",
    "mean_wait_s",
    "mean_wait_answered_s",
    "service_level",
    "p_abandon",
    "occupancy",
    "agents_needed",
    "overloaded",
];

fn cells(v: &Value) -> &Vec<Value> {
    v["cells"].as_array().expect("cells is a list")
}

fn cell<'v>(v: &'v Value, queue: &str, weekday: &str, hour: u64) -> &'v Value {
    cells(v)
        .iter()
        .find(|c| c["queue"] == queue && c["weekday"] == weekday && c["hour"] == hour)
        .unwrap_or_else(|| panic!("no cell {queue} {weekday} {hour}"))
}

#[test]
fn estimate_json_has_every_key_per_cell() {
    let v = run(&["estimate", "--json"]).code(0).json();
    assert_eq!((v["target_s"].as_f64(), v["target_share"].as_f64()), (Some(20.0), Some(0.8)));
    assert_eq!(cells(&v).len(), 3 * 7 * 24, "three queues, every hour of the week");
    for c in cells(&v) {
        for key in CELL_KEYS {
            assert!(c.get(key).is_some(), "missing {key} in {c}");
        }
        if c["open"] == true {
            for key in ["arrivals_per_hour", "p_wait", "mean_wait_s", "mean_wait_answered_s", "service_level"] {
                assert!(c[key].is_number(), "{key} in {c}");
            }
            let p = |key: &str| c[key].as_f64().expect("a number");
            for key in ["p_wait", "service_level", "p_abandon", "occupancy"] {
                assert!((0.0..=1.0).contains(&p(key)), "{key} in {c}");
            }
            assert!(c["busy"]["arrivals_per_hour"].as_f64() > c["arrivals_per_hour"].as_f64(), "{c}");
            assert!(c["busy"]["agents_needed"].as_u64() >= c["agents_needed"].as_u64(), "{c}");
        } else {
            assert_eq!((&c["agents"], &c["mean_wait_s"], &c["busy"]), (&Value::from(0), &Value::Null, &Value::Null));
        }
    }
    let mon_noon = cell(&v, "first_line", "mon", 12);
    assert_eq!((mon_noon["agents"].as_u64(), mon_noon["overloaded"].as_bool()), (Some(14), Some(false)));
}

#[test]
fn overloaded_erlang_c_cells_have_null_waits() {
    let v = run(&["estimate", "--model", UNDERSTAFFED, "--json"]).code(0).json();
    let c = cell(&v, "first_line", "mon", 12);
    assert_eq!(c["overloaded"], true, "{c}");
    assert_eq!((&c["mean_wait_s"], &c["mean_wait_answered_s"]), (&Value::Null, &Value::Null));
    assert_eq!((c["p_wait"].as_f64(), c["service_level"].as_f64()), (Some(1.0), Some(0.0)), "{c}");
    assert_eq!(c["p_abandon"].as_f64(), Some(0.0), "callers without patience never abandon");
    assert!(c["agents_needed"].as_u64().unwrap() > c["agents"].as_u64().unwrap(), "{c}");
    // The same staffing copes with the quiet first hour on Wednesday.
    let quiet = cell(&v, "first_line", "wed", 9);
    assert_eq!(quiet["overloaded"], false);
    assert!(quiet["mean_wait_s"].as_f64().unwrap() > 0.0);
    assert_eq!(quiet["mean_wait_s"], quiet["mean_wait_answered_s"], "equal in Erlang C");
    // The table shows overloaded cells as ∞ rather than a number.
    run(&["estimate", "--model", UNDERSTAFFED]).code(0).stdout_has("∞ / ∞");
    run(&["estimate", "--model", UNDERSTAFFED, "--at", "mon 12:00"])
        .code(0)
        .stdout_has("overloaded          yes")
        .stdout_has("mean wait           ∞");
}

#[test]
fn estimate_at_one_cell() {
    run(&["estimate", "--at", "wed 10:00", "--queue", "first_line"])
        .code(0)
        .stdout_has("first_line on Wednesday at 10:00")
        .stdout_has("agents on duty        14")
        .stdout_has("typical day:")
        .stdout_has("busy day (90th pct):")
        .stdout_has("agents needed");
    let one = run(&["estimate", "--at", "wed 10:00", "--json"]).code(0).json();
    let week = run(&["estimate", "--json"]).code(0).json();
    assert_eq!(cells(&one).len(), 3);
    for c in cells(&one) {
        let queue = c["queue"].as_str().unwrap();
        assert_eq!(c, cell(&week, queue, "wed", 10), "--at picks the table's cell");
    }
    run(&["estimate", "--at", "sun 12:00", "--queue", "first_line"]).code(0).stdout_has("closed: no agents");
    run(&["estimate", "--at", "2026-05-09 12:00", "--queue", "first_line"]).code(0).stdout_has("closed");
    run(&["estimate", "--at", "someday"]).code(2).stderr_has("someday");
    run(&["estimate", "--queue", "third_line"]).code(2).stderr_has("first_line, second_line, supervisors");
}

#[test]
fn estimate_csv_parses() {
    let r = run(&["estimate", "--csv"]).code(0);
    let mut reader = csv::Reader::from_reader(r.out.stdout.as_slice());
    let headers = reader.headers().expect("a header row").clone();
    for key in CELL_KEYS.iter().copied().chain(["queue", "busy_mean_wait_s", "busy_agents_needed"]) {
        assert!(headers.iter().any(|h| h == key), "missing column {key}: {headers:?}");
    }
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a well-formed row")).collect();
    assert_eq!(rows.len(), 3 * 7 * 24);
    for row in &rows {
        let wait = &row[col("mean_wait_s")];
        if &row[col("open")] == "true" {
            assert!(wait.parse::<f64>().is_ok_and(|w| w >= 0.0), "{row:?}");
            assert!(row[col("agents_needed")].parse::<u32>().is_ok(), "{row:?}");
        } else {
            assert_eq!((wait, &row[col("agents")]), ("", "0"), "{row:?}");
        }
    }
}

#[test]
fn best_times_name_monday_as_the_worst() {
    run(&["estimate", "--best", "--queue", "first_line"])
        .code(0)
        .stdout_has("Best time to call:")
        .stdout_has("Worst time to call: Monday");
    let v = run(&["estimate", "--best", "--json"]).code(0).json();
    let first = v.as_array().unwrap().iter().find(|q| q["queue"] == "first_line").unwrap();
    let worst = first["worst"].as_array().unwrap();
    assert!(!worst.is_empty() && worst.iter().all(|p| p["weekday"] == "mon"), "{worst:?}");
    assert_eq!(first["days_quickest_first"].as_array().unwrap().last().unwrap(), "mon");
    // The words give each period's expected wait, as a clock and in seconds, as the JSON has it.
    let secs = worst[0]["wait_s"].as_f64().unwrap().round() as u64;
    let clock = format!("{}:{:02} ({secs} s)", secs / 60, secs % 60);
    let summary = first["summary"].as_array().unwrap();
    let worst_line = summary[1].as_str().unwrap();
    assert!(worst_line.starts_with("Worst time to call: Monday") && worst_line.contains(&clock), "{worst_line}");
    assert!(!worst_line.contains("about"), "{worst_line}");
    assert!(summary[2].as_str().unwrap().contains("with the mean wait: "), "{summary:?}");
}

#[test]
fn a_missing_model_is_one_line() {
    let r = run(&["staff", "--model", "nope.toml"]).code(2);
    assert_eq!(r.stderr(), "error: cannot read nope.toml: No such file or directory (os error 2)\n");
}

#[test]
fn staff_prints_agent_hours() {
    let r = run(&["staff"]).code(0);
    assert_eq!(r.stdout().matches("agent-hours a week:").count(), 3, "{}", r.stdout());
    let r = r.stdout_has("first_line: agents needed for 80% answered within 20 s");
    // Every open hour has a "typical / busy" pair; Sunday is closed and has no column.
    assert!(!r.stdout().lines().next().unwrap_or("").contains("Sun"));
    let v = run(&["staff", "--json"]).code(0).json();
    for q in v["queues"].as_array().unwrap() {
        let cells = q["cells"].as_array().unwrap();
        let sum = |key: &str| cells.iter().map(|c| c[key].as_f64().unwrap()).sum::<f64>();
        // One-hour slots: agent-hours are the agents needed, added up.
        assert_eq!(q["agent_hours"].as_f64(), Some(sum("agents_needed")), "{}", q["queue"]);
        assert_eq!(q["busy_agent_hours"].as_f64(), Some(sum("busy_agents_needed")));
        assert_eq!(q["scheduled_agent_hours"].as_f64(), Some(sum("agents")));
        assert!(sum("busy_agents_needed") > sum("agents_needed"));
    }
}

/// A provider's export: an id, the start, the queue, time in queue, the whole call's duration
/// (queue time included) and a status, for four weeks from Monday 2026-03-02; a few rows are
/// damaged. Returns the text and the calls written per (weekday, hour) of the first line.
fn provider_export() -> (String, Vec<f64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let handle = LogNormal::new(240_f64.ln() - 0.5 * 1.64_f64.ln(), 1.64_f64.ln().sqrt()).unwrap();
    let patience = Exp::new(1.0 / 120.0).unwrap();
    let offered = Exp::new(1.0 / 60.0).unwrap();
    let mut text = String::from("Call ID,Call Start,Queue Name,Queue Time,Duration,Status\n");
    let mut counts = vec![0.0; 7 * 24];
    let first = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let mut id = 1000;
    for date in first.iter_days().take(28) {
        let weekday = chrono::Datelike::weekday(&date).num_days_from_monday() as usize;
        let open = if weekday < 5 {
            9..18
        } else if weekday == 5 {
            10..14
        } else {
            0..0
        };
        for hour in open {
            for (queue, rate) in [("first_line", 20.0), ("second_line", 3.0)] {
                let n = Poisson::new(rate).unwrap().sample(&mut rng) as u32;
                for _ in 0..n {
                    let (min, sec) = (rng.random_range(0..60), rng.random_range(0..60));
                    let wait: f64 = if rng.random_bool(0.5) { 0.0 } else { offered.sample(&mut rng) };
                    let gives_up: f64 = patience.sample(&mut rng);
                    let (queued, duration, status) = if gives_up < wait {
                        (gives_up, gives_up, "Abandoned")
                    } else {
                        (wait, wait + handle.sample(&mut rng), "Answered")
                    };
                    id += 1;
                    text += &format!(
                        "{id},{date} {hour:02}:{min:02}:{sec:02},{queue},{queued:.0},{},{status}\n",
                        clock(duration)
                    );
                    if queue == "first_line" {
                        counts[weekday * 24 + hour] += 1.0;
                    }
                }
            }
        }
    }
    (text, counts)
}

/// `h:mm:ss`, as exports write durations.
fn clock(secs: f64) -> String {
    let s = secs.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[test]
fn fit_writes_a_model_that_estimate_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (mut text, counts) = provider_export();
    let good_rows = text.lines().count() - 1;
    text += "9001,yesterday,first_line,12,0:03:00,Answered\n";
    text += "9002, 16/31/2026 10:00,first_line,12,0:03:00,Answered\n";
    let log = dir.path().join("calls.csv");
    std::fs::write(&log, &text).unwrap();
    let model = dir.path().join("fitted.model.toml");
    let (log_s, model_s) = (log.to_str().unwrap(), model.to_str().unwrap());
    let r = run(&["fit", log_s, "-o", model_s])
        .code(0)
        .stdout_has("fitted calls from 2026-03-02 to 2026-03-28 (27 days)")
        .stdout_has("2 rows skipped")
        .stdout_has("first_line:")
        .stdout_has("second_line:")
        .stdout_has("Kolmogorov–Smirnov distance");
    // The bad rows are named where they are: line, and the column where the start field begins.
    let bad_line = good_rows + 2;
    r.stderr_has(&format!("{log_s}:{bad_line}:6: warning: skipped a row: unreadable start time `yesterday`"))
        .stderr_has(&format!("{log_s}:{}:7: warning", bad_line + 1));

    let report = run(&["fit", log_s, "--json"]).code(0);
    // With --json and no -o, the model goes to stdout first; the report is the JSON after it.
    let stdout = report.stdout();
    let json_at = stdout.find("\n{").expect("a JSON report after the model") + 1;
    let v: Value = serde_json::from_str(&stdout[json_at..]).unwrap();
    assert_eq!(v["skipped_rows"], 2);
    let q = v["queues"].as_array().unwrap().iter().find(|q| q["queue"] == "first_line").unwrap();
    assert_eq!(q["calls"].as_f64(), Some(counts.iter().sum::<f64>()), "every good row is kept");
    assert!((q["aht_s"].as_f64().unwrap() - 240.0).abs() < 15.0, "{}", q["aht_s"]);
    assert!((q["patience_s"].as_f64().unwrap() - 120.0).abs() < 25.0, "{}", q["patience_s"]);

    let est = run(&["estimate", "--model", model_s, "--json", "--queue", "first_line"]).code(0).json();
    // Four Mondays: the fitted rate is the calls seen at 10:00 on Mondays, over four.
    let mon_10 = cell(&est, "first_line", "mon", 10);
    assert!((mon_10["arrivals_per_hour"].as_f64().unwrap() - counts[10] / 4.0).abs() < 0.006, "{mon_10}");
    assert_eq!(mon_10["open"], true);
    assert!(mon_10["agents"].as_u64().unwrap() >= 1, "staffing is estimated");
    assert_eq!(cell(&est, "first_line", "sun", 12)["open"], false);
    run(&["staff", "--model", model_s]).code(0).stdout_has("agent-hours a week");
}

#[test]
fn fit_reads_interval_volumes() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("Interval Start,Offered\n");
    let first = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    for date in first.iter_days().take(14) {
        for hour in 9..18 {
            for minute in [0, 15, 30, 45] {
                text += &format!("{date} {hour:02}:{minute:02},{}\n", hour - 5);
            }
        }
    }
    text += "2026-03-10 12:00,n/a\n";
    let log = dir.path().join("volumes.csv");
    std::fs::write(&log, &text).unwrap();
    let model = dir.path().join("volumes.model.toml");
    let (log_s, model_s) = (log.to_str().unwrap(), model.to_str().unwrap());
    let line = text.lines().count();
    run(&["fit", log_s, "-o", model_s, "--handle-time", "4m"])
        .code(0)
        .stdout_has("fitted interval volumes")
        .stderr_has(&format!("{log_s}:{line}:18: warning: skipped a row: not a call count `n/a`"));
    let est = run(&["estimate", "--model", model_s, "--json"]).code(0).json();
    // Four quarters of (hour − 5) calls make 4·(hour − 5) an hour.
    for hour in 9..18_u64 {
        let c = cell(&est, "main", "tue", hour);
        assert_eq!(c["arrivals_per_hour"].as_f64(), Some(4.0 * (hour as f64 - 5.0)), "{c}");
    }
}

#[test]
fn fit_refuses_what_it_cannot_fit() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let short = write("short.csv", "start,queue\n2026-03-02 10:00,a\n2026-03-04 10:00,a\n");
    run(&["fit", &short]).code(2).stderr_has("spans 3 days; at least one full week");
    let empty = write("empty.csv", "start,queue\n");
    run(&["fit", &empty]).code(2).stderr_has("the log has no calls");
    let headless = write("headless.csv", "when,who\n2026-03-02 10:00,a\n");
    run(&["fit", &headless]).code(2).stderr_has("no start-time column");
    run(&["fit", "tests/fixtures/no-such.csv"]).code(2).stderr_has("cannot read tests/fixtures/no-such.csv");
}

#[test]
fn a_broken_model_is_reported_where_it_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.model.toml");
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(UNDERSTAFFED)).unwrap();
    std::fs::write(&path, text.replace("handle_time = \"4m 30s\"", "handle_time = \"soon\"")).unwrap();
    let line = text.lines().position(|l| l.starts_with("handle_time")).unwrap() + 1;
    let path = path.to_str().unwrap();
    // The value starts after `handle_time = `, in column 15.
    run(&["estimate", "--model", path]).code(2).stderr_has(&format!("{path}:{line}:15: error: handle_time"));
    run(&["staff", "--model", path]).code(2).stderr_has(&format!("{line}:15"));
}

fn at(text: &str) -> chrono::NaiveDateTime {
    switchboard::calendar::parse_at(text).unwrap()
}

fn estimator(path: &str) -> ModelEstimator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    ModelEstimator::new(switchboard::files::read_model(&path).expect("the model loads"))
}

/// The sample flow's Russian announcement of a wait in whole minutes: «около» takes the
/// genitive, singular after 1, 21, 31… (not 11), plural otherwise.
fn announcement(minutes: u32) -> String {
    let noun = if minutes % 10 == 1 && minutes % 100 != 11 { "минуты" } else { "минут" };
    format!("Все операторы заняты. Примерное время ожидания — около {minutes} {noun}.")
}

fn heard(v: &Value) -> Vec<&str> {
    v["heard"].as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect()
}

#[test]
fn a_call_announces_the_models_expected_wait() {
    let default = estimator("flows/support.model.toml");
    let v = run(&["call", "flows/support.toml", "--keys", "1 2 2", "--at", "mon 12:00", "--json"]).code(0).json();
    assert_eq!(v["outcome"], serde_json::json!({"kind": "queue", "target": "first_line"}));
    // Monday noon: 212 calls an hour (9,200 × 22% × 11/105) of 4m30s on 14 agents with 3m
    // patience wait 30 s (Erlang A; the README's table says 0:30), announced as one minute.
    let announce = announcement(1);
    assert!(heard(&v).contains(&announce.as_str()), "{announce} not in {:?}", heard(&v));
    // The call-back threshold (25 s) is reached in Monday's busiest hours only, so the sample
    // offers call-backs then and nowhere else.
    let mut over = Vec::new();
    for day in ["mon", "tue", "wed", "thu", "fri", "sat"] {
        for hour in 9..21 {
            let w = default.expected_wait_s("first_line", at(&format!("{day} {hour}:00")), None);
            if w.is_some_and(|w| w > 25.0) {
                over.push(format!("{day} {hour}"));
            }
        }
    }
    assert_eq!(over, ["mon 12", "mon 13", "mon 16"]);
    let path: Vec<&str> = v["path"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(path.contains(&"first_line_check") && path.contains(&"callback_offer"), "{path:?}");
    // In a quiet hour the caller is answered at once: no offer, and no word of busy operators.
    let v = run(&["call", "flows/support.toml", "--keys", "1 2 2", "--at", "wed 09:00", "--json"]).code(0).json();
    assert!(!heard(&v).iter().any(|h| h.contains("заняты")), "{:?}", heard(&v));
}

#[test]
fn a_long_expected_wait_offers_a_call_back() {
    let call = |keys: &str| {
        // A caller whose number is known, so the call-back can be booked.
        let args = ["--keys", keys, "--at", "mon 12:00", "--from", "+79161234567", "--json"];
        run(&[&["call", "flows/support.toml", "--model", UNDERSTAFFED][..], &args].concat()).code(0).json()
    };
    let v = call("1 2 2 1");
    assert_eq!(v["outcome"], serde_json::json!({"kind": "hangup", "target": "callback"}));
    let path: Vec<&str> = v["path"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert_eq!(path[path.len() - 3..], ["first_line_check", "callback_offer", "callback"]);
    // Staying on the line, the caller hears the long wait in minutes.
    let v = call("1 2 2 2");
    assert_eq!(v["outcome"]["target"], "first_line");
    // 15.9 erlangs on 7 agents who never hang up: overloaded, so the wait is the backlog's
    // mean over the hour, (15.9 / 7 − 1) × 3600 s / 2 = 2289 s, 38 minutes.
    let announce = announcement(38);
    assert!(heard(&v).contains(&announce.as_str()), "{announce} not in {:?}", heard(&v));
    // The transcript names the branch taken.
    let r = run(&[
        "call",
        "flows/support.toml",
        "--model",
        UNDERSTAFFED,
        "--keys",
        "1 2 2 1",
        "--at",
        "mon 12:00",
        "--from",
        "+79161234567",
    ]);
    r.code(0).stdout_has("callback_offer").stdout_has("outcome: hangup callback");
    run(&["call", "flows/support.toml", "--model", "tests/fixtures/none.model.toml", "--keys", "1"])
        .code(2)
        .stderr_has("none.model.toml");
}

/// Eight weeks of the provider's export from Monday 2026-03-02 without its two Monday holidays
/// (2026-03-16 and 2026-04-06): the calls at 10:00 on the six open Mondays.
fn export_with_holidays() -> (String, f64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(12);
    let holidays = ["2026-03-16", "2026-04-06"];
    let mut text = String::from("start,queue,wait,talk,status\n");
    let mut monday_10 = 0.0;
    let first = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    for date in first.iter_days().take(56) {
        let weekday = chrono::Datelike::weekday(&date).num_days_from_monday();
        if weekday > 4 || holidays.contains(&date.to_string().as_str()) {
            continue;
        }
        for hour in 9..17 {
            for _ in 0..Poisson::new(15.0).unwrap().sample(&mut rng) as u32 {
                let (min, wait, talk) = (rng.random_range(0..60), rng.random_range(0..90), rng.random_range(60..400));
                text += &format!("{date} {hour:02}:{min:02},first_line,{wait},{talk},answered\n");
                if weekday == 0 && hour == 10 {
                    monday_10 += 1.0;
                }
            }
        }
    }
    (text, monday_10)
}

#[test]
fn fit_leaves_closed_dates_out_of_the_averages() {
    let dir = tempfile::tempdir().unwrap();
    let (text, monday_10) = export_with_holidays();
    let log = dir.path().join("holidays.csv");
    std::fs::write(&log, &text).unwrap();
    let model = dir.path().join("holidays.model.toml");
    let (log_s, model_s) = (log.to_str().unwrap(), model.to_str().unwrap());
    let rate = |model: &str| {
        let est = run(&["estimate", "--model", model, "--json"]).code(0).json();
        cell(&est, "first_line", "mon", 10)["arrivals_per_hour"].as_f64().unwrap()
    };

    run(&["fit", log_s, "-o", model_s])
        .code(0)
        .stdout_has("(54 days)")
        .stdout_has("closed dates: 2026-03-16, 2026-04-06 (no calls; left out of the averages");
    assert!(std::fs::read_to_string(&model).unwrap().contains("# Closed dates, left out of the averages"));
    // The Monday rate is the mean over the six open Mondays (the model keeps two decimals).
    assert!((rate(model_s) - monday_10 / 6.0).abs() <= 0.0051, "{} vs {}", rate(model_s), monday_10 / 6.0);
    let v = run(&["fit", log_s, "--json", "-o", model_s]).code(0).json();
    assert_eq!(v["closed_dates"], serde_json::json!(["2026-03-16", "2026-04-06"]));
    let cells = v["queues"][0]["cells"].as_array().unwrap();
    let mon_10 = cells.iter().find(|c| c["weekday"] == "mon" && c["hour"] == 10).unwrap();
    assert_eq!(mon_10["days"], 6, "{mon_10}");

    // The old rule averages the holidays in as zero days: the Monday rate drops by 6/8.
    let out = run(&["fit", log_s, "-o", model_s, "--keep-empty-days"]).code(0);
    assert!(!out.stdout().contains("closed dates"), "{}", out.stdout());
    assert!((rate(model_s) - monday_10 / 8.0).abs() <= 0.0051, "{} vs {}", rate(model_s), monday_10 / 8.0);
}

#[test]
fn fit_warns_about_every_bad_value_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let (text, _) = export_with_holidays();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // Damage rows 3 to 7 (lines 4 to 8 of the file), one problem each.
    let damage = [
        (3, 3, "ten", "ignored a field: not a duration (seconds or h:mm:ss) `ten`"),
        (4, 5, "maybe", "skipped a row: not an outcome (answered or abandoned) `maybe`"),
        (5, 4, "-5", "ignored a field: a negative duration `-5`"),
        (6, 3, "99999999999999999999", "ignored a field: a duration beyond a day `99999999999999999999`"),
        (7, 5, "", "skipped a row: not an outcome (answered or abandoned) ``"),
    ];
    let mut expected = Vec::new();
    for (row, field, value, message) in damage {
        let mut fields: Vec<&str> = lines[row].split(',').collect();
        fields[field - 1] = value;
        let column = fields[..field - 1].iter().map(|f| f.chars().count() + 1).sum::<usize>() + 1;
        lines[row] = fields.join(",");
        expected.push(format!("{}:{column}: warning: {message}", row + 1));
    }
    // Windows line ends: line numbers must not double.
    let log = dir.path().join("damaged.csv");
    std::fs::write(&log, lines.join("\r\n") + "\r\n").unwrap();
    let model = dir.path().join("damaged.model.toml");
    let (log_s, model_s) = (log.to_str().unwrap(), model.to_str().unwrap());
    let r = run(&["fit", log_s, "-o", model_s]).code(0).stdout_has("2 rows skipped, 3 fields ignored");
    for e in &expected {
        assert!(r.stderr().contains(&format!("{log_s}:{e}")), "expected {log_s}:{e} in\n{}", r.stderr());
    }
    assert_eq!(r.stderr().lines().filter(|l| l.contains(": warning: ")).count(), 5, "{}", r.stderr());
    let v = run(&["fit", log_s, "-o", model_s, "--json"]).code(0).json();
    assert_eq!((v["skipped_rows"].as_u64(), v["ignored_fields"].as_u64()), (Some(2), Some(3)));
    let q = &v["queues"][0];
    // Every call kept is answered or abandoned.
    assert_eq!(q["answered"].as_f64().unwrap() + q["abandoned"].as_f64().unwrap(), q["calls"].as_f64().unwrap());
    assert_eq!(q["calls"].as_f64().unwrap(), (lines.len() - 1 - 2) as f64);
    // The absurd wait did not reach the model, which reads back.
    run(&["estimate", "--model", model_s, "--at", "mon 10:00"]).code(0).stdout_has("first_line on Monday at 10:00");
}

#[test]
fn fit_of_random_rows_always_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(13);
    let junk = ["", "ten", "-5", "1e300", "99999999999999999999", "NaN", "inf", "1:75", "0", "86400", "3:00:00"];
    let statuses = ["answered", "abandoned", "maybe", "", "ANSWERED", "hung up"];
    for round in 0..12 {
        let mut text = String::from("start,queue,wait,duration,status\n");
        let first = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        for _ in 0..rng.random_range(50..400) {
            let date = first + chrono::Days::new(rng.random_range(0..21));
            let value = |rng: &mut Xoshiro256PlusPlus| {
                if rng.random_bool(0.3) {
                    junk[rng.random_range(0..junk.len())].to_owned()
                } else {
                    format!("{:.1}", rng.random_range(0.0..20_000.0))
                }
            };
            let (wait, duration) = (value(&mut rng), value(&mut rng));
            let queue = ["a", "b \"q\"", ""][rng.random_range(0..3)];
            let status = statuses[rng.random_range(0..statuses.len())];
            let hour = rng.random_range(0..24);
            text += &format!("{date} {hour:02}:30,{queue},{wait},{duration},{status}\n");
        }
        let log = dir.path().join(format!("random-{round}.csv"));
        std::fs::write(&log, &text).unwrap();
        let model = dir.path().join(format!("random-{round}.model.toml"));
        let (log_s, model_s) = (log.to_str().unwrap(), model.to_str().unwrap());
        let r = run(&["fit", log_s, "-o", model_s]);
        // A log of only damaged rows may leave less than a week: that is an error, never a panic
        // nor a model that does not parse.
        match r.out.status.code() {
            Some(0) => {
                run(&["estimate", "--model", model_s, "--json"]).code(0);
            }
            _ => {
                r.code(2).stderr_has("cannot fit");
            }
        }
    }
}

/// `fit --db` fits the event log through the same code: a holiday Monday without a call is a
/// closure there too.
#[test]
fn fit_from_the_event_log_leaves_closed_dates_out() {
    use switchboard::events::{CallHead, DbUrl, Kind, QueueResult, Store};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("calls.db").display());
    let mut store = match Store::open(&DbUrl::parse(&url).unwrap()) {
        Ok(Some(store)) => store,
        _ => panic!("the log opens"),
    };
    // Three weeks from Monday 2026-03-02, six calls at 10:00 UTC each weekday, but none on the
    // holiday, Monday 2026-03-09.
    let monday = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let mut id = 0;
    for date in monday.iter_days().take(21) {
        if chrono::Datelike::weekday(&date).num_days_from_monday() > 4 || date.to_string() == "2026-03-09" {
            continue;
        }
        for i in 0..6 {
            id += 1;
            let head = CallHead {
                call_id: format!("CA{id}").into(),
                provider: "twilio".into(),
                flow: "support".into(),
                flow_version: 1,
                simulated: false,
            };
            let t0 = date.and_hms_opt(10, i * 5, 0).unwrap().and_utc();
            let t = |s: i64| t0 + chrono::Duration::seconds(s);
            let (queue, result) = ("first_line".to_owned(), QueueResult::Bridged);
            store
                .insert(&[
                    head.event(0, t(0), None, Kind::CallStarted { caller: None }),
                    head.event(1, t(5), None, Kind::QueueJoined { queue: queue.clone(), announced_wait_min: None }),
                    head.event(
                        2,
                        t(35),
                        None,
                        Kind::QueueLeft { queue, result, queue_time_s: 30, last_position: None },
                    ),
                    head.event(3, t(185), None, Kind::CallCompleted { duration_s: 185 }),
                ])
                .unwrap();
        }
    }
    drop(store);
    let model = dir.path().join("db.model.toml");
    let model_s = model.to_str().unwrap();
    let mon_10 = || {
        let est = run(&["estimate", "--model", model_s, "--json"]).code(0).json();
        cell(&est, "first_line", "mon", 10)["arrivals_per_hour"].as_f64().unwrap()
    };
    // The calls are written in UTC hours; the flow's own zone (Moscow) would move them to 13:00.
    run(&["fit", "--db", &url, "--tz", "UTC", "-o", model_s]).code(0).stdout_has("closed dates: 2026-03-09 (no calls");
    assert_eq!(mon_10(), 6.0, "six calls on each of the two open Mondays");
    run(&["fit", "--db", &url, "--tz", "UTC", "-o", model_s, "--keep-empty-days"]).code(0);
    assert_eq!(mon_10(), 4.0, "the holiday averaged in as zero");
}
