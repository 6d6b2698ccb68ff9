//! Accept errors (out of file descriptors and the like) back off exponentially instead
//! of spinning, and repeated log lines are folded into one per period with a count.

use std::time::Duration;

use tokio::time::Instant;

/// The first pause after an accept error.
const FIRST: Duration = Duration::from_millis(10);
/// The longest pause.
const MOST: Duration = Duration::from_secs(1);

/// Exponential back-off for failing accepts: 10 ms doubling to 1 s, reset by a success.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    failures: u64,
    log: Throttled,
}

impl Backoff {
    /// No failure yet.
    pub(crate) fn new() -> Self {
        Self {
            next: FIRST,
            failures: 0,
            log: Throttled::new(MOST),
        }
    }

    /// Notes a failed accept, logs it unless a line went out within the period, and
    /// returns how long to pause before accepting again.
    pub(crate) fn failed(&mut self, error: &std::io::Error) -> Duration {
        self.failures += 1;
        let pause = self.next;
        self.next = (self.next * 2).min(MOST);
        if let Some(failures) = self.log.event() {
            tracing::warn!(
                error = %error,
                failures,
                pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                "accept failed; backing off"
            );
        }
        pause
    }

    /// Notes a successful accept: the next failure starts from the first pause again.
    pub(crate) fn succeeded(&mut self) {
        if self.failures > 0 {
            tracing::info!(failures = self.failures, "accepting connections again");
            self.failures = 0;
            self.next = FIRST;
            self.log = Throttled::new(MOST);
        }
    }
}

/// At most one log line per `period`: the first event logs, later ones within the
/// period are counted into the next line.
#[derive(Debug)]
pub(crate) struct Throttled {
    period: Duration,
    last: Option<Instant>,
    pending: u64,
}

impl Throttled {
    /// Nothing logged yet.
    pub(crate) fn new(period: Duration) -> Self {
        Self {
            period,
            last: None,
            pending: 0,
        }
    }

    /// Notes an event; `Some(n)` when a line should be logged now, for `n` events
    /// (this one and those folded since the last line).
    pub(crate) fn event(&mut self) -> Option<u64> {
        self.pending += 1;
        let now = Instant::now();
        if self.last.is_some_and(|last| now < last + self.period) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pauses_double_to_a_second_and_reset_after_a_success() {
        let error = std::io::Error::other("Too many open files");
        let mut backoff = Backoff::new();
        let pauses: Vec<u64> = (0..9)
            .map(|_| u64::try_from(backoff.failed(&error).as_millis()).expect("ms"))
            .collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        backoff.succeeded();
        assert_eq!(backoff.failed(&error), FIRST);
    }

    #[tokio::test(start_paused = true)]
    async fn one_line_per_period_with_the_count_of_events_folded_into_it() {
        let mut log = Throttled::new(Duration::from_secs(1));
        assert_eq!(log.event(), Some(1), "the first event logs");
        let folded: Vec<_> = (0..5).map(|_| log.event()).collect();
        assert!(folded.iter().all(Option::is_none), "{folded:?}");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(log.event(), Some(6), "five folded events and this one");
    }
}
