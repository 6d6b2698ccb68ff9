//! The open connections: each one's requests in flight, the cap on how many are open
//! (`server.max_connections`), and room made at the cap by closing the one idle longest.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// Every open connection, and the cap.
#[derive(Debug)]
pub(crate) struct Registry {
    max: usize,
    epoch: Instant,
    open: Mutex<Open>,
    count: watch::Sender<usize>,
}

#[derive(Debug, Default)]
struct Open {
    next_id: u64,
    by_id: HashMap<u64, Arc<Conn>>,
    /// How many of `by_id` were told to close to make room and have not yet closed.
    closing: usize,
}

/// What the listener and the connection's requests share about one connection.
#[derive(Debug)]
pub(crate) struct Conn {
    epoch: Instant,
    in_flight: AtomicUsize,
    /// Request heads that have arrived on it.
    requests: AtomicU64,
    /// A request arrived over HTTP/2 (no head timeout between its requests, only the
    /// idle one: frames between streams are not a request head).
    http2: AtomicBool,
    /// When its last request ended (or it was accepted), in microseconds from `epoch`.
    idle_since_us: AtomicU64,
    /// Told to close: to make room, or because the server shuts down.
    close: AtomicBool,
    /// Told to close to make room (counted in [`Open::closing`]).
    evicted: AtomicBool,
    wake: Notify,
}

/// A connection's place in the [`Registry`], given back on drop.
#[derive(Debug)]
pub(crate) struct Ticket {
    registry: Arc<Registry>,
    id: u64,
    conn: Arc<Conn>,
}

/// Counts a request in flight on its connection until dropped.
#[derive(Debug)]
pub(crate) struct InFlight {
    conn: Arc<Conn>,
}

impl Registry {
    /// A registry admitting up to `max` connections.
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            epoch: Instant::now(),
            open: Mutex::new(Open::default()),
            count: watch::Sender::new(0),
        })
    }

    /// Admits a new connection. At the cap, the open connection idle longest is told
    /// to close gracefully and the new one takes its place; `None` when every open
    /// connection has a request in flight (the caller closes the new one).
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Ticket> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.by_id.len() - open.closing >= self.max {
            // Ties (the same microsecond) go to the older connection.
            let (_, idlest) = open
                .by_id
                .iter()
                .filter(|(_, c)| !c.close.load(Ordering::Relaxed) && c.is_idle())
                .min_by_key(|(id, c)| (c.idle_since_us.load(Ordering::Relaxed), **id))?;
            let idlest = idlest.clone();
            idlest.close.store(true, Ordering::Relaxed);
            idlest.evicted.store(true, Ordering::Relaxed);
            idlest.wake.notify_one();
            open.closing += 1;
            tracing::debug!("max_connections reached: closing the connection idle longest");
        }
        let id = open.next_id;
        open.next_id += 1;
        let conn = Arc::new(Conn {
            epoch: self.epoch,
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            http2: AtomicBool::new(false),
            idle_since_us: AtomicU64::new(micros_since(self.epoch)),
            close: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            wake: Notify::new(),
        });
        open.by_id.insert(id, conn.clone());
        self.count.send_replace(open.by_id.len());
        crate::metrics::connections_open(open.by_id.len());
        Some(Ticket {
            registry: self.clone(),
            id,
            conn,
        })
    }

    /// Tells every open connection to close gracefully (at shutdown).
    pub(crate) fn close_all(&self) {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        for conn in open.by_id.values() {
            conn.close.store(true, Ordering::Relaxed);
            conn.wake.notify_one();
        }
    }

    /// Resolves once no connection is open.
    pub(crate) async fn all_closed(&self) {
        let mut count = self.count.subscribe();
        let _ = count.wait_for(|n| *n == 0).await;
    }

    /// How many connections are open.
    pub(crate) fn len(&self) -> usize {
        *self.count.borrow()
    }
}

impl Ticket {
    /// The connection's shared state.
    pub(crate) fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self
            .registry
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(conn) = open.by_id.remove(&self.id) {
            if conn.evicted.load(Ordering::Relaxed) {
                open.closing -= 1;
            }
        }
        self.registry.count.send_replace(open.by_id.len());
        crate::metrics::connections_open(open.by_id.len());
    }
}

impl Conn {
    /// Counts a request that has just arrived.
    pub(crate) fn start_request(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight { conn: self.clone() }
    }

    /// Whether a request head has arrived.
    pub(crate) fn has_requested(&self) -> bool {
        self.requests() > 0
    }

    /// How many request heads have arrived.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Notes that the connection speaks HTTP/2.
    pub(crate) fn note_http2(&self) {
        self.http2.store(true, Ordering::Relaxed);
    }

    /// Whether a request arrived on it over HTTP/2.
    pub(crate) fn is_http2(&self) -> bool {
        self.http2.load(Ordering::Relaxed)
    }

    /// Whether no request is in flight.
    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// When the connection became idle, if it is.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        self.is_idle()
            .then(|| self.epoch + Duration::from_micros(self.idle_since_us.load(Ordering::Relaxed)))
    }

    /// Whether it was told to close.
    pub(crate) fn told_to_close(&self) -> bool {
        self.close.load(Ordering::Relaxed)
    }

    /// Whether it was told to close to make room for a new connection.
    pub(crate) fn evicted(&self) -> bool {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Resolves when it is told to close (or may have been: check [`Self::told_to_close`]).
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // The time is noted before the count drops, so an idle connection never shows
        // an earlier request's end as its idle start.
        self.conn
            .idle_since_us
            .store(micros_since(self.conn.epoch), Ordering::Relaxed);
        self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

fn micros_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn at_the_cap_the_connection_idle_longest_makes_room() {
        let registry = Registry::new(2);
        let first = registry.admit().expect("room");
        let second = registry.admit().expect("room");
        let _busy = second.conn().start_request();
        let third = registry.admit().expect("the idle one makes room");
        assert!(first.conn().told_to_close(), "the idle one is closed");
        assert!(!second.conn().told_to_close(), "the busy one is kept");
        assert_eq!(registry.len(), 3, "until the idle one has closed");
        let _also_busy = third.conn().start_request();
        assert!(
            registry.admit().is_none(),
            "room is made only once per closing connection"
        );
        drop(first);
        assert_eq!(registry.len(), 2);
        assert!(
            registry.admit().is_none(),
            "every open connection has a request in flight"
        );
    }

    #[tokio::test]
    async fn a_request_makes_a_connection_busy_until_its_guard_drops() {
        let registry = Registry::new(1);
        let ticket = registry.admit().expect("room");
        let conn = ticket.conn();
        assert!(!conn.has_requested() && conn.is_idle());
        let guard = conn.start_request();
        assert!(conn.has_requested() && !conn.is_idle());
        assert!(conn.idle_since().is_none());
        drop(guard);
        assert!(conn.idle_since().is_some());
    }

    #[tokio::test]
    async fn all_closed_waits_for_the_last_ticket() {
        let registry = Registry::new(4);
        let ticket = registry.admit().expect("room");
        registry.close_all();
        assert!(ticket.conn().told_to_close());
        let waiting = tokio::spawn({
            let registry = registry.clone();
            async move { registry.all_closed().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(ticket);
        waiting.await.expect("all closed");
    }
}
