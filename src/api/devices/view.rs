//! The REST shape of a device: id, type, address (masked unless asked otherwise),
//! name, enabled, and hypermedia `_links` as in the Saasu-style API the design follows.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::super::openapi::fields;
use super::super::problem::ApiError;
use crate::address::{Address, mask};

/// Where the device collection lives.
pub const COLLECTION: &str = "/me/2fa-devices";

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
    /// `self`, `list`, `update`, `delete`, `insert`.
    #[schema(value_type = String)]
    pub rel: &'static str,
    /// The target.
    pub href: String,
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
            link("list", COLLECTION, "GET", "All your devices"),
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
                link("self", COLLECTION, "GET", "All your devices"),
                link(
                    "insert",
                    &format!("{COLLECTION}/verifications"),
                    "POST",
                    "Send a code to a new address, the first step of adding a device",
                ),
            ],
        }
    }
}

fn link(rel: &'static str, href: &str, method: &'static str, title: &'static str) -> Link {
    Link {
        rel,
        href: href.to_owned(),
        method,
        title,
    }
}
