//! `/me/2fa-devices`: the user's two-factor devices over 2FGET and the multi-step
//! 2FSET. Each handler reads as its phases: authenticate (extractor) → validate →
//! resolve the device → call Worldox → translate.
//!
//! Adding a device is 2FSET's three steps: `POST …/verifications` (step 1, a code
//! sent), `POST …/verifications/{id}` (step 2, the code checked: seed 003's
//! verify-2fa-opt-in), `POST /me/2fa-devices` (step 3, the record; it also takes the
//! code and runs steps 2 and 3 in one call).

pub mod input;
pub mod session_ops;
pub mod view;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;
use utoipa::ToSchema;

use self::input::{CreateRequest, PatchRequest, VerificationRequest, VerifyRequest};
use self::session_ops::{DeviceOps, Verified};
use self::view::{
    COLLECTION, DeviceList, DeviceView, Link, Occasion, RedactQuery, VerificationView,
    verification_links,
};
use super::auth::CurrentSession;
use super::json::{ApiJson, no_store, private_json_bytes};
use super::openapi::problems;
use super::problem::ApiError;
use super::state::AppState;
use crate::devices::{Change, Device, Stage, Verification};
use crate::upstream::twofa::Record;

/// `POST /me/2fa-devices/verifications` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationSent {
    /// Pass it, with the code, to `POST /me/2fa-devices` or `PATCH /me/2fa-devices/{id}`.
    pub verification_id: String,
    /// Where the code went, masked as Worldox shows it.
    pub sent_to: String,
    /// Seconds the verification stays usable.
    pub expires_in: u64,
    /// `self` and `verify` (enter the code), and `list`.
    #[serde(rename = "_links")]
    pub links: Vec<Link>,
}

/// Longest `verification_id` looked up; longer ones are unknown without a store call.
const MAX_VERIFICATION_ID: usize = 64;

/// `GET /me/2fa-devices[?redact=true|false]`.
#[utoipa::path(
    get,
    path = "/me/2fa-devices",
    operation_id = "listDevices",
    tag = "2fa-devices",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(RedactQuery),
    responses((status = 200, description = "The devices, in Worldox's order.", body = DeviceList), problems::ListDevices),
)]
pub async fn list(
    State(state): State<AppState>,
    current: CurrentSession,
    Query(query): Query<RedactQuery>,
) -> Result<Response, ApiError> {
    let redact = query.redact()?;
    let listing = DeviceOps::new(&state, &current).listing().await?;
    // Rendered once per listing (and redaction); later reads answer the same bytes.
    let body = listing.rendered.get_or_init(redact, || {
        view::list_json(&listing.devices, redact)
            .map(Bytes::from)
            .map_err(|e| ApiError::Internal(format!("cannot encode the answer: {e}")))
    })?;
    Ok(private_json_bytes(body))
}

/// `GET /me/2fa-devices/{id}`.
#[utoipa::path(
    get,
    path = "/me/2fa-devices/{id}",
    operation_id = "getDevice",
    tag = "2fa-devices",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = String, Path, description = "A device id from the listing"), RedactQuery),
    responses((status = 200, description = "The device.", body = DeviceView), problems::GetDevice),
)]
pub async fn get(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<String>,
    Query(query): Query<RedactQuery>,
) -> Result<Response, ApiError> {
    let redact = query.redact()?;
    let (_, device) = DeviceOps::new(&state, &current).resolve(&id).await?;
    Ok(no_store(Json(view(&device, redact))))
}

/// `POST /me/2fa-devices/verifications`: 2FSET step 1, a code sent to `address`.
#[utoipa::path(
    post,
    path = "/me/2fa-devices/verifications",
    operation_id = "startVerification",
    tag = "2fa-devices",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    request_body = VerificationRequest,
    responses((status = 202, description = "A code is on its way.", body = VerificationSent), problems::StartVerification),
)]
pub async fn start_verification(
    State(state): State<AppState>,
    current: CurrentSession,
    ApiJson(body): ApiJson<VerificationRequest>,
) -> Result<Response, ApiError> {
    let address = input::address("address", &body.address)?;
    // SMS pumping: beyond the code-send limits nothing goes to Worldox.
    state
        .code_sends()
        .check(current.key, &current.session, &address)
        .await?;
    let ops = DeviceOps::new(&state, &current);
    let sent = match state.upstream().send_code(ops.sid(), address.asis()).await {
        Ok(sent) => sent,
        Err(e) => return Err(ops.fail(e).await),
    };
    let verifications = state.verifications();
    let sent_to = if sent.sent_to.is_empty() {
        crate::address::mask::masked(&address)
    } else {
        sent.sent_to
    };
    let verification_id = verifications
        .start(&Verification {
            session: current.key,
            reference: sent.reference,
            address,
            sent_to: sent_to.clone(),
        })
        .await
        .map_err(|e| ApiError::StoreUnavailable(e.to_string()))?;
    let body = VerificationSent {
        links: verification_links(&verification_id, Stage::Pending),
        verification_id,
        sent_to,
        expires_in: verifications.ttl().as_secs(),
    };
    Ok(no_store((StatusCode::ACCEPTED, Json(body))))
}

/// `GET /me/2fa-devices/verifications/{id}`: where a verification stands.
#[utoipa::path(
    get,
    path = "/me/2fa-devices/verifications/{id}",
    operation_id = "getVerification",
    tag = "2fa-devices",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = String, Path, description = "A verification_id from POST /me/2fa-devices/verifications")),
    responses((status = 200, description = "The verification, pending or verified.", body = VerificationView), problems::GetVerification),
)]
pub async fn get_verification(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ops = DeviceOps::new(&state, &current);
    let status = ops.verification(known_id(&id)?).await.map_err(in_path)?;
    let view = VerificationView::new(&id, &status, Occasion::Read);
    Ok(no_store(Json(view)))
}

/// `POST /me/2fa-devices/verifications/{id}`: 2FSET step 2 alone, seed 003's
/// verify-2fa-opt-in. Idempotent: a verified verification answers 200 again and
/// nothing is sent upstream.
#[utoipa::path(
    post,
    path = "/me/2fa-devices/verifications/{id}",
    operation_id = "verifyCode",
    tag = "2fa-devices",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = String, Path, description = "A verification_id from POST /me/2fa-devices/verifications")),
    request_body = VerifyRequest,
    responses((status = 200, description = "The code was right (now or before): the verification is verified.", body = VerificationView), problems::VerifyCode),
)]
pub async fn verify(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<VerifyRequest>,
) -> Result<Response, ApiError> {
    let code = input::code(&body.code)?;
    let ops = DeviceOps::new(&state, &current);
    let mut status = ops.verification(known_id(&id)?).await.map_err(in_path)?;
    let occasion = match status.stage {
        Stage::Verified => Occasion::AlreadyVerified,
        Stage::Pending => match ops.verify(&id, code).await.map_err(in_path)? {
            Verified::Now => Occasion::JustVerified,
            Verified::Already => Occasion::AlreadyVerified,
        },
    };
    if occasion == Occasion::JustVerified {
        // The right code took an attempt like any other.
        status.attempts_left = status.attempts_left.saturating_sub(1);
        tracing::info!("2FA address verified (2FSET step 2)");
    }
    status.stage = Stage::Verified;
    let view = VerificationView::new(&id, &status, occasion);
    Ok(no_store(Json(view)))
}

/// `POST /me/2fa-devices`: 2FSET step 3 (the record) with a verified verification, or
/// steps 2 (the code) and 3 in one call. The verification is used up by a device
/// added; a failed step 3 gives it back still verified (see [`DeviceOps::settle`]).
#[utoipa::path(
    post,
    path = "/me/2fa-devices",
    operation_id = "createDevice",
    tag = "2fa-devices",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(RedactQuery),
    request_body = CreateRequest,
    responses(
        (status = 201, description = "The device was added.", body = DeviceView, headers(
            ("location" = String, description = "The new device"),
        )),
        problems::CreateDevice,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    current: CurrentSession,
    Query(query): Query<RedactQuery>,
    ApiJson(body): ApiJson<CreateRequest>,
) -> Result<Response, ApiError> {
    let redact = query.redact()?;
    let given = body
        .address
        .as_deref()
        .map(|a| input::address("address", a))
        .transpose()?;
    let name = input::name(&body.name)?;
    let code = body.code.as_deref().map(input::code).transpose()?;
    let ops = DeviceOps::new(&state, &current);
    let status = ops
        .check_verification(&body.verification_id, given.as_ref())
        .await?;
    let address = status.verification.address;
    ops.ensure_new_address(&address, None).await?;
    ops.take_verified(&body.verification_id, status.stage, code)
        .await?;
    let record = Record {
        address: address.asis(),
        name: &name,
        enabled: body.enabled,
    };
    let added = state.upstream().add_device(ops.sid(), &record).await;
    ops.written().await;
    let added = match added {
        Ok(()) => Ok(()),
        Err(e) => Err(ops.fail(e).await),
    };
    ops.settle(&body.verification_id, &added).await;
    added?;
    let id = ops.device_id(&address);
    let location = format!("{COLLECTION}/{id}");
    tracing::info!(device = %id, "2FA device added");
    let view = DeviceView::new(id, &address, name, body.enabled, redact);
    let mut response = no_store((StatusCode::CREATED, Json(view)));
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// `PATCH /me/2fa-devices/{id}`: rename, enable/disable, or (with a verification)
/// move to a new address.
#[utoipa::path(
    patch,
    path = "/me/2fa-devices/{id}",
    operation_id = "updateDevice",
    tag = "2fa-devices",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = String, Path, description = "A device id from the listing"), RedactQuery),
    request_body = PatchRequest,
    responses((status = 200, description = "The device as it is now.", body = DeviceView), problems::UpdateDevice),
)]
pub async fn update(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<String>,
    Query(query): Query<RedactQuery>,
    ApiJson(patch): ApiJson<PatchRequest>,
) -> Result<Response, ApiError> {
    let redact = query.redact()?;
    let new_name = patch.name.as_deref().map(input::name).transpose()?;
    let new_address = patch
        .address
        .as_deref()
        .map(|a| input::address("address", a))
        .transpose()?;
    let ops = DeviceOps::new(&state, &current);
    let (_, device) = ops.resolve(&id).await?;
    let moving = new_address
        .as_ref()
        .filter(|a| a.key() != device.address.key());
    let mut taken = None;
    if let Some(address) = moving {
        let Some(verification_id) = &patch.verification_id else {
            return Err(ApiError::Validation {
                field: "verification_id",
                message: "a new address needs verification_id (and code, unless the \
                          verification is verified)"
                    .to_owned(),
            });
        };
        let code = patch.code.as_deref().map(input::code).transpose()?;
        let status = ops
            .check_verification(verification_id, Some(address))
            .await?;
        ops.ensure_new_address(address, Some(&id)).await?;
        ops.take_verified(verification_id, status.stage, code)
            .await?;
        taken = Some(verification_id);
    }
    let name = new_name.unwrap_or_else(|| device.row.name.clone());
    let enabled = patch.enabled.unwrap_or(device.row.enabled);
    let address = moving.unwrap_or(&device.address).clone();
    if moving.is_none() && name == device.row.name && enabled == device.row.enabled {
        // Nothing changes: no upstream write.
        return Ok(no_store(Json(view(&device, redact))));
    }
    let record = Record {
        address: address.asis(),
        name: &name,
        enabled,
    };
    let (upstream, sid) = (state.upstream(), ops.sid());
    // A new address gives the device a new id and Worldox's own display of it.
    let change = match moving {
        Some(_) => Change::Unknown,
        None => Change::Edited {
            name: &name,
            enabled,
        },
    };
    let written = ops
        .write(&id, change, |list_id, device| {
            let record = record.clone();
            async move {
                upstream
                    .edit_device(sid, &list_id, device.row.rec, &record)
                    .await
            }
        })
        .await;
    if let Some(verification_id) = taken {
        ops.settle(verification_id, &written).await;
    }
    written?;
    tracing::info!(device = %id, "2FA device updated");
    let view = DeviceView::new(ops.device_id(&address), &address, name, enabled, redact);
    Ok(no_store(Json(view)))
}

/// `DELETE /me/2fa-devices/{id}`.
#[utoipa::path(
    delete,
    path = "/me/2fa-devices/{id}",
    operation_id = "deleteDevice",
    tag = "2fa-devices",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = String, Path, description = "A device id from the listing")),
    responses((status = 204, description = "The device was removed."), problems::DeleteDevice),
)]
pub async fn delete(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let ops = DeviceOps::new(&state, &current);
    let (upstream, sid) = (state.upstream(), ops.sid());
    ops.write(&id, Change::Deleted, |list_id, device| async move {
        upstream
            .delete_device(
                sid,
                &list_id,
                device.row.rec,
                device.address.asis(),
                &device.row.name,
            )
            .await
    })
    .await?;
    tracing::info!(device = %id, "2FA device deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// A verification id that could be one this gateway issued, or 404.
fn known_id(id: &str) -> Result<&str, ApiError> {
    if id.len() > MAX_VERIFICATION_ID || !id.starts_with("ver_") {
        return Err(no_such_verification());
    }
    Ok(id)
}

/// A verification named in the path: unknown, expired or another session's is 404
/// (as an unknown device id is), where one named in a body is 422.
fn in_path(error: ApiError) -> ApiError {
    match error {
        ApiError::VerificationInvalid(_) => no_such_verification(),
        other => other,
    }
}

fn no_such_verification() -> ApiError {
    ApiError::NotFound("no such verification (unknown, expired, or not yours)".to_owned())
}

fn view(device: &Device, redact: bool) -> DeviceView {
    DeviceView::new(
        device.id.clone(),
        &device.address,
        device.row.name.clone(),
        device.row.enabled,
        redact,
    )
}
