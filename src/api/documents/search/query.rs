//! `GET /documents`' query string: each parameter checked, the combination rules
//! applied (`q`, `text` and `wdq` exclusive, none of them with the structured filters,
//! a cursor alone), and the result normalized into the [`Search`] a cursor carries.

use serde::Deserialize;
use utoipa::IntoParams;

use super::super::super::problem::ApiError;
use super::super::super::state::AppState;
use crate::documents::Search;
use crate::documents::cursor::MAX_FILTER_CHARS;
use crate::upstream::documents::Filter;

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
