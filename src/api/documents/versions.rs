//! `GET /documents/{id}/versions`, `…/versions/{n}` and `…/versions/{n}/content`: a
//! document's versions from VERLIST (a new server-side list, held in the session's
//! registry in place of the document's previous version list, closed when it is
//! crowded out or expires), each version's row addressable for DOWNLOAD.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::super::auth::CurrentSession;
use super::super::devices::view::Link;
use super::super::json::private_json;
use super::super::openapi::problems;
use super::super::problem::ApiError;
use super::super::state::AppState;
use super::content::{self, ContentHeaders, Target, locate, version_key};
use super::document::no_such_document;
use super::resolve::Resolved;
use super::search::window;
use super::view::{DOCUMENTS, link};
use crate::documents::representation::timestamp;
use crate::documents::{DocId, ListKind, SessionDocs};
use crate::upstream::documents::{DocumentRow, RowPlace, SortBy};
use crate::upstream::{self, Sid};

/// Versions one VERLIST answers (the real client asks for 256).
const VERSIONS_TAKE: u32 = 256;

/// One version of a document.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    /// The version number (`VER`).
    pub n: u32,
    /// The version's long name (`Name`).
    pub name: Option<String>,
    /// The size as Worldox displays it (`SZ`, e.g. `8.6 KB`).
    pub size_text: Option<String>,
    /// When the version was last updated (RFC 3339).
    pub updated_at: Option<String>,
    /// Whether it is the document's current version.
    pub current: bool,
    /// `self` and `content`.
    #[serde(rename = "_links")]
    pub links: Vec<Link>,
}

/// `GET /documents/{id}/versions` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    /// The versions, newest first.
    pub versions: Vec<VersionView>,
    /// `self` and `document`.
    #[serde(rename = "_links")]
    pub links: Vec<Link>,
}

/// `GET /documents/{id}/versions`.
#[utoipa::path(
    get,
    path = "/documents/{id}/versions",
    operation_id = "listDocumentVersions",
    tag = "documents",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = String, Path, description = "A document id (`doc_{cabinet}_{doc_number}`)")),
    responses(
        (status = 200, description = "The document's versions, newest first.", body = VersionList, headers(
            ("content-location" = String, description = "`/documents/{canonical id}/versions` when the document was asked for by an id it no longer has (it moved to another cabinet)"),
        )),
        problems::GetDocumentVersions,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let doc = DocId::parse(&id).ok_or_else(no_such_document)?;
    let docs = state
        .documents()
        .session(current.key, &current.session.sid)
        .await;
    let document = locate(&state, &current, &docs, &doc, Target::Current, false).await?;
    let rows = load(&state, &current, &docs, &doc, &document).await?;
    let current_n = current_version(&document.row, &rows);
    let canonical = &document.canonical;
    let href = format!("{DOCUMENTS}/{canonical}");
    let body = VersionList {
        versions: rows
            .iter()
            .filter_map(|row| view(canonical, row, current_n))
            .collect(),
        links: vec![
            link("self", &format!("{href}/versions"), "GET", "This list"),
            link("document", &href, "GET", "The document"),
        ],
    };
    let mut response = private_json(&body, 512 + 512 * rows.len());
    document.content_location(&doc, "/versions", response.headers_mut());
    Ok(response)
}

/// `GET /documents/{id}/versions/{n}`.
#[utoipa::path(
    get,
    path = "/documents/{id}/versions/{n}",
    operation_id = "getDocumentVersion",
    tag = "documents",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(
        ("id" = String, Path, description = "A document id (`doc_{cabinet}_{doc_number}`)"),
        ("n" = u32, Path, description = "A version number"),
    ),
    responses(
        (status = 200, description = "The version.", body = VersionView, headers(
            ("content-location" = String, description = "`/documents/{canonical id}/versions/{n}` when the document was asked for by an id it no longer has (it moved to another cabinet)"),
        )),
        problems::GetDocumentVersions,
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    current: CurrentSession,
    Path((id, n)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let doc = DocId::parse(&id).ok_or_else(no_such_document)?;
    let n = version_number(&n)?;
    let docs = state
        .documents()
        .session(current.key, &current.session.sid)
        .await;
    let document = locate(&state, &current, &docs, &doc, Target::Current, false).await?;
    let rows = load(&state, &current, &docs, &doc, &document).await?;
    let current_n = current_version(&document.row, &rows);
    let found = rows
        .iter()
        .filter_map(|row| view(&document.canonical, row, current_n))
        .find(|v| v.n == n)
        .ok_or_else(no_such_version)?;
    let mut response = private_json(&found, 512);
    document.content_location(&doc, &format!("/versions/{n}"), response.headers_mut());
    Ok(response)
}

/// `GET|HEAD /documents/{id}/versions/{n}/content`.
#[utoipa::path(
    get,
    path = "/documents/{id}/versions/{n}/content",
    operation_id = "getDocumentVersionContent",
    tag = "documents",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(
        ("id" = String, Path, description = "A document id (`doc_{cabinet}_{doc_number}`)"),
        ("n" = u32, Path, description = "A version number"),
        ContentHeaders,
    ),
    responses(
        (status = 200, description = "The version's bytes, streamed.", content_type = "*/*", body = Vec<u8>, headers(
            ("etag" = String, description = "Strong content ETag of the version"),
            ("last-modified" = String, description = "The version's update time"),
            ("content-length" = u64, description = "The file's length, when the file server sent it"),
            ("accept-ranges" = String, description = "`bytes` when ranges are served"),
            ("content-disposition" = String, description = "RFC 6266 `attachment` with an ASCII `filename` and a UTF-8 `filename*`"),
            ("content-location" = String, description = "`/documents/{canonical id}/versions/{n}/content` when the document was asked for by an id it no longer has (it moved to another cabinet)"),
        )),
        (status = 206, description = "The range asked for.", content_type = "*/*", body = Vec<u8>, headers(
            ("content-range" = String, description = "The range sent, of the whole length"),
            ("etag" = String, description = "The content ETag"),
            ("content-disposition" = String, description = "As for 200"),
            ("content-location" = String, description = "As for 200"),
        )),
        (status = 304, description = "The content still has the `If-None-Match` ETag.", headers(
            ("etag" = String, description = "The current content ETag"),
            ("content-location" = String, description = "As for 200"),
        )),
        problems::GetDocumentContent,
    ),
)]
pub async fn content(
    State(state): State<AppState>,
    current: CurrentSession,
    Path((id, n)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let n = version_number(&n)?;
    content::serve(&state, &current, &id, Target::Version(n), &method, &headers).await
}

/// The document's current version: its row's `VER` when the row carries it, else the
/// highest version VERLIST listed.
fn current_version(document: &DocumentRow, rows: &[Arc<DocumentRow>]) -> Option<u32> {
    document
        .version
        .number()
        .or_else(|| rows.iter().filter_map(|r| r.version.number()).max())
}

fn version_number(text: &str) -> Result<u32, ApiError> {
    text.parse()
        .ok()
        .filter(|n| (1..=9999).contains(n))
        .ok_or_else(no_such_version)
}

fn no_such_version() -> ApiError {
    ApiError::NotFound("no such version".to_owned())
}

/// The view of a version row.
fn view(doc: &DocId, row: &DocumentRow, current: Option<u32>) -> Option<VersionView> {
    let n = row.version.number::<u32>()?;
    let href = format!("{DOCUMENTS}/{doc}/versions/{n}");
    Some(VersionView {
        n,
        name: row.name.text().map(str::to_owned),
        size_text: row.size_text.text().map(str::to_owned),
        updated_at: row.updated.number().and_then(timestamp),
        current: current == Some(n),
        links: vec![
            link("self", &href, "GET", "This version"),
            link(
                "content",
                &format!("{href}/content"),
                "GET",
                "This version's bytes",
            ),
        ],
    })
}

/// VERLIST on the document's row (found again once if its list went stale): the
/// version rows, their list registered in place of the document's previous version
/// list, with a locator per version.
pub(super) async fn load(
    state: &AppState,
    current: &CurrentSession,
    docs: &SessionDocs,
    doc: &DocId,
    document: &Resolved,
) -> Result<Vec<Arc<DocumentRow>>, ApiError> {
    let sid = &current.session.sid;
    let (mut list_id, mut row) = (document.list_id.clone(), document.row.clone());
    let mut found_again = document.stale_seen;
    loop {
        match verlist(state, sid, &list_id, &row).await {
            Ok(page) => {
                let id = doc.to_string();
                let rows: Vec<Arc<DocumentRow>> = page.rows.into_iter().map(Arc::new).collect();
                let fp: [u8; 32] = Sha256::digest(format!("versions {id}")).into();
                docs.register(&page.list_id, ListKind::Versions(fp), &rows, |r| {
                    r.version.number::<u32>().map(|n| version_key(&id, n))
                });
                return Ok(rows);
            }
            Err(upstream::Error::Rejected(e)) if e.rctx.starts_with("WDRC_LISTID_") => {
                docs.forget(&list_id);
                if found_again {
                    return Err(ApiError::Upstream {
                        status: axum::http::StatusCode::CONFLICT,
                        error: upstream::Error::Rejected(e),
                    });
                }
                found_again = true;
                let found =
                    Box::pin(locate(state, current, docs, doc, Target::Current, true)).await?;
                (list_id, row) = (found.list_id, found.row);
            }
            Err(e) => return Err(Box::pin(state.upstream_failure(Some(current.key), e)).await),
        }
    }
}

async fn verlist(
    state: &AppState,
    sid: &Sid,
    list_id: &str,
    row: &DocumentRow,
) -> Result<crate::upstream::documents::DocumentPage, upstream::Error> {
    let config = state.documents_config();
    state
        .upstream()
        .list_versions(
            sid,
            &config.list_template,
            RowPlace {
                list_id,
                rn: row.rn,
                ln: row.ln,
            },
            SortBy {
                key: config.sort_keys.version,
                descending: true,
            },
            window(state, 0, VERSIONS_TAKE),
        )
        .await
}
