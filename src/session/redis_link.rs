//! The connection to Redis (or Valkey) that the session store and the listing cache
//! share: one multiplexed client for commands, one for the invalidation channel, a
//! timeout on every call, and reconnection forever in the background. It also carries
//! the [`Sealer`], so every record written through it is sealed (`set_sealed`,
//! `get_sealed`, or the sealer itself for records a script must partly read).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fred::clients::Client;
use fred::interfaces::{ClientLike, EventInterface, KeysInterface, PubsubInterface};
use fred::types::config::{Config as FredConfig, ReconnectPolicy, Server, UnresponsiveConfig};
use fred::types::{Builder, Expiration, Value};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;

use super::bus::{Bus, CHANNEL, Invalidation};
use super::sealed::Sealer;
use super::store::StoreError;
use super::token::TokenHash;
use crate::config::SessionConfig;

/// Every key the gateway writes starts with this.
pub const KEY_PREFIX: &str = "wdgate:";

/// Reconnection backoff: from 50 ms doubling to 1 s, forever.
const RECONNECT_MIN_MS: u32 = 50;
const RECONNECT_MAX_MS: u32 = 1_000;

/// `session.redis_url` (or `session.redis_ca_file`) cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConnectError {
    key: &'static str,
    message: String,
}

/// A shared handle on the Redis connection, cheap to clone.
#[derive(Clone)]
pub struct RedisLink {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    bus: Bus,
    timeout: Duration,
    sealer: Sealer,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: show neither it nor the client's config.
        f.debug_struct("RedisLink")
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisLink {
    /// Starts connecting (in the background; a server that is down now is retried
    /// until it answers) and subscribing to invalidations. Needs a Tokio runtime.
    pub fn connect(config: &SessionConfig) -> Result<Self, ConnectError> {
        let bad_url = |message: String| ConnectError {
            key: "session.redis_url",
            message,
        };
        let url = config
            .redis_url
            .as_deref()
            .ok_or_else(|| bad_url("is not set".to_owned()))?;
        let timeout = Duration::from_millis(config.redis_timeout_ms);
        let sealer = config.sealer().map_err(|e| ConnectError {
            key: "session.encryption_keys",
            message: e.to_string(),
        })?;
        let (plain_url, tls) = strip_tls(url);
        // The TLS settings are ours (ring, system roots plus redis_ca_file), so the URL is
        // parsed without its TLS scheme and TLS is added afterwards.
        let mut fred_config =
            FredConfig::from_url(&plain_url).map_err(|e| bad_url(e.details().to_owned()))?;
        if tls {
            fred_config.tls = Some(tls_config(config.redis_ca_file.as_deref())?.into());
        }
        // A server that is down at start-up is retried like one that went away later.
        fred_config.fail_fast = false;
        let mut builder = Builder::from_config(fred_config);
        builder
            .with_connection_config(|c| {
                c.connection_timeout = timeout;
                c.internal_command_timeout = timeout;
                // A server that stops answering (but keeps the socket) is reconnected to.
                c.unresponsive = UnresponsiveConfig {
                    max_timeout: Some(timeout.saturating_mul(4)),
                    interval: timeout.max(Duration::from_millis(100)),
                };
            })
            .with_performance_config(|p| {
                p.default_command_timeout = timeout;
                p.broadcast_channel_capacity = 1024;
            })
            .set_policy(ReconnectPolicy::new_exponential(
                0,
                RECONNECT_MIN_MS,
                RECONNECT_MAX_MS,
                2,
            ));
        let client = builder
            .build()
            .map_err(|e| bad_url(e.details().to_owned()))?;
        let subscriber = builder
            .build()
            .map_err(|e| bad_url(e.details().to_owned()))?;
        let bus = Bus::start(subscriber);
        tokio::spawn(log_connection_changes(
            client.reconnect_rx(),
            client.error_rx(),
        ));
        // The connection task runs until the process ends, reconnecting as needed.
        drop(client.connect());
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                bus,
                timeout,
                sealer,
            }),
        })
    }

    /// The command client.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The invalidation channel.
    pub fn bus(&self) -> &Bus {
        &self.inner.bus
    }

    /// Seals and opens what is stored (`session.encryption_keys`).
    pub fn sealer(&self) -> &Sealer {
        &self.inner.sealer
    }

    /// Stores `value` sealed under `key` (the key name is bound to the record), for
    /// `ttl`.
    pub async fn set_sealed<T: Serialize>(
        &self,
        what: &'static str,
        key: String,
        value: &T,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let sealed = self.sealer().seal_json(&key, value)?;
        let call = self
            .client()
            .set::<(), _, _>(key, sealed, Some(px(ttl)), None, false);
        self.call(what, call).await
    }

    /// Stores `value` sealed under `key` for `ttl` and tells every replica to drop
    /// `invalidation` from its in-process cache, in one round trip.
    pub async fn set_sealed_and_announce<T: Serialize>(
        &self,
        what: &'static str,
        key: String,
        value: &T,
        ttl: Duration,
        invalidation: Invalidation,
    ) -> Result<(), StoreError> {
        let sealed = self.sealer().seal_json(&key, value)?;
        let pipeline = self.client().pipeline();
        let queue = async {
            let () = pipeline
                .set(key, sealed, Some(px(ttl)), None, false)
                .await?;
            let () = pipeline.publish(CHANNEL, invalidation.encode()).await?;
            pipeline.all::<((), i64)>().await
        };
        self.call(what, queue).await.map(drop)
    }

    /// The value sealed under `key`; `None` when there is none or it does not open
    /// (tampered, sealed under a key no longer listed: logged as a warning).
    pub async fn get_sealed<T: DeserializeOwned>(
        &self,
        what: &'static str,
        key: String,
    ) -> Result<Option<T>, StoreError> {
        let call = self.client().get::<Option<String>, _>(key.as_str());
        let stored = self.call(what, call).await?;
        Ok(stored.and_then(|stored| self.sealer().open_json(&key, &stored)))
    }

    /// The key of `kind` (`session`, `listing`) for a token hash, e.g.
    /// `wdgate:session:3fa1…`.
    pub fn key(kind: &str, hash: TokenHash) -> String {
        format!("{KEY_PREFIX}{kind}:{}", hash.to_hex())
    }

    /// Runs one Redis call within `session.redis_timeout_ms`; any failure is a
    /// [`StoreError`] naming `what`.
    pub async fn call<T, F>(&self, what: &'static str, call: F) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, fred::error::Error>>,
    {
        match tokio::time::timeout(self.inner.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(StoreError(format!("redis {what}: {e}"))),
            Err(_) => Err(StoreError(format!(
                "redis {what}: no answer within {:?}",
                self.inner.timeout
            ))),
        }
    }

    /// Redis answers PING and invalidations are being received.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _: Value = self.call("PING", self.client().ping(None)).await?;
        if !self.bus().is_subscribed() {
            return Err(StoreError(
                "not subscribed to the invalidation channel yet".to_owned(),
            ));
        }
        Ok(())
    }

    /// Deletes `key` and tells every replica to drop `invalidation`, in one round
    /// trip; returns the value that was there.
    pub async fn delete_and_announce(
        &self,
        key: String,
        invalidation: Invalidation,
    ) -> Result<Option<String>, StoreError> {
        let pipeline = self.client().pipeline();
        let queue = async {
            let () = pipeline.getdel(key).await?;
            let () = pipeline.publish(CHANNEL, invalidation.encode()).await?;
            pipeline.all::<(Option<String>, i64)>().await
        };
        let (old, _receivers) = self.call("GETDEL+PUBLISH", queue).await?;
        Ok(old)
    }
}

/// Logs when the connection comes up and when it fails, once per change rather than
/// once per reconnection attempt.
async fn log_connection_changes(
    mut connected: broadcast::Receiver<Server>,
    mut failed: broadcast::Receiver<(fred::error::Error, Option<Server>)>,
) {
    let mut up = None;
    loop {
        tokio::select! {
            event = connected.recv() => match event {
                Ok(server) => {
                    if up != Some(true) {
                        tracing::info!(server = %server, "connected to Redis");
                    }
                    up = Some(true);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            event = failed.recv() => match event {
                Ok((error, _)) => {
                    if up != Some(false) {
                        tracing::warn!(error = %error, "Redis is unreachable; requests that need the session store answer 503 until it is back");
                    }
                    up = Some(false);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

/// `rediss://…` → (`redis://…`, true); other URLs unchanged.
fn strip_tls(url: &str) -> (String, bool) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), false);
    };
    let lower = scheme.to_ascii_lowercase();
    for (tls, plain) in [("rediss", "redis"), ("valkeys", "valkey")] {
        if let Some(suffix) = lower.strip_prefix(tls) {
            return (format!("{plain}{suffix}://{rest}"), true);
        }
    }
    (url.to_owned(), false)
}

/// rustls with ring, the system roots and the certificates of `ca_file`.
fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, ConnectError> {
    let bad_ca = |message: String| ConnectError {
        key: "session.redis_ca_file",
        message,
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A system root rustls cannot parse is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| bad_ca(e.to_string()))?;
        for cert in certs {
            let cert = cert.map_err(|e| bad_ca(e.to_string()))?;
            roots.add(cert).map_err(|e| bad_ca(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad_ca(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A Redis expiry of `ttl`, in milliseconds (at least 1).
fn px(ttl: Duration) -> Expiration {
    Expiration::PX(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_schemes_are_recognised_and_stripped() {
        assert_eq!(
            strip_tls("rediss://:pw@h:6380/1"),
            ("redis://:pw@h:6380/1".to_owned(), true)
        );
        assert_eq!(
            strip_tls("rediss-cluster://h:7000?node=g:7001"),
            ("redis-cluster://h:7000?node=g:7001".to_owned(), true)
        );
        assert_eq!(
            strip_tls("valkeys-sentinel://h?sentinelServiceName=m"),
            ("valkey-sentinel://h?sentinelServiceName=m".to_owned(), true)
        );
        assert_eq!(strip_tls("redis://h"), ("redis://h".to_owned(), false));
    }

    #[test]
    fn keys_carry_the_hash_only() {
        let token = crate::session::Token::generate().expect("rng");
        let key = RedisLink::key("session", token.hash());
        assert!(key.starts_with("wdgate:session:"));
        assert_eq!(key.len(), "wdgate:session:".len() + 64);
        assert!(!key.contains(&token.as_str()[4..]));
    }
}
