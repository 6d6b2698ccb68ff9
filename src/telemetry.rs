//! Logging setup, request ids, and the per-request log line.

mod context;
mod fields;
mod request_id;

use std::net::IpAddr;
use std::time::Duration;

use axum::http::HeaderName;

pub use self::context::{Entered, RequestContext};
use self::context::{JsonLines, PrettyLines};
use self::fields::PlainFields;
pub use self::request_id::{
    RequestIds, assign as assign_request_id, ids as request_ids, mint as mint_request_id,
};
use crate::config::{LogConfig, LogFormat};

/// The request id header, accepted from clients and always answered.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Installs the global tracing subscriber, writing to stderr. `RUST_LOG` overrides
/// `log.level`.
pub fn init(config: &LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) keeps the first subscriber.
    // Both formats name the request a line belongs to (`context.rs`).
    let format = tracing_subscriber::fmt::format();
    let _ = match config.format {
        LogFormat::Json => builder
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(JsonLines(format.json().flatten_event(true)))
            .try_init(),
        LogFormat::Pretty => builder
            .with_ansi(false)
            .fmt_fields(PlainFields)
            .event_format(PrettyLines(format))
            .try_init(),
    };
}

/// The per-request log line: INFO for answers that are errors (4xx, 5xx), with the
/// client IP (who to block, who to help), DEBUG for the rest, so a busy gateway at the
/// default `info` level does not format and write a line for every successful request
/// (half of the cost of answering `GET /me`), while every refusal and failure is still
/// logged with its request id.
pub fn log_response(status: u16, latency: Duration, client_ip: Option<IpAddr>) {
    let latency_ms = latency.as_secs_f64() * 1000.0;
    match client_ip {
        _ if status < 400 => tracing::debug!(status, latency_ms, "finished processing request"),
        Some(client_ip) => {
            tracing::info!(status, latency_ms, %client_ip, "finished processing request");
        }
        None => tracing::info!(status, latency_ms, "finished processing request"),
    }
}

/// The per-request log fields: request id, method and route template (never the path,
/// the query or headers, which may carry ids and credentials), and the id an untrusted
/// client sent, when it sent one. Every line logged while the request is current
/// ([`RequestContext::enter`]) names them.
pub fn request_context(
    request_id: &str,
    client_request_id: Option<&str>,
    method: &axum::http::Method,
    route: &'static str,
) -> RequestContext {
    RequestContext::new(request_id, client_request_id, method, route)
}
