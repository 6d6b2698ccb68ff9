//! wdgate: a REST gateway in front of a Worldox Web server.
//!
//! [`build_app`] turns a [`Config`] into the whole service, so tests can drive it
//! without a socket and `main.rs` only binds and serves.

pub mod address;
pub mod api;
pub mod config;
pub mod devices;
pub mod documents;
pub mod limits;
pub mod mac;
pub mod metrics;
pub mod server;
pub mod session;
pub mod sim;
pub mod telemetry;
pub mod upstream;

use std::time::Duration;

use axum::Router;
use tower::ServiceBuilder;
use tower::util::Either;
use tower_http::cors::Cors;

pub use config::Config;

use api::AppState;
use api::client_ip::ClientIpResolver;
use api::edge::{Edge, EdgeLayer, EdgeSettings};
use devices::{IdKey, ListingCache, Verifications};
use limits::{CodeSendLimits, Limiter, LoginLimits, SubjectKey};
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
    /// Two route templates collide.
    #[error("the route table: {0}")]
    Routes(String),
}

/// The whole gateway as one service: CORS (when configured) in front of the edge in
/// front of the router, so every answer, the edge's own refusals included, carries the
/// CORS headers a listed origin needs to read it.
pub type App = Either<Cors<Edge<Router>>, Edge<Router>>;

/// `app` for one connection, from `peer`: its requests need no `ConnectInfo`, and they
/// share the connection's last token (see [`Edge::set_peer`]).
pub fn app_for_peer(app: &App, peer: std::net::SocketAddr) -> App {
    let mut app = app.clone();
    match &mut app {
        Either::Left(cors) => cors.get_mut().set_peer(peer),
        Either::Right(edge) => edge.set_peer(peer),
    }
    app
}

/// Pending verifications where sessions live: in Redis with the Redis store, so each
/// step of the add flow may land on any replica.
fn verifications(config: &Config, redis: Option<&session::RedisLink>) -> Verifications {
    let ttl = Duration::from_secs(config.devices.verification_ttl_secs);
    let attempts = config.devices.verification_attempts;
    match redis {
        Some(link) => Verifications::shared(link.clone(), ttl, attempts),
        None => Verifications::in_memory(ttl, attempts, config.session.max_sessions),
    }
}

/// Builds the whole gateway: CORS, the edge and the routes.
///
/// `config.upstream.url` must be set (`main` points it at the in-process simulator
/// when the operator gave none).
pub fn build_app(config: &Config) -> Result<App, BuildError> {
    let readiness =
        api::health::Readiness::new(Duration::from_secs(config.server.readiness_interval_secs));
    build_app_with(config, readiness)
}

/// [`build_app`] with a [`Readiness`](api::health::Readiness) the caller keeps, to
/// turn `/readyz` to 503 when shutdown begins.
pub fn build_app_with(
    config: &Config,
    readiness: api::health::Readiness,
) -> Result<App, BuildError> {
    let (state, router) = build_routes(config, readiness)?;
    // The edge answers the busiest reads itself, with the router's state.
    let edge = EdgeLayer::with_hot_routes(
        route_table()?,
        edge_settings(config),
        Some(api::hot::HotRoutes::new(state)),
    );
    Ok(ServiceBuilder::new()
        .option_layer(api::browser::cors_layer(&config.browser))
        .layer(edge)
        .service(router))
}

/// The handlers' shared state and the router over it.
pub(crate) fn build_routes(
    config: &Config,
    readiness: api::health::Readiness,
) -> Result<(AppState, Router), BuildError> {
    // The recorder exists before the first request or upstream call is counted.
    metrics::handle();
    let upstream = upstream::Client::new(&config.upstream)?;
    let statuses = StatusTable::new(&config.status_map)?;
    let (store, redis) = session::build_store(&config.session)?;
    let ids = match &config.devices.id_key {
        Some(key) => IdKey::from_secret(key.as_bytes()),
        None => IdKey::random().map_err(|e| BuildError::Rng(e.to_string()))?,
    };
    // Limit subjects are hashed under the same shared secret (domain-separated), so
    // every replica counts a username, IP or address under the same Redis key.
    let subjects = match &config.devices.id_key {
        Some(key) => SubjectKey::from_secret(key.as_bytes()),
        None => SubjectKey::random().map_err(|e| BuildError::Rng(e.to_string()))?,
    };
    let limiter = Limiter::new(subjects, redis.as_ref());
    // Cursors are signed under documents.id_key, else a key derived from devices.id_key
    // (the Redis store requires it, so replicas agree), else a per-process key.
    let cursors = match documents::CursorKey::from_config(
        config.documents.id_key.as_deref(),
        config.devices.id_key.as_deref(),
    ) {
        Some(key) => key,
        None => documents::CursorKey::random().map_err(|e| BuildError::Rng(e.to_string()))?,
    };
    let documents = documents::Documents::new(
        cursors,
        documents::Closer::new(upstream.clone(), config.documents.close_queue),
        documents::Limits {
            max_open: config.documents.max_open_lists_per_session,
            search_ttl: Duration::from_secs(config.documents.search_ttl_secs),
            locator_ttl: Duration::from_secs(config.documents.locator_ttl_secs),
            fileloc_ttl: Duration::from_secs(config.documents.fileloc_ttl_secs),
        },
        Duration::from_secs(config.documents.cabinets_ttl_secs),
        config.session.max_sessions,
    )
    .with_transfers(documents::Transfers::new(
        config.documents.max_concurrent_transfers,
        config.documents.max_transfers_per_session,
    ));
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
        verifications: verifications(config, redis.as_ref()),
        documents,
        documents_config: config.documents.clone(),
        passthrough: config.passthrough.clone(),
        login_limits: LoginLimits::new(limiter.clone(), &config.limits),
        code_sends: CodeSendLimits::new(limiter, &config.limits),
        client_ip: ClientIpResolver::new(config.server.trusted_networks()),
        browser: config.browser.clone(),
        readiness,
        admin: config.admin.clone(),
    });
    let mut router = api::routes(state.clone()).merge(api::ops_routes(state.clone()));
    if let Some(dir) = &config.server.ui_dir {
        router = router.merge(api::ui::routes(dir));
    }
    Ok((state, router))
}

/// The edge's route table, negotiating by the OpenAPI document.
pub(crate) fn route_table() -> Result<api::edge::RouteTable, BuildError> {
    let openapi =
        api::openapi::negotiation_document().map_err(|e| BuildError::Routes(e.to_string()))?;
    Ok(api::edge::RouteTable::new(api::ROUTES)
        .map_err(|e| BuildError::Routes(e.to_string()))?
        .with_negotiation(api::negotiate::Negotiation::from_openapi(openapi)))
}

/// The edge's settings from `config`.
pub(crate) fn edge_settings(config: &Config) -> EdgeSettings {
    EdgeSettings {
        body_limit_bytes: config.server.body_limit_bytes,
        request_timeout: Duration::from_secs(config.server.request_timeout_secs),
        stream_timeout: Duration::from_secs(config.documents.transfer_max_secs),
        body_read_timeout: Duration::from_secs(config.server.body_read_timeout_secs),
        max_concurrent_requests: config.server.max_concurrent_requests,
        max_concurrent_requests_per_ip: config.server.per_ip_limit(),
        client_ip: ClientIpResolver::new(config.server.trusted_networks()),
    }
}
