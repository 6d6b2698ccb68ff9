//! The in-process session store: a bounded moka cache with idle and absolute expiry,
//! and the per-user index kept in step with it by moka's eviction listener.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use moka::notification::RemovalCause;
use moka::ops::compute::{CompResult, Op};

use super::store::{Session, SessionStore, StoreFuture};
use super::token::{TokenCache, TokenHash, TokenHashState};

/// Sessions in a moka cache: least recently used evicted beyond `capacity`, each entry
/// expiring after `idle` without reads or at its absolute end, whichever is first.
///
/// The index maps each owner to their sessions, oldest first, at most `max_per_user`
/// of them. Every way a session leaves the cache (removed, expired, evicted for room)
/// reaches moka's eviction listener, which drops its index entry; an entry whose
/// notice is still pending is pruned when the owner's list is read
/// (`contains_key`, which neither reads nor slides the session).
#[derive(Debug, Clone)]
pub struct MemoryStore {
    /// Shared with the requests that read them: a read copies nothing.
    cache: TokenCache<Arc<Session>>,
    index: Arc<Index>,
    max_per_user: usize,
}

/// Owner → their sessions, oldest first: the store key and the session the cache holds
/// (shared with it, not copied).
#[derive(Debug, Default)]
struct Index {
    owners: Mutex<HashMap<String, Owned>>,
}

/// An owner's entries in the index.
type Owned = Vec<(TokenHash, Arc<Session>)>;

impl Index {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Owned>> {
        // The map is consistent after every statement: a panic elsewhere leaves it usable.
        self.owners.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops `key` from `owner`'s list (and the list when it empties).
    fn forget(&self, owner: &str, key: TokenHash) {
        let mut owners = self.lock();
        if let Some(list) = owners.get_mut(owner) {
            list.retain(|(k, _)| *k != key);
            if list.is_empty() {
                owners.remove(owner);
            }
        }
    }
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

impl Expiry<TokenHash, Arc<Session>> for SessionExpiry {
    fn expire_after_create(
        &self,
        _: &TokenHash,
        session: &Arc<Session>,
        _: Instant,
    ) -> Option<Duration> {
        Some(self.ttl(session))
    }

    fn expire_after_read(
        &self,
        _: &TokenHash,
        session: &Arc<Session>,
        _: Instant,
        _: Option<Duration>,
        _: Instant,
    ) -> Option<Duration> {
        Some(self.ttl(session))
    }

    fn expire_after_update(
        &self,
        _: &TokenHash,
        session: &Arc<Session>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.ttl(session))
    }
}

impl MemoryStore {
    /// A store holding at most `capacity` sessions, `max_per_user` of them per owner.
    pub fn new(capacity: u64, idle: Duration, max_per_user: usize) -> Self {
        let index = Arc::new(Index::default());
        let listener_index = index.clone();
        let cache = Cache::builder()
            .max_capacity(capacity)
            .expire_after(SessionExpiry { idle })
            .eviction_listener(move |key: Arc<TokenHash>, session: Arc<Session>, cause| {
                // A touch replaces the value of a session that lives on.
                if cause != RemovalCause::Replaced {
                    listener_index.forget(&session.owner(), *key);
                }
            })
            .build_with_hasher(TokenHashState);
        Self {
            cache,
            index,
            max_per_user: max_per_user.max(1),
        }
    }

    async fn insert_session(&self, key: TokenHash, session: Session) -> Vec<Session> {
        let owner = session.owner();
        // Cached first, so a concurrent listing never prunes the entry as dead.
        let session = Arc::new(session);
        self.cache.insert(key, session.clone()).await;
        let overflow: Vec<TokenHash> = {
            let mut owners = self.index.lock();
            let list = owners.entry(owner).or_default();
            list.retain(|(k, _)| self.cache.contains_key(k));
            list.push((key, session));
            let excess = list.len().saturating_sub(self.max_per_user);
            list.drain(..excess).map(|(k, _)| k).collect()
        };
        let mut ended = Vec::with_capacity(overflow.len());
        for old in overflow {
            if let Some(session) = self.cache.remove(&old).await {
                ended.push(Arc::unwrap_or_clone(session));
            }
        }
        ended
    }

    async fn touch_session(&self, key: TokenHash, session: Session) {
        let owner = session.owner();
        let session = Arc::new(session);
        let put = session.clone();
        let result = self
            .cache
            .entry(key)
            .and_compute_with(|entry| {
                std::future::ready(match entry {
                    Some(_) => Op::Put(put),
                    // Ended meanwhile: stays ended.
                    None => Op::Nop,
                })
            })
            .await;
        if matches!(result, CompResult::ReplacedWith(_)) {
            let mut owners = self.index.lock();
            let entry = owners
                .get_mut(&owner)
                .and_then(|list| list.iter_mut().find(|(k, _)| *k == key));
            if let Some((_, held)) = entry {
                *held = session;
            }
        }
    }

    fn owner_sessions(&self, owner: &str) -> Vec<(TokenHash, Session)> {
        let mut owners = self.index.lock();
        let Some(list) = owners.get_mut(owner) else {
            return Vec::new();
        };
        list.retain(|(k, _)| self.cache.contains_key(k));
        let live = list
            .iter()
            .map(|(k, session)| (*k, Session::clone(session)))
            .collect();
        if list.is_empty() {
            owners.remove(owner);
        }
        live
    }

    /// How many sessions the index holds for every owner together (for tests).
    #[cfg(test)]
    fn indexed(&self) -> usize {
        self.index.lock().values().map(Vec::len).sum()
    }
}

impl SessionStore for MemoryStore {
    fn get(&self, key: TokenHash) -> StoreFuture<'_, Option<Arc<Session>>> {
        Box::pin(async move { Ok(self.cache.get(&key).await) })
    }

    fn insert(&self, key: TokenHash, session: Session) -> StoreFuture<'_, Vec<Session>> {
        Box::pin(async move { Ok(self.insert_session(key, session).await) })
    }

    fn touch(&self, key: TokenHash, session: Session) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.touch_session(key, session).await;
            Ok(())
        })
    }

    fn list_owner<'a>(&'a self, owner: &'a str) -> StoreFuture<'a, Vec<(TokenHash, Session)>> {
        Box::pin(async move { Ok(self.owner_sessions(owner)) })
    }

    fn remove(&self, key: TokenHash) -> StoreFuture<'_, Option<Session>> {
        Box::pin(async move { Ok(self.cache.remove(&key).await.map(Arc::unwrap_or_clone)) })
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
    use crate::session::SessionId;
    use crate::session::token::Token;
    use crate::upstream::Sid;
    use crate::upstream::auth::Profile;

    fn session(absolute: Duration) -> Session {
        session_of("u", absolute)
    }

    fn session_of(username: &str, absolute: Duration) -> Session {
        let profile = Profile {
            username: username.to_owned(),
            name: "U".to_owned(),
            email: "u@example.com".to_owned(),
            firm: "F".to_owned(),
        };
        let id = SessionId::generate().expect("rng");
        Session::new(id, Sid::new("s$2F"), profile, absolute)
    }

    fn key() -> TokenHash {
        Token::generate().expect("rng").hash()
    }

    #[tokio::test]
    async fn insert_get_remove() {
        let store = MemoryStore::new(10, Duration::from_secs(60), 10);
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
        let store = MemoryStore::new(10, Duration::from_secs(60), 10);
        let k = key();
        store
            .insert(k, session(Duration::ZERO))
            .await
            .expect("insert");
        assert!(store.get(k).await.expect("get").is_none());
    }

    #[tokio::test]
    async fn the_index_lists_an_owners_live_sessions_and_forgets_ended_ones() {
        let store = MemoryStore::new(100, Duration::from_secs(60), 10);
        let (a, b, other) = (key(), key(), key());
        let long = Duration::from_secs(600);
        store
            .insert(a, session_of("Alice", long))
            .await
            .expect("insert");
        store
            .insert(b, session_of("alice ", long))
            .await
            .expect("insert");
        store
            .insert(other, session_of("bob", long))
            .await
            .expect("insert");
        let listed = store.list_owner("alice").await.expect("list");
        assert_eq!(listed.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [a, b]);
        store.remove(a).await.expect("remove");
        store.cache.run_pending_tasks().await;
        let listed = store.list_owner("alice").await.expect("list");
        assert_eq!(listed.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [b]);
        assert_eq!(store.indexed(), 2, "the listener dropped the ended one");
        assert!(store.list_owner("carol").await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn an_owner_beyond_the_cap_loses_the_oldest_session() {
        let store = MemoryStore::new(100, Duration::from_secs(60), 2);
        let keys: Vec<TokenHash> = (0..3).map(|_| key()).collect();
        let mut ended = Vec::new();
        for k in &keys {
            let s = session_of("alice", Duration::from_secs(600));
            ended.extend(store.insert(*k, s).await.expect("insert"));
        }
        assert_eq!(ended.len(), 1, "one session made room");
        assert!(
            store.get(keys[0]).await.expect("get").is_none(),
            "the oldest ended"
        );
        let listed = store.list_owner("alice").await.expect("list");
        assert_eq!(
            listed.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            [keys[1], keys[2]]
        );
        store.cache.run_pending_tasks().await;
        assert_eq!(store.indexed(), 2);
    }

    #[tokio::test]
    async fn expired_sessions_leave_the_index_and_a_touch_revives_nothing() {
        let store = MemoryStore::new(100, Duration::from_secs(60), 10);
        let (dead, live) = (key(), key());
        store
            .insert(dead, session_of("alice", Duration::ZERO))
            .await
            .expect("insert");
        store
            .insert(live, session_of("alice", Duration::from_secs(600)))
            .await
            .expect("insert");
        let listed = store.list_owner("alice").await.expect("list");
        assert_eq!(listed.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [live]);
        let mut touched = session_of("alice", Duration::from_secs(600));
        touched.last_seen_at = 42;
        store.touch(dead, touched.clone()).await.expect("touch");
        assert!(store.get(dead).await.expect("get").is_none(), "not revived");
        let mut seen = Arc::unwrap_or_clone(store.get(live).await.expect("get").expect("live"));
        seen.last_seen_at += 7;
        store.touch(live, seen.clone()).await.expect("touch");
        assert_eq!(store.get(live).await.expect("get").as_deref(), Some(&seen));
        let listed = store.list_owner("alice").await.expect("list");
        assert_eq!(
            listed[0].1.last_seen_at, seen.last_seen_at,
            "the index copy too"
        );
        store.cache.run_pending_tasks().await;
        assert_eq!(store.indexed(), 1);
    }
}
