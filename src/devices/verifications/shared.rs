//! Verifications in Redis, shared by every replica: ask for a code on one, type it on
//! another. Each is a hash under `wdgate:verification:{hex of SHA-256(id)}` with the
//! record, the attempts left and whether it was used; small Lua scripts take and give
//! back attempts atomically, so replicas never count the same attempt twice or let one
//! through that is not left. The key expires with the verification. The record (the
//! upstream `Ref`, the address, the session) is sealed under the key's name; only the
//! attempts left and the used flag, which the scripts read, are in clear.

use std::sync::Arc;
use std::time::Duration;

use fred::types::Value;
use fred::types::scripts::Script;
use sha2::{Digest, Sha256};

use super::ClaimError;
use super::Record;
use crate::session::redis_link::KEY_PREFIX;
use crate::session::{RedisLink, StoreError};

/// HSET the record with its attempts, unused, expiring after ARGV[3] milliseconds.
const START: &str = r"
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'left', ARGV[2], 'used', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// The record, the attempts left and whether it was used (nils when unknown).
const PEEK: &str = r"
return redis.call('HMGET', KEYS[1], 'rec', 'left', 'used')
";

/// Takes one attempt if one is left: `{'ok', record, left after}`, or the reason why
/// not (`unknown`, `used`, `spent`).
const TAKE: &str = r"
local v = redis.call('HMGET', KEYS[1], 'rec', 'left', 'used')
if not v[1] then return {'unknown'} end
if v[3] == '1' then return {'used'} end
local left = tonumber(v[2]) or 0
if left <= 0 then return {'spent'} end
redis.call('HINCRBY', KEYS[1], 'left', -1)
return {'ok', v[1], tostring(left - 1)}
";

/// Marks it used, keeping its expiry.
const MARK_USED: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'used', '1') end
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
    mark_used: Script,
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
                mark_used: Script::from_lua(MARK_USED),
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

    /// The record, the attempts left and whether it was used.
    pub(super) async fn peek(&self, id: &str) -> Result<Option<(Record, u32, bool)>, StoreError> {
        let reply = self
            .run("PEEK verification", &self.scripts.peek, id, Vec::new())
            .await?;
        let mut fields = reply.into_iter().map(|v| v.as_string());
        let (Some(Some(text)), Some(left), Some(used)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Ok(None);
        };
        let left = left.and_then(|l| l.parse().ok()).unwrap_or(0);
        let record = self.read_record(id, &text);
        Ok(record.map(|record| (record, left, used.as_deref() == Some("1"))))
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
            Some("spent") => Err(ClaimError::Spent),
            _ => Err(ClaimError::Unknown),
        })
    }

    pub(super) async fn mark_used(&self, id: &str) -> Result<(), StoreError> {
        self.run("USE verification", &self.scripts.mark_used, id, Vec::new())
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
