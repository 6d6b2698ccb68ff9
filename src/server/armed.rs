//! A timer polled only when a poll can tell something new: when it has fired, or when
//! another waker asks.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::time::{Instant, Sleep};

/// A [`Sleep`] that remembers the waker it holds. A connection's timers are polled on
/// every wake of its task (each read that pends, each turn of the connection's
/// select), and each poll of a tokio `Sleep` registers the waker again (about 125
/// instructions, twice a request); while the sleep has not fired and holds this same
/// waker, that poll can change nothing, and is skipped.
#[derive(Debug)]
pub(crate) struct Armed {
    sleep: Pin<Box<Sleep>>,
    /// The waker the sleep holds (not fired, not reset since it was polled).
    waker: HeldWaker,
}

/// The waker a pending future was last polled with, for skipping the polls that can
/// change nothing: while the future holds the same waker and nothing it would report
/// has happened, polling it again only registers that waker again.
#[derive(Debug, Default)]
pub(crate) struct HeldWaker(Option<Waker>);

impl HeldWaker {
    /// Whether a poll with `cx` can be skipped: the future holds `cx`'s waker and
    /// `may_be_ready` (what the future would report, checked without polling it) is
    /// false.
    pub(crate) fn skips(&self, cx: &Context<'_>, may_be_ready: bool) -> bool {
        !may_be_ready && self.holds(cx)
    }

    /// Notes a poll's outcome: a pending future holds `cx`'s waker, a ready one none.
    pub(crate) fn polled<T>(&mut self, cx: &Context<'_>, poll: &Poll<T>) {
        if poll.is_ready() {
            self.0 = None;
        } else if !self.holds(cx) {
            self.0 = Some(cx.waker().clone());
        }
    }

    /// Forgets the waker (the future was reset and must be polled again).
    pub(crate) fn forget(&mut self) {
        self.0 = None;
    }

    fn holds(&self, cx: &Context<'_>) -> bool {
        self.0
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
    }
}

impl Armed {
    /// A timer that fires at `deadline`.
    pub(crate) fn until(deadline: Instant) -> Self {
        Self {
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            waker: HeldWaker::default(),
        }
    }

    /// When it fires.
    pub(crate) fn deadline(&self) -> Instant {
        self.sleep.deadline()
    }

    /// Fires at `deadline` instead (it must be polled again to hold a waker).
    pub(crate) fn reset(&mut self, deadline: Instant) {
        self.sleep.as_mut().reset(deadline);
        self.waker.forget();
    }

    /// Ready once the deadline has passed; pending, with `cx`'s waker to be woken at
    /// the deadline, before.
    pub(crate) fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // Not fired yet: the sleep will wake the waker it holds when it does, and the
        // task is polled again then (the timer marks itself fired before it wakes).
        if self.waker.skips(cx, self.sleep.is_elapsed()) {
            return Poll::Pending;
        }
        let fired = self.sleep.as_mut().poll(cx);
        self.waker.polled(cx, &fired);
        fired
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn it_fires_at_its_deadline_and_again_after_a_reset() {
        let started = Instant::now();
        let mut timer = Armed::until(started + Duration::from_secs(5));
        // Polled twice with the same waker before it fires: the second poll is skipped.
        let mut polls = 0;
        std::future::poll_fn(|cx| {
            polls += 1;
            timer.poll_fired(cx)
        })
        .await;
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert!(polls >= 2, "woken when it fired");
        timer.reset(started + Duration::from_secs(8));
        assert_eq!(timer.deadline(), started + Duration::from_secs(8));
        std::future::poll_fn(|cx| timer.poll_fired(cx)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(8));
    }

    #[tokio::test(start_paused = true)]
    async fn a_skipped_poll_does_not_lose_the_wake_of_an_earlier_deadline() {
        let started = Instant::now();
        let mut timer = Armed::until(started + Duration::from_secs(30));
        // Pending, holding this task's waker; then moved earlier, and still woken.
        std::future::poll_fn(|cx| {
            assert!(timer.poll_fired(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        timer.reset(started + Duration::from_secs(2));
        std::future::poll_fn(|cx| timer.poll_fired(cx)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }
}
