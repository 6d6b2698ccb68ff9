//! FINDFILES and SORTFILES: a search over the files of the cabinets the user sees, in
//! the envelopes of the reference's findfiles.md: rows on success,
//! `WDRC_ZERO_PROJECT_CLEAN` (9105, `ErrorCount` "1", `data` "") when nothing matches, a
//! row of placeholders on failure.
//!
//! `wd_FIND_QUERY` is read by [`Query`] (the query language) and echoed in `wd_Title`,
//! `wd_Desc` and `wd_Raw_Loc`. Each search opens a document list (see `doclists`),
//! sorted newest first unless `Wd_File_Sort_Key1` says otherwise; SORTFILES re-sorts and
//! pages that list. `skip` (the first line, 1-based by default) and `take` page the rows.
#![allow(non_snake_case)]

use serde::Serialize;

use super::dispatch::Call;
use super::doclists::{self, DocList, Sort};
use super::documents::{DOCUMENTS, Document, cabinets_of, size_text};
use super::envelope::{ErrorFields, ErrorList, WdError, error_count, to_body};
use super::query::Query;
use super::state::State;
use crate::upstream::fields::{msg, param, rc};

/// `wd_Type` of a search.
const FIND_TYPE: &str = "10602";
/// `take` when none is given, as the reference documents.
const DEFAULT_TAKE: usize = 500;

#[derive(Debug, Serialize)]
struct Body<S, D> {
    errorStatus: S,
    data: D,
}

/// `errorStatus` of a search that answered rows, and of a failed one.
#[derive(Debug, Serialize)]
struct Status {
    List_ID: String,
    List_Count: String,
    ErrorCount: String,
    #[serde(flatten)]
    first: ErrorFields,
    wd_Tab: String,
    wd_Type: String,
    #[serde(flatten)]
    location: Location,
}

/// `errorStatus` of an empty result: no `wd_Type`, an `Error` list, as 9105 shows.
#[derive(Debug, Serialize)]
struct EmptyStatus {
    List_ID: String,
    List_Count: String,
    ErrorCount: String,
    #[serde(flatten)]
    first: ErrorFields,
    wd_Tab: String,
    #[serde(flatten)]
    location: Location,
    Error: ErrorList,
}

/// What the list shows, in words and in Worldox's location syntax.
#[derive(Debug, Default, Serialize)]
struct Location {
    wd_Title: String,
    wd_Desc: String,
    wd_Desc_Loc: String,
    wd_Raw_Loc: String,
    wd_True_Loc: String,
    wd_Groupings: &'static str,
}

#[derive(Debug, Serialize)]
struct Row {
    XN: String,
    FN: &'static str,
    UPD: String,
    LSZ: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    CM: &'static str,
    I: &'static str,
    stFl: &'static str,
    stIc: &'static str,
    HASH: String,
    EXT: String,
    LN: String,
    RN: String,
    CBID: String,
    FP: &'static str,
    CRTD: String,
    ACC: String,
    FPR: String,
    PSD: &'static str,
}

/// FINDFILES: a new list of the matches, its first page answered.
pub(crate) fn find(state: &mut State, call: &Call<'_>) -> Vec<u8> {
    let sid = call.params.get(param::SID).unwrap_or_default();
    let user = match state.session_user(Some(sid), call.now) {
        Ok(user) => user,
        Err(error) => return failure(&error),
    };
    let username = state.users[user].profile.username.as_str();
    let query = Query::parse(call.params.get(param::FIND_QUERY).unwrap_or_default());
    if query.project.is_some() {
        // No temporary projects exist here yet: an unknown path, as FILEWDL says it.
        return failure(&WdError::new(rc::FILE_NOT_FOUND, msg::FILE_NOT_FOUND));
    }
    let cabinets: Vec<u32> = cabinets_of(username)
        .map(|c| c.id)
        .filter(|id| query.cabinets.as_ref().is_none_or(|only| only.contains(id)))
        .collect();
    // RN is a file's place among the matches in storage order.
    let rows: Vec<usize> = DOCUMENTS
        .iter()
        .enumerate()
        .filter(|(_, d)| cabinets.contains(&d.cabinet) && query.matches(d))
        .map(|(i, _)| i)
        .collect();
    let highlights = query.highlights().into_iter().map(str::to_owned).collect();
    let mut list = DocList::new(rows, query.title(), highlights, cabinets);
    doclists::sort(&mut list, DOCUMENTS, sort_of(call).unwrap_or_default());
    let answer = if list.rows.is_empty() {
        None
    } else {
        Some(page(&list, call, state.skip_base))
    };
    let location = location(&list.echo, &list.cabinets);
    let count = list.rows.len();
    let list_id = state.doc_lists.open(sid, list);
    match answer {
        None => empty(list_id, location),
        Some(rows) => found(list_id, count, location, rows),
    }
}

/// SORTFILES: an existing list re-sorted (`LN` renumbered, `RN` kept) and paged, in
/// FINDFILES' shape with the same List_ID.
pub(crate) fn sort_files(state: &mut State, call: &Call<'_>) -> Vec<u8> {
    let sid = call.params.get(param::SID).unwrap_or_default();
    if let Err(error) = state.session_user(Some(sid), call.now) {
        return failure(&error);
    }
    let list_id = call.params.get(param::LIST_ID).unwrap_or_default().trim();
    let skip_base = state.skip_base;
    let list = match state.doc_lists.get_mut(sid, list_id) {
        Ok(list) => list,
        Err(error) => return failure(&error),
    };
    if let Some(sort) = sort_of(call) {
        doclists::sort(list, DOCUMENTS, sort);
    }
    let location = location(&list.echo, &list.cabinets);
    if list.rows.is_empty() {
        return empty(list_id.to_owned(), location);
    }
    let rows = page(list, call, skip_base);
    found(list_id.to_owned(), list.rows.len(), location, rows)
}

/// The rows of `list` that `skip` and `take` ask for. `skip` names the first line:
/// 1-based with 0 meaning 1 (the reference's "0 is the value" and the real client's
/// `skip + 1`), or 0-based when `sim.skip_base` is 0. `take` defaults to 500 and is
/// capped there.
fn page(list: &DocList, call: &Call<'_>, skip_base: u8) -> Vec<Row> {
    let skip = number(call.params.get(param::SKIP)).unwrap_or(0);
    let take = number(call.params.get(param::TAKE))
        .unwrap_or(DEFAULT_TAKE)
        .min(DEFAULT_TAKE);
    let first_line = if skip_base == 0 {
        skip + 1
    } else {
        skip.max(1)
    };
    let highlights: Vec<&str> = list.highlights.iter().map(String::as_str).collect();
    list.order
        .iter()
        .enumerate()
        .skip(first_line - 1)
        .take(take)
        .map(|(line, &place)| {
            row(
                &DOCUMENTS[list.rows[place]],
                line + 1,
                place + 1,
                &highlights,
            )
        })
        .collect()
}

/// The sort a call asks for (`Wd_File_Sort_Key1`, `wd_File_Sort_Dir1`: 1 descending).
fn sort_of(call: &Call<'_>) -> Option<Sort> {
    let key = number(call.params.get(param::SORT_KEY))?;
    let descending = call.params.get(param::SORT_DIR).map(str::trim) != Some("0");
    Some(Sort {
        key: u32::try_from(key).ok()?,
        descending,
    })
}

/// A page of rows.
fn found(list_id: String, count: usize, location: Location, rows: Vec<Row>) -> Vec<u8> {
    to_body(Body {
        errorStatus: Status {
            List_ID: list_id,
            List_Count: count.to_string(),
            ErrorCount: error_count(None),
            first: ErrorFields::default(),
            wd_Tab: format!("{FIND_TYPE}:{}", location.wd_Title),
            wd_Type: FIND_TYPE.to_owned(),
            location,
        },
        data: rows,
    })
}

/// No rows: 9105 with `ErrorCount` "1", `data` "" and the List_ID, as the reference shows.
fn empty(list_id: String, location: Location) -> Vec<u8> {
    let empty = WdError::new(rc::ZERO_PROJECT_CLEAN, msg::ZERO_PROJECT_CLEAN);
    to_body(Body {
        errorStatus: EmptyStatus {
            List_ID: list_id,
            List_Count: "0".to_owned(),
            ErrorCount: error_count(Some(&empty)),
            first: ErrorFields::of(Some(&empty)),
            wd_Tab: format!("{FIND_TYPE}:{}", location.wd_Title),
            location,
            Error: ErrorList::of(Some(&empty)),
        },
        data: "",
    })
}

/// The failed answer: an empty location and one row of unfilled placeholders.
pub(crate) fn failure(error: &WdError) -> Vec<u8> {
    let placeholders: Vec<(&str, &str)> = vec![
        ("XN", "%:Xname%"),
        ("FN", "%:DOCID%"),
        ("UPD", "%:wUPDATED%"),
        ("LSZ", "%:SIZE%"),
        ("CM", "%:COMMENTS%"),
        ("VER", "%:VERSION%"),
        ("I", "%:wSTATUSID%"),
        ("dwRC", "%:dwRC%"),
        ("stFl", "%:wSTATUS_FLAGS%"),
        ("stIc", "%:wSTATUS_ICON%"),
        ("CAT_ID", "%:CATS_JSON%"),
        ("HASH", "%:H#%"),
        ("FF", "%:FAVORITE%"),
        ("EXT", "%:EXT%"),
        ("LN", "%:L#%"),
        ("RN", "%:R#%"),
        ("CBID", "%:wGROUP%"),
        ("FP", "%:UNCPG_PATHONLY%"),
        ("CRTD", "%:wCREATED%"),
        ("ACC", "%:wACCESSED%"),
        ("CHKOUT_TO_PREF", "%:CHKOUT_TO_PREF%"),
        ("CHKOUT_TO_NAME", "%:CHKOUT_TO_NAME%"),
        ("CHKOUT_ON_PREF", "%:CHKOUT_ON_PREF%"),
        ("CHKOUT_ON_DATE", "%:CHKOUT_ON_DATE%"),
        ("CHKOUT_TO_LINE", "%:CHKOUT_TO_LINE%"),
        ("FPR", "%:UNCPG_PATHFILE%"),
        ("PSL", "%SHARED_LINK%"),
        ("PSU", "%SHARED_USER%"),
        ("PSD", "%SHARED_DATE%"),
    ];
    to_body(Body {
        errorStatus: Status {
            List_ID: String::new(),
            List_Count: String::new(),
            ErrorCount: error_count(Some(error)),
            first: ErrorFields::of(Some(error)),
            wd_Tab: ":".to_owned(),
            wd_Type: String::new(),
            location: Location {
                wd_Groupings: "0",
                ..Location::default()
            },
        },
        data: [Ordered(placeholders)],
    })
}

/// An object whose keys keep the order given (serde_json's maps would sort them).
#[derive(Debug)]
struct Ordered(Vec<(&'static str, &'static str)>);

impl Serialize for Ordered {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

fn location(query: &str, cabinets: &[u32]) -> Location {
    let groups: Vec<String> = cabinets.iter().map(u32::to_string).collect();
    let desc = format!("Find: Name={query}; using Quick Access <Active>");
    let raw = format!("?E {query} | ?G {} ?R D ?@Quick Access", groups.join(";"));
    Location {
        wd_Title: format!("Find: Name={query} ..."),
        wd_Desc: desc.clone(),
        wd_Desc_Loc: desc,
        wd_Raw_Loc: raw.clone(),
        wd_True_Loc: raw,
        wd_Groupings: "0",
    }
}

fn number(value: Option<&str>) -> Option<usize> {
    value.and_then(|v| v.trim().parse().ok())
}

fn row(doc: &Document, ln: usize, rn: usize, highlights: &[&str]) -> Row {
    let ext = doc
        .file_name
        .rsplit_once('.')
        .map_or(String::new(), |(_, e)| e.to_ascii_uppercase());
    let mut row = Row {
        XN: highlight(doc.description, highlights),
        FN: doc.file_name,
        UPD: doc.updated.to_string(),
        LSZ: size_text(doc.size),
        CM: doc.comments,
        I: "0",
        stFl: "5",
        stIc: "0",
        HASH: String::new(),
        EXT: ext,
        LN: ln.to_string(),
        RN: rn.to_string(),
        CBID: doc.cabinet.to_string(),
        FP: doc.folder,
        CRTD: doc.created.to_string(),
        ACC: doc.accessed.to_string(),
        FPR: format!("{}\\{}", doc.folder, doc.file_name),
        PSD: "<undefined>",
    };
    // "Hash of every value above it": FNV-1a over the fields before HASH.
    let hashed = [
        row.XN.as_str(),
        row.FN,
        &row.UPD,
        &row.LSZ,
        row.CM,
        row.I,
        row.stFl,
        row.stIc,
    ];
    row.HASH = format!("x{:08X}", fnv1a(&hashed.join("\u{1f}")));
    row
}

/// The description with each match of the query's terms wrapped as the web client
/// shows it.
fn highlight(text: &str, terms: &[&str]) -> String {
    terms
        .iter()
        .fold(text.to_owned(), |text, term| highlight_one(&text, term))
}

fn highlight_one(text: &str, term: &str) -> String {
    if term.is_empty() || text.contains("<span") {
        return text.to_owned();
    }
    let (lower, needle) = (text.to_ascii_lowercase(), term.to_ascii_lowercase());
    let mut out = String::with_capacity(text.len() + 40);
    let mut at = 0;
    while let Some(found) = lower[at..].find(&needle) {
        let start = at + found;
        let end = start + needle.len();
        out.push_str(&text[at..start]);
        out.push_str("<span class='selectedTxt'>");
        out.push_str(&text[start..end]);
        out.push_str("</span>");
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
