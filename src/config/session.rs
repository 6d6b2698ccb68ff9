//! `[session]`: timeouts, and where sessions live (in-process, or Redis shared by
//! replicas).

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize};

use super::list::list_or_csv;
use super::{ConfigError, redact_url_credentials};
use crate::session::sealed::{self, Sealer};

/// URL schemes `session.redis_url` may use: standalone, TLS, Sentinel and Cluster, for
/// Redis and Valkey alike.
const REDIS_SCHEMES: &[&str] = &[
    "redis",
    "rediss",
    "redis-sentinel",
    "rediss-sentinel",
    "redis-cluster",
    "rediss-cluster",
    "valkey",
    "valkeys",
    "valkey-sentinel",
    "valkeys-sentinel",
    "valkey-cluster",
    "valkeys-cluster",
];

/// Gateway sessions.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// `memory` (in-process moka cache) or `redis` (shared by every replica).
    pub store: StoreKind,
    /// A session unused this many seconds ends.
    pub idle_timeout_secs: u64,
    /// A session ends this many seconds after login, however busy.
    pub absolute_timeout_secs: u64,
    /// Most sessions held; the least recently used go first beyond it.
    pub max_sessions: u64,
    /// Most sessions one user may hold at once (the per-user index lists at most this
    /// many); a login beyond it ends that user's oldest session (and logs so).
    pub max_sessions_per_user: usize,
    /// A session's `last_seen_at` is written at most once per this many seconds (a
    /// store write), not on every request.
    pub last_seen_interval_secs: u64,
    /// The Redis (or Valkey) server when `store = "redis"`: `redis://`, `rediss://` (TLS),
    /// `redis-sentinel://…?sentinelServiceName=NAME`, `redis-cluster://…?node=HOST:PORT`.
    pub redis_url: Option<String>,
    /// Longest one Redis call may take, in milliseconds; slower calls answer 503.
    pub redis_timeout_ms: u64,
    /// PEM file of extra CA certificates trusted for `rediss://`, besides the system roots.
    pub redis_ca_file: Option<PathBuf>,
    /// How long a replica keeps a session (and a device listing) it read from Redis in
    /// memory, in milliseconds; 0 turns this L1 cache off. Invalidations reach other
    /// replicas over pub/sub; this bounds staleness when a message is lost.
    pub l1_ttl_ms: u64,
    /// Keys that seal what the gateway keeps in Redis (sessions, device listings,
    /// verifications), each at least 32 random bytes in base64 (`openssl rand -base64
    /// 32`), the same list on every replica. The first seals, every one listed opens:
    /// to rotate, put a new key first and keep the old one second until records sealed
    /// under it have expired (`absolute_timeout_secs`), then drop it. Required with
    /// `store = "redis"`. A TOML list, or one comma-separated string
    /// (`WDGATE_SESSION_ENCRYPTION_KEYS=new,old`).
    #[serde(deserialize_with = "keys_list")]
    pub encryption_keys: Vec<EncryptionKey>,
}

/// One of `session.encryption_keys`: secret text whose `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct EncryptionKey(pub String);

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey(<redacted>)")
    }
}

impl EncryptionKey {
    /// What `check-config` shows instead of the key: its id, which names it in sealed
    /// records without giving it away.
    pub fn redacted(&self) -> Self {
        Self(match sealed::key_id(&self.0) {
            Some(id) => format!("<redacted, key id {id}>"),
            None => "<redacted>".to_owned(),
        })
    }
}

fn keys_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<EncryptionKey>, D::Error> {
    Ok(list_or_csv(deserializer)?
        .into_iter()
        .map(EncryptionKey)
        .collect())
}

/// Which session store to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// In-process moka cache.
    Memory,
    /// Redis (or Valkey), with a short-lived in-process L1 in front.
    Redis,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            store: StoreKind::Memory,
            idle_timeout_secs: 30 * 60,
            absolute_timeout_secs: 8 * 60 * 60,
            max_sessions: 200_000,
            max_sessions_per_user: 100,
            last_seen_interval_secs: 60,
            redis_url: None,
            redis_timeout_ms: 1_000,
            redis_ca_file: None,
            l1_ttl_ms: 500,
            encryption_keys: Vec::new(),
        }
    }
}

impl SessionConfig {
    /// Checks ranges and the Redis settings; errors name the key.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: format!("session.{key}"),
                message: message.to_owned(),
            })
        };
        if self.idle_timeout_secs == 0 {
            return invalid("idle_timeout_secs", "must be above 0");
        }
        if self.absolute_timeout_secs < self.idle_timeout_secs {
            return invalid(
                "absolute_timeout_secs",
                "must be at least session.idle_timeout_secs",
            );
        }
        if self.max_sessions == 0 {
            return invalid("max_sessions", "must be above 0");
        }
        if !(1..=10_000).contains(&self.max_sessions_per_user) {
            return invalid("max_sessions_per_user", "must be between 1 and 10000");
        }
        if !(1..=3_600).contains(&self.last_seen_interval_secs) {
            return invalid("last_seen_interval_secs", "must be between 1 and 3600");
        }
        if !(1..=60_000).contains(&self.redis_timeout_ms) {
            return invalid("redis_timeout_ms", "must be between 1 and 60000");
        }
        if self.l1_ttl_ms >= self.idle_timeout_secs.saturating_mul(1000) {
            return invalid(
                "l1_ttl_ms",
                "must be below session.idle_timeout_secs (in milliseconds)",
            );
        }
        if let Some(ca) = &self.redis_ca_file {
            if !ca.is_file() {
                return invalid("redis_ca_file", "is not a readable file");
            }
        }
        if self.store == StoreKind::Redis || !self.encryption_keys.is_empty() {
            // Redis keeps records that carry SIDs: never in clear.
            if let Err(e) = self.sealer() {
                return invalid("encryption_keys", &e.to_string());
            }
        }
        match (&self.redis_url, self.store) {
            (None, StoreKind::Redis) => {
                invalid("redis_url", "must be set when session.store = \"redis\"")
            }
            (Some(url), _) if !is_redis_url(url) => invalid(
                "redis_url",
                "must be a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL \
                 with a host",
            ),
            _ => Ok(()),
        }
    }

    /// The sealer for `encryption_keys`.
    pub fn sealer(&self) -> Result<Sealer, sealed::KeyError> {
        let keys: Vec<&str> = self.encryption_keys.iter().map(|k| k.0.as_str()).collect();
        Sealer::new(&keys)
    }

    /// `redis_url` with its passwords (user info and `sentinelPassword`) hidden.
    pub fn redacted_redis_url(&self) -> Option<String> {
        self.redis_url.as_deref().map(redact_redis_url)
    }
}

fn is_redis_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    REDIS_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str())
        && !host.is_empty()
        && !host.starts_with(':')
}

/// `redis://user:pw@host/?sentinelPassword=pw2` → `redis://***@host/?sentinelPassword=***`.
fn redact_redis_url(url: &str) -> String {
    let url = redact_url_credentials(url);
    let Some((base, query)) = url.split_once('?') else {
        return url;
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.to_ascii_lowercase().contains("password") => {
                format!("{name}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A well-formed key (32 bytes of 0x2a in base64).
    const KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

    fn redis(url: &str) -> SessionConfig {
        SessionConfig {
            store: StoreKind::Redis,
            redis_url: Some(url.to_owned()),
            encryption_keys: vec![EncryptionKey(KEY.to_owned())],
            ..SessionConfig::default()
        }
    }

    fn key_of(result: Result<(), ConfigError>) -> String {
        match result {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("expected an invalid key, got {other:?}"),
        }
    }

    #[test]
    fn every_supported_redis_url_shape_is_accepted() {
        for url in [
            "redis://127.0.0.1:6379",
            "rediss://:secret@redis.example.com:6380/2",
            "redis-sentinel://s1:26379/0?sentinelServiceName=main&node=s2:26379",
            "redis-cluster://n1:7000?node=n2:7001",
            "valkey://localhost",
        ] {
            redis(url).validate().expect(url);
        }
    }

    #[test]
    fn bad_redis_settings_name_their_key() {
        let mut c = redis("redis://h");
        c.redis_url = None;
        assert_eq!(key_of(c.validate()), "session.redis_url");
        for url in ["http://h", "redis://", "redis://:pw@", "h:6379"] {
            assert_eq!(key_of(redis(url).validate()), "session.redis_url", "{url}");
        }
        let c = SessionConfig {
            redis_timeout_ms: 0,
            ..redis("redis://h")
        };
        assert_eq!(key_of(c.validate()), "session.redis_timeout_ms");
        let c = SessionConfig {
            idle_timeout_secs: 1,
            l1_ttl_ms: 1000,
            ..redis("redis://h")
        };
        assert_eq!(key_of(c.validate()), "session.l1_ttl_ms");
        let c = SessionConfig {
            redis_ca_file: Some("/nonexistent/ca.pem".into()),
            ..redis("redis://h")
        };
        assert_eq!(key_of(c.validate()), "session.redis_ca_file");
    }

    #[test]
    fn the_redis_store_needs_strong_encryption_keys() {
        let mut c = redis("redis://h");
        c.encryption_keys.clear();
        assert_eq!(key_of(c.validate()), "session.encryption_keys");
        for bad in [
            "tooshort",
            "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioq",
            "not base64 ~~~",
        ] {
            c.encryption_keys = vec![EncryptionKey(bad.to_owned())];
            assert_eq!(key_of(c.validate()), "session.encryption_keys", "{bad}");
        }
        c.encryption_keys = vec![EncryptionKey(KEY.to_owned()), EncryptionKey(KEY.to_owned())];
        assert_eq!(key_of(c.validate()), "session.encryption_keys");
    }

    #[test]
    fn encryption_keys_come_from_a_toml_list_or_one_comma_separated_env_var() {
        use std::collections::BTreeMap;

        use crate::config::Config;

        let other = "x8Q9GHOiZ7tE7uI35QTi7d0/VVBAOsWlJusXCltOZns=";
        let text = format!(
            "[session]\nstore = \"redis\"\nredis_url = \"redis://h\"\n\
             encryption_keys = [\"{KEY}\", \"{other}\"]\n\
             [devices]\nid_key = \"sixteen-characters\"\n"
        );
        let no_env = BTreeMap::new();
        let c = Config::from_toml(&text, "test", &no_env).expect("valid");
        let listed: Vec<&str> = c
            .session
            .encryption_keys
            .iter()
            .map(|k| k.0.as_str())
            .collect();
        assert_eq!(listed, [KEY, other]);
        let env = BTreeMap::from([(
            "WDGATE_SESSION_ENCRYPTION_KEYS".to_owned(),
            format!("{other}, {KEY}"),
        )]);
        let c = Config::from_toml(&text, "test", &env).expect("valid");
        let listed: Vec<&str> = c
            .session
            .encryption_keys
            .iter()
            .map(|k| k.0.as_str())
            .collect();
        assert_eq!(listed, [other, KEY], "the variable wins, in its order");
        let shown = c.to_redacted_toml();
        assert!(!shown.contains(KEY) && !shown.contains(other), "{shown}");
        let ids = c.session.sealer().expect("good keys");
        for id in ids.key_ids() {
            assert!(shown.contains(id), "{shown}");
        }
    }

    #[test]
    fn encryption_keys_never_show_in_debug_or_redacted_form() {
        let c = redis("redis://h");
        assert!(!format!("{c:?}").contains(KEY));
        let shown = c.encryption_keys[0].redacted();
        assert!(!shown.0.contains(KEY));
        assert!(shown.0.starts_with("<redacted, key id "), "{}", shown.0);
    }

    #[test]
    fn the_memory_store_needs_no_redis_url() {
        SessionConfig::default().validate().expect("defaults");
    }

    #[test]
    fn redis_passwords_are_redacted() {
        assert_eq!(
            redact_redis_url("rediss://u:pw@h:6380/1"),
            "rediss://***@h:6380/1"
        );
        assert_eq!(
            redact_redis_url("redis-sentinel://:pw@s1?sentinelServiceName=m&sentinelPassword=x"),
            "redis-sentinel://***@s1?sentinelServiceName=m&sentinelPassword=***"
        );
        assert_eq!(redact_redis_url("redis://h"), "redis://h");
    }
}
