//! What a session is and the interface every session store implements.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::session_id::SessionId;
use super::token::TokenHash;
use crate::limits::login::normalize_username;
use crate::upstream::Sid;
use crate::upstream::auth::Profile;

/// A gateway session: the Worldox SID it stands for, the cached profile, and what the
/// user sees of it in `GET /me/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The opaque id the user names the session by (neither the token nor its hash).
    /// Records written before ids existed open with an empty one and are not listed.
    #[serde(default)]
    pub id: SessionId,
    /// The Worldox SID. Only `session/` holds it, and it leaves only into `upstream/`.
    pub sid: Sid,
    /// The profile LOGON returned.
    pub profile: Profile,
    /// Login time, seconds since the Unix epoch.
    pub created_at: u64,
    /// Last time a request used the session, seconds since the Unix epoch, written at
    /// most once per `session.last_seen_interval_secs`.
    #[serde(default)]
    pub last_seen_at: u64,
    /// When the session ends however busy it is, seconds since the Unix epoch.
    pub expires_at: u64,
    /// The client IP that logged in (as `server.trusted_proxies` resolves it).
    #[serde(default)]
    pub client_ip: Option<IpAddr>,
    /// The `User-Agent` that logged in, trimmed ([`trim_user_agent`]).
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// Longest user agent kept, in characters.
pub const MAX_USER_AGENT_CHARS: usize = 200;

impl Session {
    /// A session `id` starting now that lives at most `absolute` however busy it is.
    pub fn new(id: SessionId, sid: Sid, profile: Profile, absolute: Duration) -> Self {
        let now = unix_now();
        Self {
            id,
            sid,
            profile,
            created_at: now,
            last_seen_at: now,
            expires_at: now.saturating_add(absolute.as_secs()),
            client_ip: None,
            user_agent: None,
        }
    }

    /// The same session, noting where the login came from.
    #[must_use]
    pub fn from_client(mut self, client_ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        self.client_ip = client_ip;
        self.user_agent = user_agent.and_then(trim_user_agent);
        self
    }

    /// Time left before the absolute timeout.
    pub fn remaining(&self) -> Duration {
        Duration::from_secs(self.expires_at.saturating_sub(unix_now()))
    }

    /// The key of the owner's session index: the username as limits count it (trimmed,
    /// lowercase), so `Alice` and `alice ` share one index.
    pub fn owner(&self) -> String {
        normalize_username(&self.profile.username)
    }
}

/// A user agent as a session keeps it: control characters removed, surrounding space
/// trimmed, at most [`MAX_USER_AGENT_CHARS`] characters; `None` when nothing is left.
pub fn trim_user_agent(text: &str) -> Option<String> {
    let kept: String = text
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(MAX_USER_AGENT_CHARS)
        .collect();
    let kept = kept.trim_end().to_owned();
    (!kept.is_empty()).then_some(kept)
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

/// Where sessions live, keyed by the SHA-256 of their token, with a per-user index.
///
/// A store applies the idle timeout (reads slide it) and the absolute timeout
/// (`Session::expires_at`) itself: `get` never returns an expired session. It keeps
/// an index of each user's sessions ([`Session::owner`]) in step with them: an ended
/// or expired session leaves it (at once, or when next read), and it holds at most
/// `session.max_sessions_per_user` sessions (a login beyond it ends the oldest).
pub trait SessionStore: Send + Sync + std::fmt::Debug {
    /// The live session for `key`, sliding its idle timeout; shared with the store's
    /// own copy where it keeps one in memory, so a read copies nothing.
    fn get(&self, key: TokenHash) -> StoreFuture<'_, Option<Arc<Session>>>;
    /// Stores a new session and indexes it under its owner; returns the owner's oldest
    /// sessions it ended to stay within `session.max_sessions_per_user` (their Worldox
    /// sessions are the caller's to log off).
    fn insert(&self, key: TokenHash, session: Session) -> StoreFuture<'_, Vec<Session>>;
    /// Saves a live session's new `last_seen_at` without sliding or lengthening it; a
    /// session that ended meanwhile stays ended.
    fn touch(&self, key: TokenHash, session: Session) -> StoreFuture<'_, ()>;
    /// Every live session of `owner` (a [`Session::owner`] key), with its store key,
    /// from the index; entries whose session has ended are pruned on the way. Reading
    /// does not slide any session's idle timeout.
    fn list_owner<'a>(&'a self, owner: &'a str) -> StoreFuture<'a, Vec<(TokenHash, Session)>>;
    /// Ends a session (everywhere, for a shared store); returns it if it was live.
    fn remove(&self, key: TokenHash) -> StoreFuture<'_, Option<Session>>;
    /// Whether the store can answer now (for readiness).
    fn ping(&self) -> StoreFuture<'_, ()>;
    /// How many sessions are live (approximate, for metrics).
    fn live_count(&self) -> u64;
}
