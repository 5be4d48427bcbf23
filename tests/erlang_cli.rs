//! Runs `switchboard erlang` as a process: one JSON case and bad inputs.

mod common;

use common::run;

#[test]
fn json_metrics_for_a_cell() {
    let v =
        run(&["erlang", "--calls-per-hour", "200", "--handle-time", "180s", "--agents", "11", "--json"]).code(0).json();
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
    let v = run(&["erlang", "--calls-per-hour", "200", "--handle-time", "3m", "--json"]).code(0).json();
    assert!(v["agents_needed"].as_u64().unwrap() >= 11);
}

#[test]
fn bad_input_exits_2() {
    run(&["erlang", "--calls-per-hour", "-5", "--handle-time", "180s", "--agents", "3"]).code(2);
    run(&["erlang", "--calls-per-hour", "200", "--handle-time", "soon"]).code(2);
}

#[test]
fn a_service_level_out_of_range_names_the_flag_and_the_range() {
    for level in ["1.5", "1", "-0.1", "eighty"] {
        let flag = format!("--service-level={level}");
        run(&["erlang", "--calls-per-hour", "200", "--handle-time", "3m", &flag])
            .code(2)
            .stderr_has(&format!("invalid value '{level}' for '--service-level"))
            .stderr_has("must be a share from 0 to below 1, e.g. 0.8 for 80%");
    }
}
