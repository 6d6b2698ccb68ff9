//! Accept parsing and the choice of representation (RFC 9110 §12.5.1).

use axum::http::{HeaderMap, HeaderValue, Method, header};
use serde_json::json;

use super::*;

fn accept(values: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(
            header::ACCEPT,
            HeaderValue::from_str(value).expect("a value"),
        );
    }
    headers
}

/// The media type chosen among [`BOTH`] for `Accept: value`; `None` for nothing.
fn chosen(value: &str) -> Option<&'static str> {
    Accept::of(&accept(&[value]))
        .map_or(Some(&BOTH[0]), |a| a.best(BOTH))
        .map(|offer| offer.media_type)
}

#[test]
fn no_accept_and_wildcards_give_json() {
    assert!(Accept::of(&HeaderMap::new()).is_none());
    for value in ["*/*", "application/*", "*/*;q=0.1", "", "garbage", "*/json"] {
        assert_eq!(chosen(value), Some("application/json"), "{value:?}");
    }
    assert_eq!(chosen("text/*"), Some("text/json"));
}

#[test]
fn q_values_order_the_offers_and_ties_go_to_json() {
    for (value, expected) in [
        ("application/xml", "application/xml"),
        ("text/xml", "text/xml"),
        ("text/json", "text/json"),
        ("application/xml, application/json", "application/json"),
        ("application/json;q=0.5, application/xml", "application/xml"),
        (
            "application/json; q=0.9, application/xml; q=0.91",
            "application/xml",
        ),
        ("application/xml;q=0.5, */*;q=0.5", "application/json"),
        (
            "application/xml;q=1.000, application/json;q=0.999",
            "application/xml",
        ),
        ("APPLICATION/XML", "application/xml"),
        ("application/xml;charset=UTF-8", "application/xml"),
        // A more specific range overrides a wider one for the types it names.
        ("*/*;q=0.8, application/json;q=0.1", "text/json"),
        ("application/*;q=0.2, application/xml", "application/xml"),
        (
            "text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.8",
            "application/xml",
        ),
    ] {
        assert_eq!(chosen(value), Some(expected), "{value:?}");
    }
    let two_fields =
        Accept::of(&accept(&["application/json;q=0.2", "text/xml"])).and_then(|a| a.best(BOTH));
    assert_eq!(two_fields.map(|o| o.media_type), Some("text/xml"));
}

#[test]
fn q_zero_excludes_and_nothing_acceptable_is_none() {
    for value in [
        "text/html",
        "application/json;q=0, application/xml;q=0, text/*;q=0",
        "*/*;q=0",
        "application/json;charset=iso-8859-1",
        "image/png, text/plain;q=0.5",
        "application/problem+json",
    ] {
        assert_eq!(chosen(value), None, "{value:?}");
    }
    assert_eq!(chosen("application/json;q=0, */*"), Some("text/json"));
    assert_eq!(chosen("*/*;q=0.5, application/json;q=0"), Some("text/json"));
}

#[test]
fn malformed_weights_drop_their_range() {
    for q in ["2", "1.5", "0.1234", "abc", "-1", ".5", "1.001"] {
        assert_eq!(
            chosen(&format!("application/xml;q={q}")),
            Some("application/json"),
            "{q}"
        );
    }
    for (q, thousandths) in [
        ("0", 0),
        ("0.5", 500),
        ("0.05", 50),
        ("1", 1000),
        ("1.0", 1000),
        ("0.001", 1),
    ] {
        assert_eq!(weight(q), Some(thousandths), "{q}");
    }
}

#[test]
fn problems_are_xml_only_when_xml_weighs_more() {
    let format =
        |value: &str| Accept::of(&accept(&[value])).map_or(Format::Json, |a| a.problem_format());
    assert_eq!(format("application/xml"), Format::Xml);
    assert_eq!(format("text/xml"), Format::Xml);
    assert_eq!(format("application/problem+xml"), Format::Xml);
    assert_eq!(
        format("application/json;q=0.5, application/xml"),
        Format::Xml
    );
    assert_eq!(format("application/xml, application/json"), Format::Json);
    assert_eq!(format("*/*"), Format::Json);
    assert_eq!(format("text/html"), Format::Json);
    assert_eq!(
        format("application/problem+json, application/xml;q=0.9"),
        Format::Json
    );
}

fn table() -> Negotiation {
    Negotiation::from_openapi(json!({
        "paths": {
            "/me": {"get": {"responses": {
                "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/MeResponse"}}}},
                "401": {"content": {"application/problem+json": {}}},
            }}},
            "/me/2fa-devices/{id}": {
                "get": {"responses": {"200": {"content": {"application/json": {"schema": {"type": "object"}}}}}},
                "delete": {"responses": {"204": {"description": "gone"}}},
            },
            "/documents/{id}/content": {"get": {"responses": {"200": {"content": {"*/*": {}}}}}},
            "/wd/{command}": {"get": {"responses": {"200": {"content": {"application/json": {}}}}}},
            "/healthz": {"get": {"responses": {"200": {"content": {"application/json": {}}}}}},
        },
        "components": {"schemas": {"MeResponse": {"type": "object"}}},
    }))
}

#[test]
fn the_table_comes_from_the_documented_json_answers() {
    let table = table();
    let xml = accept(&["application/xml"]);
    let Decision::Negotiated {
        operation,
        offer,
        problem,
    } = table.decide("/me", &Method::GET, &xml)
    else {
        panic!("GET /me is negotiated");
    };
    assert_eq!(
        (offer.media_type, problem),
        ("application/xml", Format::Xml)
    );
    assert_eq!(table.answer(operation, 200).0, "MeResponse");
    assert_eq!(table.answer(operation, 201).0, FALLBACK_ROOT);
    // HEAD is GET's.
    assert!(matches!(
        table.decide("/me", &Method::HEAD, &xml),
        Decision::Negotiated { .. }
    ));
    let Decision::Negotiated { operation, .. } =
        table.decide("/me/2fa-devices/{id}", &Method::GET, &xml)
    else {
        panic!("an inline schema is negotiated too");
    };
    assert_eq!(table.answer(operation, 200).0, FALLBACK_ROOT);
    // No body, or bytes: only problems follow Accept.
    for (template, method) in [
        ("/me/2fa-devices/{id}", Method::DELETE),
        ("/documents/{id}/content", Method::GET),
        ("unmatched", Method::GET),
    ] {
        assert_eq!(
            table.decide(template, &method, &xml),
            Decision::ProblemsOnly {
                problem: Format::Xml
            },
            "{method} {template}"
        );
    }
    // The passthrough offers JSON only; the probes are not touched.
    assert_eq!(
        table.decide("/wd/{command}", &Method::GET, &xml),
        Decision::NotAcceptable {
            problem: Format::Xml,
            offered: JSON_ONLY
        }
    );
    assert!(matches!(
        table.decide("/wd/{command}", &Method::GET, &accept(&["application/xml", "application/json;q=0.1"])),
        Decision::Negotiated { offer, .. } if offer.media_type == "application/json"
    ));
    assert_eq!(
        table.decide("/healthz", &Method::GET, &xml),
        Decision::Untouched
    );
    assert_eq!(
        table.decide("/me", &Method::GET, &accept(&["text/html"])),
        Decision::NotAcceptable {
            problem: Format::Json,
            offered: BOTH
        }
    );
}
