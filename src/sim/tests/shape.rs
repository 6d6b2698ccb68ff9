//! An order-preserving JSON reading, to compare key order with the seeds (serde_json's
//! `Value` sorts keys without its `preserve_order` feature).

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// JSON with object keys in document order.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Json {
    Obj(Vec<(String, Json)>),
    Arr(Vec<Json>),
    Str(String),
    Num(String),
    Bool(bool),
    Null,
}

impl Json {
    pub(super) fn parse(text: &str) -> Self {
        serde_json::from_str(text).unwrap()
    }

    /// The value under a `/`-separated path of object keys.
    pub(super) fn at(&self, path: &str) -> &Json {
        path.split('/').fold(self, |node, key| match node {
            Json::Obj(fields) => {
                &fields
                    .iter()
                    .find(|(k, _)| k == key)
                    .unwrap_or_else(|| panic!("no key {key:?} in {path}"))
                    .1
            }
            other => panic!("{key:?} of a non-object {other:?}"),
        })
    }

    /// Key names and order, recursively, with value types but not values. An array's
    /// skeleton lists its elements' distinct skeletons in first-seen order.
    pub(super) fn skeleton(&self) -> String {
        match self {
            Json::Obj(fields) => {
                let inner: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{k:?}:{}", v.skeleton()))
                    .collect();
                format!("{{{}}}", inner.join(","))
            }
            Json::Arr(items) => {
                let mut seen: Vec<String> = Vec::new();
                for s in items.iter().map(Json::skeleton) {
                    if !seen.contains(&s) {
                        seen.push(s);
                    }
                }
                format!("[{}]", seen.join("|"))
            }
            Json::Str(_) => "str".to_owned(),
            Json::Num(_) => "num".to_owned(),
            Json::Bool(_) => "bool".to_owned(),
            Json::Null => "null".to_owned(),
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Num(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Num(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Num(v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_owned()))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut fields = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            fields.push((k, v));
        }
        Ok(Json::Obj(fields))
    }
}

#[test]
fn skeleton_keeps_key_order_and_ignores_values() {
    let a = Json::parse(r#"{"b":"1","a":[{"x":"1"},{"x":"2"}],"c":""}"#);
    let b = Json::parse(r#"{"b":"9","a":[{"x":"3"}],"c":"z"}"#);
    let c = Json::parse(r#"{"a":[{"x":"3"}],"b":"9","c":"z"}"#);
    assert_eq!(a.skeleton(), b.skeleton());
    assert_ne!(a.skeleton(), c.skeleton());
    assert_eq!(a.at("c"), &Json::Str(String::new()));
}
