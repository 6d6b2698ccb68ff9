//! Access-code send limits (SMS pumping): per address whoever asks, per session and
//! per user, checked before 2FSET step 1 so nothing beyond them reaches Worldox.

use std::time::Duration;

use super::login::normalize_username;
use super::{Kind, Limiter, Refusal, Rule};
use crate::address::Address;
use crate::config::LimitsConfig;
use crate::session::{Session, TokenHash};

/// The code-send limits.
#[derive(Debug, Clone)]
pub struct CodeSendLimits {
    limiter: Limiter,
    address: Rule,
    session: Rule,
    user: Rule,
}

impl CodeSendLimits {
    /// The limits `config` sets, counted by `limiter`.
    pub fn new(limiter: Limiter, config: &LimitsConfig) -> Self {
        let window = Duration::from_secs(config.code_send_window_secs);
        let rule = |kind, max| Rule { kind, max, window };
        Self {
            limiter,
            address: rule(Kind::SendAddress, config.code_sends_per_address),
            session: rule(Kind::SendSession, config.code_sends_per_session),
            user: rule(Kind::SendUser, config.code_sends_per_user),
        }
    }

    /// Counts one code send to `address` by the session `session` (stored under
    /// `key`), or refuses it. A send counts whatever Worldox then answers: a code may
    /// have gone out even when its answer was lost.
    pub async fn check(
        &self,
        key: TokenHash,
        session: &Session,
        address: &Address,
    ) -> Result<(), Refusal> {
        let address = address.key();
        let session_key = key.to_hex();
        let username = normalize_username(&session.profile.username);
        let hits = [
            self.limiter.hit(self.address, &[address.as_bytes()]),
            self.limiter.hit(self.session, &[session_key.as_bytes()]),
            self.limiter.hit(self.user, &[username.as_bytes()]),
        ];
        let hits = hits.into_iter().flatten().collect();
        self.limiter.admit(hits).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::super::SubjectKey;
    use super::*;
    use crate::session::Token;
    use crate::upstream::Sid;
    use crate::upstream::auth::Profile;

    fn limits(per_address: u32, per_session: u32, per_user: u32) -> CodeSendLimits {
        let config = LimitsConfig {
            code_sends_per_address: per_address,
            code_sends_per_session: per_session,
            code_sends_per_user: per_user,
            ..LimitsConfig::default()
        };
        CodeSendLimits::new(
            Limiter::new(SubjectKey::from_secret(b"code-send-test-key"), None),
            &config,
        )
    }

    fn session() -> TokenHash {
        Token::generate().expect("rng").hash()
    }

    /// A session of `username`.
    fn of(username: &str) -> Session {
        let profile = Profile {
            username: username.to_owned(),
            name: String::new(),
            email: String::new(),
            firm: String::new(),
        };
        let id = crate::session::SessionId::generate().expect("rng");
        Session::new(id, Sid::new("test-sid"), profile, Duration::from_secs(60))
    }

    fn addr(s: &str) -> Address {
        Address::parse(s).expect("address")
    }

    #[tokio::test(start_paused = true)]
    async fn one_address_gets_at_most_its_limit_whoever_asks_in_any_spelling() {
        let l = limits(2, 100, 100);
        l.check(session(), &of("a"), &addr("+15516555721"))
            .await
            .expect("1");
        l.check(session(), &of("b"), &addr("(551) 655-5721"))
            .await
            .expect("2");
        let refused = l
            .check(session(), &of("c"), &addr("551.655.5721"))
            .await
            .expect_err("3");
        assert_eq!(refused.kind, Kind::SendAddress);
        assert!(refused.retry_after_secs() > 14 * 60);
        l.check(session(), &of("c"), &addr("+15516555722"))
            .await
            .expect("another number");
    }

    #[tokio::test(start_paused = true)]
    async fn one_session_gets_at_most_its_limit_over_many_addresses() {
        let l = limits(100, 3, 100);
        let s = session();
        for i in 0..3 {
            l.check(s, &of("a"), &addr(&format!("+1551655570{i}")))
                .await
                .expect("within");
        }
        let refused = l
            .check(s, &of("a"), &addr("+15516555709"))
            .await
            .expect_err("4th");
        assert_eq!(refused.kind, Kind::SendSession);
        l.check(session(), &of("b"), &addr("+15516555709"))
            .await
            .expect("another session");
    }

    #[tokio::test(start_paused = true)]
    async fn one_user_gets_at_most_its_limit_over_many_sessions() {
        let l = limits(100, 100, 2);
        l.check(session(), &of("Alice"), &addr("+15516555701"))
            .await
            .expect("1");
        l.check(session(), &of("alice"), &addr("+15516555702"))
            .await
            .expect("2");
        let refused = l
            .check(session(), &of("ALICE"), &addr("+15516555703"))
            .await
            .expect_err("3");
        assert_eq!(refused.kind, Kind::SendUser);
    }
}
