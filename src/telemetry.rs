//! Logging setup and request ids.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::{MakeRequestId, RequestId};

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
    let _ = match config.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.with_ansi(false).try_init(),
    };
}

/// Mints UUIDv4 request ids.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeUuid;

impl MakeRequestId for MakeUuid {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// Drops a client-sent request id that is not a short printable token, so log lines
/// cannot be forged or bloated through it; a fresh one is minted instead.
pub async fn sanitize_request_id(mut request: Request, next: Next) -> Response {
    let acceptable = request.headers().get(&REQUEST_ID).is_none_or(|v| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 64
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
    });
    if !acceptable {
        request.headers_mut().remove(&REQUEST_ID);
    }
    next.run(request).await
}

/// The per-request span: request id, method and matched route (never the query or
/// headers, which may carry credentials).
pub fn make_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", axum::extract::MatchedPath::as_str);
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!("request", request_id = %id, method = %request.method(), route = %route)
}
