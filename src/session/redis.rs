//! Sessions in Redis (or Valkey), shared by every replica.
//!
//! A session is stored under `wdgate:session:{hex of SHA-256(token)}` as
//! `{absolute end, Unix seconds}.{sealed JSON}`: the record is sealed (`sealed.rs`), and
//! the end it already holds is repeated in clear in front so a Lua script can read it.
//! Its TTL is the idle timeout, clipped to the absolute end; every read slides it,
//! atomically, in one round trip (GET, then PEXPIREAT min(now + idle, end)). The clear
//! end must match the sealed one, so editing it does not lengthen a session.
//!
//! Each user's sessions are indexed in a sorted set,
//! `wdgate:user-sessions:{<blind(owner)>}` (the owner's name is HMAC-blinded, never in
//! clear; the braces are a Cluster hash tag): members are the sessions' token-hash hex,
//! scores their absolute ends in Unix milliseconds (so the oldest ranks first). A login adds its member, drops those past their end and
//! sets the set to expire with its latest member, in one script on that one key (so it
//! runs in Cluster); beyond `session.max_sessions_per_user` live members the oldest
//! sessions are ended. A logout removes its member; a listing reads the members still
//! before their end, GETs their records in one pipeline (GET does not slide a TTL) and
//! removes the members whose record is gone (idled out or evicted). So the set holds at
//! most `max_sessions_per_user` members plus those ended since the last login or
//! listing, and never outlives its last session.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fred::interfaces::{ClientLike, KeysInterface, LuaInterface};
use fred::types::scripts::Script;
use fred::types::{ClusterHash, CustomCommand, Expiration, SetOptions, Value};

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

/// On an owner's index (KEYS[1]): drop the members whose end (score, Unix
/// milliseconds) is at or before ARGV[1], add member ARGV[3] with score ARGV[2], expire
/// the set with its latest member; returns how many members it holds.
const INDEX_ADD: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', tonumber(last[2])))
return redis.call('ZCARD', KEYS[1])
";

/// The Redis session store (no in-memory layer; see `TieredStore` for that).
#[derive(Debug, Clone)]
pub struct RedisStore {
    link: RedisLink,
    idle: Duration,
    max_per_user: usize,
    script: ScriptHandle,
    index_add: ScriptHandle,
}

/// The Lua script (its SHA-1, for EVALSHA) and its source, for EVAL.
#[derive(Clone)]
struct ScriptHandle(Script, &'static str);

impl std::fmt::Debug for ScriptHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Script({})", self.0.sha1())
    }
}

impl RedisStore {
    /// A store on `link` whose sessions end after `idle` without reads, at most
    /// `max_per_user` of them per owner.
    pub fn new(link: RedisLink, idle: Duration, max_per_user: usize) -> Self {
        Self {
            link,
            idle,
            max_per_user: max_per_user.max(1),
            script: ScriptHandle(Script::from_lua(GET_AND_SLIDE), GET_AND_SLIDE),
            index_add: ScriptHandle(Script::from_lua(INDEX_ADD), INDEX_ADD),
        }
    }

    /// The key of `owner`'s index.
    fn index_key(&self, owner: &str) -> String {
        format!(
            "{}user-sessions:{{{}}}",
            super::redis_link::KEY_PREFIX,
            self.link.sealer().blind(owner)
        )
    }

    /// Runs `script` by its SHA-1, loading it when the server does not know it yet.
    async fn run_script<R, K, A>(
        &self,
        what: &'static str,
        script: &ScriptHandle,
        keys: K,
        args: A,
    ) -> Result<R, StoreError>
    where
        R: fred::types::FromValue,
        K: Into<fred::types::MultipleKeys> + Clone + Send,
        A: TryInto<fred::types::MultipleValues> + Clone + Send,
        A::Error: Into<fred::error::Error> + Send,
    {
        let client = self.link.client();
        let sha = script.0.sha1().clone();
        let call = async {
            match client
                .evalsha::<R, _, _, _>(sha, keys.clone(), args.clone())
                .await
            {
                Err(e) if e.details().starts_with("NOSCRIPT") => {
                    client.eval(script.1, keys, args).await
                }
                other => other,
            }
        };
        self.link.call(what, call).await
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

    /// Stores a session with TTL min(idle, time to its absolute end) and indexes it
    /// under its owner; returns the owner's oldest sessions it ended to stay within
    /// `max_per_user`.
    pub async fn put_session(
        &self,
        key: TokenHash,
        session: &Session,
    ) -> Result<Vec<Session>, StoreError> {
        if !self.write_record(key, session).await? {
            return Ok(Vec::new());
        }
        let owner = session.owner();
        let index = self.index_key(&owner);
        // The end to the millisecond (the session was made just now), so logins within
        // one second still rank oldest first.
        let now = unix_millis();
        let lifetime = session.expires_at.saturating_sub(session.created_at);
        let end =
            now.saturating_add(i64::try_from(lifetime.saturating_mul(1000)).unwrap_or(i64::MAX));
        let args = vec![now.to_string(), end.to_string(), key.to_hex()];
        let held: i64 = self
            .run_script("index a session", &self.index_add, index.clone(), args)
            .await?;
        if usize::try_from(held).unwrap_or(usize::MAX) <= self.max_per_user {
            return Ok(Vec::new());
        }
        self.trim_index(&owner, &index, key).await
    }

    /// The owner's index holds more than `max_per_user` members: drops those whose
    /// record is gone, then ends the oldest live ones (never `newest`) until it fits.
    async fn trim_index(
        &self,
        owner: &str,
        index: &str,
        newest: TokenHash,
    ) -> Result<Vec<Session>, StoreError> {
        let members = self.live_members(index).await?;
        let (live, dead) = self.sort_out(owner, members).await?;
        self.forget_members(index, dead).await?;
        let excess = live.len().saturating_sub(self.max_per_user);
        let mut ended = Vec::with_capacity(excess);
        for (old, _) in live.into_iter().filter(|(k, _)| *k != newest).take(excess) {
            if let Some(session) = self.delete_session(old).await? {
                ended.push(session);
            }
        }
        Ok(ended)
    }

    /// The members of `index` before their end, oldest first.
    async fn live_members(&self, index: &str) -> Result<Vec<String>, StoreError> {
        let command = CustomCommand::new("ZRANGEBYSCORE", ClusterHash::FirstKey, false);
        let args = vec![
            Value::from(index),
            Value::from(format!("({}", unix_millis())),
            Value::from("+inf"),
        ];
        let call = self.link.client().custom::<Vec<String>, _>(command, args);
        self.link.call("ZRANGEBYSCORE sessions", call).await
    }

    /// Reads the records of `members` in one pipeline (GET: no TTL slides) and splits
    /// them into the live sessions of `owner` and the members to forget.
    async fn sort_out(
        &self,
        owner: &str,
        members: Vec<String>,
    ) -> Result<(Vec<(TokenHash, Session)>, Vec<String>), StoreError> {
        if members.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let keys: Vec<Option<TokenHash>> = members.iter().map(|m| TokenHash::from_hex(m)).collect();
        let mut records = self.read_records(&keys).await?.into_iter();
        let (mut live, mut dead) = (Vec::new(), Vec::new());
        for (member, key) in members.into_iter().zip(keys) {
            let Some(key) = key else {
                dead.push(member);
                continue;
            };
            let session = records
                .next()
                .flatten()
                .and_then(|stored| self.open(&RedisLink::key("session", key), &stored))
                // A member planted in another user's index is not theirs to see or end.
                .filter(|s| s.owner() == owner);
            match session {
                Some(session) => live.push((key, session)),
                None => dead.push(member),
            }
        }
        Ok((live, dead))
    }

    /// The stored records of `keys` (the `Some` ones, in order), in one pipeline.
    async fn read_records(
        &self,
        keys: &[Option<TokenHash>],
    ) -> Result<Vec<Option<String>>, StoreError> {
        if keys.iter().all(Option::is_none) {
            return Ok(Vec::new());
        }
        let pipeline = self.link.client().pipeline();
        let queue = async {
            for key in keys.iter().flatten() {
                let () = pipeline.get(RedisLink::key("session", *key)).await?;
            }
            // One result per GET, however many there are (`all` would answer one GET
            // with a bare value).
            Ok(pipeline.try_all::<Option<String>>().await)
        };
        let results = self.link.call("GET sessions", queue).await?;
        results
            .into_iter()
            .map(|r| r.map_err(|e| StoreError(format!("redis GET sessions: {e}"))))
            .collect()
    }

    /// Removes `members` from `index`.
    async fn forget_members(&self, index: &str, members: Vec<String>) -> Result<(), StoreError> {
        if members.is_empty() {
            return Ok(());
        }
        let command = CustomCommand::new("ZREM", ClusterHash::FirstKey, false);
        let mut args = vec![Value::from(index)];
        args.extend(members.into_iter().map(Value::from));
        let call = self.link.client().custom::<i64, _>(command, args);
        self.link.call("ZREM sessions", call).await.map(drop)
    }

    /// Every live session of `owner`, pruning the index of ended ones.
    pub async fn owner_sessions(
        &self,
        owner: &str,
    ) -> Result<Vec<(TokenHash, Session)>, StoreError> {
        let index = self.index_key(owner);
        let members = self.live_members(&index).await?;
        let (live, dead) = self.sort_out(owner, members).await?;
        self.forget_members(&index, dead).await?;
        Ok(live)
    }

    /// Rewrites a live session's record (its new `last_seen_at`) keeping its TTL; a
    /// record that is gone stays gone (`SET … XX KEEPTTL`).
    pub async fn touch_session(&self, key: TokenHash, session: &Session) -> Result<(), StoreError> {
        let redis_key = RedisLink::key("session", key);
        let sealed = self.link.sealer().seal_json(&redis_key, session)?;
        let record = format!("{}.{sealed}", session.expires_at);
        let call = self.link.client().set::<Value, _, _>(
            redis_key,
            record,
            Some(Expiration::KEEPTTL),
            Some(SetOptions::XX),
            false,
        );
        self.link.call("SET session XX", call).await.map(drop)
    }

    /// SETs the record; `false` when the session is already past its absolute end.
    async fn write_record(&self, key: TokenHash, session: &Session) -> Result<bool, StoreError> {
        let ttl = millis(self.idle.min(session.remaining()));
        if ttl == 0 {
            // Already past its absolute end: there is nothing to keep.
            return Ok(false);
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
        self.link.call("SET session", call).await?;
        Ok(true)
    }

    /// Deletes a session, tells every replica and takes it out of its owner's index;
    /// returns it if it was live.
    pub async fn delete_session(&self, key: TokenHash) -> Result<Option<Session>, StoreError> {
        let redis_key = RedisLink::key("session", key);
        let old = self
            .link
            .delete_and_announce(redis_key.clone(), Invalidation::Session(key))
            .await?;
        let session = old.and_then(|stored| self.open(&redis_key, &stored));
        if let Some(session) = &session {
            self.forget_members(&self.index_key(&session.owner()), vec![key.to_hex()])
                .await?;
        }
        Ok(session)
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
    fn get(&self, key: TokenHash) -> StoreFuture<'_, Option<Arc<Session>>> {
        Box::pin(async move { Ok(self.get_session(key).await?.map(Arc::new)) })
    }

    fn insert(&self, key: TokenHash, session: Session) -> StoreFuture<'_, Vec<Session>> {
        Box::pin(async move { self.put_session(key, &session).await })
    }

    fn touch(&self, key: TokenHash, session: Session) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.touch_session(key, &session).await })
    }

    fn list_owner<'a>(&'a self, owner: &'a str) -> StoreFuture<'a, Vec<(TokenHash, Session)>> {
        Box::pin(self.owner_sessions(owner))
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
