//! Resolving a document id to its row and list (DOCUMENTS.md §2.2): the session's
//! locator as it is while it is recent (`documents.reread_after_secs`), else one SERVE
//! `rereadrecord.json` of its row, accepted only if the row answered is the same
//! record (`RN`) of the same document (`FN` stem); a stale list or a wrong row drops
//! the locator for a targeted search: FINDFILES in the id's cabinet, then across every
//! cabinet, in case the document moved. Only the id's own row ever counts. Concurrent
//! identical rereads and searches share one upstream call.
//!
//! The answer names the row's canonical id: another cabinet's when the document moved
//! (the caller then sends `Content-Location`).

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use sha2::{Digest, Sha256};

use super::super::auth::CurrentSession;
use super::super::problem::ApiError;
use super::super::state::AppState;
use super::document::no_such_document;
use super::search::{self, window};
use super::view::DOCUMENTS;
use crate::documents::{DocId, ListKind, Located, Page, SessionDocs};
use crate::upstream::documents::{DocumentRow, Find, RowPlace, SortBy, Window};
use crate::upstream::{self, Sid};

/// Rows a lookup asks for: the DOCID search may also match descriptions.
const LOOKUP_TAKE: u32 = 50;

/// A resolved document (or version) row.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The list the row is in.
    pub list_id: Arc<str>,
    /// The row.
    pub row: Arc<DocumentRow>,
    /// The id the row names: the asked id's, or another cabinet's when it moved.
    pub canonical: DocId,
    /// Whether resolving met a stale answer already (the locator's list or row): the
    /// row was found afresh, and the next stale answer is the second (409).
    pub stale_seen: bool,
}

/// What the locator of an id gave.
#[derive(Debug)]
pub enum ByLocator {
    /// The row, as seen or reread.
    Found(Resolved),
    /// The reread found the list or the row stale; the locator is gone.
    Stale,
    /// No locator.
    Missing,
}

impl Resolved {
    fn new(list_id: Arc<str>, row: Arc<DocumentRow>, asked: &DocId) -> Self {
        let canonical = DocId::of_row(row.cabinet, &row.file_name).unwrap_or_else(|| asked.clone());
        Self {
            list_id,
            row,
            canonical,
            stale_seen: false,
        }
    }

    /// `Content-Location: {DOCUMENTS}/{canonical}{suffix}` when the document was
    /// asked for under another id (it moved), else nothing.
    pub fn content_location(&self, asked: &DocId, suffix: &str, headers: &mut HeaderMap) {
        if self.canonical == *asked {
            return;
        }
        let location = format!("{DOCUMENTS}/{}{suffix}", self.canonical);
        if let Ok(value) = HeaderValue::from_str(&location) {
            headers.insert(header::CONTENT_LOCATION, value);
        }
    }
}

/// What a caller needs of a document's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A row as recent as `documents.reread_after_secs` allows (content, versions).
    Row,
    /// The whole profile: a row without its fields (a search's short row, §1.2) is
    /// reread whatever its age.
    Profile,
    /// A fresh resolution: the locator is skipped and the document searched for.
    Fresh,
}

/// The current row of document `doc`: from its locator (reread when older than the
/// window, or when a profile is needed and the row has no fields) unless `Fresh`, else
/// found by a targeted search; 404 when nothing matches.
pub async fn document(
    state: &AppState,
    current: &CurrentSession,
    docs: &SessionDocs,
    doc: &DocId,
    need: Need,
) -> Result<Resolved, ApiError> {
    let id = doc.to_string();
    let profile = need == Need::Profile;
    let mut stale_seen = false;
    if need != Need::Fresh {
        match by_locator(state, current, docs, doc, &id, None, profile).await? {
            ByLocator::Found(found) => return Ok(found),
            ByLocator::Stale => stale_seen = true,
            ByLocator::Missing => {}
        }
    }
    let sid = &current.session.sid;
    let key: [u8; 32] = Sha256::digest(format!("document {id}")).into();
    let found = docs
        .page((key, 0, 0, false), lookup(state, sid, docs, doc))
        .await
        .map_err(|e| (*e).clone());
    let resolved = match found {
        Ok(page) if page.rows.is_empty() => return Err(no_such_document()),
        Ok(_) => docs
            .locate(&id, Duration::MAX)
            .map(|(list_id, row)| Resolved {
                stale_seen,
                ..Resolved::new(list_id, row, doc)
            })
            .ok_or_else(no_such_document)?,
        Err(e) => return Err(Box::pin(state.upstream_failure(Some(current.key), e)).await),
    };
    if profile && resolved.row.fields.is_none() {
        // The search's row is the short one: one reread of the row it found gives the
        // fields and the version. Should that list be stale already, the short row
        // answers (its fields null, as a search result's).
        if let ByLocator::Found(full) =
            by_locator(state, current, docs, doc, &id, None, true).await?
        {
            return Ok(Resolved { stale_seen, ..full });
        }
    }
    Ok(resolved)
}

/// The row of locator `key` (document `doc`'s, or its version `version`'s): as seen
/// while recent (and, when `profile`, carrying its fields), else reread; when the
/// reread finds it stale the locator is gone, and the caller searches.
pub async fn by_locator(
    state: &AppState,
    current: &CurrentSession,
    docs: &SessionDocs,
    doc: &DocId,
    key: &str,
    version: Option<u32>,
    profile: bool,
) -> Result<ByLocator, ApiError> {
    let Some(located) = docs.locator(key) else {
        return Ok(ByLocator::Missing);
    };
    let window = Duration::from_secs(state.documents_config().reread_after_secs);
    if located.age < window && (!profile || located.row.fields.is_some()) {
        crate::metrics::document_resolve("locator", "found");
        return Ok(ByLocator::Found(Resolved::new(
            located.list_id,
            located.row,
            doc,
        )));
    }
    let sid = &current.session.sid;
    let share: [u8; 32] = Sha256::digest(format!("reread {key}")).into();
    let reread = docs
        .page(
            (share, 0, 0, false),
            reread(state, sid, docs, doc, key, version, &located),
        )
        .await
        .map_err(|e| (*e).clone());
    match reread {
        Ok(page) => Ok(page.rows.first().map_or(ByLocator::Stale, |row| {
            ByLocator::Found(Resolved::new(located.list_id.clone(), row.clone(), doc))
        })),
        Err(e) => Err(Box::pin(state.upstream_failure(Some(current.key), e)).await),
    }
}

/// SERVE `rereadrecord.json` on a locator's row: a page of the fresh row (its locator
/// re-seated), or an empty page when the list or the row is stale (the locator
/// dropped; a stale list is forgotten with all its locators).
async fn reread(
    state: &AppState,
    sid: &Sid,
    docs: &SessionDocs,
    doc: &DocId,
    key: &str,
    version: Option<u32>,
    located: &Located,
) -> Result<Page, upstream::Error> {
    let seen = &located.row;
    let place = RowPlace {
        list_id: &located.list_id,
        rn: seen.rn,
        ln: seen.ln,
    };
    let empty = Page {
        rows: Vec::new(),
        total: 0,
        restarted: false,
    };
    let upstream = state.upstream();
    let mut answer = upstream
        .reread_record(sid, place, line_window(state, seen.ln))
        .await;
    if answer
        .as_ref()
        .is_ok_and(|row| row.as_ref().is_some_and(|r| r.ln != seen.ln))
        && seen.ln > 1
        && search::switch_skip_base(state)
    {
        // The row answered is not at the line asked for: the upstream counts `skip`
        // the other way (now learned). Once more.
        answer = upstream
            .reread_record(sid, place, line_window(state, seen.ln))
            .await;
    }
    match answer {
        Ok(Some(row)) if same_record(seen, &row, doc, version) => {
            let row = Arc::new(row);
            docs.seat(key, &located.list_id, row.clone());
            crate::metrics::document_resolve("reread", "found");
            Ok(Page {
                rows: vec![row],
                total: 1,
                restarted: false,
            })
        }
        Ok(_) => {
            tracing::debug!("the reread answered another row; finding the document again");
            docs.unseat(key);
            crate::metrics::document_resolve("reread", "stale");
            Ok(empty)
        }
        Err(upstream::Error::Rejected(e)) if e.rctx.starts_with("WDRC_LISTID_") => {
            tracing::debug!("the locator's list went stale; finding the document again");
            docs.forget(&located.list_id);
            crate::metrics::document_resolve("reread", "stale");
            Ok(empty)
        }
        Err(e) => {
            crate::metrics::document_resolve("reread", "error");
            Err(e)
        }
    }
}

/// `skip` and `take` for line `ln` alone: `skip=0` for line 1 (the same line whichever
/// way the upstream counts), else the line as the upstream is known to count it.
fn line_window(state: &AppState, ln: u32) -> Window {
    if ln <= 1 {
        Window { skip: 0, take: 1 }
    } else {
        window(state, u64::from(ln - 1), 1)
    }
}

/// Whether a reread `row` is the record the locator saw: the same `RN`, the id's `FN`
/// stem and, for a version row, the same `VER`. (Its cabinet may differ: it moved.)
fn same_record(seen: &DocumentRow, row: &DocumentRow, doc: &DocId, version: Option<u32>) -> bool {
    row.rn == seen.rn
        && doc.is_file(&row.file_name)
        && version.is_none_or(|n| row.version.number::<u32>() == Some(n))
}

/// The targeted search (§2.2 step 3): FINDFILES `?D {docnum}` in the id's cabinet,
/// then across every cabinet the user sees; the list that found the document is kept
/// (a lookup), its row seated under the asked id and the canonical one.
pub(super) async fn lookup(
    state: &AppState,
    sid: &Sid,
    docs: &SessionDocs,
    doc: &DocId,
) -> Result<Page, upstream::Error> {
    let mut row = find(state, sid, docs, doc, Some(doc.cabinet)).await?;
    if row.is_none() {
        row = find(state, sid, docs, doc, None).await?;
    }
    Ok(Page {
        total: u64::from(row.is_some()),
        rows: row.into_iter().collect(),
        restarted: false,
    })
}

/// One FINDFILES for the document, in `cabinet` or in all; its row when exactly one
/// document of that number matched (several cabinets holding one number across all
/// is ambiguous: none is trusted).
async fn find(
    state: &AppState,
    sid: &Sid,
    docs: &SessionDocs,
    doc: &DocId,
    cabinet: Option<u32>,
) -> Result<Option<Arc<DocumentRow>>, upstream::Error> {
    let path = if cabinet.is_some() {
        "search"
    } else {
        "search_all"
    };
    let config = state.documents_config();
    let query = format!("?D {}", doc.docnum);
    let find = Find {
        query: &query,
        cabinet,
        sort: SortBy {
            key: config.sort_keys.updated,
            descending: true,
        },
        // `skip=0` is line 1 whichever way the upstream counts (T3: a 1-based one reads
        // 0 as 1), and a lookup always wants its list from line 1.
        window: Window {
            skip: 0,
            take: LOOKUP_TAKE,
        },
    };
    let found = state
        .upstream()
        .find_files(sid, &config.list_template, &find)
        .await;
    let found = match found {
        Ok(found) => found,
        Err(e) => {
            crate::metrics::document_resolve(path, "error");
            return Err(e);
        }
    };
    // Never trust the search to be exact: only the id's own row counts.
    let mut matching = found
        .rows
        .iter()
        .filter(|r| cabinet.is_none_or(|c| r.cabinet == c) && doc.is_file(&r.file_name));
    let row = match (matching.next(), matching.next()) {
        (Some(row), None) => Some(Arc::new(row.clone())),
        (Some(_), Some(_)) => {
            tracing::warn!(
                docnum = %doc.docnum,
                "several cabinets hold this document number; none is trusted"
            );
            None
        }
        (None, _) => None,
    };
    match &row {
        Some(row) => {
            docs.register(
                &found.list_id,
                ListKind::Lookup,
                std::slice::from_ref(row),
                |r| DocId::of_row(r.cabinet, &r.file_name).map(|id| id.to_string()),
            );
            if row.cabinet != doc.cabinet {
                // Asked again by the old id, the locator answers at once.
                let list_id: Arc<str> = Arc::from(found.list_id.as_str());
                docs.seat(&doc.to_string(), &list_id, row.clone());
            }
            crate::metrics::document_resolve(path, "found");
        }
        None => {
            docs.discard(&found.list_id);
            crate::metrics::document_resolve(path, "not_found");
        }
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::documents::Cell;

    #[test]
    fn a_reread_row_counts_only_as_the_same_record_of_the_same_document() {
        let doc = DocId::parse("doc_5_00014410").expect("an id");
        let seen = DocumentRow {
            ln: 2,
            rn: 7,
            file_name: "00014410.docx".into(),
            cabinet: 5,
            ..DocumentRow::default()
        };
        let fresh = DocumentRow {
            version: Cell::Text("3".into()),
            ..seen.clone()
        };
        assert!(same_record(&seen, &fresh, &doc, None));
        assert!(same_record(&seen, &fresh, &doc, Some(3)));
        assert!(
            !same_record(&seen, &fresh, &doc, Some(2)),
            "another version"
        );
        let moved = DocumentRow {
            cabinet: 14,
            ..fresh.clone()
        };
        assert!(
            same_record(&seen, &moved, &doc, None),
            "a move is the same record"
        );
        let other_record = DocumentRow {
            rn: 8,
            ..fresh.clone()
        };
        assert!(!same_record(&seen, &other_record, &doc, None));
        let other_file = DocumentRow {
            file_name: "00014411.docx".into(),
            ..fresh
        };
        assert!(!same_record(&seen, &other_file, &doc, None));
    }
}
