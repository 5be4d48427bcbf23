//! Callers as the provider drives them: Twilio's signed requests to the URLs each TwiML answer
//! holds (`tests/common/twilio.rs`), a caller script per call, and the number's fallback URL
//! when a request fails (a connection error, a timeout or any answer but 200, as Twilio does).
//! Every call is tallied: its ending, its requests' latencies, the editions of the flow it heard.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::twilio::{Act, Call, Element, Twilio};

pub const AUTH_TOKEN: &str = "faults-auth-token";
pub const SECRET: &str = "faults-secret";
/// Twilio's own limit on a webhook answer.
const TWILIO_TIMEOUT: Duration = Duration::from_secs(15);

/// What a caller does on one call of the `line` flow (faults/line.toml).
#[derive(Clone, Copy, Debug)]
pub enum Script {
    /// Presses 0: the queue, one wait-URL request, then bridged.
    Operator,
    /// Presses 1: the opening hours, then the flow hangs up.
    Hours,
    /// Presses 2 then 1: a second menu, then the balance and a hang-up.
    Balance,
    /// Says nothing twice: the re-prompt, then the timeout takes them to the queue.
    Silence,
    /// Hangs up at the first menu.
    HangUp,
}

const SCRIPTS: [Script; 5] = [Script::Operator, Script::Hours, Script::Balance, Script::Silence, Script::HangUp];

/// How a call ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Ending {
    /// Where its script leads.
    Intended,
    /// With a person (`<Enqueue>` or `<Dial>`) it did not ask for: after the fallback URL or a
    /// refused token. Still a good ending: nobody is left without an answer.
    Person,
    /// Without a valid answer at some step, even from the fallback URL.
    Stranded(String),
}

/// The figures of many calls.
#[derive(Debug, Default)]
pub struct Tally {
    pub intended: u64,
    pub person: u64,
    pub stranded: u64,
    /// The first few strandings' reasons, to say what went wrong.
    pub why: Vec<String>,
    /// Requests not answered 200 with TwiML, the fallback's own included.
    pub failed_requests: u64,
    pub requests: u64,
    pub fallbacks: u64,
    /// Calls that heard more than one edition of the flow.
    pub mixed_editions: u64,
    /// Every edition heard.
    pub editions: std::collections::BTreeSet<u32>,
    /// Latency of each answered request, in microseconds.
    pub latencies_us: Vec<u64>,
}

impl Tally {
    pub fn calls(&self) -> u64 {
        self.intended + self.person + self.stranded
    }

    pub fn merge(&mut self, other: Tally) {
        self.intended += other.intended;
        self.person += other.person;
        self.stranded += other.stranded;
        self.why.extend(other.why.into_iter().take(5usize.saturating_sub(self.why.len())));
        self.failed_requests += other.failed_requests;
        self.requests += other.requests;
        self.fallbacks += other.fallbacks;
        self.mixed_editions += other.mixed_editions;
        self.editions.extend(other.editions);
        self.latencies_us.extend(other.latencies_us);
    }

    /// The `q` quantile of the request latencies, in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted[i] as f64 / 1000.0
    }

    /// One line of figures.
    pub fn line(&self) -> String {
        format!(
            "calls {} (intended {}, person {}, stranded {}), requests {} (failed {}, fallbacks {}), p50 {:.2} ms, p99 {:.2} ms",
            self.calls(),
            self.intended,
            self.person,
            self.stranded,
            self.requests,
            self.failed_requests,
            self.fallbacks,
            self.latency_ms(0.5),
            self.latency_ms(0.99),
        )
    }

    fn add(&mut self, ending: Ending) {
        match ending {
            Ending::Intended => self.intended += 1,
            Ending::Person => self.person += 1,
            Ending::Stranded(why) => {
                self.stranded += 1;
                if self.why.len() < 5 {
                    self.why.push(why);
                }
            }
        }
    }
}

/// One provider account calling the `line` flow at `base` (a server or the balancer).
pub struct Line {
    twilio: Twilio,
    base: String,
}

impl Line {
    pub fn new(base: &str) -> Arc<Line> {
        let client = reqwest::Client::builder()
            .timeout(TWILIO_TIMEOUT)
            .pool_max_idle_per_host(64)
            .build()
            .expect("an HTTP client");
        Arc::new(Line { twilio: Twilio::new(client, AUTH_TOKEN, base, base), base: base.to_owned() })
    }

    /// One call of `script` as `sid`, `think` between steps (the prompts playing).
    pub async fn call(&self, sid: &str, script: Script, think: Duration) -> Tally {
        let mut run = Run {
            line: self,
            call: Call::new(sid, &format!("{}/twilio/line", self.base)),
            tally: Tally::default(),
            editions: Vec::new(),
        };
        let ending = run.script(script, think).await;
        run.tally.add(ending);
        run.editions.sort_unstable();
        run.editions.dedup();
        if run.editions.len() > 1 {
            run.tally.mixed_editions += 1;
            if run.tally.why.len() < 5 {
                run.tally.why.push(format!("{sid} heard editions {:?}", run.editions));
            }
        }
        run.tally.editions.extend(run.editions);
        run.tally
    }
}

/// What a step's answer was.
enum Answer {
    /// TwiML from the URL the script asked.
    Doc(Element),
    /// The request failed and the fallback URL took the caller to a person.
    FellBack,
}

/// A call in progress and its figures.
struct Run<'a> {
    line: &'a Line,
    call: Call,
    tally: Tally,
    editions: Vec<u32>,
}

impl Run<'_> {
    async fn script(&mut self, script: Script, think: Duration) -> Ending {
        let sid = self.call.sid.clone();
        let menu = |doc: &Element, what: &str| match doc.find("Gather") {
            Some(_) => Ok(()),
            None => Err(format!("{sid}: no menu {what} in {doc:?}")),
        };
        let first = match self.step(Act::Ring).await {
            Ok(Answer::Doc(doc)) => doc,
            Ok(Answer::FellBack) => return Ending::Person,
            Err(why) => return Ending::Stranded(why),
        };
        if let Some(ending) = person(&first, false) {
            return ending;
        }
        if let Err(why) = menu(&first, "at the start") {
            return Ending::Stranded(why);
        }
        tokio::time::sleep(think).await;
        let acts: &[Act] = match script {
            Script::Operator => &[Act::Press("0")],
            Script::Hours => &[Act::Press("1")],
            Script::Balance => &[Act::Press("2"), Act::Press("1")],
            Script::Silence => &[Act::Silence, Act::Silence],
            Script::HangUp => return self.hang_up().await,
        };
        let mut last = first;
        for (i, act) in acts.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(think).await;
            }
            last = match self.step(*act).await {
                Ok(Answer::Doc(doc)) => doc,
                Ok(Answer::FellBack) => return Ending::Person,
                Err(why) => return Ending::Stranded(why),
            };
            let wants_queue = matches!(script, Script::Operator | Script::Silence) && i == acts.len() - 1;
            if let Some(ending) = person(&last, wants_queue) {
                if last.find("Enqueue").is_some() {
                    self.queue(think).await;
                }
                return ending;
            }
            if i < acts.len() - 1
                && let Err(why) = menu(&last, &format!("after {act:?}"))
            {
                return Ending::Stranded(why);
            }
        }
        let said = last.said_text();
        let expected = match script {
            Script::Hours => "We are open",
            _ => "Your balance is zero",
        };
        if last.find("Hangup").is_some() && said.contains(expected) {
            Ending::Intended
        } else {
            Ending::Stranded(format!("{}: expected {expected:?} and a hang-up, got {said:?}", self.call.sid))
        }
    }

    /// Hangs up while the first menu plays: Twilio posts the final status to the gather action.
    async fn hang_up(&mut self) -> Ending {
        let (url, mut params) = match self.call.request(Act::Press("")) {
            Ok(request) => request,
            Err(why) => return Ending::Stranded(why),
        };
        params.retain(|(k, _)| *k != "Digits" && *k != "CallStatus");
        params.push(("CallStatus", "completed".into()));
        // A caller who hung up is not stranded whatever the answer; a lost request is counted.
        let _ = self.post(&url, &params).await;
        Ending::Intended
    }

    /// In the queue: Twilio asks the wait URL once, then the caller is bridged. Their failures
    /// are counted; the caller is already with the queue whatever they answer.
    async fn queue(&mut self, think: Duration) {
        for act in [Act::Wait { position: 2, queue_time_s: 10 }, Act::Left("bridged")] {
            tokio::time::sleep(think).await;
            let Ok((url, params)) = self.call.request(act) else { return };
            let _ = self.post(&url, &params).await;
        }
    }

    /// Does `act`: its answer, else the fallback URL's.
    async fn step(&mut self, act: Act<'_>) -> Result<Answer, String> {
        let (url, params) = self.call.request(act).map_err(|e| format!("{}: {e}", self.call.sid))?;
        match self.post(&url, &params).await {
            Ok(doc) => {
                self.call.answered(&doc.1).map_err(|e| format!("{}: {e}", self.call.sid))?;
                Ok(Answer::Doc(doc.0))
            }
            Err(error) => self.fall_back(&url, params, &error).await.map(|()| Answer::FellBack),
        }
    }

    /// The number's fallback URL, as Twilio requests it when the URL it was following failed.
    async fn fall_back(&mut self, failed: &str, mut params: crate::twilio::Params, error: &str) -> Result<(), String> {
        self.tally.fallbacks += 1;
        params.retain(|(k, _)| !matches!(*k, "Digits" | "SpeechResult" | "Confidence"));
        params.push(("ErrorCode", "11200".into()));
        params.push(("ErrorUrl", failed.to_owned()));
        let url = format!("{}/twilio/fallback", self.line.base);
        match self.post(&url, &params).await {
            Ok((doc, _)) if doc.find("Enqueue").is_some() || doc.find("Dial").is_some() => Ok(()),
            Ok((doc, _)) => {
                Err(format!("{}: after {error}, the fallback took no one to a person: {doc:?}", self.call.sid))
            }
            Err(fallback) => Err(format!("{}: {error}; then the fallback: {fallback}", self.call.sid)),
        }
    }

    /// POSTs, signed; the TwiML of a 200 answer, else what went wrong.
    async fn post(&mut self, url: &str, params: &crate::twilio::Params) -> Result<(Element, String), String> {
        self.tally.requests += 1;
        let started = Instant::now();
        let result = match self.line.twilio.post(url, params).await {
            Ok(reply) if reply.status == 200 => {
                crate::twilio::parse(&reply.body).map(|doc| (doc, reply.body)).map_err(|e| format!("{url}: {e}"))
            }
            Ok(reply) => Err(format!("{url}: {} {}", reply.status, reply.body.trim())),
            Err(e) => Err(format!("{url}: {e}")),
        };
        match &result {
            Ok((doc, _)) => {
                self.tally.latencies_us.push(started.elapsed().as_micros() as u64);
                self.editions.extend(doc.said_text().split("edition ").skip(1).filter_map(|rest| {
                    rest.split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse::<u32>().ok())
                }));
            }
            Err(_) => self.tally.failed_requests += 1,
        }
        result
    }
}

/// The caller's ending when `doc` takes them to a person; `asked` when the script wanted one.
fn person(doc: &Element, asked: bool) -> Option<Ending> {
    let with_person = doc.find("Enqueue").is_some() || doc.find("Dial").is_some();
    with_person.then_some(if asked { Ending::Intended } else { Ending::Person })
}

impl Element {
    /// Every `<Say>` text, nested or not.
    fn said_text(&self) -> String {
        let mut out = String::new();
        for child in &self.children {
            if child.name == "Say" {
                out.push_str(&child.text);
                out.push('\n');
            }
            out.push_str(&child.said_text());
        }
        out
    }
}

/// `callers` callers calling back to back until `stop` says so (checked between calls), each
/// call's script taken in turn; every call they started is finished and tallied.
pub async fn drive(
    line: &Arc<Line>,
    callers: usize,
    think: Duration,
    stop: impl Fn(u64) -> bool + Send + Sync + 'static,
) -> Tally {
    let stop = Arc::new(stop);
    let started = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for caller in 0..callers {
        let (line, stop, started) = (line.clone(), stop.clone(), started.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            loop {
                let n = started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if stop(n) {
                    break;
                }
                let sid = format!("CA{:016x}{:016x}", caller, n);
                let script = SCRIPTS[(n as usize + caller) % SCRIPTS.len()];
                tally.merge(line.call(&sid, script, think).await);
            }
            tally
        }));
    }
    let mut tally = Tally::default();
    for task in tasks {
        tally.merge(task.await.expect("a caller task"));
    }
    tally
}

/// `drive` for `calls` calls in all.
pub async fn calls(line: &Arc<Line>, callers: usize, think: Duration, calls: u64) -> Tally {
    drive(line, callers, think, move |n| n >= calls).await
}

/// `drive` until `stop` is set.
pub async fn until(
    line: &Arc<Line>,
    callers: usize,
    think: Duration,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Tally {
    drive(line, callers, think, move |_| stop.load(std::sync::atomic::Ordering::Relaxed)).await
}
