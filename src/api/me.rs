//! `GET /me`: the cached profile, without an upstream call.

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::auth::CurrentSession;
use crate::upstream::auth::Profile;

/// The user as the REST API shows them.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    /// The Worldox user code.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Firm name.
    pub firm: String,
}

impl From<&Profile> for UserView {
    fn from(p: &Profile) -> Self {
        Self {
            username: p.username.clone(),
            name: p.name.clone(),
            email: p.email.clone(),
            firm: p.firm.clone(),
        }
    }
}

/// `GET /me` answer.
#[derive(Debug, Serialize)]
pub struct MeResponse {
    /// The profile.
    #[serde(flatten)]
    pub user: UserView,
    /// The session's times.
    pub session: SessionView,
}

/// A session's times, seconds since the Unix epoch.
#[derive(Debug, Serialize)]
pub struct SessionView {
    /// Login time.
    pub created_at: u64,
    /// When it ends however busy it is.
    pub expires_at: u64,
}

/// Returns the caller's cached profile.
pub async fn get(current: CurrentSession) -> Response {
    let s = &current.session;
    let body = MeResponse {
        user: UserView::from(&s.profile),
        session: SessionView {
            created_at: s.created_at,
            expires_at: s.expires_at,
        },
    };
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
