//! Redis sessions with a short-lived in-process L1 in front.
//!
//! Most requests are answered from the L1 (a moka cache whose entries live
//! `session.l1_ttl_ms`); a miss reads Redis, sliding the session's idle TTL there. A
//! logout or an upstream expiry on any replica deletes the session in Redis and
//! publishes an invalidation, and every replica drops its L1 copy when it arrives (a
//! few milliseconds). A replica that misses a message serves its copy at most until the
//! L1 TTL runs out.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use super::bus::{self, Invalidation};
use super::generations::Generations;
use super::redis::RedisStore;
use super::store::{Session, SessionStore, StoreFuture, unix_now};
use super::token::{TokenCache, TokenHash, TokenHashState};

/// Redis behind a moka L1.
#[derive(Debug, Clone)]
pub struct TieredStore {
    /// `None` when `session.l1_ttl_ms` is 0: every read goes to Redis.
    l1: Option<TokenCache<Arc<Session>>>,
    redis: RedisStore,
    /// Bumped for a key on every invalidation of it received, so a read that raced
    /// with one does not put a stale copy back into the L1.
    generations: Arc<Generations>,
}

impl TieredStore {
    /// An L1 of at most `capacity` sessions, each kept `l1_ttl`, in front of `redis`.
    /// Starts the task that applies invalidations (needs a Tokio runtime).
    pub fn new(redis: RedisStore, l1_ttl: Duration, capacity: u64) -> Self {
        let l1 = (!l1_ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(capacity)
                .time_to_live(l1_ttl)
                .build_with_hasher(TokenHashState)
        });
        let store = Self {
            l1,
            redis,
            generations: Arc::new(Generations::default()),
        };
        if let Some(l1) = &store.l1 {
            let listener = store.redis.link().bus().listen();
            tokio::spawn(bus::apply_to_cache(
                listener,
                l1.clone(),
                store.generations.clone(),
                |i| match i {
                    Invalidation::Session(key) => Some(*key),
                    _ => None,
                },
            ));
        }
        store
    }

    async fn get_session(&self, key: TokenHash) -> Result<Option<Arc<Session>>, super::StoreError> {
        let Some(l1) = &self.l1 else {
            return Ok(self.redis.get_session(key).await?.map(Arc::new));
        };
        if let Some(session) = l1.get(&key).await {
            if session.expires_at > unix_now() {
                return Ok(Some(session));
            }
            l1.invalidate(&key).await;
        }
        let before = self.generations.of(&key);
        let session = self.redis.get_session(key).await?.map(Arc::new);
        if let Some(session) = &session {
            l1.insert(key, session.clone()).await;
            // An invalidation that arrived while Redis was answering may be about this
            // session: drop the copy rather than serve it for a whole L1 TTL.
            if self.generations.of(&key) != before {
                l1.invalidate(&key).await;
            }
        }
        Ok(session)
    }
}

impl SessionStore for TieredStore {
    fn get(&self, key: TokenHash) -> StoreFuture<'_, Option<Arc<Session>>> {
        Box::pin(self.get_session(key))
    }

    fn insert(&self, key: TokenHash, session: Session) -> StoreFuture<'_, Vec<Session>> {
        Box::pin(async move {
            // The sessions ended for room were announced, so every L1 drops them.
            let ended = self.redis.put_session(key, &session).await?;
            if let Some(l1) = &self.l1 {
                l1.insert(key, Arc::new(session)).await;
            }
            Ok(ended)
        })
    }

    fn touch(&self, key: TokenHash, session: Session) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let before = self.generations.of(&key);
            self.redis.touch_session(key, &session).await?;
            if let Some(l1) = &self.l1 {
                // Only refresh a copy this replica still holds, and not one an
                // invalidation may have been about meanwhile.
                if l1.contains_key(&key) {
                    l1.insert(key, Arc::new(session)).await;
                    if self.generations.of(&key) != before {
                        l1.invalidate(&key).await;
                    }
                }
            }
            Ok(())
        })
    }

    /// From Redis, which every replica writes; the L1 is not consulted.
    fn list_owner<'a>(&'a self, owner: &'a str) -> StoreFuture<'a, Vec<(TokenHash, Session)>> {
        Box::pin(self.redis.owner_sessions(owner))
    }

    fn remove(&self, key: TokenHash) -> StoreFuture<'_, Option<Session>> {
        Box::pin(async move {
            let local = match &self.l1 {
                Some(l1) => l1.remove(&key).await.map(Arc::unwrap_or_clone),
                None => None,
            };
            let shared = self.redis.delete_session(key).await?;
            Ok(shared.or(local))
        })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        self.redis.ping()
    }

    /// Sessions this replica used within the last L1 TTL (the rest live in Redis).
    fn live_count(&self) -> u64 {
        self.l1.as_ref().map_or(0, Cache::entry_count)
    }
}
