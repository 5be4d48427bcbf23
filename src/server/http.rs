//! The HTTP/1.1 accept loop under [`super::serve`]: `axum::serve` with a header read timeout
//! and a cap on open connections.
//!
//! hyper closes a connection whose request headers do not arrive in time, idle keep-alive
//! time included, but only with a timer, and `axum::serve` gives it none: a client that
//! opened a connection and sent nothing, or a header line now and then (slow-loris), was kept
//! for as long as it liked, at about 40 kB of server memory each (docs/faults.md).
//!
//! Within the header timeout, connections still cost about 12 kB each, so at most
//! `max_connections` are kept. At the cap a new connection is taken and an idle one is closed:
//! never one with a request in flight; first those that never completed a request, the oldest
//! first, then kept-alive ones, the longest since their last answer first. Refusing new
//! connections instead would let a client holding the cap's worth of idle sockets turn every
//! provider request away until the timeout freed some. A connection that never completed a
//! request is what idle and slow-loris clients hold, and a real client's new connection is the
//! youngest of them; closing a kept-alive one races with the client's next request on it (it
//! may be on the wire: a failed request, the long form saw one), so those go last. Only when
//! every connection has a request in flight is the new one refused.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

/// How long a connection may go without sending a complete request head: a request's
/// headers, or the next request on a kept-alive connection. hyper's own default; Twilio
/// gives up on an answer after 15 s, so no real request takes this long to arrive.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a connection picked to close at the cap may take to finish what it was writing.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The most connections kept open by default: about 120 MB of connection buffers.
pub const MAX_CONNECTIONS: usize = 10_000;

/// [`MAX_CONNECTIONS`], or three quarters of the open-file limit when that is lower, so that
/// the cap (not the accept loop running out of descriptors) decides who is closed, and the
/// event log, flow files and outgoing requests keep descriptors of their own.
pub fn default_max_connections() -> usize {
    open_files_limit().map_or(MAX_CONNECTIONS, |limit| MAX_CONNECTIONS.min((limit / 4 * 3).max(1)))
}

#[cfg(unix)]
fn open_files_limit() -> Option<usize> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the struct it is given.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (read == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then(|| usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
}

#[cfg(not(unix))]
fn open_files_limit() -> Option<usize> {
    None
}

/// Serves `router` on `listener` until `shutdown` completes, then finishes the requests in
/// flight; connections are cut after `header_timeout` without a request head, and at most
/// `max_connections` are kept open (see the module doc).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    header_timeout: Duration,
    max_connections: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let open = Arc::new(Open::new(max_connections));
    // Every connection holds a receiver; `closed` resolves once the last one has finished.
    let (stop, stopping) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors, say: wait for connections to close rather than spin.
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Every connection has a request in flight: this one waits for none of them.
        let Some(slot) = open.admit() else { continue };
        let service = {
            let (inner, slot) = (TowerToHyperService::new(router.clone()), slot.clone());
            hyper::service::service_fn(move |request| {
                let busy = Busy::start(slot.clone());
                let answer = hyper::service::Service::call(&inner, request);
                async move {
                    let answer = answer.await;
                    drop(busy);
                    answer
                }
            })
        };
        let connection = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = stopping.changed() => connection.as_mut().graceful_shutdown(),
                () = slot.close.notified() => {
                    // Picked as the idlest. Graceful, so that an answer still being written
                    // (its request just finished) or a request that arrived since it was
                    // picked is not cut; an idle one closes at once, and one that will not
                    // (a head half sent) is dropped after a moment.
                    connection.as_mut().graceful_shutdown();
                    if slot.busy.load(Ordering::Acquire) == 0 {
                        let _ = tokio::time::timeout(CLOSE_GRACE, connection.as_mut()).await;
                        return;
                    }
                }
            }
            let _ = connection.await;
        });
    }
    drop(listener);
    drop(stopping);
    let _ = stop.send(());
    stop.closed().await;
    Ok(())
}

/// The open connections of one listener.
struct Open {
    max: usize,
    epoch: Instant,
    next: AtomicU64,
    by_id: Mutex<HashMap<u64, Arc<Slot>>>,
    /// Whether the cap was reached yet, to say so once in the log.
    capped: AtomicBool,
}

/// One open connection, as the cap sees it.
struct Slot {
    /// Requests being answered (0 or 1 on HTTP/1.1).
    busy: AtomicU32,
    /// Whether it has answered a request: a client that speaks HTTP, kept alive.
    answered: AtomicBool,
    /// When it last finished an answer, or was opened: milliseconds since [`Open::epoch`].
    idle_since_ms: AtomicU64,
    /// Told when the cap picks it to close.
    close: tokio::sync::Notify,
}

/// A connection's place among the open ones; leaves them when dropped.
struct Admitted {
    open: Arc<Open>,
    id: u64,
    slot: Arc<Slot>,
}

impl std::ops::Deref for Admitted {
    type Target = Slot;
    fn deref(&self) -> &Slot {
        &self.slot
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.open.slots().remove(&self.id);
    }
}

impl Open {
    fn new(max: usize) -> Open {
        Open {
            max: max.max(1),
            epoch: Instant::now(),
            next: AtomicU64::new(0),
            by_id: Mutex::new(HashMap::new()),
            capped: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A place for a new connection, closing the idlest one at the cap; `None` when every
    /// open connection has a request in flight.
    fn admit(self: &Arc<Self>) -> Option<Arc<Admitted>> {
        let mut by_id = self.slots();
        if by_id.len() >= self.max {
            let idlest = by_id
                .iter()
                .filter(|(_, slot)| slot.busy.load(Ordering::Acquire) == 0)
                .min_by_key(|(_, slot)| {
                    (slot.answered.load(Ordering::Relaxed), slot.idle_since_ms.load(Ordering::Relaxed))
                })
                .map(|(id, _)| *id);
            if !self.capped.swap(true, Ordering::Relaxed) {
                tracing::warn!(max = self.max, "at the connection cap: closing the connections idle longest");
            }
            // Gone from the count now: its task ends as soon as it runs.
            by_id.remove(&idlest?)?.close.notify_one();
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            busy: AtomicU32::new(0),
            answered: AtomicBool::new(false),
            idle_since_ms: AtomicU64::new(self.now_ms()),
            close: tokio::sync::Notify::new(),
        });
        by_id.insert(id, slot.clone());
        drop(by_id);
        Some(Arc::new(Admitted { open: self.clone(), id, slot }))
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        // A panic under this lock leaves a consistent map (one insert or remove): keep serving.
        self.by_id.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A request in flight on a connection: not idle until it is answered.
struct Busy(Arc<Admitted>);

impl Busy {
    fn start(slot: Arc<Admitted>) -> Busy {
        slot.busy.fetch_add(1, Ordering::AcqRel);
        Busy(slot)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.idle_since_ms.store(self.0.open.now_ms(), Ordering::Relaxed);
        self.0.answered.store(true, Ordering::Relaxed);
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_idlest_connection_goes_and_a_busy_one_stays() {
        let open = Arc::new(Open::new(3));
        let a = open.admit().expect("room");
        let b = open.admit().expect("room");
        let c = open.admit().expect("room");
        a.idle_since_ms.store(5, Ordering::Relaxed);
        b.idle_since_ms.store(1, Ordering::Relaxed);
        c.idle_since_ms.store(9, Ordering::Relaxed);
        let busy = Busy::start(b.clone());
        // b is idle longest but answering a request: a goes.
        let d = open.admit().expect("a was idle");
        assert_eq!(open.slots().len(), 3);
        assert!(!open.slots().contains_key(&a.id));
        drop(busy);
        assert!(b.idle_since_ms.load(Ordering::Relaxed) < 1_000, "answered just now");
        // All busy: the newcomer is refused, nobody is closed.
        let held: Vec<Busy> = [&b, &c, &d].into_iter().map(|s| Busy::start((*s).clone())).collect();
        assert!(open.admit().is_none());
        assert_eq!(open.slots().len(), 3);
        drop(held);
        // A connection's place is freed when it ends.
        drop(c);
        assert_eq!(open.slots().len(), 2);
        assert!(open.admit().is_some());
    }

    #[test]
    fn connections_that_never_sent_a_request_go_before_kept_alive_ones() {
        let open = Arc::new(Open::new(2));
        let kept_alive = open.admit().expect("room");
        drop(Busy::start(kept_alive.clone()));
        kept_alive.idle_since_ms.store(0, Ordering::Relaxed);
        let silent = open.admit().expect("room");
        silent.idle_since_ms.store(10, Ordering::Relaxed);
        // The kept-alive one is idle longer, but closing it races with its next request.
        let _new = open.admit().expect("the silent one goes");
        assert!(open.slots().contains_key(&kept_alive.id));
        assert!(!open.slots().contains_key(&silent.id));
    }

    #[test]
    fn the_default_cap_fits_the_open_file_limit() {
        let max = default_max_connections();
        assert!((1..=MAX_CONNECTIONS).contains(&max), "{max}");
        if let Some(limit) = open_files_limit() {
            assert!(max <= limit, "{max} connections, {limit} descriptors");
        }
    }
}
