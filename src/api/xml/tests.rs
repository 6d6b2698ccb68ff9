//! XML out and in: the seed's shape, escaping, and the refusals.

use serde::Deserialize;
use serde_json::{Value, json};

use super::*;

fn schemas() -> serde_json::Map<String, Value> {
    json!({
        "Link": {"type": "object", "properties": {"rel": {"type": "string"}}},
        "DeviceView": {"type": "object", "properties": {
            "_links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}},
        }},
        "DeviceList": {"type": "object", "properties": {
            "devices": {"type": "array", "items": {"$ref": "#/components/schemas/DeviceView"}},
            "tags": {"type": ["array", "null"], "items": {"type": "string"}},
            "maybe": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/DeviceView"}]},
        }},
    })
    .as_object()
    .cloned()
    .expect("an object")
}

fn xml(value: &Value, root: &str) -> String {
    let schemas = schemas();
    let schema = json!({"$ref": format!("#/components/schemas/{root}")});
    let bytes = to_xml(value, root, None, Some(&schema), Schemas(&schemas)).expect("written");
    String::from_utf8(bytes).expect("UTF-8")
}

#[test]
fn answers_take_the_seed_shape() {
    let list = json!({
        "devices": [{"id": "d1", "_links": [
            {"rel": "self", "href": "/me/2fa-devices/d1", "method": "GET", "title": "This device"},
            {"rel": "delete", "href": "/me/2fa-devices/d1", "method": "DELETE", "title": "Remove"},
        ]}],
        "tags": ["a", "b"],
        "maybe": {"_links": [{"rel": "x"}]},
        "empty": [],
        "gone": null,
        "enabled": true,
        "count": 2,
    });
    let text = xml(&list, "DeviceList");
    assert!(
        text.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><DeviceList>"#),
        "{text}"
    );
    // Fields in serde_json's map order (by name); arrays wrapped, items named by schema.
    assert!(text.contains(
        "<DeviceList><count>2</count><devices><DeviceView><_links><Link>\
         <href>/me/2fa-devices/d1</href><method>GET</method><rel>self</rel><title>This device</title>\
         </Link><Link><href>/me/2fa-devices/d1</href><method>DELETE</method><rel>delete</rel>\
         <title>Remove</title></Link></_links><id>d1</id></DeviceView></devices>"
    ), "{text}");
    assert!(text.contains("<tags><i>a</i><i>b</i></tags>"), "{text}");
    assert!(
        text.contains("<maybe><_links><Link><rel>x</rel></Link></_links></maybe>"),
        "{text}"
    );
    assert!(text.contains("<empty/>"), "{text}");
    assert!(!text.contains("gone"), "{text}");
    assert!(
        text.contains("<empty/><enabled>true</enabled><maybe>"),
        "{text}"
    );
}

#[test]
fn odd_characters_are_escaped_and_read_back() {
    #[derive(Deserialize)]
    struct Named {
        name: String,
    }
    for name in [
        "a < b & c > d",
        "]]>",
        "x]]>y<![CDATA[z",
        "Ünïcödé ✓ 𝄞",
        "tab\tand\nline",
        "cr\r\nlf",
        "'\"quotes\"'",
        "&amp;",
    ] {
        let text = xml(&json!({"name": name}), "Named");
        let read: Named = from_xml(text.as_bytes()).expect("read back");
        assert_eq!(read.name, name, "{text}");
    }
    let text = xml(
        &json!({"name": "bell\u{7}nul\u{0}esc\u{1b}\u{fffe}"}),
        "Named",
    );
    assert!(
        text.contains("<name>bell\u{fffd}nul\u{fffd}esc\u{fffd}\u{fffd}</name>"),
        "{text}"
    );
    let text = xml(&json!({"not a name": 1, "xmlish": 2, "ok": 3}), "Named");
    assert!(
        text.contains(
            r#"<entry key="not a name">1</entry><ok>3</ok><entry key="xmlish">2</entry>"#
        ),
        "{text}"
    );
}

#[test]
fn problems_are_in_the_rfc_9457_namespace() {
    let none = serde_json::Map::new();
    let problem =
        json!({"type": "urn:x", "status": 406, "offered": ["application/json", "text/xml"]});
    let bytes = to_xml(
        &problem,
        "problem",
        Some(PROBLEM_NAMESPACE),
        None,
        Schemas(&none),
    )
    .expect("written");
    let text = String::from_utf8(bytes).expect("UTF-8");
    assert!(text.contains(
        r#"<problem xmlns="urn:ietf:rfc:7807"><offered><i>application/json</i><i>text/xml</i></offered><status>406</status><type>urn:x</type></problem>"#
    ), "{text}");
}

#[derive(Debug, Deserialize, PartialEq)]
struct Login {
    username: String,
    password: String,
    #[serde(default)]
    remember: bool,
    attempts: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Strict {
    name: Option<String>,
}

#[test]
fn bodies_are_read_into_the_json_types() {
    let login: Login = from_xml(
        br#"<?xml version="1.0" encoding="utf-8"?>
        <!-- a comment -->
        <LoginRequest xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
          <username>demo</username>
          <password>p&amp;ss&#x3C;&#60;</password>
          <remember>true</remember>
          <attempts>3</attempts>
        </LoginRequest>"#,
    )
    .expect("read");
    assert_eq!(
        login,
        Login {
            username: "demo".to_owned(),
            password: "p&ss<<".to_owned(),
            remember: true,
            attempts: Some(3),
        }
    );
    // The root's name is not checked, namespace declarations are not fields.
    let strict: Result<Strict, _> =
        from_xml(br#"<Anything xmlns="urn:x"><name>n</name></Anything>"#);
    assert!(strict.is_ok(), "{strict:?}");
    let strict: Result<Strict, _> = from_xml(br#"<Anything><other>n</other></Anything>"#);
    assert!(strict.expect_err("an unknown field").contains("other"));
    let missing: Result<Login, _> =
        from_xml(b"<LoginRequest><username>demo</username></LoginRequest>");
    assert!(missing.expect_err("a missing field").contains("password"));
    let mistyped: Result<Login, _> =
        from_xml(b"<L><username>d</username><password>p</password><attempts>many</attempts></L>");
    assert!(mistyped.expect_err("a mistyped field").contains("attempts"));
}

#[test]
fn dtds_entities_and_malformed_documents_are_refused() {
    let refused = |body: &str| -> String { from_xml::<Login>(body.as_bytes()).expect_err(body) };
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><LoginRequest><username>&lol2;</username><password>x</password></LoginRequest>"#;
    assert!(refused(laughs).contains("DOCTYPE"));
    let external = r#"<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r><username>&xxe;</username><password>x</password></r>"#;
    assert!(refused(external).contains("DOCTYPE"));
    assert!(refused(r#"<!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd"><r/>"#).contains("DOCTYPE"));
    assert!(refused("<r><username>&lol;</username><password>x</password></r>").contains("&lol;"));
    assert!(
        refused(r#"<r a="&lol;"><username>u</username><password>x</password></r>"#)
            .contains("attribute")
    );
    assert!(
        refused("<r><username>&#0;</username><password>x</password></r>")
            .contains("character reference")
    );
    for malformed in [
        "",
        "not xml",
        "<r><username>u</username>",
        "<r><username>u</password></r>",
        "<a/><b/>",
        "<r/>trailing",
        "<r><username>u</username><password>p</password></r><r/>",
    ] {
        let reason = refused(malformed);
        assert!(
            reason.contains("XML") || reason.contains("missing field"),
            "{malformed:?}: {reason}"
        );
    }
    assert!(refused(&format!("{}{}", "<a>".repeat(40), "</a>".repeat(40))).contains("deeper"));
    assert!(refused(r#"<?xml version="1.0" encoding="ISO-8859-1"?><r/>"#).contains("UTF-8"));
    assert!(
        from_xml::<Login>(b"<r>\xff</r>")
            .expect_err("not UTF-8")
            .contains("UTF-8")
    );
}

#[test]
fn entity_tags_of_the_xml_twin_differ_and_map_back() {
    assert_eq!(xml_etag("\"abc\"").as_deref(), Some("\"abc.xml\""));
    assert_eq!(xml_etag("W/\"abc\"").as_deref(), Some("W/\"abc.xml\""));
    assert_eq!(json_etag(" \"abc.xml\"").as_deref(), Some("\"abc\""));
    assert_eq!(json_etag("W/\"abc.xml\"").as_deref(), Some("W/\"abc\""));
    assert_eq!(json_etag("\"abc\""), None);
    assert_eq!(json_etag("*").as_deref(), Some("*"));
}
