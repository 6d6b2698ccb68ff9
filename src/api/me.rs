//! `GET /me`: the cached profile, without an upstream call.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::CurrentSession;
use super::devices::view::Link;
use super::json::{self, private_json_bytes};
use super::links;
use super::openapi::problems;
use super::problem::ApiError;
use crate::session::Session;
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
    match me_json(&current.session) {
        Ok(body) => private_json_bytes(Bytes::from(body)),
        Err(e) => ApiError::Internal(format!("cannot encode the answer: {e}")).into_response(),
    }
}

/// The JSON of [`MeResponse`], written straight from the session: the keys and the
/// links are fixed text and only the values are escaped. Serializing a struct escaped
/// every key, and before that the four constant links, on every request.
fn me_json(s: &Session) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(640);
    out.push(b'{');
    write_user_fields(&mut out, &s.profile)?;
    out.extend_from_slice(b",\"session\":{\"id\":");
    json::write_str(&mut out, s.id.as_str())?;
    out.extend_from_slice(b",\"created_at\":");
    json::write_u64(&mut out, s.created_at);
    out.extend_from_slice(b",\"expires_at\":");
    json::write_u64(&mut out, s.expires_at);
    out.extend_from_slice(b"},\"_links\":");
    out.extend_from_slice(links::OF_ME_JSON.get().as_bytes());
    out.push(b'}');
    Ok(out)
}

/// [`UserView`]'s members as JSON (`"username":…,"name":…,"email":…,"firm":…`, no
/// braces): the keys fixed text, the values escaped.
pub(crate) fn write_user_fields(out: &mut Vec<u8>, p: &Profile) -> Result<(), serde_json::Error> {
    for (key, value) in [
        (&b"\"username\":"[..], p.username.as_str()),
        (b",\"name\":", &p.name),
        (b",\"email\":", &p.email),
        (b",\"firm\":", &p.firm),
    ] {
        out.extend_from_slice(key);
        json::write_str(out, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::session::SessionId;
    use crate::upstream::sid::Sid;

    /// The answer written by hand is the JSON of its documented shape, byte for byte,
    /// with values that need escaping.
    #[test]
    fn the_answer_is_the_json_of_me_response() {
        let profile = Profile {
            username: "DEMO".to_owned(),
            name: "Zo\u{eb} \"Q\" O\u{2019}Brien\\".to_owned(),
            email: "zoe@example.com".to_owned(),
            firm: "A&B <Law>\n\u{1}".to_owned(),
        };
        let id = SessionId::generate().expect("an id");
        let session = Session::new(
            id,
            Sid::new("x".to_owned()),
            profile,
            Duration::from_secs(60),
        );
        let expected = serde_json::to_string(&MeResponse {
            user: UserView::from(&session.profile),
            session: SessionView {
                id: session.id.as_str().to_owned(),
                created_at: session.created_at,
                expires_at: session.expires_at,
            },
            links: links::OF_ME.to_vec(),
        })
        .expect("JSON");
        let written = me_json(&session).expect("JSON");
        assert_eq!(String::from_utf8(written).expect("UTF-8"), expected);
    }
}
