//! The OpenAPI 3.1 description of the API, generated from the handlers' annotations
//! (`#[utoipa::path]` beside each handler, `ToSchema` on each DTO) and served at
//! `GET /openapi.json`.
//!
//! Problem responses are declared once per route in [`problems`]; field rules that are
//! more than a type live in [`fields`]; [`xml`] adds the XML twin of every body. A router test keeps the document and the routes
//! in step.

pub mod fields;
pub mod head;
pub mod problems;
pub mod wd;
pub mod xml;

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use self::head::HeadOperations;
use self::wd::OptionalBody;
use super::problem::{ApiError, Problem, UpstreamDetail};
use super::{admin, devices, documents, health, me, metrics, my_sessions, passthrough, sessions};

/// The security scheme of `Authorization: Bearer wdg_…`.
pub const BEARER: &str = "bearerAuth";
/// The security scheme of the session cookie (cookie mode only).
pub const COOKIE: &str = "cookieAuth";
/// The security scheme of the operator token (the admin routes).
pub const OPERATOR: &str = "operatorAuth";

/// The API description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "wdgate",
        description = "A REST gateway in front of a Worldox Web server. Bodies are JSON or \
            XML both ways (by `Content-Type` and by `Accept`, with q-values; ties and no \
            `Accept` give JSON); in XML the resource is the root element named after its \
            schema, fields keep their names, and an array is a wrapper element with one \
            element per item, named after the item's schema or `i`. Every error is an \
            RFC 9457 `application/problem+json` body (`application/problem+xml` in the \
            `urn:ietf:rfc:7807` namespace when XML is preferred) with a stable `code` and the request id \
            (also in the `x-request-id` header). Upstream refusals get the status of the \
            status table, which `[status_map]` in the config can extend. A request head \
            larger than `server.max_header_bytes` is refused by the listener with a bare 431.",
    ),
    paths(
        sessions::create,
        sessions::delete_current,
        me::get,
        my_sessions::list,
        my_sessions::end_one,
        my_sessions::end_others,
        admin::end_user_sessions,
        devices::list,
        devices::create,
        devices::start_verification,
        devices::get_verification,
        devices::verify,
        devices::get,
        devices::update,
        devices::delete,
        documents::cabinets::list,
        documents::cabinets::get,
        documents::list,
        documents::document::get,
        documents::content::get,
        documents::versions::list,
        documents::versions::get,
        documents::versions::content,
        passthrough::call_get,
        passthrough::call_post,
        health::healthz,
        health::readyz,
        metrics::render,
        serve,
    ),
    components(schemas(Problem, UpstreamDetail)),
    modifiers(&SecuritySchemes, &OptionalBody, &HeadOperations),
    tags(
        (name = "sessions", description = "Log in and out (LOGON, LOGOFF)"),
        (name = "me", description = "The caller's profile, and where they are signed in"),
        (name = "2fa-devices", description = "Two-factor devices (2FGET, 2FSET)"),
        (name = "documents", description = "Cabinets and document search (CABINETS, FINDFILES, SORTFILES)"),
        (name = "passthrough", description = "Allow-listed Worldox commands with the caller's session"),
        (name = "admin", description = "Operator actions, with the operator token (`admin.operator_token_sha256`); absent (404) unless configured"),
        (name = "operations", description = "Probes, metrics and this document"),
    ),
)]
pub struct ApiDoc;

/// Adds the two ways to authenticate.
#[derive(Debug)]
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("wdg_ token from POST /sessions")
            .build();
        components.add_security_scheme(BEARER, SecurityScheme::Http(bearer));
        let cookie = ApiKeyValue::with_description(
            "wdgate_session",
            "The session cookie set by POST /sessions when `browser.cookie_enabled` \
             (named by `browser.cookie_name`); POST, PATCH and DELETE also need an allowed origin.",
        );
        components.add_security_scheme(COOKIE, SecurityScheme::ApiKey(ApiKey::Cookie(cookie)));
        let operator = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("the operator token whose SHA-256 is admin.operator_token_sha256")
            .build();
        components.add_security_scheme(OPERATOR, SecurityScheme::Http(operator));
    }
}

/// Builds the document: what is served, and what content negotiation reads at start-up.
///
/// Not kept: its `serde_json::Value` tree is several MiB of small maps, and a running
/// gateway needs only the negotiation table built from it and, once asked, its JSON.
pub fn document() -> Result<Value, ApiError> {
    served().map_err(internal)
}

/// What content negotiation reads of the document: its operations, and its schemas with
/// their XML names. Without the XML twins of every problem answer, which negotiation
/// does not read and which are most of the document's start-up memory.
pub fn negotiation_document() -> Result<Value, ApiError> {
    let mut doc = generated().map_err(internal)?;
    xml::name_schemas(&mut doc);
    Ok(doc)
}

/// The document as JSON, built on the first request for it and kept (about 300 KB).
pub fn json() -> Result<&'static str, ApiError> {
    static JSON: OnceLock<Result<String, String>> = OnceLock::new();
    JSON.get_or_init(|| {
        served().and_then(|doc| serde_json::to_string(&doc).map_err(|e| e.to_string()))
    })
    .as_deref()
    .map_err(internal)
}

/// The document as the annotations generate it.
fn generated() -> Result<Value, String> {
    serde_json::to_value(ApiDoc::openapi()).map_err(|e| e.to_string())
}

/// The served document: the generated one, with the headers every problem carries
/// marked required and the XML twins of its bodies.
fn served() -> Result<Value, String> {
    let mut doc = generated()?;
    require_headers(&mut doc);
    xml::add_twins(&mut doc);
    Ok(doc)
}

/// The error of a document that cannot be built.
fn internal(message: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("OpenAPI document: {message}"))
}

/// Marks the headers a problem always carries (`problems::ALWAYS_SENT`) `required`,
/// which utoipa's `Header` cannot say.
fn require_headers(doc: &mut Value) {
    let operations = doc
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut());
    let responses = operations
        .filter_map(|operation| {
            operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
        })
        .flat_map(|responses| responses.values_mut());
    for response in responses {
        let headers = response.get_mut("headers").and_then(Value::as_object_mut);
        for (name, header) in headers.into_iter().flatten() {
            if problems::ALWAYS_SENT.contains(&name.as_str()) {
                if let Some(header) = header.as_object_mut() {
                    header.insert("required".to_owned(), Value::Bool(true));
                }
            }
        }
    }
}

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json", body = Object),
        problems::Ops,
    ),
)]
pub async fn serve() -> Result<Response, ApiError> {
    let mut response = json()?.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests;
