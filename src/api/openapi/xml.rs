//! The XML twins of the document's bodies, added in one pass over the generated
//! document so every route (including ones added later) is described the same way:
//! request bodies in JSON or XML, negotiated answers in `application/json`,
//! `text/json`, `application/xml` and `text/xml`, problems in
//! `application/problem+json` and `application/problem+xml`, a 406 wherever the answer
//! is negotiated, and OpenAPI `xml` objects that say how elements are named.
//!
//! An XML request body's schema is the JSON one without `null` (XML has no null: a field
//! left out is absent). The passthrough's free-form body keeps its JSON types only: XML
//! cannot carry every parameter name its schema allows (it reads XML all the same).

use serde_json::{Map, Value, json};

use super::problems;
use crate::api::negotiate::{BOTH, Format, JSON_ONLY_ROUTES, UNTOUCHED, ref_name};
use crate::api::xml::{ITEM, PROBLEM_NAMESPACE};

/// The problem media types.
const PROBLEM_JSON: &str = "application/problem+json";
const PROBLEM_XML: &str = "application/problem+xml";

/// Adds the XML twins to `doc`.
pub fn add_twins(doc: &mut Value) {
    let not_acceptable = serde_json::to_value(problems::responses(&[&[(406, "not_acceptable")]]))
        .ok()
        .and_then(|mut r| r.get_mut("406").map(Value::take));
    // Lent out of the document while the paths are changed, and put back: a copy would
    // be a megabyte more of start-up peak.
    let schemas_slot = doc.pointer_mut("/components/schemas").map(Value::take);
    let empty = serde_json::Map::new();
    let schemas = schemas_slot
        .as_ref()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (template, item) in paths.iter_mut() {
            if UNTOUCHED.contains(&template.as_str()) {
                continue;
            }
            let json_only = JSON_ONLY_ROUTES.contains(&template.as_str());
            let operations = item
                .as_object_mut()
                .into_iter()
                .flat_map(|i| i.values_mut());
            for operation in operations {
                operation_twins(operation, json_only, not_acceptable.as_ref(), schemas);
            }
        }
    }
    if let (Some(schemas), Some(slot)) = (schemas_slot, doc.pointer_mut("/components/schemas")) {
        *slot = schemas;
    }
    name_schemas(doc);
}

/// Gives every schema in `doc`'s components its OpenAPI `xml` object: its element name,
/// and `wrapped` arrays.
pub fn name_schemas(doc: &mut Value) {
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            if let Some(schema) = schema.as_object_mut() {
                schema.insert("xml".to_owned(), json!({ "name": name }));
            }
            wrap_arrays(schema);
        }
    }
}

fn operation_twins(
    operation: &mut Value,
    json_only: bool,
    not_acceptable: Option<&Value>,
    schemas: &Map<String, Value>,
) {
    if let Some(content) = operation
        .pointer_mut("/requestBody/content")
        .and_then(Value::as_object_mut)
    {
        if let Some(json) = content.get("application/json").cloned() {
            let mut xml = json.clone();
            if let Some(schema) = xml.get_mut("schema") {
                *schema = xml_request_schema(schema, schemas);
            }
            for offer in BOTH.iter().skip(1) {
                match offer.format {
                    Format::Json => content.insert(offer.media_type.to_owned(), json.clone()),
                    Format::Xml if json_only => None,
                    Format::Xml => content.insert(offer.media_type.to_owned(), xml.clone()),
                };
            }
        }
    }
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut negotiated = false;
    for (status, response) in responses.iter_mut() {
        let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else {
            continue;
        };
        if status.starts_with('2') {
            if let Some(json) = content.get("application/json").cloned() {
                negotiated = true;
                if !json_only {
                    for offer in BOTH.iter().skip(1) {
                        content.insert(offer.media_type.to_owned(), json.clone());
                    }
                }
            }
        } else {
            problem_twin(content);
        }
    }
    if negotiated {
        if let Some(mut answer) = not_acceptable.cloned() {
            if let Some(content) = answer.get_mut("content").and_then(Value::as_object_mut) {
                problem_twin(content);
            }
            responses.insert("406".to_owned(), answer);
        }
    }
}

/// The schema of an XML request body: the JSON one (its `$ref` resolved, so it can
/// differ) without `null`, rooted at the schema's name.
fn xml_request_schema(schema: &Value, schemas: &Map<String, Value>) -> Value {
    let name = ref_name(schema);
    let mut resolved = name
        .and_then(|name| schemas.get(name))
        .unwrap_or(schema)
        .clone();
    strip_null(&mut resolved);
    if let (Some(name), Some(object)) = (name, resolved.as_object_mut()) {
        object.insert("xml".to_owned(), json!({ "name": name }));
    }
    resolved
}

/// Removes `null` from every type, `oneOf`/`anyOf` and `enum` in `schema`.
fn strip_null(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if let Some(Value::Array(types)) = object.get_mut("type") {
                types.retain(|t| t != "null");
                if let [only] = types.as_slice() {
                    let only = only.clone();
                    object.insert("type".to_owned(), only);
                }
            }
            for key in ["oneOf", "anyOf"] {
                if let Some(Value::Array(members)) = object.get_mut(key) {
                    members.retain(|m| m.get("type").is_none_or(|t| t != "null"));
                }
            }
            if let Some(Value::Array(values)) = object.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
            object.values_mut().for_each(strip_null);
        }
        Value::Array(values) => values.iter_mut().for_each(strip_null),
        _ => {}
    }
}

/// Adds `application/problem+xml` beside `application/problem+json`, rooted at
/// RFC 9457's `<problem>` in its namespace.
fn problem_twin(content: &mut Map<String, Value>) {
    let Some(schema) = content
        .get(PROBLEM_JSON)
        .and_then(|c| c.get("schema"))
        .cloned()
    else {
        return;
    };
    let xml = json!({
        "schema": {
            "allOf": [schema],
            "xml": { "name": "problem", "namespace": PROBLEM_NAMESPACE },
        }
    });
    content.insert(PROBLEM_XML.to_owned(), xml);
}

/// Marks every array in `schema` as a wrapped XML element, and names items without a
/// schema of their own `i`.
fn wrap_arrays(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            let is_array = match object.get("type") {
                Some(Value::String(t)) => t == "array",
                Some(Value::Array(types)) => types.iter().any(|t| t == "array"),
                _ => false,
            };
            if is_array {
                object.insert("xml".to_owned(), json!({ "wrapped": true }));
                if let Some(Value::Object(items)) = object.get_mut("items") {
                    if !items.contains_key("$ref") && !items.contains_key("xml") {
                        items.insert("xml".to_owned(), json!({ "name": ITEM }));
                    }
                }
            }
            for (key, value) in object.iter_mut() {
                if key != "xml" {
                    wrap_arrays(value);
                }
            }
        }
        Value::Array(values) => values.iter_mut().for_each(wrap_arrays),
        _ => {}
    }
}
