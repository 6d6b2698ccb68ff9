//! The three login limits: per (username, client IP), per username over all IPs, and
//! per client IP.
//!
//! An attacker guessing from one address exhausts only their own (username, IP) pair,
//! so the user logging in from elsewhere is not locked out until the higher all-IPs
//! cap is met. Every attempt is counted before Worldox is asked, so concurrent
//! guesses cannot slip past a limit; a login that succeeds gives its count back to
//! both username limits (a right password is no guess), not to the per-IP one, which
//! bounds how fast one address may try accounts however it fares. One the gateway
//! never sent (circuit open) counts nowhere.

use std::net::IpAddr;
use std::time::Duration;

use super::{Admission, Kind, Limiter, Refusal, Rule};
use crate::config::LimitsConfig;

/// Seconds in the login limits' window ("per minute").
pub const LOGIN_WINDOW_SECS: u64 = 60;

/// The login limits.
#[derive(Debug, Clone)]
pub struct LoginLimits {
    limiter: Limiter,
    pair: Rule,
    user: Rule,
    ip: Rule,
}

/// An attempt that passed the limits; hand it to [`LoginLimits::succeeded`] when
/// Worldox accepts the password.
#[derive(Debug)]
pub struct LoginAttempt(Admission);

impl LoginLimits {
    /// The limits `config` sets, counted by `limiter`.
    pub fn new(limiter: Limiter, config: &LimitsConfig) -> Self {
        let per_minute = |kind, max| Rule {
            kind,
            max,
            window: Duration::from_secs(LOGIN_WINDOW_SECS),
        };
        Self {
            limiter,
            pair: per_minute(Kind::LoginPair, config.login_per_username_per_minute),
            user: per_minute(
                Kind::LoginUser,
                config.login_per_username_all_ips_per_minute,
            ),
            ip: per_minute(Kind::LoginIp, config.login_per_ip_per_minute),
        }
    }

    /// Counts one attempt by `username` from `ip` (`None`: no socket, as in router
    /// tests) against all three limits, or refuses it.
    pub async fn check(&self, username: &str, ip: Option<IpAddr>) -> Result<LoginAttempt, Refusal> {
        let username = normalize_username(username);
        let network = ip.map(ip_subject);
        let network = network.as_deref().unwrap_or_default();
        let hits = [
            self.limiter.hit(self.pair, &[username.as_bytes(), network]),
            self.limiter.hit(self.user, &[username.as_bytes()]),
            ip.and_then(|_| self.limiter.hit(self.ip, &[network])),
        ];
        let hits = hits.into_iter().flatten().collect();
        self.limiter.admit(hits).await.map(LoginAttempt)
    }

    /// Worldox accepted the password: the attempt no longer counts against its
    /// (username, IP) pair nor against the username's all-IPs cap.
    pub async fn succeeded(&self, attempt: LoginAttempt) {
        self.limiter
            .refund(&attempt.0, &[Kind::LoginPair, Kind::LoginUser])
            .await;
    }

    /// The password never left the gateway (the circuit was open, or no upstream
    /// slot was free): the attempt counts against no limit.
    pub async fn not_sent(&self, attempt: LoginAttempt) {
        self.limiter
            .refund(
                &attempt.0,
                &[Kind::LoginPair, Kind::LoginUser, Kind::LoginIp],
            )
            .await;
    }
}

/// The username as the limits count it: trimmed and lowercased, so `Alice ` and
/// `alice` share their limits.
pub fn normalize_username(username: &str) -> String {
    username.trim().to_lowercase()
}

/// What a client IP is counted as: an IPv4 address (IPv4-mapped IPv6 included) as
/// itself, an IPv6 address by its /64, which one client usually holds whole.
pub fn ip_subject(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets().to_vec(),
            None => {
                let mut prefix = b"v6/64:".to_vec();
                prefix.extend_from_slice(&v6.octets()[..8]);
                prefix
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::SubjectKey;
    use super::*;

    fn limits(pair: u32, user: u32, ip: u32) -> LoginLimits {
        let config = LimitsConfig {
            login_per_username_per_minute: pair,
            login_per_username_all_ips_per_minute: user,
            login_per_ip_per_minute: ip,
            ..LimitsConfig::default()
        };
        LoginLimits::new(
            Limiter::new(SubjectKey::from_secret(b"login-limits-test-key"), None),
            &config,
        )
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("ip"))
    }

    #[tokio::test(start_paused = true)]
    async fn a_pair_is_refused_at_its_limit_and_usernames_are_normalized() {
        let l = limits(3, 100, 100);
        for name in ["Alice", " alice", "ALICE "] {
            l.check(name, ip("192.0.2.1"))
                .await
                .expect("within the limit");
        }
        let refused = l.check("alice", ip("192.0.2.1")).await.expect_err("4th");
        assert_eq!(refused.kind, Kind::LoginPair);
        assert!((1..=60).contains(&refused.retry_after_secs()));
        assert!(
            refused
                .detail()
                .contains("limits.login_per_username_per_minute")
        );
        // The same user from elsewhere, and another user from here, are not limited.
        l.check("alice", ip("192.0.2.2"))
            .await
            .expect("other address");
        l.check("bob", ip("192.0.2.1")).await.expect("other user");
    }

    #[tokio::test(start_paused = true)]
    async fn the_all_ips_cap_binds_a_guessing_attack_spread_over_addresses() {
        let l = limits(2, 5, 100);
        for i in 0..5 {
            l.check("alice", ip(&format!("198.51.100.{i}")))
                .await
                .expect("within the cap");
        }
        let refused = l
            .check("alice", ip("198.51.100.200"))
            .await
            .expect_err("cap met");
        assert_eq!(refused.kind, Kind::LoginUser);
    }

    #[tokio::test(start_paused = true)]
    async fn a_successful_login_counts_against_neither_username_limit() {
        let l = limits(2, 3, 100);
        for _ in 0..10 {
            let attempt = l.check("alice", ip("192.0.2.1")).await.expect("admitted");
            l.succeeded(attempt).await;
        }
        l.check("alice", ip("192.0.2.1"))
            .await
            .expect("1st failure");
        l.check("alice", ip("192.0.2.1"))
            .await
            .expect("2nd failure");
        let refused = l.check("alice", ip("192.0.2.1")).await.expect_err("3rd");
        assert_eq!(refused.kind, Kind::LoginPair);
        l.check("alice", ip("192.0.2.2"))
            .await
            .expect("3rd from all IPs");
        let refused = l.check("alice", ip("192.0.2.3")).await.expect_err("4th");
        assert_eq!(refused.kind, Kind::LoginUser);
    }

    #[tokio::test(start_paused = true)]
    async fn successes_still_count_against_the_per_ip_limit() {
        let l = limits(100, 100, 2);
        for name in ["a", "b"] {
            let attempt = l.check(name, ip("192.0.2.1")).await.expect("admitted");
            l.succeeded(attempt).await;
        }
        let refused = l.check("c", ip("192.0.2.1")).await.expect_err("3rd");
        assert_eq!(refused.kind, Kind::LoginIp);
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_never_sent_counts_nowhere() {
        let l = limits(1, 1, 1);
        for _ in 0..5 {
            let attempt = l.check("alice", ip("192.0.2.1")).await.expect("admitted");
            l.not_sent(attempt).await;
        }
        l.check("alice", ip("192.0.2.1"))
            .await
            .expect("all limits intact");
    }

    #[tokio::test(start_paused = true)]
    async fn one_address_cannot_spray_many_accounts() {
        let l = limits(100, 100, 2);
        l.check("a", ip("192.0.2.1")).await.expect("a");
        l.check("b", ip("192.0.2.1")).await.expect("b");
        let refused = l.check("c", ip("192.0.2.1")).await.expect_err("sprayed");
        assert_eq!(refused.kind, Kind::LoginIp);
        l.check("c", ip("192.0.2.2"))
            .await
            .expect("another address");
    }

    #[tokio::test(start_paused = true)]
    async fn an_ipv6_client_is_counted_by_its_slash_64() {
        let l = limits(100, 100, 2);
        l.check("a", ip("2001:db8:1:2::1")).await.expect("1");
        l.check("b", ip("2001:db8:1:2:ffff::9")).await.expect("2");
        assert!(l.check("c", ip("2001:db8:1:2::abcd")).await.is_err());
        l.check("c", ip("2001:db8:1:3::1"))
            .await
            .expect("another /64");
        assert_eq!(
            ip_subject("::ffff:192.0.2.1".parse().expect("ip")),
            ip_subject("192.0.2.1".parse().expect("ip"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn zero_turns_a_limit_off() {
        let l = limits(0, 0, 0);
        for _ in 0..500 {
            l.check("alice", ip("192.0.2.1")).await.expect("no limits");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_slides() {
        let l = limits(1, 100, 100);
        l.check("alice", ip("192.0.2.1")).await.expect("1");
        let refused = l.check("alice", ip("192.0.2.1")).await.expect_err("2");
        tokio::time::advance(refused.retry_after).await;
        l.check("alice", ip("192.0.2.1"))
            .await
            .expect("after the wait");
    }
}
