//! `GET /me/sessions`, `DELETE /me/sessions/{id}` and `DELETE /me/sessions?others=true`:
//! where the caller is signed in, and signing out there. Each costs one lookup in the
//! owner's session index, never a scan of every session.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use futures_util::stream;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::CurrentSession;
use super::devices::view::Link;
use super::json::private_json;
use super::links;
use super::openapi::problems;
use super::problem::ApiError;
use super::state::AppState;
use crate::session::{Session, TokenHash};

/// LOGOFFs sent at once when several sessions end together.
const LOGOFFS_AT_ONCE: usize = 4;

/// One of the caller's sessions. Times are seconds since the Unix epoch.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionSummary {
    /// The session's opaque id (neither its token nor derived from it).
    #[schema(example = "ses_3q2-7wAbCdEfGhIjKlMnOp")]
    pub id: String,
    /// Whether this is the session the request came with.
    pub current: bool,
    /// Login time.
    pub created_at: u64,
    /// Last use, to within `session.last_seen_interval_secs`.
    pub last_seen_at: u64,
    /// When it ends however busy it is (unused, it ends sooner: `session.idle_timeout_secs`).
    pub expires_at: u64,
    /// The client IP that logged in.
    #[schema(value_type = Option<String>, example = "203.0.113.7")]
    pub client_ip: Option<String>,
    /// The browser or program that logged in (`User-Agent`, at most 200 characters).
    pub user_agent: Option<String>,
    /// `logout` on the current session, `end` on the others.
    #[serde(rename = "_links")]
    pub links: Vec<Link>,
}

/// `GET /me/sessions` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// The caller's live sessions, newest first.
    pub sessions: Vec<SessionSummary>,
    /// `self`, `end-others`, `me`.
    #[serde(rename = "_links")]
    pub links: Vec<Link>,
}

/// `?others=` on `DELETE /me/sessions`.
#[derive(Debug, Deserialize)]
pub struct OthersQuery {
    /// Must be `true`.
    others: Option<String>,
}

/// The one value `?others=` takes.
#[derive(Debug, Serialize, ToSchema)]
pub enum OthersValue {
    /// Every session but this one ends.
    #[serde(rename = "true")]
    True,
}

/// Lists the caller's sessions.
#[utoipa::path(
    get,
    path = "/me/sessions",
    operation_id = "listSessions",
    tag = "me",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses((status = 200, description = "The caller's live sessions, newest first.", body = SessionList), problems::ListSessions),
)]
pub async fn list(
    State(state): State<AppState>,
    current: CurrentSession,
) -> Result<Response, ApiError> {
    let mut sessions = owner_sessions(&state, &current).await?;
    if !sessions.iter().any(|(key, _)| *key == current.key) {
        // Listed from the index, which a session from before it existed is missing from.
        sessions.push((current.key, Session::clone(&current.session)));
    }
    let mut summaries: Vec<SessionSummary> = sessions
        .into_iter()
        .filter(|(_, s)| s.id.is_set())
        .map(|(key, mut session)| {
            let is_current = key == current.key;
            if is_current {
                // This request may just have noted a later use than the store shows.
                session.last_seen_at = session.last_seen_at.max(current.session.last_seen_at);
            }
            summary(&session, is_current)
        })
        .collect();
    summaries.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    let body = SessionList {
        sessions: summaries,
        links: links::of_sessions(),
    };
    Ok(private_json(&body, 1024))
}

/// Ends one of the caller's sessions, everywhere, and logs its Worldox session off.
#[utoipa::path(
    delete,
    path = "/me/sessions/{id}",
    operation_id = "endSession",
    tag = "me",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = String, Path, description = "A session id from `GET /me/sessions`")),
    responses((status = 204, description = "The session ended: its token no longer works on any replica."), problems::EndSession),
)]
pub async fn end_one(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let sessions = owner_sessions(&state, &current).await?;
    let Some((key, _)) = sessions
        .into_iter()
        .find(|(_, s)| s.id.is_set() && s.id.as_str() == id)
    else {
        // Unknown, ended, or another user's: the same answer, so nothing is revealed.
        return Err(ApiError::NotFound("no such session of yours".to_owned()));
    };
    end_and_log_off(&state, key).await?;
    tracing::info!(user = %current.session.profile.username, "session ended by its user");
    Ok(super::sessions::ended(&state, key == current.key))
}

/// Ends every session of the caller but this one, everywhere.
#[utoipa::path(
    delete,
    path = "/me/sessions",
    operation_id = "endOtherSessions",
    tag = "me",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("others" = inline(OthersValue), Query, description = "Must be `true`: every session but this one ends (this one ends with `DELETE /sessions/current`).")),
    responses((status = 204, description = "Every other session ended; this one lives on."), problems::EndOtherSessions),
)]
pub async fn end_others(
    State(state): State<AppState>,
    current: CurrentSession,
    Query(query): Query<OthersQuery>,
) -> Result<Response, ApiError> {
    if !matches!(query.others.as_deref(), Some("true" | "1")) {
        return Err(ApiError::BadRequest(
            "add ?others=true to end every other session; DELETE /sessions/current ends this one"
                .to_owned(),
        ));
    }
    let others: Vec<TokenHash> = owner_sessions(&state, &current)
        .await?
        .into_iter()
        .map(|(key, _)| key)
        .filter(|key| *key != current.key)
        .collect();
    let ended = end_all(&state, others).await?;
    tracing::info!(
        user = %current.session.profile.username,
        ended,
        "every other session ended by its user"
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The caller's live sessions, from the index.
async fn owner_sessions(
    state: &AppState,
    current: &CurrentSession,
) -> Result<Vec<(TokenHash, Session)>, ApiError> {
    state
        .store()
        .list_owner(&current.session.owner())
        .await
        .map_err(|e| ApiError::StoreUnavailable(e.to_string()))
}

/// The API view of a session.
fn summary(session: &Session, current: bool) -> SessionSummary {
    let id = session.id.as_str();
    SessionSummary {
        id: id.to_owned(),
        current,
        created_at: session.created_at,
        last_seen_at: session.last_seen_at.max(session.created_at),
        expires_at: session.expires_at,
        client_ip: session.client_ip.map(|ip| ip.to_string()),
        user_agent: session.user_agent.clone(),
        links: vec![if current {
            links::LOGOUT_LINK
        } else {
            links::end(id)
        }],
    }
}

/// Ends the session `key` everywhere (the store, every replica's cache) and logs its
/// Worldox session off; `false` if it had already ended. A failed LOGOFF is logged and
/// the Worldox session left to expire, as `DELETE /sessions/current` does.
pub(crate) async fn end_and_log_off(state: &AppState, key: TokenHash) -> Result<bool, ApiError> {
    let Some(session) = state.end_session(key).await? else {
        return Ok(false);
    };
    if let Err(e) = state.upstream().logoff(&session.sid).await {
        tracing::warn!(error = %e, "LOGOFF failed; the Worldox session will expire on its own");
    }
    Ok(true)
}

/// Ends each of `keys` (a few LOGOFFs at a time); returns how many were live. Every
/// one is tried; the first store failure is the answer.
pub(crate) async fn end_all(state: &AppState, keys: Vec<TokenHash>) -> Result<usize, ApiError> {
    let results: Vec<Result<bool, ApiError>> = stream::iter(keys)
        .map(|key| end_and_log_off(state, key))
        .buffer_unordered(LOGOFFS_AT_ONCE)
        .collect()
        .await;
    let mut ended = 0;
    for result in results {
        if result? {
            ended += 1;
        }
    }
    Ok(ended)
}
