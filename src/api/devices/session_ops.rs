//! The device operations of one authenticated request: read the (cached) listing,
//! resolve a stable id to its row, verify a code (2FSET step 2), take a verified
//! verification for a write and settle it afterwards, and write with one retry when
//! the List_ID went stale.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::auth::CurrentSession;
use super::super::problem::ApiError;
use super::super::state::AppState;
use crate::address::Address;
use crate::devices::{Change, ClaimError, Device, Devices, Outcome, Stage, Status};
use crate::upstream;
use crate::upstream::fields::command::TWO_FA_SET;
use crate::upstream::fields::rc;

/// What [`DeviceOps::verify`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Step 2 was sent and Worldox accepted the code.
    Now,
    /// It was verified already: nothing was sent.
    Already,
}

/// One request's view of the caller's devices.
#[derive(Debug)]
pub struct DeviceOps<'a> {
    state: &'a AppState,
    current: &'a CurrentSession,
}

impl<'a> DeviceOps<'a> {
    /// Operations for `current`.
    pub fn new(state: &'a AppState, current: &'a CurrentSession) -> Self {
        Self { state, current }
    }

    /// The caller's Worldox username.
    pub fn username(&self) -> &str {
        &self.current.session.profile.username
    }

    /// The listing, from cache or one (shared) upstream 2FGET.
    pub async fn listing(&self) -> Result<Arc<Devices>, ApiError> {
        let load = || {
            self.state
                .upstream()
                .list_devices(&self.current.session.sid)
        };
        match self
            .state
            .listings()
            .get(self.current.key, self.username(), load)
            .await
        {
            Ok(devices) => Ok(devices),
            Err(e) => Err(self.fail(e).await),
        }
    }

    /// A fresh listing from upstream.
    pub async fn reload(&self) -> Result<Arc<Devices>, ApiError> {
        self.state.listings().invalidate(self.current.key).await;
        self.listing().await
    }

    /// The device with `id`, looking upstream once more if the cached listing lacks
    /// it (another client may have added it).
    pub async fn resolve(&self, id: &str) -> Result<(Arc<Devices>, Device), ApiError> {
        let listing = self.listing().await?;
        if let Some(device) = listing.find(id) {
            return Ok((listing.clone(), device.clone()));
        }
        self.resolve_fresh(id).await
    }

    /// Fails with 409 if `address` is already a device (other than `except`).
    pub async fn ensure_new_address(
        &self,
        address: &Address,
        except: Option<&str>,
    ) -> Result<(), ApiError> {
        let listing = self.listing().await?;
        match listing.find_address(address) {
            Some(d) if Some(d.id.as_str()) != except => Err(ApiError::DeviceExists),
            _ => Ok(()),
        }
    }

    /// Where `verification_id` of this session stands (422 `verification_invalid`
    /// when unknown, 409 when used or spent), without taking an attempt.
    pub async fn verification(&self, verification_id: &str) -> Result<Status, ApiError> {
        self.state
            .verifications()
            .status(verification_id, self.current.key)
            .await
            .map_err(claim_error)
    }

    /// Checks `verification_id` is this session's, usable, and for `address` (when
    /// given), without taking an attempt; its status.
    pub async fn check_verification(
        &self,
        verification_id: &str,
        address: Option<&Address>,
    ) -> Result<Status, ApiError> {
        let status = self.verification(verification_id).await?;
        if address.is_some_and(|a| a.key() != status.verification.address.key()) {
            return Err(ApiError::VerificationInvalid(
                "the verification_id was issued for another address".to_owned(),
            ));
        }
        Ok(status)
    }

    /// 2FSET step 2 for `verification_id`, unless it is verified already (then
    /// nothing is sent). Takes one attempt: a right code marks the verification
    /// verified; a wrong one costs the attempt (422 with the attempts left); one that
    /// never reached Worldox is given back.
    pub async fn verify(&self, verification_id: &str, code: &str) -> Result<Verified, ApiError> {
        let verifications = self.state.verifications();
        let attempt = match verifications
            .attempt(verification_id, self.current.key)
            .await
        {
            Ok(attempt) => attempt,
            Err(ClaimError::Verified) => return Ok(Verified::Already),
            // None left, but the last may be in flight with the right code.
            Err(ClaimError::Spent) if self.verified_once_others_finish(verification_id).await => {
                return Ok(Verified::Already);
            }
            Err(e) => return Err(claim_error(e)),
        };
        let upstream = self.state.upstream();
        let verified = upstream
            .verify_code(
                &self.current.session.sid,
                &attempt.verification.reference,
                code,
            )
            .await;
        let outcome = match &verified {
            Ok(()) => Outcome::Right,
            Err(e) if !e.may_have_been_sent() => Outcome::NotSent,
            Err(_) => Outcome::Wrong,
        };
        let settled = verifications
            .finish(verification_id, outcome)
            .await
            .map_err(claim_error)?;
        match verified {
            Ok(()) => Ok(Verified::Now),
            Err(upstream::Error::Rejected(e)) if e.is_code_invalid() => {
                // A concurrent attempt (on any replica) may have used the Ref up with
                // the right code: then this one is not wrong, only late.
                let late = settled.verified
                    || (settled.in_flight > 0
                        && self.verified_once_others_finish(verification_id).await);
                if late {
                    verifications
                        .refund(verification_id)
                        .await
                        .map_err(claim_error)?;
                    return Ok(Verified::Already);
                }
                Err(ApiError::CodeInvalid {
                    attempts_left: attempt.left,
                    error: e,
                })
            }
            Err(e) => Err(self.fail(e).await),
        }
    }

    /// Whether `verification_id` is verified once the attempts in flight (on any
    /// replica) have finished: polls the store, which every replica writes (from every
    /// 10 ms, backing off to every 200 ms), at most as long as their 2FSET may take.
    async fn verified_once_others_finish(&self, verification_id: &str) -> bool {
        const FIRST_POLL: Duration = Duration::from_millis(10);
        const LONGEST_POLL: Duration = Duration::from_millis(200);
        let mut poll = FIRST_POLL;
        let budget = self.state.upstream().timeout_for(TWO_FA_SET) + Duration::from_secs(1);
        let deadline = Instant::now() + budget;
        let verifications = self.state.verifications();
        loop {
            match verifications
                .status(verification_id, self.current.key)
                .await
            {
                Ok(status) if status.stage == Stage::Verified => return true,
                Ok(status) if status.in_flight == 0 => return false,
                Ok(_) => {}
                // Used: verified, and a device write took it already.
                Err(ClaimError::Used) => return true,
                Err(_) => return false,
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(poll).await;
            poll = (poll * 2).min(LONGEST_POLL);
        }
    }

    /// Takes `verification_id` (at `stage`) for a device write: first 2FSET step 2
    /// with `code` while it is pending (a pending one without a code is 422), nothing
    /// upstream when it is verified (a `code` is then ignored); then the atomic claim,
    /// so of concurrent writes one gets it (the others 409 `verification_used`). After
    /// the write, [`Self::settle`] must be called.
    pub async fn take_verified(
        &self,
        verification_id: &str,
        stage: Stage,
        code: Option<&str>,
    ) -> Result<(), ApiError> {
        match (stage, code) {
            (Stage::Verified, _) => {}
            (Stage::Pending, Some(code)) => {
                self.verify(verification_id, code).await?;
            }
            (Stage::Pending, None) => return Err(code_needed()),
        }
        self.state
            .verifications()
            .claim(verification_id, self.current.key)
            .await
            .map(drop)
            .map_err(claim_error)
    }

    /// After the write that took `verification_id`: it stays used when the write went
    /// through, or when Worldox refused it as not verified (Worldox no longer holds
    /// the address verified: a new code is needed). After any other failure it is
    /// given back, still verified, so the user can retry the write without a new
    /// code and without step 2 being sent again (see the README: a retried step 3 is
    /// guarded by the fresh listing and Worldox's own duplicate check).
    pub async fn settle<T>(&self, verification_id: &str, outcome: &Result<T, ApiError>) {
        let keep = match outcome {
            Ok(_) => true,
            Err(ApiError::Upstream {
                error: upstream::Error::Rejected(e),
                ..
            }) => e.rctx == rc::TWO_FA_NOT_VERIFIED.1,
            Err(_) => false,
        };
        if keep {
            return;
        }
        if let Err(e) = self.state.verifications().release(verification_id).await {
            tracing::warn!(error = %e, "a failed device write could not give its verification back");
        }
    }

    /// Runs a write against the device `id`; if Worldox says the List_ID is stale,
    /// reloads the listing, resolves `id` again and retries once (then 409). A listing
    /// whose List_ID an earlier write spent is reloaded first. Afterwards the session's
    /// cached listing shows `change` when the write went through, and is dropped
    /// otherwise (or when the change cannot be shown).
    pub async fn write<F, Fut>(
        &self,
        id: &str,
        change: Change<'_>,
        op: F,
    ) -> Result<Device, ApiError>
    where
        F: Fn(String, Device) -> Fut,
        Fut: Future<Output = Result<(), upstream::Error>>,
    {
        let (mut listing, mut device) = self.resolve(id).await?;
        if listing.list_id_spent {
            (listing, device) = self.resolve_fresh(id).await?;
        }
        let mut retried = false;
        let outcome = loop {
            match op(listing.list_id.clone(), device.clone()).await {
                Err(upstream::Error::Rejected(e)) if e.is_list_stale() && !retried => {
                    tracing::debug!("stale List_ID; reloading the listing and retrying once");
                    retried = true;
                    (listing, device) = self.resolve_fresh(id).await?;
                }
                other => break other,
            }
        };
        let listings = self.state.listings();
        match outcome
            .as_ref()
            .ok()
            .and_then(|()| listing.after(id, change))
        {
            Some(updated) => listings.replace(self.current.key, updated).await,
            None => listings.invalidate(self.current.key).await,
        }
        match outcome {
            Ok(()) => Ok(device),
            Err(e) => Err(self.fail(e).await),
        }
    }

    /// The device with `id` in a listing fresh from upstream.
    async fn resolve_fresh(&self, id: &str) -> Result<(Arc<Devices>, Device), ApiError> {
        let listing = self.reload().await?;
        let device = listing.find(id).cloned().ok_or_else(no_such_device)?;
        Ok((listing, device))
    }

    /// Drops the cached listing after a write that did not go through [`Self::write`].
    pub async fn written(&self) {
        self.state.listings().invalidate(self.current.key).await;
    }

    /// The SID, for calls made by the handlers.
    pub fn sid(&self) -> &'a upstream::Sid {
        &self.current.session.sid
    }

    /// The stable id of `address` for this user.
    pub fn device_id(&self, address: &Address) -> String {
        self.state.listings().device_id(self.username(), address)
    }

    /// Maps a failed call through the status table, evicting the session if Worldox
    /// ended it.
    pub async fn fail(&self, error: upstream::Error) -> ApiError {
        // Boxed: the eviction's futures are large, and inline they would make every
        // handler's future as large, to be copied through each layer on every request.
        Box::pin(self.state.upstream_failure(Some(self.current.key), error)).await
    }
}

fn no_such_device() -> ApiError {
    ApiError::NotFound("no such device".to_owned())
}

/// A pending verification given to a write without its code.
fn code_needed() -> ApiError {
    ApiError::Validation {
        field: "code",
        message: "is required while the verification is pending: enter the code with \
                  POST /me/2fa-devices/verifications/{id} first, or send it here"
            .to_owned(),
    }
}

fn claim_error(e: ClaimError) -> ApiError {
    match e {
        ClaimError::Unknown => ApiError::VerificationInvalid(e.to_string()),
        ClaimError::Used => ApiError::VerificationUsed,
        ClaimError::Spent => ApiError::VerificationSpent,
        ClaimError::NotVerified => code_needed(),
        ClaimError::Verified => {
            ApiError::Internal("an attempt at a verified verification escaped".to_owned())
        }
        ClaimError::Store(e) => ApiError::StoreUnavailable(e.to_string()),
    }
}
