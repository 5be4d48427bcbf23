//! `switchboard report`: what a call-centre manager asks of an IVR, computed from the event log.
//!
//! Pure: events in, a [`Report`] out. Feed a [`Builder`] the events of each call together and
//! in `seq` order (as [`Store::scan`](super::Store::scan) gives them); it keeps one call at a
//! time plus a few numbers per node, queue and weekday × hour, and the waits it needs for
//! percentiles (4 bytes per queued call), so a million calls stay fast and small.
//!
//! Definitions (also in `docs/events.md`):
//! - a call's **outcome** is the last of `queue_joined` (`queue`), `dialled` (`dial`),
//!   `voicemail` and `callback_requested` (`callback`) it logged; a call with none of them
//!   ended in the IVR (`hangup`);
//! - a call is **contained** when it ended in the IVR and the caller did not hang up: the flow
//!   ended it by design; `containment` is contained calls over all calls;
//! - a node's `hangups` are callers who hung up there: the node of `caller_hung_up`, or for one
//!   logged without a node, the last node the call entered;
//! - waits are `queue_left`'s `queue_time_s`; `time_to_person_s` is from the call's first event
//!   to its first `queue_joined` or `dialled`;
//! - percentiles are nearest-rank (p90 of 10 values is the 9th smallest);
//! - `by_hour` counts calls by the weekday and hour their first event fell on, in the report's
//!   time zone.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::{Event, Kind, QueueResult};
use crate::calendar::DAY_KEYS;

/// The kinds a report reads; a scan may select only these (prompts, keys and speech are most
/// of a log and tell the report nothing). A call's start is its first event read, normally
/// `call_started`.
pub const KINDS: [&str; 16] = [
    "call_started",
    "node_entered",
    "escape",
    "timeout_fallback",
    "invalid_input",
    "escalation",
    "caller_hung_up",
    "queue_joined",
    "queue_waiting",
    "queue_left",
    "dialled",
    "voicemail",
    "callback_requested",
    "flow_ended",
    "rated",
    "fetched",
];

/// Which calls a report covers.
#[derive(Clone, Debug)]
pub struct Scope {
    /// Report on simulated calls instead of real ones (the others are only counted).
    pub simulated: bool,
    /// Calls that started at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Calls that started before this instant.
    pub until: Option<DateTime<Utc>>,
    /// The time zone of `by_hour`.
    pub tz: Tz,
}

impl Default for Scope {
    fn default() -> Scope {
        Scope { simulated: false, since: None, until: None, tz: chrono_tz::UTC }
    }
}

/// The report, as `report --json` prints it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// Calls reported on.
    pub calls: u64,
    /// Calls of the other kind (simulated, or real with `--simulated`), not reported on.
    pub other_calls: u64,
    /// Whether the calls reported on are simulated.
    pub simulated: bool,
    pub outcomes: Outcomes,
    /// Contained calls over all calls (0 when there are none).
    pub containment: f64,
    pub nodes: Vec<NodeStats>,
    pub queues: Vec<QueueStats>,
    pub time_to_person_s: Percentiles,
    pub by_hour: Vec<HourCell>,
    /// One per node where callers rated the service, in id order.
    pub ratings: Vec<RatingStats>,
    /// One per `fetch` node, in id order.
    pub fetches: Vec<FetchStats>,
}

/// The ratings given at one node (the whole numbers a flow stored in `rating`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RatingStats {
    pub node: String,
    pub count: u64,
    pub mean: Option<f64>,
    /// How many gave 1, 2, 3, 4 and 5.
    pub distribution: [u64; 5],
    /// Scores outside 1–5 (counted in `count` and `mean` too).
    pub other: u64,
}

/// The requests of one `fetch` node: the way each took and how long they took (nearest-rank
/// percentiles of whole milliseconds).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FetchStats {
    pub node: String,
    pub count: u64,
    pub ok: u64,
    pub not_found: u64,
    pub failed: u64,
    pub p50_ms: Option<u32>,
    pub p90_ms: Option<u32>,
}

/// A fetch's way as a number, for the tallies: `ok` 0, `not_found` 1, anything else (`failed`) 2.
pub fn fetch_result(result: &str) -> i64 {
    match result {
        "ok" => 0,
        "not_found" => 1,
        _ => 2,
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    pub queue: u64,
    pub dial: u64,
    pub voicemail: u64,
    /// Calls that ended asking to be called back (`callback_requested`): not a hang-up, not
    /// contained either, since the caller is still to be served.
    pub callback: u64,
    pub hangup: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NodeStats {
    pub id: String,
    pub entered: u64,
    pub escapes: u64,
    pub timeouts: u64,
    pub invalid: u64,
    pub escalations: u64,
    pub hangups: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct QueueStats {
    pub name: String,
    pub joined: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub mean_wait_s: Option<f64>,
    pub p90_wait_s: Option<f64>,
    pub mean_announced_wait_s: Option<f64>,
    /// Where abandoned callers stood when they gave up.
    pub last_position: LastPosition,
}

/// The last queue position of callers who abandoned (1 is next in line): `queue_left`'s own
/// `last_position` when the driver knew it, else that of the call's last `queue_waiting` for
/// the queue; callers with neither are not counted (`callers`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LastPosition {
    pub callers: u64,
    pub mean: Option<f64>,
    pub max: Option<u32>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub max: Option<f64>,
}

/// One weekday × hour with calls in it (`weekday` is `mon`…`sun`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HourCell {
    pub weekday: &'static str,
    pub hour: u32,
    pub calls: u64,
    pub queued: u64,
}

impl Report {
    /// Nodes worst first: most hang-ups, then most escapes, then by id.
    pub fn worst_nodes(&self) -> Vec<&NodeStats> {
        let mut nodes: Vec<&NodeStats> = self.nodes.iter().collect();
        nodes.sort_by(|a, b| b.hangups.cmp(&a.hangups).then(b.escapes.cmp(&a.escapes)).then(a.id.cmp(&b.id)));
        nodes
    }

    /// The calls of one weekday (0 = Monday) and hour.
    pub fn cell(&self, weekday: usize, hour: u32) -> u64 {
        let key = DAY_KEYS.get(weekday).copied().unwrap_or("");
        self.by_hour.iter().find(|c| c.weekday == key && c.hour == hour).map_or(0, |c| c.calls)
    }
}

#[derive(Default)]
struct QueueAcc {
    joined: u64,
    answered: u64,
    abandoned: u64,
    waits: Vec<u32>,
    announced_s: u64,
    announced_n: u64,
    /// Last positions of abandoned callers: count, sum, max.
    positions: (u64, u64, u32),
}

/// The call being read.
struct Current {
    call_id: Arc<str>,
    provider: Arc<str>,
    start: DateTime<Utc>,
    last_node: Option<String>,
    /// 0 none, 1 queue, 2 dial, 3 voicemail, 4 call-back: the last of them logged.
    outcome: u8,
    caller_hung_up: bool,
    /// The flow ended the call itself (a `hangup` node).
    flow_ended: bool,
    first_person: Option<DateTime<Utc>>,
    queued: bool,
    /// Each queue's last position from `queue_waiting`, latest last.
    waiting: Vec<(String, u32)>,
    /// The queues the caller abandoned, with `queue_left`'s own last position.
    abandoned: Vec<(String, Option<u32>)>,
    /// In the scope: counted as its events come.
    counted: bool,
}

/// Builds a [`Report`] from events given call by call.
pub struct Builder {
    scope: Scope,
    calls: u64,
    other: u64,
    outcomes: Outcomes,
    contained: u64,
    nodes: BTreeMap<String, NodeStats>,
    queues: BTreeMap<String, QueueAcc>,
    to_person_ms: Vec<u64>,
    hours: [[(u64, u64); 24]; 7],
    /// Per node: the scores given, as counts of each.
    ratings: BTreeMap<String, BTreeMap<u8, u64>>,
    /// Per node: counts of each way (see [`fetch_result`]) and the times in milliseconds.
    fetches: BTreeMap<String, ([u64; 3], Vec<u32>)>,
    current: Option<Current>,
}

impl Builder {
    pub fn new(scope: Scope) -> Builder {
        Builder {
            scope,
            calls: 0,
            other: 0,
            outcomes: Outcomes::default(),
            contained: 0,
            nodes: BTreeMap::new(),
            queues: BTreeMap::new(),
            to_person_ms: Vec::new(),
            hours: [[(0, 0); 24]; 7],
            ratings: BTreeMap::new(),
            fetches: BTreeMap::new(),
            current: None,
        }
    }

    /// Takes the next event. A call's events must come together, in `seq` order.
    pub fn push(&mut self, event: &Event) {
        let same =
            self.current.as_ref().is_some_and(|c| *c.call_id == *event.call_id && *c.provider == *event.provider);
        if !same {
            self.close();
            let counted = self.in_dates(event.at) && event.simulated == self.scope.simulated;
            if self.in_dates(event.at) && !counted {
                self.other += 1;
            }
            self.current = Some(Current {
                call_id: event.call_id.clone(),
                provider: event.provider.clone(),
                start: event.at,
                last_node: None,
                outcome: 0,
                caller_hung_up: false,
                flow_ended: false,
                first_person: None,
                queued: false,
                waiting: Vec::new(),
                abandoned: Vec::new(),
                counted,
            });
        }
        if let Some(mut call) = self.current.take() {
            if call.counted {
                self.count(&mut call, event);
            }
            self.current = Some(call);
        }
    }

    /// Adds `n` calls counted elsewhere (the summary tables): simulated or not, started in the
    /// 15 minutes from `bucket_ms`, with the outcome, hang-up and queue of [`code`].
    ///
    /// [`code`]: super::summary::CallState::code
    pub fn add_calls(&mut self, simulated: bool, bucket_ms: i64, code: i64, n: u64) {
        if simulated != self.scope.simulated {
            self.other += n;
            return;
        }
        self.calls += n;
        let hung_up = code & 8 != 0;
        match code & 7 {
            1 => self.outcomes.queue += n,
            2 => self.outcomes.dial += n,
            3 => self.outcomes.voicemail += n,
            4 => self.outcomes.callback += n,
            _ => {
                self.outcomes.hangup += n;
                if !hung_up {
                    self.contained += n;
                }
            }
        }
        let Some(start) = DateTime::from_timestamp_millis(bucket_ms) else { return };
        let local = start.with_timezone(&self.scope.tz);
        let day = local.weekday().num_days_from_monday() as usize;
        if let Some(cell) = self.hours.get_mut(day).and_then(|d| d.get_mut(local.hour() as usize)) {
            cell.0 += n;
            cell.1 += if code & 16 != 0 { n } else { 0 };
        }
    }

    /// Adds a tally of the summary tables: a node's counter (`entered`, `escapes`,
    /// `timeouts`, `invalid`, `escalations`, `hangups`), or a queue's (`joined`, `answered`,
    /// `abandoned`; `announced` with the minutes announced as `value`, `position` with the
    /// last position of abandoned callers, `wait` with a stay's seconds), a rating node's
    /// `rated` (the score as `value`) or a fetch node's `fetch_result` ([`fetch_result`]) and
    /// `fetch_ms`. Unknown tallies are left out.
    pub fn add_tally(&mut self, what: &str, name: &str, value: i64, n: u64) {
        let node = |b: &mut Builder, f: fn(&mut NodeStats, u64)| f(b.node(name), n);
        match what {
            "entered" => node(self, |s, n| s.entered += n),
            "escapes" => node(self, |s, n| s.escapes += n),
            "timeouts" => node(self, |s, n| s.timeouts += n),
            "invalid" => node(self, |s, n| s.invalid += n),
            "escalations" => node(self, |s, n| s.escalations += n),
            "hangups" => node(self, |s, n| s.hangups += n),
            "joined" => self.queue(name).joined += n,
            "answered" => self.queue(name).answered += n,
            "abandoned" => self.queue(name).abandoned += n,
            "announced" => {
                let q = self.queue(name);
                q.announced_s += u64::try_from(value).unwrap_or(0) * 60 * n;
                q.announced_n += n;
            }
            "position" => {
                let p = u32::try_from(value).unwrap_or(0);
                let q = self.queue(name);
                q.positions = (q.positions.0 + n, q.positions.1 + u64::from(p) * n, q.positions.2.max(p));
            }
            "rated" => {
                let score = u8::try_from(value).unwrap_or(u8::MAX);
                *self.ratings.entry(name.to_owned()).or_default().entry(score).or_default() += n;
            }
            "fetch_result" => {
                let way = usize::try_from(value).unwrap_or(2).min(2);
                self.fetches.entry(name.to_owned()).or_default().0[way] += n;
            }
            "fetch_ms" => {
                let ms = u32::try_from(value).unwrap_or(u32::MAX);
                let times = &mut self.fetches.entry(name.to_owned()).or_default().1;
                times.extend(std::iter::repeat_n(ms, usize::try_from(n).unwrap_or(0)));
            }
            "wait" => {
                let wait = u32::try_from(value).unwrap_or(0);
                let waits = &mut self.queue(name).waits;
                waits.extend(std::iter::repeat_n(wait, usize::try_from(n).unwrap_or(0)));
            }
            _ => {}
        }
    }

    /// Adds one call's time from start to a person (see [`add_calls`](Builder::add_calls)).
    pub fn add_to_person(&mut self, ms: u64) {
        self.to_person_ms.push(ms);
    }

    /// Whether a call starting at `start` is in the scope's dates.
    fn in_dates(&self, start: DateTime<Utc>) -> bool {
        self.scope.since.is_none_or(|s| start >= s) && self.scope.until.is_none_or(|u| start < u)
    }

    /// Counts the call read so far.
    fn close(&mut self) {
        let Some(call) = self.current.take() else { return };
        if !call.counted {
            return;
        }
        self.calls += 1;
        match call.outcome {
            1 => self.outcomes.queue += 1,
            2 => self.outcomes.dial += 1,
            3 => self.outcomes.voicemail += 1,
            4 => self.outcomes.callback += 1,
            _ => {
                self.outcomes.hangup += 1;
                if !call.caller_hung_up {
                    self.contained += 1;
                }
            }
        }
        if let Some(at) = call.first_person {
            self.to_person_ms.push(u64::try_from((at - call.start).num_milliseconds()).unwrap_or(0));
        }
        for (queue, position) in &call.abandoned {
            let waited = || call.waiting.iter().rev().find(|(q, _)| q == queue).map(|&(_, p)| p);
            if let Some(p) = position.or_else(waited) {
                let q = self.queue(queue);
                q.positions = (q.positions.0 + 1, q.positions.1 + u64::from(p), q.positions.2.max(p));
            }
        }
        let local = call.start.with_timezone(&self.scope.tz);
        let day = local.weekday().num_days_from_monday() as usize;
        let hour = local.hour() as usize;
        if let Some(cell) = self.hours.get_mut(day).and_then(|d| d.get_mut(hour)) {
            cell.0 += 1;
            cell.1 += u64::from(call.queued);
        }
    }

    /// A queue's figures, without allocating its name once it is known.
    fn queue(&mut self, name: &str) -> &mut QueueAcc {
        if !self.queues.contains_key(name) {
            self.queues.insert(name.to_owned(), QueueAcc::default());
        }
        self.queues.get_mut(name).expect("inserted just above")
    }

    fn node(&mut self, id: &str) -> &mut NodeStats {
        if !self.nodes.contains_key(id) {
            self.nodes.insert(id.to_owned(), NodeStats { id: id.to_owned(), ..NodeStats::default() });
        }
        self.nodes.get_mut(id).expect("inserted just above")
    }

    fn count(&mut self, call: &mut Current, event: &Event) {
        let node = event.node.as_deref();
        let bump = |b: &mut Builder, f: fn(&mut NodeStats)| {
            if let Some(id) = node {
                f(b.node(id));
            }
        };
        match &event.kind {
            Kind::NodeEntered {} => {
                bump(self, |n| n.entered += 1);
                call.last_node = event.node.as_deref().map(str::to_owned);
            }
            Kind::Escape {} => bump(self, |n| n.escapes += 1),
            Kind::TimeoutFallback {} => bump(self, |n| n.timeouts += 1),
            Kind::InvalidInput { .. } => bump(self, |n| n.invalid += 1),
            Kind::Escalation {} => bump(self, |n| n.escalations += 1),
            // The status callback logs a hang-up without a node for every call the caller ended;
            // after a queue, a transfer, voicemail or the flow's own goodbye it is no hang-up in
            // the IVR.
            Kind::CallerHungUp {} if node.is_none() && (call.outcome != 0 || call.flow_ended) => {}
            Kind::FlowEnded {} => call.flow_ended = true,
            Kind::CallerHungUp {} => {
                call.caller_hung_up = true;
                if let Some(id) = node.map(str::to_owned).or_else(|| call.last_node.clone()) {
                    self.node(&id).hangups += 1;
                }
            }
            Kind::QueueJoined { queue, announced_wait_min } => {
                call.outcome = 1;
                call.queued = true;
                call.first_person.get_or_insert(event.at);
                let q = self.queue(queue);
                q.joined += 1;
                if let Some(min) = *announced_wait_min {
                    q.announced_s += u64::from(min) * 60;
                    q.announced_n += 1;
                }
            }
            Kind::QueueWaiting { queue, position, .. } => match call.waiting.iter_mut().find(|(q, _)| q == queue) {
                Some(last) => last.1 = *position,
                None => call.waiting.push((queue.clone(), *position)),
            },
            &Kind::QueueLeft { ref queue, result, queue_time_s, last_position } => {
                let q = self.queue(queue);
                q.waits.push(queue_time_s);
                match result {
                    QueueResult::Bridged => q.answered += 1,
                    QueueResult::Hangup => {
                        q.abandoned += 1;
                        call.abandoned.push((queue.clone(), last_position));
                    }
                    QueueResult::Redirected | QueueResult::Error => {}
                }
            }
            Kind::Dialled { .. } => {
                call.outcome = 2;
                call.first_person.get_or_insert(event.at);
            }
            Kind::Voicemail { .. } => call.outcome = 3,
            Kind::CallbackRequested { .. } => call.outcome = 4,
            Kind::Rated { score } => {
                if let Some(id) = node {
                    *self.ratings.entry(id.to_owned()).or_default().entry(*score).or_default() += 1;
                }
            }
            Kind::Fetched { result, ms, .. } => {
                if let Some(id) = node {
                    let (ways, times) = self.fetches.entry(id.to_owned()).or_default();
                    ways[usize::try_from(fetch_result(result)).unwrap_or(2)] += 1;
                    times.push(*ms);
                }
            }
            _ => {}
        }
    }

    /// The report of every call pushed.
    pub fn finish(mut self) -> Report {
        self.close();
        let queues = std::mem::take(&mut self.queues)
            .into_iter()
            .map(|(name, mut q)| {
                q.waits.sort_unstable();
                let mean = mean(q.waits.iter().map(|&w| u64::from(w)), q.waits.len());
                QueueStats {
                    name,
                    joined: q.joined,
                    answered: q.answered,
                    abandoned: q.abandoned,
                    mean_wait_s: mean,
                    p90_wait_s: nearest_rank(&q.waits, 0.9).map(f64::from),
                    mean_announced_wait_s: (q.announced_n > 0).then(|| q.announced_s as f64 / q.announced_n as f64),
                    last_position: LastPosition {
                        callers: q.positions.0,
                        mean: (q.positions.0 > 0).then(|| q.positions.1 as f64 / q.positions.0 as f64),
                        max: (q.positions.0 > 0).then_some(q.positions.2),
                    },
                }
            })
            .collect();
        self.to_person_ms.sort_unstable();
        let s = |ms: Option<&u64>| ms.map(|&ms| ms as f64 / 1000.0);
        let time_to_person_s = Percentiles {
            p50: s(nearest_rank(&self.to_person_ms, 0.5).as_ref()),
            p90: s(nearest_rank(&self.to_person_ms, 0.9).as_ref()),
            max: s(self.to_person_ms.last()),
        };
        let mut by_hour = Vec::new();
        for (day, hours) in self.hours.iter().enumerate() {
            for (hour, &(calls, queued)) in hours.iter().enumerate() {
                if calls > 0 {
                    by_hour.push(HourCell {
                        weekday: DAY_KEYS.get(day).copied().unwrap_or("mon"),
                        hour: u32::try_from(hour).unwrap_or(0),
                        calls,
                        queued,
                    });
                }
            }
        }
        let ratings = std::mem::take(&mut self.ratings)
            .into_iter()
            .map(|(node, scores)| {
                let count: u64 = scores.values().sum();
                let sum: u64 = scores.iter().map(|(s, n)| u64::from(*s) * n).sum();
                let mut distribution = [0; 5];
                let mut other = 0;
                for (&score, &n) in &scores {
                    match distribution.get_mut(usize::from(score).wrapping_sub(1)) {
                        Some(slot) => *slot += n,
                        None => other += n,
                    }
                }
                let mean = (count > 0).then(|| sum as f64 / count as f64);
                RatingStats { node, count, mean, distribution, other }
            })
            .collect();
        let fetches = std::mem::take(&mut self.fetches)
            .into_iter()
            .map(|(node, (ways, mut times))| {
                times.sort_unstable();
                FetchStats {
                    node,
                    count: ways.iter().sum(),
                    ok: ways[0],
                    not_found: ways[1],
                    failed: ways[2],
                    p50_ms: nearest_rank(&times, 0.5),
                    p90_ms: nearest_rank(&times, 0.9),
                }
            })
            .collect();
        Report {
            ratings,
            fetches,
            calls: self.calls,
            other_calls: self.other,
            simulated: self.scope.simulated,
            outcomes: self.outcomes,
            containment: if self.calls == 0 { 0.0 } else { self.contained as f64 / self.calls as f64 },
            nodes: self.nodes.into_values().collect(),
            queues,
            time_to_person_s,
            by_hour,
        }
    }
}

/// Whether a report reads events of this kind (one of [`KINDS`]).
pub fn reads(kind: &Kind) -> bool {
    !matches!(
        kind,
        Kind::PromptPlayed { .. }
            | Kind::Digits { .. }
            | Kind::Speech { .. }
            | Kind::NoInput {}
            | Kind::SentToOperator { .. }
            | Kind::CallCompleted { .. }
    )
}

/// The report of `events`, given call by call in `seq` order.
pub fn report(events: impl IntoIterator<Item = Event>, scope: Scope) -> Report {
    let mut builder = Builder::new(scope);
    for event in events {
        builder.push(&event);
    }
    builder.finish()
}

fn mean(values: impl Iterator<Item = u64>, n: usize) -> Option<f64> {
    (n > 0).then(|| values.sum::<u64>() as f64 / n as f64)
}

/// The nearest-rank percentile of sorted values: the smallest value with at least `p` of them
/// at or below it.
fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// The text form: totals, then nodes worst first, then queues.
pub fn text(r: &Report) -> String {
    use std::fmt::Write as _;
    let what = if r.simulated { "simulated calls" } else { "calls" };
    let mut out = format!("{} {what}", r.calls);
    if r.other_calls > 0 {
        let other = if r.simulated { "real" } else { "simulated" };
        let _ = write!(out, " ({} {other} calls not counted)", r.other_calls);
    }
    out.push('\n');
    let o = &r.outcomes;
    let _ = writeln!(
        out,
        "  reached a queue {}, dialled {}, voicemail {}, asked for a call-back {}, ended in the IVR {}",
        o.queue, o.dial, o.voicemail, o.callback, o.hangup
    );
    let _ =
        writeln!(out, "  containment {:.1}% (ended in the IVR by design, not by hanging up)", r.containment * 100.0);
    if let (Some(p50), Some(p90), Some(max)) = (r.time_to_person_s.p50, r.time_to_person_s.p90, r.time_to_person_s.max)
    {
        let _ = writeln!(out, "  time to a person: median {p50:.0} s, p90 {p90:.0} s, max {max:.0} s");
    }
    out.push_str("\nnodes, worst first (hang-ups, then zero-outs):\n");
    let _ = writeln!(
        out,
        "  {:<24} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "node", "entered", "hangups", "escapes", "timeouts", "invalid", "escal."
    );
    for n in r.worst_nodes() {
        let _ = writeln!(
            out,
            "  {:<24} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            n.id, n.entered, n.hangups, n.escapes, n.timeouts, n.invalid, n.escalations
        );
    }
    if !r.queues.is_empty() {
        out.push_str("\nqueues:\n");
    }
    let secs = |s: Option<f64>| s.map_or("-".to_owned(), |s| format!("{s:.0} s"));
    for q in &r.queues {
        let _ = writeln!(
            out,
            "  {}: joined {}, answered {}, abandoned {}; wait mean {}, p90 {}; announced mean {}{}",
            q.name,
            q.joined,
            q.answered,
            q.abandoned,
            secs(q.mean_wait_s),
            secs(q.p90_wait_s),
            secs(q.mean_announced_wait_s),
            match (q.last_position.mean, q.last_position.max) {
                (Some(mean), Some(max)) => format!("; abandoned at position mean {mean:.1}, max {max}"),
                _ => String::new(),
            }
        );
    }
    if !r.ratings.is_empty() {
        out.push_str("\nratings:\n");
    }
    for g in &r.ratings {
        let [one, two, three, four, five] = g.distribution;
        let _ = writeln!(
            out,
            "  {}: {} given, mean {}; 1: {one}, 2: {two}, 3: {three}, 4: {four}, 5: {five}{}",
            g.node,
            g.count,
            g.mean.map_or("-".to_owned(), |m| format!("{m:.2}")),
            if g.other > 0 { format!(", other: {}", g.other) } else { String::new() }
        );
    }
    if !r.fetches.is_empty() {
        out.push_str("\nfetches:\n");
    }
    let ms = |v: Option<u32>| v.map_or("-".to_owned(), |v| format!("{v} ms"));
    for f in &r.fetches {
        let _ = writeln!(
            out,
            "  {}: {} requests, ok {}, not found {}, failed {}; time p50 {}, p90 {}",
            f.node,
            f.count,
            f.ok,
            f.not_found,
            f.failed,
            ms(f.p50_ms),
            ms(f.p90_ms)
        );
    }
    out
}

/// The CSV form: one row per node, in id order.
pub fn csv_rows(r: &Report) -> Vec<[String; 7]> {
    let mut rows =
        vec![["node", "entered", "escapes", "timeouts", "invalid", "escalations", "hangups"].map(str::to_owned)];
    for n in &r.nodes {
        rows.push([
            n.id.clone(),
            n.entered.to_string(),
            n.escapes.to_string(),
            n.timeouts.to_string(),
            n.invalid.to_string(),
            n.escalations.to_string(),
            n.hangups.to_string(),
        ]);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::CallHead;

    fn at(s: i64) -> DateTime<Utc> {
        // Monday 2026-03-16 09:00:00 UTC, plus s seconds.
        DateTime::from_timestamp(1_773_651_600 + s, 0).expect("a valid time")
    }

    /// A call's events from (seconds, node, kind).
    fn call(id: &str, simulated: bool, steps: &[(i64, Option<&str>, Kind)]) -> Vec<Event> {
        let head =
            CallHead { call_id: id.into(), provider: "twilio".into(), flow: "f".into(), flow_version: 1, simulated };
        steps
            .iter()
            .enumerate()
            .map(|(i, (s, node, kind))| {
                head.event(u32::try_from(i).expect("few"), at(*s), node.map(Arc::from), kind.clone())
            })
            .collect()
    }

    fn entered(s: i64, node: &'static str) -> (i64, Option<&'static str>, Kind) {
        (s, Some(node), Kind::NodeEntered {})
    }

    fn joined(s: i64, min: Option<u32>) -> (i64, Option<&'static str>, Kind) {
        (s, Some("op"), Kind::QueueJoined { queue: "q".into(), announced_wait_min: min })
    }

    fn left(s: i64, result: QueueResult, wait: u32) -> (i64, Option<&'static str>, Kind) {
        (s, Some("op"), Kind::QueueLeft { queue: "q".into(), result, queue_time_s: wait, last_position: None })
    }

    fn sample() -> Vec<Event> {
        let start = (0, None, Kind::CallStarted { caller: None });
        let mut events = Vec::new();
        // Presses 0 at the menu, waits 30 s, is answered.
        events.extend(call(
            "A",
            false,
            &[
                start.clone(),
                entered(0, "menu"),
                (5, Some("menu"), Kind::Escape {}),
                entered(5, "op"),
                joined(5, Some(2)),
                left(35, QueueResult::Bridged, 30),
            ],
        ));
        // Hangs up at the menu (logged by the status callback without a node).
        events.extend(call("B", false, &[start.clone(), entered(0, "menu"), (8, None, Kind::CallerHungUp {})]));
        // Self-service: ends at a hangup node.
        events.extend(call("C", false, &[start.clone(), entered(0, "menu"), entered(4, "bye")]));
        // Silence, then the fallback to the queue, abandoned after 90 s.
        events.extend(call(
            "D",
            false,
            &[
                start.clone(),
                entered(0, "menu"),
                (15, Some("menu"), Kind::NoInput {}),
                (15, Some("menu"), Kind::TimeoutFallback {}),
                entered(15, "op"),
                joined(15, Some(1)),
                left(105, QueueResult::Hangup, 90),
            ],
        ));
        // Simulated: counted apart.
        events.extend(call("E", true, &[start, entered(0, "menu")]));
        events
    }

    #[test]
    fn counts_the_sample_calls() {
        let r = report(sample(), Scope::default());
        assert_eq!(r.calls, 4);
        assert_eq!(r.other_calls, 1);
        assert_eq!(r.outcomes, Outcomes { queue: 2, dial: 0, voicemail: 0, callback: 0, hangup: 2 });
        assert_eq!(r.containment, 0.25);
        let menu = r.nodes.iter().find(|n| n.id == "menu").expect("menu is reported");
        assert_eq!(
            *menu,
            NodeStats {
                id: "menu".into(),
                entered: 4,
                escapes: 1,
                timeouts: 1,
                invalid: 0,
                escalations: 0,
                hangups: 1
            }
        );
        let q = &r.queues[0];
        assert_eq!((q.joined, q.answered, q.abandoned), (2, 1, 1));
        assert_eq!(q.mean_wait_s, Some(60.0));
        assert_eq!(q.p90_wait_s, Some(90.0));
        assert_eq!(q.mean_announced_wait_s, Some(90.0));
        assert_eq!(r.time_to_person_s, Percentiles { p50: Some(5.0), p90: Some(15.0), max: Some(15.0) });
        assert_eq!(r.by_hour, [HourCell { weekday: "mon", hour: 9, calls: 4, queued: 2 }]);
        assert_eq!(r.worst_nodes()[0].id, "menu");
    }

    #[test]
    fn the_status_callback_s_hang_up_counts_only_in_the_ivr() {
        let start = (0, None, Kind::CallStarted { caller: None });
        let hung_up = |s| (s, None, Kind::CallerHungUp {});
        let mut events = Vec::new();
        // Queued, answered, then the caller ends the call: no hang-up in the IVR.
        events.extend(call(
            "Q",
            false,
            &[
                start.clone(),
                entered(0, "menu"),
                entered(5, "op"),
                joined(5, None),
                left(20, QueueResult::Bridged, 15),
                hung_up(300),
            ],
        ));
        // The flow said goodbye and hung up; the callback still says `completed`.
        events.extend(call(
            "S",
            false,
            &[start.clone(), entered(0, "menu"), entered(4, "bye"), (6, Some("bye"), Kind::FlowEnded {}), hung_up(6)],
        ));
        // Hung up at the menu.
        events.extend(call("M", false, &[start, entered(0, "menu"), hung_up(8)]));
        let r = report(events, Scope::default());
        assert_eq!(r.outcomes, Outcomes { queue: 1, dial: 0, voicemail: 0, callback: 0, hangup: 2 });
        assert_eq!(r.containment, 1.0 / 3.0);
        let hangups: Vec<(&str, u64)> = r.nodes.iter().map(|n| (n.id.as_str(), n.hangups)).collect();
        assert_eq!(hangups, [("bye", 0), ("menu", 1), ("op", 0)]);
    }

    #[test]
    fn abandoned_callers_last_positions_come_from_their_last_wait_request() {
        let start = (0, None, Kind::CallStarted { caller: None });
        let waiting =
            |s, position| (s, Some("op"), Kind::QueueWaiting { queue: "q".into(), position, announced_wait_min: None });
        let mut events = Vec::new();
        // Waited at 5, then 3, then gave up.
        events.extend(call(
            "A",
            false,
            &[start.clone(), joined(0, None), waiting(10, 5), waiting(40, 3), left(60, QueueResult::Hangup, 60)],
        ));
        // Gave up where the driver itself said: position 2 (its own figure wins).
        let mut left_at_2 = left(30, QueueResult::Hangup, 30);
        if let Kind::QueueLeft { last_position, .. } = &mut left_at_2.2 {
            *last_position = Some(2);
        }
        events.extend(call("B", false, &[start.clone(), joined(0, None), waiting(10, 6), left_at_2]));
        // Answered: not counted.
        events.extend(call(
            "C",
            false,
            &[start.clone(), joined(0, None), waiting(10, 9), left(20, QueueResult::Bridged, 20)],
        ));
        // Abandoned before any wait request: not counted.
        events.extend(call("D", false, &[start, joined(0, None), left(3, QueueResult::Hangup, 3)]));
        let r = report(events, Scope::default());
        assert_eq!(r.queues[0].last_position, LastPosition { callers: 2, mean: Some(2.5), max: Some(3) });
        assert!(text(&r).contains("abandoned at position mean 2.5, max 3"), "{}", text(&r));
    }

    #[test]
    fn a_call_back_is_its_own_outcome_neither_a_hang_up_nor_contained() {
        let start = (0, None, Kind::CallStarted { caller: None });
        let events = call(
            "CB",
            false,
            &[
                start,
                entered(0, "menu"),
                entered(5, "callback"),
                (6, Some("callback"), Kind::CallbackRequested { queue: Some("q".into()) }),
                (6, Some("callback"), Kind::FlowEnded {}),
                (7, None, Kind::CallerHungUp {}),
            ],
        );
        let r = report(events, Scope::default());
        assert_eq!(r.outcomes, Outcomes { queue: 0, dial: 0, voicemail: 0, callback: 1, hangup: 0 });
        assert_eq!(r.containment, 0.0);
        assert!(r.nodes.iter().all(|n| n.hangups == 0));
    }

    #[test]
    fn simulated_calls_can_be_the_ones_reported() {
        let r = report(sample(), Scope { simulated: true, ..Scope::default() });
        assert_eq!((r.calls, r.other_calls), (1, 4));
        assert_eq!(r.containment, 1.0);
    }

    #[test]
    fn dates_select_calls_by_their_start() {
        let scope = Scope { since: Some(at(1)), ..Scope::default() };
        assert_eq!(report(sample(), scope).calls, 0);
        let scope = Scope { until: Some(at(1)), tz: chrono_tz::Europe::Moscow, ..Scope::default() };
        let r = report(sample(), scope);
        assert_eq!(r.calls, 4);
        assert_eq!(r.by_hour[0].hour, 12, "09:00 UTC is 12:00 in Moscow");
    }

    #[test]
    fn an_empty_log_is_an_empty_report() {
        let r = report(Vec::new(), Scope::default());
        assert_eq!(r.calls, 0);
        assert_eq!(r.containment, 0.0);
        assert_eq!(r.time_to_person_s, Percentiles::default());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=10).collect();
        assert_eq!(nearest_rank(&v, 0.9), Some(9));
        assert_eq!(nearest_rank(&v, 0.5), Some(5));
        assert_eq!(nearest_rank(&[7u32], 0.9), Some(7));
        assert_eq!(nearest_rank::<u32>(&[], 0.9), None);
    }
}
