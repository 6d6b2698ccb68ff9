//! `GET /documents`: the search's query, and its pages. Page one runs FINDFILES (a new
//! server-side list); a cursor's page re-sorts and pages the session's list for that
//! search with SORTFILES. An unknown or stale list re-runs the search and continues at
//! the cursor's offset (`restarted`); a list that goes stale again is 409. The skip
//! base (T3) is checked against the first row's `LN`.
//!
//! A search is one of a quick find (`q`), a full-text search (`text`), a raw Worldox
//! query (`wdq`) or structured filters (`description`, `file_name`, `field1`…`field7`,
//! `updated`, `created`, `accessed`), each optionally in one cabinet; an `offset`
//! starts the page elsewhere. The normalized search is what a cursor carries.

mod query;

use std::sync::Arc;

use super::super::auth::CurrentSession;
use super::super::problem::ApiError;
use super::super::state::AppState;
use crate::config::{DocumentsConfig, SkipBase};
use crate::documents::{DocId, ListKind, Page, SessionDocs};
use crate::upstream::documents::{DocumentPage, Find, SortBy, Window, full_text};
use crate::upstream::{self, Sid};

pub use query::{
    DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, MAX_QUERY_CHARS, SORTS, SearchQuery, Wanted,
};

/// The page `wanted` names, for `current`: shared with identical concurrent requests
/// of the session.
pub async fn page(
    state: &AppState,
    current: &CurrentSession,
    wanted: &Wanted,
) -> Result<Arc<Page>, ApiError> {
    let sid = &current.session.sid;
    let docs = state.documents().session(current.key, sid).await;
    let key = (
        wanted.search.fingerprint(),
        wanted.offset,
        wanted.search.limit,
        wanted.from_cursor,
    );
    let load = load(state, sid, &docs, wanted);
    match docs.page(key, load).await {
        Ok(page) => Ok(page),
        Err(error) => {
            Err(Box::pin(state.upstream_failure(Some(current.key), (*error).clone())).await)
        }
    }
}

/// Loads a page upstream.
async fn load(
    state: &AppState,
    sid: &Sid,
    docs: &SessionDocs,
    wanted: &Wanted,
) -> Result<Page, upstream::Error> {
    let config = state.documents_config();
    let search = &wanted.search;
    let fp = search.fingerprint();
    let sort = sort_by(config, &search.sort);
    // A cursor continues a list it expects; so does an offset into a search this
    // session has run. Page one without an offset runs the search afresh.
    let mut restarted = wanted.from_cursor;
    if wanted.from_cursor || wanted.offset > 0 {
        if let Some(list_id) = docs.search_list(fp) {
            match paged(state, sid, &list_id, sort, wanted).await {
                Ok(page) => return Ok(to_page(page, false)),
                Err(upstream::Error::Rejected(e)) if e.is_list_stale() => {
                    tracing::debug!("the search's list went stale; running the search again");
                    docs.forget(&list_id);
                    restarted = true;
                }
                Err(e) => return Err(e),
            }
        }
    }
    let text_query;
    let query = match (&search.q, &search.text, &search.wdq) {
        (Some(q), _, _) => q.as_str(),
        (None, Some(text), _) => {
            text_query = full_text(text);
            text_query.as_str()
        }
        (None, None, Some(wdq)) => wdq.as_str(),
        (None, None, None) => "",
    };
    let find = Find {
        query,
        cabinet: search.cabinet,
        sort,
        window: window(state, wanted.offset, search.limit),
    };
    let found = state
        .upstream()
        .find_filtered(sid, &config.list_template, &find, &search.filters)
        .await?;
    let list_id = found.list_id.clone();
    let rows: Vec<Arc<_>> = found.rows.iter().cloned().map(Arc::new).collect();
    docs.register(&list_id, ListKind::Search(fp), &rows, |row| {
        DocId::of_row(row.cabinet, &row.file_name).map(|id| id.to_string())
    });
    let found = if skip_mismatch(state, &found, wanted.offset) {
        // The first row is not the line asked for: the other base, once, on this list.
        match paged(state, sid, &list_id, sort, wanted).await {
            Err(upstream::Error::Rejected(e)) if e.is_list_stale() => {
                docs.forget(&list_id);
                return Err(upstream::Error::Rejected(e));
            }
            other => other?,
        }
    } else {
        found
    };
    Ok(to_page(found, restarted))
}

/// Whether the first row's `LN` says the upstream counts `skip` the other way; if
/// so (with `skip_base = auto`) the other way is recorded.
fn skip_mismatch(state: &AppState, page: &DocumentPage, offset: u64) -> bool {
    let Some(first) = page.rows.first() else {
        return false;
    };
    if u64::from(first.ln) == offset + 1 {
        return false;
    }
    switch_skip_base(state)
}

/// With `skip_base = auto`, records that the upstream counts `skip` the other way
/// (a row came back from another line than asked); `false` when the base is fixed.
pub(super) fn switch_skip_base(state: &AppState) -> bool {
    if state.documents_config().skip_base != SkipBase::Auto {
        return false;
    }
    let docs = state.documents();
    docs.set_zero_based(!docs.zero_based());
    tracing::info!(
        zero_based = docs.zero_based(),
        "the upstream counts skip the other way; switched"
    );
    true
}

/// SORTFILES on `list_id`.
async fn paged(
    state: &AppState,
    sid: &Sid,
    list_id: &str,
    sort: SortBy,
    wanted: &Wanted,
) -> Result<DocumentPage, upstream::Error> {
    let config = state.documents_config();
    let window = window(state, wanted.offset, wanted.search.limit);
    state
        .upstream()
        .sort_files(sid, &config.list_template, list_id, sort, window)
        .await
}

fn to_page(page: DocumentPage, restarted: bool) -> Page {
    Page {
        rows: page.rows.into_iter().map(Arc::new).collect(),
        total: page.total,
        restarted,
    }
}

/// `skip` and `take` of the page at `offset`.
pub(super) fn window(state: &AppState, offset: u64, limit: u32) -> Window {
    let zero = match state.documents_config().skip_base {
        SkipBase::Zero => true,
        SkipBase::One => false,
        SkipBase::Auto => state.documents().zero_based(),
    };
    Window {
        skip: if zero { offset } else { offset + 1 },
        take: limit,
    }
}

/// The sort key and direction of a sort name.
fn sort_by(config: &DocumentsConfig, sort: &str) -> SortBy {
    let (name, descending) = match sort.strip_prefix('-') {
        Some(name) => (name, true),
        None => (sort, false),
    };
    let keys = &config.sort_keys;
    let key = match name {
        "version" => keys.version,
        "size" => keys.size,
        "description" => keys.description,
        "doc_number" => keys.doc_number,
        _ => keys.updated,
    };
    SortBy { key, descending }
}
