//! The REST API: routes and JSON DTOs. It knows nothing of CGI syntax.

pub mod admin;
pub mod auth;
pub mod browser;
pub mod client_ip;
pub mod devices;
pub mod documents;
pub mod edge;
pub mod health;
pub mod hot;
pub mod json;
pub mod limits;
pub mod links;
pub mod me;
pub mod metrics;
pub mod my_sessions;
pub mod negotiate;
pub mod openapi;
pub mod passthrough;
pub mod problem;
pub mod sessions;
pub mod state;
pub mod ui;
pub mod xml;

use axum::Router;
use axum::routing::{delete, get, post};

pub use problem::ApiError;
pub use state::AppState;

/// Route templates, each written once: the router serves them and the edge labels
/// requests (metrics, log span) and applies load shedding by them.
pub mod paths {
    /// `POST /sessions`.
    pub const SESSIONS: &str = "/sessions";
    /// `DELETE /sessions/current`.
    pub const CURRENT_SESSION: &str = "/sessions/current";
    /// `GET /me`.
    pub const ME: &str = "/me";
    /// `GET|DELETE /me/sessions`.
    pub const MY_SESSIONS: &str = "/me/sessions";
    /// `DELETE /me/sessions/{id}`.
    pub const MY_SESSION: &str = "/me/sessions/{id}";
    /// `DELETE /admin/users/{username}/sessions`.
    pub const USER_SESSIONS: &str = "/admin/users/{username}/sessions";
    /// `GET|POST /me/2fa-devices`.
    pub const DEVICES: &str = "/me/2fa-devices";
    /// `POST /me/2fa-devices/verifications`.
    pub const VERIFICATIONS: &str = "/me/2fa-devices/verifications";
    /// `GET|POST /me/2fa-devices/verifications/{id}`.
    pub const VERIFICATION: &str = "/me/2fa-devices/verifications/{id}";
    /// `GET|PATCH|DELETE /me/2fa-devices/{id}`.
    pub const DEVICE: &str = "/me/2fa-devices/{id}";
    /// `GET /cabinets`.
    pub const CABINETS: &str = "/cabinets";
    /// `GET /cabinets/{id}`.
    pub const CABINET: &str = "/cabinets/{id}";
    /// `GET /documents`.
    pub const DOCUMENTS: &str = "/documents";
    /// `GET|HEAD /documents/{id}`.
    pub const DOCUMENT: &str = "/documents/{id}";
    /// `GET|HEAD /documents/{id}/content`.
    pub const DOCUMENT_CONTENT: &str = "/documents/{id}/content";
    /// `GET /documents/{id}/versions`.
    pub const DOCUMENT_VERSIONS: &str = "/documents/{id}/versions";
    /// `GET /documents/{id}/versions/{n}`.
    pub const DOCUMENT_VERSION: &str = "/documents/{id}/versions/{n}";
    /// `GET|HEAD /documents/{id}/versions/{n}/content`.
    pub const DOCUMENT_VERSION_CONTENT: &str = "/documents/{id}/versions/{n}/content";
    /// `GET|POST /wd/{command}`.
    pub const PASSTHROUGH: &str = "/wd/{command}";
    /// `GET /healthz`.
    pub const HEALTHZ: &str = "/healthz";
    /// `GET /readyz`.
    pub const READYZ: &str = "/readyz";
    /// `GET /metrics`.
    pub const METRICS: &str = "/metrics";
    /// `GET /openapi.json`.
    pub const OPENAPI: &str = "/openapi.json";
    /// `GET /ui` (a redirect to `/ui/`).
    pub const UI: &str = "/ui";
    /// `GET /ui/{path}`: the self-service page's files.
    pub const UI_FILES: &str = "/ui/{*path}";
}

/// Every route template, whether it counts against `server.max_concurrent_requests`
/// (the probes, `/metrics` and the API description do not, so an overloaded gateway
/// still reports its health), and whether it streams a transfer (it takes a transfer
/// permit instead of shedding, and has `documents.transfer_max_secs` instead of
/// `server.request_timeout_secs`).
pub const ROUTES: &[(&str, bool, bool)] = &[
    (paths::SESSIONS, true, false),
    (paths::CURRENT_SESSION, true, false),
    (paths::ME, true, false),
    (paths::MY_SESSIONS, true, false),
    (paths::MY_SESSION, true, false),
    (paths::USER_SESSIONS, true, false),
    (paths::DEVICES, true, false),
    (paths::VERIFICATIONS, true, false),
    (paths::VERIFICATION, true, false),
    (paths::DEVICE, true, false),
    (paths::CABINETS, true, false),
    (paths::CABINET, true, false),
    (paths::DOCUMENTS, true, false),
    (paths::DOCUMENT, true, false),
    (paths::DOCUMENT_CONTENT, false, true),
    (paths::DOCUMENT_VERSIONS, true, false),
    (paths::DOCUMENT_VERSION, true, false),
    (paths::DOCUMENT_VERSION_CONTENT, false, true),
    (paths::PASSTHROUGH, true, false),
    (paths::UI, true, false),
    (paths::UI_FILES, true, false),
    (paths::HEALTHZ, false, false),
    (paths::READYZ, false, false),
    (paths::METRICS, false, false),
    (paths::OPENAPI, false, false),
];

/// The API routes, with their state.
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route(paths::SESSIONS, post(sessions::create))
        .route(paths::CURRENT_SESSION, delete(sessions::delete_current))
        .route(paths::ME, get(me::get))
        .route(
            paths::MY_SESSIONS,
            get(my_sessions::list).delete(my_sessions::end_others),
        )
        .route(paths::MY_SESSION, delete(my_sessions::end_one))
        .route(paths::USER_SESSIONS, delete(admin::end_user_sessions))
        .route(paths::DEVICES, get(devices::list).post(devices::create))
        .route(paths::VERIFICATIONS, post(devices::start_verification))
        .route(
            paths::VERIFICATION,
            get(devices::get_verification).post(devices::verify),
        )
        .route(
            paths::DEVICE,
            get(devices::get)
                .patch(devices::update)
                .delete(devices::delete),
        )
        .route(paths::CABINETS, get(documents::cabinets::list))
        .route(paths::CABINET, get(documents::cabinets::get))
        .route(paths::DOCUMENTS, get(documents::list))
        .route(paths::DOCUMENT, get(documents::document::get))
        .route(paths::DOCUMENT_CONTENT, get(documents::content::get))
        .route(paths::DOCUMENT_VERSIONS, get(documents::versions::list))
        .route(paths::DOCUMENT_VERSION, get(documents::versions::get))
        .route(
            paths::DOCUMENT_VERSION_CONTENT,
            get(documents::versions::content),
        )
        .route(
            paths::PASSTHROUGH,
            get(passthrough::call_get).post(passthrough::call_post),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Probes, metrics and the API description.
pub fn ops_routes(state: AppState) -> Router {
    Router::new()
        .route(paths::HEALTHZ, get(health::healthz))
        .route(paths::READYZ, get(health::readyz))
        .route(paths::METRICS, get(metrics::render))
        .route(paths::OPENAPI, get(openapi::serve))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
