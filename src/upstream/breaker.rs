//! A circuit breaker for the upstream, on the resilience4j model: it watches the
//! outcomes of the last calls (a sliding window, by count and by age) and opens when
//! enough of them failed, by ratio and with a minimum number of calls, so a few slow
//! calls among healthy traffic (one user's heavy searches) leave everyone else alone,
//! while a dead upstream still opens it within a bounded number of calls. Open, calls
//! fail at once (503) instead of piling onto a dead server; after a pause one probe call
//! goes through, and its outcome closes or re-opens it.

use std::collections::VecDeque;
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

/// When the breaker opens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// The window holds at most this many of the latest outcomes.
    pub window_calls: usize,
    /// Outcomes older than this leave the window.
    pub window_age: Duration,
    /// Fewer outcomes than this in the window never open the breaker.
    pub min_calls: usize,
    /// The breaker opens when this share (0 to 1) of the window failed.
    pub failure_ratio: f64,
    /// How long it stays open before a probe.
    pub open_for: Duration,
}

impl Policy {
    /// The most consecutive failures a dead upstream can take before the breaker
    /// opens, whatever came before: a full window of successes needs
    /// `ceil(ratio × window)` failures to reach the ratio.
    pub fn failures_to_open(&self) -> usize {
        let by_ratio = (self.failure_ratio * self.window_calls as f64).ceil() as usize;
        by_ratio.max(self.min_calls).max(1)
    }
}

/// The circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    policy: Policy,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
enum Inner {
    Closed(Window),
    Open { until: Instant },
    HalfOpen,
}

/// The latest outcomes, oldest first, and how many of them failed.
#[derive(Debug, Default)]
struct Window {
    outcomes: VecDeque<(Instant, bool)>,
    failures: usize,
}

impl Window {
    /// Adds an outcome, drops what is too old or beyond the count, and says whether
    /// the failures now reach the policy's ratio.
    fn record(&mut self, policy: &Policy, failed: bool, now: Instant) -> bool {
        self.outcomes.push_back((now, failed));
        self.failures += usize::from(failed);
        while self.outcomes.len() > policy.window_calls
            || self
                .outcomes
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > policy.window_age)
        {
            if let Some((_, old_failed)) = self.outcomes.pop_front() {
                self.failures -= usize::from(old_failed);
            }
        }
        let calls = self.outcomes.len();
        calls >= policy.min_calls.max(1)
            && self.failures as f64 >= policy.failure_ratio * calls as f64
    }
}

impl CircuitBreaker {
    /// A closed breaker with `policy`.
    pub fn new(policy: Policy) -> Self {
        let policy = Policy {
            window_calls: policy.window_calls.max(1),
            ..policy
        };
        Self {
            policy,
            inner: Mutex::new(Inner::Closed(Window::default())),
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
            Inner::Closed(_) => Admission::Allowed,
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
        match &mut *inner {
            Inner::Closed(window) => {
                window.record(&self.policy, false, Instant::now());
            }
            Inner::HalfOpen => {
                tracing::info!("upstream circuit closed: the upstream answers again");
                *inner = Inner::Closed(Window::default());
            }
            // A call admitted before the breaker opened: the probe decides.
            Inner::Open { .. } => {}
        }
    }

    /// A call got no usable answer.
    pub fn failed(&self) {
        let mut inner = self.lock();
        let open = match &mut *inner {
            Inner::Closed(window) => window.record(&self.policy, true, Instant::now()),
            Inner::HalfOpen => true,
            // A call admitted before the breaker opened: it stays open as it is.
            Inner::Open { .. } => false,
        };
        if open {
            *inner = Inner::Open {
                until: Instant::now() + self.policy.open_for,
            };
            tracing::warn!(open_for = ?self.policy.open_for, "upstream circuit opened: calls fail fast until a probe succeeds");
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
            Inner::Closed(_) => State::Closed,
            Inner::Open { .. } => State::Open,
            Inner::HalfOpen => State::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            window_calls: 20,
            window_age: Duration::from_secs(60),
            min_calls: 10,
            failure_ratio: 0.5,
            open_for: Duration::from_secs(5),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_few_failures_among_healthy_calls_leave_it_closed() {
        let b = CircuitBreaker::new(policy());
        // Five slow calls of one user, in a stream of healthy ones, over and over.
        for _ in 0..50 {
            for _ in 0..5 {
                b.failed();
            }
            for _ in 0..15 {
                b.succeeded();
            }
            assert_eq!(b.state(), State::Closed);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn too_few_calls_never_open_it() {
        let b = CircuitBreaker::new(policy());
        for _ in 0..9 {
            b.failed();
        }
        assert_eq!(
            b.state(),
            State::Closed,
            "below the minimum number of calls"
        );
        b.failed();
        assert_eq!(b.state(), State::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dead_upstream_opens_it_within_a_bounded_number_of_calls() {
        let p = policy();
        let b = CircuitBreaker::new(p);
        for _ in 0..1000 {
            b.succeeded();
        }
        let mut failures = 0;
        while b.state() == State::Closed {
            b.failed();
            failures += 1;
            assert!(failures <= p.failures_to_open(), "took {failures} failures");
        }
        assert_eq!(failures, 10);
        assert!(matches!(b.admit(), Admission::Rejected(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn old_outcomes_leave_the_window() {
        let b = CircuitBreaker::new(policy());
        for _ in 0..9 {
            b.failed();
        }
        tokio::time::advance(Duration::from_secs(61)).await;
        b.failed();
        assert_eq!(b.state(), State::Closed, "the nine old failures aged out");
    }

    #[tokio::test(start_paused = true)]
    async fn it_probes_after_the_pause_then_closes_or_reopens() {
        let b = CircuitBreaker::new(policy());
        for _ in 0..10 {
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
        for _ in 0..9 {
            b.failed();
        }
        assert_eq!(b.state(), State::Closed, "the window starts empty again");
    }

    #[tokio::test(start_paused = true)]
    async fn an_abandoned_probe_lets_another_try() {
        let b = CircuitBreaker::new(policy());
        for _ in 0..10 {
            b.failed();
        }
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(b.admit(), Admission::Probe);
        b.probe_abandoned();
        assert_eq!(b.admit(), Admission::Probe);
    }
}
