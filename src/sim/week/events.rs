//! The simulator's event list: what can happen to a caller, a queue or the clock, ordered by
//! time and then by the order it was scheduled, so that simultaneous events replay identically.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    /// A new slot: staffing changes, the arrival rate changes.
    Slot,
    Arrive,
    /// A caller's decided input reaches the engine.
    Act(u32),
    /// A caller handed over by the IVR joins a queue (after the last prompt).
    Join(u32),
    Release(u16),
    Abandon(u32, u32),
    Overflow(u32, u32),
    Retrial,
    CallbackDue(u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Scheduled {
    /// Time as f64 bits: the clock is never negative, so the bits order like the numbers.
    pub(super) at: u64,
    pub(super) seq: u64,
    pub(super) kind: Kind,
}
