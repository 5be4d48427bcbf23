//! Simulated calls as call events (`simulate --events-db`): the same rows the server writes,
//! marked simulated, with provider `sim`, so `report` and `fit --db` read a simulated week the
//! way they read a real one.
//!
//! The engine's steps go through [`events::events_of`], the function the server logs with; what
//! the server learns from the provider (a queue left, the call completed, the caller hanging
//! up in a queue) is written here from the simulator's own clock. Events are stamped at the
//! simulated local time, turned into UTC by the flow's time zone, and a step's events follow
//! its prompts: an event after a prompt is stamped when the prompt has played, so a queue is
//! joined when the caller really joins it.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::Sim;
use crate::engine::Event as Input;
use crate::events::{self, Before, CallHead, Event, Kind, QueueResult, Step};

/// Events handed to the sink at once.
const BATCH: usize = 4096;

/// What a replication logs, and where to.
pub struct LogTo<'s> {
    /// Prefix of the call ids, unique per run: ids are `PREFIX-REPLICATION-N`.
    pub run: String,
    /// Receives batches of events, each call's in order; its first error stops the replication.
    pub sink: Box<dyn FnMut(Vec<Event>) -> Result<(), String> + 's>,
}

/// The replication's log: the buffer, the numbering of calls and the time zone.
pub(super) struct Log<'s> {
    to: LogTo<'s>,
    replication: u32,
    tz: Tz,
    /// Where the replication's weeks lie in the log: replications follow one another, so the
    /// log reads as one history of weeks × replications (weekdays and hours kept).
    shift: chrono::Duration,
    flow: Arc<str>,
    version: u64,
    buf: Vec<Event>,
    calls: u64,
}

/// One logged call: who it is and its next `seq`.
pub(super) struct Logged {
    head: CallHead,
    seq: u32,
}

impl<'s> Log<'s> {
    pub(super) fn new(to: LogTo<'s>, replication: u32, weeks: u32, tz: Tz, flow: &crate::engine::Flow) -> Log<'s> {
        let shift = chrono::Duration::weeks(i64::from(replication) * i64::from(weeks));
        Log {
            to,
            replication,
            tz,
            shift,
            flow: flow.name.as_str().into(),
            version: flow.version,
            buf: Vec::new(),
            calls: 0,
        }
    }

    fn utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let local = local + self.shift;
        // A local time in a clock change's gap is taken an hour later; in an overlap, the first.
        let at = self.tz.from_local_datetime(&local).earliest();
        let at = at.or_else(|| self.tz.from_local_datetime(&(local + chrono::Duration::hours(1))).earliest());
        at.map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
    }

    fn push(&mut self, event: Event) -> Result<(), String> {
        self.buf.push(event);
        if self.buf.len() >= BATCH { self.flush() } else { Ok(()) }
    }

    pub(super) fn flush(&mut self) -> Result<(), String> {
        if self.buf.is_empty() {
            return Ok(());
        }
        (self.to.sink)(std::mem::take(&mut self.buf))
    }
}

impl Sim<'_> {
    /// Starts the log of caller `id`'s call (just started, its first step in `self.out`).
    pub(super) fn log_start(&mut self, id: u32) {
        let Some(log) = self.log.as_mut() else { return };
        let head = CallHead {
            call_id: format!("{}-{}-{}", log.to.run, log.replication, log.calls).into(),
            provider: "sim".into(),
            flow: log.flow.clone(),
            flow_version: log.version,
            simulated: true,
        };
        log.calls += 1;
        self.callers[id as usize].logged = Some(Box::new(Logged { head, seq: 0 }));
        self.log_step(id, None, None, 0.0);
    }

    /// Logs the engine step in `self.out` for caller `id`, whose events start `offset_s` after
    /// now (an event after a prompt when the prompt has played).
    pub(super) fn log_step(&mut self, id: u32, before: Option<Before>, input: Option<Input>, offset_s: f64) {
        let local = self.local(self.now);
        let caller = &mut self.callers[id as usize];
        let (Some(log), Some(logged)) = (self.log.as_mut(), caller.logged.as_mut()) else { return };
        let at = log.utc(local);
        let step = Step { at, before, input, caller: None, output: &self.out };
        let mut offset_ms = (offset_s * 1000.0) as i64;
        for mut event in events::events_of(&logged.head, &mut logged.seq, self.flow, &caller.call, step) {
            event.at = events::at_ms(at + chrono::Duration::milliseconds(offset_ms));
            if let Kind::PromptPlayed { duration_ms, .. } = event.kind {
                offset_ms += duration_ms as i64;
            }
            if let Err(e) = log.push(event) {
                self.log_error.get_or_insert(e);
            }
        }
    }

    /// Logs an event the provider would report for caller `id`, at `t`.
    pub(super) fn log_event(&mut self, id: u32, t: f64, kind: Kind) {
        let local = self.local(t);
        let caller = &mut self.callers[id as usize];
        let (Some(log), Some(logged)) = (self.log.as_mut(), caller.logged.as_mut()) else { return };
        let at = log.utc(local);
        // The provider's news is not tied to a node, as the status callback's is not.
        let node = match kind {
            Kind::QueueLeft { .. } | Kind::QueueJoined { .. } => Some(self.flow.node(caller.call.node()).id.clone()),
            _ => None,
        };
        let event = logged.head.event(logged.seq, at, node, kind);
        logged.seq += 1;
        if let Err(e) = log.push(event) {
            self.log_error.get_or_insert(e);
        }
    }

    /// Logs that caller `id` left queue `queue` after `wait_s` in it.
    pub(super) fn log_left(&mut self, id: u32, queue: u16, result: QueueResult, wait_s: f64) {
        if self.log.is_none() {
            return;
        }
        let queue = self.names[usize::from(queue)].to_owned();
        let queue_time_s = wait_s.max(0.0).round() as u32;
        self.log_event(id, self.now, Kind::QueueLeft { queue, result, queue_time_s, last_position: None });
    }

    /// Logs the end of caller `id`'s call at `t`.
    pub(super) fn log_completed(&mut self, id: u32, t: f64) {
        if self.log.is_none() {
            return;
        }
        let duration_s = (t - self.callers[id as usize].entered_ivr).max(0.0).round() as u32;
        self.log_event(id, t, Kind::CallCompleted { duration_s });
        self.callers[id as usize].logged = None;
    }
}
