//! `switchboard report`, `db export|prune` and `fit --db` on a real SQLite file, filled through
//! `events::Store` with the events of calls run through the engine on the sample hotline
//! (`flows/support.toml`), plus what only the provider can tell (a caller leaving the queue,
//! hanging up by the status callback, the call's end).

mod common;

use std::path::Path;

use chrono::{DateTime, NaiveDateTime, Utc};
use switchboard::engine::{Call, Event as Input, Flow, Start};
use switchboard::events::{Before, CallHead, DbUrl, Event, Kind, QueueResult, Step, Store, events_of};

use common::run;

fn flow() -> Flow {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    switchboard::files::read_flow(&dir.join("flows/support.toml"), &dir.join("sounds"))
        .and_then(|f| f.into_flow())
        .unwrap_or_else(|e| panic!("the sample flow loads: {e}"))
}

/// Monday 16 March 2026, 10:00 in Moscow (the flow's time zone), 07:00 UTC, plus `s` seconds.
fn utc(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_773_644_400 + s, 0).expect("a valid time")
}

fn local() -> NaiveDateTime {
    switchboard::calendar::parse_at("2026-03-16 10:00").expect("a valid time")
}

/// A call driven through the engine: `inputs` one every 10 s, then `tail` (seconds after the
/// start, node, kind): what the provider reports.
struct Scripted {
    head: CallHead,
    seq: u32,
    events: Vec<Event>,
}

fn scripted(flow: &Flow, id: &str, simulated: bool, inputs: &[Input]) -> Scripted {
    let head = CallHead {
        call_id: id.into(),
        provider: if simulated { "sim" } else { "twilio" }.into(),
        flow: "support".into(),
        flow_version: flow.version,
        simulated,
    };
    let mut seq = 0;
    let (mut call, out) = Call::start(flow, &Start::default(), local());
    let step = Step { at: utc(0), before: None, input: None, caller: None, output: &out };
    let mut events = events_of(&head, &mut seq, flow, &call, step);
    for (i, input) in inputs.iter().enumerate() {
        let before = Before::of(&call);
        let at = utc(10 * (i64::try_from(i).expect("few inputs") + 1));
        let out = call.handle(flow, *input, local() + (at - utc(0)));
        let step = Step { at, before: Some(before), input: Some(*input), caller: None, output: &out };
        events.extend(events_of(&head, &mut seq, flow, &call, step));
    }
    Scripted { head, seq, events }
}

impl Scripted {
    fn then(mut self, s: i64, node: Option<&str>, kind: Kind) -> Scripted {
        self.events.push(self.head.event(self.seq, utc(s), node.map(Into::into), kind));
        self.seq += 1;
        self
    }

    fn left(self, s: i64, result: QueueResult, wait: u32) -> Scripted {
        let kind = Kind::QueueLeft { queue: "first_line".into(), result, queue_time_s: wait, last_position: Some(1) };
        self.then(s, Some("first_line"), kind)
    }

    fn completed(self, s: i64) -> Scripted {
        let duration_s = u32::try_from(s).expect("a short call");
        self.then(s, None, Kind::CallCompleted { duration_s })
    }
}

/// Five real calls and one simulated, stored in `dir/calls.db`; returns its URL.
fn fill(dir: &Path) -> String {
    let url = format!("sqlite://{}", dir.join("calls.db").display());
    let mut store = match Store::open(&DbUrl::parse(&url).expect("a valid URL")) {
        Ok(Some(store)) => store,
        _ => panic!("the log opens"),
    };
    let flow = flow();
    let d = |k: &'static str| Input::Digits(k);
    let calls = [
        // Russian, then 0 at the main menu: queued, answered after 40 s, talks 2 minutes.
        scripted(&flow, "CA1", false, &[d("1"), d("0")]).left(60, QueueResult::Bridged, 40).completed(180),
        // Silence at the language menu: after two re-prompts, the operator; gives up after 70 s.
        scripted(&flow, "CA2", false, &[Input::NoInput, Input::NoInput, Input::NoInput])
            .left(100, QueueResult::Hangup, 70)
            .completed(100),
        // Russian, then hangs up in the main menu; the status callback says so, without a node.
        scripted(&flow, "CA3", false, &[d("1")]).then(15, None, Kind::CallerHungUp {}).completed(15),
        // Self-service: technical help, the restart advice, the flow says goodbye.
        scripted(&flow, "CA4", false, &[d("1"), d("2"), d("1")]).completed(40),
        // Hangs up while the engine listens at the language menu.
        scripted(&flow, "CA5", false, &[Input::Hangup]).completed(8),
        // A simulated caller, counted apart.
        scripted(&flow, "SIM1", true, &[d("1"), d("0")]),
    ];
    for call in calls {
        store.insert(&call.events).expect("the events are stored");
    }
    url
}

#[test]
fn report_json_counts_the_scripted_calls() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = fill(dir.path());
    let r = run(&["report", "--db", &url, "--json"]).code(0).json();
    assert_eq!(r["calls"], 5);
    assert_eq!(r["other_calls"], 1);
    assert_eq!(r["outcomes"], serde_json::json!({"queue": 2, "dial": 0, "voicemail": 0, "callback": 0, "hangup": 3}));
    assert_eq!(r["containment"], 0.2);
    let node =
        |id: &str| r["nodes"].as_array().and_then(|n| n.iter().find(|n| n["id"] == id)).cloned().unwrap_or_default();
    assert_eq!(
        node("language"),
        serde_json::json!({"id": "language", "entered": 5, "escapes": 0, "timeouts": 1, "invalid": 0,
            "escalations": 0, "hangups": 1})
    );
    assert_eq!(
        node("main"),
        serde_json::json!({"id": "main", "entered": 3, "escapes": 1, "timeouts": 0, "invalid": 0,
            "escalations": 0, "hangups": 1})
    );
    assert_eq!(node("tech_restart")["entered"], 1);
    assert_eq!(node("first_line")["entered"], 2);
    assert_eq!(
        r["queues"],
        serde_json::json!([{"name": "first_line", "joined": 2, "answered": 1, "abandoned": 1,
            "mean_wait_s": 55.0, "p90_wait_s": 70.0, "mean_announced_wait_s": null,
            // The abandoned caller left from position 1 (queue_left's own figure).
            "last_position": {"callers": 1, "mean": 1.0, "max": 1}}])
    );
    assert_eq!(r["time_to_person_s"], serde_json::json!({"p50": 20.0, "p90": 30.0, "max": 30.0}));
    assert_eq!(r["by_hour"], serde_json::json!([{"weekday": "mon", "hour": 7, "calls": 5, "queued": 2}]));

    let moscow = run(&["report", "--db", &url, "--json", "--tz", "Europe/Moscow"]).code(0).json();
    assert_eq!(moscow["by_hour"][0]["hour"], 10);
    let sim = run(&["report", "--db", &url, "--json", "--simulated"]).code(0).json();
    assert_eq!((sim["calls"].clone(), sim["outcomes"]["queue"].clone()), (1.into(), 1.into()));
    run(&["report", "--db", &url, "--since", "2026-03-17"]).code(1).stderr_has("no calls in the event log");
    let until = run(&["report", "--db", &url, "--json", "--until", "2026-03-16"]).code(0).json();
    assert_eq!(until["calls"], 5);
}

#[test]
fn report_text_csv_and_charts() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = fill(dir.path());
    let charts = dir.path().join("charts");
    let text = run(&["report", "--db", &url, "--out", charts.to_str().expect("a UTF-8 path")]).code(0);
    let out = text.stdout();
    assert!(out.starts_with("5 calls (1 simulated calls not counted)\n"), "{out}");
    assert!(out.contains("containment 20.0%"), "{out}");
    // Worst first: the two nodes with a hang-up, the one with a zero-out ahead.
    let first = out.lines().skip_while(|l| !l.starts_with("nodes")).nth(2).unwrap_or_default();
    assert!(first.trim_start().starts_with("main "), "{out}");
    for file in ["dropoff.svg", "dropoff.png", "calls_heatmap.svg", "calls_heatmap.png"] {
        assert!(charts.join(file).is_file(), "{file} is drawn");
    }
    let csv = run(&["report", "--db", &url, "--csv"]).code(0).stdout();
    assert!(csv.starts_with("node,entered,escapes,timeouts,invalid,escalations,hangups\n"), "{csv}");
    assert!(csv.contains("\nmain,3,1,0,0,0,1\n"), "{csv}");
}

#[test]
fn export_then_fit_and_fit_from_the_log() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = fill(dir.path());
    // `fit` needs a full week: one answered call a day for the next seven days.
    let mut store = match Store::open(&DbUrl::parse(&url).expect("a valid URL")) {
        Ok(Some(store)) => store,
        _ => panic!("the log opens"),
    };
    for day in 1..=7 {
        let head = CallHead {
            call_id: format!("W{day}").into(),
            provider: "twilio".into(),
            flow: "support".into(),
            flow_version: 1,
            simulated: false,
        };
        let t = |s: i64| utc(day * 86_400 + s);
        let queue = || "first_line".to_owned();
        store
            .insert(&[
                head.event(0, t(0), None, Kind::CallStarted { caller: None }),
                head.event(1, t(5), None, Kind::QueueJoined { queue: queue(), announced_wait_min: Some(1) }),
                head.event(
                    2,
                    t(35),
                    None,
                    Kind::QueueLeft {
                        queue: queue(),
                        result: QueueResult::Bridged,
                        queue_time_s: 30,
                        last_position: None,
                    },
                ),
                head.event(3, t(185), None, Kind::CallCompleted { duration_s: 185 }),
            ])
            .expect("stored");
    }
    drop(store);
    let csv = dir.path().join("calls.csv");
    // In UTC when asked...
    run(&["db", "export", "--db", &url, "--tz", "UTC", "-o", csv.to_str().expect("a UTF-8 path")])
        .code(0)
        .stderr_has("exported 9 queue stay(s)");
    let text = std::fs::read_to_string(&csv).expect("the export is written");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 10, "{text}");
    assert_eq!(lines[0], "start,queue,queue_time,handle_time,abandoned,call_id");
    assert_eq!(lines[1], "2026-03-16 07:00:20,first_line,40,120,false,CA1");
    assert_eq!(lines[2], "2026-03-16 07:00:30,first_line,70,,true,CA2");
    assert_eq!(lines[9], "2026-03-23 07:00:05,first_line,30,150,false,W7");
    // ...and by default in the time zone of the flow the calls ran on (flows/support.toml).
    run(&["db", "export", "--db", &url, "-o", csv.to_str().expect("a UTF-8 path")])
        .code(0)
        .stderr_has("times in Europe/Moscow, the flows' timezone");
    let text = std::fs::read_to_string(&csv).expect("the export is written");
    assert_eq!(text.lines().nth(1), Some("2026-03-16 10:00:20,first_line,40,120,false,CA1"));
    // A folder without the flow's file: UTC, and a note that says why.
    let utc_csv = dir.path().join("utc.csv");
    run(&["db", "export", "--db", &url, "--flows", "docs", "-o", utc_csv.to_str().expect("a UTF-8 path")])
        .code(0)
        .stderr_has("note: times in UTC: the flow `support` has no file docs/support.toml");
    let text = std::fs::read_to_string(&utc_csv).expect("the export is written");
    assert_eq!(text.lines().nth(1), Some("2026-03-16 07:00:20,first_line,40,120,false,CA1"));
    let model = dir.path().join("model.toml");
    run(&["fit", csv.to_str().expect("a UTF-8 path"), "-o", model.to_str().expect("a UTF-8 path")]).code(0);
    let from_db = dir.path().join("from_db.toml");
    run(&["fit", "--db", &url, "-o", from_db.to_str().expect("a UTF-8 path")])
        .code(0)
        .stdout_has("answered 8, abandoned 1");
    let read = |p: &Path| std::fs::read_to_string(p).expect("a model is written");
    let strip = |t: String| t.lines().filter(|l| !l.contains("calls.")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(read(&model)), strip(read(&from_db)), "the same model either way");
}

#[test]
fn prune_removes_calls_that_ended_long_ago() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = fill(dir.path());
    let mut store = match Store::open(&DbUrl::parse(&url).expect("a valid URL")) {
        Ok(Some(store)) => store,
        _ => panic!("the log opens"),
    };
    let old = CallHead {
        call_id: "OLD".into(),
        provider: "twilio".into(),
        flow: "support".into(),
        flow_version: 1,
        simulated: false,
    };
    let at = DateTime::from_timestamp(1_600_000_000, 0).expect("a valid time");
    store
        .insert(&[
            old.event(0, at, None, Kind::CallStarted { caller: None }),
            old.event(1, at, None, Kind::CallCompleted { duration_s: 3 }),
        ])
        .expect("stored");
    drop(store);
    assert_eq!(run(&["report", "--db", &url, "--json"]).code(0).json()["calls"], 6);
    // The scripted calls are from March 2026; keep them with a long enough window.
    run(&["db", "prune", "--db", &url, "--older-than", "1000days"]).code(0).stdout_has("removed 2 event(s)");
    assert_eq!(run(&["report", "--db", &url, "--json"]).code(0).json()["calls"], 5);
}

#[test]
fn a_missing_or_empty_log_says_so() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let missing = dir.path().join("nothing.db");
    let url = format!("sqlite://{}", missing.display());
    run(&["report", "--db", &url]).code(2).stderr_has("no event log at").stderr_has("does not exist");
    run(&["db", "export", "--db", &url]).code(2).stderr_has("no event log at");
    run(&["fit", "--db", &url]).code(2).stderr_has("no event log at");
    assert!(!missing.exists(), "reading does not create a log");
    let empty = format!("sqlite://{}", dir.path().join("empty.db").display());
    drop(Store::open(&DbUrl::parse(&empty).expect("a valid URL")));
    run(&["report", "--db", &empty, "--json"]).code(1).stderr_has("no calls in the event log");
    run(&["fit", "--db", &empty]).code(2).stderr_has("nothing to fit");
}

/// Ratings and fetches: three callers rate the service, four look a ticket up (the support
/// API answers, has no such ticket, or is down).
#[test]
fn report_counts_ratings_and_fetches() {
    use switchboard::engine::call::Fetched;
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("sqlite://{}", dir.path().join("calls.db").display());
    let mut store = Store::open(&DbUrl::parse(&url).expect("a valid URL")).ok().flatten().expect("the log opens");
    let flow = flow();
    let d = |k: &'static str| Input::Digits(k);
    let answer = serde_json::json!({"status": "done"});
    let fetched = |status: Option<u16>, json, ms| Input::Fetched(Fetched { status, json, ms });
    let calls = [
        scripted(&flow, "R1", false, &[d("1"), d("6"), d("4")]),
        scripted(&flow, "R2", false, &[d("1"), d("6"), d("5")]),
        scripted(&flow, "R3", false, &[d("1"), d("6"), d("4")]),
        scripted(&flow, "F1", false, &[d("1"), d("3"), d("123456"), fetched(Some(200), Some(&answer), 80)]),
        scripted(&flow, "F2", false, &[d("1"), d("3"), d("123456"), fetched(Some(200), Some(&answer), 120)]),
        scripted(&flow, "F3", false, &[d("1"), d("3"), d("123456"), fetched(Some(404), None, 40)]),
        scripted(&flow, "F4", false, &[d("1"), d("3"), d("123456"), fetched(None, None, 2000)]),
    ];
    for call in calls {
        store.insert(&call.events).expect("the events are stored");
    }
    drop(store);
    let r = run(&["report", "--db", &url, "--json"]).code(0).json();
    // At the menu that asked, not at the `set` node of each score.
    assert_eq!(
        r["ratings"],
        serde_json::json!([{"node": "feedback", "count": 3, "mean": 13.0 / 3.0, "distribution": [0, 0, 0, 2, 1],
            "other": 0}])
    );
    assert_eq!(
        r["fetches"],
        serde_json::json!([{"node": "ticket_lookup", "count": 4, "ok": 2, "not_found": 1, "failed": 1,
            "p50_ms": 80, "p90_ms": 2000}])
    );
    let text = run(&["report", "--db", &url]).code(0).stdout();
    assert!(
        text.contains(
            "\nfetches:\n  ticket_lookup: 4 requests, ok 2, not found 1, failed 1; time p50 80 ms, p90 2000 ms\n"
        ),
        "{text}"
    );
    assert!(text.contains("\nratings:\n  feedback: 3 given, mean 4.33; 1: 0, 2: 0, 3: 0, 4: 2, 5: 1\n"), "{text}");
}
