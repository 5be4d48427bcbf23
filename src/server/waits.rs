//! How often a queued caller hears the expected wait.
//!
//! Twilio requests the `<Enqueue waitUrl>` when the caller joins the queue and again each time
//! the TwiML it got has finished playing (hold music or a pause), sending `QueuePosition`,
//! `QueueTime`, `AvgQueueTime` and `CurrentQueueSize`
//! (<https://www.twilio.com/docs/voice/twiml/enqueue>, "waitUrl"). Announcing the wait on every
//! one of those requests would repeat the same sentence every half minute, so the rule is:
//!
//! - first wait request of a call: announce the position-refined wait unless it is the number of
//!   minutes the queue node has just announced (the call's `wait_min`);
//! - later: announce when the caller's position changed since the last announcement (there is
//!   progress to report), or when [`ANNOUNCE_EVERY_S`] of `QueueTime` have passed since it.
//!
//! The memory is per `CallSid` and in this process only. Losing it (a restart, another server
//! behind a balancer) costs one extra announcement, nothing else, so the call's state stays in
//! its token as everywhere else.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Seconds of waiting between two announcements of an unchanged position.
pub const ANNOUNCE_EVERY_S: u32 = 60;
/// Calls remembered at most; beyond this, calls not heard from for [`STALE`] are forgotten.
const CAPACITY: usize = 10_000;
/// A queued call is asked about at least every few minutes (the hold music's length); one not
/// heard from for this long has left.
const STALE: Duration = Duration::from_secs(15 * 60);

/// The last announcement each queued call heard.
#[derive(Debug, Default)]
pub struct WaitAnnouncements {
    last: Mutex<HashMap<String, Last>>,
}

#[derive(Clone, Copy, Debug)]
struct Last {
    position: u32,
    queue_time_s: u32,
    seen: Instant,
}

/// One wait request, as far as the rule cares.
#[derive(Clone, Copy, Debug)]
pub struct WaitRequest<'a> {
    pub call_sid: &'a str,
    pub position: u32,
    pub queue_time_s: u32,
    /// The minutes the queue node announced when the caller joined (`wait_min` before).
    pub joined_min: Option<&'a str>,
    /// The minutes the engine would announce now (`wait_min` after).
    pub now_min: Option<&'a str>,
}

impl WaitAnnouncements {
    /// Whether the caller should hear the expected wait now; when yes, it is remembered as
    /// announced.
    pub fn should_announce(&self, req: WaitRequest<'_>) -> bool {
        let mut last = self.lock();
        let announce = match last.get(req.call_sid) {
            None => req.now_min != req.joined_min,
            Some(l) => {
                l.position != req.position || req.queue_time_s.saturating_sub(l.queue_time_s) >= ANNOUNCE_EVERY_S
            }
        };
        let now = Instant::now();
        match last.get_mut(req.call_sid) {
            Some(l) if !announce => l.seen = now,
            _ => {
                if last.len() >= CAPACITY {
                    last.retain(|_, l| now.duration_since(l.seen) < STALE);
                    if last.len() >= CAPACITY {
                        last.clear(); // every call then hears one announcement more
                    }
                }
                // Not announcing on the first request still counts as the caller having heard
                // this position: the queue node's announcement covered it.
                let entry = Last { position: req.position, queue_time_s: req.queue_time_s, seen: now };
                last.insert(req.call_sid.to_owned(), entry);
            }
        }
        announce
    }

    /// Forgets a call that left the queue.
    pub fn forget(&self, call_sid: &str) {
        self.lock().remove(call_sid);
    }

    // A poisoned lock only means another request panicked mid-update of this map of plain
    // values; it is still consistent.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Last>> {
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(position: u32, queue_time_s: u32, now_min: &'static str) -> WaitRequest<'static> {
        WaitRequest { call_sid: "CA1", position, queue_time_s, joined_min: Some("1"), now_min: Some(now_min) }
    }

    #[test]
    fn announces_news_and_then_every_minute() {
        let cases: [(WaitRequest<'static>, bool, &str); 6] = [
            (req(5, 0, "1"), false, "first request, the queue node said the same"),
            (req(5, 30, "1"), false, "same position, 30 s later"),
            (req(5, 60, "1"), true, "a minute since the caller joined"),
            (req(5, 90, "1"), false, "30 s since the last announcement"),
            (req(4, 100, "1"), true, "the position moved"),
            (req(4, 165, "1"), true, "65 s since the last announcement"),
        ];
        let waits = WaitAnnouncements::default();
        for (request, expected, why) in cases {
            assert_eq!(waits.should_announce(request), expected, "{why}");
        }
        waits.forget("CA1");
        assert!(waits.should_announce(req(4, 170, "2")), "a new first request with news");
    }
}
