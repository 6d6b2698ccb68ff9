//! Abuse limits: at most N events per subject in any sliding window, counted in Redis
//! for the whole fleet (one atomic script per check) or in this process.
//!
//! A subject (a username, a client IP, an address, a session) is never kept as given:
//! it is keyed by an HMAC under the gateway's secret, so a Redis dump or a heap dump
//! shows no username, IP or phone number. When Redis cannot answer, a check is counted
//! by this replica's own windows instead (and a warning logged once): an outage
//! neither locks everyone out nor lifts the limit, though each replica then counts on
//! its own until Redis is back.

pub mod login;
pub mod memory;
pub mod redis;
pub mod sends;
mod subject;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use self::login::{LoginAttempt, LoginLimits};
pub use self::sends::CodeSendLimits;
pub use self::subject::{Digest, SubjectKey};

use self::memory::MemoryWindows;
use self::redis::RedisWindows;
use crate::session::RedisLink;

/// What a limit counts; each has its own config key and its own words in a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Failed logins for one username from one client IP.
    LoginPair,
    /// Logins for one username from all client IPs.
    LoginUser,
    /// Logins from one client IP.
    LoginIp,
    /// Access codes sent to one address.
    SendAddress,
    /// Access codes one session had sent.
    SendSession,
    /// Access codes one user had sent.
    SendUser,
}

impl Kind {
    /// A short name, part of the (hashed) subject and of the Redis key.
    pub fn name(self) -> &'static str {
        match self {
            Self::LoginPair => "login_pair",
            Self::LoginUser => "login_user",
            Self::LoginIp => "login_ip",
            Self::SendAddress => "send_address",
            Self::SendSession => "send_session",
            Self::SendUser => "send_user",
        }
    }

    /// The config key that sets this limit.
    pub fn config_key(self) -> &'static str {
        match self {
            Self::LoginPair => "limits.login_per_username_per_minute",
            Self::LoginUser => "limits.login_per_username_all_ips_per_minute",
            Self::LoginIp => "limits.login_per_ip_per_minute",
            Self::SendAddress => "limits.code_sends_per_address",
            Self::SendSession => "limits.code_sends_per_session",
            Self::SendUser => "limits.code_sends_per_user",
        }
    }

    /// What was exhausted, for the client.
    pub fn describe(self) -> &'static str {
        match self {
            Self::LoginPair => "too many failed logins for this username from this address",
            Self::LoginUser => "too many login attempts for this username",
            Self::LoginIp => "too many login attempts from this address",
            Self::SendAddress => "too many codes sent to this address",
            Self::SendSession => "too many codes requested by this session",
            Self::SendUser => "too many codes requested by this user",
        }
    }
}

/// One limit: at most `max` events in any `window`; `max` 0 turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// What it counts.
    pub kind: Kind,
    /// Events allowed in any window.
    pub max: u32,
    /// The sliding window.
    pub window: Duration,
}

/// A rule applied to one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The limit.
    pub rule: Rule,
    /// The subject's keyed hash.
    pub digest: Digest,
}

/// A check that was let through; hand it back to [`Limiter::refund`] to uncount it.
#[derive(Debug, Clone)]
pub struct Admission {
    hits: Vec<Hit>,
    stamp: Stamp,
}

/// Where an admitted event was counted, and how to find it again.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stamp {
    /// In Redis, as this member of each sorted set.
    Redis(String),
    /// In this process, at this instant.
    Memory(tokio::time::Instant),
}

/// A check beyond one of its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The limit that refused (the one with the longest wait, when several did).
    pub kind: Kind,
    /// How long until the check would pass.
    pub retry_after: Duration,
}

impl Refusal {
    /// Whole seconds to wait, at least 1 (`Retry-After`).
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs();
        let rounded_up = if self.retry_after.subsec_nanos() > 0 {
            secs.saturating_add(1)
        } else {
            secs
        };
        rounded_up.max(1)
    }

    /// A sentence for the problem body: which limit, and the wait.
    pub fn detail(&self) -> String {
        format!(
            "{} ({}); try again in {} s",
            self.kind.describe(),
            self.kind.config_key(),
            self.retry_after_secs()
        )
    }
}

/// Counts events against rules, in Redis when there is one, else (or when Redis does
/// not answer) in this process. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    key: SubjectKey,
    memory: MemoryWindows,
    redis: Option<RedisWindows>,
    /// Redis failed on the last check: the next success is logged.
    degraded: AtomicBool,
}

impl Limiter {
    /// A limiter keying subjects under `key`, counting in `redis` when given.
    pub fn new(key: SubjectKey, redis: Option<&RedisLink>) -> Self {
        Self {
            inner: Arc::new(Inner {
                key,
                memory: MemoryWindows::new(),
                redis: redis.map(|link| RedisWindows::new(link.clone())),
                degraded: AtomicBool::new(false),
            }),
        }
    }

    /// `rule` applied to the subject made of `parts`; `None` when the rule is off.
    pub fn hit(&self, rule: Rule, parts: &[&[u8]]) -> Option<Hit> {
        (rule.max > 0).then(|| Hit {
            rule,
            digest: self.inner.key.digest(rule.kind, parts),
        })
    }

    /// Counts one event against every hit at once, or against none if any is at its
    /// limit; atomic, so concurrent checks cannot slip past a limit together.
    pub async fn admit(&self, hits: Vec<Hit>) -> Result<Admission, Refusal> {
        if hits.is_empty() {
            return Ok(Admission {
                hits,
                stamp: Stamp::Memory(tokio::time::Instant::now()),
            });
        }
        if let Some(redis) = &self.inner.redis {
            // Boxed: a Redis call's future is kilobytes (the client's), and inline it
            // would make every login's future that big, with or without Redis, copied
            // whole each time the handler's future moves.
            match Box::pin(redis.admit(&hits)).await {
                Ok(outcome) => {
                    if self.inner.degraded.swap(false, Ordering::Relaxed) {
                        // Redis is authoritative again: what this replica counted
                        // meanwhile would otherwise stay until the next outage.
                        self.inner.memory.clear();
                        tracing::info!("Redis counts the limits again, for the whole fleet");
                    }
                    return outcome.map(|member| Admission {
                        hits,
                        stamp: Stamp::Redis(member),
                    });
                }
                Err(e) => {
                    if !self.inner.degraded.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            error = %e,
                            "Redis cannot count the limits; this replica counts them on its own until it answers"
                        );
                    }
                }
            }
        }
        let now = tokio::time::Instant::now();
        self.inner.memory.admit(&hits, now).map(|()| Admission {
            hits,
            stamp: Stamp::Memory(now),
        })
    }

    /// Uncounts an admitted event for its hits of the given `kinds` (a login that
    /// succeeded gives its attempt back). A refund that cannot reach Redis is dropped:
    /// the event then stays counted, which errs on the safe side.
    pub async fn refund(&self, admission: &Admission, kinds: &[Kind]) {
        let hits: Vec<&Hit> = admission
            .hits
            .iter()
            .filter(|h| kinds.contains(&h.rule.kind))
            .collect();
        if hits.is_empty() {
            return;
        }
        match (&admission.stamp, &self.inner.redis) {
            (Stamp::Redis(member), Some(redis)) => {
                if let Err(e) = Box::pin(redis.refund(&hits, member)).await {
                    tracing::debug!(error = %e, "a refund could not reach Redis; the attempt stays counted");
                }
            }
            (Stamp::Memory(at), _) => self.inner.memory.refund(&hits, *at),
            (Stamp::Redis(_), None) => {}
        }
    }

    /// Keys this process tracks (Redis holds the fleet's when it is used).
    pub fn tracked_in_memory(&self) -> usize {
        self.inner.memory.len()
    }
}
