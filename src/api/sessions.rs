//! `POST /sessions` (LOGON) and `DELETE /sessions/current` (LOGOFF).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::CurrentSession;
use super::browser;
use super::client_ip::ClientIp;
use super::devices::view::Link;
use super::json::{self, ApiJson, private_json_bytes};
use super::links;
use super::me::{UserView, write_user_fields};
use super::openapi::{fields, problems};
use super::problem::ApiError;
use super::state::AppState;
use crate::limits::login::normalize_username;
use crate::session::{Session, SessionId, Token};
use crate::upstream;
use crate::upstream::auth::Profile;

/// Longest accepted username, in characters.
const MAX_USERNAME_CHARS: usize = 256;
/// Longest accepted password, in characters.
const MAX_PASSWORD_CHARS: usize = 1024;

/// `POST /sessions` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The Worldox user code.
    #[schema(schema_with = fields::username)]
    pub username: String,
    /// The Worldox password.
    #[schema(schema_with = fields::password)]
    pub password: Secret,
}

/// A string that never shows in `Debug`.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `POST /sessions` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// The bearer token; shown once. Left out when the session went into the `HttpOnly`
    /// cookie for a browser page (cookie mode, a login that carries an `Origin`): in the
    /// body, the page's scripts could read what the cookie keeps from them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `Bearer`, with the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "Bearer")]
    pub token_type: Option<&'static str>,
    /// Seconds the session lives if unused (each use restarts the count).
    pub expires_in: u64,
    /// Seconds until the session ends however busy it is.
    pub max_expires_in: u64,
    /// Who logged in.
    pub user: UserView,
    /// The new session's id, as `GET /me/sessions` lists it (not a secret, not the
    /// token).
    #[schema(example = "ses_3q2-7wAbCdEfGhIjKlMnOp")]
    pub id: String,
    /// `me`, `devices`, `sessions`, `logout`.
    #[serde(rename = "_links")]
    pub links: Vec<Link>,
}

/// What a login answers with, borrowed from the new session.
struct LoginAnswer<'a> {
    /// The bearer token, when it goes in the body.
    token: Option<&'a str>,
    expires_in: u64,
    max_expires_in: u64,
    profile: &'a Profile,
    id: &'a str,
}

/// The JSON of [`LoginResponse`], written straight from the login: the keys and the
/// links are fixed text and only the values are escaped (serializing the struct
/// escaped every key and the four constant links on every login).
fn login_json(a: &LoginAnswer<'_>) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(768);
    out.push(b'{');
    if let Some(token) = a.token {
        out.extend_from_slice(b"\"token\":");
        json::write_str(&mut out, token)?;
        out.extend_from_slice(b",\"token_type\":\"Bearer\",");
    }
    out.extend_from_slice(b"\"expires_in\":");
    json::write_u64(&mut out, a.expires_in);
    out.extend_from_slice(b",\"max_expires_in\":");
    json::write_u64(&mut out, a.max_expires_in);
    out.extend_from_slice(b",\"user\":{");
    write_user_fields(&mut out, a.profile)?;
    out.extend_from_slice(b"},\"id\":");
    json::write_str(&mut out, a.id)?;
    out.extend_from_slice(b",\"_links\":");
    out.extend_from_slice(links::AFTER_LOGIN_JSON.get().as_bytes());
    out.push(b'}');
    Ok(out)
}

/// Logs in upstream and opens a gateway session.
#[utoipa::path(
    post,
    path = "/sessions",
    operation_id = "createSession",
    tag = "sessions",
    request_body = LoginRequest,
    responses(
        (status = 201, description = "Logged in: the token, shown once (in cookie mode, a browser page's login gets the cookie alone).", body = LoginResponse, headers(
            ("location" = String, description = "`/sessions/current`"),
            ("set-cookie" = String, description = "The session cookie, in cookie mode"),
        )),
        problems::Login,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    request_headers: HeaderMap,
    uri: Uri,
    ApiJson(login): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let browser = state.browser();
    // In cookie mode a cross-site page must not log a victim's browser in (login CSRF).
    if browser.cookie_enabled && request_headers.contains_key(header::ORIGIN) {
        browser::check_origin(browser, &request_headers, &uri)?;
    }
    validate(&login)?;
    let attempt = match state.login_limits().check(&login.username, ip).await {
        Ok(attempt) => attempt,
        Err(refusal) => {
            tracing::info!(
                user = %normalize_username(&login.username),
                client_ip = ip.map(tracing::field::display),
                limit = refusal.kind.config_key(),
                retry_after_secs = refusal.retry_after_secs(),
                "login refused by a limit"
            );
            return Err(refusal.into());
        }
    };
    let logon = state
        .upstream()
        .logon(&login.username, &login.password.0)
        .await;
    let logon = match logon {
        Ok(logon) => logon,
        Err(e) => {
            if matches!(
                e,
                upstream::Error::CircuitOpen(_) | upstream::Error::Saturated
            ) {
                // Refused before it was sent: no password was tried.
                state.login_limits().not_sent(attempt).await;
            }
            let error = state.upstream_failure(None, e).await;
            tracing::info!(
                user = %normalize_username(&login.username),
                client_ip = ip.map(tracing::field::display),
                code = error.code(),
                "login failed"
            );
            return Err(error);
        }
    };
    // A right password is no guess: it counts against neither username limit.
    state.login_limits().succeeded(attempt).await;
    let token = Token::generate().map_err(|e| ApiError::Internal(e.to_string()))?;
    let id = SessionId::generate().map_err(|e| ApiError::Internal(e.to_string()))?;
    let user_agent = request_headers
        .get(header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let session = Session::new(
        id.clone(),
        logon.sid,
        logon.profile,
        state.absolute_timeout(),
    )
    .from_client(ip, user_agent.as_deref());
    let session_profile = session.profile.clone();
    let ended = state
        .store()
        .insert(token.hash(), session)
        .await
        .map_err(|e| ApiError::StoreUnavailable(e.to_string()))?;
    tracing::info!(user = %session_profile.username, client_ip = ip.map(tracing::field::display), "session created");
    if !ended.is_empty() {
        tracing::info!(
            user = %session_profile.username,
            ended = ended.len(),
            limit = "session.max_sessions_per_user",
            "the user's oldest sessions ended to make room for this login"
        );
        for old in ended {
            if let Err(e) = state.upstream().logoff(&old.sid).await {
                tracing::warn!(error = %e, "LOGOFF failed; the Worldox session will expire on its own");
            }
        }
    }
    let cookie = browser
        .cookie_enabled
        .then(|| browser::session_cookie(browser, token.as_str(), state.absolute_timeout()))
        .flatten();
    // A browser page gets the cookie alone; other clients (no Origin) the token as well.
    let token_in_body = cookie.is_none() || !request_headers.contains_key(header::ORIGIN);
    let body = login_json(&LoginAnswer {
        token: token_in_body.then(|| token.as_str()),
        expires_in: state.idle_timeout().as_secs(),
        max_expires_in: state.absolute_timeout().as_secs(),
        profile: &session_profile,
        id: id.as_str(),
    })
    .map_err(|e| ApiError::Internal(format!("cannot encode the answer: {e}")))?;
    let mut response = private_json_bytes(Bytes::from(body));
    *response.status_mut() = StatusCode::CREATED;
    let headers = response.headers_mut();
    headers.insert(
        header::LOCATION,
        HeaderValue::from_static("/sessions/current"),
    );
    if let Some(cookie) = cookie {
        headers.insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Ends the session here and upstream.
///
/// The gateway session ends first, so the token is dead even if LOGOFF fails; a failed
/// LOGOFF is logged and the Worldox session left to expire on its own.
#[utoipa::path(
    delete,
    path = "/sessions/current",
    operation_id = "deleteSession",
    tag = "sessions",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses((status = 204, description = "Logged out: the token no longer works."), problems::Logout),
)]
pub async fn delete_current(
    State(state): State<AppState>,
    current: CurrentSession,
) -> Result<Response, ApiError> {
    state.end_session(current.key).await?;
    if let Err(e) = state.upstream().logoff(&current.session.sid).await {
        tracing::warn!(error = %e, "LOGOFF failed; the Worldox session will expire on its own");
    }
    tracing::info!(user = %current.session.profile.username, "session ended");
    Ok(ended(&state, true))
}

/// The 204 that ends a session; with `this_browser` (the caller's own session ended)
/// it also clears the session cookie, in cookie mode.
pub(crate) fn ended(state: &AppState, this_browser: bool) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if this_browser && state.browser().cookie_enabled {
        if let Some(cookie) = browser::clearing_cookie(state.browser()) {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
    }
    response
}

/// The login's own rules (422), before any limit or upstream call.
pub(crate) fn validate(login: &LoginRequest) -> Result<(), ApiError> {
    let invalid = |field, message: &str| ApiError::Validation {
        field,
        message: message.to_owned(),
    };
    let username = login.username.as_str();
    if username.trim().is_empty() {
        return Err(invalid("username", "must not be empty"));
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(invalid("username", "is too long"));
    }
    if username.chars().any(char::is_control) {
        return Err(invalid("username", "must not contain control characters"));
    }
    if login.password.0.is_empty() {
        return Err(invalid("password", "must not be empty"));
    }
    if login.password.0.chars().count() > MAX_PASSWORD_CHARS {
        return Err(invalid("password", "is too long"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer written by hand is the JSON of its documented shape, byte for byte,
    /// with the token in the body and without it, and values that need escaping.
    #[test]
    fn the_answer_is_the_json_of_login_response() {
        let profile = Profile {
            username: "DEMO".to_owned(),
            name: "Zo\u{eb} \"Q\" O\u{2019}Brien\\".to_owned(),
            email: "zoe@example.com".to_owned(),
            firm: "A&B <Law>\n\u{1}".to_owned(),
        };
        for token in [Some("wdg_abc-_123"), None] {
            let answer = LoginAnswer {
                token,
                expires_in: 1_800,
                max_expires_in: 43_200,
                profile: &profile,
                id: "ses_3q2-7wAbC",
            };
            let expected = serde_json::to_vec(&LoginResponse {
                token: token.map(str::to_owned),
                token_type: token.map(|_| "Bearer"),
                expires_in: 1_800,
                max_expires_in: 43_200,
                user: UserView::from(&profile),
                id: "ses_3q2-7wAbC".to_owned(),
                links: links::AFTER_LOGIN.to_vec(),
            })
            .expect("JSON");
            let written = login_json(&answer).expect("JSON");
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected)
            );
        }
    }
}
