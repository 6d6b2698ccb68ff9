//! `GET|HEAD /documents/{id}`: one document, from the row a recent search showed (its
//! locator), else found afresh with a targeted FINDFILES (`?D {docnum}` under
//! `?G {cabinet}`), accepting only the row whose `FN` stem and cabinet are the id's.
//! A strong `ETag` (profile and content state) and 304 on `If-None-Match`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::super::auth::CurrentSession;
use super::super::json::json_bytes;
use super::super::openapi::problems;
use super::super::problem::ApiError;
use super::super::state::AppState;
use super::search::window;
use super::view::DocumentView;
use crate::documents::representation::etag;
use crate::documents::{DocId, ListKind, Page, SessionDocs};
use crate::upstream::documents::{DocumentRow, Find, SortBy};
use crate::upstream::{self, Sid};

/// Rows a lookup asks for: the DOCID search may also match descriptions.
const LOOKUP_TAKE: u32 = 50;

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
        )),
        (status = 304, description = "The document still has the `If-None-Match` ETag.", headers(
            ("etag" = String, description = "The current ETag"),
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
    let max_age = Duration::from_secs(state.documents_config().reread_after_secs);
    let row = match docs.row(&id, max_age) {
        Some(row) => {
            crate::metrics::document_resolve("locator", "found");
            row
        }
        None => {
            let key: [u8; 32] = Sha256::digest(format!("document {id}")).into();
            let found = docs
                .page((key, 0, 0, false), lookup(&state, sid, &docs, &doc))
                .await;
            match found {
                Ok(page) => match page.rows.first() {
                    Some(row) => row.clone(),
                    None => return Err(no_such_document()),
                },
                Err(e) => {
                    return Err(
                        Box::pin(state.upstream_failure(Some(current.key), (*e).clone())).await,
                    );
                }
            }
        }
    };
    let tag = etag(&row);
    let tag_value = HeaderValue::from_str(&tag).map_err(|e| ApiError::Internal(e.to_string()))?;
    if matches(&headers, &tag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(header::ETAG, tag_value);
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
        return Ok(response);
    }
    let cabinets = state.documents().cached_cabinets(current.key).await;
    let cabinet_name = cabinets
        .as_ref()
        .and_then(|all| all.iter().find(|c| c.id == doc.cabinet))
        .map(|c| c.name.as_str());
    let body = json_bytes(&DocumentView::new(&doc, &row, false, cabinet_name), 2048)?;
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
    Ok(response)
}

/// The targeted search; the list is kept (a lookup) when it found the document.
pub(super) async fn lookup(
    state: &AppState,
    sid: &Sid,
    docs: &SessionDocs,
    doc: &DocId,
) -> Result<Page, upstream::Error> {
    let config = state.documents_config();
    let query = format!("?D {}", doc.docnum);
    let find = Find {
        query: &query,
        cabinet: Some(doc.cabinet),
        sort: SortBy {
            key: config.sort_keys.updated,
            descending: true,
        },
        window: window(state, 0, LOOKUP_TAKE),
    };
    let found = match state
        .upstream()
        .find_files(sid, &config.list_template, &find)
        .await
    {
        Ok(found) => found,
        Err(e) => {
            crate::metrics::document_resolve("search", "error");
            return Err(e);
        }
    };
    // Never trust the search to be exact: only the id's own row counts.
    let row: Option<Arc<DocumentRow>> = found
        .rows
        .iter()
        .find(|r| r.cabinet == doc.cabinet && doc.is_file(&r.file_name))
        .cloned()
        .map(Arc::new);
    match &row {
        Some(row) => {
            docs.register(
                &found.list_id,
                ListKind::Lookup,
                std::slice::from_ref(row),
                |r| DocId::of_row(r.cabinet, &r.file_name).map(|id| id.to_string()),
            );
            crate::metrics::document_resolve("search", "found");
        }
        None => {
            docs.discard(&found.list_id);
            crate::metrics::document_resolve("search", "not_found");
        }
    }
    Ok(Page {
        rows: row.into_iter().collect(),
        total: 1,
        restarted: false,
    })
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
