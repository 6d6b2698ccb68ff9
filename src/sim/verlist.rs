//! VERLIST: a new list of one record's versions (verlist.md): the newest stored first
//! (`RN` 1), shown oldest first unless a sort key says otherwise; rows with `VER`,
//! `SZ`, `LID`, `Name` (`…(00014410-1x51615).DOCX`) and, for earlier versions, `~VER\n`
//! folders in `FP`, `FPR` and `LOC`. DOWNLOAD works on its rows.
#![allow(non_snake_case)]

use serde::Serialize;

use super::dispatch::Call;
use super::doclists::{self, DocList, Sort, sort_key};
use super::envelope::{ErrorFields, ErrorList, WdError, error_count, to_body};
use super::findfiles::{lines_wanted, number};
use super::rows::{self, Ordered, Place, Style};
use super::serve::{FIELD_PLACEHOLDERS, RECORD_TAIL_PLACEHOLDERS, bare_cats, with_list_id};
use super::state::State;
use crate::upstream::fields::{msg, param, rc};

/// `wd_Tab`'s type of a version list.
const VERSION_TYPE: &str = "12201";

#[derive(Debug, Serialize)]
struct Body<D> {
    errorStatus: Status,
    data: D,
}

#[derive(Debug, Serialize)]
struct Status {
    List_ID: String,
    List_Count: String,
    ErrorCount: String,
    #[serde(flatten)]
    first: ErrorFields,
    wd_Tab: String,
    wd_Title: String,
    wd_Desc: String,
    wd_Desc_Loc: String,
    wd_Raw_Loc: String,
    wd_True_Loc: String,
    wd_Groupings: &'static str,
    Error: ErrorList,
}

/// VERLIST.
pub(crate) fn versions(state: &mut State, call: &Call<'_>) -> Vec<u8> {
    let sid = call.params.get(param::SID).unwrap_or_default().to_owned();
    let from = call.params.get(param::LIST_ID).unwrap_or_default().trim();
    let user = match state.session_user(Some(&sid), call.now) {
        Ok(user) => user,
        Err(error) => return failure_for(from, &error),
    };
    let source = match state.doc_lists.get(&sid, from) {
        Ok(list) => list,
        Err(error) => return failure_for(from, &error),
    };
    let item = number(call.params.get(param::LIST_REC_NUM))
        .and_then(|rn| rn.checked_sub(1))
        .and_then(|place| source.rows.get(place).copied());
    let Some(item) = item else {
        return failure_for(from, &WdError::new(rc::LISTID_INVALID, msg::LISTID_INVALID));
    };
    let record = &state.store.records[item.doc];
    let newest_first: Vec<u32> = record.versions.iter().rev().map(|v| v.number).collect();
    let mut folders = record.location_of(record.current().number);
    folders.push('\\');
    folders.push_str(&record.seed.file_name.to_ascii_uppercase());
    let raw = format!(
        "Version List: \\\\fs01\\worldox\\Data\\{}\\{}",
        record.cabinet().map_or("", |c| c.name),
        folders.split_once('\\').map_or("", |(_, rest)| rest)
    );
    let mut list = DocList::versions(item.doc, newest_first, folders.clone());
    let wanted = number(call.params.get(param::SORT_KEY)).map(|key| Sort {
        key: u32::try_from(key).unwrap_or(sort_key::VERSION),
        descending: call.params.get(param::SORT_DIR).map(str::trim) != Some("0"),
    });
    if let Some(sort) = wanted {
        doclists::sort(&mut list, &state.store.records, sort);
    }
    let viewer = state.users[user].profile.username.clone();
    let (first_line, take) = lines_wanted(call, state.skip_base);
    let count = list.rows.len();
    let list_id = state.doc_lists.open(&sid, list.clone());
    let data: Vec<Ordered<String>> = list
        .order
        .iter()
        .enumerate()
        .skip(first_line - 1)
        .take(take)
        .map(|(line, &place)| {
            let it = list.rows[place];
            rows::rich_row(
                &state.store.records[it.doc],
                it.version.unwrap_or(1),
                Place {
                    ln: line + 1,
                    rn: place + 1,
                    list_id: &list_id,
                },
                &viewer,
                Style::VersionList,
            )
        })
        .collect();
    to_body(Body {
        errorStatus: Status {
            List_ID: list_id.clone(),
            List_Count: count.to_string(),
            ErrorCount: error_count(None),
            first: ErrorFields::default(),
            wd_Tab: format!("{VERSION_TYPE}:{folders}"),
            wd_Title: folders.clone(),
            wd_Desc: folders.clone(),
            wd_Desc_Loc: format!("Version List: {folders}"),
            wd_Raw_Loc: raw.clone(),
            wd_True_Loc: raw,
            wd_Groupings: "0",
            Error: ErrorList::of(None),
        },
        data,
    })
}

/// VERLIST's failure answer for `error`.
pub(crate) fn failure(call: &Call<'_>, error: &WdError) -> Vec<u8> {
    failure_for(
        call.params.get(param::LIST_ID).unwrap_or_default().trim(),
        error,
    )
}

/// The failed answer of verlist.md: the List_ID sent, one row of placeholders with
/// `CAT_ID` unquoted.
fn failure_for(list_id: &str, error: &WdError) -> Vec<u8> {
    let mut placeholders: Vec<(&'static str, &'static str)> = vec![
        ("XN", "%:Xname%"),
        ("FN", "%:DOCID%"),
        ("UPD", "%:wUPDATED%"),
        ("SZ", "%:SIZE%"),
        ("CM", "%:COMMENTS%"),
        ("VER", "%:VERSION%"),
        ("I", "%:wSTATUSID%"),
        ("stFl", "%:wSTATUS_FLAGS%"),
        ("stIc", "%:wSTATUS_ICON%"),
        ("CAT_ID", "%CATS_JSON%"),
        ("HASH", "%:H#%"),
        ("dwRC", "%:dwRC%"),
        ("FP", "%:UNCPG_PATHONLY%"),
        ("FPR", "%:UNCPG_PATHFILE%"),
        ("LN", "%:L#%"),
        ("RN", "%:R#%"),
        ("LID", ""),
    ];
    placeholders.extend(FIELD_PLACEHOLDERS);
    placeholders.extend(RECORD_TAIL_PLACEHOLDERS);
    let row = with_list_id(placeholders, list_id);
    bare_cats(&to_body(Body {
        errorStatus: Status {
            List_ID: list_id.to_owned(),
            List_Count: String::new(),
            ErrorCount: error_count(Some(error)),
            first: ErrorFields::of(Some(error)),
            wd_Tab: ":".to_owned(),
            wd_Title: String::new(),
            wd_Desc: String::new(),
            wd_Desc_Loc: String::new(),
            wd_Raw_Loc: String::new(),
            wd_True_Loc: String::new(),
            wd_Groupings: "0",
            Error: ErrorList::of(Some(error)),
        },
        data: [Ordered(row)],
    }))
}
