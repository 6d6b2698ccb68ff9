//! `GET /metrics`: Prometheus text format.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::openapi::problems;
use super::state::AppState;
use crate::metrics::{CIRCUIT_STATE, SESSIONS_ACTIVE, handle};
use crate::upstream::breaker;

/// Renders every metric; gauges read at scrape time are set first.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format.", content_type = "text/plain", body = String),
        problems::Ops,
    ),
)]
pub async fn render(State(state): State<AppState>) -> Response {
    #[allow(clippy::cast_precision_loss)]
    metrics::gauge!(SESSIONS_ACTIVE).set(state.store().live_count() as f64);
    let circuit = match state.upstream().circuit_state() {
        breaker::State::Closed => 0.0,
        breaker::State::HalfOpen => 1.0,
        breaker::State::Open => 2.0,
    };
    metrics::gauge!(CIRCUIT_STATE).set(circuit);
    let mut response = handle().render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
