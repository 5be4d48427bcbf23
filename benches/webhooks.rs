//! Load: complete calls through `flows/support.toml` on the real `switchboard serve` process,
//! beside a bare axum route that answers a fixed document, both driven the same way in the
//! same run (issue 6).
//!
//! Per provider (issue 13): the same call through every adapter on the same server (`/twilio`,
//! `/signalwire`, `/telnyx`, `/plivo`, `/vonage`, `/jambonz`), each encoded and signed its
//! provider's way, each run back to back with its bare route; the ratios and targets
//! are per provider. Each provider's ratios are against the bare route driven by the same
//! driver, signing the same way and parsing answers of the same format (the bare route
//! answers each provider's requests with a fixed document in its format), so the driver's
//! share of the cores weighs on both sides alike: Twilio and SignalWire share one baseline,
//! Telnyx (Ed25519), Plivo, Vonage and jambonz each have their own. The TwiML family is driven
//! by the server tests' driver; Plivo, Vonage and jambonz by [`other`], which finds the next
//! callback URL in any document. Vonage has no queue
//! callbacks (a queue is a conversation), so its call is the first seven requests.
//!
//! `cargo bench --bench webhooks` (cargo builds `target/release/switchboard` first, as the bench's
//! `CARGO_BIN_EXE_switchboard`). Options go after `--`: `--connections 256`, `--seconds 3`
//! (measured per run, after a 0.5 s warm-up), `--rounds 5` (each provider once per round beside
//! its bare route, the order rotating), `--calls 100000` (the memory soak, through Twilio),
//! `--providers twilio,signalwire,telnyx,plivo,vonage,jambonz`, `--db URL` (the server's call
//! log: its default, SQLite in a temp dir, unless `none` or a `postgres://` URL is given) and
//! `--load 0.5` (below; 0 skips the paced runs).
//!
//! Each pair runs twice: closed-loop, every task sending its next request as soon as the last
//! is answered (the most each side serves: req/s); then paced, both sides offered the same
//! rate, `--load` times our side's req/s of that pair, as Poisson arrivals (each task's
//! requests due at exponential gaps), each request's latency counted from when it was due
//! ([`Due`]). At saturation a closed loop's p99 is mostly the queue of requests the slower
//! side has not taken yet, so it restates the req/s ratio; paced, where neither side is the
//! bottleneck, p99 is what a provider waits for a webhook at a load the server carries.
//!
//! The server keeps no call state, so a complete call is a chain: every answer's TwiML holds
//! the signed URL of the next request. Tools like oha or wrk repeat one request and cannot
//! follow it, hence the driver the server tests use too (`tests/common/twilio.rs`):
//! `--connections` tasks, each running calls one after another, each call with its own
//! `CallSid`, every request signed with `X-Twilio-Signature` the way Twilio signs it. One call is nine requests (`CALL`): the language menu, Russian, the ticket
//! input, a ticket number, back to the main menu, technical help, the second line (`<Enqueue>`),
//! one wait-URL request with the queue position, and the caller leaving the queue, bridged
//! (then the flow's rating menu). The ticket's status comes from the flow's `fetch` node,
//! answered by the bare server's `/requests/{ticket}` (`SUPPORT_API_URL`).
//! The bare server answers every one of them with one document of about the same size, in
//! the provider's format, that holds the URLs and the fragments the driver checks, so the
//! client does identical work on both sides; its own cost (signing, encoding, parsing) is measured apart and printed.
//!
//! Beside each provider's ratios, the p99 of its requests but the ticket's ([`TICKET_STEP`])
//! over the bare route's p99: the ticket's answer waits for the flow's `fetch`, a round trip
//! to the ticket API in another process on the same cores, which the bare route never makes.
//!
//! Both servers are child processes, so their CPU time and resident memory come from
//! `/proc/PID/stat` and `/proc/PID/status`: server CPU per request is the figure least
//! disturbed by other load on the machine, since the driver shares the cores. The bare server
//! is this binary again, started with `SWITCHBOARD_LOAD_BARE` set to its address.
//!
//! The server logs at its default level (`SWITCHBOARD_LOAD_RUST_LOG` sets its `RUST_LOG`
//! instead), to /dev/null. The flow is `flows/support.toml` with its `[hours]` table removed (so the path does not
//! depend on when the bench runs), beside its queue model and the sample sounds.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

// The driver the server tests use: Twilio's parameters, signatures, and the URLs in the TwiML.
#[path = "../tests/common/twilio.rs"]
mod twilio;

use rand::SeedableRng;
use rand_distr::{Distribution, Exp};
use rand_xoshiro::Xoshiro256PlusPlus;
use twilio::{Act, Call, Scheme, Twilio};

const AUTH_TOKEN: &str = "load-bench-auth-token";
const VONAGE_SECRET: &str = "load-bench-vonage-secret";
const JAMBONZ_SECRET: &str = "load-bench-jambonz-secret";
/// The Telnyx account's private key seed; the server gets the public half.
const TELNYX_SEED: [u8; 32] = [9; 32];
/// The providers whose complete calls are measured, each against the bare route.
const PROVIDERS: [&str; 6] = ["twilio", "signalwire", "telnyx", "plivo", "vonage", "jambonz"];

/// How `provider`'s calls are driven: the TwiML driver signing its way, or [`other`].
fn driver(provider: &'static str) -> Driver {
    match provider {
        "signalwire" => Driver::Twiml(Scheme::SignalWire),
        "telnyx" => Driver::Twiml(Scheme::Telnyx(Box::new(ed25519_dalek::SigningKey::from_bytes(&TELNYX_SEED)))),
        "plivo" | "vonage" | "jambonz" => Driver::Other(provider),
        _ => Driver::Twiml(Scheme::Twilio),
    }
}

#[derive(Clone)]
enum Driver {
    Twiml(Scheme),
    Other(&'static str),
}

/// The bare baseline of the calls `driver` makes: one per way of encoding and signing.
fn bare_name(driver: &Driver) -> &'static str {
    match driver {
        Driver::Twiml(Scheme::Telnyx(_)) => "bare-telnyx",
        Driver::Twiml(_) => "bare",
        Driver::Other("plivo") => "bare-plivo",
        Driver::Other("vonage") => "bare-vonage",
        Driver::Other(_) => "bare-jambonz",
    }
}

/// Set to an address, the binary serves the bare route there instead of benchmarking.
const BARE_ENV: &str = "SWITCHBOARD_LOAD_BARE";
const WARMUP: Duration = Duration::from_millis(500);
/// RSS is read when the soak passes these numbers of calls.
const CHECKPOINTS: [u64; 5] = [10_000, 25_000, 50_000, 75_000, 100_000];
/// Linux reports CPU time in `/proc/PID/stat` in USER_HZ ticks, fixed at 100 by the ABI.
const TICKS_PER_S: f64 = 100.0;

/// One complete call through the support flow: what the caller does, and a fragment the
/// answer must contain.
const CALL: [(Act<'static>, &str); 9] = [
    (Act::Ring, "<Gather"),
    (Act::Press("1"), "<Gather"),
    (Act::Press("3"), "finishOnKey=\"#\""),
    (Act::Press("12345678"), "1 2 3 4 5 6 7 8"),
    (Act::Press("#"), "<Gather"),
    (Act::Press("2"), "<Gather"),
    (Act::Press("3"), ">second_line</Enqueue>"),
    (Act::Wait { position: 3, queue_time_s: 12 }, "<Pause"),
    (Act::Left("bridged"), "оцените"),
];

/// The request whose answer waits for the flow's `fetch` (the ticket's status from the ticket
/// API, a round trip to another process on the same cores), in every provider's call.
const TICKET_STEP: usize = 3;

struct Options {
    connections: usize,
    seconds: f64,
    rounds: usize,
    calls: u64,
    providers: Vec<&'static str>,
    /// The server's `--db`, when not its default.
    db: Option<String>,
    /// The paced runs' offered rate, a share of our side's saturated req/s in the same pair
    /// (0: no paced runs).
    load: f64,
}

impl Options {
    fn parse() -> Options {
        let mut o = Options {
            connections: 256,
            seconds: 3.0,
            rounds: 5,
            calls: 100_000,
            providers: PROVIDERS.to_vec(),
            db: None,
            load: 0.5,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--bench" => {} // cargo bench passes it to every harness = false bench
                "--connections" => o.connections = number(&arg, args.next()),
                "--seconds" => o.seconds = number(&arg, args.next()),
                "--rounds" => o.rounds = number(&arg, args.next()),
                "--calls" => o.calls = number(&arg, args.next()),
                "--load" => o.load = number(&arg, args.next()),
                "--db" => o.db = Some(args.next().unwrap_or_else(|| usage("--db takes a URL"))),
                "--providers" => {
                    let list = args.next().unwrap_or_default();
                    o.providers = list
                        .split(',')
                        .map(|p| {
                            PROVIDERS
                                .into_iter()
                                .find(|n| *n == p.trim())
                                .unwrap_or_else(|| usage(&format!("no provider {p} ({})", PROVIDERS.join(", "))))
                        })
                        .collect();
                }
                other => usage(&format!("unknown option {other}")),
            }
        }
        if o.connections == 0 || o.rounds == 0 || o.seconds <= 0.0 {
            usage("connections, rounds and seconds must be positive");
        }
        if !(0.0..1.0).contains(&o.load) {
            usage("load is a share of the saturated rate, at least 0 and below 1");
        }
        o
    }
}

fn number<T: std::str::FromStr>(name: &str, value: Option<String>) -> T {
    value.and_then(|v| v.parse().ok()).unwrap_or_else(|| usage(&format!("{name} takes a number")))
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "{problem}\nusage: cargo bench --bench webhooks -- [--connections 256] [--seconds 3] [--rounds 5] [--calls 100000] [--providers twilio,signalwire,telnyx,plivo,vonage,jambonz] [--db URL] [--load 0.5]"
    );
    std::process::exit(2)
}

fn main() {
    if let Ok(addr) = std::env::var(BARE_ENV) {
        bare::serve(&addr);
        return;
    }
    let options = Options::parse();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(bench(options));
}

async fn bench(o: Options) {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bare = Server::bare();
    let ours = Server::switchboard(repo, tmp.path(), &bare.base, o.db.as_deref());
    ours.wait_ready().await;
    bare.wait_ready().await;

    println!(
        "load: {} connections, calls of {} requests, {} round(s) of {:.1} s per side; {} cores",
        o.connections,
        CALL.len(),
        o.rounds,
        o.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let client_us = client_cost_us(&ours.base);
    println!("driver cost outside HTTP (sign + encode + parse) per request: {client_us:.1} µs");

    // The soak first: 100,000 distinct calls, also the real server's warm-up.
    let rss_start = ours.rss_kib();
    let soak = soak(&ours, &o).await;
    let rss_after_soak = ours.rss_kib();
    show_error(&soak.run);
    let bare_rss = bare.rss_kib();

    let targets: Vec<Target> = o
        .providers
        .iter()
        .map(|name| Target { name, start: format!("{}/{name}/support", ours.base), driver: driver(name) })
        .collect();
    // The bare route driven as each provider's calls are: the same requests, encoded and
    // signed the same way, and answers of the same format and about the same size to parse,
    // so the driver's share of the two cores is the same on both sides of a ratio. Twilio and
    // SignalWire sign alike and share a bare baseline; Telnyx (Ed25519), Plivo, Vonage (a JWT
    // over a JSON body) and jambonz each get their own.
    let mut bare_targets: Vec<Target> = Vec::new();
    let baseline: Vec<usize> = targets
        .iter()
        .map(|t| {
            let name = bare_name(&t.driver);
            match bare_targets.iter().position(|b| b.name == name) {
                Some(i) => i,
                None => {
                    let start = match &t.driver {
                        Driver::Twiml(_) => bare.start.clone(),
                        Driver::Other(_) => bare.base.clone(),
                    };
                    bare_targets.push(Target { name, start, driver: t.driver.clone() });
                    bare_targets.len() - 1
                }
            }
        })
        .collect();
    let mut runs_bares: Vec<Vec<Run>> = bare_targets.iter().map(|_| Vec::new()).collect();
    let mut runs_ours: Vec<Vec<Run>> = targets.iter().map(|_| Vec::new()).collect();
    let mut pairs: Vec<Vec<Ratios>> = targets.iter().map(|_| Vec::new()).collect();
    // The same pairs paced at `o.load` of our side's saturated rate: latency where the
    // server is not the bottleneck, which a closed loop at saturation cannot show (there, p99
    // is mostly the queue of requests the slower side has not yet taken).
    let mut paced: Vec<Vec<Ratios>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 0..o.rounds {
        // Each provider back to back with its bare baseline, so that a ratio compares two
        // runs seconds apart: the machine's speed drifts by more than the effects measured
        // over the minute a round takes. The providers' order rotates every round, and which
        // side of a pair goes first alternates.
        let mut order: Vec<usize> = (0..targets.len()).collect();
        order.rotate_left(round % targets.len().max(1));
        for i in order {
            let base = baseline[i];
            let (servers, sides) = ([&bare, &ours], [&bare_targets[base], &targets[i]]);
            let [b, a] = pair(servers, sides, &o, None, round).await;
            pairs[i].push(Ratios::of(&a, &b));
            if o.load > 0.0 {
                let rate = o.load * a.rps();
                let [pb, pa] = pair(servers, sides, &o, Some(rate), round).await;
                paced[i].push(Ratios::of(&pa, &pb));
            }
            runs_bares[base].push(b);
            runs_ours[i].push(a);
        }
    }
    let rss_end = ours.rss_kib();

    let m_bares: Vec<Medians> =
        bare_targets.iter().zip(&runs_bares).map(|(t, runs)| Medians::of(t.name, runs)).collect();
    let m_ours: Vec<Medians> = targets.iter().zip(&runs_ours).map(|(t, runs)| Medians::of(t.name, runs)).collect();
    println!();
    println!(
        "{:<12} {:>9} {:>9} {:>9} {:>9} {:>7} {:>12} {:>12} {:>10}",
        "target", "requests", "req/s", "p50 ms", "p99 ms", "errors", "server µs/rq", "driver µs/rq", "bytes/rq"
    );
    for m in m_bares.iter().chain(&m_ours) {
        println!(
            "{:<12} {:>9} {:>9.0} {:>9.2} {:>9.2} {:>7} {:>12.1} {:>12.1} {:>10.0}",
            m.name, m.requests, m.rps, m.p50_ms, m.p99_ms, m.errors, m.server_us, m.client_us, m.bytes
        );
    }
    // Each ratio is the median of the pairs': steadier than the ratio of medians when the
    // machine's other load comes and goes.
    let ratios: Vec<Ratios> = pairs.iter().map(|p| Ratios::median(p)).collect();
    for ((t, r), &base) in targets.iter().zip(&ratios).zip(&baseline) {
        let label = format!("{}/{}", t.name, bare_targets[base].name);
        println!(
            "{label:<12} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>7} {:>12.2}   p99 but the ticket request {:.2}",
            "", r.rps, r.p50, r.p99, "", r.server, r.p99_without_ticket
        );
    }
    println!(
        "(medians of each target's runs, {} per provider and as many for a bare route as providers share it; \
         ratios the median of each back-to-back pair's; errors summed)",
        o.rounds
    );
    let paced: Vec<Option<Ratios>> = paced.iter().map(|p| (!p.is_empty()).then(|| Ratios::median(p))).collect();
    if o.load > 0.0 {
        println!();
        println!(
            "paced at {:.0}% of each provider's saturated req/s (Poisson arrivals, latency from when a request was due), ours over bare:",
            100.0 * o.load
        );
        println!("{:<12} {:>9} {:>9} {:>9} {:>12}", "", "req/s", "p50", "p99", "p99 w/o ticket");
        for ((t, r), &base) in targets.iter().zip(&paced).zip(&baseline) {
            if let Some(r) = r {
                let label = format!("{}/{}", t.name, bare_targets[base].name);
                println!("{label:<12} {:>9.2} {:>9.2} {:>9.2} {:>12.2}", r.rps, r.p50, r.p99, r.p99_without_ticket);
            }
        }
    }

    println!();
    println!(
        "soak (twilio): {} calls ({} requests) at {} connections, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
        soak.calls,
        soak.run.requests(),
        o.connections,
        soak.run.rps(),
        ms(soak.run.percentile(0.5)),
        ms(soak.run.percentile(0.99)),
        soak.run.errors
    );
    let mut line = format!("server RSS: {} MiB at start", mib(rss_start));
    for (calls, rss) in &soak.rss {
        let _ = write!(line, ", {} after {}k calls", mib(*rss), calls / 1000);
    }
    println!("{line}");
    println!(
        "            {} MiB after the timed runs ({} more calls); peak (VmHWM) {} MiB; bare server {} MiB",
        mib(rss_end),
        runs_ours.iter().flatten().map(|r| r.calls).sum::<u64>(),
        mib(ours.hwm_kib()),
        mib(bare_rss)
    );

    // The targets.
    let first = soak.rss.first().map(|(_, r)| *r);
    let growth_kib = first.map(|a| rss_after_soak.max(soak.rss.last().map_or(0, |(_, b)| *b)).saturating_sub(a));
    let errors = m_ours.iter().map(|m| m.errors).sum::<u64>() + soak.run.errors;
    println!();
    for (t, r) in targets.iter().zip(&ratios) {
        verdict(&format!("{}: throughput ≥ 70% of bare", t.name), r.rps >= 0.70, format!("{:.0}%", 100.0 * r.rps));
        verdict(&format!("{}: p99 ≤ 1.3 × bare", t.name), r.p99 <= 1.3, format!("{:.2} ×", r.p99));
    }
    for (t, r) in targets.iter().zip(&paced) {
        if let Some(r) = r {
            let what = format!("{}: p99 ≤ 1.3 × bare, paced at {:.0}%", t.name, 100.0 * o.load);
            verdict(&what, r.p99 <= 1.3, format!("{:.2} ×", r.p99));
        }
    }
    verdict("zero errors", errors == 0, format!("{errors}"));
    match growth_kib {
        // Flat: under 5% or 2 MiB of growth between 10k calls and the end of the soak.
        Some(g) => verdict(
            &format!("RSS flat from 10k to {}k calls", soak.calls / 1000),
            g <= 2048 || g * 20 <= first.unwrap_or(0),
            format!("+{:.1} MiB", g as f64 / 1024.0),
        ),
        None => println!("  RSS: the soak was shorter than 10k calls, nothing to compare"),
    }
}

fn show_error(run: &Run) {
    if let Some(error) = &run.first_error {
        eprintln!("    first error: {error}");
    }
}

fn verdict(what: &str, met: bool, measured: String) {
    println!("  {} {what}: {measured}", if met { "met    " } else { "MISSED " });
}

fn ms(us: u32) -> f64 {
    f64::from(us) / 1000.0
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// A server under test, a child process killed when this is dropped.
struct Server {
    name: &'static str,
    /// `http://127.0.0.1:PORT`: where requests go, and the public URL they are signed for.
    base: String,
    /// The first URL of a call.
    start: String,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

impl Server {
    /// The real server, its ticket API (`SUPPORT_API_URL`) at `support_api`.
    fn switchboard(repo: &Path, tmp: &Path, support_api: &str, db: Option<&str>) -> Server {
        let flows = tmp.join("flows");
        std::fs::create_dir_all(&flows).expect("mkdir");
        let source = std::fs::read_to_string(repo.join("flows/support.toml")).expect("flows/support.toml");
        std::fs::write(flows.join("support.toml"), without_hours(&source)).expect("write the flow");
        std::fs::copy(repo.join("flows/support.model.toml"), flows.join("support.model.toml")).expect("copy the model");
        let base = format!("http://127.0.0.1:{}", free_port());
        let exe = PathBuf::from(env!("CARGO_BIN_EXE_switchboard"));
        let mut command = Command::new(&exe);
        // The server's own default (a line per request at info), unless asked otherwise.
        match std::env::var("SWITCHBOARD_LOAD_RUST_LOG") {
            Ok(filter) => command.env("RUST_LOG", filter),
            Err(_) => command.env_remove("RUST_LOG"),
        };
        command.env_remove("SWITCHBOARD_DB");
        command.arg("serve");
        if let Some(db) = db {
            command.arg("--db").arg(db);
        }
        let child = command
            .arg("--flows")
            .arg(&flows)
            .arg("--sounds")
            .arg(repo.join("sounds"))
            .arg("--data-dir")
            .arg(tmp.join("data"))
            .arg("--addr")
            .arg(base.trim_start_matches("http://"))
            .arg("--public-url")
            .arg(&base)
            .env("SUPPORT_API_URL", support_api)
            .env("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
            .env("SIGNALWIRE_SIGNING_KEY", AUTH_TOKEN)
            .env("PLIVO_AUTH_TOKEN", AUTH_TOKEN)
            .env("VONAGE_SIGNATURE_SECRET", VONAGE_SECRET)
            .env("JAMBONZ_WEBHOOK_SECRET", JAMBONZ_SECRET)
            .env("TELNYX_PUBLIC_KEY", {
                use base64::Engine as _;
                let key = ed25519_dalek::SigningKey::from_bytes(&TELNYX_SEED).verifying_key();
                base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
            })
            .env_remove("SWITCHBOARD_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Logs are written where they cost least; the driver reports errors itself.
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let start = format!("{base}/twilio/support");
        Server { name: "switchboard", base, start, child }
    }

    fn bare() -> Server {
        let base = format!("http://127.0.0.1:{}", free_port());
        let exe = std::env::current_exe().expect("this bench's path");
        let child = Command::new(exe)
            .env(BARE_ENV, base.trim_start_matches("http://"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start the bare server");
        let start = format!("{base}/twilio/bare");
        Server { name: "bare axum", base, start, child }
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let url = format!("{}/healthz", self.base);
        for _ in 0..200 {
            if client.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{} did not answer {url} within 10 s", self.name);
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    fn hwm_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    /// User + system CPU seconds the process has used.
    fn cpu_s(&self) -> f64 {
        cpu_s(&format!("/proc/{}/stat", self.child.id()))
    }
}

fn cpu_s(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / TICKS_PER_S
}

/// The flow without its `[hours]` table: open around the clock, whenever the bench runs.
fn without_hours(source: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in source.lines() {
        if line.starts_with('[') {
            skipping = line.trim() == "[hours]";
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// What a request costs the driver besides HTTP: parameters, signature, form body, and
/// parsing the answer for the next URL.
fn client_cost_us(base: &str) -> f64 {
    let twilio = Twilio::new(reqwest::Client::new(), AUTH_TOKEN, base, base);
    let doc = bare::document(base);
    let n = 20_000;
    let started = Instant::now();
    for i in 0..n {
        let mut call = Call::new(&format!("CA{i:032x}"), base);
        call.answered(&doc).expect("the bare document is TwiML");
        let (url, params) = call.request(Act::Press("1")).expect("a Gather action");
        std::hint::black_box(twilio.sign(&url, &params));
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

/// Latencies and counts of one run.
#[derive(Default)]
struct Run {
    /// Microseconds per request answered inside the measured window.
    latencies_us: Vec<u32>,
    /// The same but for the ticket request ([`TICKET_STEP`]), whose answer waits for the
    /// flow's `fetch` to the ticket API: what the rest of the call costs the server.
    without_ticket_us: Vec<u32>,
    errors: u64,
    /// What went wrong first, to show.
    first_error: Option<String>,
    calls: u64,
    bytes: u64,
    window: Duration,
    server_cpu_s: f64,
    client_cpu_s: f64,
}

impl Run {
    fn requests(&self) -> u64 {
        self.latencies_us.len() as u64
    }

    fn rps(&self) -> f64 {
        self.requests() as f64 / self.window.as_secs_f64()
    }

    fn percentile(&self, q: f64) -> u32 {
        quantile(&self.latencies_us, q)
    }

    /// The 99th percentile of the requests but the ticket's.
    fn p99_without_ticket(&self) -> u32 {
        quantile(&self.without_ticket_us, 0.99)
    }

    /// Counts a request answered in `took`, the `step`th of its call.
    fn answered(&mut self, step: usize, took: Duration, bytes: usize) {
        let us = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        self.latencies_us.push(us);
        if step != TICKET_STEP {
            self.without_ticket_us.push(us);
        }
        self.bytes += bytes as u64;
    }

    fn server_us_per_request(&self) -> f64 {
        self.server_cpu_s * 1e6 / self.requests().max(1) as f64
    }

    /// Counts an error, keeping the first to show.
    fn fail(&mut self, error: String) {
        self.errors += 1;
        self.first_error.get_or_insert(error);
    }

    fn merge(&mut self, other: Run) {
        self.latencies_us.extend(other.latencies_us);
        self.without_ticket_us.extend(other.without_ticket_us);
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
        self.calls += other.calls;
        self.bytes += other.bytes;
    }
}

/// The `q` quantile of latencies sorted when their run ended.
fn quantile(sorted: &[u32], q: f64) -> u32 {
    let n = sorted.len();
    if n == 0 {
        return 0;
    }
    sorted[((n as f64 * q).ceil() as usize).clamp(1, n) - 1]
}

/// When a driver task stops.
#[derive(Clone)]
enum Stop {
    /// Measure requests answered in `[from, until)`; stop at the first request after `until`.
    /// With a `gap`, each task's requests are paced: a Poisson process with that mean gap in
    /// seconds.
    Window { from: Instant, until: Instant, gap: Option<f64> },
    /// Run complete calls until this many have been started by all tasks together.
    Calls(Arc<AtomicU64>),
}

impl Stop {
    /// Whether a request whose latency counts from `sent` and that took `took` is measured.
    fn counts(&self, sent: Instant, took: Duration) -> bool {
        match self {
            Stop::Window { from, until, .. } => sent >= *from && sent + took <= *until,
            Stop::Calls(_) => true,
        }
    }
}

/// When one task's next request goes: at once in a closed loop, or when a paced schedule says.
struct Due {
    paced: Option<(Instant, Exp<f64>, Xoshiro256PlusPlus)>,
}

impl Due {
    fn new(stop: &Stop) -> Due {
        let paced = match stop {
            Stop::Window { gap: Some(gap), .. } => {
                let exp = Exp::new(1.0 / gap).expect("a positive rate");
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(rand::random());
                let first = Instant::now() + Duration::from_secs_f64(exp.sample(&mut rng));
                Some((first, exp, rng))
            }
            _ => None,
        };
        Due { paced }
    }

    /// Waits for the next request's turn; returns the instant its latency counts from. Paced,
    /// that is when it was due if the task was still waiting for its previous answer then
    /// (the server's backlog, which a closed loop hides: coordinated omission), or when the
    /// timer woke the task (tokio's timer is millisecond-grained, its lateness not the server's).
    async fn wait(&mut self) -> Instant {
        let Some((next, exp, rng)) = &mut self.paced else { return Instant::now() };
        let due = *next;
        *next += Duration::from_secs_f64(exp.sample(rng));
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
            Instant::now()
        } else {
            due
        }
    }
}

/// A new call's id: `prefix` and 32 random hex digits, as Twilio's `CallSid` is (and Vonage's
/// and jambonz's UUIDs are random too). Ids from a counter would each sort after the last,
/// which spares a log keyed by call id the work real calls give it.
fn call_id(prefix: &str) -> String {
    format!("{prefix}{:032x}", rand::random::<u128>())
}

/// One driver task: complete calls, one request at a time, on its own connection.
async fn drive(twilio: Twilio, server: Arc<(String, String)>, stop: Stop, done: Arc<AtomicU64>) -> Run {
    let (base, start) = &*server;
    let mut run = Run::default();
    let mut due = Due::new(&stop);
    'calls: loop {
        match &stop {
            Stop::Window { until, .. } if Instant::now() >= *until => break,
            Stop::Calls(left)
                if left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_err() =>
            {
                break;
            }
            _ => {}
        }
        let mut call = Call::new(&call_id("CA"), start);
        for (step, (act, expect)) in CALL.into_iter().enumerate() {
            if let Stop::Window { until, .. } = &stop
                && Instant::now() >= *until
            {
                break 'calls;
            }
            let (url, params) = match call.request(act) {
                Ok((url, params)) if url.starts_with(base.as_str()) => (url, params),
                Ok((url, _)) => {
                    run.fail(format!("{act:?} would leave the server for {url}"));
                    continue 'calls;
                }
                Err(e) => {
                    run.fail(e);
                    continue 'calls;
                }
            };
            let (sig, body) = twilio.sign(&url, &params);
            let sent = due.wait().await;
            let result = twilio.post_signed(&url, &sig, body).await;
            let took = sent.elapsed();
            let counted = stop.counts(sent, took);
            let text = match result {
                Ok(reply) if reply.status == 200 && reply.body.contains(expect) => reply.body,
                failed => {
                    if counted {
                        run.fail(match failed {
                            Ok(reply) => format!("{url} answered {} without {expect:?}:\n{}", reply.status, reply.body),
                            Err(e) => format!("{url}: {e}"),
                        });
                    }
                    continue 'calls;
                }
            };
            if counted {
                run.answered(step, took, text.len());
            }
            if let Err(e) = call.answered(&text) {
                run.fail(e);
                continue 'calls;
            }
        }
        run.calls += 1;
        done.fetch_add(1, Ordering::Relaxed);
    }
    run
}

/// Where a run's calls start and how its requests are made and signed.
struct Target {
    name: &'static str,
    start: String,
    driver: Driver,
}

async fn drive_all(server: &Server, target: &Target, connections: usize, stop: Stop, done: Arc<AtomicU64>) -> Run {
    // One client per run: its pool opens a connection per task and keeps it alive.
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().expect("an HTTP client");
    let tasks: Vec<_> = match &target.driver {
        Driver::Twiml(scheme) => {
            let twilio = Twilio::new(client, AUTH_TOKEN, &server.base, &server.base).with_scheme(scheme.clone());
            let target = Arc::new((server.base.clone(), target.start.clone()));
            (0..connections)
                .map(|_| tokio::spawn(drive(twilio.clone(), target.clone(), stop.clone(), done.clone())))
                .collect()
        }
        Driver::Other(provider) => {
            let dialect = Arc::new(other::Dialect::new(provider, &server.base, client));
            (0..connections).map(|_| tokio::spawn(other::drive(dialect.clone(), stop.clone(), done.clone()))).collect()
        }
    };
    let mut run = Run::default();
    for task in tasks {
        run.merge(task.await.expect("a driver task"));
    }
    run.latencies_us.sort_unstable();
    run.without_ticket_us.sort_unstable();
    run
}

/// One back-to-back pair, the bare side and ours: `server[k]` driven with `target[k]`,
/// closed-loop or paced at `rate` requests per second. The bare side goes first in even
/// rounds, ours in odd ones.
async fn pair(server: [&Server; 2], target: [&Target; 2], o: &Options, rate: Option<f64>, round: usize) -> [Run; 2] {
    let mut runs: [Option<Run>; 2] = [None, None];
    for k in if round % 2 == 0 { [0, 1] } else { [1, 0] } {
        let run = timed(server[k], target[k], o, rate).await;
        let at = rate.map_or(String::new(), |r| format!(" at {r:.0}/s"));
        eprintln!(
            "  round {} {:<12} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}  server {:.1} µs/req{at}",
            round + 1,
            target[k].name,
            run.rps(),
            ms(run.percentile(0.5)),
            ms(run.percentile(0.99)),
            run.errors,
            run.server_us_per_request()
        );
        show_error(&run);
        runs[k] = Some(run);
    }
    runs.map(|r| r.expect("both sides ran"))
}

/// One timed run of `target`'s calls against `server`: closed-loop, or paced at `rate`
/// requests per second in all.
async fn timed(server: &Server, target: &Target, o: &Options, rate: Option<f64>) -> Run {
    let from = Instant::now() + WARMUP;
    let until = from + Duration::from_secs_f64(o.seconds);
    let gap = rate.map(|r| o.connections as f64 / r);
    let stop = Stop::Window { from, until, gap };
    let cpu = Arc::new(std::sync::Mutex::new((0.0, 0.0)));
    // CPU is read at the edges of the window, from a task that sleeps until then.
    let sampler = {
        let (cpu, stat) = (cpu.clone(), format!("/proc/{}/stat", server.child.id()));
        tokio::spawn(async move {
            tokio::time::sleep_until(from.into()).await;
            let (s0, c0) = (cpu_s(&stat), cpu_s("/proc/self/stat"));
            tokio::time::sleep_until(until.into()).await;
            *cpu.lock().expect("not poisoned") = (cpu_s(&stat) - s0, cpu_s("/proc/self/stat") - c0);
        })
    };
    let mut run = drive_all(server, target, o.connections, stop, Arc::new(AtomicU64::new(0))).await;
    sampler.await.expect("the CPU sampler");
    (run.server_cpu_s, run.client_cpu_s) = *cpu.lock().expect("not poisoned");
    run.window = until - from;
    run
}

struct Soak {
    calls: u64,
    run: Run,
    /// RSS in KiB when the soak passed each checkpoint.
    rss: Vec<(u64, u64)>,
}

/// `o.calls` complete calls against `server`, reading its RSS at the checkpoints.
async fn soak(server: &Server, o: &Options) -> Soak {
    let done = Arc::new(AtomicU64::new(0));
    let left = Arc::new(AtomicU64::new(o.calls));
    let checkpoints: Vec<u64> = CHECKPOINTS.into_iter().filter(|c| *c <= o.calls).collect();
    let monitor = {
        let (done, pid) = (done.clone(), server.child.id());
        tokio::spawn(async move {
            let mut rss = Vec::new();
            for checkpoint in checkpoints {
                while done.load(Ordering::Relaxed) < checkpoint {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let kib = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                    .unwrap_or(0);
                rss.push((checkpoint, kib));
            }
            rss
        })
    };
    let cpu0 = server.cpu_s();
    let started = Instant::now();
    let target = Target { name: "twilio", start: server.start.clone(), driver: Driver::Twiml(Scheme::Twilio) };
    let mut run = drive_all(server, &target, o.connections, Stop::Calls(left), done.clone()).await;
    run.window = started.elapsed();
    run.server_cpu_s = server.cpu_s() - cpu0;
    let rss = if done.load(Ordering::Relaxed) >= CHECKPOINTS[0].min(o.calls) {
        monitor.await.unwrap_or_default()
    } else {
        monitor.abort();
        Vec::new()
    };
    Soak { calls: run.calls, run, rss }
}

/// Ours over bare: of one back-to-back pair of runs, or the median of the pairs'.
struct Ratios {
    rps: f64,
    p50: f64,
    p99: f64,
    /// p99 of every request but the ticket's, over the bare route's p99 (of all requests).
    p99_without_ticket: f64,
    server: f64,
}

impl Ratios {
    fn of(ours: &Run, bare: &Run) -> Ratios {
        let p99 = f64::from(bare.percentile(0.99));
        Ratios {
            rps: ours.rps() / bare.rps(),
            p50: f64::from(ours.percentile(0.5)) / f64::from(bare.percentile(0.5)),
            p99: f64::from(ours.percentile(0.99)) / p99,
            p99_without_ticket: f64::from(ours.p99_without_ticket()) / p99,
            server: ours.server_us_per_request() / bare.server_us_per_request(),
        }
    }

    fn median(pairs: &[Ratios]) -> Ratios {
        let each = |f: fn(&Ratios) -> f64| median(pairs.iter().map(f).collect());
        Ratios {
            rps: each(|r| r.rps),
            p50: each(|r| r.p50),
            p99: each(|r| r.p99),
            p99_without_ticket: each(|r| r.p99_without_ticket),
            server: each(|r| r.server),
        }
    }
}

/// The medians of a side's runs.
struct Medians {
    name: &'static str,
    requests: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    server_us: f64,
    client_us: f64,
    bytes: f64,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

impl Medians {
    fn of(name: &'static str, runs: &[Run]) -> Medians {
        let each = |f: &dyn Fn(&Run) -> f64| median(runs.iter().map(f).collect());
        Medians {
            name,
            requests: runs.iter().map(Run::requests).sum(),
            rps: each(&Run::rps),
            p50_ms: each(&|r| ms(r.percentile(0.5))),
            p99_ms: each(&|r| ms(r.percentile(0.99))),
            errors: runs.iter().map(|r| r.errors).sum(),
            server_us: each(&Run::server_us_per_request),
            client_us: each(&|r| r.client_cpu_s * 1e6 / r.requests().max(1) as f64),
            bytes: each(&|r| r.bytes as f64 / r.requests().max(1) as f64),
        }
    }
}

/// The baseline: the least an axum server can do per request, on the same runtime as
/// `switchboard serve` (tokio's multi-threaded default).
mod bare {
    use axum::Router;
    use axum::body::Bytes;
    use axum::http::header;
    use axum::routing::{get, post};

    const TOKEN: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v";
    const SAID: &str = "Заявка номер 1 2 3 4 5 6 7 8 зарегистрирована и находится в работе. Главное меню. \
                        Консультация по товарам и услугам — нажмите 1. Техническая помощь — 2. Пожалуйста, оцените разговор.";

    /// One fixed TwiML answer for every request of a call, about the size of the real ones,
    /// with every URL and fragment the driver looks for.
    pub fn document(base: &str) -> String {
        let at = |callback: &str| format!("{base}/twilio/bare/{callback}?t={TOKEN}");
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Gather action=\"{}\" method=\"POST\" \
             input=\"dtmf speech\" timeout=\"5\" finishOnKey=\"#\" numDigits=\"1\" language=\"ru-RU\">\
             <Play>{base}/sounds/main_menu.ru.wav</Play><Say language=\"ru-RU\">{SAID}</Say></Gather>\
             <Redirect method=\"POST\">{}</Redirect>\
             <Enqueue action=\"{}\" method=\"POST\" waitUrl=\"{}\" waitUrlMethod=\"POST\">second_line</Enqueue>\
             <Pause length=\"30\"/><Hangup/></Response>",
            at("gather"),
            at("silence"),
            at("left"),
            at("wait"),
        )
    }

    /// The same for Plivo, Vonage and jambonz: their format, their callback URLs (those
    /// [`super::other`] looks for), every fragment their calls check.
    pub fn document_of(provider: &str, base: &str) -> String {
        let at = |callback: &str| format!("{base}/{provider}/support/{callback}?t={TOKEN}");
        let (gather, silence, wait, left) = (at("gather"), at("silence"), at("wait"), at("left"));
        match provider {
            "plivo" => format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><GetInput action=\"{gather}\" \
                 method=\"POST\" inputType=\"dtmf speech\" executionTimeout=\"5\" digitEndTimeout=\"5\" \
                 finishOnKey=\"#\" numDigits=\"1\" language=\"ru-RU\" redirect=\"true\">\
                 <Play>{base}/sounds/main_menu.ru.wav</Play><Speak language=\"ru-RU\">{SAID}</Speak></GetInput>\
                 <Redirect method=\"POST\">{silence}</Redirect><Conference waitSound=\"{wait}\" \
                 callbackUrl=\"{left}\">second_line</Conference><Hangup/></Response>"
            ),
            "vonage" => format!(
                "[{{\"action\":\"stream\",\"streamUrl\":[\"{base}/sounds/main_menu.ru.wav\"]}},\
                 {{\"action\":\"talk\",\"text\":\"{SAID}\",\"language\":\"ru-RU\",\"bargeIn\":true}},\
                 {{\"action\":\"input\",\"type\":[\"dtmf\",\"speech\"],\"dtmf\":{{\"maxDigits\":1,\
                 \"submitOnHash\":true,\"timeOut\":5}},\"speech\":{{\"language\":\"ru-RU\"}},\
                 \"eventUrl\":[\"{gather}\"]}},{{\"action\":\"conversation\",\"name\":\"second_line\",\
                 \"musicOnHoldUrl\":[\"{base}/sounds/hold.wav\"]}}]"
            ),
            _ => format!(
                "[{{\"verb\":\"gather\",\"actionHook\":\"{gather}\",\"input\":[\"digits\",\"speech\"],\
                 \"finishOnKey\":\"#\",\"numDigits\":1,\"timeout\":5,\"play\":{{\"url\":\
                 \"{base}/sounds/main_menu.ru.wav\"}},\"say\":{{\"text\":\"{SAID}\"}},\
                 \"recognizer\":{{\"vendor\":\"default\",\"language\":\"ru-RU\"}}}},\
                 {{\"verb\":\"redirect\",\"actionHook\":\"{silence}\"}},{{\"verb\":\"enqueue\",\
                 \"name\":\"second_line\",\"actionHook\":\"{left}\",\"waitHook\":\"{wait}\"}},\
                 {{\"verb\":\"hangup\"}}]"
            ),
        }
    }

    /// A route answering `doc` of `content_type`, whatever the request.
    fn fixed(router: Router, paths: &[&str], content_type: &'static str, doc: String) -> Router {
        let doc = Bytes::from(doc);
        let answer = move || {
            let doc = doc.clone();
            async move { ([(header::CONTENT_TYPE, content_type)], doc) }
        };
        paths.iter().fold(router, |r, path| r.route(path, post(answer.clone())))
    }

    pub fn serve(addr: &str) {
        let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
        let base = format!("http://{addr}");
        let xml = "text/xml; charset=utf-8";
        // A route per provider, so that choosing the document parses nothing.
        // The support flow's ticket API too (its `fetch` node asks it for the ticket's status).
        let ticket = || async { ([(header::CONTENT_TYPE, "application/json")], "{\"status\":\"in_progress\"}") };
        let mut app =
            Router::new().route("/healthz", get(|| async { "ok\n" })).route("/requests/{ticket}", get(ticket));
        app = fixed(app, &["/twilio/{flow}", "/twilio/{flow}/{callback}"], xml, document(&base));
        app = fixed(app, &["/plivo/{flow}", "/plivo/{flow}/{callback}"], xml, document_of("plivo", &base));
        app = fixed(app, &["/vonage/{flow}/{callback}"], "application/json", document_of("vonage", &base));
        app = fixed(
            app,
            &["/jambonz/{flow}", "/jambonz/{flow}/{callback}"],
            "application/json",
            document_of("jambonz", &base),
        );
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind(addr).await.expect("bind the bare server's address");
            axum::serve(listener, app).await.expect("the bare server runs");
        });
    }
}

/// Plivo's, Vonage's and jambonz's side of the same call. Every callback URL the server writes
/// is `{base}/{provider}/support/{callback}?t=…`, so the next one is found in an answer
/// whatever its format; each request carries its provider's parameters, encoded and signed as
/// the provider does (the signing functions the server's tests check against each provider's
/// documented examples).
mod other {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Instant;

    use switchboard::providers::jambonz::signature as jambonz;
    use switchboard::providers::plivo::signature as plivo;
    use switchboard::providers::vonage::signature as vonage;

    use super::{AUTH_TOKEN, Act, JAMBONZ_SECRET, Run, Stop, VONAGE_SECRET};

    /// The support call of [`super::CALL`], and a fragment each answer must hold.
    fn call(provider: &str) -> &'static [(Act<'static>, &'static str)] {
        const PLIVO: [(Act<'static>, &str); 9] = [
            (Act::Ring, "<GetInput"),
            (Act::Press("1"), "<GetInput"),
            (Act::Press("3"), "finishOnKey=\"#\""),
            (Act::Press("12345678"), "1 2 3 4 5 6 7 8"),
            (Act::Press("#"), "<GetInput"),
            (Act::Press("2"), "<GetInput"),
            (Act::Press("3"), ">second_line</Conference>"),
            (Act::Wait { position: 3, queue_time_s: 12 }, "<"),
            (Act::Left("bridged"), "оцените"),
        ];
        const VONAGE: [(Act<'static>, &str); 7] = [
            (Act::Ring, "\"input\""),
            (Act::Press("1"), "\"input\""),
            (Act::Press("3"), "\"submitOnHash\":true"),
            (Act::Press("12345678"), "1 2 3 4 5 6 7 8"),
            (Act::Press("#"), "\"input\""),
            (Act::Press("2"), "\"input\""),
            (Act::Press("3"), "\"name\":\"second_line\""),
        ];
        const JAMBONZ: [(Act<'static>, &str); 9] = [
            (Act::Ring, "\"gather\""),
            (Act::Press("1"), "\"gather\""),
            (Act::Press("3"), "\"finishOnKey\":\"#\""),
            (Act::Press("12345678"), "1 2 3 4 5 6 7 8"),
            (Act::Press("#"), "\"gather\""),
            (Act::Press("2"), "\"gather\""),
            (Act::Press("3"), "\"name\":\"second_line\""),
            (Act::Wait { position: 3, queue_time_s: 12 }, "\"verb\""),
            (Act::Left("bridged"), "оцените"),
        ];
        match provider {
            "plivo" => &PLIVO,
            "vonage" => &VONAGE,
            _ => &JAMBONZ,
        }
    }

    /// One provider's account calling the server.
    pub struct Dialect {
        provider: &'static str,
        base: String,
        client: reqwest::Client,
    }

    /// A request ready to send.
    struct Request {
        url: String,
        content_type: &'static str,
        body: Vec<u8>,
        headers: Vec<(&'static str, String)>,
    }

    fn unix_now() -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
    }

    /// Distinct per request: Vonage's `jti` and Plivo's nonce.
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);

    impl Dialect {
        pub fn new(provider: &'static str, base: &str, client: reqwest::Client) -> Dialect {
            Dialect { provider, base: base.to_owned(), client }
        }

        /// The URL `act` goes to: the start, or the callback the latest answer naming one gave
        /// (a queue's leave URL is in the answer that queued the caller, not in the wait's).
        fn url(&self, act: Act, answers: &[String]) -> Result<String, String> {
            let flow = format!("{}/{}/support", self.base, self.provider);
            let callback = match act {
                Act::Ring if self.provider == "vonage" => return Ok(format!("{flow}/answer")),
                Act::Ring => return Ok(flow),
                Act::Press(_) => "gather",
                Act::Wait { .. } => "wait",
                Act::Left(_) => "left",
                other => return Err(format!("{other:?} is not in the bench's call")),
            };
            let prefix = format!("{flow}/{callback}?");
            let url = answers
                .iter()
                .rev()
                .find_map(|a| a.find(&prefix).map(|at| &a[at..]))
                .ok_or_else(|| format!("no {prefix} in:\n{}", answers.last().map_or("", String::as_str)))?;
            let end = url.find(['"', '<', '\'', ' ']).unwrap_or(url.len());
            Ok(url[..end].replace("&amp;", "&"))
        }

        /// `act`'s request, jambonz's signed at `t`.
        fn request(&self, sid: &str, act: Act, answers: &[String], t: i64) -> Result<Request, String> {
            let url = self.url(act, answers)?;
            let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
            let (from, to) = ("+79990001122", "+74950000000");
            Ok(match self.provider {
                "plivo" => {
                    let mut params = vec![("CallUUID", sid.to_owned()), ("From", from.into()), ("To", to.into())];
                    if let Act::Press(keys) = act {
                        params.push(("Digits", keys.into()));
                    }
                    let owned: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).into(), v.clone())).collect();
                    let nonce = format!("{n:020}");
                    let signature = plivo::sign(AUTH_TOKEN, &plivo::signed_text(true, &url, &owned, &nonce));
                    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&owned).finish();
                    Request {
                        url,
                        content_type: "application/x-www-form-urlencoded",
                        body: body.into_bytes(),
                        headers: vec![("X-Plivo-Signature-V3", signature), ("X-Plivo-Signature-V3-Nonce", nonce)],
                    }
                }
                "vonage" => {
                    let body = match act {
                        Act::Press(keys) => serde_json::json!({
                            "uuid": sid, "conversation_uuid": format!("CON-{sid}"),
                            "dtmf": { "digits": keys, "timed_out": false },
                        }),
                        _ => serde_json::json!({
                            "uuid": sid, "conversation_uuid": format!("CON-{sid}"), "from": from, "to": to,
                        }),
                    };
                    let body = serde_json::to_vec(&body).expect("plain JSON");
                    let claims = vonage::Claims {
                        iat: unix_now(),
                        jti: Some(format!("bench-{n}")),
                        iss: Some("Vonage".into()),
                        payload_hash: Some(vonage::payload_hash(vonage::Payload::Body(&body))),
                        ..vonage::Claims::default()
                    };
                    let token = format!("Bearer {}", vonage::sign(VONAGE_SECRET, &claims));
                    Request { url, content_type: "application/json", body, headers: vec![("Authorization", token)] }
                }
                _ => {
                    let mut body = serde_json::json!({ "call_sid": sid, "from": from, "to": to });
                    match act {
                        Act::Press(keys) => {
                            body["reason"] = "dtmfDetected".into();
                            body["digits"] = keys.into();
                        }
                        Act::Wait { position, queue_time_s } => {
                            body["queue_position"] = (position.saturating_sub(1)).into();
                            body["queue_time"] = queue_time_s.into();
                        }
                        Act::Left(result) => body["queue_result"] = result.into(),
                        _ => {}
                    }
                    let body = serde_json::to_vec(&body).expect("plain JSON");
                    let header = jambonz::sign(JAMBONZ_SECRET, t, &body);
                    Request {
                        url,
                        content_type: "application/json",
                        body,
                        headers: vec![("Jambonz-Signature", header)],
                    }
                }
            })
        }

        async fn send(&self, request: Request) -> Result<(u16, String), reqwest::Error> {
            let mut builder = self.client.post(&request.url).header("Content-Type", request.content_type);
            for (name, value) in request.headers {
                builder = builder.header(name, value);
            }
            let response = builder.body(request.body).send().await?;
            let status = response.status().as_u16();
            Ok((status, response.text().await?))
        }
    }

    /// One driver task, as [`super::drive`] for the TwiML family.
    pub async fn drive(dialect: Arc<Dialect>, stop: Stop, done: Arc<AtomicU64>) -> Run {
        let mut run = Run::default();
        let mut due = super::Due::new(&stop);
        'calls: loop {
            match &stop {
                Stop::Window { until, .. } if Instant::now() >= *until => break,
                Stop::Calls(left)
                    if left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_err() =>
                {
                    break;
                }
                _ => {}
            }
            let sid = super::call_id(&format!("{}-", dialect.provider));
            let mut answers: Vec<String> = Vec::new();
            // Each request of a call signed a second after the last, starting a minute back:
            // a call may press the same key twice, and the same body signed in the same
            // second would be a replay.
            let started = unix_now() - 60;
            for (step, &(act, expect)) in (0..).zip(call(dialect.provider)) {
                if let Stop::Window { until, .. } = &stop
                    && Instant::now() >= *until
                {
                    break 'calls;
                }
                let request = match dialect.request(&sid, act, &answers, started + step) {
                    Ok(request) => request,
                    Err(e) => {
                        run.fail(e);
                        continue 'calls;
                    }
                };
                let url = request.url.clone();
                let sent = due.wait().await;
                let result = dialect.send(request).await;
                let took = sent.elapsed();
                let counted = stop.counts(sent, took);
                match result {
                    Ok((200, text)) if text.contains(expect) => {
                        if counted {
                            run.answered(usize::try_from(step).unwrap_or(usize::MAX), took, text.len());
                        }
                        answers.push(text);
                    }
                    failed => {
                        if counted {
                            run.fail(match failed {
                                Ok((status, text)) => format!("{url} answered {status} without {expect:?}:\n{text}"),
                                Err(e) => format!("{url}: {e}"),
                            });
                        }
                        continue 'calls;
                    }
                }
            }
            run.calls += 1;
            done.fetch_add(1, Ordering::Relaxed);
        }
        run
    }
}
