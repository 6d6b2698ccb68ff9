//! CABINETS, FINDFILES, SORTFILES and CLOSELIST as typed calls with typed rows.
//!
//! Rows are read by the v4 short keys (`XN`, `FN`, `UPD`…). A key the answer does not
//! carry is [`Cell::NotSent`], the literal `"<undefined>"` is [`Cell::Null`] (T5), and a
//! row of unfilled placeholders (`"RN": "%:R#%"`) is no row at all.

mod filter;

use http::Method;
use serde_json::{Map, Value};

use super::cgi::Params;
use super::client::{Call, Client, Error};
use super::envelope::{Envelope, ShapeError};
use super::fields::{ROW_FIELD_KEYS, command, param, template};
use super::files::WdsidsPath;
use super::sid::Sid;

pub use filter::{Filter, full_text};

/// What `"<undefined>"` stands for in a row: a null value.
const UNDEFINED: &str = "<undefined>";

/// One value of a row: not sent, sent as null, or text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cell {
    /// The key is absent from the row: the template does not carry it.
    #[default]
    NotSent,
    /// The key holds `"<undefined>"`.
    Null,
    /// The key's text (numbers are read as their decimal text).
    Text(String),
}

impl Cell {
    /// The text, if any.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            Self::NotSent | Self::Null => None,
        }
    }

    /// The text parsed as a number, if it is one.
    pub fn number<T: std::str::FromStr>(&self) -> Option<T> {
        self.text().and_then(|t| t.trim().parse().ok())
    }

    fn of(row: &Map<String, Value>, key: &str) -> Self {
        match row.get(key) {
            None => Self::NotSent,
            Some(Value::Null) => Self::Null,
            Some(Value::String(s)) if s == UNDEFINED => Self::Null,
            Some(Value::String(s)) => Self::Text(s.clone()),
            Some(Value::Number(n)) => Self::Text(n.to_string()),
            Some(Value::Bool(b)) => Self::Text(b.to_string()),
            Some(_) => Self::NotSent,
        }
    }
}

/// A document row of FINDFILES or SORTFILES. `fp`/`fpr` are internal paths: they stay
/// inside the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DocumentRow {
    /// `LN`: the display line in its list (1-based, after sorting).
    pub ln: u32,
    /// `RN`: the record number in its list.
    pub rn: u32,
    /// `FN`: the DOCID file name, e.g. `00015655.xlsx`.
    pub file_name: String,
    /// `CBID`: the cabinet.
    pub cabinet: u32,
    /// `XN`: the description (may hold highlight markup).
    pub description: Cell,
    /// `Name`: the long name.
    pub name: Cell,
    /// `CM`: comments.
    pub comments: Cell,
    /// `EXT`.
    pub extension: Cell,
    /// `VER`.
    pub version: Cell,
    /// `LSZ` or `SZ`: the size as displayed.
    pub size_text: Cell,
    /// `UPD`: Unix seconds.
    pub updated: Cell,
    /// `CRTD`: Unix seconds.
    pub created: Cell,
    /// `ACC`: Unix seconds.
    pub accessed: Cell,
    /// `I`: the status id.
    pub status_id: Cell,
    /// `stFl`.
    pub status_flags: Cell,
    /// `stIc`.
    pub status_icon: Cell,
    /// `HASH`: a hash of the row's values.
    pub hash: Cell,
    /// `CBNM`: the cabinet's name.
    pub cabinet_name: Cell,
    /// `LOC`: the descriptive location.
    pub location: Cell,
    /// `CHKOUT_TO_NAME`.
    pub checked_out_by: Cell,
    /// `OW`: who last accessed it.
    pub last_accessed_by: Cell,
    /// `FF`: the favorite mark.
    pub favorite: Cell,
    /// `FPR`: the file's hidden-form path. Never leaves the gateway.
    pub fpr: Cell,
    /// `F{n}C`, `F{n}D`, `F{n}N`: the profile fields with a code, in field order; `None`
    /// when the template carries no fields at all (FINDFILES' short row, which has no
    /// `VER` either).
    pub fields: Option<Vec<RowField>>,
}

/// One profile field of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowField {
    /// The field number, 1 to 7.
    pub number: u8,
    /// `F{n}C`: the code.
    pub code: String,
    /// `F{n}D`: the code's description, when sent.
    pub description: Option<String>,
    /// `F{n}N`: the field's name, when sent.
    pub name: Option<String>,
}

/// The profile fields of `row`: those with a non-empty code; `None` when the row is a
/// short one, with no `F{n}C` key and no `VER` (a rich row leaves out empty fields, T5,
/// but always carries its version).
fn row_fields(row: &Map<String, Value>) -> Option<Vec<RowField>> {
    let mut carried = row.contains_key("VER");
    let mut fields = Vec::new();
    for (number, (code_key, description_key, name_key)) in (1..=7u8).zip(ROW_FIELD_KEYS) {
        let code = Cell::of(row, code_key);
        carried |= code != Cell::NotSent;
        let Some(code) = code.text().filter(|c| !c.is_empty()) else {
            continue;
        };
        let text = |key| {
            Cell::of(row, key)
                .text()
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        };
        fields.push(RowField {
            number,
            code: code.to_owned(),
            description: text(description_key),
            name: text(name_key),
        });
    }
    carried.then_some(fields)
}

impl DocumentRow {
    /// The row, unless it is a placeholder row (its `RN`, `LN`, `CBID` or `FN` unusable).
    fn parse(row: &Map<String, Value>) -> Option<Self> {
        let cell = |key| Cell::of(row, key);
        let either = |a, b| match cell(a) {
            Cell::NotSent => cell(b),
            other => other,
        };
        let file_name = cell("FN").text()?.to_owned();
        if file_name.contains('%') || file_name.is_empty() {
            return None;
        }
        Some(Self {
            ln: cell("LN").number()?,
            rn: cell("RN").number()?,
            cabinet: cell("CBID").number()?,
            file_name,
            description: cell("XN"),
            name: cell("Name"),
            comments: cell("CM"),
            extension: cell("EXT"),
            version: cell("VER"),
            size_text: either("LSZ", "SZ"),
            updated: cell("UPD"),
            created: cell("CRTD"),
            accessed: cell("ACC"),
            status_id: cell("I"),
            status_flags: cell("stFl"),
            status_icon: cell("stIc"),
            hash: cell("HASH"),
            cabinet_name: cell("CBNM"),
            location: cell("LOC"),
            checked_out_by: cell("CHKOUT_TO_NAME"),
            last_accessed_by: cell("OW"),
            favorite: cell("FF"),
            fpr: cell("FPR"),
            fields: row_fields(row),
        })
    }
}

/// One page of a document list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentPage {
    /// `errorStatus.List_ID`: the server-side list the rows belong to.
    pub list_id: String,
    /// `List_Count`: rows in the whole list.
    pub total: u64,
    /// The rows of this page.
    pub rows: Vec<DocumentRow>,
}

/// How a list is sorted: a `Wd_File_Sort_Key1` column id and the direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortBy {
    /// The column id (5374 updated, …).
    pub key: u32,
    /// `wd_File_Sort_Dir1=1`.
    pub descending: bool,
}

/// Which rows of a list to answer: `skip` as the upstream counts it, and `take`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// `skip`.
    pub skip: u64,
    /// `take`.
    pub take: u32,
}

/// A FINDFILES search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Find<'a> {
    /// `wd_FIND_QUERY` without the cabinet clause.
    pub query: &'a str,
    /// Only this cabinet (`?G {id}`), else every cabinet the user sees.
    pub cabinet: Option<u32>,
    /// The sort.
    pub sort: SortBy,
    /// The page.
    pub window: Window,
}

impl Find<'_> {
    /// `wd_FIND_QUERY`: the query, and the cabinet as its own `|` clause.
    pub fn wd_query(&self) -> String {
        match (self.query.trim(), self.cabinet) {
            (q, None) => q.to_owned(),
            ("", Some(id)) => format!("?G {id}"),
            (q, Some(id)) => format!("{q} | ?G {id}"),
        }
    }
}

/// A cabinet, from CABINETS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cabinet {
    /// `PGID`.
    pub id: u32,
    /// `Name`.
    pub name: String,
    /// `RO` is `1`.
    pub read_only: bool,
    /// `DO` is `1`.
    pub deny_open: bool,
    /// `DC` is `1`.
    pub deny_copy: bool,
    /// `DM` is `1`.
    pub deny_move: bool,
    /// The used profile fields (`NAME` not `"0"` or `ACTIVE` set).
    pub fields: Vec<CabinetField>,
}

/// One profile field of a cabinet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CabinetField {
    /// 1 to 7, from `FIELD` ("Field #1") or the field's place.
    pub number: u32,
    /// `NAME`.
    pub name: String,
    /// `ACTIVE`.
    pub active: bool,
    /// `EDITOK`.
    pub editable: bool,
    /// `ENTREQ`.
    pub required: bool,
    /// `LINKED`.
    pub linked: bool,
    /// `SUBDIR`.
    pub folder_level: bool,
    /// `PRIVAT`.
    pub private: bool,
    /// `WDUSER`.
    pub user_field: bool,
    /// `LOCKED`.
    pub locked: bool,
    /// `MMDDYY`.
    pub date: bool,
    /// `VERIFY`.
    pub validated: bool,
    /// `RETENT`.
    pub retention: bool,
    /// `LENGTH`.
    pub max_length: u32,
}

impl Client {
    /// CABINETS: every cabinet the user sees, or only `only` (8120 when it is not one).
    pub async fn list_cabinets(&self, sid: &Sid, only: Option<u32>) -> Result<Vec<Cabinet>, Error> {
        let mut query = Params::new()
            .with(param::SID, sid.expose())
            .with(param::HTML, template::CABINETS);
        if let Some(id) = only {
            query = query.with(param::CABINET_ID_VALUE, id.to_string());
        }
        // A failed CABINETS leaves placeholders unquoted (`"PGID":%Cabinet_ID%`).
        let body = self.exchange(&get(command::CABINETS, query)).await?;
        let value = super::passthrough::parse_lenient(&body)?;
        let envelope = Envelope::from_value_with(value, &self.empty)?;
        if let Some(error) = envelope.cause() {
            return Err(Error::Rejected(error.clone()));
        }
        Ok(rows_of(&envelope)?.filter_map(cabinet).collect())
    }

    /// FINDFILES: opens a new list of the matches and answers its first page.
    pub async fn find_files(
        &self,
        sid: &Sid,
        list_template: &str,
        find: &Find<'_>,
    ) -> Result<DocumentPage, Error> {
        self.find_filtered(sid, list_template, find, &[]).await
    }

    /// FINDFILES narrowed by structured `filters` as well (see [`find_params`]).
    pub async fn find_filtered(
        &self,
        sid: &Sid,
        list_template: &str,
        find: &Find<'_>,
        filters: &[(Filter, String)],
    ) -> Result<DocumentPage, Error> {
        let query = find_params(
            paged(sid, list_template, find.sort, find.window),
            find,
            filters,
        );
        page_of(&self.call(&get(command::FINDFILES, query)).await?)
    }

    /// SORTFILES: re-sorts list `list_id` and answers a page of it.
    pub async fn sort_files(
        &self,
        sid: &Sid,
        list_template: &str,
        list_id: &str,
        sort: SortBy,
        window: Window,
    ) -> Result<DocumentPage, Error> {
        let query = paged(sid, list_template, sort, window).with(param::LIST_ID, list_id);
        page_of(&self.call(&get(command::SORTFILES, query)).await?)
    }

    /// CLOSELIST: frees list `list_id` on the server.
    pub async fn close_list(&self, sid: &Sid, list_id: &str) -> Result<(), Error> {
        let query = Params::new()
            .with(param::SID, sid.expose())
            .with(param::LIST_ID, list_id)
            .with(param::HTML_ON_OK, template::CLOSE_LIST)
            .with(param::HTML_ON_FAIL, template::CLOSE_LIST);
        self.call(&get(command::CLOSELIST, query)).await.map(drop)
    }
}

/// What DOWNLOAD answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Download {
    /// The copy is ready at `path` (holding the SID: never log it); `name` is
    /// `FileNme` read with JavaScript `unescape` rules (T12), when sent.
    Ready {
        /// Where the copy is.
        path: WdsidsPath,
        /// The file's long name.
        name: Option<String>,
    },
    /// The template could not reread the row (`…=WDAPI_ReReadRecord(…)` or
    /// `0=wd_List_Offset(…)`, T9): the row's place is no longer right.
    Reread,
}

/// The row to download: its list and its place in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowPlace<'a> {
    /// `wd_List_ID`.
    pub list_id: &'a str,
    /// `RN`.
    pub rn: u32,
    /// `LN`, sent as `wd_List_Offset`.
    pub ln: u32,
}

impl Client {
    /// DOWNLOAD: has the server copy a row's file (a document or a version row) for
    /// this session and answers where. Never sends `FavCatInput` (it would add the file
    /// to a favorites category). An answer without a usable `fileLoc` is a failure
    /// whatever its `ErrorCount` says (T9).
    pub async fn download(&self, sid: &Sid, row: RowPlace<'_>) -> Result<Download, Error> {
        let query = Params::new()
            .with(param::SID, sid.expose())
            .with(param::HTML, template::DOWNLOAD)
            .with(param::LIST_REC_NUM, row.rn.to_string())
            .with(param::LIST_ID, row.list_id)
            .with(param::LIST_OFFSET, row.ln.to_string());
        let envelope = self.call(&get(command::DOWNLOAD, query)).await?;
        download_of(&envelope.data)
    }

    /// VERLIST: opens a new list of the versions of the row `rn` of list `list_id`,
    /// sorted by version (newest first), and answers up to `take` of its rows.
    pub async fn list_versions(
        &self,
        sid: &Sid,
        list_template: &str,
        row: RowPlace<'_>,
        sort: SortBy,
        window: Window,
    ) -> Result<DocumentPage, Error> {
        let query = paged(sid, list_template, sort, window)
            .with(param::LIST_ID, row.list_id)
            .with(param::LIST_REC_NUM, row.rn.to_string());
        page_of(&self.call_lenient(&get(command::VERLIST, query)).await?)
    }
}

impl Client {
    /// SERVE `rereadrecord.json`: re-reads record `row.rn` of list `row.list_id` fresh
    /// from the database and answers the row at the line `window` names (`skip` = the
    /// row's `LN` as the upstream counts it, `take` = 1). `None` when the template says
    /// it could not reread the record (a `WDAPI_ReReadRecord` message) or answers no
    /// row; the caller still checks the row's `RN` and `FN`, as a stale line answers
    /// another record's row. A stale list is `Err(Rejected(WDRC_LISTID_…))`.
    pub async fn reread_record(
        &self,
        sid: &Sid,
        row: RowPlace<'_>,
        window: Window,
    ) -> Result<Option<DocumentRow>, Error> {
        let query = Params::new()
            .with(param::SID, sid.expose())
            .with(param::HTML, template::REREAD_RECORD)
            .with(param::LIST_ID, row.list_id)
            .with(param::LIST_REC_NUM, row.rn.to_string())
            .with(param::SKIP, window.skip.to_string())
            .with(param::TAKE, window.take.to_string());
        let envelope = self.call_lenient(&get(command::SERVE, query)).await?;
        reread_of(&envelope)
    }

    /// A call whose failed answer may hold bare placeholders (rereadrecord's and
    /// VERLIST's `"CAT_ID":%CATS_JSON%`), so it is read leniently; the error it reports
    /// is `Err(Rejected)`.
    async fn call_lenient(&self, call: &Call<'_>) -> Result<Envelope, Error> {
        let body = self.exchange(call).await?;
        let value = super::passthrough::parse_lenient(&body)?;
        let envelope = Envelope::from_value_with(value, &self.empty)?;
        match envelope.cause() {
            Some(error) => Err(Error::Rejected(error.clone())),
            None => Ok(envelope),
        }
    }
}

/// rereadrecord's answer: its first real row, or `None` for a reread failure the
/// template reports as a message (T9) or an answer without rows.
fn reread_of(envelope: &Envelope) -> Result<Option<DocumentRow>, Error> {
    if let Some(message) = envelope.data.get("message").and_then(Value::as_str) {
        if message.contains("WDAPI_ReReadRecord") || message.contains("wd_List_Offset") {
            return Ok(None);
        }
        return Err(Error::Shape(ShapeError::WrongShape(
            "rereadrecord answered a message instead of rows",
        )));
    }
    Ok(rows_of(envelope)?.find_map(DocumentRow::parse))
}

/// DOWNLOAD's `data`: a checked `fileLoc`, a reread failure, or a bad answer.
fn download_of(data: &Value) -> Result<Download, Error> {
    let text = |key| data.get(key).and_then(Value::as_str).map(str::trim);
    match text("fileLoc").filter(|t| !t.is_empty()) {
        Some(path) => WdsidsPath::parse(path)
            .map(|path| Download::Ready {
                path,
                name: text("FileNme")
                    .map(js_unescape)
                    .filter(|n| !n.trim().is_empty()),
            })
            .ok_or(Error::Shape(ShapeError::WrongShape(
                "DOWNLOAD answered a file location that is not a same-origin WDSIDS path",
            ))),
        None => match text("message") {
            Some(m) if m.contains("WDAPI_ReReadRecord") || m.contains("wd_List_Offset") => {
                Ok(Download::Reread)
            }
            _ => Err(Error::Shape(ShapeError::WrongShape(
                "DOWNLOAD answered no file location",
            ))),
        },
    }
}

/// JavaScript `unescape`: `%uXXXX` is a UTF-16 unit, `%XX` a Latin-1 character, and
/// anything else stays as it is (T12).
fn js_unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |from: usize, len: usize| {
        bytes
            .get(from..from + len)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u16::from_str_radix(h, 16).ok())
    };
    let mut units: Vec<u16> = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if bytes.get(i + 1) == Some(&b'u') {
                if let Some(unit) = hex(i + 2, 4) {
                    units.push(unit);
                    i += 6;
                    continue;
                }
            } else if let Some(byte) = hex(i + 1, 2) {
                units.push(byte);
                i += 3;
                continue;
            }
        }
        // Copy one character as it is.
        let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
        let mut buf = [0u16; 2];
        units.extend_from_slice(ch.encode_utf16(&mut buf));
        i += ch.len_utf8();
    }
    String::from_utf16_lossy(&units)
}

fn get(command: &str, query: Params) -> Call<'_> {
    Call {
        command,
        method: Method::GET,
        query,
        fixed: None,
        form: Params::new(),
    }
}

/// FINDFILES' search parameters after the paged call's `base`. Without filters, the
/// query and the cabinet go in `wd_FIND_QUERY` (the cabinet as its own `?G` clause).
/// With filters, each is its `wd_File_*_Filter` parameter, the cabinet is
/// `wd_File_ProfileGroup_Filter`, and `wd_FIND_QUERY` is sent only when there is a
/// query (how FINDFILES combines the two is unknown, so the API never asks for both).
fn find_params(base: Params, find: &Find<'_>, filters: &[(Filter, String)]) -> Params {
    if filters.is_empty() {
        return base.with(param::FIND_QUERY, find.wd_query());
    }
    let mut query = base;
    if !find.query.trim().is_empty() {
        query.push(param::FIND_QUERY, find.query.trim());
    }
    if let Some(cabinet) = find.cabinet {
        query.push(param::PROFILE_GROUP_FILTER, cabinet.to_string());
    }
    for (filter, value) in filters {
        query.push(filter.param(), value.clone());
    }
    query
}

/// The parameters of a paged list call.
fn paged(sid: &Sid, list_template: &str, sort: SortBy, window: Window) -> Params {
    Params::new()
        .with(param::SID, sid.expose())
        .with(param::HTML_ON_OK, list_template)
        .with(param::HTML_ON_FAIL, list_template)
        .with(param::SORT_KEY, sort.key.to_string())
        .with(param::SORT_DIR, if sort.descending { "1" } else { "0" })
        .with(param::SKIP, window.skip.to_string())
        .with(param::TAKE, window.take.to_string())
}

/// The rows of a list answer: `data` an array of objects, or empty (`""` with 9105).
fn rows_of(envelope: &Envelope) -> Result<impl Iterator<Item = &Map<String, Value>>, ShapeError> {
    let rows: &[Value] = match &envelope.data {
        Value::Array(rows) => rows,
        Value::Null => &[],
        Value::String(s) if s.trim().is_empty() => &[],
        _ => return Err(ShapeError::WrongShape("the list's data is not an array")),
    };
    Ok(rows.iter().filter_map(Value::as_object))
}

fn page_of(envelope: &Envelope) -> Result<DocumentPage, Error> {
    let list_id = envelope
        .list_id
        .clone()
        .ok_or(ShapeError::WrongShape("the document list has no List_ID"))?;
    let rows: Vec<DocumentRow> = rows_of(envelope)?.filter_map(DocumentRow::parse).collect();
    let total = envelope.list_count.unwrap_or(rows.len() as u64);
    Ok(DocumentPage {
        list_id,
        total,
        rows,
    })
}

fn flag(row: &Map<String, Value>, key: &str) -> bool {
    match row.get(key) {
        Some(Value::Number(n)) => n.as_u64().is_some_and(|n| n != 0),
        Some(Value::String(s)) => matches!(s.trim(), "1" | "Y" | "Yes" | "yes" | "true"),
        Some(Value::Bool(b)) => *b,
        _ => false,
    }
}

fn cabinet(row: &Map<String, Value>) -> Option<Cabinet> {
    let id = Cell::of(row, "PGID").number()?;
    let fields = match row.get("Fields") {
        Some(Value::Array(fields)) => fields.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    };
    Some(Cabinet {
        id,
        name: Cell::of(row, "Name").text().unwrap_or_default().to_owned(),
        read_only: flag(row, "RO"),
        deny_open: flag(row, "DO"),
        deny_copy: flag(row, "DC"),
        deny_move: flag(row, "DM"),
        fields: fields
            .into_iter()
            .enumerate()
            .filter_map(|(i, f)| cabinet_field(i, f))
            .collect(),
    })
}

fn cabinet_field(place: usize, f: &Map<String, Value>) -> Option<CabinetField> {
    let name = Cell::of(f, "NAME")
        .text()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let active = flag(f, "ACTIVE");
    if (name.is_empty() || name == "0") && !active {
        return None;
    }
    let number = Cell::of(f, "FIELD")
        .text()
        .and_then(|t| t.rsplit('#').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(u32::try_from(place).ok()? + 1);
    Some(CabinetField {
        number,
        name,
        active,
        editable: flag(f, "EDITOK"),
        required: flag(f, "ENTREQ"),
        linked: flag(f, "LINKED"),
        folder_level: flag(f, "SUBDIR"),
        private: flag(f, "PRIVAT"),
        user_field: flag(f, "WDUSER"),
        locked: flag(f, "LOCKED"),
        date: flag(f, "MMDDYY"),
        validated: flag(f, "VERIFY"),
        retention: flag(f, "RETENT"),
        max_length: Cell::of(f, "LENGTH").number().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests;
