//! JSON values as XML elements, with element names for array items taken from the
//! OpenAPI schemas (see the module above for the shape).

use std::borrow::Cow;

use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde_json::{Map, Value};

use super::{ITEM, is_xml_char};
use crate::api::negotiate::ref_name;

/// How deep `$ref`, `oneOf`, `anyOf` and `allOf` are followed to find a schema's
/// properties or items.
const MAX_SCHEMA_DEPTH: usize = 8;

/// The schemas of an OpenAPI document's `components.schemas`.
#[derive(Debug, Clone, Copy)]
pub struct Schemas<'a>(pub &'a Map<String, Value>);

impl<'a> Schemas<'a> {
    /// `schema` and what it is made of (its `$ref` target and the members of its
    /// `oneOf`, `anyOf` and `allOf`), followed a few levels deep.
    fn parts(self, schema: &'a Value, depth: usize, out: &mut Vec<&'a Value>) {
        if depth > MAX_SCHEMA_DEPTH {
            return;
        }
        out.push(schema);
        if let Some(target) = ref_name(schema).and_then(|name| self.0.get(name)) {
            self.parts(target, depth + 1, out);
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            for member in schema
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.parts(member, depth + 1, out);
            }
        }
    }

    fn find(
        self,
        schema: Option<&'a Value>,
        pick: impl Fn(&'a Value) -> Option<&'a Value>,
    ) -> Option<&'a Value> {
        let mut parts = Vec::new();
        self.parts(schema?, 0, &mut parts);
        parts.into_iter().find_map(pick)
    }

    /// The schema of property `key` of an object described by `schema`.
    fn property(self, schema: Option<&'a Value>, key: &str) -> Option<&'a Value> {
        self.find(schema, |s| s.get("properties")?.get(key))
    }

    /// The schema of an array's items.
    fn items(self, schema: Option<&'a Value>) -> Option<&'a Value> {
        self.find(schema, |s| s.get("items"))
    }

    /// The element name of an item described by `schema`: its schema's name, else `i`.
    fn item_name(self, schema: Option<&'a Value>) -> &'a str {
        let mut parts = Vec::new();
        if let Some(schema) = schema {
            self.parts(schema, 0, &mut parts);
        }
        parts.into_iter().find_map(ref_name).unwrap_or(ITEM)
    }
}

/// `value` as an XML document whose root element is `root` (with `xmlns` =
/// `namespace` when given), item names taken from `schema` (the value's schema, a
/// `$ref` into `schemas` or inline).
pub fn to_xml(
    value: &Value,
    root: &str,
    namespace: Option<&str>,
    schema: Option<&Value>,
    schemas: Schemas<'_>,
) -> std::io::Result<Vec<u8>> {
    let mut writer = Writer::new(Vec::with_capacity(256));
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut start = BytesStart::new(root);
    if let Some(namespace) = namespace {
        start.push_attribute(("xmlns", namespace));
    }
    element(&mut writer, start, value, schema, schemas)?;
    Ok(writer.into_inner())
}

/// One element: `start`, then `value`'s content, then the end tag.
fn element(
    writer: &mut Writer<Vec<u8>>,
    start: BytesStart<'_>,
    value: &Value,
    schema: Option<&Value>,
    schemas: Schemas<'_>,
) -> std::io::Result<()> {
    let end = BytesEnd::new(String::from_utf8_lossy(start.name().as_ref()).into_owned());
    match value {
        Value::Null => return writer.write_event(Event::Empty(start)),
        Value::Array(items) if items.is_empty() => return writer.write_event(Event::Empty(start)),
        Value::Object(fields) if fields.values().all(Value::is_null) => {
            return writer.write_event(Event::Empty(start));
        }
        _ => {}
    }
    writer.write_event(Event::Start(start))?;
    match value {
        Value::Null => {}
        Value::Bool(b) => {
            writer.write_event(Event::Text(BytesText::from_escaped(b.to_string())))?
        }
        Value::Number(n) => {
            writer.write_event(Event::Text(BytesText::from_escaped(n.to_string())))?;
        }
        Value::String(s) => writer.write_event(Event::Text(BytesText::from_escaped(text(s))))?,
        Value::Array(items) => {
            let item_schema = schemas.items(schema);
            let name = schemas.item_name(item_schema);
            for item in items {
                element(writer, BytesStart::new(name), item, item_schema, schemas)?;
            }
        }
        Value::Object(fields) => {
            for (key, field) in fields.iter().filter(|(_, v)| !v.is_null()) {
                let start = if is_name(key) {
                    BytesStart::new(key.as_str())
                } else {
                    // A key that cannot be an element name keeps its spelling in an
                    // attribute.
                    let mut entry = BytesStart::new("entry");
                    entry.push_attribute(("key", key.as_str()));
                    entry
                };
                element(writer, start, field, schemas.property(schema, key), schemas)?;
            }
        }
    }
    writer.write_event(Event::End(end))
}

/// `s` as XML character data: `<`, `>` and `&` escaped, a carriage return as `&#13;` (a
/// parser would turn a bare one into a line feed), and characters XML 1.0 cannot carry
/// (most C0 controls, U+FFFE, U+FFFF) as U+FFFD.
fn text(s: &str) -> Cow<'_, str> {
    let clean: Cow<'_, str> = if s.chars().all(is_xml_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(
            s.chars()
                .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    };
    let escaped = partial_escape(clean);
    if escaped.contains('\r') {
        Cow::Owned(escaped.replace('\r', "&#13;"))
    } else {
        escaped
    }
}

/// Whether `key` can be an element name as it is: an XML `NCName` without a `:`, and
/// not starting with `xml` in any case (reserved).
fn is_name(key: &str) -> bool {
    let mut chars = key.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !key.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("xml"))
}
