//! Prometheus metrics: the recorder, the per-request counters, and the names.
//!
//! Labels are route templates, methods, statuses, upstream command names and outcomes:
//! never a path with an id in it, a token, a username or a SID.

use std::collections::HashMap;
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
/// cost of recording into it, so each series is registered once, on its first request.
/// The handles sit in one slot per (route, method), found by index: no hashing, and no
/// handle cloned, per request.
#[derive(Debug)]
pub struct RequestMetrics {
    /// The route labels, by route id.
    routes: Box<[&'static str]>,
    /// By `route id × METHOD_LABELS.len() + method index`.
    series: Box<[RouteSeries]>,
}

/// One (route, method)'s latency histogram and request counters.
#[derive(Debug, Default)]
struct RouteSeries {
    duration: OnceLock<Histogram>,
    /// By status: the few a route answers, so a scan beats a map.
    counts: RwLock<Vec<(u16, Counter)>>,
}

impl RequestMetrics {
    /// Series for the routes labelled `routes`, by route id. Their labels are route
    /// templates (or `unmatched`): a fixed set, so the number of series is bounded
    /// whatever clients send.
    pub fn new(routes: impl IntoIterator<Item = &'static str>) -> Self {
        let routes: Box<[&'static str]> = routes.into_iter().collect();
        let series = std::iter::repeat_with(RouteSeries::default)
            .take(routes.len() * METHOD_LABELS.len())
            .collect();
        Self { routes, series }
    }

    /// Counts one answered request and records its latency. `route` is a route id (an
    /// index into the labels given to [`Self::new`]; any other is not recorded) and
    /// `method` a [`method_index`].
    pub fn record(&self, route: usize, method: usize, status: u16, latency: Duration) {
        let method = method.min(METHOD_LABELS.len() - 1);
        let (Some(&route_label), Some(series)) = (
            self.routes.get(route),
            self.series.get(route * METHOD_LABELS.len() + method),
        ) else {
            return;
        };
        let method_label = METHOD_LABELS[method];
        series
            .duration
            .get_or_init(|| metrics::histogram!(HTTP_DURATION, "route" => route_label, "method" => method_label))
            .record(latency.as_secs_f64());
        {
            let counts = series.counts.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, counter)) = counts.iter().find(|(s, _)| *s == status) {
                counter.increment(1);
                return;
            }
        }
        let mut counts = series
            .counts
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let at = match counts.iter().position(|(s, _)| *s == status) {
            Some(at) => at,
            None => {
                counts.push((
                    status,
                    metrics::counter!(HTTP_REQUESTS, "route" => route_label, "method" => method_label, "status" => status.to_string()),
                ));
                counts.len() - 1
            }
        };
        counts[at].1.increment(1);
    }
}

/// Methods as metric labels, by [`method_index`]: the standard ones by name, anything
/// else `other`.
const METHOD_LABELS: [&str; 10] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT", "other",
];

/// A method's place in the metric labels (see [`method_label`]).
pub fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::PATCH => 3,
        Method::DELETE => 4,
        Method::HEAD => 5,
        Method::OPTIONS => 6,
        Method::TRACE => 7,
        Method::CONNECT => 8,
        _ => 9,
    }
}

/// A method as a metric label: the standard ones by name, anything else `other`.
pub fn method_label(method: &Method) -> &'static str {
    METHOD_LABELS[method_index(method)]
}

/// Records one upstream call.
pub fn upstream_call(command: &str, outcome: &'static str, started: Instant) {
    let latency = started.elapsed().as_secs_f64();
    let series = command_series(command);
    series.duration.record(latency);
    {
        let calls = series.calls.read().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, counter)) = calls.iter().find(|(o, _)| *o == outcome) {
            counter.increment(1);
            return;
        }
    }
    let mut calls = series.calls.write().unwrap_or_else(PoisonError::into_inner);
    let at = match calls.iter().position(|(o, _)| *o == outcome) {
        Some(at) => at,
        None => {
            let command = series.command;
            calls.push((
                outcome,
                metrics::counter!(UPSTREAM_CALLS, "command" => command, "outcome" => outcome),
            ));
            calls.len() - 1
        }
    };
    calls[at].1.increment(1);
}

/// One upstream command's latency histogram and call counters by outcome.
#[derive(Debug)]
struct CommandSeries {
    /// The command, kept once (the label).
    command: &'static str,
    duration: Histogram,
    /// By outcome: a handful, so a scan beats a map.
    calls: RwLock<Vec<(&'static str, Counter)>>,
}

/// `command`'s series, registered the first time: one lookup by the command's text per
/// call, which also interns it. Only the gateway's own commands and the passthrough's
/// allow-list ever reach the upstream, so the map stays a few dozen entries.
fn command_series(command: &str) -> &'static CommandSeries {
    static SERIES: OnceLock<RwLock<HashMap<&'static str, &'static CommandSeries>>> =
        OnceLock::new();
    let series = SERIES.get_or_init(RwLock::default);
    if let Some(found) = series
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(command)
    {
        return found;
    }
    let mut series = series.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(found) = series.get(command) {
        return found;
    }
    let text: &'static str = Box::leak(command.into());
    let made: &'static CommandSeries = Box::leak(Box::new(CommandSeries {
        command: text,
        duration: metrics::histogram!(UPSTREAM_DURATION, "command" => text),
        calls: RwLock::default(),
    }));
    series.insert(text, made);
    made
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_labelled_by_name_or_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::CONNECT), "CONNECT");
        let custom = Method::from_bytes(b"PURGE").expect("a method");
        assert_eq!(method_label(&custom), "other");
    }

    /// Each (route, method) keeps its handles in its own slot, registered on first use;
    /// a route id the table does not know is not recorded (and does not panic).
    #[test]
    fn series_are_kept_by_route_and_method_and_statuses_once_each() {
        let metrics = RequestMetrics::new(["/me", "unmatched"]);
        assert_eq!(metrics.series.len(), 2 * METHOD_LABELS.len());
        for status in [200, 200, 404, 200] {
            metrics.record(
                0,
                method_index(&Method::GET),
                status,
                Duration::from_millis(1),
            );
        }
        let series = &metrics.series[0];
        assert!(series.duration.get().is_some());
        let statuses: Vec<u16> = series
            .counts
            .read()
            .expect("counts")
            .iter()
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(statuses, [200, 404]);
        assert!(
            metrics.series[1].duration.get().is_none(),
            "POST /me untouched"
        );
        metrics.record(2, 0, 200, Duration::ZERO);
        metrics.record(1, usize::MAX, 500, Duration::ZERO);
        assert!(
            metrics.series[2 * METHOD_LABELS.len() - 1]
                .duration
                .get()
                .is_some(),
            "other"
        );
    }
}
