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

use std::sync::Arc;

use serde::Deserialize;
use utoipa::IntoParams;

use super::super::auth::CurrentSession;
use super::super::problem::ApiError;
use super::super::state::AppState;
use crate::config::{DocumentsConfig, SkipBase};
use crate::documents::cursor::MAX_FILTER_CHARS;
use crate::documents::{DocId, ListKind, Page, Search, SessionDocs};
use crate::upstream::documents::{DocumentPage, Filter, Find, SortBy, Window, full_text};
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
    /// or control characters (Worldox's operator syntax cannot be escaped). Exclusive
    /// with `text`, `wdq` and the structured filters (400).
    #[param(pattern = "^[^?|\\u0000-\\u001F\\u007F-\\u009F]*$", max_length = 256)]
    pub q: Option<String>,
    /// Full-text search (Worldox `?t`), with `q`'s character rules. Exclusive with
    /// `q`, `wdq` and the structured filters (400).
    #[param(pattern = "^[^?|\\u0000-\\u001F\\u007F-\\u009F]*$", max_length = 256)]
    pub text: Option<String>,
    /// A raw Worldox query (`wd_FIND_QUERY`) for power users, sent as given: up to 256
    /// characters, no control characters but tab and line breaks. Exclusive with `q`,
    /// `text` and the structured filters (400).
    #[param(
        pattern = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$",
        max_length = 256
    )]
    pub wdq: Option<String>,
    /// Structured filter on the description; `*` is a wildcard (the upstream's syntax).
    #[param(pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$", max_length = 100)]
    pub description: Option<String>,
    /// Structured filter on the DOCID file name (`00015655.*`).
    #[param(pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$", max_length = 100)]
    pub file_name: Option<String>,
    /// Structured filter on profile field 1's code.
    #[param(pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$", max_length = 100)]
    pub field1: Option<String>,
    /// Structured filter on profile field 2's code.
    #[param(pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$", max_length = 100)]
    pub field2: Option<String>,
    /// Structured filter on profile field 3's code.
    #[param(pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$", max_length = 100)]
    pub field3: Option<String>,
    /// Structured filter on profile field 4's code.
    #[param(pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$", max_length = 100)]
    pub field4: Option<String>,
    /// Structured filter on profile field 5's code.
    #[param(pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$", max_length = 100)]
    pub field5: Option<String>,
    /// Structured filter on profile field 6's code.
    #[param(pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$", max_length = 100)]
    pub field6: Option<String>,
    /// Structured filter on profile field 7's code.
    #[param(pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$", max_length = 100)]
    pub field7: Option<String>,
    /// Structured filter on the update date, in the upstream's date syntax, passed
    /// as given (the syntax is undocumented).
    #[param(pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$", max_length = 100)]
    pub updated: Option<String>,
    /// Structured filter on the creation date, as `updated`.
    #[param(pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$", max_length = 100)]
    pub created: Option<String>,
    /// Structured filter on the last access date, as `updated`.
    #[param(pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$", max_length = 100)]
    pub accessed: Option<String>,
    /// Only this cabinet (an id from `/cabinets`); combines with any query or filter.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 999_999_999)]
    pub cabinet: Option<String>,
    /// `updated`, `version`, `size`, `description` or `doc_number`, `-` first for
    /// descending; default `-updated`.
    #[param(pattern = "^-?(updated|version|size|description|doc_number)$")]
    pub sort: Option<String>,
    /// Page size, 1 to 500; default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// The 0-based position of the page's first document (default 0); pages the
    /// session's list of the same search when it has one.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 1_000_000_000)]
    pub offset: Option<String>,
    /// A `next_cursor` (or a `next`/`prev` link's), alone: with any other parameter it
    /// is 400 `bad_request`; one this gateway did not sign is 400 `cursor_invalid`.
    #[param(pattern = "^cur_[A-Za-z0-9_-]+$", max_length = 8192)]
    pub cursor: Option<String>,
}

/// The largest `offset`.
pub const MAX_OFFSET: u64 = 1_000_000_000;

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
    /// The structured filters as given, in [`Filter`] order.
    fn filters(&self) -> [(Filter, Option<&str>); 12] {
        Filter::ALL.map(|f| {
            let value = match f {
                Filter::Description => &self.description,
                Filter::FileName => &self.file_name,
                Filter::Field1 => &self.field1,
                Filter::Field2 => &self.field2,
                Filter::Field3 => &self.field3,
                Filter::Field4 => &self.field4,
                Filter::Field5 => &self.field5,
                Filter::Field6 => &self.field6,
                Filter::Field7 => &self.field7,
                Filter::Updated => &self.updated,
                Filter::Created => &self.created,
                Filter::Accessed => &self.accessed,
            };
            (f, value.as_deref())
        })
    }

    /// Validates the query, or opens the cursor.
    pub fn wanted(self, state: &AppState) -> Result<Wanted, ApiError> {
        if let Some(cursor) = &self.cursor {
            let others = self.q.is_some()
                || self.text.is_some()
                || self.wdq.is_some()
                || self.filters().iter().any(|(_, v)| v.is_some())
                || self.cabinet.is_some()
                || self.sort.is_some()
                || self.limit.is_some()
                || self.offset.is_some();
            if others {
                return Err(ApiError::BadRequest(
                    "cursor cannot be combined with other search parameters".to_owned(),
                ));
            }
            let opened = state
                .documents()
                .cursors()
                .open(cursor)
                .map_err(|e| ApiError::CursorInvalid(e.to_string()))?;
            return Ok(Wanted {
                search: opened.q,
                offset: opened.off,
                from_cursor: true,
            });
        }
        let q = operator_free("q", self.q.as_deref())?;
        let text = operator_free("text", self.text.as_deref())?;
        let wdq = raw_query(self.wdq.as_deref())?;
        let mut filters = Vec::new();
        for (filter, value) in self.filters() {
            if let Some(value) = filter_value(filter.name(), value)? {
                filters.push((filter, value));
            }
        }
        let queries = [q.is_some(), text.is_some(), wdq.is_some()];
        if queries.iter().filter(|given| **given).count() > 1 {
            return Err(ApiError::BadRequest(
                "q, text and wdq are exclusive: give one".to_owned(),
            ));
        }
        if queries.contains(&true) && !filters.is_empty() {
            return Err(ApiError::BadRequest(
                "q, text and wdq cannot be combined with the structured filters".to_owned(),
            ));
        }
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
        let offset = match self.offset.as_deref() {
            None => 0,
            Some(o) => match o.parse::<u64>() {
                Ok(n) if n <= MAX_OFFSET => n,
                _ => {
                    return Err(invalid("offset", "must be an integer from 0 to 1000000000"));
                }
            },
        };
        Ok(Wanted {
            search: Search {
                q,
                text,
                wdq,
                filters,
                cabinet,
                sort,
                limit,
            },
            offset,
            from_cursor: false,
        })
    }
}

/// `q` or `text`: trimmed, empty as none, at most 256 characters, without the
/// operator characters `?` and `|` or control characters.
fn operator_free(field: &'static str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > MAX_QUERY_CHARS => {
            Err(invalid(field, "must be at most 256 characters"))
        }
        Some(v) if v.contains(['?', '|']) || v.chars().any(char::is_control) => Err(invalid(
            field,
            "must not contain ?, | or control characters",
        )),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

/// `wdq`: as given (blank as none), at most 256 characters, no control characters
/// but tab and line breaks.
fn raw_query(value: Option<&str>) -> Result<Option<String>, ApiError> {
    match value {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) if v.chars().count() > MAX_QUERY_CHARS => {
            Err(invalid("wdq", "must be at most 256 characters"))
        }
        Some(v)
            if v.chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) =>
        {
            Err(invalid(
                "wdq",
                "must not contain control characters other than tab and line breaks",
            ))
        }
        Some(v) => Ok(Some(v.to_owned())),
    }
}

/// A structured filter: trimmed, empty as none, at most [`MAX_FILTER_CHARS`]
/// characters, no control characters.
fn filter_value(field: &'static str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > MAX_FILTER_CHARS => {
            Err(invalid(field, "must be at most 100 characters"))
        }
        Some(v) if v.chars().any(char::is_control) => {
            Err(invalid(field, "must not contain control characters"))
        }
        Some(v) => Ok(Some(v.to_owned())),
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
    if state.documents_config().skip_base != SkipBase::Auto || u64::from(first.ln) == offset + 1 {
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
