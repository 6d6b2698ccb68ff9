//! Pending 2FA verifications: the gateway's `verification_id` for an upstream `Ref`,
//! bound to the session and the address the code was sent to, with the attempts left.
//!
//! They live where sessions live, because each step of the add flow may land on
//! another replica behind a load balancer: in-process (moka) with the memory store, in
//! Redis with the Redis store ([`shared`]). Attempts are counted there atomically, so a
//! code typed on two replicas costs the same attempts as on one. A wrong code costs an
//! attempt, not the verification; after `devices.verification_attempts` wrong codes it
//! is spent.
//!
//! A verification goes `pending` → `verified` (a right code: 2FSET step 2 done) →
//! used (taken by the device write, 2FSET step 3 or an address edit). The write takes
//! it atomically ([`Verifications::claim`]), so of two concurrent writes one gets it;
//! a write that fails gives it back ([`Verifications::release`]) still verified, so
//! the user can retry the write without a new code and without step 2 being sent again.

pub mod shared;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use moka::future::Cache;
use serde::{Deserialize, Serialize};

use self::shared::SharedVerifications;
use crate::address::{Address, mask};
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
    /// Where the code went, masked as Worldox's `Send` showed it.
    pub sent_to: String,
}

/// One attempt taken at a verification: what it is for, and how many remain after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The verification.
    pub verification: Verification,
    /// Attempts left if this one turns out wrong.
    pub left: u32,
}

/// Where a usable verification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A code was sent; it has not been entered right yet.
    Pending,
    /// Worldox accepted the code (2FSET step 2); the device write has not used it.
    Verified,
}

impl Stage {
    /// `pending` or `verified`, as the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Verified => "verified",
        }
    }
}

/// A usable verification, as [`Verifications::status`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The verification.
    pub verification: Verification,
    /// Pending or verified.
    pub stage: Stage,
    /// Wrong codes still allowed.
    pub attempts_left: u32,
    /// Time until it expires.
    pub expires_in: Duration,
    /// Attempts taken whose code is still with Worldox (on any replica).
    pub in_flight: u32,
}

/// How an attempt taken with [`Verifications::attempt`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Worldox accepted the code (2FSET step 2 done): the verification is verified.
    Right,
    /// Worldox refused the code, or may have seen it: the attempt stays spent.
    Wrong,
    /// The code never reached Worldox: the attempt is given back.
    NotSent,
}

/// Where a verification stands right after an attempt at it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// The code has been entered right (by this attempt or another).
    pub verified: bool,
    /// Other attempts whose code is still with Worldox.
    pub in_flight: u32,
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
    /// An attempt at a code that was already entered right (nothing to check).
    #[error("this verification_id is already verified")]
    Verified,
    /// A write that needs a verified verification, given a pending one.
    #[error("this verification_id is not verified yet: its code has not been entered")]
    NotVerified,
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
    /// Worldox's masked `Send`; empty in records written before it was kept.
    #[serde(default)]
    sent_to: String,
}

impl Record {
    fn new(v: &Verification) -> Self {
        Self {
            session: v.session.to_hex(),
            reference: v.reference.clone(),
            address: v.address.clone(),
            sent_to: v.sent_to.clone(),
        }
    }

    /// The verification, if the record belongs to `session`.
    fn owned_by(self, session: TokenHash) -> Option<Verification> {
        let owner = TokenHash::from_hex(&self.session)?;
        let sent_to = if self.sent_to.is_empty() {
            mask::masked(&self.address)
        } else {
            self.sent_to
        };
        (owner == session).then_some(Verification {
            session: owner,
            reference: self.reference,
            address: self.address,
            sent_to,
        })
    }
}

/// What the store holds for one verification, whichever store it is.
#[derive(Debug, Clone)]
struct Held {
    record: Record,
    left: u32,
    used: bool,
    verified: bool,
    in_flight: u32,
    expires_in: Duration,
}

/// A verification in the in-process store.
#[derive(Debug)]
struct Slot {
    record: Record,
    left: u32,
    used: bool,
    verified: bool,
    in_flight: u32,
    expires: Instant,
}

impl Slot {
    fn held(&self) -> Held {
        Held {
            record: self.record.clone(),
            left: self.left,
            used: self.used,
            verified: self.verified,
            in_flight: self.in_flight,
            expires_in: self.expires.saturating_duration_since(Instant::now()),
        }
    }
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
                    verified: false,
                    in_flight: 0,
                    expires: Instant::now() + self.ttl,
                };
                cache.insert(id.clone(), Arc::new(Mutex::new(slot))).await;
            }
            Backend::Redis(shared) => shared.start(&id, &record, self.attempts).await?,
        }
        Ok(id)
    }

    /// Where verification `id` of `session` stands, without taking an attempt: an
    /// error if it is unknown, another session's, used or spent.
    pub async fn status(&self, id: &str, session: TokenHash) -> Result<Status, ClaimError> {
        let held = match &self.backend {
            Backend::Memory(cache) => {
                let slot = cache.get(id).await.ok_or(ClaimError::Unknown)?;
                let slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                slot.held()
            }
            Backend::Redis(shared) => shared.peek(id).await?.ok_or(ClaimError::Unknown)?,
        };
        let verification = held.record.owned_by(session).ok_or(ClaimError::Unknown)?;
        // No attempt left is spent only once none is in flight: one may be right.
        let stage = match (held.used, held.verified, held.left, held.in_flight) {
            (true, ..) => return Err(ClaimError::Used),
            (false, true, ..) => Stage::Verified,
            (false, false, 0, 0) => return Err(ClaimError::Spent),
            (false, false, ..) => Stage::Pending,
        };
        Ok(Status {
            verification,
            stage,
            attempts_left: held.left,
            expires_in: held.expires_in,
            in_flight: held.in_flight,
        })
    }

    /// The usable verification `id` of `session`, without taking an attempt.
    pub async fn peek(&self, id: &str, session: TokenHash) -> Result<Verification, ClaimError> {
        self.status(id, session).await.map(|s| s.verification)
    }

    /// Takes one attempt at `id` for `session`, atomically: of concurrent attempts,
    /// no more than the attempts left get through. The attempt counts as in flight
    /// until the caller reports its [`Outcome`] with [`Self::finish`], which it must.
    /// A verified verification takes no attempt ([`ClaimError::Verified`]).
    pub async fn attempt(&self, id: &str, session: TokenHash) -> Result<Attempt, ClaimError> {
        // Another session's id is refused before it can cost the owner an attempt.
        self.peek(id, session).await?;
        let taken = match &self.backend {
            Backend::Memory(cache) => {
                let slot = cache.get(id).await.ok_or(ClaimError::Unknown)?;
                let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                match (slot.used, slot.verified, slot.left) {
                    (true, _, _) => Err(ClaimError::Used),
                    (false, true, _) => Err(ClaimError::Verified),
                    (false, false, 0) => Err(ClaimError::Spent),
                    (false, false, left) => {
                        slot.left = left - 1;
                        slot.in_flight += 1;
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

    /// Ends an attempt taken with [`Self::attempt`]: a right code marks the
    /// verification verified (unless a write used it already), a code that never
    /// reached Worldox gives the attempt back. Says where the verification stands
    /// now, so a refused code can tell "wrong" from "late": another attempt, on any
    /// replica, may have used the Ref up with the right code and not finished yet.
    pub async fn finish(&self, id: &str, outcome: Outcome) -> Result<Settled, ClaimError> {
        match &self.backend {
            Backend::Memory(cache) => {
                let Some(slot) = cache.get(id).await else {
                    return Err(ClaimError::Unknown);
                };
                let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                slot.in_flight = slot.in_flight.saturating_sub(1);
                match outcome {
                    Outcome::Right if !slot.used => slot.verified = true,
                    Outcome::NotSent if !slot.used => {
                        slot.left = (slot.left + 1).min(self.attempts);
                    }
                    _ => {}
                }
                Ok(Settled {
                    verified: slot.verified,
                    in_flight: slot.in_flight,
                })
            }
            Backend::Redis(shared) => shared.finish(id, outcome, self.attempts).await?,
        }
    }

    /// Takes the verified verification `id` of `session` for a device write,
    /// atomically: of concurrent writes, one gets it; the others get
    /// [`ClaimError::Used`]. A pending one is [`ClaimError::NotVerified`]. After a write
    /// that failed, [`Self::release`] gives it back.
    pub async fn claim(&self, id: &str, session: TokenHash) -> Result<Verification, ClaimError> {
        self.peek(id, session).await?;
        let claimed = match &self.backend {
            Backend::Memory(cache) => {
                let slot = cache.get(id).await.ok_or(ClaimError::Unknown)?;
                let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                match (slot.used, slot.verified, slot.left, slot.in_flight) {
                    (true, ..) => Err(ClaimError::Used),
                    (false, false, 0, 0) => Err(ClaimError::Spent),
                    (false, false, ..) => Err(ClaimError::NotVerified),
                    (false, true, ..) => {
                        slot.used = true;
                        Ok(slot.record.clone())
                    }
                }
            }
            Backend::Redis(shared) => shared.claim(id).await?,
        };
        claimed?.owned_by(session).ok_or(ClaimError::Unknown)
    }

    /// The write that claimed `id` failed: it is verified and usable again.
    pub async fn release(&self, id: &str) -> Result<(), ClaimError> {
        match &self.backend {
            Backend::Memory(cache) => {
                if let Some(slot) = cache.get(id).await {
                    let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                    if slot.verified {
                        slot.used = false;
                    }
                }
                Ok(())
            }
            Backend::Redis(shared) => Ok(shared.release(id).await?),
        }
    }

    /// Gives back a finished attempt that turned out not to be wrong, only late:
    /// another attempt had verified the verification with the right code.
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
