//! Prometheus metrics: the recorder, the per-request counters, and the names.
//!
//! Labels are route templates, methods, statuses, upstream command names and outcomes:
//! never a path with an id in it, a token, a username or a SID.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::http::Method;
use metrics::{Counter, Histogram};
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

/// How often recorded latencies are folded into their histogram buckets: often enough
/// that one fold (every sample since the last) is a short pause on a busy gateway.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Folds recorded latencies into their histogram buckets every few seconds, for as long
/// as the process runs. The recorder keeps every sample until then (or until `/metrics`
/// is scraped): without this, a gateway nobody scrapes grew by about 20 bytes per
/// request (14 MB of RSS per 700,000 `GET /me`), some 1.7 GB a day at 1,000 a second.
pub async fn run_upkeep() {
    let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        handle().run_upkeep();
    }
}

/// The request counters and latency histograms, with their handles kept: looking a
/// labelled metric up in the recorder formats and hashes its labels, several times the
/// cost of recording into it, so each (route, method, status) is looked up once.
#[derive(Debug, Default)]
pub struct RequestMetrics {
    /// By (route, method, status).
    counts: RwLock<HashMap<(&'static str, &'static str, u16), Counter>>,
    /// By (route, method).
    durations: RwLock<HashMap<(&'static str, &'static str), Histogram>>,
}

impl RequestMetrics {
    /// Counts one answered request and records its latency. `route` is a route
    /// template (or `unmatched`) and `method` a [`method_label`]: both from a fixed
    /// set, so the number of series is bounded whatever clients send.
    pub fn record(
        &self,
        route: &'static str,
        method: &'static str,
        status: u16,
        latency: Duration,
    ) {
        let counter = cached(
            &self.counts,
            (route, method, status),
            || metrics::counter!(HTTP_REQUESTS, "route" => route, "method" => method, "status" => status.to_string()),
        );
        counter.increment(1);
        let histogram = cached(
            &self.durations,
            (route, method),
            || metrics::histogram!(HTTP_DURATION, "route" => route, "method" => method),
        );
        histogram.record(latency.as_secs_f64());
    }
}

/// The handle under `key`, registered by `register` the first time.
fn cached<K: Eq + Hash + Copy, H: Clone>(
    map: &RwLock<HashMap<K, H>>,
    key: K,
    register: impl FnOnce() -> H,
) -> H {
    if let Some(handle) = map.read().unwrap_or_else(PoisonError::into_inner).get(&key) {
        return handle.clone();
    }
    map.write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_insert_with(register)
        .clone()
}

/// A method as a metric label: the standard ones by name, anything else `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Records one upstream call.
pub fn upstream_call(command: &str, outcome: &'static str, started: Instant) {
    /// Handles by command, and by (command, outcome), kept like [`RequestMetrics`]'.
    #[derive(Default)]
    struct Handles {
        durations: RwLock<HashMap<&'static str, Histogram>>,
        calls: RwLock<HashMap<(&'static str, &'static str), Counter>>,
    }
    static HANDLES: OnceLock<Handles> = OnceLock::new();
    let handles = HANDLES.get_or_init(Handles::default);
    let command = interned(command);
    cached(
        &handles.durations,
        command,
        || metrics::histogram!(UPSTREAM_DURATION, "command" => command),
    )
    .record(started.elapsed().as_secs_f64());
    cached(
        &handles.calls,
        (command, outcome),
        || metrics::counter!(UPSTREAM_CALLS, "command" => command, "outcome" => outcome),
    )
    .increment(1);
}

/// `command` as a `&'static str`, each text kept once. Only the gateway's own commands
/// and the passthrough's allow-list ever reach the upstream, so the set stays a few
/// dozen short strings.
fn interned(command: &str) -> &'static str {
    static KNOWN: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();
    let known = KNOWN.get_or_init(RwLock::default);
    if let Some(text) = known
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(command)
    {
        return text;
    }
    let mut known = known.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(text) = known.get(command) {
        return text;
    }
    let text: &'static str = Box::leak(command.into());
    known.insert(text);
    text
}

/// Connections open on the listener (gauge).
pub const CONNECTIONS_OPEN: &str = "wdgate_connections_open";
/// Connections ended, by `reason`: `closed` (by the client or after its last answer),
/// `error`, `no_request` (nothing within the header timeout), `tls_failed`, `idle`,
/// `evicted` (closed to make room at `server.max_connections`), `shutdown`, and
/// `refused` (at the cap with none idle).
pub const CONNECTIONS_ENDED: &str = "wdgate_connections_ended_total";

/// Requests refused by a `limits.…` limit, by `limit` (`login_pair`, `login_user`,
/// `login_ip`, `send_address`, `send_session`, `send_user`).
pub const LIMIT_REFUSALS: &str = "wdgate_limit_refusals_total";

/// Counts a refusal by the limit named `limit`.
pub fn limit_refused(limit: &'static str) {
    metrics::counter!(LIMIT_REFUSALS, "limit" => limit).increment(1);
}

/// Sets the number of open connections.
pub fn connections_open(count: usize) {
    metrics::gauge!(CONNECTIONS_OPEN).set(count as f64);
}

/// Counts a connection that ended for `reason` (one of [`CONNECTIONS_ENDED`]'s).
pub fn connection_ended(reason: &'static str) {
    metrics::counter!(CONNECTIONS_ENDED, "reason" => reason).increment(1);
}

/// Records a listing cache lookup.
pub fn listing_cache(hit: bool) {
    // Registered once: a cached read is otherwise mostly this lookup.
    static COUNTERS: OnceLock<[Counter; 2]> = OnceLock::new();
    let [hits, misses] = COUNTERS.get_or_init(|| {
        [
            metrics::counter!(LISTING_CACHE, "result" => "hit"),
            metrics::counter!(LISTING_CACHE, "result" => "miss"),
        ]
    });
    if hit { hits } else { misses }.increment(1);
}

/// Server-side document lists the gateway holds open (per replica).
pub const UPSTREAM_OPEN_LISTS: &str = "wdgate_upstream_open_lists";
/// Background CLOSELIST calls, by outcome (`closed`, `stale`, `failed`, `dropped`).
pub const CLOSELIST_TOTAL: &str = "wdgate_closelist_total";
/// Document id resolutions, by path (`locator`: a recent row; `reread`: SERVE
/// rereadrecord; `search`: FINDFILES in the id's cabinet; `search_all`: in every
/// cabinet) and outcome (`found`, `not_found`, `stale`, `error`).
pub const DOCUMENT_RESOLVE: &str = "wdgate_document_resolve_total";

/// Sets the open-lists gauge.
pub fn open_lists(count: i64) {
    #[allow(clippy::cast_precision_loss)]
    metrics::gauge!(UPSTREAM_OPEN_LISTS).set(count.max(0) as f64);
}

/// Counts a background CLOSELIST.
pub fn closelist(outcome: &'static str) {
    metrics::counter!(CLOSELIST_TOTAL, "outcome" => outcome).increment(1);
}

/// Counts a document id resolution.
pub fn document_resolve(path: &'static str, outcome: &'static str) {
    metrics::counter!(DOCUMENT_RESOLVE, "path" => path, "outcome" => outcome).increment(1);
}

/// Content transfers that ended, by `direction` (`down`) and `outcome` (`complete`,
/// `aborted`, `cancelled`, `too_long`, `head`, `range_not_satisfiable`, `failed`).
pub const DOCUMENT_TRANSFERS: &str = "wdgate_document_transfers_total";
/// Body bytes of content transfers, by `direction`.
pub const DOCUMENT_TRANSFER_BYTES: &str = "wdgate_document_transfer_bytes_total";

/// Counts a content transfer that ended, and the body bytes it moved.
pub fn document_transfer(direction: &'static str, outcome: &'static str, bytes: u64) {
    metrics::counter!(DOCUMENT_TRANSFERS, "direction" => direction, "outcome" => outcome)
        .increment(1);
    metrics::counter!(DOCUMENT_TRANSFER_BYTES, "direction" => direction).increment(bytes);
}
