//! The busiest reads (`GET /me`, `GET /me/2fa-devices`) answered without axum's router.
//!
//! The edge has already matched the path against the same templates (its route table
//! labels metrics and logs), so for these two it calls the handler itself. Through the
//! router each request paid for a second path match, three request extensions
//! (`OriginalUri`, `MatchedPath`, the empty path parameters), a clone of the boxed
//! route service, its boxed future and the handler's: about 1,900 instructions and
//! five allocations a request more than the one boxed future here (bench/results.md).
//!
//! Only `GET` takes this way; `HEAD`, the other methods (405 with `Allow`) and every
//! other path (a trailing slash included) still go through the router. The handlers
//! are the router's own, their extractors run in the same order, and the answer gets
//! the `Content-Length` the router's route future would give it, so both ways answer
//! the same bytes (`tests.rs` compares them).

#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use axum::body::{Body, HttpBody};
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};

use super::auth::{CurrentSession, Presented};
use super::devices::view::RedactQuery;
use super::problem::ApiError;
use super::state::AppState;
use super::{devices, me, paths};
use crate::session::RecentToken;

/// A hot route's answer being made.
pub type HotFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// The routes answered here, and the state their handlers share.
#[derive(Debug, Clone)]
pub struct HotRoutes {
    state: AppState,
}

/// One route answered here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hot {
    /// `GET /me`.
    Me,
    /// `GET /me/2fa-devices`.
    Devices,
}

impl HotRoutes {
    /// The hot routes over `state` (the router's own).
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// The hot route a `GET` of `template` is, if any.
    pub fn get_of(template: &str) -> Option<Hot> {
        match template {
            paths::ME => Some(Hot::Me),
            paths::DEVICES => Some(Hot::Devices),
            _ => None,
        }
    }

    /// Whether `method` takes the hot way (`HEAD` is left to the router, which drops
    /// the body).
    pub fn takes(method: &Method) -> bool {
        method == Method::GET
    }

    /// The answer to `request`, a `GET` of `route`; `recent` is its connection's last
    /// token (see [`RecentToken`]).
    pub fn call(
        &self,
        route: Hot,
        request: Request,
        recent: Option<&Mutex<RecentToken>>,
    ) -> HotFuture {
        let state = self.state.clone();
        let (parts, _) = request.into_parts();
        // The credentials are read before the answer's future is made: the connection's
        // last token is at hand only here. (A request of the same connection holding it
        // at the same moment, on HTTP/2, only means this one hashes its token.)
        let presented = {
            let mut recent = recent.and_then(|recent| recent.try_lock().ok());
            Presented::of(&parts, &state, recent.as_deref_mut())
        };
        match route {
            Hot::Me => Box::pin(get_me(state, presented)),
            Hot::Devices => Box::pin(list_devices(state, parts, presented)),
        }
    }
}

/// `GET /me` as the router calls [`me::get`].
async fn get_me(state: AppState, presented: Result<Presented, ApiError>) -> Response {
    let current = match authenticated(presented, &state).await {
        Ok(current) => current,
        Err(rejection) => return with_length(rejection.into_response()),
    };
    with_length(me::get(current).await)
}

/// `GET /me/2fa-devices` as the router calls [`devices::list`]: its extractors in
/// their order (the state, the session, the query).
async fn list_devices(
    state: AppState,
    mut parts: Parts,
    presented: Result<Presented, ApiError>,
) -> Response {
    let current = match authenticated(presented, &state).await {
        Ok(current) => current,
        Err(rejection) => return with_length(rejection.into_response()),
    };
    let query = match parts.uri.query() {
        // What `Query` makes of no query string (an empty one: no `redact`), without
        // running the deserializer over nothing.
        None => Query(RedactQuery::default()),
        Some(_) => match Query::<RedactQuery>::from_request_parts(&mut parts, &state).await {
            Ok(query) => query,
            Err(rejection) => return with_length(rejection.into_response()),
        },
    };
    with_length(
        devices::list(State(state), current, query)
            .await
            .into_response(),
    )
}

/// The session `presented` names, as [`CurrentSession`]'s extractor finds it.
async fn authenticated(
    presented: Result<Presented, ApiError>,
    state: &AppState,
) -> Result<CurrentSession, ApiError> {
    CurrentSession::of(presented?, state).await
}

/// `response` with the `Content-Length` of its body when that is known and the
/// header is not set, as axum's route future gives every answer.
fn with_length(mut response: Response<Body>) -> Response {
    let size = response.body().size_hint().exact();
    set_content_length(size, response.headers_mut());
    response
}

fn set_content_length(size: Option<u64>, headers: &mut HeaderMap) {
    if headers.contains_key(header::CONTENT_LENGTH) {
        return;
    }
    let value = match size {
        None => return,
        Some(0) => HeaderValue::from_static("0"),
        // Copied into a buffer of its own length: `HeaderValue::from(u64)` allocates
        // twice (a growing buffer, then the shared one it is frozen into).
        Some(size) => match HeaderValue::from_str(itoa::Buffer::new().format(size)) {
            Ok(value) => value,
            Err(_) => return,
        },
    };
    headers.insert(header::CONTENT_LENGTH, value);
}
