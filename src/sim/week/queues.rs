//! Queues and agents: agents per slot (an agent who goes off shift still answers the callers
//! who called before the change), call-backs first, then priority and first-come order,
//! exponential patience, overflow to another queue, retrials of abandoned callers, and the
//! busy time of agents per hour.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::Rng;
use rand_distr::{Distribution, Exp};

use super::Sim;
use super::caller::Where;
use super::events::{Kind, NO_CALLER};
use crate::events::{Kind as Logged, QueueResult};
use crate::queue::model::QueueModel;
use crate::sim::stationary::{Service, ServiceSampler};

/// A queue of the model, by the same index as `Model::queues`.
pub(super) struct Queue {
    pub(super) busy: u32,
    /// Agents of the previous slot and when the current slot began: agents whose shift ends
    /// still answer the callers who called before the change, as real teams do at closing.
    pub(super) prev_staffed: u32,
    pub(super) slot_start: f64,
    /// Waiting callers by (priority, first come); stale entries are skipped when popped.
    pub(super) waiting: BinaryHeap<(u8, Reverse<u64>, u32)>,
    /// Booked call-backs waiting for an agent (before any caller, they were promised).
    pub(super) callbacks: u64,
    pub(super) service: ServiceSampler,
}

impl Queue {
    pub(super) fn new(model: &QueueModel) -> Queue {
        let service = match model.service_cv {
            Some(cv) => Service::Lognormal { cv },
            None => Service::Exponential,
        };
        Queue {
            busy: 0,
            prev_staffed: 0,
            slot_start: 0.0,
            waiting: BinaryHeap::new(),
            callbacks: 0,
            service: ServiceSampler::new(service, model.aht_s).expect("the model checked the handle time and its CV"),
        }
    }
}

impl Sim<'_> {
    pub(super) fn join(&mut self, id: u32) {
        let (q, priority) = self.callers[id as usize].joining;
        self.enqueue(id, q, priority, self.now);
    }

    fn enqueue(&mut self, id: u32, q: u16, priority: u8, at: f64) {
        let model = &self.model.queues[usize::from(q)];
        let here = (q, at, self.cell(at));
        let caller = &mut self.callers[id as usize];
        caller.epoch += 1;
        let epoch = caller.epoch;
        // After an overflow the caller keeps their first queue, time and cell.
        let (first_queue, first_queued, cell) = match caller.at {
            Where::Waiting { first_queue, first_queued, cell, .. } => (first_queue, first_queued, cell),
            _ => here,
        };
        caller.at = Where::Waiting { queue: q, since: at, first_queue, first_queued, cell };
        if let Some(p) = model.patience_s {
            let deadline = first_queued + Exp::new(1.0 / p).map_or(f64::INFINITY, |e| e.sample(&mut self.rng_caller));
            self.schedule(deadline.max(at), Kind::Abandon(id, epoch));
        }
        if let Some(o) = &model.overflow {
            self.schedule(at + o.after_s, Kind::Overflow(id, epoch));
        }
        let seq = self.events.ticket();
        self.queues[usize::from(q)].waiting.push((priority, Reverse(seq), id));
        self.serve(q);
    }

    /// Free agents of queue `q` take call-backs first, then waiting callers.
    pub(super) fn serve(&mut self, q: u16) {
        let qi = usize::from(q);
        loop {
            let queue = &self.queues[qi];
            let mut staffed = self.model.queues[qi].agents_at(self.local(self.now));
            if staffed < queue.prev_staffed
                && let Some(&(_, _, id)) = queue.waiting.peek()
                && self.callers[id as usize].entered_ivr < queue.slot_start
            {
                staffed = queue.prev_staffed;
            }
            if queue.busy >= staffed {
                break;
            }
            if self.queues[qi].callbacks > 0 {
                self.queues[qi].callbacks -= 1;
                if self.measured() {
                    self.stats.callbacks_done += 1;
                }
                self.start_service(q, NO_CALLER);
                continue;
            }
            let Some((_, _, id)) = self.queues[qi].waiting.pop() else { break };
            let (since, first_queue, first_queued, cell) = match self.callers[id as usize].at {
                Where::Waiting { queue, since, first_queue, first_queued, cell } if queue == q => {
                    (since, first_queue, first_queued, cell)
                }
                _ => continue, // left already (abandoned or moved)
            };
            self.record(first_queue, cell, self.now - first_queued, true, first_queued);
            self.log_left(id, q, QueueResult::Bridged, self.now - since);
            self.callers[id as usize].at = Where::Served;
            self.start_service(q, id);
        }
    }

    /// An agent of queue `q` takes caller `id` (or a call-back, [`NO_CALLER`]).
    fn start_service(&mut self, q: u16, id: u32) {
        let qi = usize::from(q);
        let s = self.queues[qi].service.sample(&mut self.rng_service);
        self.queues[qi].busy += 1;
        // Busy time per cell, split at hour boundaries.
        let (mut t, end) = (self.now, self.now + s);
        while t < end && t < self.end {
            let hour_end = ((t - self.setup.warmup_s) / 3600.0).floor() * 3600.0 + 3600.0 + self.setup.warmup_s;
            let upto = hour_end.min(end);
            if t >= self.setup.warmup_s {
                let cell = self.cell(t);
                self.cells[qi][cell].busy_s += upto - t;
            }
            t = upto;
        }
        self.schedule(end, Kind::Release(q, id));
    }

    /// Queue `q`'s agent ends the conversation with caller `id`.
    pub(super) fn release(&mut self, q: u16, id: u32) {
        self.queues[usize::from(q)].busy -= 1;
        if id != NO_CALLER {
            self.conversation_ended(id);
        }
        self.serve(q);
    }

    pub(super) fn abandon(&mut self, id: u32, epoch: u32) {
        let caller = &self.callers[id as usize];
        let Where::Waiting { queue, since, first_queue, first_queued, cell } = caller.at else { return };
        if caller.epoch != epoch {
            return;
        }
        self.record(first_queue, cell, self.now - first_queued, false, first_queued);
        self.log_left(id, queue, QueueResult::Hangup, self.now - since);
        self.log_event(id, self.now, Logged::CallerHungUp {});
        self.log_completed(id, self.now);
        self.leave(id);
        if self.rng_caller.random::<f64>() < self.model.callers.retrial {
            let later = self.now + self.retrial_delay.sample(&mut self.rng_caller);
            self.schedule(later, Kind::Retrial);
        }
    }

    pub(super) fn overflow(&mut self, id: u32, epoch: u32) {
        let caller = &self.callers[id as usize];
        let Where::Waiting { queue, since, .. } = caller.at else { return };
        if caller.epoch != epoch {
            return;
        }
        let model = &self.model.queues[usize::from(queue)];
        let Some(to) = model.overflow.as_ref().and_then(|o| self.names.iter().position(|n| *n == o.to)) else { return };
        if self.measured() {
            self.stats.overflowed += 1;
        }
        self.log_left(id, queue, QueueResult::Redirected, self.now - since);
        if self.log.is_some() {
            let queue = self.names[to].to_owned();
            self.log_event(id, self.now, Logged::QueueJoined { queue, announced_wait_min: None });
        }
        self.enqueue(id, to as u16, 0, self.now);
    }

    /// Counts a caller who left the queues, in the queue and cell where they first queued
    /// (an overflowed caller stays with the queue that was offered the call).
    fn record(&mut self, first_queue: u16, cell: usize, wait: f64, answered: bool, first_queued: f64) {
        if first_queued < self.setup.warmup_s {
            return;
        }
        let target = self.model.target_s;
        self.cells[usize::from(first_queue)][cell].record(wait, answered, target);
    }
}
