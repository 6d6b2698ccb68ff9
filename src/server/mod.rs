//! The listener: accepts connections (plain or TLS), serves HTTP/1.1 and HTTP/2 with
//! timeouts that cut off slow or idle clients, and shuts down gracefully.

pub mod idle;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use crate::App;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use self::idle::IdleTimeout;
pub use self::tls::ReloadingTls;
use crate::config::ServerConfig;

/// How the listener treats connections.
#[derive(Debug, Clone)]
pub struct Options {
    /// Time allowed for a TLS handshake and for a request's headers.
    pub header_read_timeout: Duration,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
    /// Largest request head, in bytes (431 above, for HTTP/1).
    pub max_header_bytes: usize,
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
            grace: Duration::from_secs(config.shutdown_grace_secs),
            tls,
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
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        spawn_connection(&builder, &graceful, &options, &app, stream, peer);
    }
    drop(listener);
    tracing::info!(grace = ?options.grace, "stopped accepting; finishing requests in flight");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(options.grace) => {
            tracing::warn!("grace period over; closing the remaining connections");
        }
    }
}

fn builder(options: &Options) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(options.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(options.max_header_bytes).unwrap_or(u32::MAX));
    builder
}

fn spawn_connection(
    builder: &auto::Builder<TokioExecutor>,
    graceful: &GracefulShutdown,
    options: &Options,
    app: &App,
    stream: TcpStream,
    peer: SocketAddr,
) {
    let app = app.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request)
    });
    let stream = IdleTimeout::new(stream, options.idle_timeout);
    match &options.tls {
        None => {
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let watched = graceful.watch(connection.into_owned());
            tokio::spawn(async move {
                if let Err(e) = watched.await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
        Some(tls) => {
            let acceptor = tls.acceptor();
            let handshake_timeout = options.header_read_timeout;
            let builder = builder.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let stream =
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake timed out");
                            return;
                        }
                    };
                let connection =
                    builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                if let Err(e) = watcher.watch(connection.into_owned()).await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
    }
}
