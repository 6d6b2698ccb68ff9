//! The REST API: routes and JSON DTOs. It knows nothing of CGI syntax.

pub mod auth;
pub mod browser;
pub mod client_ip;
pub mod devices;
pub mod health;
pub mod json;
pub mod login_limit;
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

/// The API routes, with their state. Load shedding wraps these (not the ops routes).
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/sessions", post(sessions::create))
        .route("/sessions/current", delete(sessions::delete_current))
        .route("/me", get(me::get))
        .route("/me/2fa-devices", get(devices::list).post(devices::create))
        .route(
            "/me/2fa-devices/verifications",
            post(devices::start_verification),
        )
        .route(
            "/me/2fa-devices/{id}",
            get(devices::get)
                .patch(devices::update)
                .delete(devices::delete),
        )
        .route(
            "/wd/{command}",
            get(passthrough::call_get).post(passthrough::call_post),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Liveness, readiness and metrics: answered even when the API sheds load, so probes
/// and scrapes keep working under pressure.
pub fn ops_routes(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .route("/openapi.json", get(openapi::serve))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
