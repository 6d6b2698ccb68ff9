//! The REST API: routes and JSON DTOs. It knows nothing of CGI syntax.

pub mod auth;
pub mod browser;
pub mod client_ip;
pub mod devices;
pub mod documents;
pub mod edge;
pub mod health;
pub mod json;
pub mod limits;
pub mod me;
pub mod metrics;
pub mod openapi;
pub mod passthrough;
pub mod problem;
pub mod sessions;
pub mod state;
pub mod ui;

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
    /// `GET|POST /me/2fa-devices`.
    pub const DEVICES: &str = "/me/2fa-devices";
    /// `POST /me/2fa-devices/verifications`.
    pub const VERIFICATIONS: &str = "/me/2fa-devices/verifications";
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

/// Every route template, and whether it counts against
/// `server.max_concurrent_requests`: the probes, `/metrics` and the API description
/// do not, so an overloaded gateway still reports its health.
pub const ROUTES: &[(&str, bool)] = &[
    (paths::SESSIONS, true),
    (paths::CURRENT_SESSION, true),
    (paths::ME, true),
    (paths::DEVICES, true),
    (paths::VERIFICATIONS, true),
    (paths::DEVICE, true),
    (paths::CABINETS, true),
    (paths::CABINET, true),
    (paths::DOCUMENTS, true),
    (paths::DOCUMENT, true),
    (paths::PASSTHROUGH, true),
    (paths::UI, true),
    (paths::UI_FILES, true),
    (paths::HEALTHZ, false),
    (paths::READYZ, false),
    (paths::METRICS, false),
    (paths::OPENAPI, false),
];

/// The API routes, with their state.
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route(paths::SESSIONS, post(sessions::create))
        .route(paths::CURRENT_SESSION, delete(sessions::delete_current))
        .route(paths::ME, get(me::get))
        .route(paths::DEVICES, get(devices::list).post(devices::create))
        .route(paths::VERIFICATIONS, post(devices::start_verification))
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
