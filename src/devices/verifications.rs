//! Pending 2FA verifications: the gateway's `verification_id` for an upstream `Ref`,
//! bound to the session and the address the code was sent to, with the attempts left.
//!
//! They live where sessions live, because each step of the add flow may land on
//! another replica behind a load balancer: in-process (moka) with the memory store, in
//! Redis with the Redis store ([`shared`]). Attempts are counted there atomically, so a
//! code typed on two replicas costs the same attempts as on one. A wrong code costs an
//! attempt, not the verification; after `devices.verification_attempts` wrong codes it
//! is spent. A right one uses it up.

pub mod shared;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use moka::future::Cache;
use serde::{Deserialize, Serialize};

use self::shared::SharedVerifications;
use crate::address::Address;
use crate::session::{RedisLink, StoreError, TokenHash};

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

/// One attempt taken at a verification: what it is for, and how many remain after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The verification.
    pub verification: Verification,
    /// Attempts left if this one turns out wrong.
    pub left: u32,
}

/// Why a verification cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Unknown, expired, or another session's.
    #[error("unknown or expired verification_id")]
    Unknown,
    /// Already used once.
    #[error("this verification_id has already been used; request a new code")]
    Used,
    /// Every attempt was a wrong code.
    #[error("every attempt at this verification_id was a wrong code; request a new code")]
    Spent,
    /// The store cannot answer (503).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Verifications by id, each living as long as an access code.
#[derive(Debug, Clone)]
pub struct Verifications {
    backend: Backend,
    ttl: Duration,
    attempts: u32,
}

#[derive(Debug, Clone)]
enum Backend {
    Memory(Cache<String, Arc<Mutex<Slot>>>),
    Redis(SharedVerifications),
}

/// A verification's record, as the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    /// The session's token hash, in hex.
    session: String,
    reference: String,
    address: Address,
}

impl Record {
    fn new(v: &Verification) -> Self {
        Self {
            session: v.session.to_hex(),
            reference: v.reference.clone(),
            address: v.address.clone(),
        }
    }

    /// The verification, if the record belongs to `session`.
    fn owned_by(self, session: TokenHash) -> Option<Verification> {
        let owner = TokenHash::from_hex(&self.session)?;
        (owner == session).then_some(Verification {
            session: owner,
            reference: self.reference,
            address: self.address,
        })
    }
}

/// A verification in the in-process store.
#[derive(Debug)]
struct Slot {
    record: Record,
    left: u32,
    used: bool,
}

impl Verifications {
    /// Verifications in this process: up to `capacity`, each expiring after `ttl`,
    /// spent after `attempts` wrong codes.
    pub fn in_memory(ttl: Duration, attempts: u32, capacity: u64) -> Self {
        Self {
            backend: Backend::Memory(
                Cache::builder()
                    .max_capacity(capacity)
                    .time_to_live(ttl)
                    .build(),
            ),
            ttl,
            attempts: attempts.max(1),
        }
    }

    /// Verifications in Redis, shared by every replica.
    pub fn shared(link: RedisLink, ttl: Duration, attempts: u32) -> Self {
        Self {
            backend: Backend::Redis(SharedVerifications::new(link, ttl)),
            ttl,
            attempts: attempts.max(1),
        }
    }

    /// How long a verification lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Records a sent code; returns its `verification_id`.
    pub async fn start(&self, verification: &Verification) -> Result<String, ClaimError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)
            .map_err(|e| StoreError(format!("the OS random number generator failed: {e}")))?;
        let id = format!("ver_{}", URL_SAFE_NO_PAD.encode(bytes));
        let record = Record::new(verification);
        match &self.backend {
            Backend::Memory(cache) => {
                let slot = Slot {
                    record,
                    left: self.attempts,
                    used: false,
                };
                cache.insert(id.clone(), Arc::new(Mutex::new(slot))).await;
            }
            Backend::Redis(shared) => shared.start(&id, &record, self.attempts).await?,
        }
        Ok(id)
    }

    /// The pending verification `id` of `session`, without taking an attempt.
    pub async fn peek(&self, id: &str, session: TokenHash) -> Result<Verification, ClaimError> {
        let (record, left, used) = match &self.backend {
            Backend::Memory(cache) => {
                let slot = cache.get(id).await.ok_or(ClaimError::Unknown)?;
                let slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                (slot.record.clone(), slot.left, slot.used)
            }
            Backend::Redis(shared) => shared.peek(id).await?.ok_or(ClaimError::Unknown)?,
        };
        let verification = record.owned_by(session).ok_or(ClaimError::Unknown)?;
        match (used, left) {
            (true, _) => Err(ClaimError::Used),
            (false, 0) => Err(ClaimError::Spent),
            (false, _) => Ok(verification),
        }
    }

    /// Takes one attempt at `id` for `session`, atomically: of concurrent attempts,
    /// no more than the attempts left get through. The caller then reports the
    /// outcome: [`Self::succeeded`], or [`Self::refund`] when the code never reached
    /// the upstream. A wrong code needs no report: its attempt is spent.
    pub async fn attempt(&self, id: &str, session: TokenHash) -> Result<Attempt, ClaimError> {
        // Another session's id is refused before it can cost the owner an attempt.
        self.peek(id, session).await?;
        let taken = match &self.backend {
            Backend::Memory(cache) => {
                let slot = cache.get(id).await.ok_or(ClaimError::Unknown)?;
                let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                match (slot.used, slot.left) {
                    (true, _) => Err(ClaimError::Used),
                    (false, 0) => Err(ClaimError::Spent),
                    (false, left) => {
                        slot.left = left - 1;
                        Ok((slot.record.clone(), slot.left))
                    }
                }
            }
            Backend::Redis(shared) => shared.take_attempt(id).await?,
        };
        let (record, left) = taken?;
        let verification = record.owned_by(session).ok_or(ClaimError::Unknown)?;
        Ok(Attempt { verification, left })
    }

    /// The code was right: the verification is used up (kept until its TTL so a
    /// second use gets "already used", not "unknown").
    pub async fn succeeded(&self, id: &str) -> Result<(), ClaimError> {
        match &self.backend {
            Backend::Memory(cache) => {
                if let Some(slot) = cache.get(id).await {
                    slot.lock().unwrap_or_else(PoisonError::into_inner).used = true;
                }
                Ok(())
            }
            Backend::Redis(shared) => Ok(shared.mark_used(id).await?),
        }
    }

    /// The attempt never reached the upstream (the circuit was open, say): it is
    /// given back.
    pub async fn refund(&self, id: &str) -> Result<(), ClaimError> {
        match &self.backend {
            Backend::Memory(cache) => {
                if let Some(slot) = cache.get(id).await {
                    let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                    if !slot.used {
                        slot.left = (slot.left + 1).min(self.attempts);
                    }
                }
                Ok(())
            }
            Backend::Redis(shared) => Ok(shared.refund(id, self.attempts).await?),
        }
    }
}

#[cfg(test)]
mod tests;
