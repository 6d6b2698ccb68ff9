//! `/documents` and `/cabinets`: search with signed cursors, and the cabinets a user
//! sees. Each handler reads as its phases: authenticate (extractor) → validate →
//! call Worldox (through the session's lists) → translate to an allow-listed view.

pub mod cabinets;
pub mod content;
pub mod document;
pub mod resolve;
pub mod search;
pub mod versions;
pub mod view;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;

use self::search::SearchQuery;
use self::view::{DOCUMENTS, DocumentList, DocumentView, link};
use super::auth::CurrentSession;
use super::json::private_json;
use super::openapi::problems;
use super::problem::ApiError;
use super::state::AppState;
use crate::documents::{DocId, Search};

/// `GET /documents`: a page of a search.
#[utoipa::path(
    get,
    path = "/documents",
    operation_id = "searchDocuments",
    tag = "documents",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(SearchQuery),
    responses(
        (status = 200, description = "A page of the documents found.", body = DocumentList, headers(
            ("link" = String, description = "RFC 8288 `next` and `prev` links, as in `_links`"),
        )),
        problems::SearchDocuments,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    current: CurrentSession,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query: SearchQuery = serde_urlencoded::from_str(raw.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::BadRequest(format!("invalid query: {e}")))?;
    let wanted = query.wanted(&state)?;
    let page = search::page(&state, &current, &wanted).await?;
    let cabinets = state.documents().cached_cabinets(current.key).await;
    let cabinet_name = |id: u32| {
        cabinets
            .as_ref()
            .and_then(|all| all.iter().find(|c| c.id == id))
            .map(|c| c.name.as_str())
    };
    let documents: Vec<DocumentView> = page
        .rows
        .iter()
        .filter_map(|row| {
            let id = DocId::of_row(row.cabinet, &row.file_name)?;
            Some(DocumentView::new(&id, row, true, cabinet_name(id.cabinet)))
        })
        .collect();
    let search = &wanted.search;
    let keys = state.documents().cursors();
    let shown = page.rows.len() as u64;
    let next_off = wanted.offset + u64::from(search.limit);
    let next_cursor =
        (shown > 0 && wanted.offset + shown < page.total).then(|| keys.seal(search, next_off));
    let self_href = if wanted.from_cursor {
        cursor_href(&keys.seal(search, wanted.offset))
    } else {
        first_href(search, wanted.offset)
    };
    let mut links = vec![link("self", &self_href, "GET", "This page")];
    let mut link_header = Vec::new();
    if let Some(cursor) = &next_cursor {
        let href = cursor_href(cursor);
        link_header.push(format!("<{href}>; rel=\"next\""));
        links.push(link("next", &href, "GET", "The next page"));
    }
    if wanted.offset > 0 {
        let prev = wanted.offset.saturating_sub(u64::from(search.limit));
        let href = cursor_href(&keys.seal(search, prev));
        link_header.push(format!("<{href}>; rel=\"prev\""));
        links.push(link("prev", &href, "GET", "The previous page"));
    }
    let body = DocumentList {
        documents,
        total: page.total,
        offset: wanted.offset,
        limit: search.limit,
        complete_fields: false,
        restarted: page.restarted,
        next_cursor,
        links,
    };
    let mut response = private_json(&body, 1024 + 1536 * page.rows.len());
    if let Ok(value) = HeaderValue::from_str(&link_header.join(", ")) {
        if !link_header.is_empty() {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

fn cursor_href(cursor: &str) -> String {
    format!("{DOCUMENTS}?cursor={cursor}")
}

/// The link of the page at `offset` of `search`, in the search's own parameters.
fn first_href(search: &Search, offset: u64) -> String {
    let mut params: Vec<(&str, String)> = Vec::new();
    for (name, value) in [
        ("q", &search.q),
        ("text", &search.text),
        ("wdq", &search.wdq),
    ] {
        if let Some(value) = value {
            params.push((name, value.clone()));
        }
    }
    for (filter, value) in &search.filters {
        params.push((filter.name(), value.clone()));
    }
    if let Some(c) = search.cabinet {
        params.push(("cabinet", c.to_string()));
    }
    params.push(("sort", search.sort.clone()));
    params.push(("limit", search.limit.to_string()));
    if offset > 0 {
        params.push(("offset", offset.to_string()));
    }
    let query = serde_urlencoded::to_string(&params).unwrap_or_default();
    format!("{DOCUMENTS}?{query}")
}
