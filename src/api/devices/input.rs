//! Request bodies of the device routes and their validation.

use serde::Deserialize;
use utoipa::ToSchema;

use super::super::openapi::fields;
use super::super::problem::ApiError;
use crate::address::Address;

/// Longest device name, in characters.
const MAX_NAME_CHARS: usize = 64;
/// Longest access code accepted, in characters.
const MAX_CODE_CHARS: usize = 32;

/// `POST /me/2fa-devices/verifications` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VerificationRequest {
    /// Where to send the code: a phone number or an email address.
    #[schema(schema_with = fields::address)]
    pub address: String,
}

/// `POST /me/2fa-devices/verifications/{id}` body: 2FSET step 2 alone.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyRequest {
    /// The access code the user received.
    #[schema(schema_with = fields::code)]
    pub code: String,
}

/// `POST /me/2fa-devices` body. With `code`, the code is checked (2FSET step 2) and
/// the device added (step 3) in one call; without, the verification must have been
/// verified by `POST /me/2fa-devices/verifications/{id}`, and only step 3 is sent.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateRequest {
    /// The address the code was sent to (default: the verification's address).
    #[serde(default)]
    #[schema(schema_with = fields::address_or_null)]
    pub address: Option<String>,
    /// A description.
    #[schema(schema_with = fields::device_name)]
    pub name: String,
    /// Whether the device can receive codes (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// From `POST /me/2fa-devices/verifications`.
    pub verification_id: String,
    /// The access code the user received; leave it out once the verification is
    /// verified (ignored then: nothing is sent to Worldox again).
    #[serde(default)]
    #[schema(schema_with = fields::code_or_null)]
    pub code: Option<String>,
}

/// `PATCH /me/2fa-devices/{id}` body. A new address also needs a verification.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchRequest {
    /// New description.
    #[schema(schema_with = fields::device_name_or_null)]
    pub name: Option<String>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New address (needs `verification_id`, and `code` unless it is verified).
    #[schema(schema_with = fields::address_or_null)]
    pub address: Option<String>,
    /// From `POST /me/2fa-devices/verifications` for the new address.
    pub verification_id: Option<String>,
    /// The access code sent to the new address; not needed once the verification is
    /// verified.
    #[schema(schema_with = fields::code_or_null)]
    pub code: Option<String>,
}

fn yes() -> bool {
    true
}

/// A phone number or an email address, or a 422 naming `field`.
pub fn address(field: &'static str, text: &str) -> Result<Address, ApiError> {
    if text.chars().count() > 254 {
        return Err(invalid(field, "is too long"));
    }
    Address::parse(text).ok_or_else(|| {
        invalid(
            field,
            "must be an email address or a phone number (E.164 such as +15516555721, or 10 digits)",
        )
    })
}

/// A device name: 1 to 64 characters, no control characters.
pub fn name(text: &str) -> Result<String, ApiError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(invalid("name", "must not be empty"));
    }
    if trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(invalid("name", "must be at most 64 characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(invalid("name", "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

/// An access code as typed: 1 to 32 characters, no control characters.
pub fn code(text: &str) -> Result<&str, ApiError> {
    let trimmed = text.trim();
    if trimmed.is_empty()
        || trimmed.chars().count() > MAX_CODE_CHARS
        || trimmed.chars().any(char::is_control)
    {
        return Err(invalid("code", "must be the access code that was sent"));
    }
    Ok(trimmed)
}

fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError::Validation {
        field,
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests;
