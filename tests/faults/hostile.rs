//! Hostile clients: while real callers call one `serve` instance, something else talks to it
//! badly — slow-loris connections, bodies over the limit, header floods, 10,000 idle
//! connections, malformed and truncated requests. Real calls keep their latency (p99 within
//! twice the quiet figure) and the server's memory stays bounded; each attack gets the
//! answer it deserves (413, 431, 400) or nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::caller::{self, Line, Tally};
use crate::procs::{self, Serve, Site};
use crate::{Form, form};

/// One attack.
#[derive(Clone, Copy, Debug)]
enum Attack {
    /// Connections that send a request's headers a line every half second, never finishing.
    SlowLoris(usize),
    /// POSTs of 1 MiB, a few hundred a second: 413 each.
    Oversize,
    /// Requests with 500 headers, and requests with one 100 kB header: 431 each.
    HeaderFlood,
    /// Connections opened and left silent.
    Idle(usize),
    /// Garbage request lines, bodies cut short, forms that are not UTF-8: 400s or nothing.
    Malformed,
}

/// What an attack got back: answers by status, and connections the server closed or refused.
#[derive(Default)]
struct Answers {
    by_status: std::sync::Mutex<std::collections::BTreeMap<u16, u64>>,
    closed: AtomicU64,
}

impl Answers {
    fn status(&self, status: u16) {
        *self.by_status.lock().expect("not poisoned").entry(status).or_default() += 1;
    }

    fn summary(&self) -> String {
        let by = self.by_status.lock().expect("not poisoned");
        let statuses: Vec<String> = by.iter().map(|(s, n)| format!("{s}×{n}")).collect();
        format!("answers [{}], closed/refused {}", statuses.join(" "), self.closed.load(Ordering::Relaxed))
    }
}

pub fn run() {
    let open_files = procs::raise_open_files();
    let (phase, idle) = match form() {
        Form::Short => (Duration::from_secs(3), 10_000),
        Form::Long => (Duration::from_secs(30), 10_000),
    };
    // The server and this process each hold one end of every idle connection.
    let idle = idle.min(open_files.saturating_sub(1_000) as usize);
    let site = Site::new();
    let serve = Serve::start(&site, &site.data(), None, "none");
    let runtime = crate::runtime();
    let line = Line::new(&serve.url());
    // Enough calls for a p99, few enough that the debug build is not saturated by them alone.
    let think = Duration::from_millis(50);
    let callers = 16;

    let measure = |attack: Option<Attack>| -> (Tally, u64, String) {
        runtime.block_on(async {
            let stop = Arc::new(AtomicBool::new(false));
            let answers = Arc::new(Answers::default());
            let attackers = match attack {
                Some(attack) => launch(attack, serve.port, stop.clone(), answers.clone()).await,
                None => Vec::new(),
            };
            let peak = Arc::new(AtomicU64::new(serve.rss_kb()));
            let sampler = {
                let (peak, stop, pid) = (peak.clone(), stop.clone(), serve.pid());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        peak.fetch_max(procs::rss_kb(pid), Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                })
            };
            let timer = {
                let stop = stop.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(phase).await;
                    stop.store(true, Ordering::Relaxed);
                })
            };
            let tally = caller::until(&line, callers, think, stop.clone()).await;
            let _ = timer.await;
            let _ = sampler.await;
            for attacker in attackers {
                let _ = attacker.await;
            }
            (tally, peak.load(Ordering::Relaxed), answers.summary())
        })
    };

    let (quiet, quiet_rss, _) = measure(None);
    let quiet_p99 = quiet.latency_ms(0.99);
    println!("faults: hostile clients, quiet ({callers} callers): {}, RSS peak {} MB", quiet.line(), quiet_rss / 1024);
    let attacks =
        [Attack::SlowLoris(1_000), Attack::Oversize, Attack::HeaderFlood, Attack::Malformed, Attack::Idle(idle)];
    let mut failures = Vec::new();
    for attack in attacks {
        let (tally, rss, answers) = measure(Some(attack));
        let p99 = tally.latency_ms(0.99);
        println!(
            "faults: hostile clients, {attack:?}: {}, p99 {:.2}× quiet, RSS peak {} MB; the attack's {answers}",
            tally.line(),
            p99 / quiet_p99,
            rss / 1024
        );
        if tally.stranded > 0 || tally.failed_requests > 0 {
            failures.push(format!("{attack:?}: {} {:?}", tally.line(), tally.why));
        }
        // The bar: twice the quiet p99. Checked in the long form (30 s phases). The
        // short form's phases give a p99 of a few hundred requests, the third slowest, which on
        // a 2-core machine shared with other jobs moved from 0.7× to 4× between runs of the same
        // build: printed, not a CI gate.
        if form() == Form::Long && p99 > 2.0 * quiet_p99 {
            failures.push(format!("{attack:?}: p99 {p99:.2} ms against {quiet_p99:.2} ms quiet"));
        }
        // Bounded: 64 MB for the attacks' requests, and for connections held open 64 kB each (the
        // server keeps them as long as the client does: no header read timeout, docs/faults.md).
        let held = match attack {
            Attack::SlowLoris(n) | Attack::Idle(n) => n as u64,
            _ => 0,
        };
        if rss > quiet_rss + 64 * 1024 + held * 64 {
            failures.push(format!("{attack:?}: RSS {} MB against {} MB quiet", rss / 1024, quiet_rss / 1024));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Starts `attack` on the server at `port` until `stop`.
async fn launch(
    attack: Attack,
    port: u16,
    stop: Arc<AtomicBool>,
    answers: Arc<Answers>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let addr = format!("127.0.0.1:{port}");
    let mut tasks = Vec::new();
    match attack {
        Attack::SlowLoris(n) | Attack::Idle(n) => {
            let slow = matches!(attack, Attack::SlowLoris(_));
            // Opened before the phase starts, as a client would have them by then.
            let mut streams = Vec::with_capacity(n);
            for _ in 0..n {
                match TcpStream::connect(&addr).await {
                    Ok(stream) => streams.push(stream),
                    Err(_) => {
                        answers.closed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            let (stop, answers) = (stop.clone(), answers.clone());
            tasks.push(tokio::spawn(async move {
                let mut line = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if slow {
                        for stream in &mut streams {
                            let bytes = if line == 0 {
                                b"POST /twilio/line HTTP/1.1\r\nHost: 127.0.0.1\r\n".to_vec()
                            } else {
                                format!("X-Slow-{line}: a\r\n").into_bytes()
                            };
                            if stream.write_all(&bytes).await.is_err() {
                                answers.closed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        line += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                // What the server did with them meanwhile: a closed connection reads 0 bytes.
                for stream in &mut streams {
                    let mut buf = [0u8; 512];
                    if let Ok(Ok(read)) = tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await {
                        let status = std::str::from_utf8(&buf[..read]).ok().and_then(status_of);
                        match status {
                            Some(status) => answers.status(status),
                            None => {
                                answers.closed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
            }));
        }
        Attack::Oversize | Attack::HeaderFlood | Attack::Malformed => {
            for worker in 0..4u64 {
                let (stop, answers, addr) = (stop.clone(), answers.clone(), addr.clone());
                tasks.push(tokio::spawn(async move {
                    let mut i = worker;
                    while !stop.load(Ordering::Relaxed) {
                        let request = bad_request(attack, i);
                        match exchange(&addr, &request).await {
                            Some(status) => answers.status(status),
                            None => {
                                answers.closed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        i += 1;
                        // About 50 a second per worker: an attack, not a benchmark of the client.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }));
            }
        }
    }
    tasks
}

/// The `i`th request of an attack, as raw bytes.
fn bad_request(attack: Attack, i: u64) -> Vec<u8> {
    let head = "POST /twilio/line HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n";
    match attack {
        Attack::Oversize => {
            let mut request = format!("{head}Content-Length: {}\r\n\r\n", 1 << 20).into_bytes();
            request.resize(request.len() + (1 << 20), b'a');
            request
        }
        Attack::HeaderFlood if i % 2 == 0 => {
            let headers: String = (0..500).map(|n| format!("X-Flood-{n}: {n}\r\n")).collect();
            format!("{head}{headers}Content-Length: 0\r\n\r\n").into_bytes()
        }
        Attack::HeaderFlood => {
            format!("{head}X-Flood: {}\r\nContent-Length: 0\r\n\r\n", "a".repeat(100_000)).into_bytes()
        }
        _ => match i % 4 {
            0 => b"\x16\x03\x01\x02\x00garbage that is not HTTP\r\n\r\n".to_vec(),
            // A body promised longer than it is, then the connection shut.
            1 => format!("{head}Content-Length: 500\r\n\r\nCallSid=CA1&From=%2B1").into_bytes(),
            2 => {
                let mut request = format!("{head}Content-Length: 12\r\n\r\n").into_bytes();
                request.extend(b"CallSid=\xff\xfe\xfd\xfc");
                request
            }
            _ => format!("{head}Content-Length: 17\r\n\r\nCallSid=%ZZ&&==&=").into_bytes(),
        },
    }
}

/// Sends `request` on a new connection and reads the answer's status.
async fn exchange(addr: &str, request: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    // The server may answer (413, 431) and close before reading all of it.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    // A body cut short gets no answer until the client gives up: this one does after a second.
    let read = tokio::time::timeout(Duration::from_secs(1), async {
        let mut buf = [0u8; 1024];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 || answer.len() > 256 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
    });
    let _ = read.await;
    status_of(std::str::from_utf8(&answer).unwrap_or(""))
}

fn status_of(answer: &str) -> Option<u16> {
    answer.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}
