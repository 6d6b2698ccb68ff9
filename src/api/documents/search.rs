//! `GET /documents`: the search's query, and its pages. Page one runs FINDFILES (a new
//! server-side list); a cursor's page re-sorts and pages the session's list for that
//! search with SORTFILES. An unknown or stale list re-runs the search and continues at
//! the cursor's offset (`restarted`); a list that goes stale again is 409. The skip
//! base (T3) is checked against the first row's `LN`.

use std::sync::Arc;

use serde::Deserialize;
use utoipa::IntoParams;

use super::super::auth::CurrentSession;
use super::super::problem::ApiError;
use super::super::state::AppState;
use crate::config::{DocumentsConfig, SkipBase};
use crate::documents::{DocId, ListKind, Page, Search, SessionDocs};
use crate::upstream::documents::{DocumentPage, Find, SortBy, Window};
use crate::upstream::{self, Sid};

/// The longest `q`, in characters.
pub const MAX_QUERY_CHARS: usize = 256;
/// The default page size.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page size (the upstream's default and presumed maximum `take`).
pub const MAX_LIMIT: u32 = 500;
/// The sort names.
pub const SORTS: &[&str] = &["updated", "version", "size", "description", "doc_number"];

/// `GET /documents` query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Quick find on names and descriptions: up to 256 characters, without `?`, `|`
    /// or control characters (Worldox's operator syntax cannot be escaped).
    #[param(pattern = "^[^?|\\u0000-\\u001F\\u007F-\\u009F]*$", max_length = 256)]
    pub q: Option<String>,
    /// Only this cabinet (an id from `/cabinets`).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 999_999_999)]
    pub cabinet: Option<String>,
    /// `updated`, `version`, `size`, `description` or `doc_number`, `-` first for
    /// descending; default `-updated`.
    #[param(pattern = "^-?(updated|version|size|description|doc_number)$")]
    pub sort: Option<String>,
    /// Page size, 1 to 500; default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// A `next_cursor` (or a `next`/`prev` link's), alone: with any other parameter it
    /// is 400 `bad_request`; one this gateway did not sign is 400 `cursor_invalid`.
    #[param(pattern = "^cur_[A-Za-z0-9_-]+$", max_length = 2048)]
    pub cursor: Option<String>,
}

/// What a request asks for: a search and an offset, and whether a cursor said so.
#[derive(Debug)]
pub struct Wanted {
    /// The search.
    pub search: Search,
    /// The 0-based offset.
    pub offset: u64,
    /// Whether it came from a cursor.
    pub from_cursor: bool,
}

impl SearchQuery {
    /// Validates the query, or opens the cursor.
    pub fn wanted(self, state: &AppState) -> Result<Wanted, ApiError> {
        if let Some(cursor) = self.cursor {
            if self.q.is_some()
                || self.cabinet.is_some()
                || self.sort.is_some()
                || self.limit.is_some()
            {
                return Err(ApiError::BadRequest(
                    "cursor cannot be combined with other search parameters".to_owned(),
                ));
            }
            let opened = state
                .documents()
                .cursors()
                .open(&cursor)
                .map_err(|e| ApiError::CursorInvalid(e.to_string()))?;
            return Ok(Wanted {
                search: opened.q,
                offset: opened.off,
                from_cursor: true,
            });
        }
        let q = match self.q.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(q) if q.chars().count() > MAX_QUERY_CHARS => {
                return Err(invalid("q", "must be at most 256 characters"));
            }
            Some(q) if q.contains(['?', '|']) || q.chars().any(char::is_control) => {
                return Err(invalid("q", "must not contain ?, | or control characters"));
            }
            Some(q) => Some(q.to_owned()),
        };
        let cabinet = match self.cabinet.as_deref() {
            None => None,
            Some(c) => match c.parse::<u32>() {
                Ok(id) if id > 0 && id <= 999_999_999 => Some(id),
                _ => {
                    return Err(invalid(
                        "cabinet",
                        "must be a cabinet id (a positive integer)",
                    ));
                }
            },
        };
        let sort = self.sort.unwrap_or_else(|| "-updated".to_owned());
        if !SORTS.contains(&sort.strip_prefix('-').unwrap_or(&sort)) {
            return Err(invalid(
                "sort",
                "must be updated, version, size, description or doc_number, optionally after -",
            ));
        }
        let limit = match self.limit.as_deref() {
            None => DEFAULT_LIMIT,
            Some(l) => match l.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => return Err(invalid("limit", "must be an integer from 1 to 500")),
            },
        };
        Ok(Wanted {
            search: Search {
                q,
                cabinet,
                sort,
                limit,
            },
            offset: 0,
            from_cursor: false,
        })
    }
}

fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError::Validation {
        field,
        message: message.to_owned(),
    }
}

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
    let mut restarted = wanted.from_cursor;
    if wanted.from_cursor {
        if let Some(list_id) = docs.search_list(fp) {
            match paged(state, sid, &list_id, sort, wanted).await {
                Ok(page) => return Ok(to_page(page, false)),
                Err(upstream::Error::Rejected(e)) if e.is_list_stale() => {
                    tracing::debug!("the search's list went stale; running the search again");
                    docs.forget(&list_id);
                }
                Err(e) => return Err(e),
            }
        }
    } else {
        restarted = false;
    }
    let find = Find {
        query: search.q.as_deref().unwrap_or_default(),
        cabinet: search.cabinet,
        sort,
        window: window(state, wanted.offset, search.limit),
    };
    let found = state
        .upstream()
        .find_files(sid, &config.list_template, &find)
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
