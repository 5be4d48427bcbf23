//! The event log's writer: the caller never waits for the database.
//!
//! [`Writer::record_all`] puts a request's events in a bounded queue as one message, or drops
//! and counts those past its bound; one
//! background thread takes events off it and writes them in batches (up to
//! [`WriterConfig::batch_max`] events, or whatever arrived within [`WriterConfig::batch_window`]
//! of the first), one transaction each. When the database is slow or down the thread keeps its
//! batch and retries with exponential backoff, reopening the connection; meanwhile the queue
//! fills, and once full, new events are dropped and counted ([`Stats::dropped`]) with a warning
//! at most every ten seconds. Memory is bounded by the queue plus one batch. [`Writer::shutdown`]
//! writes what is queued, retrying until its grace period ends, and says how many events were
//! written and how many were lost.
//!
//! Once a batch window passes without events, the thread brings the call summaries up to date
//! between looks at the queue, a few hundred calls at a time ([`Sink::idle`]); under unbroken
//! load, steps at most a second apart and within a small share of the time
//! ([`BUSY_CHORE_SHARE`]), and none while a batch or more waits.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{DbUrl, Event, EventLogError, Store};

/// How often at most a warning about dropped events or a failing database is logged.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// A batch the database refuses this many times in a row on a connection that opened fine is
/// discarded (and counted as dropped) rather than retried for ever: it would block every event
/// behind it.
const MAX_REJECTIONS: u32 = 3;

/// Where batches go: a [`Store`], or in tests a stand-in that fails on purpose.
pub trait Sink: Send {
    /// Writes one batch, all or nothing.
    fn write(&mut self, events: &[Event]) -> Result<(), EventLogError>;

    /// Work for a quiet moment, in a small step; whether there is more.
    fn idle(&mut self) -> Result<bool, EventLogError> {
        Ok(false)
    }
}

/// How often the writer looks at the queue while a batch window is open.
const WINDOW_POLL: Duration = Duration::from_millis(5);

/// Calls summarised per step when the writer is idle: a step takes tens of milliseconds, while
/// new events wait in the queue.
const IDLE_CHUNK: usize = 500;

/// Under unbroken load, one step of idle work at most this often. Summaries serve `report` and
/// `fit`, which catch up themselves before reading, not the calls; summarising as fast as
/// events arrive took a quarter of a busy server's CPU (the writer thread shares the cores with
/// the webhooks). So the work waits for a quiet moment (a batch window without events), and a
/// hotline that is never quiet still has its summaries trail by a bounded pace.
const BUSY_CHORE_EVERY: Duration = Duration::from_secs(1);

/// Under unbroken load, idle work takes at most one part in this many of the writer's time: a
/// step that took `t` is followed by none for `t × BUSY_CHORE_SHARE`. At one step a second, a
/// busy SQLite server spent a tenth of its CPU on summaries; a slower database (PostgreSQL
/// over a network) takes longer steps and so gets them further apart.
const BUSY_CHORE_SHARE: u32 = 50;

impl Sink for Store {
    fn write(&mut self, events: &[Event]) -> Result<(), EventLogError> {
        self.insert(events).map(|_| ())
    }

    /// Brings the summaries up to date, a few hundred calls at a time.
    fn idle(&mut self) -> Result<bool, EventLogError> {
        Ok(self.catch_up_some(IDLE_CHUNK)? == IDLE_CHUNK)
    }
}

/// Opens a connection to the log; called on the writer's thread, again after each failure.
pub type Opener = Box<dyn FnMut() -> Result<Box<dyn Sink>, EventLogError> + Send>;

/// The writer's bounds and timings.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Events waiting in memory at most; past it, events are dropped.
    pub capacity: usize,
    /// Events per transaction at most.
    pub batch_max: usize,
    /// How long the first event of a batch waits for others: the most a restart can lose.
    pub batch_window: Duration,
    /// The first wait after a failed write; doubled after each failure up to `retry_max`.
    pub retry_min: Duration,
    pub retry_max: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        // 10,000 events are about 3 MB: a few minutes of a busy hotline's calls.
        WriterConfig {
            capacity: 10_000,
            batch_max: 1_000,
            batch_window: Duration::from_millis(200),
            retry_min: Duration::from_millis(100),
            retry_max: Duration::from_secs(5),
        }
    }
}

/// The writer's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events the database accepted (replays it skipped included).
    pub written: u64,
    /// Events lost: the queue was full, the database refused their batch, or they were still
    /// unwritten when shutdown's grace period ended. `switchboard_events_dropped_total`.
    pub dropped: u64,
    /// Failed attempts to open the database or write a batch.
    pub failures: u64,
}

struct Shared {
    /// Events sent and not yet taken by the thread: the queue's bound is on events, not on
    /// messages, so a request's events travel as one message.
    queued: AtomicUsize,
    written: AtomicU64,
    dropped: AtomicU64,
    failures: AtomicU64,
    connected: AtomicBool,
    closing: AtomicBool,
    /// When shutdown gives up on an unavailable database.
    deadline: Mutex<Option<Instant>>,
    epoch: Instant,
    /// Milliseconds since `epoch` of the last warning about drops; `u64::MAX`: none yet.
    last_drop_warning_ms: AtomicU64,
}

impl Shared {
    fn deadline(&self) -> Option<Instant> {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn drop_events(&self, n: u64) {
        if n == 0 {
            return;
        }
        let total = self.dropped.fetch_add(n, Ordering::Relaxed) + n;
        let now_ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        let last = self.last_drop_warning_ms.load(Ordering::Relaxed);
        let due = last == u64::MAX || now_ms.saturating_sub(last) >= millis(WARN_EVERY);
        // Only the thread that wins the exchange warns, so a flood of drops logs one line.
        if due && self.last_drop_warning_ms.compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            tracing::warn!(
                dropped_total = total,
                "the event log cannot keep up (database slow or down): dropping events"
            );
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What goes through the queue.
enum Msg {
    /// A request's events, in order: one message per request, however many events.
    Events(Vec<Event>),
    /// Shutdown's nudge to a thread waiting on an empty queue.
    Wake,
}

/// The event log as the server uses it: `record` from any thread, never blocking.
pub struct Writer {
    queue: Sender<Msg>,
    /// Events the queue may hold (see `Shared::queued`).
    capacity: usize,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// A writer to the log `url` names (`None` for `none`). The connection is opened on the
    /// writer's thread, so a database that is down at start-up delays only the log.
    pub fn open(url: &DbUrl, config: WriterConfig) -> Result<Option<Writer>, EventLogError> {
        if *url == DbUrl::None {
            return Ok(None);
        }
        let url = url.clone();
        let opener: Opener = Box::new(move || match Store::open(&url)? {
            Some(store) => Ok(Box::new(store) as Box<dyn Sink>),
            None => Err(EventLogError::Unavailable("the log is `none`".into())),
        });
        Writer::start(opener, config).map(Some)
    }

    /// A writer to whatever `opener` opens.
    pub fn start(opener: Opener, config: WriterConfig) -> Result<Writer, EventLogError> {
        let config = WriterConfig { capacity: config.capacity.max(1), batch_max: config.batch_max.max(1), ..config };
        let capacity = config.capacity;
        let (queue, rx) = std::sync::mpsc::channel();
        let shared = Arc::new(Shared {
            queued: AtomicUsize::new(0),
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            deadline: Mutex::new(None),
            epoch: Instant::now(),
            last_drop_warning_ms: AtomicU64::new(u64::MAX),
        });
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("event-log".into())
            .spawn(move || run(rx, &thread_shared, opener, &config))?;
        Ok(Writer { queue, capacity, shared, thread: Mutex::new(Some(thread)) })
    }

    /// Queues an event for writing, or drops and counts it if the queue is full. Never blocks.
    pub fn record(&self, event: Event) {
        self.send(vec![event]);
    }

    /// Queues events in order, as one message (a request's events cost one send); those past
    /// the queue's room are dropped and counted. Never blocks.
    pub fn record_all(&self, events: impl IntoIterator<Item = Event>) {
        self.send(events.into_iter().collect());
    }

    fn send(&self, mut events: Vec<Event>) {
        let n = events.len();
        if n == 0 {
            return;
        }
        if self.shared.closing.load(Ordering::Acquire) {
            return self.shared.drop_events(u64::try_from(n).unwrap_or(u64::MAX));
        }
        let room = |queued: usize| n.min(self.capacity.saturating_sub(queued));
        let taken = match self
            .shared
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| (room(q) > 0).then(|| q + room(q)))
        {
            Ok(before) => room(before),
            Err(_) => 0,
        };
        events.truncate(taken);
        self.shared.drop_events(u64::try_from(n - taken).unwrap_or(u64::MAX));
        if taken > 0 && self.queue.send(Msg::Events(events)).is_err() {
            self.shared.queued.fetch_sub(taken, Ordering::AcqRel);
            self.shared.drop_events(u64::try_from(taken).unwrap_or(u64::MAX));
        }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            written: self.shared.written.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            failures: self.shared.failures.load(Ordering::Relaxed),
        }
    }

    /// Whether the last attempt to write reached the database.
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }

    /// Writes what is queued, retrying an unavailable database until `grace` has passed, stops
    /// the thread and returns the final counters. Events recorded from now on are dropped.
    pub fn shutdown(&self, grace: Duration) -> Stats {
        self.close(grace);
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!("the event-log thread panicked");
        }
        self.stats()
    }

    fn close(&self, grace: Duration) {
        *self.shared.deadline.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + grace);
        self.shared.closing.store(true, Ordering::Release);
        // A thread backing off is unparked below.
        let _ = self.queue.send(Msg::Wake);
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            thread.thread().unpark();
        }
    }
}

impl Drop for Writer {
    /// Without [`Writer::shutdown`], the thread still writes what it can within one batch
    /// window, but nobody waits for it.
    fn drop(&mut self) {
        let running = self.thread.lock().unwrap_or_else(|e| e.into_inner()).is_some();
        if running {
            self.close(Duration::from_millis(200));
        }
    }
}

impl Msg {
    fn events(self) -> Vec<Event> {
        match self {
            Msg::Events(events) => events,
            Msg::Wake => Vec::new(),
        }
    }
}

impl Shared {
    /// Moves events received (`carry`, still counted as queued) into the batch, up to `max`.
    /// `carry` is a deque: a message far larger than a batch is taken from its front batch by
    /// batch without moving the rest each time.
    fn move_into(&self, batch: &mut Vec<Event>, carry: &mut VecDeque<Event>, max: usize) {
        let k = max.saturating_sub(batch.len()).min(carry.len());
        batch.extend(carry.drain(..k));
        self.queued.fetch_sub(k, Ordering::AcqRel);
    }
}

/// The writer's thread: gather a batch, write it, back off while the database fails.
fn run(rx: Receiver<Msg>, shared: &Shared, mut opener: Opener, config: &WriterConfig) {
    yield_to_requests();
    let mut sink: Option<Box<dyn Sink>> = None;
    let mut batch: Vec<Event> = Vec::with_capacity(config.batch_max);
    // Events received but not yet in a batch: the rest of a request's that filled one.
    let mut carry: VecDeque<Event> = VecDeque::new();
    let max = config.batch_max;
    let mut backoff = config.retry_min;
    let (mut rejected, mut failed_in_a_row) = (0_u32, 0_u64);
    let mut last_warning: Option<Instant> = None;
    let mut disconnected = false;
    // Whether the sink may have idle work (summaries to catch up) left; whether a whole batch
    // window passed without events (idle work is then done between looks at the queue); when
    // a step of idle work may next run under load.
    let mut chores = true;
    let mut quiet = false;
    let mut next_chore = Instant::now() + BUSY_CHORE_EVERY;
    loop {
        let closing = disconnected || shared.closing.load(Ordering::Acquire);
        shared.move_into(&mut batch, &mut carry, max);
        if closing || !batch.is_empty() {
            // Top up without waiting: at shutdown, a batch kept from a failed attempt, or
            // events already received.
            while batch.len() < max
                && let Ok(msg) = rx.try_recv()
            {
                carry.extend(msg.events());
                shared.move_into(&mut batch, &mut carry, max);
            }
            if batch.is_empty() {
                break;
            }
        } else {
            let first = if quiet
                && chores
                && let Some(open) = sink.as_mut()
            {
                match rx.try_recv() {
                    Ok(msg) => Ok(msg),
                    Err(TryRecvError::Empty) => {
                        // Nothing to write: one step of idle work, then look again.
                        chores = chore(open.as_mut());
                        next_chore = Instant::now() + BUSY_CHORE_EVERY;
                        continue;
                    }
                    Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
                }
            } else {
                rx.recv_timeout(config.batch_window)
            };
            quiet = matches!(first, Err(RecvTimeoutError::Timeout)) || (quiet && matches!(first, Ok(Msg::Wake)));
            match first {
                Ok(msg @ Msg::Events(_)) => {
                    carry.extend(msg.events());
                    shared.move_into(&mut batch, &mut carry, max);
                }
                Ok(Msg::Wake) | Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    disconnected = true;
                    continue;
                }
            }
            // The rest of the window: what has arrived is taken every [`WINDOW_POLL`], not
            // waited for message by message, which would wake this thread (and make the
            // request that sent it pay for the wake-up) once per request.
            let window_end = Instant::now() + config.batch_window;
            while batch.len() < max {
                match rx.try_recv() {
                    Ok(msg @ Msg::Events(_)) => {
                        carry.extend(msg.events());
                        shared.move_into(&mut batch, &mut carry, max);
                    }
                    Ok(Msg::Wake) => break,
                    Err(TryRecvError::Disconnected) => {
                        disconnected = true;
                        break;
                    }
                    Err(TryRecvError::Empty) => {
                        let left = window_end.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        // `close` unparks the thread: shutdown does not wait for the poll.
                        std::thread::park_timeout(left.min(WINDOW_POLL));
                    }
                }
            }
        }

        // Write, opening the connection first if there is none.
        let result = match sink.as_mut() {
            Some(open) => open.write(&batch).map_err(|e| (e, true)),
            None => match opener() {
                Ok(mut open) => {
                    let written = open.write(&batch);
                    sink = Some(open);
                    written.map_err(|e| (e, true))
                }
                Err(e) => Err((e, false)),
            },
        };
        match result {
            Ok(()) => {
                shared.written.fetch_add(u64::try_from(batch.len()).unwrap_or(u64::MAX), Ordering::Relaxed);
                shared.connected.store(true, Ordering::Relaxed);
                batch.clear();
                chores = true;
                // Behind (a batch or more waiting), writing comes first: events past the
                // queue's bound are lost, while the summaries only trail. Nor does shutdown
                // wait for them.
                let behind = shared.queued.load(Ordering::Acquire) >= max;
                if !behind
                    && !closing
                    && Instant::now() >= next_chore
                    && let Some(open) = sink.as_mut()
                {
                    let started = Instant::now();
                    chores = chore(open.as_mut());
                    next_chore = Instant::now() + BUSY_CHORE_EVERY.max(started.elapsed() * BUSY_CHORE_SHARE);
                }
                if failed_in_a_row > 0 {
                    tracing::info!(failed_attempts = failed_in_a_row, "the event log is writing again");
                }
                (backoff, rejected, failed_in_a_row) = (config.retry_min, 0, 0);
            }
            Err((error, opened)) => {
                shared.failures.fetch_add(1, Ordering::Relaxed);
                shared.connected.store(false, Ordering::Relaxed);
                sink = None;
                failed_in_a_row += 1;
                if last_warning.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                    tracing::warn!(%error, failed_attempts = failed_in_a_row, queued_batch = batch.len(), "cannot write the event log; retrying");
                    last_warning = Some(Instant::now());
                }
                if opened {
                    rejected += 1;
                    if rejected >= MAX_REJECTIONS {
                        tracing::error!(%error, events = batch.len(), "the database refuses this batch of events; dropping it");
                        shared.drop_events(u64::try_from(batch.len()).unwrap_or(u64::MAX));
                        batch.clear();
                        rejected = 0;
                    }
                }
                let deadline = shared.deadline();
                if closing && deadline.is_none_or(|d| Instant::now() >= d) {
                    let left = batch.len() + carry.len() + rx.try_iter().map(|msg| msg.events().len()).sum::<usize>();
                    tracing::error!(events = left, "shutting down with events the database did not take");
                    shared.drop_events(u64::try_from(left).unwrap_or(u64::MAX));
                    batch.clear();
                    carry.clear();
                    break;
                }
                // Shutdown unparks the thread, so a long backoff does not delay it.
                let wait = match deadline {
                    Some(d) if closing => backoff.min(d.saturating_duration_since(Instant::now())),
                    _ => backoff,
                };
                std::thread::park_timeout(wait);
                backoff = (backoff * 2).min(config.retry_max);
            }
        }
    }
    // Anything that slipped into the queue while the thread was finishing.
    let left: usize = carry.len() + rx.try_iter().map(|msg| msg.events().len()).sum::<usize>();
    shared.drop_events(u64::try_from(left).unwrap_or(u64::MAX));
    shared.connected.store(false, Ordering::Relaxed);
}

/// Marks the calling thread as batch work for the scheduler. A batch of events can wait a few
/// milliseconds and a caller's answer cannot: on Linux, `SCHED_BATCH` keeps this thread from
/// preempting a webhook worker when it wakes, while it keeps its fair share of the CPU (so a
/// busy log does not fall behind and drop events).
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    // SAFETY: sets the calling thread's (pid 0) policy from a valid, initialised parameter;
    // no memory of ours is touched. A refusal only leaves the policy as it was.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_BATCH, &raw const param);
    }
}

/// One step of the sink's idle work; whether there may be more.
fn chore(sink: &mut dyn Sink) -> bool {
    sink.idle().unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot bring the event log's summaries up to date");
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{CallHead, Kind};

    /// A database that is down while `up` is false, and remembers what it was given.
    struct Gate {
        stored: Arc<Mutex<Vec<u32>>>,
        refuse_seq: Option<u32>,
    }

    impl Sink for Gate {
        fn write(&mut self, events: &[Event]) -> Result<(), EventLogError> {
            if self.refuse_seq.is_some_and(|s| events.iter().any(|e| e.seq == s)) {
                return Err(EventLogError::Unavailable("refused".into()));
            }
            let mut stored = self.stored.lock().expect("not poisoned");
            stored.extend(events.iter().map(|e| e.seq));
            Ok(())
        }
    }

    fn gated(up: &Arc<AtomicBool>, stored: &Arc<Mutex<Vec<u32>>>, refuse_seq: Option<u32>) -> Opener {
        let (up, stored) = (up.clone(), stored.clone());
        Box::new(move || {
            if !up.load(Ordering::SeqCst) {
                return Err(EventLogError::Unavailable("down".into()));
            }
            Ok(Box::new(Gate { stored: stored.clone(), refuse_seq }) as Box<dyn Sink>)
        })
    }

    fn event(seq: u32) -> Event {
        let head = CallHead {
            call_id: "CA1".into(),
            provider: "twilio".into(),
            flow: "f".into(),
            flow_version: 1,
            simulated: false,
        };
        head.event(seq, chrono::DateTime::UNIX_EPOCH, None, Kind::NodeEntered {})
    }

    fn config() -> WriterConfig {
        WriterConfig {
            capacity: 10,
            batch_max: 5,
            // Long: batches here are cut by size, which makes the counts exact.
            batch_window: Duration::from_secs(30),
            retry_min: Duration::from_millis(5),
            retry_max: Duration::from_millis(20),
        }
    }

    #[track_caller]
    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_then_writing_resumes() {
        let (up, stored) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
        let writer = Writer::start(gated(&up, &stored, None), config()).expect("the thread starts");
        // The first five make a batch the thread holds while the database is down.
        writer.record_all((0..5).map(event));
        wait_for("a failed attempt", || writer.stats().failures >= 1);
        // Ten fit in the queue; the other ten are dropped.
        writer.record_all((5..25).map(event));
        assert_eq!(writer.stats().dropped, 10);
        assert!(!writer.is_connected());
        up.store(true, Ordering::SeqCst);
        wait_for("the queue to be written", || writer.stats().written == 15);
        assert!(writer.is_connected());
        let stats = writer.shutdown(Duration::from_secs(1));
        assert_eq!((stats.written, stats.dropped), (15, 10));
        assert_eq!(*stored.lock().expect("not poisoned"), (0..15).collect::<Vec<u32>>());
        // After shutdown nothing is queued, only counted.
        writer.record(event(99));
        assert_eq!(writer.stats().dropped, 11);
    }

    #[test]
    fn shutdown_writes_the_last_partial_batch() {
        let (up, stored) = (Arc::new(AtomicBool::new(true)), Arc::new(Mutex::new(Vec::new())));
        let writer = Writer::start(gated(&up, &stored, None), config()).expect("the thread starts");
        writer.record_all((0..3).map(event));
        let stats = writer.shutdown(Duration::from_secs(5));
        assert_eq!((stats.written, stats.dropped), (3, 0));
        assert_eq!(*stored.lock().expect("not poisoned"), [0, 1, 2]);
    }

    #[test]
    fn shutdown_with_the_database_down_says_what_was_lost() {
        let (up, stored) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
        let writer = Writer::start(gated(&up, &stored, None), config()).expect("the thread starts");
        writer.record_all((0..7).map(event));
        let stats = writer.shutdown(Duration::from_millis(50));
        assert_eq!((stats.written, stats.dropped), (0, 7));
        assert!(stats.failures >= 1);
    }

    #[test]
    fn a_batch_the_database_refuses_is_dropped_not_retried_for_ever() {
        let (up, stored) = (Arc::new(AtomicBool::new(true)), Arc::new(Mutex::new(Vec::new())));
        let writer = Writer::start(gated(&up, &stored, Some(2)), config()).expect("the thread starts");
        writer.record_all((0..10).map(event));
        wait_for("both batches to be settled", || {
            let s = writer.stats();
            s.written + s.dropped == 10
        });
        let stats = writer.shutdown(Duration::from_secs(1));
        assert_eq!((stats.written, stats.dropped, stats.failures), (5, 5, 3));
        assert_eq!(*stored.lock().expect("not poisoned"), [5, 6, 7, 8, 9]);
    }

    /// Counts its idle steps and always has more idle work.
    struct Chores {
        idle_steps: Arc<AtomicU64>,
    }

    impl Sink for Chores {
        fn write(&mut self, _: &[Event]) -> Result<(), EventLogError> {
            Ok(())
        }

        fn idle(&mut self) -> Result<bool, EventLogError> {
            self.idle_steps.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(1));
            Ok(true)
        }
    }

    #[test]
    fn idle_work_waits_for_a_quiet_window_and_keeps_a_pace_under_load() {
        let steps = Arc::new(AtomicU64::new(0));
        let opener_steps = steps.clone();
        let opener: Opener =
            Box::new(move || Ok(Box::new(Chores { idle_steps: opener_steps.clone() }) as Box<dyn Sink>));
        let config =
            WriterConfig { capacity: 1_000, batch_max: 1_000, batch_window: Duration::from_millis(100), ..config() };
        let writer = Writer::start(opener, config).expect("the thread starts");
        // Unbroken load: an event every 10 ms for 2.5 s, never a quiet window.
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(2_500) {
            writer.record(event(1));
            std::thread::sleep(Duration::from_millis(10));
        }
        let busy = steps.load(Ordering::SeqCst);
        // One step a second, not one between every two batches (there were about 25).
        assert!((1..=4).contains(&busy), "{busy} idle steps under load");
        // Quiet: idle work goes on between looks at the queue.
        wait_for("idle work once quiet", || steps.load(Ordering::SeqCst) >= busy + 20);
        writer.shutdown(Duration::from_secs(1));
    }

    /// Takes its time to write and to do idle work, and notes, in order, each write (`'w'`)
    /// and each idle step (`'i'`). It always has more idle work.
    struct Slow {
        log: Arc<Mutex<String>>,
        write: Duration,
        idle: Duration,
    }

    impl Slow {
        fn opener(log: &Arc<Mutex<String>>, write: Duration, idle: Duration) -> Opener {
            let log = log.clone();
            Box::new(move || Ok(Box::new(Slow { log: log.clone(), write, idle }) as Box<dyn Sink>))
        }
    }

    impl Sink for Slow {
        fn write(&mut self, _: &[Event]) -> Result<(), EventLogError> {
            std::thread::sleep(self.write);
            self.log.lock().expect("not poisoned").push('w');
            Ok(())
        }

        fn idle(&mut self) -> Result<bool, EventLogError> {
            std::thread::sleep(self.idle);
            self.log.lock().expect("not poisoned").push('i');
            Ok(true)
        }
    }

    #[test]
    fn a_writer_behind_writes_before_any_idle_work() {
        let log = Arc::new(Mutex::new(String::new()));
        let opener = Slow::opener(&log, Duration::from_millis(4), Duration::ZERO);
        let config = WriterConfig { capacity: 5_000, batch_max: 10, ..config() };
        let writer = Writer::start(opener, config).expect("the thread starts");
        // A backlog of 400 batches, about 1.6 s of writing: past BUSY_CHORE_EVERY.
        writer.record_all((0..4_000).map(event));
        wait_for("the backlog to be written", || writer.stats().written == 4_000);
        wait_for("idle work once caught up", || log.lock().expect("not poisoned").contains('i'));
        writer.shutdown(Duration::from_secs(1));
        let log = log.lock().expect("not poisoned");
        assert_eq!(log.matches('w').count(), 400);
        assert!(log.find('i') > log.rfind('w'), "idle work while behind: {log}");
    }

    #[test]
    fn under_unbroken_load_idle_work_keeps_to_its_share() {
        let log = Arc::new(Mutex::new(String::new()));
        // Each idle step takes 100 ms, so after the first (due a second in) the next is due
        // 5 s later: one step in the 4 s below. At one step a second it would be three.
        let opener = Slow::opener(&log, Duration::ZERO, Duration::from_millis(100));
        let config =
            WriterConfig { capacity: 5_000, batch_max: 1_000, batch_window: Duration::from_millis(300), ..config() };
        let writer = Writer::start(opener, config).expect("the thread starts");
        let start = Instant::now();
        let mut seq = 0;
        // An event every 5 ms: never a quiet batch window, never a batch waiting.
        while start.elapsed() < Duration::from_secs(4) {
            writer.record(event(seq));
            seq += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        let steps = log.lock().expect("not poisoned").matches('i').count();
        writer.shutdown(Duration::from_secs(1));
        // Two at most: a slow machine may leave one quiet window.
        assert!((1..=2).contains(&steps), "{steps} idle steps under load");
    }
}
