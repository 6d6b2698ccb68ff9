//! XML bodies, as seed 003's API has them: answers re-encoded from the JSON a handler
//! wrote ([`write`]), and request bodies screened for DTDs and entities, then read into
//! the same types as JSON ([`read`]).
//!
//! The shape: the resource is the root element (named after its schema in the OpenAPI
//! document: `<DeviceView>`, `<LoginResponse>`), each JSON field an element of the same
//! name (in the order of serde_json's map, by name: order carries no meaning), a JSON
//! `null` an absent element, and an array a wrapper
//! element named for the field with one element per item, named after the item's schema
//! (`<_links><Link>…</Link></_links>`) or `<i>` when the item has no named schema (as
//! RFC 9457's XML appendix writes arrays). Problems are RFC 9457 `<problem>` elements in
//! the `urn:ietf:rfc:7807` namespace.

mod read;
#[cfg(test)]
mod tests;
mod write;

pub use read::from_xml;
pub use write::{Schemas, to_xml};

/// The namespace of RFC 9457's XML problem format.
pub const PROBLEM_NAMESPACE: &str = "urn:ietf:rfc:7807";

/// The element of an array item that has no named schema.
pub const ITEM: &str = "i";

/// The suffix added inside an entity tag of the XML representation (`"x"` → `"x.xml"`),
/// so its strong validator differs from the JSON one's, as RFC 9110 §8.8.3 requires.
pub const ETAG_SUFFIX: &str = ".xml";

/// The entity tag of the XML twin of a JSON representation tagged `tag`.
pub fn xml_etag(tag: &str) -> Option<String> {
    let open = tag.strip_suffix('"')?;
    Some(format!("{open}{ETAG_SUFFIX}\""))
}

/// What an `If-None-Match` member sent for the XML representation means to a handler
/// that compares the JSON one's tags: the JSON tag an XML twin's tag was made from (the
/// inverse of [`xml_etag`]), `*` as it is, and `None` for any other tag (it names
/// another representation, so it can never match).
pub fn json_etag(tag: &str) -> Option<String> {
    let tag = tag.trim();
    if tag == "*" {
        return Some(tag.to_owned());
    }
    tag.strip_suffix('"')
        .and_then(|open| open.strip_suffix(ETAG_SUFFIX))
        .map(|open| format!("{open}\""))
}

/// Whether XML 1.0 can carry `c` at all (its `Char` production); others are written
/// as U+FFFD.
pub fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}
