//! Login rate limits: per username and per client IP (governor's keyed GCRA), so one
//! account cannot be guessed at and one address cannot spray many accounts.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::problem::ApiError;

/// The two limiters.
#[derive(Debug)]
pub struct LoginLimiter {
    per_user: Option<DefaultKeyedRateLimiter<String>>,
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
    checks: AtomicU64,
}

/// Every this many checks, keys that recovered are forgotten.
const SWEEP_EVERY: u64 = 4096;

impl LoginLimiter {
    /// Allows `per_user` attempts a minute per username and `per_ip` per client IP
    /// (0 turns a limit off).
    pub fn new(per_user: u32, per_ip: u32) -> Self {
        Self {
            per_user: NonZeroU32::new(per_user).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            per_ip: NonZeroU32::new(per_ip).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one attempt; 429 with the wait if either limit is exhausted.
    pub fn check(&self, username: &str, ip: Option<IpAddr>) -> Result<(), ApiError> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        if let (Some(limiter), Some(ip)) = (&self.per_ip, ip) {
            limiter.check_key(&ip).map_err(|not_until| {
                self.limited(not_until.wait_time_from(self.clock.now()), "this address")
            })?;
        }
        if let Some(limiter) = &self.per_user {
            limiter
                .check_key(&username.trim().to_lowercase())
                .map_err(|not_until| {
                    self.limited(not_until.wait_time_from(self.clock.now()), "this username")
                })?;
        }
        Ok(())
    }

    fn limited(&self, wait: Duration, whom: &str) -> ApiError {
        ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
            detail: format!("too many login attempts for {whom}; try again later"),
        }
    }

    /// Forgets keys whose limits have fully recovered, so memory stays bounded.
    pub fn sweep(&self) {
        if let Some(l) = &self.per_user {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_ip {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nth_plus_one_attempt_is_refused_with_a_wait() {
        let limiter = LoginLimiter::new(3, 100);
        let ip = Some("192.0.2.1".parse().expect("ip"));
        for _ in 0..3 {
            assert!(limiter.check("Alice", ip).is_ok());
        }
        match limiter.check(" alice ", ip) {
            Err(ApiError::TooManyRequests {
                retry_after_secs, ..
            }) => assert!((1..=60).contains(&retry_after_secs)),
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(
            limiter.check("bob", ip).is_ok(),
            "other users are not affected"
        );
        limiter.sweep();
    }

    #[test]
    fn one_address_cannot_spray_many_accounts() {
        let limiter = LoginLimiter::new(100, 2);
        let ip = Some("192.0.2.1".parse().expect("ip"));
        assert!(limiter.check("a", ip).is_ok());
        assert!(limiter.check("b", ip).is_ok());
        assert!(limiter.check("c", ip).is_err());
        assert!(
            limiter
                .check("c", Some("192.0.2.2".parse().expect("ip")))
                .is_ok()
        );
    }
}
