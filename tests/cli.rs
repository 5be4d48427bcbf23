//! The `switchboard` binary on the sample flows and on broken fixtures, as users run it.

mod common;

use std::process::Stdio;

use common::{run, run_in, run_with_stdin, switchboard};

#[test]
fn sample_flows_are_clean() {
    run(&["check"]).code(0).stderr_has("checked 2 flows: 0 errors, 2 warnings");
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
fn report_adds_day_long_timeouts_without_overflow() {
    // Each menu: a 14-character prompt (300 ms + 1000 ms), then 24 h of silence, then 20 times
    // the prompt again and 24 h: 21 × 86,401.3 s = 1,814,427.3 s. Silence goes a → b → c → op,
    // three menus: 5,443,281.9 s, over u32::MAX milliseconds (about 4,294,967 s).
    run(&["check", "--report", "tests/fixtures/long_timeouts.toml"])
        .code(0)
        .stdout_has("(call start)                    1.3 s  5443281.9 s")
        .stdout_has("b                               1.3 s  3628854.6 s")
        .stdout_has("longest way to a person: 3.9 s via a → b → c → op");
}

#[test]
fn broken_flows_say_where_and_what() {
    // One whole diagnostic per fixture: header, snippet with the span marked, help. The full
    // output of each is pinned by `check_output_of_every_fixture`.
    let cases: &[(&str, i32, &str)] = &[
        (
            "syntax.toml",
            1,
            r#"tests/fixtures/syntax.toml:3:14: error: invalid TOML: invalid basic string, expected `"`
 --> tests/fixtures/syntax.toml:3:14
  |
3 | start = "main
  |              ^
  |
"#,
        ),
        (
            "garbage.toml",
            1,
            r#"tests/fixtures/garbage.toml:1:6: error: invalid TOML: unclosed table, expected `]`
 --> tests/fixtures/garbage.toml:1:6
  |
1 | [flow
  |      ^
  |
"#,
        ),
        (
            "typo.toml",
            1,
            r#"tests/fixtures/typo.toml:8:1: error: unknown field `promt` in node `main`
 --> tests/fixtures/typo.toml:8:1
  |
8 | promt = "Press 1."
  | ^^^^^
  |
  = help: did you mean `prompt`?
"#,
        ),
        (
            "loop.toml",
            1,
            r#"tests/fixtures/loop.toml:6:8: error: nodes a → b → a loop without ever waiting for input
 --> tests/fixtures/loop.toml:6:8
  |
6 | [nodes.a]
  |        ^
  |
  = help: put a menu or input on the loop, or end it in a queue or hangup
"#,
        ),
        (
            "languages.toml",
            1,
            r#"tests/fixtures/languages.toml:8:8: error: reaching a person from `main` by staying silent takes up to 19.2 s, over max_time_to_person (10.0 s)
 --> tests/fixtures/languages.toml:8:8
  |
8 | [nodes.main]
  |        ^^^^
  |
"#,
        ),
        (
            "no_escape.toml",
            0,
            r#"tests/fixtures/no_escape.toml:10:8: warning: menu `main` has neither an escape key nor a timeout fallback that reaches a person
  --> tests/fixtures/no_escape.toml:10:8
   |
10 | [nodes.main]
   |        ----
   |
  = help: keep escape = "0", or set fallback to a path that ends in a queue
"#,
        ),
        (
            "types.toml",
            1,
            r#"tests/fixtures/types.toml:8:8: error: kind must be a string, not integer
 --> tests/fixtures/types.toml:8:8
  |
8 | kind = 3
  |        ^
  |
"#,
        ),
    ];
    for (file, code, diagnostic) in cases {
        run(&["check", &format!("tests/fixtures/{file}")]).code(*code).stderr_has(diagnostic);
    }
}

/// The whole of `check`'s output for each flow in tests/fixtures, with its exit code.
#[test]
fn check_output_of_every_fixture() {
    let mut fixtures: Vec<String> = std::fs::read_dir("tests/fixtures")
        .expect("the fixtures folder")
        .map(|e| e.expect("a folder entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".toml") && !name.ends_with(".test.toml") && !name.ends_with(".model.toml"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 10, "{fixtures:?}");
    for name in fixtures {
        let r = run(&["check", &format!("tests/fixtures/{name}")]);
        let code = r.out.status.code().expect("an exit code");
        let stem = name.trim_end_matches(".toml");
        insta::assert_snapshot!(format!("check_{stem}"), format!("exit code {code}\n{}", r.stderr()));
    }
}

/// `switchboard check` on one fixture: the exit code and the whole of stderr.
#[track_caller]
fn check_prints(fixture: &str, code: i32, expected: &str) {
    let r = run(&["check", &format!("tests/fixtures/{fixture}")]).code(code);
    assert_eq!(r.stderr(), expected);
}

#[test]
fn unset_placeholders_are_errors_at_their_own_text() {
    check_prints(
        "placeholders.toml",
        1,
        r#"tests/fixtures/placeholders.toml:15:21: error: `{ticket}` is never set: no `set` or `input` node stores it
  --> tests/fixtures/placeholders.toml:15:21
   |
15 | prompt.ru = "Заявка {ticket} в работе."
   |                     ^^^^^^^^
   |
  = help: did you mean `ticket_no`?
tests/fixtures/placeholders.toml:16:22: error: `{ticket}` is never set: no `set` or `input` node stores it
  --> tests/fixtures/placeholders.toml:16:22
   |
16 | prompt.en = "Request {ticket} is being worked on, {caller}."
   |                      ^^^^^^^^
   |
  = help: did you mean `ticket_no`?
checked 1 flow: 2 errors, 0 warnings
"#,
    );
}

#[test]
fn empty_prompts_and_fractional_timeouts_are_warnings() {
    check_prints(
        "quiet.toml",
        0,
        r#"tests/fixtures/quiet.toml:7:8: warning: timeout 1 s is outside what plivo (5–60 s: callers there get 5 s) accepts
 --> tests/fixtures/quiet.toml:7:8
  |
7 | [nodes.main]
  |        ----
  |
  = help: a timeout within every provider's bounds serves `main` the same everywhere
tests/fixtures/quiet.toml:9:36: warning: the prompt is empty: the caller hears nothing
 --> tests/fixtures/quiet.toml:9:36
  |
9 | prompt = { ru = "Нажмите 1.", en = "" }
  |                                    --
  |
  = help: write what the caller should hear, or delete the prompt
tests/fixtures/quiet.toml:11:11: warning: timeout of 500 ms is not whole seconds: the provider waits 1 s
  --> tests/fixtures/quiet.toml:11:11
   |
11 | timeout = "500ms"
   |           -------
   |
  = help: the provider counts this in whole seconds; write "1s"
tests/fixtures/quiet.toml:16:10: warning: the prompt is empty: the caller hears nothing
  --> tests/fixtures/quiet.toml:16:10
   |
16 | prompt = ""
   |          --
   |
  = help: write what the caller should hear, or delete the prompt
checked 1 flow: 0 errors, 4 warnings
"#,
    );
}

#[test]
fn queues_the_model_lacks_are_errors_for_check_and_call() {
    check_prints(
        "queues.toml",
        1,
        r#"tests/fixtures/queues.toml:9:40: error: queue `first_lin` is not a queue of understaffed.model.toml
 --> tests/fixtures/queues.toml:9:40
  |
9 | cases = [{ wait_over = "10m", queue = "first_lin", goto = "tech" }]
  |                                        ^^^^^^^^^
  |
  = help: did you mean `first_line`?
tests/fixtures/queues.toml:14:10: error: queue `second_line` is not a queue of understaffed.model.toml
  --> tests/fixtures/queues.toml:14:10
   |
14 | queue = "second_line"
   |          ^^^^^^^^^^^
   |
  = help: the model's queues are: first_line
checked 1 flow: 2 errors, 0 warnings
"#,
    );
    run(&["call", "tests/fixtures/queues.toml", "--keys", ""])
        .code(2)
        .stderr_has(
            "tests/fixtures/queues.toml:9:40: error: queue `first_lin` is not a queue of understaffed.model.toml",
        )
        .stderr_has("error: tests/fixtures/queues.toml has errors");
}

#[test]
fn a_broken_queue_model_is_shown_by_check_and_call() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let flow = "[flow]\nname = \"m\"\nstart = \"op\"\noperator = \"op\"\nmodel = \"broken.model.toml\"\n\n[nodes.op]\nkind = \"queue\"\nqueue = \"first_line\"\n";
    std::fs::write(dir.path().join("m.toml"), flow).expect("the flow is written");
    std::fs::write(dir.path().join("broken.model.toml"), "interval = \"7m\"\n").expect("the model is written");
    let model_errors = r#"broken.model.toml:1:12: error: interval must be 15m, 30m or 60m
 --> broken.model.toml:1:12
  |
1 | interval = "7m"
  |            ^^^^
  |
broken.model.toml:1:1: error: the model has no queues: add [queues.<name>] sections
 --> broken.model.toml:1:1
  |
1 | interval = "7m"
  | ^
  |
"#;
    let checked = run_in(dir.path(), &["check", "m.toml"], "").code(1).stderr();
    assert_eq!(checked, format!("{model_errors}checked 1 flow: 2 errors, 0 warnings\n"));
    let called = run_in(dir.path(), &["call", "m.toml", "--keys", ""], "").code(2).stderr();
    assert_eq!(called, format!("{model_errors}error: broken.model.toml has errors\n"));
}

#[test]
fn a_fractional_timeout_waits_what_the_provider_waits() {
    let v = run(&["call", "tests/fixtures/quiet.toml", "--keys", "-", "--json"]).code(0).json();
    let gathers: Vec<_> = v["entries"].as_array().unwrap().iter().filter(|e| e["kind"] == "gather").collect();
    assert_eq!(gathers.len(), 3, "the prompt and two re-prompts");
    assert!(gathers.iter().all(|g| g["timeout_ms"] == 1000), "{gathers:?}");
    // Three times the 1,014 ms prompt and a 1 s silence, then the empty hold prompt's 300 ms.
    assert_eq!(v["duration_s"], 6.342);
}

#[test]
fn check_outside_the_project_says_what_it_looked_for() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let expected =
        "error: no flow files (*.toml) in flows/: give a flow file or a folder, or run from the project folder\n";
    assert_eq!(run_in(dir.path(), &["check"], "").code(2).stderr(), expected);
    std::fs::create_dir(dir.path().join("flows")).expect("an empty flows folder");
    assert_eq!(run_in(dir.path(), &["check"], "").code(2).stderr(), expected);
    run_in(dir.path(), &["check", "flows"], "").code(2).stderr_has("error: no flow files (*.toml) in flows/\n");
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
        .stdout_has(r#""menu" -> "operator" [label="0, \"оператор\" / \"человек\" / \"operator\" / \"agent\" / \"human\", timeout, invalid", style=dashed];"#);
    run(&["graph", "flows/hello.toml", "--format", "mermaid"])
        .code(0)
        .stdout_has("flowchart LR")
        .stdout_has("n0 -.->|\"0, #quot;оператор#quot; / #quot;человек#quot; / #quot;operator#quot; / #quot;agent#quot; / #quot;human#quot;, timeout, invalid\"| n2");
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
        .stdout_has("outcome: expected queue second_line, got queue first_line")
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

#[test]
fn call_answers_a_fetch_from_a_mock_file_and_fails_it_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let mock = dir.path().join("mock.toml");
    std::fs::write(&mock, "ticket_lookup = { json = { status = \"done\" }, latency_ms = 250 }\n").unwrap();
    let mock = mock.to_str().unwrap();
    let keys = ["call", "flows/support.toml", "--at", "wed 11:00", "--keys", "1 3 123456# 2"];
    run(&[&keys[..], &["--mock", mock]].concat())
        .code(0)
        .stdout_has("⇄ GET {env.SUPPORT_API_URL}/requests/123456: HTTP 200 after 0.2 s")
        .stdout_has("Заявка номер 1 2 3 4 5 6 выполнена.");
    run(&keys)
        .code(0)
        .stdout_has("(no mock for `ticket_lookup` or {env.SUPPORT_API_URL}/requests/123456: the fetch fails)")
        .stdout_has("сейчас не получается узнать статус заявки");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "ticket_lookup = { stauts = 404 }\n").unwrap();
    let bad = bad.to_str().unwrap();
    let refused = run(&[&keys[..], &["--mock", bad]].concat()).code(2).stderr_has("is not a mock file");
    // The diagnostic opens its line, not after a second `error:`.
    let at = format!("{bad}:1:19: error: unknown field `stauts`");
    assert!(refused.stderr().lines().any(|l| l.starts_with(&at)), "{}", refused.stderr());
}
