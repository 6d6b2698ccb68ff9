//! What every handler shares: the upstream client, the session store, the status table.

use std::sync::Arc;
use std::time::Duration;

use super::client_ip::ClientIpResolver;
use super::health::Readiness;
use super::problem::ApiError;
use crate::config::{
    AdminConfig, BrowserConfig, DocumentsConfig, PassthroughConfig, SessionConfig,
};
use crate::devices::{ListingCache, Verifications};
use crate::documents::Documents;
use crate::limits::{CodeSendLimits, LoginLimits};
use crate::session::{Session, SessionStore, TokenHash};
use crate::upstream::{self, status::StatusTable};

/// Shared handler state, cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Parts>,
}

/// The pieces [`AppState`] bundles.
#[derive(Debug)]
pub struct Parts {
    /// The Worldox client.
    pub upstream: upstream::Client,
    /// Where sessions live.
    pub store: Arc<dyn SessionStore>,
    /// Upstream code → HTTP status.
    pub statuses: StatusTable,
    /// Session timeouts.
    pub sessions: SessionConfig,
    /// Per-session device listings.
    pub listings: ListingCache,
    /// Pending 2FA verifications.
    pub verifications: Verifications,
    /// Per-session document locators and lists, cursors, cached cabinets.
    pub documents: Documents,
    /// The documents resource's settings.
    pub documents_config: DocumentsConfig,
    /// Which commands `/wd/{COMMAND}` passes through.
    pub passthrough: PassthroughConfig,
    /// Login rate limits.
    pub login_limits: LoginLimits,
    /// Access-code send limits.
    pub code_sends: CodeSendLimits,
    /// Client IP resolution.
    pub client_ip: ClientIpResolver,
    /// CORS origins and the session cookie.
    pub browser: BrowserConfig,
    /// The shared readiness check and the shutting-down flag.
    pub readiness: Readiness,
    /// The operator's routes.
    pub admin: AdminConfig,
}

impl AppState {
    /// Bundles the shared pieces.
    pub fn new(parts: Parts) -> Self {
        Self {
            inner: Arc::new(parts),
        }
    }

    /// Per-session device listings.
    pub fn listings(&self) -> &ListingCache {
        &self.inner.listings
    }

    /// Pending 2FA verifications.
    pub fn verifications(&self) -> &Verifications {
        &self.inner.verifications
    }

    /// Per-session document locators and lists, cursors, cached cabinets.
    pub fn documents(&self) -> &Documents {
        &self.inner.documents
    }

    /// The documents resource's settings.
    pub fn documents_config(&self) -> &DocumentsConfig {
        &self.inner.documents_config
    }

    /// Login rate limits.
    pub fn login_limits(&self) -> &LoginLimits {
        &self.inner.login_limits
    }

    /// Access-code send limits.
    pub fn code_sends(&self) -> &CodeSendLimits {
        &self.inner.code_sends
    }

    /// Client IP resolution.
    pub fn client_ip(&self) -> &ClientIpResolver {
        &self.inner.client_ip
    }

    /// CORS origins and the session cookie.
    pub fn browser(&self) -> &BrowserConfig {
        &self.inner.browser
    }

    /// The shared readiness check and the shutting-down flag.
    pub fn readiness(&self) -> &Readiness {
        &self.inner.readiness
    }

    /// Which commands `/wd/{COMMAND}` passes through.
    pub fn passthrough(&self) -> &PassthroughConfig {
        &self.inner.passthrough
    }

    /// The Worldox client.
    pub fn upstream(&self) -> &upstream::Client {
        &self.inner.upstream
    }

    /// The session store.
    pub fn store(&self) -> &dyn SessionStore {
        self.inner.store.as_ref()
    }

    /// A session's idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.inner.sessions.idle_timeout_secs)
    }

    /// A session's absolute timeout.
    pub fn absolute_timeout(&self) -> Duration {
        Duration::from_secs(self.inner.sessions.absolute_timeout_secs)
    }

    /// How often a session's `last_seen_at` is written, at most.
    pub fn last_seen_interval_secs(&self) -> u64 {
        self.inner.sessions.last_seen_interval_secs
    }

    /// The operator's routes.
    pub fn admin(&self) -> &AdminConfig {
        &self.inner.admin
    }

    /// Ends a gateway session and drops what is cached for it; returns the session if
    /// it was live (its SID is the caller's to log off).
    pub async fn end_session(&self, key: TokenHash) -> Result<Option<Session>, ApiError> {
        self.inner.listings.invalidate(key).await;
        self.inner.documents.end_session(key).await;
        self.store()
            .remove(key)
            .await
            .map_err(|e| ApiError::StoreUnavailable(e.to_string()))
    }

    /// Turns a failed upstream call into the answer, via the status table. When the
    /// upstream says the SID is gone, the gateway session `key` is evicted too.
    pub async fn upstream_failure(
        &self,
        key: Option<TokenHash>,
        error: upstream::Error,
    ) -> ApiError {
        if let (Some(key), upstream::Error::Rejected(e)) = (key, &error) {
            if e.is_sid_invalid() {
                if let Err(evict_error) = self.end_session(key).await {
                    tracing::warn!(error = %evict_error, "could not evict an expired session");
                }
                tracing::info!("upstream session expired; gateway session evicted");
            }
        }
        ApiError::Upstream {
            status: self.inner.statuses.classify(&error),
            error,
        }
    }
}
