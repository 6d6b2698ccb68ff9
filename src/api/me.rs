//! `GET /me`: the cached profile, without an upstream call.

use axum::response::Response;
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::auth::CurrentSession;
use super::devices::view::Link;
use super::json::private_json;
use super::links;
use super::openapi::problems;
use crate::upstream::auth::Profile;

/// The user as the REST API shows them.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// The profile.
    #[serde(flatten)]
    pub user: UserView,
    /// The session's times.
    pub session: SessionView,
    /// `self`, `devices`, `sessions`, `logout`.
    #[serde(rename = "_links")]
    pub links: Vec<Link>,
}

/// A session's id and times (seconds since the Unix epoch).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The session's id, as `GET /me/sessions` lists it.
    pub id: String,
    /// Login time.
    pub created_at: u64,
    /// When it ends however busy it is.
    pub expires_at: u64,
}

/// Returns the caller's cached profile.
#[utoipa::path(
    get,
    path = "/me",
    operation_id = "getMe",
    tag = "me",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses((status = 200, description = "The profile and the session's times.", body = MeResponse), problems::Me),
)]
pub async fn get(current: CurrentSession) -> Response {
    let s = &current.session;
    let p = &s.profile;
    // The JSON of `MeResponse`, serialized straight from the session: no copy of the
    // profile, no flattening through a map.
    let body = MeBody {
        username: &p.username,
        name: &p.name,
        email: &p.email,
        firm: &p.firm,
        session: SessionBody {
            id: s.id.as_str(),
            created_at: s.created_at,
            expires_at: s.expires_at,
        },
        links: &links::OF_ME_JSON,
    };
    private_json(&body, 768)
}

/// [`MeResponse`] borrowed from the session, with the static links pre-rendered:
/// nothing is copied, and the links are not escaped again.
#[derive(Serialize)]
struct MeBody<'a> {
    username: &'a str,
    name: &'a str,
    email: &'a str,
    firm: &'a str,
    session: SessionBody<'a>,
    #[serde(rename = "_links")]
    links: &'static RawValue,
}

/// [`SessionView`] borrowed from the session.
#[derive(Serialize)]
struct SessionBody<'a> {
    id: &'a str,
    created_at: u64,
    expires_at: u64,
}
