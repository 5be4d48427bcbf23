//! Runs `switchboard erlang` as a process: one JSON case and one bad input.

use std::process::Command;

fn switchboard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard")).args(args).output().expect("run switchboard")
}

#[test]
fn json_metrics_for_a_cell() {
    let out = switchboard(&["erlang", "--calls-per-hour", "200", "--handle-time", "180s", "--agents", "11", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["agents"], 11);
    assert!((v["p_wait"].as_f64().unwrap() - 0.6821).abs() < 5e-4);
    assert_eq!(v["overloaded"], false);
    for key in [
        "arrivals_per_hour",
        "mean_wait_s",
        "mean_wait_answered_s",
        "service_level",
        "p_abandon",
        "occupancy",
        "agents_needed",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
}

#[test]
fn staffing_without_agents() {
    let out = switchboard(&["erlang", "--calls-per-hour", "200", "--handle-time", "3m", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["agents_needed"].as_u64().unwrap() >= 11);
}

#[test]
fn bad_input_exits_2() {
    let out = switchboard(&["erlang", "--calls-per-hour", "-5", "--handle-time", "180s", "--agents", "3"]);
    assert_eq!(out.status.code(), Some(2));
    let out = switchboard(&["erlang", "--calls-per-hour", "200", "--handle-time", "soon"]);
    assert_eq!(out.status.code(), Some(2));
}
