//! Prometheus metrics: the recorder, the per-request middleware, and the names.
//!
//! Labels are route templates, methods, statuses, upstream command names and outcomes:
//! never a path with an id in it, a token, a username or a SID.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests answered, by route, method and status.
pub const HTTP_REQUESTS: &str = "wdgate_http_requests_total";
/// Request latency in seconds, by route and method.
pub const HTTP_DURATION: &str = "wdgate_http_request_duration_seconds";
/// Upstream calls, by command and outcome.
pub const UPSTREAM_CALLS: &str = "wdgate_upstream_calls_total";
/// Upstream call latency in seconds, by command.
pub const UPSTREAM_DURATION: &str = "wdgate_upstream_call_duration_seconds";
/// Listing cache lookups, by result (`hit`, `miss`).
pub const LISTING_CACHE: &str = "wdgate_listing_cache_requests_total";
/// Live gateway sessions.
pub const SESSIONS_ACTIVE: &str = "wdgate_sessions_active";
/// The upstream circuit: 0 closed, 1 half-open, 2 open.
pub const CIRCUIT_STATE: &str = "wdgate_upstream_circuit_state";

/// Latency buckets from 0.5 ms to 10 s.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide Prometheus recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), BUCKETS)
            .map_or_else(
                |_| PrometheusBuilder::new().build_recorder(),
                PrometheusBuilder::build_recorder,
            );
        let handle = recorder.handle();
        // A second recorder (another library set one first) leaves ours unused but harmless.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Counts every request and times it, labelled by the matched route.
pub async fn record_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let start = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(HTTP_DURATION, "route" => route.clone(), "method" => method.clone())
        .record(start.elapsed().as_secs_f64());
    metrics::counter!(HTTP_REQUESTS, "route" => route, "method" => method, "status" => status)
        .increment(1);
    response
}

/// Records one upstream call.
pub fn upstream_call(command: &str, outcome: &'static str, started: Instant) {
    metrics::histogram!(UPSTREAM_DURATION, "command" => command.to_owned())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(UPSTREAM_CALLS, "command" => command.to_owned(), "outcome" => outcome)
        .increment(1);
}

/// Records a listing cache lookup.
pub fn listing_cache(hit: bool) {
    metrics::counter!(LISTING_CACHE, "result" => if hit { "hit" } else { "miss" }).increment(1);
}
