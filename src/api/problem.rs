//! The gateway's one error type and its RFC 9457 bodies: `application/problem+json`, or
//! `application/problem+xml` in the RFC's namespace when the client prefers XML.
//!
//! A handler returns [`ApiError`]; its `IntoResponse` sets the status and headers and
//! parks a [`Problem`] in the response extensions. The edge ([`super::edge`]) calls [`render`]:
//! it adds the request id, logs the internal cause once, and writes the body, so
//! extractor rejections and fallbacks get the same treatment as handler errors.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::negotiate::{Format, Offer};
use super::xml;
use crate::upstream::fields::rc;
use crate::upstream::{self, envelope::UpstreamError};

/// The challenge on a 401 without a usable token.
const CHALLENGE: &str = "Bearer realm=\"wdgate\"";
/// The challenge on a 401 for a token that was presented but is no good (RFC 6750).
const INVALID_TOKEN: &str = "Bearer realm=\"wdgate\", error=\"invalid_token\"";

/// Everything that can go wrong in a request, each with the status it answers.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not valid JSON or misses a field.
    #[error("{0}")]
    BadRequest(String),
    /// 400: a search cursor that is malformed, tampered with, or signed under another key.
    #[error("{0}")]
    CursorInvalid(String),
    /// 401: no credentials were presented.
    #[error("authentication required")]
    MissingToken,
    /// 401: the token is unknown, malformed or expired.
    #[error("the token is invalid or expired")]
    InvalidToken,
    /// 403: the caller may not do this (a command the passthrough does not allow).
    #[error("{0}")]
    Forbidden(String),
    /// 403: a cookie-authenticated change from an origin that is not allowed.
    #[error("{0}")]
    CsrfRejected(String),
    /// 404: no such resource.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 408: the body did not arrive within `server.body_read_timeout_secs`.
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// 413: the body is larger than `server.body_limit_bytes`.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// 406: nothing the route offers is acceptable to the client's `Accept`.
    #[error("{}", not_acceptable_detail(.0))]
    NotAcceptable(&'static [Offer]),
    /// 415: the body is neither JSON nor XML (nor, where a route takes one, a form).
    #[error(
        "the request body must be JSON (application/json, text/json) or XML (application/xml, text/xml)"
    )]
    UnsupportedMediaType,
    /// 416: a `Range` that the file cannot satisfy.
    #[error("the requested range cannot be served")]
    RangeNotSatisfiable,
    /// 422: a value fails validation.
    #[error("{field}: {message}")]
    Validation {
        /// The JSON field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// 422: the `verification_id` is unknown, expired, another session's, or for
    /// another address.
    #[error("{0}")]
    VerificationInvalid(String),
    /// 409: the `verification_id` was used already; a new code is needed.
    #[error("this verification_id has already been used; request a new code")]
    VerificationUsed,
    /// 409: every attempt at the `verification_id` was a wrong code; a new code is
    /// needed.
    #[error("every attempt at this verification_id was a wrong code; request a new code")]
    VerificationSpent,
    /// 422: Worldox refused the access code; the verification stays usable while
    /// attempts are left.
    #[error("{}", code_invalid_detail(*.attempts_left))]
    CodeInvalid {
        /// Attempts left at this verification.
        attempts_left: u32,
        /// Worldox's refusal.
        error: UpstreamError,
    },
    /// 409: the address is already one of the user's devices.
    #[error("this address is already one of your devices")]
    DeviceExists,
    /// 4xx/5xx as the status table says: the upstream call failed.
    #[error("upstream call failed: {error}")]
    Upstream {
        /// Decided by [`crate::upstream::status::StatusTable::classify`] only.
        status: StatusCode,
        /// The failure.
        error: upstream::Error,
    },
    /// 429: too many login attempts; retry after the given seconds.
    #[error("{detail}")]
    TooManyRequests {
        /// Seconds until an attempt is allowed again (`Retry-After`).
        retry_after_secs: u64,
        /// What was limited.
        detail: String,
    },
    /// 429: this client has `server.max_concurrent_requests_per_ip` requests in flight.
    #[error("too many requests in flight from your address; retry shortly")]
    TooManyInFlight,
    /// 503: the gateway is at its concurrency limit; retry shortly.
    #[error("the gateway is overloaded; retry shortly")]
    Overloaded,
    /// 503: the session store cannot answer.
    #[error("the session store is unavailable")]
    StoreUnavailable(String),
    /// 504: the request took longer than `server.request_timeout_secs`.
    #[error("the request took too long")]
    RequestTimeout,
    /// 500: a bug or an OS failure; details are logged, not sent.
    #[error("internal error")]
    Internal(String),
}

/// An RFC 9457 problem body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the problem type.
    #[schema(value_type = String)]
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this request.
    pub detail: String,
    /// A stable machine-readable code.
    #[schema(value_type = String)]
    pub code: &'static str,
    /// The request id, also in the `x-request-id` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The upstream's error, when the upstream refused the call (never `wd_Error_VAL`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamDetail>,
    /// With `code_invalid`: the attempts left at the verification (0: it is spent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<u32>,
    /// With `not_acceptable`: the media types the route offers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub offered: Option<Vec<&'static str>>,
    /// A cause to log but not to send.
    #[serde(skip)]
    pub log_cause: Option<String>,
}

/// The upstream part of a problem body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UpstreamDetail {
    /// `wd_Error_RCID`.
    pub rcid: String,
    /// `wd_Error_RCTX`.
    pub rctx: String,
    /// The cleaned `wd_Error_MSG`.
    pub message: String,
}

impl From<&UpstreamError> for UpstreamDetail {
    fn from(e: &UpstreamError) -> Self {
        Self {
            rcid: e.rcid.clone(),
            rctx: e.rctx.clone(),
            message: e.message.clone(),
        }
    }
}

impl ApiError {
    /// The status this error answers.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::CursorInvalid(_) => StatusCode::BAD_REQUEST,
            Self::MissingToken | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::CsrfRejected(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation { .. } | Self::VerificationInvalid(_) | Self::CodeInvalid { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::VerificationUsed | Self::VerificationSpent | Self::DeviceExists => {
                StatusCode::CONFLICT
            }
            Self::Upstream { status, .. } => *status,
            Self::TooManyRequests { .. } | Self::TooManyInFlight => StatusCode::TOO_MANY_REQUESTS,
            Self::Overloaded | Self::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::RequestTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::CursorInvalid(_) => "cursor_invalid",
            Self::MissingToken => "missing_token",
            Self::InvalidToken => "invalid_token",
            Self::Forbidden(_) => "command_not_allowed",
            Self::CsrfRejected(_) => "csrf_rejected",
            Self::NotFound(_) => "not_found",
            Self::NotAcceptable(_) => "not_acceptable",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::BodyTimeout => "body_timeout",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RangeNotSatisfiable => "range_not_satisfiable",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Validation { .. } => "validation_failed",
            Self::VerificationInvalid(_) => "verification_invalid",
            Self::VerificationUsed => "verification_used",
            Self::VerificationSpent => "verification_spent",
            Self::CodeInvalid { .. } => "code_invalid",
            Self::DeviceExists => "device_exists",
            Self::Upstream { error, .. } => match error {
                upstream::Error::Rejected(e) if e.is_sid_invalid() => "session_expired",
                upstream::Error::Rejected(e) if e.rctx == rc::LOGON_USER_PASSWORD_INVALID.1 => {
                    "invalid_credentials"
                }
                upstream::Error::Rejected(e) if e.rctx == rc::FILE_ACCESS_DENIED.1 => {
                    "access_denied"
                }
                upstream::Error::Rejected(_) => "upstream_error",
                upstream::Error::Timeout(_) => "upstream_timeout",
                upstream::Error::Unreachable(_) => "upstream_unreachable",
                upstream::Error::CircuitOpen(_) | upstream::Error::Saturated => {
                    "upstream_unavailable"
                }
                upstream::Error::HttpStatus(_)
                | upstream::Error::TooLarge(_)
                | upstream::Error::Shape(_) => "upstream_bad_answer",
            },
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::TooManyInFlight => "too_many_in_flight",
            Self::Overloaded => "overloaded",
            Self::StoreUnavailable(_) => "store_unavailable",
            Self::RequestTimeout => "request_timeout",
            Self::Internal(_) => "internal_error",
        }
    }

    fn problem(&self) -> Problem {
        let status = self.status();
        let (detail, upstream, log_cause) = match self {
            Self::Upstream {
                error: upstream::Error::Rejected(e),
                ..
            } => (
                upstream_detail(self.code(), e),
                Some(UpstreamDetail::from(e)),
                None,
            ),
            Self::Upstream { error, .. } => (
                "The Worldox server did not give a usable answer.".to_owned(),
                None,
                Some(error.to_string()),
            ),
            Self::CodeInvalid { error, .. } => {
                (self.to_string(), Some(UpstreamDetail::from(error)), None)
            }
            Self::StoreUnavailable(cause) => (self.to_string(), None, Some(cause.clone())),
            Self::Internal(cause) => (
                "The gateway failed; the request id names the log entry.".to_owned(),
                None,
                Some(cause.clone()),
            ),
            _ => (self.to_string(), None, None),
        };
        Problem {
            kind: format!("urn:wdgate:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            code: self.code(),
            request_id: None,
            upstream,
            attempts_left: match self {
                Self::CodeInvalid { attempts_left, .. } => Some(*attempts_left),
                _ => None,
            },
            offered: match self {
                Self::NotAcceptable(offers) => Some(offers.iter().map(|o| o.media_type).collect()),
                _ => None,
            },
            log_cause,
        }
    }
}

/// The detail of a 406: what the route offers.
fn not_acceptable_detail(offers: &[Offer]) -> String {
    let offered: Vec<&str> = offers.iter().map(|o| o.media_type).collect();
    format!(
        "none of the media types this route offers is acceptable (Accept); it offers {}",
        offered.join(", ")
    )
}

/// The detail of a wrong code: what is left to try.
fn code_invalid_detail(attempts_left: u32) -> String {
    match attempts_left {
        0 => "The code is wrong, and no attempts are left; request a new code.".to_owned(),
        1 => "The code is wrong; 1 attempt is left.".to_owned(),
        n => format!("The code is wrong; {n} attempts are left."),
    }
}

/// A sentence for an upstream refusal: ours for the codes a client must act on, else
/// the upstream's cleaned message when it is more than the bare code.
fn upstream_detail(code: &str, e: &UpstreamError) -> String {
    match code {
        "invalid_credentials" => "Wrong username or password.".to_owned(),
        "session_expired" => "The Worldox session has expired; log in again.".to_owned(),
        _ if !e.message.is_empty() && e.message != e.rctx => e.message.clone(),
        _ => format!("The Worldox server refused the request ({}).", e.rctx),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        let headers = response.headers_mut();
        match &self {
            Self::InvalidToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(INVALID_TOKEN),
                );
            }
            Self::Upstream {
                error: upstream::Error::Rejected(e),
                ..
            } if e.is_sid_invalid() => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(INVALID_TOKEN),
                );
            }
            _ if self.status() == StatusCode::UNAUTHORIZED => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(CHALLENGE),
                );
            }
            Self::StoreUnavailable(_) | Self::Overloaded | Self::TooManyInFlight => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::Upstream {
                error: upstream::Error::CircuitOpen(wait),
                ..
            } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(wait.as_secs().max(1)),
                );
            }
            Self::Upstream {
                error: upstream::Error::Saturated,
                ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::TooManyRequests {
                retry_after_secs, ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        response.extensions_mut().insert(self.problem());
        response
    }
}

/// Whether `response` is a problem still to be written: an [`ApiError`]'s, or an
/// error that axum or a tower layer answered on its own (a bare status, or an
/// extractor's text/plain rejection such as a malformed query).
pub fn needs_rendering(response: &Response) -> bool {
    response.extensions().get::<Problem>().is_some() || is_foreign_error(response)
}

/// Writes the body of a problem response with the request id, as JSON or (with
/// `Format::Xml`) as RFC 9457 XML, and logs its internal cause once. The edge calls it
/// for every answer [`needs_rendering`] picks out.
pub async fn render(
    mut response: Response,
    request_id: Option<String>,
    format: Format,
) -> Response {
    let mut problem = match response.extensions_mut().remove::<Problem>() {
        Some(problem) => problem,
        None => {
            let (parts, body) = response.into_parts();
            let text = rejection_text(&parts, body).await;
            let problem = bare_problem(parts.status, text);
            response = Response::from_parts(parts, axum::body::Body::empty());
            problem
        }
    };
    problem.request_id = request_id;
    if let Some(cause) = &problem.log_cause {
        if problem.status >= 500 {
            tracing::warn!(status = problem.status, code = problem.code, cause = %cause, "request failed");
        } else {
            tracing::info!(status = problem.status, code = problem.code, cause = %cause, "request refused");
        }
    }
    let (body, content_type) = match format {
        Format::Xml => match problem_xml(&problem) {
            Ok(body) => (body, "application/problem+xml"),
            Err(e) => {
                tracing::warn!(error = %e, "a problem could not be written as XML");
                (
                    serde_json::to_vec(&problem).unwrap_or_default(),
                    PROBLEM_JSON,
                )
            }
        },
        Format::Json => (
            serde_json::to_vec(&problem).unwrap_or_default(),
            PROBLEM_JSON,
        ),
    };
    let (mut parts, _) = response.into_parts();
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

const PROBLEM_JSON: &str = "application/problem+json";

/// `problem` as RFC 9457 XML: `<problem xmlns="urn:ietf:rfc:7807">`, a child element per
/// member.
fn problem_xml(problem: &Problem) -> std::io::Result<Vec<u8>> {
    let value = serde_json::to_value(problem).map_err(std::io::Error::other)?;
    let none = serde_json::Map::new();
    xml::to_xml(
        &value,
        "problem",
        Some(xml::PROBLEM_NAMESPACE),
        None,
        xml::Schemas(&none),
    )
}

fn is_foreign_error(response: &Response) -> bool {
    let status = response.status();
    // The status first: every answer comes here, and most are not errors.
    (status.is_client_error() || status.is_server_error())
        && !response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| {
                v.as_bytes().starts_with(b"application/problem+json")
                    || v.as_bytes().starts_with(b"application/problem+xml")
            })
}

/// An axum rejection's plain-text reason, for a 4xx's detail (never a 5xx's).
async fn rejection_text(parts: &http::response::Parts, body: axum::body::Body) -> Option<String> {
    let plain = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    if !plain || !parts.status.is_client_error() {
        return None;
    }
    let bytes = axum::body::to_bytes(body, 1024).await.ok()?;
    Some(String::from_utf8_lossy(&bytes).trim().to_owned()).filter(|t| !t.is_empty())
}

fn bare_problem(status: StatusCode, text: Option<String>) -> Problem {
    let error = match status {
        StatusCode::BAD_REQUEST => {
            ApiError::BadRequest(text.unwrap_or_else(|| "malformed request".to_owned()))
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::NOT_ACCEPTABLE => ApiError::NotAcceptable(super::negotiate::BOTH),
        StatusCode::RANGE_NOT_SATISFIABLE => ApiError::RangeNotSatisfiable,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::NOT_FOUND => ApiError::NotFound("no such route".to_owned()),
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => ApiError::RequestTimeout,
        _ => ApiError::Internal(format!("unhandled status {status}")),
    };
    let mut problem = error.problem();
    problem.status = status.as_u16();
    problem
}
