//! The document and the router stay in step: every route is documented, every
//! documented operation is routed, and the document is well-formed OpenAPI 3.1.

use std::collections::BTreeSet;

use crate::App;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use utoipa::OpenApi;

use super::ApiDoc;
use crate::Config;
use crate::api::negotiate::Negotiation;

/// Every route `api::routes` and `api::ops_routes` serve.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/sessions"),
    ("DELETE", "/sessions/current"),
    ("GET", "/me"),
    ("GET", "/me/sessions"),
    ("DELETE", "/me/sessions"),
    ("DELETE", "/me/sessions/{id}"),
    ("DELETE", "/admin/users/{username}/sessions"),
    ("GET", "/me/2fa-devices"),
    ("POST", "/me/2fa-devices"),
    ("POST", "/me/2fa-devices/verifications"),
    ("GET", "/me/2fa-devices/verifications/{id}"),
    ("POST", "/me/2fa-devices/verifications/{id}"),
    ("GET", "/me/2fa-devices/{id}"),
    ("PATCH", "/me/2fa-devices/{id}"),
    ("DELETE", "/me/2fa-devices/{id}"),
    ("GET", "/cabinets"),
    ("GET", "/cabinets/{id}"),
    ("GET", "/documents"),
    ("GET", "/documents/{id}"),
    ("HEAD", "/documents/{id}"),
    ("GET", "/documents/{id}/content"),
    ("HEAD", "/documents/{id}/content"),
    ("GET", "/documents/{id}/versions"),
    ("GET", "/documents/{id}/versions/{n}"),
    ("GET", "/documents/{id}/versions/{n}/content"),
    ("HEAD", "/documents/{id}/versions/{n}/content"),
    ("GET", "/wd/{command}"),
    ("POST", "/wd/{command}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

fn document() -> Value {
    serde_json::to_value(ApiDoc::openapi()).expect("the document serializes")
}

/// `(METHOD, path)` of every documented operation.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().expect("a path item").keys();
            methods.map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

/// The gateway with an upstream nobody listens on: routing needs no upstream.
fn app() -> App {
    let mut config = Config::default();
    config.upstream.url = Some("http://127.0.0.1:9".to_owned());
    config.upstream.connect_timeout_ms = 200;
    // Configured, so the operator route answers (401) rather than hide (404).
    config.admin.operator_token_sha256 = Some("ab".repeat(32));
    crate::build_app(&config).expect("the app builds")
}

/// Whether the router has `method path`: anything but its 405 or its "no such route".
async fn routed(app: &App, method: &str, path: &str) -> bool {
    let uri = path
        .replace("{id}", "dev_unknown")
        .replace("{command}", "CABINETS")
        .replace("{username}", "demo");
    let request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("a method"))
        .uri(uri)
        .header("host", "gw.example")
        .body(Body::empty())
        .expect("a request");
    let response = app.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let problem: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let no_such_route = status == StatusCode::NOT_FOUND && problem["detail"] == "no such route";
    status != StatusCode::METHOD_NOT_ALLOWED && !no_such_route
}

#[tokio::test]
async fn every_route_is_documented_and_every_documented_operation_is_routed() {
    let doc = document();
    let documented = operations(&doc);
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, routes, "the document and ROUTES differ");

    let app = app();
    for (method, path) in &documented {
        assert!(
            routed(&app, method, path).await,
            "{method} {path} is not routed"
        );
    }
    // The probe can tell: a path or a method the router lacks is refused.
    assert!(!routed(&app, "GET", "/nowhere").await);
    assert!(!routed(&app, "PUT", "/me").await);
}

#[tokio::test]
async fn the_served_document_is_openapi_3_1_with_the_crate_version() {
    let request = Request::get("/openapi.json")
        .header("host", "gw.example")
        .body(Body::empty())
        .expect("a request");
    let response = app().oneshot(request).await.expect("an answer");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let served: Value = serde_json::from_slice(&body).expect("JSON");
    let built: Value = serde_json::from_str(super::json().expect("the document")).expect("JSON");
    assert_eq!(served, built);
    let unauthorized = &served["paths"]["/me"]["get"]["responses"]["401"];
    assert_eq!(
        unauthorized["headers"]["www-authenticate"]["required"],
        true
    );
    assert_eq!(served["openapi"], "3.1.0");
    assert_eq!(served["info"]["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn operations_have_unique_ids_and_problem_bodies_for_every_error() {
    let doc = document();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let id = operation["operationId"].as_str().expect("an operationId");
            assert!(ids.insert(id.to_owned()), "{id} is used twice");
            let responses = operation["responses"].as_object().expect("responses");
            for status in ["500", "504"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path}: no {status}"
                );
            }
            if operation.get("security").is_some() {
                assert!(responses.contains_key("401"), "{method} {path}: no 401");
            }
            for (status, response) in responses.iter().filter(|(s, _)| s.as_str() >= "400") {
                let content = response["content"].as_object().expect("content");
                assert!(
                    content.keys().eq(["application/problem+json"]),
                    "{method} {path} {status}: not a problem"
                );
            }
        }
    }
}

#[test]
fn head_operations_mirror_their_get_without_a_success_body() {
    let doc = document();
    for path in super::head::HEAD_PATHS {
        let get = &doc["paths"][path]["get"];
        let head = &doc["paths"][path]["head"];
        assert!(head.is_object(), "{path}: no HEAD");
        assert_eq!(head["parameters"], get["parameters"], "{path}");
        let id = head["operationId"].as_str().expect("an id");
        assert!(id.starts_with("head"), "{path}: {id}");
        let statuses = |op: &Value| -> Vec<String> {
            op["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(statuses(head), statuses(get), "{path}");
        for (status, response) in head["responses"].as_object().expect("responses") {
            if status.as_str() < "400" {
                assert!(response.get("content").is_none(), "{path} {status}: a body");
                assert_eq!(
                    response["headers"], get["responses"][status]["headers"],
                    "{path} {status}"
                );
            }
        }
    }
}

#[test]
fn security_schemes_are_bearer_and_the_session_cookie() {
    let doc = document();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes[super::BEARER]["scheme"], "bearer");
    assert_eq!(schemes[super::COOKIE]["in"], "cookie");
    assert_eq!(schemes[super::COOKIE]["name"], "wdgate_session");
    assert_eq!(schemes[super::OPERATOR]["scheme"], "bearer");
}

#[test]
fn negotiation_reads_the_same_table_from_its_lighter_document_as_from_the_served_one() {
    let served = super::document().expect("the served document builds");
    let lighter = super::negotiation_document().expect("the negotiation document builds");
    assert_eq!(
        Negotiation::from_openapi(lighter),
        Negotiation::from_openapi(served)
    );
}
