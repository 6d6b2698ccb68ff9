//! The fleet's sliding windows in Redis: one sorted set of event stamps per subject,
//! checked and updated for every limit of a request in one atomic Lua script.
//!
//! Keys are `wdgate:{limits}:<kind>:<hex of the subject's HMAC>`; members are random
//! nonces, scores the Redis server's clock in microseconds (one clock for every
//! replica). Each set expires one window after its last event, and holds at most
//! `max` members (refused checks add none), so nothing grows without bound. The
//! `{limits}` hash tag keeps every key of a check in one Redis Cluster slot.

use fred::interfaces::ClientLike;
use fred::types::scripts::Script;

use super::{Hit, Refusal};
use crate::session::{RedisLink, StoreError};

/// Checks every key (ARGV: a nonce, then each key's max and window in milliseconds),
/// then adds the nonce to all of them, or to none when one is full. Returns
/// `{0, 0, nonce}` when admitted, `{i, wait_ms, ''}` when KEYS[i] refused with the
/// longest wait. (`replicate_commands` lets Redis before 5 replicate the effects
/// of a script that reads the clock; later versions always do.)
const ADMIT: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local refused, wait = 0, -1
for i, key in ipairs(KEYS) do
  local max = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1]) * 1000
  redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.0f', now - window))
  local count = redis.call('ZCARD', key)
  if count >= max then
    local freeing = redis.call('ZRANGE', key, count - max, count - max, 'WITHSCORES')
    local w = tonumber(freeing[2]) + window - now
    if w > wait then refused, wait = i, w end
  end
end
if refused > 0 then
  return {refused, math.ceil(wait / 1000), ''}
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, string.format('%.0f', now), ARGV[1])
  redis.call('PEXPIRE', key, ARGV[2 * i + 1])
end
return {0, 0, ARGV[1]}
";

/// Removes the member ARGV[1] from every key.
const REFUND: &str = r"
for _, key in ipairs(KEYS) do
  redis.call('ZREM', key, ARGV[1])
end
return 0
";

/// Sliding windows in Redis.
#[derive(Clone)]
pub struct RedisWindows {
    link: RedisLink,
    admit: Script,
    refund: Script,
}

impl std::fmt::Debug for RedisWindows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisWindows")
            .field("admit", self.admit.sha1())
            .finish_non_exhaustive()
    }
}

impl RedisWindows {
    /// Windows kept through `link`.
    pub fn new(link: RedisLink) -> Self {
        Self {
            link,
            admit: Script::from_lua(ADMIT),
            refund: Script::from_lua(REFUND),
        }
    }

    /// The Redis key of a hit.
    pub fn key(hit: &Hit) -> String {
        format!(
            "{}{{limits}}:{}:{}",
            crate::session::redis_link::KEY_PREFIX,
            hit.rule.kind.name(),
            hit.digest.to_hex()
        )
    }

    /// Counts one event against every hit, or none; `Ok(Err(_))` is a refusal, `Err`
    /// means Redis did not answer. One round trip (EVALSHA, loading the script first
    /// when the server does not have it).
    pub async fn admit(&self, hits: &[Hit]) -> Result<Result<String, Refusal>, StoreError> {
        if !self.link.client().is_connected() {
            // Down or reconnecting: answer now rather than after the call's timeout.
            return Err(StoreError(
                "limits check: not connected to Redis".to_owned(),
            ));
        }
        let keys: Vec<String> = hits.iter().map(Self::key).collect();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let mut args = Vec::with_capacity(1 + 2 * hits.len());
        args.push(nonce);
        for hit in hits {
            args.push(hit.rule.max.to_string());
            args.push(millis(hit.rule.window).to_string());
        }
        let client = self.link.client();
        let call = self
            .admit
            .evalsha_with_reload::<(i64, i64, String), _, _>(client, keys, args);
        let (refused, wait_ms, member) = self.link.call("limits check", call).await?;
        if refused == 0 {
            return Ok(Ok(member));
        }
        let hit = usize::try_from(refused - 1)
            .ok()
            .and_then(|i| hits.get(i))
            .ok_or_else(|| StoreError(format!("limits check: no key {refused}")))?;
        Ok(Err(Refusal {
            kind: hit.rule.kind,
            retry_after: std::time::Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0)),
        }))
    }

    /// Removes the event `member` from each of `hits`.
    pub async fn refund(&self, hits: &[&Hit], member: &str) -> Result<(), StoreError> {
        let keys: Vec<String> = hits.iter().map(|h| Self::key(h)).collect();
        let client = self.link.client();
        let call =
            self.refund
                .evalsha_with_reload::<i64, _, _>(client, keys, vec![member.to_owned()]);
        self.link.call("limits refund", call).await.map(drop)
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{Kind, Rule, SubjectKey};
    use super::*;

    #[test]
    fn keys_carry_the_kind_and_the_digest_only_in_one_cluster_slot() {
        let key = SubjectKey::from_secret(b"redis-windows-test-key");
        let hit = Hit {
            rule: Rule {
                kind: Kind::SendAddress,
                max: 5,
                window: Duration::from_secs(900),
            },
            digest: key.digest(Kind::SendAddress, &[b"+15516555721"]),
        };
        let k = RedisWindows::key(&hit);
        assert!(k.starts_with("wdgate:{limits}:send_address:"), "{k}");
        assert_eq!(k.len(), "wdgate:{limits}:send_address:".len() + 32);
        assert!(!k.contains("5516555721"));
    }
}
