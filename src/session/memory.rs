//! The in-process session store: a bounded moka cache with idle and absolute expiry.

use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;

use super::store::{Session, SessionStore, StoreFuture};
use super::token::{TokenCache, TokenHash, TokenHashState};

/// Sessions in a moka cache: least recently used evicted beyond `capacity`, each entry
/// expiring after `idle` without reads or at its absolute end, whichever is first.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    cache: TokenCache<Session>,
}

/// Per-entry expiry: the idle timeout, clipped to the session's absolute end.
#[derive(Debug)]
struct SessionExpiry {
    idle: Duration,
}

impl SessionExpiry {
    fn ttl(&self, session: &Session) -> Duration {
        self.idle.min(session.remaining())
    }
}

impl Expiry<TokenHash, Session> for SessionExpiry {
    fn expire_after_create(
        &self,
        _: &TokenHash,
        session: &Session,
        _: Instant,
    ) -> Option<Duration> {
        Some(self.ttl(session))
    }

    fn expire_after_read(
        &self,
        _: &TokenHash,
        session: &Session,
        _: Instant,
        _: Option<Duration>,
        _: Instant,
    ) -> Option<Duration> {
        Some(self.ttl(session))
    }

    fn expire_after_update(
        &self,
        _: &TokenHash,
        session: &Session,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.ttl(session))
    }
}

impl MemoryStore {
    /// A store holding at most `capacity` sessions.
    pub fn new(capacity: u64, idle: Duration) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(capacity)
                .expire_after(SessionExpiry { idle })
                .build_with_hasher(TokenHashState),
        }
    }
}

impl SessionStore for MemoryStore {
    fn get(&self, key: TokenHash) -> StoreFuture<'_, Option<Session>> {
        Box::pin(async move { Ok(self.cache.get(&key).await) })
    }

    fn insert(&self, key: TokenHash, session: Session) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.cache.insert(key, session).await;
            Ok(())
        })
    }

    fn remove(&self, key: TokenHash) -> StoreFuture<'_, Option<Session>> {
        Box::pin(async move { Ok(self.cache.remove(&key).await) })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn live_count(&self) -> u64 {
        self.cache.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::token::Token;
    use crate::upstream::Sid;
    use crate::upstream::auth::Profile;

    fn session(absolute: Duration) -> Session {
        let profile = Profile {
            username: "u".to_owned(),
            name: "U".to_owned(),
            email: "u@example.com".to_owned(),
            firm: "F".to_owned(),
        };
        Session::new(Sid::new("s$2F"), profile, absolute)
    }

    fn key() -> TokenHash {
        Token::generate().expect("rng").hash()
    }

    #[tokio::test]
    async fn insert_get_remove() {
        let store = MemoryStore::new(10, Duration::from_secs(60));
        let k = key();
        store
            .insert(k, session(Duration::from_secs(600)))
            .await
            .expect("insert");
        assert!(store.get(k).await.expect("get").is_some());
        assert!(store.get(key()).await.expect("get").is_none());
        assert!(store.remove(k).await.expect("remove").is_some());
        assert!(store.get(k).await.expect("get").is_none());
    }

    #[tokio::test]
    async fn a_session_past_its_absolute_end_is_gone() {
        let store = MemoryStore::new(10, Duration::from_secs(60));
        let k = key();
        store
            .insert(k, session(Duration::ZERO))
            .await
            .expect("insert");
        assert!(store.get(k).await.expect("get").is_none());
    }
}
