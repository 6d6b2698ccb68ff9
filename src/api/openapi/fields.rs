//! Schemas of the request fields whose rules are more than a type: the patterns say
//! exactly what the handlers' validation accepts, so a client (or a fuzzer) can tell a
//! valid value from one that gets 422 without asking the gateway.
//!
//! Character classes are spelled with `\uXXXX` escapes, which JSON Schema (ECMA 262),
//! Python and Rust regular expressions all read alike. The tests hold each pattern
//! against the validator it describes.

use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{KnownFormat, Object, SchemaFormat};

/// Unicode `White_Space`, as `str::trim` and `char::is_whitespace` read it.
const WS: &str =
    r"\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// The control characters (`Cc`), as `char::is_control` reads it.
const CC: &str = r"\u0000-\u001F\u007F-\u009F";
/// The phone separators `Address::parse` drops.
const SEP: &str = r"[ ().\-]*";

/// A login username: at least one character that is not blank, no control characters.
pub fn username() -> Object {
    string(
        format!("^[^{CC}]*[^{CC}{WS}][^{CC}]*$"),
        Some(256),
        "The Worldox user code: up to 256 characters, not blank, no control characters.",
    )
}

/// A login password: 1 to 1024 characters.
pub fn password() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
        .min_length(Some(1))
        .max_length(Some(1024))
        .description(Some("The Worldox password: 1 to 1024 characters."))
        .build()
}

/// A device name: 1 to 64 characters once trimmed, no control characters inside.
pub fn device_name() -> Object {
    string(
        trimmed(64),
        None,
        "A description: 1 to 64 characters once surrounding blanks are trimmed, no control characters.",
    )
}

/// An optional device name, for `PATCH`.
pub fn device_name_or_null() -> Object {
    nullable(device_name())
}

/// An access code as typed: 1 to 32 characters once trimmed, no control characters.
pub fn code() -> Object {
    string(
        trimmed(32),
        None,
        "The access code that was sent: 1 to 32 characters once trimmed.",
    )
}

/// An optional access code, for `PATCH`.
pub fn code_or_null() -> Object {
    nullable(code())
}

/// A phone number or an email address, exactly as `Address::parse` accepts them.
pub fn address() -> Object {
    let phone = [
        format!(r"{SEP}\+(?:{SEP}[0-9]){{8,15}}{SEP}"),
        format!(r"{SEP}(?:[0-9]{SEP}){{10}}"),
        format!(r"{SEP}1(?:{SEP}[0-9]){{10}}{SEP}"),
    ];
    let email = format!(r"[^@{CC}{WS}]+@[^@.{CC}{WS}]+(?:\.[^@.{CC}{WS}]+)+");
    string(
        format!("^[{WS}]*(?:{}|{email})[{WS}]*$", phone.join("|")),
        Some(254),
        "A phone number (`+` and 8 to 15 digits, 10 digits, or 11 digits starting with 1; \
         spaces, dots, dashes and parentheses allowed) or an email address.",
    )
}

/// An optional address, for `PATCH`.
pub fn address_or_null() -> Object {
    nullable(address())
}

/// A device's kind.
pub fn device_kind() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["phone", "email"]))
        .build()
}

/// Where a verification stands.
pub fn verification_state() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["pending", "verified"]))
        .description(Some(
            "`pending`: a code was sent and not yet entered right; `verified`: Worldox \
             accepted it and a device write may use it.",
        ))
        .build()
}

/// A pattern for a string that, trimmed, has 1 to `max` characters and no control
/// characters: first and last are neither blank nor control, the middle not control.
fn trimmed(max: usize) -> String {
    let edge = format!("[^{CC}{WS}]");
    format!("^[{WS}]*{edge}(?:[^{CC}]{{0,{}}}{edge})?[{WS}]*$", max - 2)
}

fn string(pattern: String, max_length: Option<usize>, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .max_length(max_length)
        .description(Some(description))
        .build()
}

fn nullable(mut schema: Object) -> Object {
    schema.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    schema
}

#[cfg(test)]
mod tests;
