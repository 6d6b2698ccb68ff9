//! The listener: accepts connections (plain or TLS) up to a cap, serves HTTP/1.1 and
//! HTTP/2 with timeouts that cut off silent, slow or idle clients, backs off when
//! accepting fails, and shuts down gracefully.

mod accept;
mod armed;
mod connection;
mod connections;
pub mod fd_limit;
pub mod idle;
pub mod signals;
pub mod tls;

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::App;
use futures_util::future::Either;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tower::util::Oneshot;
use tower::{Service, ServiceExt};

use self::accept::{Backoff, Throttled};
use self::connection::{Ended, Limits, Tracked};
use self::connections::{Registry, Ticket};
use self::idle::IdleTimeout;
pub use self::signals::Signals;
pub use self::tls::ReloadingTls;
use crate::config::ServerConfig;

/// HTTP/2 streams a client may reset before the server has accepted them (hyper's
/// defence against the "rapid reset" flood, CVE-2023-44487); hyper's default, kept on.
const MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
/// HTTP/2 streams the server may reset because of a client's protocol errors before it
/// closes the connection (hyper's defence against CVE-2024-27316-style floods).
const MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;

/// How the listener treats connections.
#[derive(Debug, Clone)]
pub struct Options {
    /// Time from accept to a connection's first request head (TLS handshake and HTTP/2
    /// preface included), and for each later request head on HTTP/1.1.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight this long is closed; one with a request
    /// in flight but no traffic either way this long, too.
    pub idle_timeout: Duration,
    /// Largest request head, in bytes (431 above, for HTTP/1).
    pub max_header_bytes: usize,
    /// Connections open at once.
    pub max_connections: usize,
    /// HTTP/2 streams open at once on one connection.
    pub http2_max_concurrent_streams: u32,
    /// Time given to requests in flight at shutdown.
    pub grace: Duration,
    /// TLS, if the listener terminates it.
    pub tls: Option<ReloadingTls>,
}

impl Options {
    /// Options from config, with an already loaded TLS acceptor.
    pub fn new(config: &ServerConfig, tls: Option<ReloadingTls>) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(config.idle_timeout_secs),
            max_header_bytes: config.max_header_bytes,
            max_connections: config.max_connections,
            http2_max_concurrent_streams: config.http2_max_concurrent_streams,
            grace: Duration::from_secs(config.shutdown_grace_secs),
            tls,
        }
    }

    fn limits(&self) -> Limits {
        Limits {
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, waits
/// up to `options.grace` for requests in flight, and returns.
pub async fn serve(
    listener: TcpListener,
    app: App,
    options: Options,
    shutdown: impl Future<Output = ()>,
) {
    let builder = builder(&options);
    let registry = Registry::new(options.max_connections);
    let mut backoff = Backoff::new();
    let mut refusals = Throttled::new(Duration::from_secs(1));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => {
                    backoff.succeeded();
                    accepted
                }
                Err(e) => {
                    // Out of file descriptors and the like: pause, doubling each time.
                    let pause = backoff.failed(&e);
                    tokio::select! {
                        () = tokio::time::sleep(pause) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        let accepted = Instant::now();
        let Some(ticket) = registry.admit() else {
            // Every open connection has a request in flight: this one is closed now.
            drop(stream);
            crate::metrics::connection_ended("refused");
            if let Some(refused) = refusals.event() {
                tracing::warn!(
                    refused,
                    max_connections = options.max_connections,
                    "max_connections reached with no idle connection; refusing new connections"
                );
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        spawn_connection(&builder, &options, &app, stream, peer, ticket, accepted);
    }
    drop(listener);
    registry.close_all();
    tracing::info!(grace = ?options.grace, "stopped accepting; finishing requests in flight");
    tokio::select! {
        () = registry.all_closed() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(options.grace) => {
            tracing::warn!(open = registry.len(), "grace period over; closing the remaining connections");
        }
    }
}

fn builder(options: &Options) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // The head timeout of each later request is `IdleTimeout`'s (from the head's
        // first byte, with no timer made per request); the first's, from accept, is
        // `connection::drive`'s.
        .header_read_timeout(None)
        .max_buf_size(options.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(options.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(options.http2_max_concurrent_streams)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(MAX_LOCAL_ERROR_RESET_STREAMS);
    builder
}

fn spawn_connection(
    builder: &auto::Builder<TokioExecutor>,
    options: &Options,
    app: &App,
    stream: TcpStream,
    peer: SocketAddr,
    ticket: Ticket,
    accepted: Instant,
) {
    let app = crate::app_for_peer(app, peer);
    let builder = builder.clone();
    let tls = options.tls.as_ref().map(ReloadingTls::acceptor);
    let limits = options.limits();
    let stream = IdleTimeout::new(stream, options.idle_timeout)
        .with_head_timeout(ticket.conn().clone(), options.header_read_timeout);
    // The connection's futures (hyper's HTTP/1 and HTTP/2 connections, TLS) are boxed
    // where they are awaited: inline they made this task's future kilobytes long, and
    // spawning and finishing a task copies its future whole, three times.
    tokio::spawn(async move {
        let conn = ticket.conn().clone();
        // The connection's own app, called in place: cloning it for each request (and
        // the `Oneshot` that then held the clone and the request) made the future hyper
        // keeps for a request, and moves, that much bigger.
        let app = RefCell::new(app);
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let in_flight = conn.start_request();
            if request.version() == http::Version::HTTP_2 {
                conn.note_http2();
            }
            let call = call_app(&app, request);
            async move {
                let response = call.await?;
                Ok::<_, std::convert::Infallible>(
                    response.map(|body| Tracked::new(body, in_flight)),
                )
            }
        });
        let ended = match tls {
            None => {
                Box::pin(serve_io(
                    &builder, stream, service, &ticket, accepted, limits,
                ))
                .await
            }
            Some(acceptor) => {
                let deadline = accepted + limits.header_read_timeout;
                let accept = Box::pin(tokio::time::timeout_at(deadline, acceptor.accept(stream)));
                match accept.await {
                    Ok(Ok(stream)) => {
                        Box::pin(serve_io(
                            &builder, stream, service, &ticket, accepted, limits,
                        ))
                        .await
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "TLS handshake failed");
                        crate::metrics::connection_ended("tls_failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake not done within the header timeout");
                        crate::metrics::connection_ended("no_request");
                        return;
                    }
                }
            }
        };
        let reason = match ended {
            Ended::Closed(Ok(())) => "closed",
            Ended::Closed(Err(e)) => {
                tracing::debug!(error = %e, "connection ended with an error");
                "error"
            }
            Ended::NoRequest => {
                tracing::debug!("no request within the header timeout; closed");
                "no_request"
            }
            Ended::Closing(reason) => {
                tracing::debug!(reason, "connection closed gracefully");
                reason
            }
        };
        crate::metrics::connection_ended(reason);
    });
}

/// A request as hyper hands it over.
type Request = hyper::Request<Incoming>;

/// The app's answer to a request, see [`call_app`].
type AppCall = Either<<App as Service<Request>>::Future, Pin<Box<Oneshot<App, Request>>>>;

/// The future of `app`'s answer to `request`: called at once when the app is ready (it
/// always is: the edge and the router are), else through a boxed [`ServiceExt::oneshot`]
/// of a clone, which waits for it.
fn call_app(app: &RefCell<App>, request: Request) -> AppCall {
    let mut app = app.borrow_mut();
    match Service::<Request>::poll_ready(&mut *app, &mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(())) => Either::Left(app.call(request)),
        Poll::Ready(Err(never)) => match never {},
        Poll::Pending => Either::Right(Box::pin(app.clone().oneshot(request))),
    }
}

/// Serves HTTP on an accepted (and, with TLS, handshaken) stream until it ends.
async fn serve_io<I, S>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    service: S,
    ticket: &Ticket,
    accepted: Instant,
    limits: Limits,
) -> Ended<Box<dyn std::error::Error + Send + Sync>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            hyper::Request<Incoming>,
            Response = http::Response<Tracked<axum::body::Body>>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    connection::drive(
        connection,
        |c| c.graceful_shutdown(),
        ticket.conn(),
        accepted,
        limits,
    )
    .await
}
