//! Edits under load: the `line` flow and its queue model rewritten ten times a second (every
//! third flow edit and every fourth model edit broken), each followed by a SIGHUP, while
//! callers call. No request fails, and every call hears one edition of the flow: the one it
//! started on, even once memory has dropped it and it is read back from the archive (the long
//! form makes some 600 versions); memory keeps at most `KEEP_VERSIONS` of them.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use switchboard::server::flows::KEEP_VERSIONS;

use crate::caller;
use crate::procs::{Serve, Site, line_flow};
use crate::{Form, form};

pub fn run() {
    let (phase, callers) = match form() {
        Form::Short => (Duration::from_secs(6), 32),
        Form::Long => (Duration::from_secs(120), 64),
    };
    let site = Site::new();
    let flow = site.flows().join("line.toml");
    let model = site.flows().join("line.model.toml");
    write(&model, &line_model(1));
    write(&flow, &with_model(&line_flow(1)));
    let serve = Serve::start(&site, &site.data(), None, "none");
    let line = caller::Line::new(&serve.url());
    let runtime = crate::runtime();
    let stop = Arc::new(AtomicBool::new(false));
    let driver = {
        let stop = stop.clone();
        std::thread::spawn(move || runtime.block_on(caller::until(&line, callers, Duration::from_millis(50), stop)))
    };
    let started = std::time::Instant::now();
    let (mut edits, mut broken) = (0u32, 0u32);
    while started.elapsed() < phase {
        std::thread::sleep(Duration::from_millis(100));
        edits += 1;
        let edition = edits + 1;
        if edits % 3 == 0 {
            // A flow edit that fails the checks: a menu option leading nowhere.
            broken += 1;
            write(&flow, &with_model(&line_flow(edition)).replace("\"1\" = \"hours\"", "\"1\" = \"nowhere\""));
        } else {
            write(&flow, &with_model(&line_flow(edition)));
        }
        if edits % 4 == 0 {
            broken += 1;
            write(&model, "weekly_calls = \"lots\"\n");
        } else {
            write(&model, &line_model(edits));
        }
        serve.signal(libc::SIGHUP);
    }
    stop.store(true, Ordering::Relaxed);
    let tally = driver.join().expect("the callers finish");
    let kept = versions_kept(&serve.url());
    println!(
        "faults: edits under load ({edits} edits of the flow and of the model in {:.0} s, {broken} broken): {}; {} calls heard more than one edition; editions heard: {}; versions in memory {kept} (at most {KEEP_VERSIONS})",
        phase.as_secs_f64(),
        tally.line(),
        tally.mixed_editions,
        tally.editions.len(),
    );
    assert_eq!((tally.stranded, tally.failed_requests, tally.mixed_editions), (0, 0, 0), "{:?}", tally.why);
    assert!((1..=KEEP_VERSIONS).contains(&kept), "{kept} versions in memory");
    assert!(tally.editions.len() > 10, "the edits did not reach callers: {:?}", tally.editions);
    assert!(tally.editions.iter().all(|e| e % 3 != 1 || *e == 1), "a broken edit was served: {:?}", tally.editions);
}

/// The `line` flow's `versions_kept` in the server's `/flows` listing.
fn versions_kept(url: &str) -> usize {
    let runtime = crate::runtime();
    let listing: serde_json::Value = runtime.block_on(async {
        let answer = reqwest::get(format!("{url}/flows")).await.expect("GET /flows");
        serde_json::from_str(&answer.text().await.expect("a body")).expect("/flows is JSON")
    });
    let line = listing.as_array().and_then(|flows| flows.iter().find(|f| f["name"] == "line"));
    let kept = line.and_then(|f| f["versions_kept"].as_u64());
    kept.unwrap_or_else(|| panic!("no versions_kept for the line flow in {listing}")) as usize
}

/// Replaces `path` whole, as an editor saving a file does (a new file renamed over the old).
fn write(path: &Path, text: &str) {
    let new = path.with_extension("new");
    std::fs::write(&new, text).expect("write the edit");
    std::fs::rename(&new, path).expect("rename the edit into place");
}

fn with_model(flow: &str) -> String {
    flow.replacen("operator = \"operator\"\n", "operator = \"operator\"\nmodel = \"line.model.toml\"\n", 1)
}

/// A queue model for the line, `agents` + 4 agents on the first line all week.
fn line_model(agents: u32) -> String {
    let days: String =
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().map(|d| format!("{d} = \"00:00-24:00\"\n")).collect();
    format!(
        "timezone = \"UTC\"\ninterval = \"60m\"\nservice_level = {{ target = \"20s\", share = 0.8 }}\n\n[hours]\n{days}\n\
         [queues.first_line]\nweekly_calls = 5000\nhandle_time = \"4m\"\npatience = \"3m\"\n\
         shifts = [{{ days = \"mon-sun\", from = \"00:00\", to = \"24:00\", agents = {} }}]\n",
        agents % 10 + 4
    )
}
