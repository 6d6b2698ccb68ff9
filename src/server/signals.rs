//! The process's signals: SIGTERM and SIGINT ask for shutdown, SIGHUP reloads the TLS
//! certificate or is logged and ignored. All are registered at start-up, before the
//! port is announced, so none meets its default action (which ends the process).

use std::io;

/// The registered signal streams.
#[derive(Debug)]
pub struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    hangup: Option<Hangup>,
}

/// SIGHUP, taken out of [`Signals`] by whoever handles it.
#[derive(Debug)]
pub struct Hangup {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Signals {
    /// Registers SIGTERM, SIGINT and SIGHUP. Must run inside the runtime.
    pub fn install() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
                hangup: Some(Hangup {
                    signal: signal(SignalKind::hangup())?,
                }),
            })
        }
        #[cfg(not(unix))]
        Ok(Self {
            hangup: Some(Hangup {}),
        })
    }

    /// Resolves at the next SIGTERM or SIGINT and names it.
    pub async fn shutdown_requested(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.terminate.recv() => "SIGTERM",
                _ = self.interrupt.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }

    /// Takes SIGHUP out, for the TLS watcher or [`Hangup::log_and_ignore`]. Left in
    /// place, it stays registered and is silently ignored.
    pub fn take_hangup(&mut self) -> Option<Hangup> {
        self.hangup.take()
    }
}

impl Hangup {
    /// Resolves at the next SIGHUP.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            if self.signal.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    }

    /// Logs each SIGHUP as ignored (there is no certificate to reload).
    pub fn log_and_ignore(mut self) {
        tokio::spawn(async move {
            loop {
                self.recv().await;
                tracing::info!("SIGHUP ignored: TLS is off, so there is no certificate to reload");
            }
        });
    }
}
