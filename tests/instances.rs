//! Two server instances with the same secret and one PostgreSQL event log, every call's
//! requests alternating between them (Twilio follows the TwiML's URLs to whichever instance
//! the balancer picks): the log holds one coherent call per call id, and `switchboard report
//! --db postgres://…` counts exactly what the scripted calls did. Runs on a throwaway cluster
//! (tests/common/postgres.rs); without PostgreSQL's binaries it says why and passes.

// Only the server harness and the Twilio driver of tests/common, not the CLI runner.
mod common {
    #![allow(dead_code)]
    pub mod server;
    pub mod twilio;
}
#[path = "common/postgres.rs"]
mod pg;

use std::time::Duration;

use common::server::{Dirs, Server, open_hours};
use common::twilio::{Act, Call};
use switchboard::events::{DbUrl, Store, Writer, WriterConfig};

/// Does `act` on `server` and checks the answer is TwiML.
async fn act(server: &Server, call: &mut Call, act: Act<'_>) {
    let reply = server.twilio.act(call, act).await.unwrap_or_else(|e| panic!("{}: {e}", call.sid));
    reply.twiml();
}

/// The number's status callback, as Twilio posts it when the call is over.
async fn completed(server: &Server, sid: &str, duration_s: &str) {
    let params = [("CallSid", sid), ("CallStatus", "completed"), ("CallDuration", duration_s)];
    server.post(&server.public_url("/twilio/status?flow=support"), &params).await.twiml();
}

#[test]
fn two_instances_alternating_on_one_postgres_log_give_one_call_per_call_id() {
    let Some(cluster) = pg::Cluster::start() else { return };
    let url = cluster.database("instances");
    let db = DbUrl::parse(&url).expect("a valid URL");
    let dirs = Dirs::new();
    // Opened outside the runtime: the PostgreSQL client runs one of its own.
    let config = WriterConfig { batch_window: Duration::from_millis(20), ..WriterConfig::default() };
    let writer = || Writer::open(&db, config.clone()).expect("the writer starts").expect("a log");
    let (writer_a, writer_b) = (writer(), writer());
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let a = Server::start_logged(&dirs, open_hours(), writer_a).await;
        let b = Server::start_logged(&dirs, open_hours(), writer_b).await;
        let voice = a.public_url("/twilio/support");

        // CA1: rings on A, presses 0 on B, is bridged (A), completes (B).
        let mut ca1 = Call::new("CA1", &voice);
        act(&a, &mut ca1, Act::Ring).await;
        act(&b, &mut ca1, Act::Press("0")).await;
        assert!(ca1.doc.find("Enqueue").is_some(), "CA1 is queued");
        act(&a, &mut ca1, Act::Left("bridged")).await;
        completed(&b, "CA1", "300").await;

        // CA2: rings on B, presses 1 on A (the main menu), hangs up there (status on A).
        let mut ca2 = Call::new("CA2", &voice);
        act(&b, &mut ca2, Act::Ring).await;
        act(&a, &mut ca2, Act::Press("1")).await;
        completed(&a, "CA2", "20").await;

        // CA3: rings on A, is silent on B, presses 0 on A, gives up in the queue (B).
        let mut ca3 = Call::new("CA3", &voice);
        act(&a, &mut ca3, Act::Ring).await;
        act(&b, &mut ca3, Act::Press("1")).await;
        act(&a, &mut ca3, Act::Press("0")).await;
        assert!(ca3.doc.find("Enqueue").is_some(), "CA3 is queued");
        act(&b, &mut ca3, Act::Left("hangup")).await;
        completed(&a, "CA3", "90").await;

        for server in [a, b] {
            let stats = server.stop().await.expect("a log");
            assert_eq!(stats.dropped, 0);
        }
    });

    // Each call: one run of seq numbers from 0 whichever instance logged them, then the
    // status callback's two.
    let mut store = Store::open(&db).expect("the log opens").expect("a log");
    for sid in ["CA1", "CA2", "CA3"] {
        let seqs: Vec<u32> = store.call_events(sid).expect("reads").iter().map(|e| e.seq).collect();
        let own = seqs.len() - 2;
        assert_eq!(seqs[..own], (0..own as u32).collect::<Vec<u32>>(), "{sid}: {seqs:?}");
        assert_eq!(seqs[own..], [u32::MAX - 1, u32::MAX], "{sid}");
    }
    drop(store);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["report", "--json", "--db", &url])
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(r["calls"], 3);
    assert_eq!(r["outcomes"], serde_json::json!({"queue": 2, "dial": 0, "voicemail": 0, "callback": 0, "hangup": 1}));
    assert_eq!(r["containment"], 0.0);
    let queue = &r["queues"][0];
    assert_eq!(
        (&queue["name"], &queue["joined"], &queue["answered"], &queue["abandoned"]),
        (&"first_line".into(), &2.into(), &1.into(), &1.into())
    );
    let node = |id: &str| r["nodes"].as_array().and_then(|n| n.iter().find(|n| n["id"] == id)).cloned();
    let main = node("main").expect("the main menu is reported");
    assert_eq!((&main["entered"], &main["hangups"]), (&2.into(), &1.into()), "{main}");
    let escapes: u64 = r["nodes"].as_array().expect("nodes").iter().map(|n| n["escapes"].as_u64().unwrap_or(0)).sum();
    assert_eq!(escapes, 2, "CA1 and CA3 pressed 0");
}
