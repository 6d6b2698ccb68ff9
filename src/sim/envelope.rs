//! The answer envelopes, field for field and in the order the seeds show them.
//!
//! Fields carry their wire names (hence `non_snake_case`); serde writes struct fields
//! in declaration order, which is what keeps the key order byte-faithful.
#![allow(non_snake_case)]

use serde::Serialize;

use crate::upstream::fields::{SID_MISSING_VAL, var};

/// Junk the server appends to an echoed SID (`…Gw8$3Dkopkp[wy` in the seed).
const SID_JUNK: &str = "[wy";

/// One error the simulator reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WdError {
    /// `(wd_Error_RCID, wd_Error_RCTX)`.
    pub(crate) rc: (&'static str, &'static str),
    pub(crate) msg: String,
    pub(crate) var: String,
    pub(crate) val: String,
}

impl WdError {
    /// An error with a message and no `VAR`/`VAL`.
    pub(crate) fn new(rc: (&'static str, &'static str), msg: &str) -> Self {
        Self {
            rc,
            msg: msg.to_owned(),
            var: String::new(),
            val: String::new(),
        }
    }

    /// `WDRC_SID_INVALID`, echoing the SID received with junk appended, as the server
    /// does (`null` when none was sent).
    pub(crate) fn sid_invalid(received: Option<&str>) -> Self {
        let rc = crate::upstream::fields::rc::SID_INVALID;
        Self {
            rc,
            msg: rc.1.to_owned(),
            var: var::SID.to_owned(),
            val: match received {
                Some(sid) if !sid.is_empty() => format!("{sid}{SID_JUNK}"),
                _ => SID_MISSING_VAL.to_owned(),
            },
        }
    }

    fn fields(&self) -> ErrorFields {
        ErrorFields {
            wd_Error_RCID: self.rc.0.to_owned(),
            wd_Error_RCTX: self.rc.1.to_owned(),
            wd_Error_MSG: self.msg.clone(),
            wd_Error_VAR: self.var.clone(),
            wd_Error_VAL: self.val.clone(),
        }
    }
}

/// `{"root": …}`.
#[derive(Debug, Serialize)]
pub(crate) struct Root<T> {
    pub(crate) root: T,
}

/// The five `wd_Error_*` fields: an `Error` entry, or their copy in `errorStatus`.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct ErrorFields {
    pub(crate) wd_Error_RCID: String,
    pub(crate) wd_Error_RCTX: String,
    pub(crate) wd_Error_MSG: String,
    pub(crate) wd_Error_VAR: String,
    pub(crate) wd_Error_VAL: String,
}

impl ErrorFields {
    /// The first error's fields, or empty strings on success.
    pub(crate) fn of(error: Option<&WdError>) -> Self {
        error.map(WdError::fields).unwrap_or_default()
    }
}

/// `errorStatus.Error`: `""` on success, an array on failure.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum ErrorList {
    /// Success.
    Empty(&'static str),
    /// Failure.
    List(Vec<ErrorFields>),
}

impl ErrorList {
    pub(crate) fn of(error: Option<&WdError>) -> Self {
        match error {
            None => Self::Empty(""),
            Some(e) => Self::List(vec![e.fields()]),
        }
    }
}

/// `ErrorCount`: `""` on success, `"1"` on failure.
pub(crate) fn error_count(error: Option<&WdError>) -> String {
    if error.is_some() { "1" } else { "" }.to_owned()
}

/// LOGON's answer.
#[derive(Debug, Serialize)]
pub(crate) struct LogonBody {
    pub(crate) data: LogonData,
    pub(crate) errorStatus: LogonStatus,
}

/// LOGON's `data`.
#[derive(Debug, Serialize)]
pub(crate) struct LogonData {
    pub(crate) session: String,
    pub(crate) servername: String,
    pub(crate) user: String,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) uploadFolder: String,
    pub(crate) uploadFolderJSON: String,
    pub(crate) ownerInital: String,
    pub(crate) ErrorCount: String,
    pub(crate) wd_Error_MSG: String,
    pub(crate) Firm: String,
    pub(crate) OnlineHelp: String,
    pub(crate) WWTroubleShoot: String,
    pub(crate) IISVER: String,
    pub(crate) AuthMethod: String,
    pub(crate) Graph: String,
    pub(crate) rsClient: String,
    pub(crate) rsRedirect: String,
    pub(crate) rsSecret: String,
}

/// LOGON's `errorStatus`.
#[derive(Debug, Serialize)]
pub(crate) struct LogonStatus {
    pub(crate) ErrorCount: String,
    #[serde(flatten)]
    pub(crate) first: ErrorFields,
    pub(crate) wd_Error_DOCID: String,
    pub(crate) wd_Error_DOCNAME: String,
    pub(crate) req_ID: String,
    pub(crate) Error: ErrorList,
}

/// LOGOFF's answer: `data` only, no `errorStatus`.
#[derive(Debug, Serialize)]
pub(crate) struct LogoffBody {
    pub(crate) data: LogoffData,
}

/// LOGOFF's `data`.
#[derive(Debug, Serialize)]
pub(crate) struct LogoffData {
    pub(crate) loggedOff: &'static str,
}

/// 2FGET's answer.
#[derive(Debug, Serialize)]
pub(crate) struct ListBody {
    pub(crate) errorStatus: ListStatus,
    pub(crate) data: Vec<ListRow>,
}

/// 2FGET's `errorStatus`.
#[derive(Debug, Serialize)]
pub(crate) struct ListStatus {
    pub(crate) List_ID: String,
    pub(crate) List_Count: String,
    pub(crate) ErrorCount: String,
    #[serde(flatten)]
    pub(crate) first: ErrorFields,
    pub(crate) Error: ErrorList,
}

/// One 2FGET row.
#[derive(Debug, Serialize)]
pub(crate) struct ListRow {
    pub(crate) Rec: String,
    pub(crate) L: String,
    pub(crate) ADDR: String,
    #[serde(rename = "ADDR.ASIS")]
    pub(crate) ADDR_ASIS: String,
    #[serde(rename = "ADDR.VIEW")]
    pub(crate) ADDR_VIEW: String,
    pub(crate) NAME: String,
    pub(crate) FLAG: String,
}

/// 2FSET's answer (also the simulator's generic error answer).
#[derive(Debug, Serialize)]
pub(crate) struct SetBody {
    pub(crate) errorStatus: SetStatus,
    pub(crate) data: SetData,
}

/// 2FSET's `errorStatus`: no copy of the first error, unlike 2FGET's.
#[derive(Debug, Serialize)]
pub(crate) struct SetStatus {
    pub(crate) List_ID: String,
    pub(crate) List_Count: String,
    pub(crate) ErrorCount: String,
    pub(crate) Error: ErrorList,
}

/// 2FSET's `data`.
#[derive(Debug, Default, Serialize)]
pub(crate) struct SetData {
    pub(crate) Ref: String,
    pub(crate) AC: String,
    pub(crate) Send: String,
    pub(crate) RMT: String,
}

impl SetBody {
    /// A 2FSET answer: `error` decides success or failure; `List_Count` is always
    /// empty in the seeds.
    pub(crate) fn new(list_id: &str, error: Option<&WdError>, data: SetData) -> Self {
        Self {
            errorStatus: SetStatus {
                List_ID: list_id.to_owned(),
                List_Count: String::new(),
                ErrorCount: error_count(error),
                Error: ErrorList::of(error),
            },
            data,
        }
    }
}

/// Serializes an answer body wrapped in `root`.
pub(crate) fn to_body<T: Serialize>(root: T) -> Vec<u8> {
    // Serializing these plain structs cannot fail (no maps with non-string keys).
    serde_json::to_vec(&Root { root }).unwrap_or_else(|_| b"{}".to_vec())
}
