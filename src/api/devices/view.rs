//! The REST shape of a device: id, type, address (masked unless asked otherwise),
//! name, enabled, and hypermedia `_links` as in the Saasu-style API the design follows;
//! and the shape of a verification (seed 003's verify-2fa-opt-in answer).

use std::borrow::Cow;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::super::json;
use super::super::links;
use super::super::openapi::fields;
use super::super::problem::ApiError;
use crate::address::{Address, mask};
use crate::devices::{Device, Stage, Status};

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

/// `?redact=` on device reads (the default: none given).
#[derive(Debug, Default, Deserialize, IntoParams)]
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
        let (address_text, display) = shown(address, redact);
        Self {
            links: device_links(&id),
            id,
            kind: kind_of(address),
            address: address_text,
            display,
            name,
            enabled,
        }
    }
}

/// `phone` or `email`.
fn kind_of(address: &Address) -> &'static str {
    match address {
        Address::Phone(_) => "phone",
        Address::Email(_) => "email",
    }
}

/// The address and its display form, masked when `redact`: the last two forms of
/// [`mask::masked_row`], without making its first.
fn shown(address: &Address, redact: bool) -> (String, String) {
    if !redact {
        return (address.asis().to_owned(), address.view());
    }
    match address {
        Address::Phone(e164) => (mask::phone(e164), mask::phone(&address.view())),
        Address::Email(email) => {
            let masked = mask::email(email);
            (masked.clone(), masked)
        }
    }
}

/// A device's links: `self`, `update`, `delete` (all at the device) and `list`.
fn device_links(id: &str) -> Vec<Link> {
    let href = format!("{COLLECTION}/{id}");
    vec![
        link("self", &href, "GET", "This device"),
        link(
            "update",
            &href,
            "PATCH",
            "Rename, enable or disable this device",
        ),
        link("delete", &href, "DELETE", "Remove this device"),
        links::fixed("list", COLLECTION, "GET", "All your devices"),
    ]
}

/// The collection's links: `self` and `insert`.
fn list_links() -> Vec<Link> {
    vec![
        links::fixed("self", COLLECTION, "GET", "All your devices"),
        links::fixed(
            "insert",
            VERIFICATIONS,
            "POST",
            "Send a code to a new address, the first step of adding a device",
        ),
    ]
}

impl DeviceList {
    /// The collection answer.
    pub fn new(devices: Vec<DeviceView>) -> Self {
        Self {
            devices,
            links: list_links(),
        }
    }
}

/// The JSON of the [`DeviceList`] of `devices`, byte for byte what serializing it gives,
/// written straight from the listing: no view is built, and the links' fixed text is
/// written from bytes rendered once instead of being escaped again for every device.
/// (An XML answer is re-encoded from this JSON.)
pub fn list_json(devices: &[Device], redact: bool) -> Result<Vec<u8>, serde_json::Error> {
    /// What a device's links are around its id, and the collection's links.
    struct Rendered {
        device: Vec<String>,
        list: String,
    }
    /// Stands for the id while the links are rendered: nothing in them needs escaping.
    const MARKER: &str = "dev_MARKER";
    static RENDERED: LazyLock<Result<Rendered, String>> = LazyLock::new(|| {
        let device = serde_json::to_string(&device_links(MARKER)).map_err(|e| e.to_string())?;
        let list = serde_json::to_string(&list_links()).map_err(|e| e.to_string())?;
        Ok(Rendered {
            device: device.split(MARKER).map(str::to_owned).collect(),
            list,
        })
    });
    let rendered = RENDERED.as_ref().map_err(serde::ser::Error::custom)?;
    let mut out = Vec::with_capacity(256 + 640 * devices.len());
    out.extend_from_slice(b"{\"devices\":[");
    for (n, device) in devices.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        let (address, display) = shown(&device.address, redact);
        // The fields of `DeviceView` in its order, the keys as fixed text: only the
        // values are escaped (a serialized struct escaped every key again).
        out.extend_from_slice(b"{\"id\":");
        json::write_str(&mut out, &device.id)?;
        out.extend_from_slice(match device.address {
            Address::Phone(_) => b",\"type\":\"phone\",\"address\":",
            Address::Email(_) => b",\"type\":\"email\",\"address\":",
        });
        json::write_str(&mut out, &address)?;
        out.extend_from_slice(b",\"display\":");
        json::write_str(&mut out, &display)?;
        out.extend_from_slice(b",\"name\":");
        json::write_str(&mut out, &device.row.name)?;
        out.extend_from_slice(if device.row.enabled {
            b",\"enabled\":true,\"_links\":"
        } else {
            b",\"enabled\":false,\"_links\":"
        });
        // Gateway ids are `dev_` and base64url, which JSON writes as they are; any
        // other text goes through the serializer.
        if device
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            for (i, part) in rendered.device.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(device.id.as_bytes());
                }
                out.extend_from_slice(part.as_bytes());
            }
        } else {
            serde_json::to_writer(&mut out, &device_links(&device.id))?;
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"_links\":");
    out.extend_from_slice(rendered.list.as_bytes());
    out.push(b'}');
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::twofa::DeviceRow;

    fn device(id: &str, address: &str, name: &str, enabled: bool) -> Device {
        let address = Address::parse(address).expect("an address");
        Device {
            id: id.to_owned(),
            row: DeviceRow {
                rec: 1,
                addr: address.view(),
                addr_asis: address.asis().to_owned(),
                name: name.to_owned(),
                enabled,
            },
            address,
        }
    }

    #[test]
    fn shown_masks_as_masked_row_does() {
        for text in [
            "+15516555721",
            "+442071234567",
            "DSnyder@Worldox.com",
            "ab@cd.co.uk",
        ] {
            let address = Address::parse(text).expect("an address");
            let (_, asis, view) = mask::masked_row(&address);
            assert_eq!(shown(&address, true), (asis, view), "{text}");
            assert_eq!(
                shown(&address, false),
                (address.asis().to_owned(), address.view())
            );
        }
    }

    /// The listing written straight from the devices is the JSON of its `DeviceList`,
    /// byte for byte, masked or not, with names that need escaping and an id that does.
    #[test]
    fn the_listing_json_is_what_serializing_its_views_gives() {
        let devices = [
            device("dev_vZVw_ILHUPDRUTtz-AEUnQ", "+15516555721", "", true),
            device(
                "dev_AAAAAAAAAAAAAAAAAAAAAA",
                "DSnyder@Worldox.com",
                "John\u{2019}s \"work\" \\ mail\n",
                false,
            ),
            device("odd\"id</x>", "+442071234567", "\u{1}", true),
        ];
        for count in [0, 1, devices.len()] {
            for redact in [true, false] {
                let views = devices[..count]
                    .iter()
                    .map(|d| {
                        DeviceView::new(
                            d.id.clone(),
                            &d.address,
                            d.row.name.clone(),
                            d.row.enabled,
                            redact,
                        )
                    })
                    .collect();
                let expected = serde_json::to_string(&DeviceList::new(views)).expect("JSON");
                let written = list_json(&devices[..count], redact).expect("JSON");
                assert_eq!(
                    String::from_utf8(written).expect("UTF-8"),
                    expected,
                    "{count} devices, redact {redact}"
                );
            }
        }
    }
}
