//! The edge's part of content negotiation (`crate::api::negotiate` decides): a JSON
//! answer re-encoded as XML, `If-None-Match` read for the XML twin, and the headers a
//! negotiated answer carries (`Vary: Accept`, the `text/` spelling, the twin's tag).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::{Shared, State};
use crate::api::negotiate::{Decision, Format, Offer};
use crate::api::problem::{self, ApiError};
use crate::api::xml;

/// The state that re-encodes `response`'s JSON as XML for `offer`.
pub(super) fn reencoding<F>(
    response: Response,
    shared: Arc<Shared>,
    operation: usize,
    offer: &'static Offer,
    request_id: Option<&HeaderValue>,
) -> State<F> {
    let request_id = request_id
        .and_then(|id| id.to_str().ok())
        .map(str::to_owned);
    State::Rendering {
        render: Box::pin(reencode(response, shared, operation, offer, request_id)),
    }
}

/// `response`'s JSON body as XML, rooted and named as the operation's schema says; a
/// body that cannot be re-encoded is a 500 problem (in XML).
async fn reencode(
    response: Response,
    shared: Arc<Shared>,
    operation: usize,
    offer: &'static Offer,
    request_id: Option<String>,
) -> Response {
    let (mut parts, body) = response.into_parts();
    let negotiation = &shared.routes.negotiation;
    let (root, schema) = negotiation.answer(operation, parts.status.as_u16());
    let encoded = async {
        let json = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|e| e.to_string())?;
        if json.is_empty() {
            // A HEAD: no body to re-encode.
            return Ok(Bytes::new());
        }
        let value: serde_json::Value = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
        xml::to_xml(
            &value,
            root,
            None,
            schema,
            xml::Schemas(negotiation.schemas()),
        )
        .map(Bytes::from)
        .map_err(|e| e.to_string())
    }
    .await;
    match encoded {
        Ok(body) => {
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(offer.media_type),
            );
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(body))
        }
        Err(cause) => {
            let error = ApiError::Internal(format!("cannot write the answer as XML: {cause}"));
            problem::render(error.into_response(), request_id, Format::Xml).await
        }
    }
}

/// Whether `response` is a JSON answer of a handler (`application/json`).
pub(super) fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether `response` is a problem (of either format).
fn is_problem(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+"))
}

/// `If-None-Match` rewritten from the XML representation's tags to the JSON ones the
/// handler compares; a tag of the JSON representation is dropped (it cannot match the
/// XML one), and so is the field when nothing is left.
pub(super) fn json_validators(headers: &mut http::HeaderMap) {
    if !headers.contains_key(header::IF_NONE_MATCH) {
        return;
    }
    let tags: Vec<String> = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(xml::json_etag)
        .collect();
    headers.remove(header::IF_NONE_MATCH);
    if let Ok(value) = HeaderValue::from_str(&tags.join(", ")) {
        if !tags.is_empty() {
            headers.insert(header::IF_NONE_MATCH, value);
        }
    }
}

/// What the negotiation adds to a finished answer: `Vary: Accept` where `Accept` chose
/// the representation, the media type's `text/` spelling, and the XML twin's entity tag.
pub(super) fn negotiated(response: &mut Response, decision: Decision) {
    let vary = match decision {
        Decision::Untouched => false,
        Decision::ProblemsOnly { .. } => is_problem(response),
        Decision::Negotiated { offer, .. } => {
            if offer.format == Format::Json
                && offer.media_type != "application/json"
                && is_json(response)
            {
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(offer.media_type),
                );
            }
            if offer.format == Format::Xml {
                let tag = response
                    .headers()
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .and_then(xml::xml_etag)
                    .and_then(|t| HeaderValue::from_str(&t).ok());
                if let Some(tag) = tag {
                    response.headers_mut().insert(header::ETAG, tag);
                }
            }
            true
        }
        Decision::NotAcceptable { .. } => true,
    };
    if vary {
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("accept"));
    }
}
