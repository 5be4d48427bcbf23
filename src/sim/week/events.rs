//! The simulator's event list: what can happen to a caller, a queue or the clock, ordered by
//! time and then by the order it was scheduled, so that simultaneous events replay identically.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    /// A new slot: staffing changes, the arrival rate changes.
    Slot,
    Arrive,
    /// A caller's decided input reaches the engine.
    Act(u32),
    /// A caller handed over by the IVR joins a queue (after the last prompt).
    Join(u32),
    /// An agent of a queue finishes a call: with the caller, or a call-back ([`NO_CALLER`]).
    Release(u16, u32),
    Abandon(u32, u32),
    Overflow(u32, u32),
    Retrial,
    CallbackDue(u16),
}

/// The caller of a call-back's [`Kind::Release`]: none in the simulation.
pub(super) const NO_CALLER: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Scheduled {
    /// Time as f64 bits: the clock is never negative, so the bits order like the numbers.
    at: u64,
    seq: u64,
    kind: Kind,
}

/// Scheduled events, earliest first. One counter numbers the events and the callers joining a
/// queue, so the order of ties follows the order things happened.
#[derive(Default)]
pub(super) struct Events {
    heap: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
}

impl Events {
    /// Schedules `kind` at `at` seconds (clamped to 0).
    pub(super) fn push(&mut self, at: f64, kind: Kind) {
        let seq = self.ticket();
        self.heap.push(Reverse(Scheduled { at: at.max(0.0).to_bits(), seq, kind }));
    }

    /// The earliest event: its time and kind.
    pub(super) fn pop(&mut self) -> Option<(f64, Kind)> {
        self.heap.pop().map(|Reverse(e)| (f64::from_bits(e.at), e.kind))
    }

    /// The next number of the shared counter, for first-come order in the queues.
    pub(super) fn ticket(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}
