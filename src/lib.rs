//! wdgate: a REST gateway in front of a Worldox Web server.
//!
//! [`build_app`] turns a [`Config`] into the whole service, so tests can drive it
//! without a socket and `main.rs` only binds and serves.

pub mod address;
pub mod api;
pub mod config;
pub mod devices;
pub mod metrics;
pub mod server;
pub mod session;
pub mod sim;
pub mod telemetry;
pub mod upstream;

use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use config::Config;

use api::AppState;
use api::client_ip::ClientIpResolver;
use api::login_limit::LoginLimiter;
use devices::{IdKey, ListingCache, Verifications};
use upstream::status::StatusTable;

/// The service could not be built from the config.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The upstream client could not be built.
    #[error(transparent)]
    Upstream(#[from] upstream::client::BuildError),
    /// A `[status_map]` entry is unusable.
    #[error(transparent)]
    StatusMap(#[from] upstream::status::BadStatusEntry),
    /// The OS random number generator failed.
    #[error("the OS random number generator failed: {0}")]
    Rng(String),
    /// The Redis session store settings are unusable.
    #[error(transparent)]
    Redis(#[from] session::ConnectError),
}

/// Builds the whole gateway: the tower stack around every route.
///
/// `config.upstream.url` must be set (`main` points it at the in-process simulator
/// when the operator gave none).
pub fn build_app(config: &Config) -> Result<Router, BuildError> {
    // The recorder exists before the first request or upstream call is counted.
    metrics::handle();
    let upstream = upstream::Client::new(&config.upstream)?;
    let statuses = StatusTable::new(&config.status_map)?;
    let (store, redis) = session::build_store(&config.session)?;
    let ids = match &config.devices.id_key {
        Some(key) => IdKey::from_secret(key.as_bytes()),
        None => IdKey::random().map_err(|e| BuildError::Rng(e.to_string()))?,
    };
    let state = AppState::new(api::state::Parts {
        upstream,
        store,
        statuses,
        sessions: config.session.clone(),
        listings: ListingCache::new(
            ids,
            Duration::from_secs(config.devices.cache_ttl_secs),
            config.session.max_sessions,
        )
        .shared(
            redis.as_ref(),
            Duration::from_millis(config.session.l1_ttl_ms),
        ),
        verifications: Verifications::new(
            Duration::from_secs(config.devices.verification_ttl_secs),
            config.session.max_sessions,
        ),
        passthrough: config.passthrough.clone(),
        login_limiter: LoginLimiter::new(
            config.limits.login_per_username_per_minute,
            config.limits.login_per_ip_per_minute,
        ),
        client_ip: ClientIpResolver::new(config.server.trusted_networks()),
        browser: config.browser.clone(),
    });
    let trace = TraceLayer::new_for_http()
        .make_span_with(telemetry::make_span)
        .on_request(())
        .on_response(telemetry::LogResponse);
    let stack = ServiceBuilder::new()
        // Every request gets an id first (a client's only if it is a short token, so ids
        // cannot forge log lines), so every later layer and log line can name it; the id
        // goes back to the client, on errors too.
        .layer(telemetry::RequestIdLayer)
        // One span per request carrying the id and the matched route; the outcome is logged here.
        .layer(trace)
        // Browsers on the configured origins may call the API; preflights end here.
        .option_layer(api::browser::cors_layer(&config.browser))
        // Every answer is counted and timed by route, errors included.
        .layer(axum::middleware::from_fn(metrics::record_requests))
        // Errors from everything below become problem+json bodies carrying the request id.
        .layer(axum::middleware::from_fn(api::problem::render_problems))
        // A panic is a 500 problem, not a dropped connection.
        .layer(CatchPanicLayer::new())
        // No request outlives the configured budget.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            Duration::from_secs(config.server.request_timeout_secs),
        ))
        // Bodies are read at most this far: extractors answer 413 beyond it.
        .layer(DefaultBodyLimit::max(config.server.body_limit_bytes));
    let backpressure = ServiceBuilder::new()
        // Beyond the concurrency limit an API request is refused at once (503 +
        // Retry-After) rather than queued without bound; the semaphore is shared by
        // every API route. Health, readiness and metrics stay outside it.
        .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
            api::ApiError::Overloaded
        }))
        .layer(LoadShedLayer::new())
        .layer(GlobalConcurrencyLimitLayer::new(
            config.server.max_concurrent_requests,
        ));
    let mut routes = api::routes(state.clone());
    if let Some(dir) = &config.server.ui_dir {
        // The self-service page: static files under /ui/, no session needed.
        routes = routes.merge(api::ui::routes(dir));
    }
    let app = routes.layer(backpressure).merge(api::ops_routes(state));
    Ok(app.layer(stack))
}
