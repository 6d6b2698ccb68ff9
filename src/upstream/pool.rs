//! The keep-alive connections CGI calls go over: HTTP/1.1 connections to the one
//! upstream, reused newest first.
//!
//! Every CGI call goes to the same scheme and authority, so the pool needs no key:
//! hyper-util's general client hashes one per call, moves the request through a
//! checkout future and a pooled wrapper, and re-parses the URI; here a call pops a
//! sender from a short list and writes its request in origin form.
//!
//! A request is sent again on another connection only when hyper hands it back
//! unwritten (a reused connection the server had closed while it sat idle): nothing
//! of it reached the server, so that holds for writes too. A connection goes back to
//! the pool only once its answer was read to the end; one dropped mid-answer is
//! closed by hyper.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tower::ServiceExt;

use super::client::describe;

/// How a request went out, or why it did not.
#[derive(Debug)]
pub(super) enum SendError {
    /// No connection could be made: nothing was sent.
    Connect(String),
    /// The request was sent, or may have been, and no answer head came back.
    Exchange(String),
}

/// The idle connections to the upstream, and how to make new ones.
#[derive(Debug)]
pub(super) struct Pool {
    connector: HttpsConnector<HttpConnector>,
    /// The upstream's scheme and authority, for the connector.
    origin: Uri,
    idle: Mutex<Vec<Idle>>,
    max_idle: usize,
    idle_timeout: Duration,
    max_buf_size: usize,
    /// Whether the task that closes expired idle connections runs.
    reaper: AtomicBool,
}

/// A connection that finished its last exchange, and since when.
#[derive(Debug)]
struct Idle {
    sender: http1::SendRequest<Full<Bytes>>,
    since: Instant,
}

/// A connection lent to one exchange; [`Lease::release`] gives it back once the
/// answer was read to its end.
#[derive(Debug)]
pub(super) struct Lease {
    sender: http1::SendRequest<Full<Bytes>>,
}

impl Pool {
    /// A pool of at most `max_idle` idle connections to `origin`, each closed after
    /// `idle_timeout` unused; connections buffer at most `max_buf_size` bytes.
    pub(super) fn new(
        connector: HttpsConnector<HttpConnector>,
        origin: Uri,
        max_idle: usize,
        idle_timeout: Duration,
        max_buf_size: usize,
    ) -> Self {
        Self {
            connector,
            origin,
            idle: Mutex::new(Vec::new()),
            max_idle,
            idle_timeout,
            max_buf_size,
            reaper: AtomicBool::new(false),
        }
    }

    /// Sends `request` (origin-form URI, `Host` set) and returns the answer's head,
    /// with the connection it came on.
    pub(super) async fn send(
        self: &Arc<Self>,
        mut request: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Lease), SendError> {
        loop {
            let (mut sender, reused) = match self.checkout() {
                Some(sender) => (sender, true),
                None => (self.connect().await?, false),
            };
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((response, Lease { sender })),
                Err(mut failed) => match failed.take_message() {
                    // Handed back unwritten by a connection that closed while idle.
                    Some(unsent) if reused => request = unsent,
                    Some(_) => return Err(SendError::Connect(describe(failed.error()))),
                    None => return Err(SendError::Exchange(describe(failed.error()))),
                },
            }
        }
    }

    /// The newest idle connection ready for a request; closed and expired ones are
    /// dropped on the way, and one still finishing its last answer is left.
    fn checkout(&self) -> Option<http1::SendRequest<Full<Bytes>>> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let mut at = idle.len();
        while at > 0 {
            at -= 1;
            let entry = &idle[at];
            if entry.sender.is_closed() || entry.since.elapsed() > self.idle_timeout {
                idle.remove(at);
            } else if entry.sender.is_ready() {
                return Some(idle.remove(at).sender);
            }
        }
        None
    }

    /// A new connection, its driver spawned on the runtime.
    async fn connect(self: &Arc<Self>) -> Result<http1::SendRequest<Full<Bytes>>, SendError> {
        let io = self
            .connector
            .clone()
            .oneshot(self.origin.clone())
            .await
            .map_err(|e| SendError::Connect(describe(&*e)))?;
        let (sender, connection) = http1::Builder::new()
            .max_buf_size(self.max_buf_size)
            .handshake(io)
            .await
            .map_err(|e| SendError::Connect(describe(&e)))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %describe(&e), "an upstream connection ended");
            }
        });
        self.start_reaper();
        Ok(sender)
    }

    /// Puts a connection back, unless it is closed or the pool is full.
    fn checkin(&self, sender: http1::SendRequest<Full<Bytes>>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// Closes the idle connections unused for `idle_timeout`.
    fn close_expired(&self) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.retain(|entry| {
            !entry.sender.is_closed() && entry.since.elapsed() <= self.idle_timeout
        });
    }

    /// Starts, once, the task that closes expired idle connections while the pool
    /// lives, so they do not stay open until the next call.
    fn start_reaper(self: &Arc<Self>) {
        if self.max_idle == 0 || self.reaper.swap(true, Ordering::Relaxed) {
            return;
        }
        let pool: Weak<Self> = Arc::downgrade(self);
        let every = self.idle_timeout.max(Duration::from_secs(1));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match pool.upgrade() {
                    Some(pool) => pool.close_expired(),
                    None => return,
                }
            }
        });
    }
}

impl Lease {
    /// Gives the connection back to `pool` for the next call.
    pub(super) fn release(self, pool: &Pool) {
        pool.checkin(self.sender);
    }
}
