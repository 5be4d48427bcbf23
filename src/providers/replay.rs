//! Signed requests seen recently, so a captured request cannot be sent again.
//!
//! A signature that carries its own time (jambonz's `t=`, Vonage's JWT `iat`) is only accepted
//! within a tolerance window; inside that window the same signed request must not be accepted
//! twice. Each key is remembered until its window closes, then forgotten. Time is passed in
//! (Unix seconds), never read here.
//!
//! A key is remembered by its 64-bit SipHash under a key drawn at start-up, not as text: a
//! busy number keeps hundreds of thousands of signatures live, and the text cost an allocation
//! per request and several times the memory. Two signatures share a hash with odds of about
//! one in 2^64 per pair, and without the process's hash key no one can pick a pair that does.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Mutex;

/// Past this many remembered keys, expired ones are swept out on the next insert; after a
/// sweep the next comes at twice the keys left, so each insert costs O(1) amortised however
/// many signatures are live (a full scan per request cost jambonz and Vonage half their speed).
const SWEEP_AT: usize = 4096;

/// Keys of accepted signed requests, each until the end of its validity window.
#[derive(Debug, Default)]
pub struct Replays {
    hasher: RandomState,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    until: HashMap<u64, i64>,
    /// The size at which the next sweep runs (0: [`SWEEP_AT`]).
    sweep_at: usize,
}

impl Replays {
    /// Whether `key` is new (then it is remembered until `expires_at`); `false` for a replay.
    pub fn first_use(&self, key: impl Hash, expires_at: i64, now: i64) -> bool {
        let key = self.hasher.hash_one(key);
        // A poisoned lock only means another request panicked mid-insert; the map is still sound.
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&until) = seen.until.get(&key)
            && until >= now
        {
            return false;
        }
        if seen.until.len() >= seen.sweep_at.max(SWEEP_AT) {
            seen.until.retain(|_, until| *until >= now);
            seen.sweep_at = 2 * seen.until.len();
        }
        seen.until.insert(key, expires_at);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_until_its_window_closes() {
        let replays = Replays::default();
        assert!(replays.first_use("a", 100, 10));
        assert!(!replays.first_use("a", 100, 50), "replayed inside the window");
        assert!(replays.first_use("b", 100, 50), "another key");
        assert!(replays.first_use("a", 200, 101), "the window closed: the signature itself is stale by then");
    }

    #[test]
    fn expired_keys_are_swept() {
        let replays = Replays::default();
        for i in 0..SWEEP_AT {
            assert!(replays.first_use(i, 10, 0));
        }
        assert!(replays.first_use("late", 1000, 500));
        let seen = replays.seen.lock().expect("not poisoned");
        assert_eq!(seen.until.len(), 1, "everything expired at 10 was swept at 500");
    }

    #[test]
    fn live_keys_are_not_rescanned_on_every_insert() {
        let replays = Replays::default();
        for i in 0..SWEEP_AT + 1 {
            assert!(replays.first_use(i, 1000, 0));
        }
        // The sweep at SWEEP_AT found every key live: the next waits for twice as many.
        assert_eq!(replays.seen.lock().expect("not poisoned").sweep_at, 2 * SWEEP_AT);
        assert!(!replays.first_use(0_usize, 1000, 1), "still remembered");
    }
}
