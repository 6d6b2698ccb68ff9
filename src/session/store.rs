//! What a session is and the interface every session store implements.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::token::TokenHash;
use crate::upstream::Sid;
use crate::upstream::auth::Profile;

/// A gateway session: the Worldox SID it stands for and the cached profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The Worldox SID. Only `session/` holds it, and it leaves only into `upstream/`.
    pub sid: Sid,
    /// The profile LOGON returned.
    pub profile: Profile,
    /// Login time, seconds since the Unix epoch.
    pub created_at: u64,
    /// When the session ends however busy it is, seconds since the Unix epoch.
    pub expires_at: u64,
}

impl Session {
    /// A session starting now that lives at most `absolute` however busy it is.
    pub fn new(sid: Sid, profile: Profile, absolute: Duration) -> Self {
        let now = unix_now();
        Self {
            sid,
            profile,
            created_at: now,
            expires_at: now.saturating_add(absolute.as_secs()),
        }
    }

    /// Time left before the absolute timeout.
    pub fn remaining(&self) -> Duration {
        Duration::from_secs(self.expires_at.saturating_sub(unix_now()))
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The store could not answer (503).
#[derive(Debug, thiserror::Error)]
#[error("the session store is unavailable: {0}")]
pub struct StoreError(pub String);

/// A boxed future, so stores can be used as `dyn SessionStore`.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where sessions live, keyed by the SHA-256 of their token.
///
/// A store applies the idle timeout (reads slide it) and the absolute timeout
/// (`Session::expires_at`) itself: `get` never returns an expired session.
pub trait SessionStore: Send + Sync + std::fmt::Debug {
    /// The live session for `key`, sliding its idle timeout.
    fn get(&self, key: TokenHash) -> StoreFuture<'_, Option<Session>>;
    /// Stores a new session.
    fn insert(&self, key: TokenHash, session: Session) -> StoreFuture<'_, ()>;
    /// Ends a session; returns it if it was live.
    fn remove(&self, key: TokenHash) -> StoreFuture<'_, Option<Session>>;
    /// Whether the store can answer now (for readiness).
    fn ping(&self) -> StoreFuture<'_, ()>;
    /// How many sessions are live (approximate, for metrics).
    fn live_count(&self) -> u64;
}
