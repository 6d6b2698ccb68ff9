//! `/me/2fa-devices`: the user's two-factor devices over 2FGET and the multi-step
//! 2FSET. Each handler reads as its phases: authenticate (extractor) → validate →
//! resolve the device → call Worldox → translate.

pub mod input;
pub mod session_ops;
pub mod view;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use self::input::{CreateRequest, PatchRequest, VerificationRequest};
use self::session_ops::DeviceOps;
use self::view::{COLLECTION, DeviceList, DeviceView, RedactQuery};
use super::auth::CurrentSession;
use super::json::{ApiJson, json_bytes, no_store, private_json_bytes};
use super::openapi::problems;
use super::problem::ApiError;
use super::state::AppState;
use crate::devices::{Device, Verification};
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
}

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
        let devices = listing.devices.iter().map(|d| view(d, redact)).collect();
        json_bytes(&DeviceList::new(devices), 256 + 768 * listing.devices.len())
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
    let verification_id = verifications
        .start(&Verification {
            session: current.key,
            reference: sent.reference,
            address,
        })
        .await
        .map_err(|e| ApiError::StoreUnavailable(e.to_string()))?;
    let body = VerificationSent {
        verification_id,
        sent_to: sent.sent_to,
        expires_in: verifications.ttl().as_secs(),
    };
    Ok(no_store((StatusCode::ACCEPTED, Json(body))))
}

/// `POST /me/2fa-devices`: 2FSET steps 2 (the code) and 3 (the record).
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
    let address = input::address("address", &body.address)?;
    let name = input::name(&body.name)?;
    let code = input::code(&body.code)?;
    let ops = DeviceOps::new(&state, &current);
    ops.check_verification(&body.verification_id, &address)
        .await?;
    ops.ensure_new_address(&address, None).await?;
    ops.verify(&body.verification_id, code).await?;
    let record = Record {
        address: address.asis(),
        name: &name,
        enabled: body.enabled,
    };
    let added = state.upstream().add_device(ops.sid(), &record).await;
    ops.written().await;
    if let Err(e) = added {
        return Err(ops.fail(e).await);
    }
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
    if let Some(address) = moving {
        let (Some(verification_id), Some(code)) = (&patch.verification_id, &patch.code) else {
            return Err(ApiError::Validation {
                field: "verification_id",
                message: "a new address needs verification_id and code".to_owned(),
            });
        };
        let code = input::code(code)?;
        ops.check_verification(verification_id, address).await?;
        ops.ensure_new_address(address, Some(&id)).await?;
        ops.verify(verification_id, code).await?;
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
    ops.write(&id, |list_id, device| {
        let record = record.clone();
        async move {
            upstream
                .edit_device(sid, &list_id, device.row.rec, &record)
                .await
        }
    })
    .await?;
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
    ops.write(&id, |list_id, device| async move {
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

fn view(device: &Device, redact: bool) -> DeviceView {
    DeviceView::new(
        device.id.clone(),
        &device.address,
        device.row.name.clone(),
        device.row.enabled,
        redact,
    )
}
