//! `GET /healthz` (liveness: the process answers) and `GET /readyz` (readiness: the
//! session store and the upstream answer, so a load balancer can send traffic).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::json::no_store;
use super::openapi::problems;
use super::problem::{ApiError, Problem};
use super::state::AppState;

/// `GET /healthz` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Live {
    /// Always `ok`.
    #[schema(value_type = String, example = "ok")]
    pub status: &'static str,
}

/// `GET /readyz` answer when everything is ready.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Always `ready`.
    #[schema(value_type = String, example = "ready")]
    pub status: &'static str,
    /// Each dependency and `ok`.
    pub checks: Checks,
}

/// The dependencies readiness checks.
#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    /// The session store (and, with Redis, the invalidation channel).
    #[schema(value_type = String, example = "ok")]
    pub store: &'static str,
    /// The Worldox server.
    #[schema(value_type = String, example = "ok")]
    pub upstream: &'static str,
}

/// Liveness: the process answers; no dependency is checked.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    responses((status = 200, description = "The process answers.", body = Live), problems::Ops),
)]
pub async fn healthz() -> Response {
    no_store(Json(Live { status: "ok" }).into_response())
}

/// Readiness: 200 when the store pings and the upstream answers within their timeouts,
/// else 503 problem+json with `Retry-After` naming what is not ready.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    responses((status = 200, description = "Ready for traffic.", body = Ready), problems::Readiness),
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let (store, upstream) = tokio::join!(state.store().ping(), state.upstream().probe());
    if store.is_ok() && upstream.is_ok() {
        let body = Ready {
            status: "ready",
            checks: Checks {
                store: "ok",
                upstream: "ok",
            },
        };
        return no_store(Json(body).into_response());
    }
    let store = store.err().map(|e| e.to_string());
    let upstream = upstream.err().map(|e| e.to_string());
    let detail = format!(
        "not ready: store {}, upstream {}",
        if store.is_some() { "unavailable" } else { "ok" },
        if upstream.is_some() {
            "unreachable"
        } else {
            "ok"
        },
    );
    let cause = [store, upstream]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ");
    // StoreUnavailable gives the status (503) and Retry-After; the problem is renamed.
    let mut response = ApiError::StoreUnavailable(cause).into_response();
    if let Some(problem) = response.extensions_mut().get_mut::<Problem>() {
        problem.kind = "urn:wdgate:problem:not_ready".to_owned();
        problem.code = "not_ready";
        problem.detail = detail;
    }
    no_store(response)
}
