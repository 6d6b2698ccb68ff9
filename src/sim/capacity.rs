//! The simulator's CGI pool: at most `capacity` calls in service at once, each held for
//! `call_ms`, the rest queued in arrival order, as an IIS CGI pool serves a Worldox Web
//! server; with counts of calls in service for `/_sim/stats`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

/// The pool: a semaphore when the capacity is bounded, the service time, and counters.
#[derive(Debug)]
pub(crate) struct Capacity {
    /// Calls served at once (0: unlimited).
    size: usize,
    /// `None`: unlimited (capacity 0).
    slots: Option<Semaphore>,
    /// How long each call holds its slot before it is answered.
    service: Duration,
    /// Calls in service now.
    in_service: AtomicUsize,
    /// The most calls ever in service at once.
    in_service_max: AtomicUsize,
    /// Calls waiting for a slot now.
    queued: AtomicUsize,
    /// The most calls ever waiting at once.
    queued_max: AtomicUsize,
}

/// A call in service; the slot is freed (and the count drops) when it is dropped,
/// however the call ends (answered, hung up on, cancelled).
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    pool: &'a Capacity,
    _permit: Option<SemaphorePermit<'a>>,
}

/// The pool's counts, as `/_sim/stats` shows them.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub(crate) struct CapacityStats {
    /// Calls served at once (0: unlimited).
    pub(crate) capacity: usize,
    /// Calls in service now.
    pub(crate) in_service: usize,
    /// The most calls ever in service at once.
    pub(crate) in_service_max: usize,
    /// Calls waiting for a slot now.
    pub(crate) queued: usize,
    /// The most calls ever waiting at once.
    pub(crate) queued_max: usize,
}

impl Capacity {
    /// A pool of `capacity` slots (0: unlimited), each call held `call_ms`.
    pub(crate) fn new(capacity: usize, call_ms: u64) -> Self {
        Self {
            size: capacity,
            slots: (capacity > 0).then(|| Semaphore::new(capacity)),
            service: Duration::from_millis(call_ms),
            in_service: AtomicUsize::new(0),
            in_service_max: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            queued_max: AtomicUsize::new(0),
        }
    }

    /// Waits for a slot (first come, first served), then counts the call in service.
    pub(crate) async fn enter(&self) -> Slot<'_> {
        let permit = match &self.slots {
            None => None,
            Some(slots) => {
                let waiting = self.queued.fetch_add(1, Ordering::AcqRel) + 1;
                self.queued_max.fetch_max(waiting, Ordering::AcqRel);
                let _waiting = Decrement(&self.queued);
                // The semaphore is never closed, so acquiring only fails if it were.
                slots.acquire().await.ok()
            }
        };
        let now = self.in_service.fetch_add(1, Ordering::AcqRel) + 1;
        self.in_service_max.fetch_max(now, Ordering::AcqRel);
        Slot {
            pool: self,
            _permit: permit,
        }
    }

    /// The pool's counts now.
    pub(crate) fn stats(&self) -> CapacityStats {
        CapacityStats {
            capacity: self.size,
            in_service: self.in_service.load(Ordering::Acquire),
            in_service_max: self.in_service_max.load(Ordering::Acquire),
            queued: self.queued.load(Ordering::Acquire),
            queued_max: self.queued_max.load(Ordering::Acquire),
        }
    }
}

impl Slot<'_> {
    /// Holds the slot for the call's service time.
    pub(crate) async fn serve(&self) {
        if !self.pool.service.is_zero() {
            tokio::time::sleep(self.pool.service).await;
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.pool.in_service.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Decrements its counter when dropped.
struct Decrement<'a>(&'a AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bounded_pool_never_serves_more_than_its_capacity() {
        let pool = std::sync::Arc::new(Capacity::new(2, 0));
        let first = pool.enter().await;
        let second = pool.enter().await;
        assert_eq!(pool.stats().in_service, 2);
        let waiter = {
            let pool = pool.clone();
            tokio::spawn(async move {
                let _slot = pool.enter().await;
                pool.stats().in_service
            })
        };
        while pool.stats().queued == 0 {
            tokio::task::yield_now().await;
        }
        assert!(!waiter.is_finished(), "a third call waits for a slot");
        drop(first);
        assert_eq!(waiter.await.expect("waiter"), 2);
        drop(second);
        let stats = pool.stats();
        assert_eq!((stats.in_service, stats.in_service_max), (0, 2));
        assert_eq!((stats.queued, stats.queued_max), (0, 1));
        assert_eq!(stats.capacity, 2);
    }

    #[tokio::test]
    async fn an_unlimited_pool_counts_calls_without_queueing() {
        let pool = Capacity::new(0, 0);
        let slots = [pool.enter().await, pool.enter().await, pool.enter().await];
        let stats = pool.stats();
        assert_eq!(
            (stats.capacity, stats.in_service, stats.in_service_max),
            (0, 3, 3)
        );
        drop(slots);
        assert_eq!(pool.stats().in_service, 0);
    }
}
