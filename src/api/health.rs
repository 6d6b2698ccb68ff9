//! `GET /healthz` (liveness: the process answers) and `GET /readyz` (readiness: the
//! session store and the upstream answer, so a load balancer can send traffic). Probes
//! share one check per interval, and readiness turns 503 as soon as shutdown begins.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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

/// The last readiness check, shared by every probe for an interval, and whether the
/// gateway is shutting down. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Readiness {
    inner: Arc<ReadinessInner>,
}

#[derive(Debug)]
struct ReadinessInner {
    draining: AtomicBool,
    /// One entry (the last check) that lives `interval`; moka runs one check at a
    /// time for it, the other callers wait for that check's result.
    last: moka::future::Cache<(), Check>,
}

/// What one check found: each failing dependency's cause.
#[derive(Debug, Clone)]
struct Check {
    store: Option<String>,
    upstream: Option<String>,
}

impl Readiness {
    /// Checks are reused for `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            inner: Arc::new(ReadinessInner {
                draining: AtomicBool::new(false),
                last: moka::future::Cache::builder()
                    .max_capacity(1)
                    .time_to_live(interval)
                    .build(),
            }),
        }
    }

    /// From now on `/readyz` answers 503 (shutting down); everything else is served.
    pub fn begin_draining(&self) {
        self.inner.draining.store(true, Ordering::Relaxed);
    }

    /// Whether shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Relaxed)
    }

    /// The last check, or a new one if it is older than the interval (one at a time).
    async fn check(&self, state: &AppState) -> Check {
        self.inner
            .last
            .get_with((), async {
                let (store, upstream) =
                    tokio::join!(state.store().ping(), state.upstream().probe());
                Check {
                    store: store.err().map(|e| e.to_string()),
                    upstream: upstream.err().map(|e| e.to_string()),
                }
            })
            .await
    }
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
/// else 503 problem+json with `Retry-After` naming what is not ready. The answer comes
/// from the last check (`server.readiness_interval_secs`); once shutdown has begun it
/// is 503 `shutting_down` at once.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    responses((status = 200, description = "Ready for traffic.", body = Ready), problems::Readiness),
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let readiness = state.readiness();
    if readiness.is_draining() {
        return not_ready(
            "urn:wdgate:problem:shutting_down",
            "shutting_down",
            "the gateway is shutting down; send new requests to another replica".to_owned(),
            "shutting down".to_owned(),
        );
    }
    let Check { store, upstream } = readiness.check(&state).await;
    if store.is_none() && upstream.is_none() {
        let body = Ready {
            status: "ready",
            checks: Checks {
                store: "ok",
                upstream: "ok",
            },
        };
        return no_store(Json(body).into_response());
    }
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
    not_ready("urn:wdgate:problem:not_ready", "not_ready", detail, cause)
}

/// A 503 problem: `StoreUnavailable` gives the status and `Retry-After`; the problem
/// is renamed.
fn not_ready(kind: &str, code: &'static str, detail: String, cause: String) -> Response {
    let mut response = ApiError::StoreUnavailable(cause).into_response();
    if let Some(problem) = response.extensions_mut().get_mut::<Problem>() {
        problem.kind = kind.to_owned();
        problem.code = code;
        problem.detail = detail;
    }
    no_store(response)
}
