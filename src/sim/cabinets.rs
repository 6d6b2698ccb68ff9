//! CABINETS: the cabinets the user sees, with their profile fields, in the envelope of
//! the reference's cabinets.md.
//!
//! The failed answer is reproduced as the reference prints it, unquoted placeholders
//! and all (`"PGID":%Cabinet_ID%`), which is not JSON: the gateway has to cope.
#![allow(non_snake_case)]

use serde::Serialize;

use super::dispatch::Call;
use super::documents::{Cabinet, Field, cabinets_of};
use super::envelope::{ErrorFields, ErrorList, WdError, error_count, to_body};
use super::state::State;
use crate::upstream::fields::{msg, param, rc, var};

/// The placeholders the failed answer leaves unquoted, as `(quoted, bare)`.
const BARE: [(&str, &str); 2] = [
    (r#""PGID":"%Cabinet_ID%""#, r#""PGID":%Cabinet_ID%"#),
    (
        r#""Fields":"%Cabinet_FIELDS%""#,
        r#""Fields":%Cabinet_FIELDS%"#,
    ),
];

#[derive(Debug, Serialize)]
struct Body<Row> {
    errorStatus: Status,
    data: Vec<Row>,
}

#[derive(Debug, Serialize)]
struct Status {
    List_Count: String,
    ErrorCount: String,
    #[serde(flatten)]
    first: ErrorFields,
    Error: ErrorList,
}

#[derive(Debug, Serialize)]
struct Row {
    #[serde(rename = "L#")]
    L: String,
    PGID: u32,
    LIST: String,
    Name: &'static str,
    RO: &'static str,
    DO: &'static str,
    DC: &'static str,
    DM: &'static str,
    SV: &'static str,
    PJ: &'static str,
    AA: &'static str,
    Fields: Vec<FieldRow>,
}

#[derive(Debug, Serialize)]
struct FieldRow {
    FIELD: String,
    NAME: &'static str,
    ACTIVE: u8,
    EDITOK: u8,
    ENTREQ: u8,
    LINKED: u8,
    SUBDIR: u8,
    PRIVAT: u8,
    WDUSER: u8,
    LOCKED: u8,
    MMDDYY: u8,
    VERIFY: u8,
    RETENT: u8,
    LENGTH: u32,
}

/// The failed answer's row of unfilled placeholders.
#[derive(Debug, Serialize)]
struct PlaceholderRow {
    #[serde(rename = "L#")]
    L: &'static str,
    PGID: &'static str,
    LIST: &'static str,
    Name: &'static str,
    BP: &'static str,
    RO: &'static str,
    DO: &'static str,
    DC: &'static str,
    DM: &'static str,
    Fields: &'static str,
}

/// CABINETS: `wd_CABINET_ID_VALUE` lists ids (`,` `;` or blank separated); absent or
/// `0` means every cabinet the user sees. An id the user does not see is
/// `WDRC_CABINET_INVALID`.
pub(crate) fn list(state: &mut State, call: &Call<'_>) -> Vec<u8> {
    let user = match state.session_user(call.params.get(param::SID), call.now) {
        Ok(user) => user,
        Err(error) => return failure(&error),
    };
    let username = state.users[user].profile.username.as_str();
    let wanted = match selected(username, call.params.get(param::CABINET_ID_VALUE)) {
        Ok(wanted) => wanted,
        Err(error) => return failure(&error),
    };
    let data: Vec<Row> = wanted
        .iter()
        .enumerate()
        .map(|(i, cabinet)| row(i + 1, cabinet))
        .collect();
    to_body(Body {
        errorStatus: Status {
            List_Count: data.len().to_string(),
            ErrorCount: error_count(None),
            first: ErrorFields::default(),
            Error: ErrorList::of(None),
        },
        data,
    })
}

/// The failed answer, as the reference prints it.
pub(crate) fn failure(error: &WdError) -> Vec<u8> {
    let placeholders = PlaceholderRow {
        L: "%:L#%",
        PGID: "%Cabinet_ID%",
        LIST: "%:Cabinet_LIST%",
        Name: "%:Cabinet_NAME%",
        BP: "%:Cabinet_BASEPATH%",
        RO: "%:Cabinet_READONLY%",
        DO: "%:Cabinet_DENYOPEN%",
        DC: "%:Cabinet_DENYCOPY%",
        DM: "%:Cabinet_DENYMOVE%",
        Fields: "%Cabinet_FIELDS%",
    };
    let body = to_body(Body {
        errorStatus: Status {
            List_Count: String::new(),
            ErrorCount: error_count(Some(error)),
            first: ErrorFields::of(Some(error)),
            Error: ErrorList::of(Some(error)),
        },
        data: vec![placeholders],
    });
    let mut text = String::from_utf8_lossy(&body).into_owned();
    for (quoted, bare) in BARE {
        text = text.replacen(quoted, bare, 1);
    }
    text.into_bytes()
}

fn selected(username: &str, ids: Option<&str>) -> Result<Vec<&'static Cabinet>, WdError> {
    let ids: Vec<&str> = ids
        .unwrap_or_default()
        .split([',', ';', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if ids.is_empty() || ids.contains(&"0") {
        return Ok(cabinets_of(username).collect());
    }
    let mut wanted: Vec<&'static Cabinet> = Vec::new();
    for id in ids {
        let cabinet = id
            .parse::<u32>()
            .ok()
            .and_then(|n| cabinets_of(username).find(|c| c.id == n))
            .ok_or_else(|| WdError {
                rc: rc::CABINET_INVALID,
                msg: msg::CABINET_INVALID.to_owned(),
                var: var::CABINET_ID.to_owned(),
                val: id.to_owned(),
            })?;
        if !wanted.iter().any(|c| c.id == cabinet.id) {
            wanted.push(cabinet);
        }
    }
    Ok(wanted)
}

fn row(number: usize, cabinet: &Cabinet) -> Row {
    Row {
        L: number.to_string(),
        PGID: cabinet.id,
        LIST: cabinet.id.to_string(),
        Name: cabinet.name,
        RO: if cabinet.read_only { "1" } else { "0" },
        DO: "0",
        DC: "0",
        DM: "0",
        SV: "1",
        PJ: "0",
        AA: "0",
        Fields: cabinet
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| field_row(i + 1, f))
            .collect(),
    }
}

fn field_row(number: usize, field: &Field) -> FieldRow {
    let active = u8::from(field.active);
    FieldRow {
        FIELD: format!("Field #{number}"),
        NAME: field.name,
        ACTIVE: active,
        EDITOK: active,
        ENTREQ: active,
        LINKED: 0,
        SUBDIR: u8::from(field.subdir),
        PRIVAT: 0,
        WDUSER: u8::from(field.wduser),
        LOCKED: 0,
        MMDDYY: 0,
        VERIFY: active,
        RETENT: u8::from(field.retent),
        LENGTH: field.length,
    }
}
