//! Authentication: the bearer token → the live session, or a 401.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::browser;
use super::problem::ApiError;
use super::state::AppState;
use crate::session::store::unix_now;
use crate::session::{Session, TokenHash};

/// The caller's live session, from `Authorization: Bearer wdg_…` or, in cookie mode,
/// the session cookie (then unsafe methods must come from an allowed origin).
#[derive(Debug, Clone)]
pub struct CurrentSession {
    /// The store key of the caller's token.
    pub key: TokenHash,
    /// The session, shared with the store's copy (a read copies nothing).
    pub session: Arc<Session>,
    /// Whether the session cookie (not a bearer token) authenticated the request: a
    /// cookie rides along on cross-site requests, so writes must pass the origin check.
    pub via_cookie: bool,
}

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // One lookup: whether the header is there and what it says.
        let authorization = parts.headers.get(header::AUTHORIZATION);
        let via_cookie = authorization.is_none();
        let presented = match authorization {
            Some(value) => value
                .to_str()
                .ok()
                .and_then(|v| {
                    let (scheme, token) = v.trim().split_once(' ')?;
                    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
                })
                .ok_or(ApiError::InvalidToken)?,
            None => {
                let token = browser::token_from_cookie(state.browser(), &parts.headers)
                    .ok_or(ApiError::MissingToken)?;
                // A cookie rides along on cross-site requests; a bearer token does not.
                if browser::is_unsafe(&parts.method) {
                    browser::check_origin(state.browser(), &parts.headers, &parts.uri)?;
                }
                token
            }
        };
        let key = TokenHash::from_presented(presented).ok_or(ApiError::InvalidToken)?;
        match state.store().get(key).await {
            Ok(Some(mut session)) => {
                note_last_seen(state, key, &mut session).await;
                Ok(Self {
                    key,
                    session,
                    via_cookie,
                })
            }
            Ok(None) => Err(ApiError::InvalidToken),
            Err(e) => Err(ApiError::StoreUnavailable(e.to_string())),
        }
    }
}

/// Writes the session's `last_seen_at` when the last write is at least
/// `session.last_seen_interval_secs` old: one store write per interval, not per
/// request. A failed write is logged; the request goes on, and a later one retries.
async fn note_last_seen(state: &AppState, key: TokenHash, session: &mut Arc<Session>) {
    let now = unix_now();
    if now.saturating_sub(session.last_seen_at) < state.last_seen_interval_secs() {
        return;
    }
    // The store's copy is shared: this request's copy takes the new time, the store
    // is told of it.
    Arc::make_mut(session).last_seen_at = now;
    if let Err(e) = state.store().touch(key, Session::clone(session)).await {
        tracing::warn!(error = %e, "could not note a session's last use");
    }
}
