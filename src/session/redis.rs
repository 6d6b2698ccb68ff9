//! Sessions in Redis (or Valkey), shared by every replica.
//!
//! A session is a JSON string under `wdgate:session:{hex of SHA-256(token)}`. Its TTL is
//! the idle timeout, clipped to the absolute end; every read slides it, atomically, in
//! one round trip (a small Lua script: GET, then PEXPIREAT min(now + idle, end)).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fred::interfaces::{KeysInterface, LuaInterface};
use fred::types::Expiration;
use fred::types::scripts::Script;

use super::bus::Invalidation;
use super::redis_link::RedisLink;
use super::store::{Session, SessionStore, StoreError, StoreFuture, unix_now};
use super::token::TokenHash;

/// GET the session and slide its expiry to min(ARGV[1], the session's `expires_at`),
/// both in Unix milliseconds. An end in the past deletes the key.
const GET_AND_SLIDE: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then return false end
local at = tonumber(ARGV[1])
local ok, s = pcall(cjson.decode, v)
if ok and type(s) == 'table' and tonumber(s.expires_at) then
  local stop = tonumber(s.expires_at) * 1000
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
        let Some(text) = self.link.call("GET session", call).await? else {
            return Ok(None);
        };
        match serde_json::from_str::<Session>(&text) {
            Ok(session) if session.expires_at > unix_now() => Ok(Some(session)),
            Ok(_) => Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, "an unreadable session record was ignored");
                Ok(None)
            }
        }
    }

    /// Stores a session with TTL min(idle, time to its absolute end).
    pub async fn put_session(&self, key: TokenHash, session: &Session) -> Result<(), StoreError> {
        let ttl = millis(self.idle.min(session.remaining()));
        if ttl == 0 {
            // Already past its absolute end: there is nothing to keep.
            return Ok(());
        }
        let text = serde_json::to_string(session)
            .map_err(|e| StoreError(format!("cannot encode a session: {e}")))?;
        let redis_key = RedisLink::key("session", key);
        let call = self.link.client().set::<(), _, _>(
            redis_key,
            text,
            Some(Expiration::PX(ttl)),
            None,
            false,
        );
        self.link.call("SET session", call).await
    }

    /// Deletes a session and tells every replica; returns it if it was live.
    pub async fn delete_session(&self, key: TokenHash) -> Result<Option<Session>, StoreError> {
        let old = self
            .link
            .delete_and_announce(RedisLink::key("session", key), Invalidation::Session(key))
            .await?;
        Ok(old
            .and_then(|text| serde_json::from_str::<Session>(&text).ok())
            .filter(|s| s.expires_at > unix_now()))
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
