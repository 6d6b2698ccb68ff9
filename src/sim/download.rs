//! DOWNLOAD: prepares a per-session copy of a list row's file and answers where it is
//! (download.md; the template's logic from the real client's `download.json`).
//!
//! - No List_ID: `8525 WDRC_PATH_INVALID` then `8380 WDRC_LISTID_UNDEFINED`,
//!   `ErrorCount` "2", as the reference shows; a stale or foreign one: 8525 then 8375.
//! - `wd_List_Offset` 0 or missing: `data.message` `0=wd_List_Offset(<recnum>)` and
//!   `ErrorCount` "" (a failure with no error count, T9).
//! - A record number the list lacks: `data.message` `8275=WDAPI_ReReadRecord(<recnum>)`.
//! - Otherwise: a copy under `/cgi-bin/WDSIDS/<SID>/OPEN/…`, `fileLoc` (percent-encoded
//!   but for `/` and `.`, the SID's `$` as `%24`), `FileNme` (JavaScript `escape()` of
//!   the long name of the row at line `wd_List_Offset`, as the template indexes it, so
//!   a wrong offset names another row's file) and `FileZMS`; `ACC` and `OW` change.
//!   `FavCatInput` adds the file to a favorites category (`FF`), as the template does.
//! - A document protected (or hidden) by another user: `WDRC_FILE_ACCESS_DENIED` (its
//!   number invented), no copy made.
#![allow(non_snake_case)]

use std::time::SystemTime;

use serde::Serialize;

use super::dispatch::Call;
use super::envelope::{ErrorFields, ErrorList, WdError, to_body};
use super::findfiles::number;
use super::state::State;
use super::store::{access_date, js_escape, owner_of, url_path};
use crate::upstream::fields::{msg, param, rc};

#[derive(Debug, Serialize)]
struct Body<D> {
    data: D,
    errorStatus: Status,
}

#[derive(Debug, Serialize)]
struct Located {
    fileLoc: String,
    FileNme: String,
    FileZMS: String,
}

#[derive(Debug, Serialize)]
struct Message {
    message: String,
}

#[derive(Debug, Serialize)]
struct Status {
    ErrorCount: String,
    #[serde(flatten)]
    first: ErrorFields,
    wd_Error_DOCID: String,
    wd_Error_DOCNAME: String,
    req_ID: String,
    Error: ErrorList,
}

/// DOWNLOAD.
pub(crate) fn download(state: &mut State, call: &Call<'_>) -> Vec<u8> {
    let sid = call.params.get(param::SID).unwrap_or_default().to_owned();
    let req_id = call.params.get(param::REQ_ID).unwrap_or_default();
    let user = match state.session_user(Some(&sid), call.now) {
        Ok(user) => user,
        Err(error) => return failure_with(req_id, &[error]),
    };
    let list_id = call.params.get(param::LIST_ID).unwrap_or_default();
    let list = match state.doc_lists.get(&sid, list_id) {
        Ok(list) => list.clone(),
        Err(list_error) => {
            let path = WdError::new(rc::PATH_INVALID, msg::PATH_INVALID);
            let list_error = if list_error.rc == rc::LISTID_UNDEFINED {
                WdError::new(rc::LISTID_UNDEFINED, msg::LISTID_UNDEFINED_DOWNLOAD)
            } else {
                list_error
            };
            return failure_with(req_id, &[path, list_error]);
        }
    };
    let rec_text = call
        .params
        .get(param::LIST_REC_NUM)
        .unwrap_or_default()
        .trim()
        .to_owned();
    let offset = number(call.params.get(param::LIST_OFFSET)).unwrap_or(0);
    if offset == 0 {
        return message(req_id, format!("0=wd_List_Offset({rec_text})"));
    }
    let item = number(Some(&rec_text))
        .and_then(|rn| rn.checked_sub(1))
        .and_then(|place| list.rows.get(place).copied());
    let Some(item) = item else {
        return message(
            req_id,
            format!("{}=WDAPI_ReReadRecord({rec_text})", rc::FILE_NOT_FOUND.0),
        );
    };
    let username = state.users[user].profile.username.clone();
    if !state.store.records[item.doc].seed.security.opens(&username) {
        // A protected (or another user's hidden) document: found, but not opened.
        let denied = WdError::new(rc::FILE_ACCESS_DENIED, msg::FILE_ACCESS_DENIED);
        return failure_with(req_id, &[denied]);
    }
    let version = item
        .version
        .unwrap_or_else(|| state.store.records[item.doc].current().number);
    let Some(path) = state.store.make_copy(&sid, item.doc, version) else {
        return message(
            req_id,
            format!("{}=WDAPI_ReReadRecord({rec_text})", rc::FILE_NOT_FOUND.0),
        );
    };
    // The template names the file after the row at the offset, not the record.
    let named = list.at_line(offset).map_or(String::new(), |at| {
        let record = &state.store.records[at.doc];
        let v = at.version.unwrap_or_else(|| record.current().number);
        js_escape(&record.long_name(v))
    });
    let profile = &state.users[user].profile;
    let owner = owner_of(&profile.name, &profile.username);
    let record = &mut state.store.records[item.doc];
    record.accessed = access_date(SystemTime::now());
    record.owner = owner;
    if let Some(category) = call
        .params
        .get(param::FAV_CAT_INPUT)
        .filter(|c| !c.trim().is_empty())
    {
        record.favorite = Some(category.trim().to_owned());
    }
    let zms = record.zms_path();
    state.document_written();
    to_body(Body {
        data: Located {
            fileLoc: format!("/cgi-bin/WDSIDS/{}/{}", url_path(&sid), url_path(&path)),
            FileNme: named,
            FileZMS: zms,
        },
        errorStatus: status(req_id, &[]),
    })
}

/// DOWNLOAD's failure answer for `error`.
pub(crate) fn failure(call: &Call<'_>, error: &WdError) -> Vec<u8> {
    failure_with(
        call.params.get(param::REQ_ID).unwrap_or_default(),
        std::slice::from_ref(error),
    )
}

fn failure_with(req_id: &str, errors: &[WdError]) -> Vec<u8> {
    to_body(Body {
        data: Located {
            fileLoc: String::new(),
            FileNme: String::new(),
            FileZMS: String::new(),
        },
        errorStatus: status(req_id, errors),
    })
}

fn message(req_id: &str, text: String) -> Vec<u8> {
    to_body(Body {
        data: Message { message: text },
        errorStatus: status(req_id, &[]),
    })
}

fn status(req_id: &str, errors: &[WdError]) -> Status {
    Status {
        ErrorCount: if errors.is_empty() {
            String::new()
        } else {
            errors.len().to_string()
        },
        first: ErrorFields::of(errors.first()),
        wd_Error_DOCID: String::new(),
        wd_Error_DOCNAME: String::new(),
        req_ID: req_id.to_owned(),
        Error: if errors.is_empty() {
            ErrorList::of(None)
        } else {
            ErrorList::List(errors.iter().map(|e| ErrorFields::of(Some(e))).collect())
        },
    }
}
