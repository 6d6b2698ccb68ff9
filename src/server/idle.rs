//! An I/O wrapper that fails a connection after a period with no traffic either way,
//! and an HTTP/1 connection whose next request head, once begun, is not complete within
//! the header timeout.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::armed::Armed;
use super::connections::Conn;

/// Closes (with `TimedOut`) a stream that has neither read nor written for `idle`, and,
/// with [`IdleTimeout::with_head_timeout`], one whose request head is dripped.
///
/// Traffic only notes the time; the timer is moved when it fires early, not on every
/// read and write (moving a tokio timer takes it out of the timer wheel and puts it
/// back, several times the cost of reading the clock). It is moved earlier only for a
/// head that one read did not bring whole, which a well-behaved client never sends.
#[derive(Debug)]
pub struct IdleTimeout<S> {
    inner: S,
    idle: Duration,
    last_traffic: Instant,
    deadline: Armed,
    head: Option<HeadWatch>,
}

/// The head rule of an HTTP/1 connection, in place of hyper's per-request header timer
/// (a timer made, armed and dropped for every request, and one that also ran while a
/// kept-alive connection waited for its next request, closing it at the header timeout
/// rather than the idle one): bytes that arrive on a kept-alive HTTP/1 connection while
/// none of its requests is in flight begin a head, which must be complete (its request
/// started) within `timeout`.
#[derive(Debug)]
struct HeadWatch {
    conn: Arc<Conn>,
    timeout: Duration,
    /// When the head being read began, and how many requests had started by then.
    begun: Option<(Instant, u64)>,
}

impl HeadWatch {
    /// Bytes arrived at `now`.
    fn bytes_arrived(&mut self, now: Instant) {
        let requests = self.conn.requests();
        if matches!(self.begun, Some((_, before)) if before == requests) {
            return; // more of the same head
        }
        // The first head is `connection::drive`'s, from accept (through TLS and any
        // HTTP/2 preface); a head is this rule's only on a connection kept alive.
        let next_head = requests > 0 && self.conn.is_idle() && !self.conn.is_http2();
        self.begun = next_head.then_some((now, requests));
    }

    /// When the head being read must be complete, if one is being read.
    fn due(&mut self) -> Option<Instant> {
        let (begun, before) = self.begun?;
        if before != self.conn.requests() || !self.conn.is_idle() {
            self.begun = None; // it arrived
            return None;
        }
        Some(begun + self.timeout)
    }
}

impl<S> IdleTimeout<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            last_traffic: Instant::now(),
            deadline: Armed::until(Instant::now() + idle),
            head: None,
        }
    }

    /// Also holds each request head of `conn` that begins while none of its requests is
    /// in flight to `timeout`.
    pub(crate) fn with_head_timeout(mut self, conn: Arc<Conn>, timeout: Duration) -> Self {
        self.head = Some(HeadWatch {
            conn,
            timeout,
            begun: None,
        });
        self
    }

    fn progressed(&mut self) {
        self.last_traffic = Instant::now();
    }

    /// Whether `idle` has passed since the last traffic, or a begun head is overdue; if
    /// the timer fired but neither is due yet, it is set again for the earlier of them.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        let head_due = self.head.as_mut().and_then(HeadWatch::due);
        if let Some(head_due) = head_due {
            if head_due < self.deadline.deadline() {
                self.deadline.reset(head_due);
            }
        }
        while self.deadline.poll_fired(cx).is_ready() {
            let now = Instant::now();
            if head_due.is_some_and(|due| due <= now) {
                return Some(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request head not complete within the header timeout",
                ));
            }
            let idle_due = self.last_traffic + self.idle;
            if idle_due <= now {
                return Some(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection idle for too long",
                ));
            }
            self.deadline
                .reset(head_due.map_or(idle_due, |due| due.min(idle_due)));
        }
        None
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.progressed();
                if let (Some(head), true) = (&mut this.head, buf.filled().len() > before) {
                    head.bytes_arrived(this.last_traffic);
                }
                Poll::Ready(result)
            }
            Poll::Pending => match this.expired(cx) {
                Some(error) => Poll::Ready(Err(error)),
                None => Poll::Pending,
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(result) => {
                this.progressed();
                Poll::Ready(result)
            }
            Poll::Pending => match this.expired(cx) {
                Some(error) => Poll::Ready(Err(error)),
                None => Poll::Pending,
            },
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                this.progressed();
                Poll::Ready(result)
            }
            Poll::Pending => match this.expired(cx) {
                Some(error) => Poll::Ready(Err(error)),
                None => Poll::Pending,
            },
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    const IDLE: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn traffic_keeps_a_connection_open_and_silence_closes_it() {
        let (near, mut far) = duplex(64);
        let mut stream = IdleTimeout::new(near, IDLE);
        let mut byte = [0u8; 1];
        // A byte every 6 s: past the first deadline, never 10 s of silence.
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_secs(6)).await;
            far.write_all(b"x").await.expect("write");
            stream.read_exact(&mut byte).await.expect("still open");
        }
        let started = Instant::now();
        let error = stream.read_exact(&mut byte).await.expect_err("closed");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(
            started.elapsed(),
            IDLE,
            "closed exactly one idle period after the last byte"
        );
    }
}
