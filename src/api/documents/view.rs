//! The REST shapes of documents and cabinets (DOCUMENTS.md §2.4): allow-lists of named
//! fields. No `List_ID`, `RN`, `LN`, `FP` or `FPR` is ever in them.

use serde::Serialize;
use utoipa::ToSchema;

use super::super::devices::view::Link;
use crate::documents::DocId;
use crate::documents::representation::{date, status, strip_highlights, timestamp};
use crate::upstream::documents::{Cabinet, CabinetField, DocumentRow};

/// Where the document collection lives.
pub const DOCUMENTS: &str = "/documents";
/// Where the cabinet collection lives.
pub const CABINETS: &str = "/cabinets";

/// A document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentView {
    /// Stable id `doc_{cabinet}_{doc_number}`; treat it as opaque.
    #[schema(pattern = "^doc_[0-9]{1,9}_[0-9A-Za-z]{1,32}$")]
    pub id: String,
    /// The DOCID number.
    pub doc_number: String,
    /// The DOCID file name.
    pub file_name: String,
    /// The long name, when the upstream sent it.
    pub name: Option<String>,
    /// The description, without search highlight markup.
    pub description: Option<String>,
    /// Comments.
    pub comments: Option<String>,
    /// The file extension.
    pub extension: Option<String>,
    /// The version, when the upstream sent it.
    pub version: Option<u32>,
    /// The cabinet.
    pub cabinet: CabinetRef,
    /// The descriptive location, when sent.
    pub location: Option<String>,
    /// Profile fields with a code, in field order; null when the row came from a list
    /// that carries none (search results: follow `self`, whose profile always has them).
    pub fields: Option<Vec<DocumentFieldView>>,
    /// The size as Worldox displays it (`8.6 KB`).
    pub size_text: Option<String>,
    /// Last update (RFC 3339).
    pub updated_at: Option<String>,
    /// Creation date (RFC 3339 full date).
    pub created_on: Option<String>,
    /// Last access date (RFC 3339 full date).
    pub accessed_on: Option<String>,
    /// `available`, `checked_out_to_me`, `checked_out_to_other`, `read_only`,
    /// `unavailable` or `unknown`.
    #[schema(value_type = String)]
    pub status: &'static str,
    /// Worldox's raw status id (`I`).
    pub status_id: Option<u32>,
    /// Worldox's raw status flags (`stFl`).
    pub status_flags: Option<u32>,
    /// Worldox's raw status icon (`stIc`).
    pub status_icon: Option<u32>,
    /// Who has it checked out.
    pub checked_out_by: Option<String>,
    /// `none`, `hidden` or `protected`, when known.
    #[schema(value_type = Option<String>)]
    pub security: Option<&'static str>,
    /// The favorite mark.
    pub favorite: Option<String>,
    /// Who last accessed it.
    pub last_accessed_by: Option<String>,
    /// In search results: where the search matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highlights: Option<Highlights>,
    /// What can be done next.
    #[serde(rename = "_links")]
    pub links: Vec<Link>,
}

/// One profile field of a document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentFieldView {
    /// The field number, 1 to 7.
    pub number: u8,
    /// The field's name (`Client`), when known.
    pub name: Option<String>,
    /// The code (`20000`).
    pub code: String,
    /// The code's description (`City of Mesa`), when sent.
    pub description: Option<String>,
}

/// Where a search matched, as `[start, end)` character ranges.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Highlights {
    /// Ranges in `description`.
    pub description: Vec<[usize; 2]>,
}

/// A document's cabinet.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CabinetRef {
    /// The cabinet id.
    pub id: u32,
    /// Its name, when known.
    pub name: Option<String>,
    /// The cabinet resource.
    pub href: String,
}

/// `GET /documents` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    /// This page's documents.
    pub documents: Vec<DocumentView>,
    /// Documents the search found in all.
    pub total: u64,
    /// This page's 0-based offset.
    pub offset: u64,
    /// The page size.
    pub limit: u32,
    /// Whether each document carries its profile fields (FINDFILES rows carry none).
    pub complete_fields: bool,
    /// Whether the search was run again for this page (its list was gone), so rows may
    /// have shifted.
    pub restarted: bool,
    /// The cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
    /// `self`, `next`, `prev`.
    #[serde(rename = "_links")]
    pub links: Vec<Link>,
}

/// A cabinet.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CabinetView {
    /// The cabinet id (`PGID`).
    pub id: u32,
    /// Its name.
    pub name: String,
    /// `RO`.
    pub read_only: bool,
    /// `DO`.
    pub deny_open: bool,
    /// `DC`.
    pub deny_copy: bool,
    /// `DM`.
    pub deny_move: bool,
    /// The used profile fields.
    pub fields: Vec<CabinetFieldView>,
    /// `self`, `list`, `documents`.
    #[serde(rename = "_links")]
    pub links: Vec<Link>,
}

/// A cabinet's profile field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CabinetFieldView {
    /// 1 to 7.
    pub number: u32,
    /// Its name.
    pub name: String,
    /// `ACTIVE`.
    pub active: bool,
    /// `EDITOK`.
    pub editable: bool,
    /// `ENTREQ`.
    pub required: bool,
    /// `LINKED`.
    pub linked: bool,
    /// `SUBDIR`: the code is a folder level.
    pub folder_level: bool,
    /// `PRIVAT`.
    pub private: bool,
    /// `WDUSER`: it holds a Worldox user.
    pub user_field: bool,
    /// `LOCKED`.
    pub locked: bool,
    /// `MMDDYY`: a date.
    pub date: bool,
    /// `VERIFY`: codes are checked against a lookup table.
    pub validated: bool,
    /// `RETENT`.
    pub retention: bool,
    /// `LENGTH`.
    pub max_length: u32,
}

/// `GET /cabinets` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CabinetList {
    /// The cabinets the caller sees.
    pub cabinets: Vec<CabinetView>,
    /// `self`.
    #[serde(rename = "_links")]
    pub links: Vec<Link>,
}

/// A hypermedia link.
pub fn link(rel: &'static str, href: &str, method: &'static str, title: &'static str) -> Link {
    Link {
        rel,
        href: href.to_owned().into(),
        method,
        title,
    }
}

impl DocumentView {
    /// The view of a row; `search` keeps the highlight ranges; `cabinet_name` from the
    /// cabinet listing when the row has none.
    pub fn new(id: &DocId, row: &DocumentRow, search: bool, cabinet_name: Option<&str>) -> Self {
        let text = |c: &crate::upstream::documents::Cell| c.text().map(str::to_owned);
        let (description, ranges) = match row.description.text() {
            Some(xn) => {
                let (text, ranges) = strip_highlights(xn);
                (Some(text), ranges)
            }
            None => (None, Vec::new()),
        };
        let status_id = row.status_id.number();
        let (status, security) = status(status_id);
        let href = format!("{DOCUMENTS}/{id}");
        let cabinet_href = format!("{CABINETS}/{}", id.cabinet);
        Self {
            id: id.to_string(),
            doc_number: id.docnum.clone(),
            file_name: row.file_name.clone(),
            name: text(&row.name),
            description,
            comments: text(&row.comments),
            extension: text(&row.extension),
            version: row.version.number(),
            cabinet: CabinetRef {
                id: id.cabinet,
                name: text(&row.cabinet_name).or_else(|| cabinet_name.map(str::to_owned)),
                href: cabinet_href.clone(),
            },
            location: text(&row.location),
            fields: row.fields.as_ref().map(|fields| {
                fields
                    .iter()
                    .map(|f| DocumentFieldView {
                        number: f.number,
                        name: f.name.clone(),
                        code: f.code.clone(),
                        description: f.description.clone(),
                    })
                    .collect()
            }),
            size_text: text(&row.size_text),
            updated_at: row.updated.number().and_then(timestamp),
            created_on: row.created.number().and_then(date),
            accessed_on: row.accessed.number().and_then(date),
            status,
            status_id,
            status_flags: row.status_flags.number(),
            status_icon: row.status_icon.number(),
            checked_out_by: text(&row.checked_out_by).filter(|s| !s.is_empty()),
            security,
            favorite: text(&row.favorite),
            last_accessed_by: text(&row.last_accessed_by),
            highlights: search.then_some(Highlights {
                description: ranges,
            }),
            links: vec![
                link("self", &href, "GET", "This document"),
                link(
                    "content",
                    &format!("{href}/content"),
                    "GET",
                    "Download the current version",
                ),
                link(
                    "versions",
                    &format!("{href}/versions"),
                    "GET",
                    "All versions",
                ),
                link("cabinet", &cabinet_href, "GET", "The cabinet"),
                link("list", DOCUMENTS, "GET", "Search documents"),
            ],
        }
    }
}

impl CabinetView {
    /// The view of a cabinet.
    pub fn new(c: &Cabinet) -> Self {
        let href = format!("{CABINETS}/{}", c.id);
        Self {
            id: c.id,
            name: c.name.clone(),
            read_only: c.read_only,
            deny_open: c.deny_open,
            deny_copy: c.deny_copy,
            deny_move: c.deny_move,
            fields: c.fields.iter().map(CabinetFieldView::new).collect(),
            links: vec![
                link("self", &href, "GET", "This cabinet"),
                link("list", CABINETS, "GET", "All your cabinets"),
                link(
                    "documents",
                    &format!("{DOCUMENTS}?cabinet={}", c.id),
                    "GET",
                    "The documents in this cabinet",
                ),
            ],
        }
    }
}

impl CabinetFieldView {
    fn new(f: &CabinetField) -> Self {
        Self {
            number: f.number,
            name: f.name.clone(),
            active: f.active,
            editable: f.editable,
            required: f.required,
            linked: f.linked,
            folder_level: f.folder_level,
            private: f.private,
            user_field: f.user_field,
            locked: f.locked,
            date: f.date,
            validated: f.validated,
            retention: f.retention,
            max_length: f.max_length,
        }
    }
}
