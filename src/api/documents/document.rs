//! `GET|HEAD /documents/{id}`: one document, resolved as `resolve.rs` says (its
//! locator, reread when not recent, else a targeted search in its cabinet and then in
//! all). A strong `ETag` (profile and content state) and 304 on `If-None-Match`; a
//! document found in another cabinet answers with its canonical id and
//! `Content-Location`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::super::auth::CurrentSession;
use super::super::json::json_bytes;
use super::super::openapi::problems;
use super::super::problem::ApiError;
use super::super::state::AppState;
use super::resolve::{self, Need};
use super::view::DocumentView;
use crate::documents::DocId;
use crate::documents::representation::etag;

/// `GET|HEAD /documents/{id}` (the router answers HEAD as GET without the body; the
/// document names the GET).
#[utoipa::path(
    get,
    path = "/documents/{id}",
    operation_id = "getDocument",
    tag = "documents",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(
        ("id" = String, Path, description = "A document id (`doc_{cabinet}_{doc_number}`)"),
        ("if-none-match" = Option<String>, Header, description = "An `ETag` of this document: 304 if it still holds"),
    ),
    responses(
        (status = 200, description = "The document.", body = DocumentView, headers(
            ("etag" = String, description = "Strong; changes with the profile or content, not with reads"),
            ("content-location" = String, description = "`/documents/{canonical id}` when the document was asked for by an id it no longer has (it moved to another cabinet); the body's `id` is the canonical one"),
        )),
        (status = 304, description = "The document still has the `If-None-Match` ETag.", headers(
            ("etag" = String, description = "The current ETag"),
            ("content-location" = String, description = "As for 200"),
        )),
        problems::GetDocument,
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let doc = DocId::parse(&id).ok_or_else(no_such_document)?;
    let sid = &current.session.sid;
    let docs = state.documents().session(current.key, sid).await;
    let resolved = resolve::document(&state, &current, &docs, &doc, Need::Profile).await?;
    let row = &resolved.row;
    let tag = etag(row);
    let tag_value = HeaderValue::from_str(&tag).map_err(|e| ApiError::Internal(e.to_string()))?;
    if matches(&headers, &tag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        let h = response.headers_mut();
        h.insert(header::ETAG, tag_value);
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
        resolved.content_location(&doc, "", h);
        return Ok(response);
    }
    let canonical = &resolved.canonical;
    let cabinets = state.documents().cached_cabinets(current.key).await;
    let cabinet_name = cabinets
        .as_ref()
        .and_then(|all| all.iter().find(|c| c.id == canonical.cabinet))
        .map(|c| c.name.as_str());
    let body = json_bytes(
        &DocumentView::new(canonical, row, false, cabinet_name),
        2048,
    )?;
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    h.insert(header::ETAG, tag_value);
    resolved.content_location(&doc, "", h);
    Ok(response)
}

/// Whether `If-None-Match` names `tag` (or is `*`); weak comparison, as RFC 9110 says
/// for `If-None-Match`.
pub(super) fn matches(headers: &HeaderMap, tag: &str) -> bool {
    let bare = tag.trim_start_matches("W/");
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == bare)
}

pub(super) fn no_such_document() -> ApiError {
    ApiError::NotFound("no such document".to_owned())
}
