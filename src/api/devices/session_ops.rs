//! The device operations of one authenticated request: read the (cached) listing,
//! resolve a stable id to its row, verify a code, and write with one retry when the
//! List_ID went stale.

use std::future::Future;
use std::sync::Arc;

use super::super::auth::CurrentSession;
use super::super::problem::ApiError;
use super::super::state::AppState;
use crate::address::Address;
use crate::devices::{ClaimError, Device, Devices};
use crate::upstream;

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
        let listing = self.reload().await?;
        let device = listing.find(id).cloned().ok_or_else(no_such_device)?;
        Ok((listing, device))
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

    /// Checks `verification_id` is this session's, unused, and for `address`, without
    /// taking an attempt.
    pub async fn check_verification(
        &self,
        verification_id: &str,
        address: &Address,
    ) -> Result<(), ApiError> {
        let pending = self
            .state
            .verifications()
            .peek(verification_id, self.current.key)
            .await
            .map_err(claim_error)?;
        if pending.address.key() != address.key() {
            return Err(ApiError::VerificationInvalid(
                "the verification_id was issued for another address".to_owned(),
            ));
        }
        Ok(())
    }

    /// Takes one attempt at `verification_id` and sends its code upstream (2FSET step
    /// 2). A right code uses the verification up; a wrong one costs the attempt (422
    /// with the attempts left); one that never reached Worldox is given back.
    pub async fn verify(&self, verification_id: &str, code: &str) -> Result<(), ApiError> {
        let verifications = self.state.verifications();
        let attempt = verifications
            .attempt(verification_id, self.current.key)
            .await
            .map_err(claim_error)?;
        let verified = self
            .state
            .upstream()
            .verify_code(
                &self.current.session.sid,
                &attempt.verification.reference,
                code,
            )
            .await;
        match verified {
            Ok(()) => verifications
                .succeeded(verification_id)
                .await
                .map_err(claim_error),
            Err(upstream::Error::Rejected(e)) if e.is_code_invalid() => {
                Err(ApiError::CodeInvalid {
                    attempts_left: attempt.left,
                    error: e,
                })
            }
            Err(e) => {
                if !e.may_have_been_sent() {
                    verifications
                        .refund(verification_id)
                        .await
                        .map_err(claim_error)?;
                }
                Err(self.fail(e).await)
            }
        }
    }

    /// Runs a write against the device `id`; if Worldox says the List_ID is stale,
    /// reloads the listing, resolves `id` again and retries once (then 409). The
    /// session's cached listing is dropped afterwards, whatever happened.
    pub async fn write<F, Fut>(&self, id: &str, op: F) -> Result<Device, ApiError>
    where
        F: Fn(String, Device) -> Fut,
        Fut: Future<Output = Result<(), upstream::Error>>,
    {
        let (mut listing, mut device) = self.resolve(id).await?;
        let mut retried = false;
        let outcome = loop {
            match op(listing.list_id.clone(), device.clone()).await {
                Err(upstream::Error::Rejected(e)) if e.is_list_stale() && !retried => {
                    tracing::debug!("stale List_ID; reloading the listing and retrying once");
                    retried = true;
                    listing = self.reload().await?;
                    device = listing.find(id).cloned().ok_or_else(no_such_device)?;
                }
                other => break other,
            }
        };
        self.state.listings().invalidate(self.current.key).await;
        match outcome {
            Ok(()) => Ok(device),
            Err(e) => Err(self.fail(e).await),
        }
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

fn claim_error(e: ClaimError) -> ApiError {
    match e {
        ClaimError::Unknown => ApiError::VerificationInvalid(e.to_string()),
        ClaimError::Used => ApiError::VerificationUsed,
        ClaimError::Spent => ApiError::VerificationSpent,
        ClaimError::Store(e) => ApiError::StoreUnavailable(e.to_string()),
    }
}
