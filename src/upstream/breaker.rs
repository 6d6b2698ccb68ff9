//! A circuit breaker for the upstream: after enough consecutive failures it opens and
//! calls fail at once (503) instead of piling onto a dead server; after a pause it lets
//! one probe call through, whose outcome closes or re-opens it.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The breaker's state, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Calls flow.
    Closed,
    /// Calls fail at once.
    Open,
    /// One probe call is in flight.
    HalfOpen,
}

/// What the breaker lets a call do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead.
    Allowed,
    /// Go ahead as the probe; report its outcome.
    Probe,
    /// Fail fast; the breaker may admit a probe after this long.
    Rejected(Duration),
}

/// The circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    open_for: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
enum Inner {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

impl CircuitBreaker {
    /// Opens after `threshold` consecutive failures, for `open_for`.
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            open_for,
            inner: Mutex::new(Inner::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Asks to make a call.
    pub fn admit(&self) -> Admission {
        let mut inner = self.lock();
        match *inner {
            Inner::Closed { .. } => Admission::Allowed,
            Inner::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    *inner = Inner::HalfOpen;
                    Admission::Probe
                } else {
                    Admission::Rejected(until - now)
                }
            }
            // Only one probe at a time; others wait for its verdict.
            Inner::HalfOpen => Admission::Rejected(Duration::from_secs(1)),
        }
    }

    /// A call got a usable answer.
    pub fn succeeded(&self) {
        let mut inner = self.lock();
        if !matches!(*inner, Inner::Closed { failures: 0 }) {
            if !matches!(*inner, Inner::Closed { .. }) {
                tracing::info!("upstream circuit closed: the upstream answers again");
            }
            *inner = Inner::Closed { failures: 0 };
        }
    }

    /// A call got no usable answer.
    pub fn failed(&self) {
        let mut inner = self.lock();
        let open = match *inner {
            Inner::Closed { failures } if failures + 1 < self.threshold => {
                *inner = Inner::Closed {
                    failures: failures + 1,
                };
                false
            }
            Inner::Closed { .. } | Inner::HalfOpen => true,
            // A call admitted before the breaker opened: it stays open as it is.
            Inner::Open { .. } => false,
        };
        if open {
            *inner = Inner::Open {
                until: Instant::now() + self.open_for,
            };
            tracing::warn!(open_for = ?self.open_for, "upstream circuit opened: calls fail fast until a probe succeeds");
        }
    }

    /// A probe ended without a verdict (cancelled): let another probe try.
    pub fn probe_abandoned(&self) {
        let mut inner = self.lock();
        if matches!(*inner, Inner::HalfOpen) {
            *inner = Inner::Open {
                until: Instant::now(),
            };
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        match *self.lock() {
            Inner::Closed { .. } => State::Closed,
            Inner::Open { .. } => State::Open,
            Inner::HalfOpen => State::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_the_threshold_probes_then_closes() {
        let b = CircuitBreaker::new(3, Duration::from_secs(5));
        for _ in 0..2 {
            assert_eq!(b.admit(), Admission::Allowed);
            b.failed();
        }
        assert_eq!(b.state(), State::Closed);
        b.succeeded();
        for _ in 0..3 {
            b.failed();
        }
        assert_eq!(b.state(), State::Open);
        assert!(matches!(b.admit(), Admission::Rejected(_)));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(b.admit(), Admission::Probe);
        assert!(
            matches!(b.admit(), Admission::Rejected(_)),
            "one probe at a time"
        );
        b.failed();
        assert_eq!(b.state(), State::Open, "a failed probe re-opens");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(b.admit(), Admission::Probe);
        b.succeeded();
        assert_eq!(b.state(), State::Closed);
        assert_eq!(b.admit(), Admission::Allowed);
    }
}
