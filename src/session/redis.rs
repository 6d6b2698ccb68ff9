//! Sessions in Redis (or Valkey), shared by every replica.
//!
//! A session is stored under `wdgate:session:{hex of SHA-256(token)}` as
//! `{absolute end, Unix seconds}.{sealed JSON}`: the record is sealed (`sealed.rs`), and
//! the end it already holds is repeated in clear in front so a Lua script can read it.
//! Its TTL is the idle timeout, clipped to the absolute end; every read slides it,
//! atomically, in one round trip (GET, then PEXPIREAT min(now + idle, end)). The clear
//! end must match the sealed one, so editing it does not lengthen a session.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fred::interfaces::{KeysInterface, LuaInterface};
use fred::types::Expiration;
use fred::types::scripts::Script;

use super::bus::Invalidation;
use super::redis_link::RedisLink;
use super::store::{Session, SessionStore, StoreError, StoreFuture, unix_now};
use super::token::TokenHash;

/// GET the session and slide its expiry to min(ARGV[1], the end written in clear before
/// the first `.`), both in Unix milliseconds. An end in the past deletes the key.
const GET_AND_SLIDE: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then return false end
local at = tonumber(ARGV[1])
local dot = string.find(v, '.', 1, true)
local stop = dot and tonumber(string.sub(v, 1, dot - 1))
if stop then
  stop = stop * 1000
  if stop < at then at = stop end
end
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', at))
return v
";

/// The Redis session store (no in-memory layer; see `TieredStore` for that).
#[derive(Debug, Clone)]
pub struct RedisStore {
    link: RedisLink,
    idle: Duration,
    script: ScriptHandle,
}

/// The Lua script and its SHA-1, for EVALSHA.
#[derive(Clone)]
struct ScriptHandle(Script);

impl std::fmt::Debug for ScriptHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Script({})", self.0.sha1())
    }
}

impl RedisStore {
    /// A store on `link` whose sessions end after `idle` without reads.
    pub fn new(link: RedisLink, idle: Duration) -> Self {
        Self {
            link,
            idle,
            script: ScriptHandle(Script::from_lua(GET_AND_SLIDE)),
        }
    }

    /// The shared connection.
    pub fn link(&self) -> &RedisLink {
        &self.link
    }

    /// The live session, its TTL slid.
    pub async fn get_session(&self, key: TokenHash) -> Result<Option<Session>, StoreError> {
        let redis_key = RedisLink::key("session", key);
        let slide_to = unix_millis().saturating_add(millis(self.idle));
        let client = self.link.client();
        let sha = self.script.0.sha1().clone();
        let call = async {
            match client
                .evalsha::<Option<String>, _, _, _>(sha, redis_key.clone(), slide_to)
                .await
            {
                // The server has not seen the script yet (or restarted): EVAL loads it.
                Err(e) if e.details().starts_with("NOSCRIPT") => {
                    client
                        .eval(GET_AND_SLIDE, redis_key.clone(), slide_to)
                        .await
                }
                other => other,
            }
        };
        let Some(stored) = self.link.call("GET session", call).await? else {
            return Ok(None);
        };
        Ok(self.open(&redis_key, &stored))
    }

    /// Stores a session with TTL min(idle, time to its absolute end).
    pub async fn put_session(&self, key: TokenHash, session: &Session) -> Result<(), StoreError> {
        let ttl = millis(self.idle.min(session.remaining()));
        if ttl == 0 {
            // Already past its absolute end: there is nothing to keep.
            return Ok(());
        }
        let redis_key = RedisLink::key("session", key);
        let sealed = self.link.sealer().seal_json(&redis_key, session)?;
        let record = format!("{}.{sealed}", session.expires_at);
        let call = self.link.client().set::<(), _, _>(
            redis_key,
            record,
            Some(Expiration::PX(ttl)),
            None,
            false,
        );
        self.link.call("SET session", call).await
    }

    /// Deletes a session and tells every replica; returns it if it was live.
    pub async fn delete_session(&self, key: TokenHash) -> Result<Option<Session>, StoreError> {
        let redis_key = RedisLink::key("session", key);
        let old = self
            .link
            .delete_and_announce(redis_key.clone(), Invalidation::Session(key))
            .await?;
        Ok(old.and_then(|stored| self.open(&redis_key, &stored)))
    }

    /// The live session in a stored record; `None` (logged, without the value) when it
    /// does not open, its clear end disagrees with the sealed one, or it has ended.
    fn open(&self, redis_key: &str, stored: &str) -> Option<Session> {
        let Some((end, sealed)) = stored.split_once('.') else {
            tracing::warn!(
                record = "wdgate:session",
                "a session record without its end was ignored"
            );
            return None;
        };
        let session: Session = self.link.sealer().open_json(redis_key, sealed)?;
        if end.parse::<u64>().ok() != Some(session.expires_at) {
            tracing::warn!(
                record = "wdgate:session",
                "a session record whose clear end was edited was ignored"
            );
            return None;
        }
        (session.expires_at > unix_now()).then_some(session)
    }
}

impl SessionStore for RedisStore {
    fn get(&self, key: TokenHash) -> StoreFuture<'_, Option<Session>> {
        Box::pin(self.get_session(key))
    }

    fn insert(&self, key: TokenHash, session: Session) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.put_session(key, &session).await })
    }

    fn remove(&self, key: TokenHash) -> StoreFuture<'_, Option<Session>> {
        Box::pin(self.delete_session(key))
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(self.link.ping())
    }

    /// Sessions live in Redis, shared by every replica; this replica does not count them.
    fn live_count(&self) -> u64 {
        0
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}
