//! `DELETE /admin/users/{username}/sessions`: an operator ends every session of a user
//! (an account disabled, a laptop lost). Authenticated by the operator token, of which
//! the config holds only the SHA-256 (`admin.operator_token_sha256`); without it the
//! route does not exist (404). Every call is logged, never with the token.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use hmac::digest::CtOutput;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::client_ip::ClientIp;
use super::json::private_json;
use super::my_sessions::end_all;
use super::openapi::problems;
use super::problem::ApiError;
use super::state::AppState;
use crate::limits::login::normalize_username;

/// Longest username accepted, in characters (as `POST /sessions`).
const MAX_USERNAME_CHARS: usize = 256;

/// `DELETE /admin/users/{username}/sessions` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndedSessions {
    /// The user, as sessions are indexed (trimmed, lowercase).
    pub username: String,
    /// How many live sessions ended.
    pub ended: usize,
}

/// Ends every session of a user, everywhere, each with its LOGOFF.
#[utoipa::path(
    delete,
    path = "/admin/users/{username}/sessions",
    operation_id = "endUserSessions",
    tag = "admin",
    security(("operatorAuth" = [])),
    params(("username" = String, Path, description = "The Worldox user code (any case; percent-encode odd characters)")),
    responses((status = 200, description = "The user's sessions ended; the count may be 0.", body = EndedSessions), problems::AdminEndSessions),
)]
pub async fn end_user_sessions(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(username): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(expected) = state.admin().operator_digest() else {
        // Not configured: the route is not there.
        return Err(ApiError::NotFound("no such route".to_owned()));
    };
    if let Err(refusal) = check_operator(&headers, &expected) {
        tracing::warn!(
            client_ip = ip.map(tracing::field::display),
            code = refusal.code(),
            "operator request refused"
        );
        return Err(refusal);
    }
    let owner = normalize_username(&username);
    if owner.is_empty() || owner.chars().count() > MAX_USERNAME_CHARS {
        return Err(ApiError::BadRequest(
            "the username must be 1 to 256 characters".to_owned(),
        ));
    }
    let sessions = state
        .store()
        .list_owner(&owner)
        .await
        .map_err(|e| ApiError::StoreUnavailable(e.to_string()))?;
    let ended = end_all(&state, sessions.into_iter().map(|(key, _)| key).collect()).await?;
    tracing::info!(
        operator = "operator token",
        client_ip = ip.map(tracing::field::display),
        user = %owner,
        ended,
        "operator ended every session of a user"
    );
    Ok(private_json(
        &EndedSessions {
            username: owner,
            ended,
        },
        128,
    ))
}

/// The request carries `Authorization: Bearer T` with SHA-256(T) = `expected`,
/// compared in constant time.
fn check_operator(headers: &HeaderMap, expected: &[u8; 32]) -> Result<(), ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::MissingToken)?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty())
        .ok_or(ApiError::InvalidToken)?;
    let presented = CtOutput::<Sha256>::new(Sha256::digest(token.as_bytes()));
    let wanted = CtOutput::<Sha256>::new((*expected).into());
    if presented == wanted {
        Ok(())
    } else {
        Err(ApiError::InvalidToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn only_the_token_whose_digest_is_configured_passes() {
        let expected: [u8; 32] = Sha256::digest(b"operator-secret").into();
        assert!(check_operator(&with("Bearer operator-secret"), &expected).is_ok());
        assert!(check_operator(&with("bearer  operator-secret "), &expected).is_ok());
        for wrong in [
            "Bearer operator-secreT",
            "Bearer ",
            "Basic b3A=",
            "operator-secret",
        ] {
            let refusal = check_operator(&with(wrong), &expected).expect_err(wrong);
            assert_eq!(refusal.code(), "invalid_token", "{wrong}");
        }
        let refusal = check_operator(&HeaderMap::new(), &expected).expect_err("absent");
        assert_eq!(refusal.code(), "missing_token");
    }
}
