//! XML request bodies: screened first (no DTD, no entity but the five predefined ones
//! and character references, one root, bounded depth, UTF-8), then read by quick-xml's
//! serde support into the same types as JSON.
//!
//! quick-xml never fetches or expands external entities, and expands no declared ones
//! with its default resolver; the screen makes the refusal explicit and early, so a
//! billion-laughs or an external-entity body is a 400 before anything else reads it.

use quick_xml::Reader;
use quick_xml::Writer;
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use serde::de::DeserializeOwned;

use super::is_xml_char;

/// How deep elements may nest (the request types are flat; this bounds the work and
/// the recursion of a free-form body).
const MAX_DEPTH: usize = 32;

/// `bytes` read as an XML document into `T`; the error is the 400's detail.
pub fn from_xml<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "an XML body must be UTF-8".to_owned())?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let screened = screen(text)?;
    let mut de = quick_xml::de::Deserializer::from_str(&screened);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("invalid request body: {}", e.inner())
        } else {
            format!("invalid request body: {path}: {}", e.inner())
        }
    })
}

/// The document again with its namespace declarations dropped (the body's types have
/// none: `xmlns:xsi` on the root, as seed 003's samples carry, is not a field), or why
/// it is refused.
fn screen(text: &str) -> Result<String, String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut out = Writer::new(Vec::with_capacity(text.len()));
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML: {e}"))?;
        let kept = match event {
            Event::DocType(_) => {
                return Err(
                    "a DOCTYPE is not accepted: XML bodies may not declare or use entities"
                        .to_owned(),
                );
            }
            Event::GeneralRef(reference) => {
                if reference.is_char_ref() {
                    match reference.resolve_char_ref() {
                        Ok(Some(c)) if is_xml_char(c) => {}
                        _ => return Err("malformed XML: an invalid character reference".to_owned()),
                    }
                } else {
                    let name = String::from_utf8_lossy(&reference).into_owned();
                    if resolve_predefined_entity(&name).is_none() {
                        return Err(format!(
                            "the entity reference &{name}; is not accepted: only &lt; &gt; &amp; &apos; &quot; and character references are"
                        ));
                    }
                }
                Some(Event::GeneralRef(reference))
            }
            Event::Start(start) => {
                depth += 1;
                if depth == 1 {
                    roots += 1;
                }
                check_nesting(depth, roots)?;
                Some(Event::Start(without_namespaces(&start)?))
            }
            Event::Empty(start) => {
                if depth == 0 {
                    roots += 1;
                }
                check_nesting(depth + 1, roots)?;
                Some(Event::Empty(without_namespaces(&start)?))
            }
            Event::End(end) => {
                depth = depth.saturating_sub(1);
                Some(Event::End(end))
            }
            Event::Text(t) if depth == 0 => {
                if !t.iter().all(u8::is_ascii_whitespace) {
                    return Err("malformed XML: text outside the root element".to_owned());
                }
                None
            }
            Event::Text(t) => Some(Event::Text(t)),
            Event::CData(c) if depth > 0 => Some(Event::CData(c)),
            Event::CData(_) => {
                return Err("malformed XML: text outside the root element".to_owned());
            }
            Event::Decl(decl) => {
                if let Some(encoding) = decl.encoding() {
                    let encoding = encoding.map_err(|e| format!("malformed XML: {e}"))?;
                    if !encoding.eq_ignore_ascii_case(b"utf-8") {
                        return Err(format!(
                            "an XML body must be UTF-8, not {}",
                            String::from_utf8_lossy(&encoding)
                        ));
                    }
                }
                None
            }
            Event::Comment(_) | Event::PI(_) => None,
            Event::Eof => break,
        };
        if let Some(event) = kept {
            out.write_event(event)
                .map_err(|e| format!("malformed XML: {e}"))?;
        }
    }
    if depth > 0 {
        return Err("malformed XML: an element is not closed".to_owned());
    }
    if roots == 0 {
        return Err("malformed XML: no root element".to_owned());
    }
    String::from_utf8(out.into_inner()).map_err(|_| "an XML body must be UTF-8".to_owned())
}

/// The XML version attribute values are normalized by (bodies are XML 1.0).
fn reader_version() -> XmlVersion {
    XmlVersion::Implicit1_0
}

fn check_nesting(depth: usize, roots: usize) -> Result<(), String> {
    if roots > 1 {
        return Err("malformed XML: more than one root element".to_owned());
    }
    if depth > MAX_DEPTH {
        return Err(format!("XML nested deeper than {MAX_DEPTH} elements"));
    }
    Ok(())
}

/// `start` without `xmlns` and `xmlns:*` attributes; an attribute value with an entity
/// reference other than the predefined ones is refused.
fn without_namespaces(start: &BytesStart<'_>) -> Result<BytesStart<'static>, String> {
    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
    let mut kept = BytesStart::new(name);
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| format!("malformed XML: {e}"))?;
        attribute
            .normalized_value(reader_version())
            .map_err(|e| format!("an attribute value is not accepted: {e}"))?;
        let key = attribute.key.as_ref();
        if key == b"xmlns" || key.starts_with(b"xmlns:") {
            continue;
        }
        kept.push_attribute(attribute);
    }
    Ok(kept)
}
