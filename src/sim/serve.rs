//! SERVE: a template served in the session's context (serve.md). The simulator serves
//! `rereadrecord.json` (one record re-read fresh from the store), `fileList.json`
//! (a page of an existing list), the deprecated `/api/…/authCheck.json` (a flat
//! session probe) and `getVar.json` (canned dialog text for an error code). Any other
//! template is a missing one: the top-level 8275 shape of DOCUMENTS.md T6.4, which
//! names the template's path on the server, its last character cut off as the
//! reference shows (`fieldTables.jso`).
#![allow(non_snake_case)]

use serde::Serialize;

use super::dispatch::Call;
use super::envelope::{ErrorFields, WdError, error_count, to_body};
use super::findfiles::{self, lines_wanted, number};
use super::rows::{self, Ordered, Place, Style};
use super::state::State;
use crate::upstream::cgi::encode;
use crate::upstream::fields::{msg, param, rc, template};

/// Where the server keeps its templates, as the missing-template answer shows.
const TEMPLATE_ROOT: &str = "C:\\WorldoxWeb3\\JSON\\20201120";

/// SERVE.
pub(crate) fn serve(state: &mut State, call: &Call<'_>) -> Vec<u8> {
    let page = call
        .params
        .get(param::HTML)
        .or_else(|| call.params.get(param::HTML_ON_OK))
        .unwrap_or_default();
    let normal = normalize(page);
    if normal == normalize(template::REREAD_RECORD) {
        reread(state, call)
    } else if normal == normalize(template::FILE_LIST) {
        file_list(state, call)
    } else if normal == normalize(template::AUTH_CHECK) {
        auth_check(state, call)
    } else if normal == normalize(template::GET_VAR) || normal == "api/errorlog/getvar.json" {
        get_var(call)
    } else {
        missing_template(page)
    }
}

/// The failure answer of SERVE for `error` (as rereadrecord's template writes it).
pub(crate) fn failure(call: &Call<'_>, error: &WdError) -> Vec<u8> {
    let list_id = call.params.get(param::LIST_ID).unwrap_or_default().trim();
    reread_failure(list_id, error)
}

/// A template path compared as the server finds files: no case, either slash, no
/// leading one.
fn normalize(page: &str) -> String {
    page.trim()
        .replace('\\', "/")
        .trim_start_matches('/')
        .to_ascii_lowercase()
}

#[derive(Debug, Serialize)]
struct RereadBody<D> {
    errorStatus: RereadStatus,
    data: D,
}

#[derive(Debug, Serialize)]
struct RereadStatus {
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
    wd_List_Count_ALL: String,
    wd_List_Count_XML: String,
    wd_Groupings: &'static str,
}

/// `rereadrecord.json`: re-reads record `wd_List_RecNum` of the list (8375 when the
/// list has no such record), then answers the lines `skip` and `take` name, rich and
/// fresh (without `skip`, the record's own line). As on the server, the rows answered
/// are the ones at those lines: a caller that sends a stale `skip` gets another
/// record's row, and must check its `RN`.
fn reread(state: &mut State, call: &Call<'_>) -> Vec<u8> {
    let sid = call.params.get(param::SID).unwrap_or_default();
    let list_id = call.params.get(param::LIST_ID).unwrap_or_default().trim();
    let user = match state.session_user(Some(sid), call.now) {
        Ok(user) => user,
        Err(error) => return reread_failure(list_id, &error),
    };
    let list = match state.doc_lists.get(sid, list_id) {
        Ok(list) => list.clone(),
        Err(error) => return reread_failure(list_id, &error),
    };
    let invalid = || WdError::new(rc::LISTID_INVALID, msg::LISTID_INVALID);
    let rec = call.params.get(param::LIST_REC_NUM);
    let mut record_line = None;
    if let Some(rec) = rec.filter(|r| !r.trim().is_empty()) {
        let line = number(Some(rec)).and_then(|rn| list.line_of(rn));
        let Some(line) = line else {
            return reread_failure(list_id, &invalid());
        };
        record_line = Some(line);
    }
    let viewer = state.users[user].profile.username.clone();
    let (mut first_line, mut take) = lines_wanted(call, state.skip_base);
    // Without `skip`, the record named is the row answered.
    if let (Some(line), None) = (record_line, call.params.get(param::SKIP)) {
        (first_line, take) = (line, 1);
    }
    let data: Vec<Ordered<String>> = list
        .order
        .iter()
        .enumerate()
        .skip(first_line - 1)
        .take(take)
        .map(|(line, &place)| {
            let item = list.rows[place];
            let record = &state.store.records[item.doc];
            let version = item.version.unwrap_or_else(|| record.current().number);
            rows::rich_row(
                record,
                version,
                Place {
                    ln: line + 1,
                    rn: place + 1,
                    list_id,
                },
                &viewer,
                Style::Reread,
            )
        })
        .collect();
    let location = findfiles::location(&list.echo, &list.cabinets);
    let count = list.rows.len().to_string();
    to_body(RereadBody {
        errorStatus: RereadStatus {
            List_ID: list_id.to_owned(),
            List_Count: count.clone(),
            ErrorCount: error_count(None),
            first: ErrorFields::default(),
            wd_Tab: format!("10602:{}", location.wd_Title),
            wd_Title: location.wd_Title,
            wd_Desc: location.wd_Desc,
            wd_Desc_Loc: location.wd_Desc_Loc,
            wd_Raw_Loc: location.wd_Raw_Loc,
            wd_True_Loc: location.wd_True_Loc,
            wd_List_Count_ALL: count.clone(),
            wd_List_Count_XML: count,
            wd_Groupings: "0",
        },
        data,
    })
}

/// The failed rereadrecord answer of serve.md: one row of placeholders, `CAT_ID`
/// unquoted.
fn reread_failure(list_id: &str, error: &WdError) -> Vec<u8> {
    let mut placeholders: Vec<(&'static str, &'static str)> = vec![
        ("XN", "%:Xname%"),
        ("FN", "%:DOCID%"),
        ("UPD", "%:wUPDATED%"),
        ("SZ", "%:SIZE%"),
        ("CM", "%:COMMENTS%"),
        ("VER", "%:VERSION%"),
        ("dwRC", "%:dwRC%"),
        ("I", "%:wSTATUSID%"),
        ("stFl", "%:wSTATUS_FLAGS%"),
        ("stIc", "%:wSTATUS_ICON%"),
        ("CAT_ID", "%CATS_JSON%"),
        ("HASH", "%:H#%"),
        ("FPR", "%:UNCPG_PATHFILE%"),
        ("LN", "%:L#%"),
        ("RN", "%:R#%"),
        ("LID", ""),
    ];
    placeholders.extend(FIELD_PLACEHOLDERS);
    placeholders.extend(RECORD_TAIL_PLACEHOLDERS);
    placeholders.extend([
        ("PSL", "%:SHARED_LINK%"),
        ("PSU", "%:SHARED_USER%"),
        ("PSD", "%:SHARED_DATE%"),
    ]);
    let row = with_list_id(placeholders, list_id);
    let body = to_body(RereadBody {
        errorStatus: RereadStatus {
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
            wd_List_Count_ALL: String::new(),
            wd_List_Count_XML: String::new(),
            wd_Groupings: "0",
        },
        data: [Ordered(row)],
    });
    bare_cats(&body)
}

/// The field placeholders of a failed list row, fields 1 to 7.
/// The placeholders a failed record row ends with after its field codes (serve.md and
/// verlist.md agree on these).
pub(crate) const RECORD_TAIL_PLACEHOLDERS: [(&str, &str); 17] = [
    ("ACC", "%:wACCESSED%"),
    ("CRTD", "%:wCREATED%"),
    ("PathMap", "%:PATHMAP%"),
    ("CBID", "%:wGROUP%"),
    ("CBNM", "%:GROUP%"),
    ("LOC", "%:PATH%"),
    ("EXT", "%:EXT%"),
    ("OW", "%:OWNERINIT%"),
    ("FF", "%:FAVORITE%"),
    ("GT", "%:EXT%"),
    ("Name", "%:LONGNAME%"),
    ("szRC", "%:szRC%"),
    ("CHKOUT_TO_PREF", "%:CHKOUT_TO_PREF%"),
    ("CHKOUT_TO_NAME", "%:CHKOUT_TO_NAME%"),
    ("CHKOUT_ON_PREF", "%:CHKOUT_ON_PREF%"),
    ("CHKOUT_ON_DATE", "%:CHKOUT_ON_DATE%"),
    ("CHKOUT_TO_LINE", "%:CHKOUT_TO_LINE%"),
];

/// A failed row's placeholders as values, its `LID` filled with the list's id (the one
/// key the templates fill even on failure).
pub(crate) fn with_list_id(
    placeholders: Vec<(&'static str, &'static str)>,
    list_id: &str,
) -> Vec<(&'static str, String)> {
    placeholders
        .into_iter()
        .map(|(k, v)| (k, if k == "LID" { list_id } else { v }.to_owned()))
        .collect()
}

pub(crate) const FIELD_PLACEHOLDERS: [(&str, &str); 21] = [
    ("F1C", "%:FIELD1%"),
    ("F1D", "%:FIELD1DESC%"),
    ("F1N", "%:Field1Name%"),
    ("F2C", "%:FIELD2%"),
    ("F2D", "%:FIELD2DESC%"),
    ("F2N", "%:Field2Name%"),
    ("F3C", "%:FIELD3%"),
    ("F3D", "%:FIELD3DESC%"),
    ("F3N", "%:Field3Name%"),
    ("F4C", "%:FIELD4%"),
    ("F4D", "%:FIELD4DESC%"),
    ("F4N", "%:Field4Name%"),
    ("F5C", "%:FIELD5%"),
    ("F5D", "%:FIELD5DESC%"),
    ("F5N", "%:Field5Name%"),
    ("F6C", "%:FIELD6%"),
    ("F6D", "%:FIELD6DESC%"),
    ("F6N", "%:Field6Name%"),
    ("F7C", "%:FIELD7%"),
    ("F7D", "%:FIELD7DESC%"),
    ("F7N", "%:Field7Name%"),
];

/// Unquotes `"CAT_ID":"%CATS_JSON%"`, as the reference prints the failed templates.
pub(crate) fn bare_cats(body: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(body)
        .replacen(r#""CAT_ID":"%CATS_JSON%""#, r#""CAT_ID":%CATS_JSON%"#, 1)
        .into_bytes()
}

/// `fileList.json`: a page of an existing list, in FINDFILES' shape.
fn file_list(state: &mut State, call: &Call<'_>) -> Vec<u8> {
    let sid = call.params.get(param::SID).unwrap_or_default();
    let user = match state.session_user(Some(sid), call.now) {
        Ok(user) => user,
        Err(error) => return findfiles::failure(&error),
    };
    let list_id = call.params.get(param::LIST_ID).unwrap_or_default().trim();
    let list = match state.doc_lists.get(sid, list_id) {
        Ok(list) => list.clone(),
        Err(error) => return findfiles::failure(&error),
    };
    let viewer = state.users[user].profile.username.clone();
    findfiles::page_answer(state, &list, list_id, call, &viewer)
}

#[derive(Debug, Serialize)]
struct AuthCheck {
    session: String,
    servername: &'static str,
    user: String,
    email: String,
    ErrorCount: String,
}

/// `/api/authentication/authCheck.json`: the deprecated flat shape; `user` is empty
/// when the session is gone.
fn auth_check(state: &mut State, call: &Call<'_>) -> Vec<u8> {
    let sid = call.params.get(param::SID).unwrap_or_default();
    let answer = match state.session_user(Some(sid), call.now) {
        Ok(user) => {
            let profile = &state.users[user].profile;
            AuthCheck {
                session: encode(sid).into_owned(),
                servername: "_5D839152_51615_F",
                user: profile.name.clone(),
                email: profile.email.clone(),
                ErrorCount: String::new(),
            }
        }
        Err(_) => AuthCheck {
            session: String::new(),
            servername: "",
            user: String::new(),
            email: String::new(),
            ErrorCount: "1".to_owned(),
        },
    };
    serde_json::to_vec(&answer).unwrap_or_default()
}

#[derive(Debug, Serialize)]
struct GetVar {
    Dialog: Vec<String>,
    errorStatus: ErrorStatusShort,
}

#[derive(Debug, Serialize)]
struct ErrorStatusShort {
    ErrorCount: String,
    #[serde(flatten)]
    first: ErrorFields,
}

/// `getVar.json`: the dialog of an error code (`szVar`), canned: `Dialog[0]` the code,
/// `[1]` the title, `[2]` the text, then the buttons (the real client reads
/// `root.Dialog[1]` as the title).
fn get_var(call: &Call<'_>) -> Vec<u8> {
    let var = call.params.get("szVar").unwrap_or_default().trim();
    let known: &[(&str, &str)] = &[
        ("WDRC_LISTID_INVALID", msg::LISTID_INVALID),
        ("WDRC_LISTID_UNDEFINED", msg::LISTID_UNDEFINED),
        ("WDRC_FILE_NOT_FOUND", msg::FILE_NOT_FOUND),
        ("WDRC_CABINET_INVALID", msg::CABINET_INVALID),
        ("WDRC_PATH_INVALID", msg::PATH_INVALID),
        ("WDRC_ZERO_PROJECT_CLEAN", msg::ZERO_PROJECT_CLEAN),
    ];
    let text = known
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(var))
        .map_or("", |(_, m)| m);
    let mut dialog = vec![var.to_owned()];
    if text.is_empty() {
        dialog.extend([var.to_owned(), String::new(), "OK".to_owned()]);
    } else {
        dialog.extend(
            text.split('\n')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned),
        );
    }
    to_body(GetVar {
        Dialog: dialog,
        errorStatus: ErrorStatusShort {
            ErrorCount: String::new(),
            first: ErrorFields::default(),
        },
    })
}

#[derive(Debug, Serialize)]
struct MissingTemplate {
    error: u16,
    message: &'static str,
    wd_Error_Count: u8,
    wd_Error_MSG: String,
    wd_Error_RCID: u32,
    wd_Error_RCTX: &'static str,
}

/// A template the server does not have: not under `root`, with the server's path.
fn missing_template(page: &str) -> Vec<u8> {
    let mut path = format!(
        "{TEMPLATE_ROOT}\\{}",
        page.trim().replace('/', "\\").trim_start_matches('\\')
    );
    path.pop();
    serde_json::to_vec(&MissingTemplate {
        error: 404,
        message: "File doesn't exist",
        wd_Error_Count: 1,
        wd_Error_MSG: path,
        wd_Error_RCID: 8275,
        wd_Error_RCTX: rc::FILE_NOT_FOUND.1,
    })
    .unwrap_or_default()
}
