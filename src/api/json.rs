//! Request bodies and JSON answers: `ApiJson`, a JSON or XML body (by its content type,
//! parsed as RFC 9110 says) read into one type, its rejections turned into our problem
//! bodies;
//! [`BodyType`] and [`body_bytes`] for the routes that take other bodies too; and
//! [`private_json`], the answer of the per-user read routes.

use std::error::Error;

use axum::body::Body;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use mediatype::MediaType;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::edge::BodyTimeout;
use super::problem::ApiError;

/// A request body in JSON or in XML (see [`super::xml`]) read into `T`; malformed or
/// missing input becomes a 400/408/413/415 problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match BodyType::of(req.headers()) {
            BodyType::Json => {
                let bytes = body_bytes(req, state).await?;
                match axum::Json::<T>::from_bytes(&bytes) {
                    Ok(axum::Json(value)) => Ok(Self(value)),
                    Err(rejection) => Err(from_rejection(&rejection)),
                }
            }
            BodyType::Xml => {
                let bytes = body_bytes(req, state).await?;
                super::xml::from_xml(&bytes)
                    .map(Self)
                    .map_err(ApiError::BadRequest)
            }
            _ => Err(ApiError::UnsupportedMediaType),
        }
    }
}

/// What a request's `Content-Type` says its body is, parsed as RFC 9110 §8.3 says:
/// type and subtype in any case, optional whitespace around `;`, parameters (quoted
/// or not) allowed and not needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyType {
    /// No `Content-Type`.
    Missing,
    /// `application/json`, `text/json`, or a `+json` type
    /// (`application/merge-patch+json`).
    Json,
    /// `application/xml`, `text/xml`, or a `+xml` type.
    Xml,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// Anything else, or a `Content-Type` that is not a media type.
    Other,
}

impl BodyType {
    /// The body type `headers` announce.
    pub fn of(headers: &HeaderMap) -> Self {
        let mut values = headers.get_all(header::CONTENT_TYPE).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return if headers.contains_key(header::CONTENT_TYPE) {
                Self::Other
            } else {
                Self::Missing
            };
        };
        let Some(media) = value
            .to_str()
            .ok()
            .and_then(|text| MediaType::parse(text.trim()).ok())
        else {
            return Self::Other;
        };
        let text = media.ty == "text";
        if media.ty != "application" && !text {
            Self::Other
        } else if media.subty == "json" && media.suffix.is_none()
            || !text && media.suffix.is_some_and(|s| s == "json")
        {
            Self::Json
        } else if media.subty == "xml" && media.suffix.is_none()
            || !text && media.suffix.is_some_and(|s| s == "xml")
        {
            Self::Xml
        } else if text {
            Self::Other
        } else if media.subty == "x-www-form-urlencoded" && media.suffix.is_none() {
            Self::Form
        } else {
            Self::Other
        }
    }
}

/// The whole request body within `server.body_limit_bytes` (413 above) and
/// `server.body_read_timeout_secs` (408 after).
pub async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        let BytesRejection::FailedToBufferBody(failed) = &rejection else {
            return ApiError::BadRequest(rejection.body_text());
        };
        match failed {
            FailedToBufferBody::LengthLimitError(_) => ApiError::PayloadTooLarge,
            failed if BodyTimeout::caused(failed as &(dyn Error + 'static)) => {
                ApiError::BodyTimeout
            }
            _ => ApiError::BadRequest("the request body could not be read".to_owned()),
        }
    })
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

/// Writes `text` as a JSON string, byte for byte as serde_json writes it. Text with
/// nothing to escape (no control character, quote or backslash: a name, an email, an
/// id) is copied whole; serde_json looks each byte up in its escape table as it copies
/// it, which was most of `GET /me`'s answer (bench/results.md).
pub fn write_str(out: &mut Vec<u8>, text: &str) -> Result<(), serde_json::Error> {
    // A fold, not `any`: it has no early exit, so it is done sixteen bytes at a time.
    let plain = text.bytes().fold(true, |plain, b| {
        plain & (b >= 0x20 && b != b'"' && b != b'\\')
    });
    if !plain {
        return serde_json::to_writer(out, text);
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
    Ok(())
}

/// Writes `n` as a JSON number.
pub fn write_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any text, and any number, is written as serde_json writes it.
        #[test]
        fn strings_and_numbers_are_written_as_serde_json_writes_them(
            text in "(?s).{0,40}|[\\x00-\\x7f]{0,40}",
            n: u64,
        ) {
            let mut out = Vec::new();
            write_str(&mut out, &text).expect("JSON");
            proptest::prop_assert_eq!(out, serde_json::to_vec(&text).expect("JSON"));
            let mut out = Vec::new();
            write_u64(&mut out, n);
            proptest::prop_assert_eq!(out, serde_json::to_vec(&n).expect("JSON"));
        }
    }

    #[test]
    fn escaped_and_plain_strings_are_written_as_serde_json_writes_them() {
        for text in [
            "",
            "Demo User",
            "a\"b",
            "back\\slash",
            "line\nbreak",
            "\u{1}\u{1f}",
            "caf\u{e9} \u{2019}",
            "\u{7f}",
        ] {
            let mut out = Vec::new();
            write_str(&mut out, text).expect("JSON");
            assert_eq!(out, serde_json::to_vec(text).expect("JSON"), "{text:?}");
        }
    }

    fn body_type(content_type: &str) -> BodyType {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).expect("a header value"),
        );
        BodyType::of(&headers)
    }

    #[test]
    fn media_types_are_parsed_as_rfc_9110_says() {
        for json in [
            "application/json",
            "application/json; charset=utf-8",
            "application/json ; charset=utf-8",
            "application/json;charset=utf-8",
            "Application/JSON;charset=\"utf-8\"",
            "application/json;\tcharset=UTF-8 ",
            "application/merge-patch+json",
            "text/json",
            "Text/JSON; charset=utf-8",
        ] {
            assert_eq!(body_type(json), BodyType::Json, "{json:?}");
        }
        for xml in [
            "application/xml",
            "text/xml",
            "TEXT/XML ; charset=\"utf-8\"",
            "application/merge-patch+xml",
            "application/problem+xml",
        ] {
            assert_eq!(body_type(xml), BodyType::Xml, "{xml:?}");
        }
        for form in [
            "application/x-www-form-urlencoded",
            "APPLICATION/X-WWW-FORM-URLENCODED ; charset=utf-8",
        ] {
            assert_eq!(body_type(form), BodyType::Form, "{form:?}");
        }
        for other in [
            "application/jsonx",
            "text/jsonx",
            "text/plain",
            "text/x-www-form-urlencoded",
            "text/merge-patch+json",
            "application/xmlx",
            "application/json garbage",
            "application/json; charset",
            "application/x-www-form-urlencodedx",
            "json",
            "",
        ] {
            assert_eq!(body_type(other), BodyType::Other, "{other:?}");
        }
        assert_eq!(BodyType::of(&HeaderMap::new()), BodyType::Missing);
    }
}
