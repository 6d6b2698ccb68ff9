//! The REST shape of a device: id, type, address (masked unless asked otherwise),
//! name, enabled, and hypermedia `_links` as in the Saasu-style API the design follows;
//! and the shape of a verification (seed 003's verify-2fa-opt-in answer).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::super::links;
use super::super::openapi::fields;
use super::super::problem::ApiError;
use crate::address::{Address, mask};
use crate::devices::{Stage, Status};

/// Where the device collection lives.
pub const COLLECTION: &str = "/me/2fa-devices";
/// Where verifications live.
pub const VERIFICATIONS: &str = "/me/2fa-devices/verifications";

/// A device as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeviceView {
    /// Stable id: survives upstream renumbering.
    pub id: String,
    /// `phone` or `email`.
    #[serde(rename = "type")]
    #[schema(schema_with = fields::device_kind)]
    pub kind: &'static str,
    /// E.164 phone number or email address (masked when redacted).
    pub address: String,
    /// The address as Worldox displays it, e.g. `(551) 655-5721` (masked when redacted).
    pub display: String,
    /// The description.
    pub name: String,
    /// Whether the device can receive codes.
    pub enabled: bool,
    /// What can be done next.
    #[serde(rename = "_links")]
    pub links: Vec<Link>,
}

/// A hypermedia link.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Link {
    /// `self`, `list`, `update`, `delete`, `insert`, `verify`.
    #[schema(value_type = String)]
    pub rel: &'static str,
    /// The target: borrowed when it is a fixed route, so those links copy nothing.
    #[schema(value_type = String)]
    pub href: Cow<'static, str>,
    /// The method to use.
    #[schema(value_type = String)]
    pub method: &'static str,
    /// A human label.
    #[schema(value_type = String)]
    pub title: &'static str,
}

/// `GET /me/2fa-devices` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceList {
    /// The devices, in Worldox's order.
    pub devices: Vec<DeviceView>,
    /// `self` and `insert`.
    #[serde(rename = "_links")]
    pub links: Vec<Link>,
}

/// `?redact=` on device reads.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RedactQuery {
    /// Mask the addresses as Worldox does (the default); `false` shows them whole.
    #[param(value_type = Option<bool>)]
    redact: Option<String>,
}

impl RedactQuery {
    /// Whether addresses are masked: on unless `redact=false`.
    pub fn redact(&self) -> Result<bool, ApiError> {
        match self.redact.as_deref() {
            None | Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(_) => Err(ApiError::BadRequest(
                "redact must be true or false".to_owned(),
            )),
        }
    }
}

impl DeviceView {
    /// The view of a device.
    pub fn new(id: String, address: &Address, name: String, enabled: bool, redact: bool) -> Self {
        let (address_text, display) = if redact {
            let (_, asis, view) = mask::masked_row(address);
            (asis, view)
        } else {
            (address.asis().to_owned(), address.view())
        };
        let href = format!("{COLLECTION}/{id}");
        let links = vec![
            link("self", &href, "GET", "This device"),
            link(
                "update",
                &href,
                "PATCH",
                "Rename, enable or disable this device",
            ),
            link("delete", &href, "DELETE", "Remove this device"),
            links::fixed("list", COLLECTION, "GET", "All your devices"),
        ];
        Self {
            id,
            kind: match address {
                Address::Phone(_) => "phone",
                Address::Email(_) => "email",
            },
            address: address_text,
            display,
            name,
            enabled,
            links,
        }
    }
}

impl DeviceList {
    /// The collection answer.
    pub fn new(devices: Vec<DeviceView>) -> Self {
        Self {
            devices,
            links: vec![
                links::fixed("self", COLLECTION, "GET", "All your devices"),
                links::fixed(
                    "insert",
                    VERIFICATIONS,
                    "POST",
                    "Send a code to a new address, the first step of adding a device",
                ),
            ],
        }
    }
}

/// A verification as `GET` and `POST /me/2fa-devices/verifications/{id}` answer it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationView {
    /// The verification's id: pass it to `POST /me/2fa-devices` (or `PATCH
    /// /me/2fa-devices/{id}` for an address change) once it is verified.
    pub verification_id: String,
    /// `pending` or `verified`.
    #[schema(schema_with = fields::verification_state)]
    pub state: &'static str,
    /// Where the code went, masked as Worldox shows it.
    pub sent_to: String,
    /// Wrong codes still allowed before the verification is spent.
    pub attempts_left: u32,
    /// Seconds the verification stays usable.
    pub expires_in: u64,
    /// What happened and what to do next, for a person (seed 003's `StatusMessage`).
    pub message: String,
    /// `self`, then `verify` (pending) or `insert` (verified), and `list`.
    #[serde(rename = "_links")]
    pub links: Vec<Link>,
}

/// Why a [`VerificationView`] is being shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    /// A read (`GET`).
    Read,
    /// The code was just accepted.
    JustVerified,
    /// A code was posted to a verification that was already verified.
    AlreadyVerified,
}

impl VerificationView {
    /// The view of verification `id` in `status`.
    pub fn new(id: &str, status: &Status, occasion: Occasion) -> Self {
        let sent_to = status.verification.sent_to.clone();
        let message = match (status.stage, occasion) {
            (Stage::Pending, _) => format!(
                "A code was sent to {sent_to}. Enter it to verify the address \
                 ({} attempts left).",
                status.attempts_left
            ),
            (Stage::Verified, Occasion::JustVerified) => {
                format!("The code was accepted: {sent_to} is verified. Name the device to add it.")
            }
            (Stage::Verified, Occasion::AlreadyVerified) => format!(
                "{sent_to} was already verified; nothing was sent to Worldox. Name the \
                 device to add it."
            ),
            (Stage::Verified, Occasion::Read) => {
                format!("{sent_to} is verified. Name the device to add it.")
            }
        };
        Self {
            verification_id: id.to_owned(),
            state: status.stage.as_str(),
            sent_to,
            attempts_left: status.attempts_left,
            expires_in: status.expires_in.as_secs(),
            message,
            links: verification_links(id, status.stage),
        }
    }
}

/// The next actions on verification `id` at `stage`.
pub fn verification_links(id: &str, stage: Stage) -> Vec<Link> {
    let href = format!("{VERIFICATIONS}/{id}");
    let next = match stage {
        Stage::Pending => link("verify", &href, "POST", "Enter the code that was sent"),
        Stage::Verified => links::fixed(
            "insert",
            COLLECTION,
            "POST",
            "Add the device with this verification_id and a name",
        ),
    };
    vec![
        link("self", &href, "GET", "This verification"),
        next,
        links::fixed("list", COLLECTION, "GET", "All your devices"),
    ]
}

fn link(rel: &'static str, href: &str, method: &'static str, title: &'static str) -> Link {
    Link {
        rel,
        href: Cow::Owned(href.to_owned()),
        method,
        title,
    }
}
