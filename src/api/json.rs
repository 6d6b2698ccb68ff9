//! `ApiJson`: axum's `Json` with its rejections turned into our problem bodies, and
//! [`private_json`], the answer of the per-user read routes.

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::problem::ApiError;

/// A JSON request body; malformed or missing input becomes a 400/413/415 problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(from_rejection(&rejection)),
        }
    }
}

fn from_rejection(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::BadRequest(format!("malformed JSON: {}", rejection.body_text()))
        }
        JsonRejection::JsonDataError(_) => {
            ApiError::BadRequest(format!("invalid request body: {}", rejection.body_text()))
        }
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::BadRequest(rejection.body_text()),
    }
}

/// A 200 JSON answer marked `Cache-Control: no-store` (it is per user), serialized in
/// one pass into a buffer of `capacity` bytes, enough for the usual answer, so it is
/// not regrown on the way.
pub fn private_json<T: Serialize>(body: &T, capacity: usize) -> Response {
    match json_bytes(body, capacity) {
        Ok(bytes) => private_json_bytes(bytes),
        Err(e) => e.into_response(),
    }
}

/// An already serialized [`private_json`] answer.
pub fn private_json_bytes(body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    no_store(response)
}

/// Marks an answer `Cache-Control: no-store`: it is one user's, or live state, and no
/// shared cache may keep it.
pub fn no_store(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `body` as JSON, into a buffer of `capacity` bytes to start with.
pub fn json_bytes<T: Serialize>(body: &T, capacity: usize) -> Result<Bytes, ApiError> {
    let mut buffer = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut buffer, body)
        .map_err(|e| ApiError::Internal(format!("cannot encode the answer: {e}")))?;
    Ok(Bytes::from(buffer))
}
