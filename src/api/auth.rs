//! Authentication: the bearer token → the live session, or a 401.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::browser;
use super::problem::ApiError;
use super::state::AppState;
use crate::session::store::unix_now;
use crate::session::{RecentToken, Session, TokenHash};

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
        let presented = Presented::of(parts, state, None)?;
        Self::of(presented, state).await
    }
}

/// The credentials a request presents: the store key of its token, and how it came.
#[derive(Debug, Clone, Copy)]
pub struct Presented {
    key: TokenHash,
    via_cookie: bool,
}

impl Presented {
    /// The bearer token of `parts` or, without an `Authorization` header, its session
    /// cookie (then an unsafe method must come from an allowed origin); `recent`, the
    /// connection's last token, spares hashing the same token again.
    pub fn of(
        parts: &Parts,
        state: &AppState,
        recent: Option<&mut RecentToken>,
    ) -> Result<Self, ApiError> {
        // One lookup: whether the header is there and what it says.
        let authorization = parts.headers.get(header::AUTHORIZATION);
        let via_cookie = authorization.is_none();
        let token = match authorization {
            Some(value) => bearer_token(value.as_bytes()).ok_or(ApiError::InvalidToken)?,
            None => {
                let token = browser::token_from_cookie(state.browser(), &parts.headers)
                    .ok_or(ApiError::MissingToken)?;
                // A cookie rides along on cross-site requests; a bearer token does not.
                if browser::is_unsafe(&parts.method) {
                    browser::check_origin(state.browser(), &parts.headers, &parts.uri)?;
                }
                token.as_bytes()
            }
        };
        let key = match recent {
            Some(recent) => recent.key_of(token),
            None => TokenHash::from_presented_bytes(token),
        };
        Ok(Self {
            key: key.ok_or(ApiError::InvalidToken)?,
            via_cookie,
        })
    }
}

/// The token of an `Authorization: Bearer …` value (the scheme in any case, spaces
/// around the token trimmed), or `None` for another scheme. The header's bytes are
/// read as they are: a token is ASCII, and anything else is refused when its shape is
/// checked.
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, token) = value.split_at(space);
    scheme
        .eq_ignore_ascii_case(b"bearer")
        .then(|| token.trim_ascii())
}

impl CurrentSession {
    /// The live session `presented` names, or a 401 (503 when the store is down).
    pub async fn of(presented: Presented, state: &AppState) -> Result<Self, ApiError> {
        let Presented { key, via_cookie } = presented;
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
