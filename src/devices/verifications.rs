//! Pending 2FA verifications: the gateway's `verification_id` for an upstream `Ref`,
//! bound to the session and the address the code was sent to.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use moka::future::Cache;

use crate::address::Address;
use crate::session::TokenHash;

/// A code sent and not yet used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The session that asked for the code.
    pub session: TokenHash,
    /// The upstream `Ref`.
    pub reference: String,
    /// Where the code went.
    pub address: Address,
}

#[derive(Debug, Clone)]
enum Slot {
    Pending(Verification),
    /// Kept until the TTL so a second use gets "already used", not "unknown".
    Used,
}

/// Why a verification cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// Unknown, expired, or another session's.
    #[error("unknown or expired verification_id")]
    Unknown,
    /// Already used once.
    #[error("this verification_id has already been used; request a new code")]
    Used,
}

/// Verifications by id, each living as long as an access code.
#[derive(Debug, Clone)]
pub struct Verifications {
    cache: Cache<String, Slot>,
    ttl: Duration,
}

impl Verifications {
    /// Verifications that expire after `ttl`.
    pub fn new(ttl: Duration, capacity: u64) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            ttl,
        }
    }

    /// How long a verification lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Records a sent code; returns its `verification_id`.
    pub async fn start(&self, verification: Verification) -> Result<String, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        let id = format!("ver_{}", URL_SAFE_NO_PAD.encode(bytes));
        self.cache
            .insert(id.clone(), Slot::Pending(verification))
            .await;
        Ok(id)
    }

    /// The pending verification `id` of `session`, without using it up.
    pub async fn peek(&self, id: &str, session: TokenHash) -> Result<Verification, ClaimError> {
        match self.cache.get(id).await {
            Some(Slot::Pending(v)) if v.session == session => Ok(v),
            Some(Slot::Used) => Err(ClaimError::Used),
            _ => Err(ClaimError::Unknown),
        }
    }

    /// Takes a verification for one use by `session`. Of two concurrent claims, one
    /// wins; the id is then marked used.
    pub async fn claim(&self, id: &str, session: TokenHash) -> Result<Verification, ClaimError> {
        self.peek(id, session).await?;
        // `remove` is atomic: only one claimant gets the pending entry back.
        match self.cache.remove(id).await {
            Some(Slot::Pending(v)) => {
                self.cache.insert(id.to_owned(), Slot::Used).await;
                Ok(v)
            }
            Some(Slot::Used) => {
                self.cache.insert(id.to_owned(), Slot::Used).await;
                Err(ClaimError::Used)
            }
            None => Err(ClaimError::Used),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Token;

    fn verification(session: TokenHash) -> Verification {
        Verification {
            session,
            reference: "Worldox 5FFC-B161".to_owned(),
            address: Address::parse("a@example.com").expect("valid"),
        }
    }

    #[tokio::test]
    async fn a_verification_is_used_once_by_its_own_session() {
        let v = Verifications::new(Duration::from_secs(60), 100);
        let mine = Token::generate().expect("rng").hash();
        let theirs = Token::generate().expect("rng").hash();
        let id = v.start(verification(mine)).await.expect("rng");
        assert_eq!(v.claim(&id, theirs).await, Err(ClaimError::Unknown));
        assert_eq!(
            v.claim(&id, mine).await.map(|x| x.reference),
            Ok("Worldox 5FFC-B161".to_owned())
        );
        assert_eq!(v.claim(&id, mine).await, Err(ClaimError::Used));
        assert_eq!(v.claim("ver_nope", mine).await, Err(ClaimError::Unknown));
    }
}
