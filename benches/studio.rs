//! The studio's phone: server time from a key press to the next prompt (goal: p99 under 50 ms),
//! harness-less: `cargo bench --bench studio`. Each press is one `POST /api/flows/support/call`
//! with the call's turns so far, which the server replays through the engine from the start
//! (reading the flow file and its model as `call` does). Measured in the same run against the
//! bare axum route (a fixed JSON answer), over keep-alive connections on loopback. Also times
//! `GET /` and the flow's first `GET /api/flows/support` (what the page needs to be ready).

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard::studio::{self, Studio};

/// The turns of a call through the sample hotline: Russian, main menu, request status, a request
/// number, the status menu, back to the main menu, a submenu, 0 to the operator.
const TURNS: [&str; 8] = ["1", "3", "123456#", "#", "1", "1", "0", "-"];

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A JSON body (reqwest is built here without its `json` feature).
fn json(request: reqwest::RequestBuilder, body: &serde_json::Value) -> reqwest::RequestBuilder {
    request.header("content-type", "application/json").body(body.to_string())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn measure(rounds: usize, mut request: impl FnMut(usize) -> reqwest::RequestBuilder) -> Vec<Duration> {
    let mut times = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let started = Instant::now();
        let res = request(i).send().await.expect("the request is answered");
        assert!(res.status().is_success(), "{}", res.status());
        let _ = res.bytes().await.expect("the body arrives");
        times.push(started.elapsed());
    }
    times.sort();
    times
}

fn main() {
    let rounds: usize = std::env::var("SWITCHBOARD_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let studio = Arc::new(Studio { flows_dir: root.join("flows"), sounds_dir: root.join("sounds"), addr, token: None });
        tokio::spawn(studio::serve(listener, studio, std::future::pending()));
        let bare = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bare_addr = bare.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/", axum::routing::post(|| async { axum::Json(serde_json::json!({ "waiting": null })) }));
        tokio::spawn(async move { axum::serve(bare, app).await });

        let client = reqwest::Client::new();
        let base = format!("http://{addr}");
        let page = measure(50, |_| client.get(format!("{base}/"))).await;
        let flow = measure(50, |_| client.get(format!("{base}/api/flows/support"))).await;
        println!("page GET /: median {:.2} ms; GET /api/flows/support: median {:.2} ms", ms(page[25]), ms(flow[25]));

        for round in 1..=3 {
            let bare_times =
                measure(rounds, |_| json(client.post(format!("http://{bare_addr}/")), &serde_json::json!({}))).await;
            let key_times = measure(rounds, |i| {
                // Each press adds one turn to a call in progress: the longer the call, the more
                // the server replays.
                let n = i % TURNS.len() + 1;
                let script = TURNS[..n].join(" ");
                let body = serde_json::json!({ "at": "mon 10:15", "lang": "ru", "script": script });
                json(client.post(format!("{base}/api/flows/support/call")), &body)
            })
            .await;
            let (b50, b99) = (percentile(&bare_times, 0.5), percentile(&bare_times, 0.99));
            let (k50, k99) = (percentile(&key_times, 0.5), percentile(&key_times, 0.99));
            println!(
                "round {round}: key press → next prompt median {:.2} ms, p99 {:.2} ms (bare route median {:.3} ms, p99 {:.3} ms; p99 ratio {:.1}×)",
                ms(k50),
                ms(k99),
                ms(b50),
                ms(b99),
                k99.as_secs_f64() / b99.as_secs_f64()
            );
        }
    });
}
