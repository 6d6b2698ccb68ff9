//! One connection's life after accept: no request within the header timeout (counted
//! from accept, through the TLS handshake and the HTTP/2 preface) closes it at once;
//! no request in flight for the idle timeout, whatever frames arrive, closes it
//! gracefully; so does being told to (room needed at the cap, or shutdown).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Instant;

use super::armed::{Armed, HeldWaker};
use super::connections::{Conn, InFlight};

/// The timeouts a connection is held to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// From accept to the first request head; also the time a connection told to
    /// close (idle, or to make room) gets to finish.
    pub(crate) header_read_timeout: Duration,
    /// With no request in flight this long, a connection is closed.
    pub(crate) idle_timeout: Duration,
}

/// How a connection ended.
#[derive(Debug)]
pub(crate) enum Ended<E> {
    /// It closed (or failed) of itself.
    Closed(Result<(), E>),
    /// No request head arrived within the header timeout; it was dropped.
    NoRequest,
    /// Closed gracefully for `reason` (`idle`, `evicted` to make room at the cap, or
    /// `shutdown`), and dropped if that took too long.
    Closing(&'static str),
}

/// Drives `conn` until it ends; `close` starts its graceful shutdown.
pub(crate) async fn drive<C, E>(
    conn: C,
    close: impl FnOnce(Pin<&mut C>),
    state: &Arc<Conn>,
    accepted: Instant,
    limits: Limits,
) -> Ended<E>
where
    C: Future<Output = Result<(), E>>,
{
    tokio::pin!(conn);
    let header_deadline = accepted + limits.header_read_timeout;
    // The timer is checked lazily, as `IdleTimeout` does: a request ending does not
    // move it; when it fires it is set again from the last request's end. Its first
    // check is at the earlier of the two timeouts, when either could be due.
    let mut timer = Armed::until(accepted + limits.header_read_timeout.min(limits.idle_timeout));
    let reason = loop {
        tokio::select! {
            biased;
            result = conn.as_mut() => return Ended::Closed(result),
            () = ToldToClose::new(state.woken(), state) => {
                if state.told_to_close() {
                    break "told to close";
                }
            }
            () = std::future::poll_fn(|cx| timer.poll_fired(cx)) => {
                let now = Instant::now();
                if !state.has_requested() {
                    if now >= header_deadline {
                        return Ended::NoRequest;
                    }
                    timer.reset(header_deadline);
                    continue;
                }
                match state.idle_since() {
                    Some(since) if since + limits.idle_timeout <= now => break "idle",
                    Some(since) => timer.reset(since + limits.idle_timeout),
                    None => timer.reset(now + limits.idle_timeout),
                }
            }
        }
    };
    close(conn.as_mut());
    let reason = match reason {
        "told to close" if state.evicted() => "evicted",
        "told to close" => "shutdown",
        other => other,
    };
    if reason == "shutdown" {
        // Shutdown: the server's grace period bounds the requests in flight.
        let _ = conn.await;
    } else {
        let _ = tokio::time::timeout(limits.header_read_timeout, conn).await;
    }
    Ended::Closing(reason)
}

pin_project_lite::pin_project! {
    /// [`Conn::woken`], polled only when it can be ready: once it holds the task's
    /// waker, a poll while the connection has not been told to close can change nothing
    /// (the flag is set before the wake), and each such poll of the notification, on
    /// every wake of the task, cost about 130 instructions a request.
    struct ToldToClose<'a, F> {
        #[pin]
        woken: F,
        state: &'a Conn,
        // The waker `woken` holds, once polled.
        waker: HeldWaker,
    }
}

impl<'a, F> ToldToClose<'a, F> {
    fn new(woken: F, state: &'a Conn) -> Self {
        Self {
            woken,
            state,
            waker: HeldWaker::default(),
        }
    }
}

impl<F: Future<Output = ()>> Future for ToldToClose<'_, F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        if this.waker.skips(cx, this.state.told_to_close()) {
            return Poll::Pending;
        }
        let woken = this.woken.poll(cx);
        this.waker.polled(cx, &woken);
        woken
    }
}

pin_project_lite::pin_project! {
    /// A response body that counts its request as in flight until it is dropped.
    #[derive(Debug)]
    pub(crate) struct Tracked<B> {
        #[pin]
        inner: B,
        in_flight: InFlight,
    }
}

impl<B> Tracked<B> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: B, in_flight: InFlight) -> Self {
        Self { inner, in_flight }
    }
}

impl<B: Body> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::super::connections::Registry;
    use super::*;

    const LIMITS: Limits = Limits {
        header_read_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(30),
    };

    #[tokio::test(start_paused = true)]
    async fn no_request_within_the_header_timeout_drops_the_connection() {
        let registry = Registry::new(1);
        let ticket = registry.admit().expect("room");
        let started = Instant::now();
        let ended = drive(
            std::future::pending::<Result<(), Infallible>>(),
            |_| {},
            ticket.conn(),
            started,
            LIMITS,
        )
        .await;
        assert!(matches!(ended, Ended::NoRequest));
        assert_eq!(started.elapsed(), LIMITS.header_read_timeout);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_idle_from_its_last_request_whatever_else_happens() {
        let registry = Registry::new(1);
        let ticket = registry.admit().expect("room");
        let conn = ticket.conn().clone();
        let started = Instant::now();
        let request = tokio::spawn(async move {
            // A request arrives at 1 s and ends at 40 s: past the first idle check.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let guard = conn.start_request();
            tokio::time::sleep(Duration::from_secs(39)).await;
            drop(guard);
        });
        let ended = drive(
            std::future::pending::<Result<(), Infallible>>(),
            |_| {},
            ticket.conn(),
            started,
            LIMITS,
        )
        .await;
        request.await.expect("request");
        assert!(matches!(ended, Ended::Closing("idle")));
        let closing = started.elapsed();
        // Idle from 40 s, closed at 70 s, then the close is given the header timeout.
        assert_eq!(
            closing,
            Duration::from_secs(70) + LIMITS.header_read_timeout,
            "closed one idle period after the request ended"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_header_timeout_longer_than_the_idle_timeout_does_not_delay_idleness() {
        let limits = Limits {
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(2),
        };
        let registry = Registry::new(1);
        let ticket = registry.admit().expect("room");
        drop(ticket.conn().start_request());
        let started = Instant::now();
        let ended = drive(
            std::future::pending::<Result<(), Infallible>>(),
            |_| {},
            ticket.conn(),
            started,
            limits,
        )
        .await;
        assert!(matches!(ended, Ended::Closing("idle")));
        assert_eq!(
            started.elapsed(),
            limits.idle_timeout + limits.header_read_timeout,
            "idle at 2 s (then the close is given the header timeout), not at 30 s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_told_to_close_closes_gracefully_at_once() {
        let registry = Registry::new(1);
        let first = registry.admit().expect("room");
        let started = Instant::now();
        let closed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let closing = closed.clone();
        let conn = async {
            // Ends once its graceful close was started.
            while !closing.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok::<(), Infallible>(())
        };
        let _second = registry.admit().expect("the idle one makes room");
        let ended = drive(
            conn,
            |_| closed.store(true, std::sync::atomic::Ordering::Relaxed),
            first.conn(),
            started,
            LIMITS,
        )
        .await;
        assert!(matches!(ended, Ended::Closing("evicted")));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
