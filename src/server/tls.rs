//! The listener's TLS: rustls with HTTP/2 and HTTP/1.1 by ALPN, and a certificate that
//! can be replaced while the server runs (SIGHUP, or the files changing on disk). New
//! connections get the new certificate; open connections keep theirs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use super::signals::Hangup;
use crate::config::TlsConfig;

/// The certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("server.tls: {0}")]
pub struct TlsError(String);

/// A TLS acceptor whose certificate can be swapped.
#[derive(Debug, Clone)]
pub struct ReloadingTls {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: RwLock<Loaded>,
}

struct Loaded {
    acceptor: TlsAcceptor,
    stamps: (Option<SystemTime>, Option<SystemTime>),
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("stamps", &self.stamps)
            .finish_non_exhaustive()
    }
}

impl ReloadingTls {
    /// Loads the certificate and key; fails if they are unusable.
    pub fn load(config: &TlsConfig) -> Result<Self, TlsError> {
        let loaded = load(&config.cert_file, &config.key_file)?;
        Ok(Self {
            inner: Arc::new(Inner {
                cert_file: config.cert_file.clone(),
                key_file: config.key_file.clone(),
                current: RwLock::new(loaded),
            }),
        })
    }

    /// The acceptor for a new connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.inner
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .acceptor
            .clone()
    }

    /// Loads the files again. A bad pair is refused and the current one kept.
    pub fn reload(&self) -> Result<(), TlsError> {
        let loaded = load(&self.inner.cert_file, &self.inner.key_file)?;
        *self
            .inner
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = loaded;
        Ok(())
    }

    /// Whether either file changed since the last load.
    fn changed(&self) -> bool {
        let now = stamps(&self.inner.cert_file, &self.inner.key_file);
        let current = self
            .inner
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        now != current.stamps
    }

    /// Reloads on `hangup` (SIGHUP) and, every `interval` (if not zero), when the
    /// files changed.
    pub fn spawn_watcher(&self, interval: Duration, mut hangup: Option<Hangup>) {
        let tls = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(if interval.is_zero() {
                Duration::from_secs(3600)
            } else {
                interval
            });
            tick.tick().await;
            loop {
                let why = tokio::select! {
                    () = next_hangup(hangup.as_mut()) => "SIGHUP",
                    _ = tick.tick() => {
                        if interval.is_zero() || !tls.changed() {
                            continue;
                        }
                        "the files changed"
                    }
                };
                match tls.reload() {
                    Ok(()) => tracing::info!(reason = why, "TLS certificate reloaded"),
                    Err(e) => {
                        tracing::error!(reason = why, error = %e, "TLS reload failed; keeping the current certificate")
                    }
                }
            }
        });
    }
}

async fn next_hangup(hangup: Option<&mut Hangup>) {
    match hangup {
        Some(hangup) => hangup.recv().await,
        None => std::future::pending().await,
    }
}

fn stamps(cert: &Path, key: &Path) -> (Option<SystemTime>, Option<SystemTime>) {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (modified(cert), modified(key))
}

fn load(cert_file: &Path, key_file: &Path) -> Result<Loaded, TlsError> {
    let stamps = stamps(cert_file, key_file);
    let certs = CertificateDer::pem_file_iter(cert_file)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| TlsError(format!("cert_file {}: {e}", cert_file.display())))?;
    if certs.is_empty() {
        return Err(TlsError(format!(
            "cert_file {}: no certificate",
            cert_file.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| TlsError(format!("key_file {}: {e}", key_file.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError(format!("the certificate and key do not fit: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Loaded {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        stamps,
    })
}
