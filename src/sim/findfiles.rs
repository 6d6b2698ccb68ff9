//! FINDFILES and SORTFILES: a search over the files of the cabinets the user sees, in
//! the envelopes of the reference's findfiles.md: rows on success,
//! `WDRC_ZERO_PROJECT_CLEAN` (9105, `ErrorCount` "1", `data` "") when nothing matches, a
//! row of placeholders on failure.
//!
//! `wd_FIND_QUERY` is read by [`Query`] (the query language) and echoed in `wd_Title`,
//! `wd_Desc` and `wd_Raw_Loc`. Each search opens a document list (see `doclists`),
//! sorted newest first unless `Wd_File_Sort_Key1` says otherwise; SORTFILES re-sorts and
//! pages that list. `skip` (the first line, 1-based by default) and `take` page the rows.
//! The structured `wd_File_*_Filter` parameters narrow the matches too (see `filters`),
//! and a hidden document is found by the user who hid it only.
#![allow(non_snake_case)]

use serde::Serialize;

use super::dispatch::Call;
use super::doclists::{self, DocList, Sort};
use super::documents::cabinets_of;
use super::envelope::{ErrorFields, ErrorList, WdError, error_count, to_body};
use super::filters::Filters;
use super::query::Query;
use super::rows::{self, AnyRow};
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
pub(crate) struct Location {
    pub(crate) wd_Title: String,
    pub(crate) wd_Desc: String,
    pub(crate) wd_Desc_Loc: String,
    pub(crate) wd_Raw_Loc: String,
    pub(crate) wd_True_Loc: String,
    pub(crate) wd_Groupings: &'static str,
}

/// FINDFILES: a new list of the matches, its first page answered.
pub(crate) fn find(state: &mut State, call: &Call<'_>) -> Vec<u8> {
    let sid = call.params.get(param::SID).unwrap_or_default();
    let user = match state.session_user(Some(sid), call.now) {
        Ok(user) => user,
        Err(error) => return failure(&error),
    };
    let username = state.users[user].profile.username.clone();
    let username = username.as_str();
    let query = Query::parse(call.params.get(param::FIND_QUERY).unwrap_or_default());
    if query.project.is_some() {
        // No temporary projects exist here yet: an unknown path, as FILEWDL says it.
        return failure(&WdError::new(rc::FILE_NOT_FOUND, msg::FILE_NOT_FOUND));
    }
    let filters = Filters::of(call);
    let cabinets: Vec<u32> = cabinets_of(username)
        .map(|c| c.id)
        .filter(|id| query.cabinets.as_ref().is_none_or(|only| only.contains(id)))
        .filter(|id| {
            filters
                .cabinets
                .as_ref()
                .is_none_or(|only| only.contains(id))
        })
        .collect();
    // RN is a file's place among the matches in storage order.
    let records = &state.store.records;
    let rows: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            cabinets.contains(&r.cabinet)
                && r.seed.security.finds(username)
                && query.matches(r.seed)
                && filters.matches(r)
        })
        .map(|(i, _)| i)
        .collect();
    let highlights = query.highlights().into_iter().map(str::to_owned).collect();
    let mut list = DocList::new(rows, query.title(), highlights, cabinets);
    doclists::sort(&mut list, records, sort_of(call).unwrap_or_default());
    let answer = if list.rows.is_empty() {
        None
    } else {
        Some(page(state, &list, "", call, username))
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
    let user = match state.session_user(Some(sid), call.now) {
        Ok(user) => user,
        Err(error) => return failure(&error),
    };
    let list_id = call.params.get(param::LIST_ID).unwrap_or_default().trim();
    let list = match state.doc_lists.get_mut(sid, list_id) {
        Ok(list) => list,
        Err(error) => return failure(&error),
    };
    if let Some(sort) = sort_of(call) {
        doclists::sort(list, &state.store.records, sort);
    }
    let list = list.clone();
    let username = state.users[user].profile.username.clone();
    page_answer(state, &list, list_id, call, &username)
}

/// A page of an existing list in FINDFILES' shape (SORTFILES, and SERVE with
/// `fileList.json`).
pub(crate) fn page_answer(
    state: &State,
    list: &DocList,
    list_id: &str,
    call: &Call<'_>,
    viewer: &str,
) -> Vec<u8> {
    let location = location(&list.echo, &list.cabinets);
    if list.rows.is_empty() {
        return empty(list_id.to_owned(), location);
    }
    let rows = page(state, list, list_id, call, viewer);
    found(list_id.to_owned(), list.rows.len(), location, rows)
}

/// The rows of `list` that `skip` and `take` ask for (see [`lines_wanted`]). `skip` names the first line:
/// 1-based with 0 meaning 1 (the reference's "0 is the value" and the real client's
/// `skip + 1`), or 0-based when `sim.skip_base` is 0. `take` defaults to 500 and is
/// capped there.
fn page(
    state: &State,
    list: &DocList,
    list_id: &str,
    call: &Call<'_>,
    viewer: &str,
) -> Vec<AnyRow> {
    let (first_line, take) = lines_wanted(call, state.skip_base);
    let highlights: Vec<&str> = list.highlights.iter().map(String::as_str).collect();
    list.order
        .iter()
        .enumerate()
        .skip(first_line - 1)
        .take(take)
        .map(|(line, &place)| {
            let item = list.rows[place];
            let record = &state.store.records[item.doc];
            match item.version {
                None => AnyRow::Search(Box::new(rows::search_row(
                    record,
                    line + 1,
                    place + 1,
                    &highlights,
                    viewer,
                ))),
                Some(version) => AnyRow::Rich(rows::rich_row(
                    record,
                    version,
                    rows::Place {
                        ln: line + 1,
                        rn: place + 1,
                        list_id,
                    },
                    viewer,
                    rows::Style::VersionList,
                )),
            }
        })
        .collect()
}

/// The first line (1-based) and the number of lines `skip` and `take` ask for.
pub(crate) fn lines_wanted(call: &Call<'_>, skip_base: u8) -> (usize, usize) {
    let skip = number(call.params.get(param::SKIP)).unwrap_or(0);
    let take = number(call.params.get(param::TAKE))
        .unwrap_or(DEFAULT_TAKE)
        .min(DEFAULT_TAKE);
    let first_line = if skip_base == 0 {
        skip.saturating_add(1)
    } else {
        skip.max(1)
    };
    (first_line, take)
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
fn found(list_id: String, count: usize, location: Location, rows: Vec<AnyRow>) -> Vec<u8> {
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
        data: [rows::Ordered(placeholders)],
    })
}

pub(crate) fn location(query: &str, cabinets: &[u32]) -> Location {
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

pub(crate) fn number(value: Option<&str>) -> Option<usize> {
    value.and_then(|v| v.trim().parse().ok())
}
