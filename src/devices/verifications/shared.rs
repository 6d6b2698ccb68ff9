//! Verifications in Redis, shared by every replica: ask for a code on one, type it on
//! another, name the device on a third. Each is a hash under
//! `wdgate:verification:{hex of SHA-256(id)}` with the record, the attempts left,
//! whether the code was entered right (`ver`), whether a device write took it
//! (`used`) and how many attempts are still with Worldox (`fly`); small Lua scripts take and give back attempts and claims atomically, so
//! replicas never count the same attempt twice, let one through that is not left, or
//! let two writes use one verification. The key expires with the verification. The
//! record (the upstream `Ref`, the address, the session) is sealed under the key's
//! name; only the counters and flags, which the scripts read, are in clear.

use std::sync::Arc;
use std::time::Duration;

use fred::types::Value;
use fred::types::scripts::Script;
use sha2::{Digest, Sha256};

use super::{ClaimError, Held, Outcome, Record, Settled};
use crate::session::redis_link::KEY_PREFIX;
use crate::session::{RedisLink, StoreError};

/// HSET the record with its attempts, unverified and unused, expiring after ARGV[3]
/// milliseconds.
const START: &str = r"
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'left', ARGV[2], 'used', '0', 'ver', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// The record, the attempts left, used, verified, the milliseconds to expiry and the
/// attempts in flight (falses when unknown; `ver` and `fly` are absent from hashes
/// written before they existed).
const PEEK: &str = r"
local v = redis.call('HMGET', KEYS[1], 'rec', 'left', 'used', 'ver', 'fly')
return {v[1], v[2], v[3], v[4], tostring(redis.call('PTTL', KEYS[1])), v[5]}
";

/// Takes one attempt if one is left and counts it in flight: `{'ok', record, left
/// after}`, or the reason why not (`unknown`, `used`, `verified`, `spent`).
const TAKE: &str = r"
local v = redis.call('HMGET', KEYS[1], 'rec', 'left', 'used', 'ver')
if not v[1] then return {'unknown'} end
if v[3] == '1' then return {'used'} end
if v[4] == '1' then return {'verified'} end
local left = tonumber(v[2]) or 0
if left <= 0 then return {'spent'} end
redis.call('HINCRBY', KEYS[1], 'left', -1)
redis.call('HINCRBY', KEYS[1], 'fly', 1)
return {'ok', v[1], tostring(left - 1)}
";

/// Ends an attempt (ARGV[1]: `right`, `wrong` or `unsent`): no longer in flight; a
/// right code marks it verified and an unsent one gives the attempt back (up to
/// ARGV[2]), unless a write used it. Keeps its expiry (HSET on a key that exists).
/// `{verified, in flight}`, or `{'unknown'}`.
const FINISH: &str = r"
local v = redis.call('HMGET', KEYS[1], 'used', 'ver', 'fly', 'left')
if not v[1] then return {'unknown'} end
local fly = math.max((tonumber(v[3]) or 0) - 1, 0)
redis.call('HSET', KEYS[1], 'fly', tostring(fly))
local ver = v[2] or '0'
if v[1] == '0' then
  if ARGV[1] == 'right' then
    redis.call('HSET', KEYS[1], 'ver', '1')
    ver = '1'
  elseif ARGV[1] == 'unsent' and (tonumber(v[4]) or 0) < tonumber(ARGV[2]) then
    redis.call('HINCRBY', KEYS[1], 'left', 1)
  end
end
return {ver, tostring(fly)}
";

/// Takes a verified one for a write: `{'ok', record}`, or why not (`unknown`, `used`,
/// `spent`: no attempt left and none in flight, `pending`).
const CLAIM: &str = r"
local v = redis.call('HMGET', KEYS[1], 'rec', 'left', 'used', 'ver', 'fly')
if not v[1] then return {'unknown'} end
if v[3] == '1' then return {'used'} end
if v[4] ~= '1' then
  if (tonumber(v[2]) or 0) <= 0 and (tonumber(v[5]) or 0) <= 0 then return {'spent'} end
  return {'pending'}
end
redis.call('HSET', KEYS[1], 'used', '1')
return {'ok', v[1]}
";

/// Gives a claimed, verified one back after a failed write.
const RELEASE: &str = r"
if redis.call('HGET', KEYS[1], 'ver') == '1' then redis.call('HSET', KEYS[1], 'used', '0') end
return 1
";

/// Gives an attempt back, up to ARGV[1], unless it was used.
const REFUND: &str = r"
local v = redis.call('HMGET', KEYS[1], 'left', 'used')
if v[1] and v[2] ~= '1' and tonumber(v[1]) < tonumber(ARGV[1]) then
  redis.call('HINCRBY', KEYS[1], 'left', 1)
end
return 1
";

/// The Redis side of [`super::Verifications`].
#[derive(Clone)]
pub struct SharedVerifications {
    link: RedisLink,
    ttl: Duration,
    scripts: Arc<Scripts>,
}

struct Scripts {
    start: Script,
    peek: Script,
    take: Script,
    finish: Script,
    claim: Script,
    release: Script,
    refund: Script,
}

impl std::fmt::Debug for SharedVerifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedVerifications")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl SharedVerifications {
    /// Verifications on `link` that expire after `ttl`.
    pub fn new(link: RedisLink, ttl: Duration) -> Self {
        Self {
            link,
            ttl,
            scripts: Arc::new(Scripts {
                start: Script::from_lua(START),
                peek: Script::from_lua(PEEK),
                take: Script::from_lua(TAKE),
                finish: Script::from_lua(FINISH),
                claim: Script::from_lua(CLAIM),
                release: Script::from_lua(RELEASE),
                refund: Script::from_lua(REFUND),
            }),
        }
    }

    pub(super) async fn start(
        &self,
        id: &str,
        record: &Record,
        attempts: u32,
    ) -> Result<(), StoreError> {
        let text = self.link.sealer().seal_json(&key(id), record)?;
        let ttl = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        let args = vec![text, attempts.to_string(), ttl.to_string()];
        self.run("START verification", &self.scripts.start, id, args)
            .await
            .map(drop)
    }

    /// What the store holds for `id`, if anything (and its record opens).
    pub(super) async fn peek(&self, id: &str) -> Result<Option<Held>, StoreError> {
        let reply = self
            .run("PEEK verification", &self.scripts.peek, id, Vec::new())
            .await?;
        let mut fields = reply.into_iter().map(|v| v.as_string());
        let (Some(Some(text)), Some(left), Some(used), Some(verified), Some(pttl)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Ok(None);
        };
        let in_flight = fields.next().flatten().and_then(|f| f.parse().ok());
        let left = left.and_then(|l| l.parse().ok()).unwrap_or(0);
        let millis = pttl.and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
        Ok(self.read_record(id, &text).map(|record| Held {
            record,
            left,
            used: used.as_deref() == Some("1"),
            verified: verified.as_deref() == Some("1"),
            in_flight: in_flight.unwrap_or(0),
            expires_in: Duration::from_millis(millis),
        }))
    }

    /// Takes one attempt: the record and the attempts left after it.
    pub(super) async fn take_attempt(
        &self,
        id: &str,
    ) -> Result<Result<(Record, u32), ClaimError>, StoreError> {
        let reply = self
            .run("TAKE verification", &self.scripts.take, id, Vec::new())
            .await?;
        let mut fields = reply.into_iter().map(|v| v.as_string().unwrap_or_default());
        Ok(match fields.next().as_deref() {
            Some("ok") => {
                let record = fields.next().and_then(|text| self.read_record(id, &text));
                let left = fields.next().and_then(|l| l.parse().ok()).unwrap_or(0);
                record.map(|r| (r, left)).ok_or(ClaimError::Unknown)
            }
            Some("used") => Err(ClaimError::Used),
            Some("verified") => Err(ClaimError::Verified),
            Some("spent") => Err(ClaimError::Spent),
            _ => Err(ClaimError::Unknown),
        })
    }

    /// Ends an attempt: where the verification stands after it.
    pub(super) async fn finish(
        &self,
        id: &str,
        outcome: Outcome,
        attempts: u32,
    ) -> Result<Result<Settled, ClaimError>, StoreError> {
        let outcome = match outcome {
            Outcome::Right => "right",
            Outcome::Wrong => "wrong",
            Outcome::NotSent => "unsent",
        };
        let args = vec![outcome.to_owned(), attempts.to_string()];
        let reply = self
            .run("FINISH verification", &self.scripts.finish, id, args)
            .await?;
        let mut fields = reply.into_iter().map(|v| v.as_string().unwrap_or_default());
        Ok(match (fields.next().as_deref(), fields.next()) {
            (Some(verified @ ("0" | "1")), Some(in_flight)) => Ok(Settled {
                verified: verified == "1",
                in_flight: in_flight.parse().unwrap_or(0),
            }),
            _ => Err(ClaimError::Unknown),
        })
    }

    /// Takes a verified verification for a write: its record.
    pub(super) async fn claim(&self, id: &str) -> Result<Result<Record, ClaimError>, StoreError> {
        let reply = self
            .run("CLAIM verification", &self.scripts.claim, id, Vec::new())
            .await?;
        let mut fields = reply.into_iter().map(|v| v.as_string().unwrap_or_default());
        Ok(match fields.next().as_deref() {
            Some("ok") => fields
                .next()
                .and_then(|text| self.read_record(id, &text))
                .ok_or(ClaimError::Unknown),
            Some("used") => Err(ClaimError::Used),
            Some("spent") => Err(ClaimError::Spent),
            Some("pending") => Err(ClaimError::NotVerified),
            _ => Err(ClaimError::Unknown),
        })
    }

    pub(super) async fn release(&self, id: &str) -> Result<(), StoreError> {
        self.run(
            "RELEASE verification",
            &self.scripts.release,
            id,
            Vec::new(),
        )
        .await
        .map(drop)
    }

    pub(super) async fn refund(&self, id: &str, attempts: u32) -> Result<(), StoreError> {
        let args = vec![attempts.to_string()];
        self.run("REFUND verification", &self.scripts.refund, id, args)
            .await
            .map(drop)
    }

    /// The record sealed in `text` for verification `id`; `None` (logged) when it does
    /// not open, so a tampered record is an unknown verification.
    fn read_record(&self, id: &str, text: &str) -> Option<Record> {
        self.link.sealer().open_json(&key(id), text)
    }

    /// Runs `script` on the verification's key, loading it if the server lacks it.
    async fn run(
        &self,
        what: &'static str,
        script: &Script,
        id: &str,
        args: Vec<String>,
    ) -> Result<Vec<Value>, StoreError> {
        let key = key(id);
        let client = self.link.client();
        let call = script.evalsha_with_reload::<Value, _, _>(client, key, args);
        let value = self.link.call(what, call).await?;
        Ok(match value {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            other => vec![other],
        })
    }
}

/// The Redis key of verification `id`: its hash, so a dump holds no usable id.
fn key(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    let mut key = format!("{KEY_PREFIX}verification:");
    for byte in digest {
        key.push_str(&format!("{byte:02x}"));
    }
    key
}
