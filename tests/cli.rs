//! The `switchboard` binary on the sample flows and on broken fixtures, as users run it.

mod common;

use std::process::Stdio;

use common::{run, run_with_stdin, switchboard};

#[test]
fn sample_flows_are_clean() {
    run(&["check"]).code(0).stderr_has("checked 2 flows: 0 errors, 0 warnings");
}

#[test]
fn report_lists_every_menu() {
    run(&["check", "flows/support.toml", "--report"])
        .code(0)
        .stdout_has("pressing 0")
        .stdout_has("tech ")
        .stdout_has("longest way to a person");
}

#[test]
fn broken_flows_say_where_and_what() {
    let cases: &[(&str, i32, &[&str])] = &[
        ("syntax.toml", 1, &["syntax.toml:3:14: error: invalid TOML"]),
        ("garbage.toml", 1, &["garbage.toml:1:6: error: invalid TOML"]),
        (
            "typo.toml",
            1,
            &[
                "typo.toml:8:1: error: unknown field `promt`",
                "did you mean `prompt`?",
                "typo.toml:9:31: error: option target `nowhere` is not a node",
                "typo.toml:10:11: error: timeout is not a valid duration",
                "3 errors",
            ],
        ),
        ("loop.toml", 1, &["loop.toml:6:8: error: nodes a → b → a loop without ever waiting for input"]),
        (
            "languages.toml",
            1,
            &[
                "languages.toml:12:8: error: sound `missing.wav`",
                "languages.toml:8:8: error: reaching a person from `main` by staying silent",
            ],
        ),
        (
            "no_escape.toml",
            0,
            &["no_escape.toml:10:8: warning: menu `main` has neither an escape key nor a timeout fallback"],
        ),
        (
            "types.toml",
            1,
            &["types.toml:3:9: error: start must be a string", "types.toml:8:8: error: kind must be a string"],
        ),
    ];
    for (file, code, messages) in cases {
        let mut r = run(&["check", &format!("tests/fixtures/{file}")]).code(*code);
        for m in *messages {
            r = r.stderr_has(m);
        }
        assert!(r.stderr().contains('^') || r.stderr().contains('-'), "a snippet marks the span");
    }
}

#[test]
fn missing_file_is_a_usage_error() {
    run(&["check", "tests/fixtures/nope.toml"]).code(2).stderr_has("nope.toml");
}

#[test]
fn scripted_call_as_json() {
    let r = run(&["call", "flows/support.toml", "--keys", "1 - 2 0", "--at", "mon 10:15", "--json"]).code(0);
    let v = r.json();
    assert_eq!(v["outcome"], serde_json::json!({"kind": "queue", "target": "first_line"}));
    let path: Vec<&str> = v["path"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert_eq!(path, ["hours", "welcome", "language", "lang_ru", "main", "tech", "operator", "first_line"]);
    assert!(v["heard"][0].as_str().unwrap().starts_with("Здравствуйте"));
    assert!(v["heard"].as_array().unwrap().iter().any(|h| h == "Извините, я вас не слышу."));
    assert!(v["duration_s"].as_f64().unwrap() > 30.0);
}

#[test]
fn transcript_shows_timeouts_and_outcome() {
    run(&["call", "flows/support.toml", "--keys", "2 - - -", "--at", "wed 11:00", "--lang", "en"])
        .code(0)
        .stdout_has("no input: re-prompt 1")
        .stdout_has("timeout fallback")
        .stdout_has("outcome: queue first_line");
}

#[test]
fn after_hours_goes_to_voicemail() {
    let v = run(&["call", "flows/support.toml", "--keys", "", "--at", "tue 23:00", "--json"]).code(0).json();
    assert_eq!(v["outcome"]["kind"], "voicemail");
}

#[test]
fn script_from_stdin_when_not_a_terminal() {
    let r = run_with_stdin(&["call", "flows/hello.toml", "--json"], "1\n").code(0);
    assert_eq!(r.json()["outcome"], serde_json::json!({"kind": "hangup", "target": "hours"}));
}

#[test]
fn bad_scripts_and_times_are_usage_errors() {
    run(&["call", "flows/hello.toml", "--keys", "1 x"]).code(2).stderr_has("turn 2 `x`: keys must be 0-9, * or #");
    run(&["call", "flows/hello.toml", "--keys", "1", "--at", "someday"]).code(2).stderr_has("is not a time");
    run(&["call", "flows/hello.toml", "--keys", "1", "--lang", "de"]).code(2).stderr_has("not a language");
    run(&["call", "tests/fixtures/typo.toml", "--keys", "1"]).code(2).stderr_has("typo.toml:8:1");
}

#[test]
fn a_script_may_start_with_silence() {
    let outcome = |args: &[&str]| run(args).code(0).json()["outcome"].clone();
    let first_line = serde_json::json!({"kind": "queue", "target": "first_line"});
    assert_eq!(outcome(&["call", "flows/support.toml", "--keys", "- - 0", "--at", "wed 11:00", "--json"]), first_line);
    assert_eq!(outcome(&["call", "flows/support.toml", "--keys", "- 1 0", "--at", "wed 11:00", "--json"]), first_line);
    let r = run(&["call", "flows/support.toml", "--keys=-", "--at", "wed 11:00", "--json"]).code(0);
    let kinds: Vec<String> = r.json()["entries"].as_array().unwrap().iter().map(|e| e["kind"].to_string()).collect();
    assert!(kinds.iter().any(|k| k == "\"silence\""), "{kinds:?}");
}

#[test]
fn graph_json_has_escapes_and_fallbacks() {
    let v = run(&["graph", "flows/support.toml", "--format", "json"]).code(0).json();
    assert_eq!(v["start"], "hours");
    assert_eq!(v["operator"], "operator");
    let edges = v["edges"].as_array().unwrap();
    let has =
        |from: &str, to: &str, on: &str| edges.iter().any(|e| e["from"] == from && e["to"] == to && e["on"] == on);
    for menu in ["language", "main", "consult", "tech", "ticket_more", "payments", "feedback"] {
        assert!(has(menu, "operator", "0"), "0 from {menu}");
        assert!(has(menu, "operator", "timeout"), "timeout from {menu}");
        assert!(has(menu, "operator", "invalid"), "invalid from {menu}");
    }
    assert!(has("main", "complaints", "speech"));
    assert!(has("welcome", "language", "next"));
    assert!(has("hours", "closed", "branch"));
    let kinds: Vec<&str> = v["nodes"].as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"menu") && kinds.contains(&"input") && kinds.contains(&"voicemail"));
}

#[test]
fn graph_dot_and_mermaid() {
    run(&["graph", "flows/hello.toml"])
        .code(0)
        .stdout_has("digraph")
        .stdout_has("\"menu\" -> \"operator\" [label=\"0\", style=dashed]");
    run(&["graph", "flows/hello.toml", "--format", "mermaid"])
        .code(0)
        .stdout_has("flowchart LR")
        .stdout_has("-.->|\"0\"|");
}

#[test]
fn scenario_tests_pass_and_cover_the_flow() {
    run(&["test"]).code(0).stdout_has(" 0 failed").stdout_has("coverage:");
}

#[test]
fn failing_scenario_shows_a_diff() {
    run(&["test", "tests/fixtures/failing.test.toml"])
        .code(1)
        .stdout_has("FAIL expects the wrong queue")
        .stdout_has("expected Queue second_line, got Queue first_line")
        .stdout_has("1 passed, 1 failed");
    run(&["test", "tests/fixtures/bad_scenario.test.toml"])
        .code(1)
        .stderr_has("bad_scenario.test.toml:5:1: error: unknown field `kees`");
}

#[test]
fn scenarios_naming_unknown_nodes_are_refused_before_running() {
    let r = run(&["test", "tests/fixtures/unknown_nodes.test.toml"])
        .code(1)
        .stderr_has("case `misspelt visits`: expect.visits names `mian`, not a node of the flow; did you mean `main`?")
        .stderr_has("expect.path names `langauge`, not a node of the flow; did you mean `language`?")
        .stderr_has("expect.not_visits names `techh`, not a node of the flow; did you mean `tech`?");
    assert!(!r.stdout().contains("ok   ") && !r.stdout().contains("FAIL misspelt"), "no case ran:\n{}", r.stdout());
}

#[test]
fn no_subcommand_runs_the_demo_call() {
    run(&[]).code(0).stdout_has("outcome: queue first_line");
}

#[test]
fn stationary_simulation_as_json() {
    let args = ["simulate", "--stationary", "--calls-per-hour", "600", "--handle-time", "300s", "--agents", "55"];
    let mut all = args.to_vec();
    all.extend(["--patience", "120s", "--calls", "100000", "--seed", "3", "--json"]);
    let v = run(&all).code(0).json();
    assert_eq!(v["calls"], 100_000);
    for key in ["mean_wait_s", "service_level", "p_abandon", "mean_wait_answered_s"] {
        let mean = v[key]["mean"].as_f64().unwrap();
        assert!(mean.is_finite() && v[key]["ci99"].as_f64().unwrap() > 0.0, "{key}: {}", v[key]);
    }
    assert!((0.0..=1.0).contains(&v["occupancy"]["mean"].as_f64().unwrap()));
    let again = run(&all).code(0).json();
    assert_eq!(v["mean_wait_s"], again["mean_wait_s"], "the same seed gives the same numbers");
    run(&["simulate", "--stationary", "--agents", "0"]).code(2).stderr_has("at least one agent");
}

#[test]
fn week_simulation_compares_with_erlang_and_draws_it() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let out = dir.path().to_str().expect("a UTF-8 path");
    let args = ["simulate", "--replications", "2", "--seed", "5", "--compare", "--json", "--out", out];
    let v = run(&args).code(0).json();
    let cells = v["cells"].as_array().expect("cells");
    let compared: Vec<_> = cells.iter().filter(|c| !c["erlang"].is_null()).collect();
    assert!(compared.len() > 100, "most open cells have an Erlang estimate beside them");
    for c in &compared {
        assert!(c["offered"].as_f64().unwrap() > 0.0, "{c}");
        let sl = c["erlang"]["service_level"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&sl), "{c}");
    }
    // Where the queue is nearly idle both agree that nobody waits long.
    let quiet = compared.iter().filter(|c| c["erlang"]["mean_wait_s"].as_f64().is_some_and(|w| w < 1.0));
    for c in quiet {
        assert!(c["mean_wait_s"].as_f64().unwrap() < 30.0, "{c}");
    }
    for queue in ["first_line", "second_line", "supervisors"] {
        for ext in ["svg", "png"] {
            let path = dir.path().join(format!("vs-erlang-{queue}.{ext}"));
            assert!(std::fs::metadata(&path).is_ok_and(|m| m.len() > 1000), "{} is drawn", path.display());
        }
    }
    let text = run(&["simulate", "--replications", "1", "--compare"]).code(0).stdout();
    assert!(text.contains("simulated / Erlang") && text.contains("largest differences"), "{text}");
}

#[test]
fn a_reader_that_stops_early_gets_no_panic() {
    let mut child = switchboard()
        .args(["estimate", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut first = [0u8; 16];
    std::io::Read::read_exact(child.stdout.as_mut().expect("stdout is piped"), &mut first).expect("some JSON");
    drop(child.stdout.take()); // like `| head -c 16`
    let out = child.wait_with_output().expect("the binary finishes");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
