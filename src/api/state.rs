//! What every handler shares: the upstream client, the session store, the status table.

use std::sync::Arc;
use std::time::Duration;

use super::problem::ApiError;
use crate::config::SessionConfig;
use crate::session::{SessionStore, TokenHash};
use crate::upstream::{self, status::StatusTable};

/// Shared handler state, cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    upstream: upstream::Client,
    store: Arc<dyn SessionStore>,
    statuses: StatusTable,
    sessions: SessionConfig,
}

impl AppState {
    /// Bundles the shared pieces.
    pub fn new(
        upstream: upstream::Client,
        store: Arc<dyn SessionStore>,
        statuses: StatusTable,
        sessions: SessionConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                upstream,
                store,
                statuses,
                sessions,
            }),
        }
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

    /// Turns a failed upstream call into the answer, via the status table. When the
    /// upstream says the SID is gone, the gateway session `key` is evicted too.
    pub async fn upstream_failure(
        &self,
        key: Option<TokenHash>,
        error: upstream::Error,
    ) -> ApiError {
        if let (Some(key), upstream::Error::Rejected(e)) = (key, &error) {
            if e.is_sid_invalid() {
                if let Err(store_error) = self.store().remove(key).await {
                    tracing::warn!(error = %store_error, "could not evict an expired session");
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
