//! Parsing Worldox answers: every envelope shape the reference shows.
//!
//! Worldox answers HTTP 200 whether a call worked or not; the outcome is in
//! `root.errorStatus` (`ErrorCount` empty or a number, `Error` empty or an array), in
//! copies of the first error directly in `errorStatus`, or, for LOGON, in `data`.
//! An answer with no `errorStatus` at all (LOGOFF) is a success. `wd_Error_VAL` can
//! echo the SID, so it is dropped here and never reaches the rest of the gateway.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::fields::rc;

/// A parsed Worldox answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `root.data`: an object or an array depending on the command.
    pub data: Value,
    /// `errorStatus.List_ID`, when non-empty.
    pub list_id: Option<String>,
    /// `errorStatus.List_Count` (a string or a number), when it is a count.
    pub list_count: Option<u64>,
    /// The errors the answer reports, in order; empty on success.
    pub errors: Vec<UpstreamError>,
}

/// One upstream error, without `wd_Error_VAL` (which may echo secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError {
    /// `wd_Error_RCID`, e.g. `8740`.
    pub rcid: String,
    /// `wd_Error_RCTX`, e.g. `WDRC_SID_INVALID`.
    pub rctx: String,
    /// `wd_Error_MSG` cleaned of UI text.
    pub message: String,
    /// `wd_Error_VAR`: the parameter the error is about.
    pub var: String,
}

/// Why an answer could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// The body is not JSON.
    #[error("the upstream answer is not JSON")]
    NotJson,
    /// The body is JSON but not a Worldox envelope.
    #[error("the upstream answer is not a Worldox envelope: {0}")]
    WrongShape(&'static str),
}

/// The codes that mean "success, nothing found" although they come as errors
/// (`9105 WDRC_ZERO_PROJECT_CLEAN` with `ErrorCount "1"`, and the family the real
/// client treats alike: `WDRC_ZERO_FIELDS_CLEAN`, `WDRC_ZERO_ITEMS_FILTER`, …): exact
/// codes, or prefixes ending in `*`. `upstream.empty_result_codes`; the default is
/// `WDRC_ZERO_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmptyResults {
    exact: Vec<String>,
    prefixes: Vec<String>,
}

impl Default for EmptyResults {
    fn default() -> Self {
        Self::new(&[EMPTY_RESULTS_DEFAULT.to_owned()])
    }
}

/// The default of `upstream.empty_result_codes`.
pub const EMPTY_RESULTS_DEFAULT: &str = "WDRC_ZERO_*";

impl EmptyResults {
    /// The codes in `patterns` (`WDRC_X`, or `WDRC_ZERO_*` for a family).
    pub fn new(patterns: &[String]) -> Self {
        let (prefixes, exact): (Vec<&String>, Vec<&String>) =
            patterns.iter().partition(|p| p.ends_with('*'));
        Self {
            exact: exact.into_iter().map(|p| p.trim().to_owned()).collect(),
            prefixes: prefixes
                .into_iter()
                .map(|p| p.trim().trim_end_matches('*').to_owned())
                .collect(),
        }
    }

    /// Whether `error` only says the result is empty.
    pub fn matches(&self, error: &UpstreamError) -> bool {
        let code = error.rctx.as_str();
        self.exact.iter().any(|c| c == code)
            || self.prefixes.iter().any(|p| code.starts_with(p.as_str()))
    }
}

impl Envelope {
    /// Parses a body with the default empty-result codes. Success or failure is in the
    /// result's `errors`; `Err` means the body is not a Worldox answer at all.
    pub fn parse(body: &[u8]) -> Result<Self, ShapeError> {
        Self::parse_with(body, &EmptyResults::default())
    }

    /// Parses a body, reading the codes in `empty` as successes with an empty result.
    pub fn parse_with(body: &[u8], empty: &EmptyResults) -> Result<Self, ShapeError> {
        let value: Value = serde_json::from_slice(body).map_err(|_| ShapeError::NotJson)?;
        Self::from_value_with(value, empty)
    }

    /// Parses an already-decoded JSON value with the default empty-result codes.
    pub fn from_value(value: Value) -> Result<Self, ShapeError> {
        Self::from_value_with(value, &EmptyResults::default())
    }

    /// Parses an already-decoded JSON value, reading the codes in `empty` as
    /// successes with an empty result.
    pub fn from_value_with(value: Value, empty: &EmptyResults) -> Result<Self, ShapeError> {
        let Value::Object(mut top) = value else {
            return Err(ShapeError::WrongShape("not an object"));
        };
        let Some(Value::Object(mut root)) = top.remove("root") else {
            return Err(ShapeError::WrongShape("no root object"));
        };
        let data = root.remove("data").unwrap_or(Value::Null);
        let status = match root.remove("errorStatus") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(status)) => status,
            Some(_) => return Err(ShapeError::WrongShape("errorStatus is not an object")),
        };
        let list_id = text(status.get("List_ID")).filter(|s| !s.is_empty());
        let list_count = match status.get("List_Count") {
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(Value::Number(n)) => n.as_u64(),
            _ => None,
        };
        let mut errors = errors_of(&status)?;
        if errors.is_empty() {
            if let Value::Object(d) = &data {
                errors = logon_data_error(d);
            }
        }
        // 9105 and its family say "nothing found" with ErrorCount 1: a success with an
        // empty result.
        errors.retain(|e| !empty.matches(e));
        Ok(Self {
            data,
            list_id: list_id.map(str::to_owned),
            list_count,
            errors,
        })
    }

    /// Whether the call succeeded.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// The error that decides the answer's status, by precedence over all of them,
    /// since a multi-error answer's first entry is not always its cause (DOWNLOAD
    /// without a list reports `WDRC_PATH_INVALID` before `WDRC_LISTID_UNDEFINED`; LOCK
    /// adds a `WINRC#1208` sentence): an expired session first, then a stale or
    /// missing list (which a caller can refresh), then the first Worldox code
    /// (`WDRC_…`); an answer with only other entries gives its first.
    pub fn cause(&self) -> Option<&UpstreamError> {
        let errors = &self.errors;
        errors
            .iter()
            .find(|e| e.is_sid_invalid())
            .or_else(|| errors.iter().find(|e| e.rctx.starts_with(LISTID_FAMILY)))
            .or_else(|| errors.iter().find(|e| e.rctx.starts_with(WORLDOX_CODE)))
            .or_else(|| errors.first())
    }
}

/// The prefix of the list errors (`WDRC_LISTID_INVALID`, `WDRC_LISTID_UNDEFINED`).
const LISTID_FAMILY: &str = "WDRC_LISTID_";
/// The prefix of Worldox's own error codes (as opposed to `WINRC#…` sentences).
const WORLDOX_CODE: &str = "WDRC_";

/// A successful answer read straight into `D`, without the JSON tree [`Envelope::parse`]
/// builds: for the commands on a hot path. It accepts only a plain success, whose
/// `errorStatus` fields are all strings and report no error; anything else is `None`,
/// and the caller parses the answer as an [`Envelope`] like any other.
#[derive(Debug)]
pub struct Success<'a, D> {
    /// `root.data` (`D::default()` when absent).
    pub data: D,
    /// `errorStatus.List_ID`, empty when the answer has none.
    pub list_id: Cow<'a, str>,
}

impl<'a, D: Deserialize<'a> + Default> Success<'a, D> {
    /// The answer in `body` if it is a plain success.
    ///
    /// The body is checked as UTF-8 once, as a whole, and parsed as text: read from
    /// bytes, serde_json checks every string on its own, which cost more (a 2FGET
    /// answer has about forty strings). A body that is not UTF-8 is `None`, as its
    /// parse failed before.
    pub fn parse(body: &'a [u8]) -> Option<Self> {
        let text = std::str::from_utf8(body).ok()?;
        let answer: PlainAnswer<'a, D> = serde_json::from_str(text).ok()?;
        let PlainRoot { status, data } = answer.root;
        let no_error = [status.error, status.rcid, status.rctx, status.message]
            .iter()
            .all(|field| field.is_empty())
            && matches!(&*status.error_count, "" | "0");
        no_error.then_some(Self {
            data,
            list_id: status.list_id,
        })
    }
}

/// `{"root": {"errorStatus": {…}, "data": …}}`, the fields [`Success`] reads.
#[derive(Deserialize)]
#[serde(bound(deserialize = "D: Deserialize<'de> + Default"))]
struct PlainAnswer<'a, D> {
    #[serde(borrow)]
    root: PlainRoot<'a, D>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "D: Deserialize<'de> + Default"))]
struct PlainRoot<'a, D> {
    #[serde(rename = "errorStatus", borrow)]
    status: PlainStatus<'a>,
    #[serde(default)]
    data: D,
}

/// `errorStatus`, string fields only: a number or an array here is the general path's.
#[derive(Deserialize)]
struct PlainStatus<'a> {
    #[serde(rename = "List_ID", borrow, default)]
    list_id: Cow<'a, str>,
    #[serde(rename = "ErrorCount", borrow, default)]
    error_count: Cow<'a, str>,
    #[serde(rename = "Error", borrow, default)]
    error: Cow<'a, str>,
    #[serde(rename = "wd_Error_RCID", borrow, default)]
    rcid: Cow<'a, str>,
    #[serde(rename = "wd_Error_RCTX", borrow, default)]
    rctx: Cow<'a, str>,
    #[serde(rename = "wd_Error_MSG", borrow, default)]
    message: Cow<'a, str>,
}

impl UpstreamError {
    /// Whether the session ID is unknown or expired.
    pub fn is_sid_invalid(&self) -> bool {
        self.rctx == rc::SID_INVALID.1
    }

    /// Whether the listing named by `wd_List_ID` is stale.
    pub fn is_list_stale(&self) -> bool {
        self.rctx == rc::LISTID_INVALID.1
    }

    /// Whether a 2FA access code was refused (wrong, or its `Ref` expired).
    pub fn is_code_invalid(&self) -> bool {
        self.rctx == rc::TWO_FA_ACCESSCODE_INVALID.1
    }
}

fn errors_of(status: &Map<String, Value>) -> Result<Vec<UpstreamError>, ShapeError> {
    let count = count_of(status.get("ErrorCount"))?;
    let mut errors = Vec::new();
    match status.get("Error") {
        Some(Value::Array(items)) => {
            for item in items {
                let Value::Object(item) = item else {
                    return Err(ShapeError::WrongShape("an Error entry is not an object"));
                };
                errors.extend(error_of(item));
            }
        }
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(_) => {
            return Err(ShapeError::WrongShape(
                "Error is neither empty nor an array",
            ));
        }
    }
    // Some commands carry the first error only as fields of errorStatus itself.
    if errors.is_empty() {
        errors.extend(error_of(status));
    }
    if count > 0 && errors.is_empty() {
        errors.push(UpstreamError {
            rcid: String::new(),
            rctx: String::from("WDRC_UNKNOWN"),
            message: String::from("The upstream reported an error without details."),
            var: String::new(),
        });
    }
    Ok(errors)
}

fn count_of(value: Option<&Value>) -> Result<u64, ShapeError> {
    match value {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or(ShapeError::WrongShape("ErrorCount is not a count")),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(0),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| ShapeError::WrongShape("ErrorCount is not a count")),
        Some(_) => Err(ShapeError::WrongShape("ErrorCount is not a count")),
    }
}

fn error_of(fields: &Map<String, Value>) -> Option<UpstreamError> {
    let rcid = text(fields.get("wd_Error_RCID")).unwrap_or_default();
    let rctx = text(fields.get("wd_Error_RCTX")).unwrap_or_default();
    let raw_message = text(fields.get("wd_Error_MSG")).unwrap_or_default();
    if rcid.is_empty() && rctx.is_empty() && raw_message.is_empty() {
        return None;
    }
    Some(UpstreamError {
        rcid: rcid.to_owned(),
        rctx: if rctx.is_empty() { raw_message } else { rctx }.to_owned(),
        message: clean_message(raw_message),
        var: text(fields.get("wd_Error_VAR"))
            .unwrap_or_default()
            .to_owned(),
    })
}

/// LOGON repeats `ErrorCount` and `wd_Error_MSG` inside `data`.
fn logon_data_error(data: &Map<String, Value>) -> Vec<UpstreamError> {
    let failed = count_of(data.get("ErrorCount")).unwrap_or(0) > 0;
    let message = text(data.get("wd_Error_MSG")).unwrap_or_default();
    if !failed {
        return Vec::new();
    }
    vec![UpstreamError {
        rcid: String::new(),
        rctx: message.to_owned(),
        message: clean_message(message),
        var: String::new(),
    }]
}

fn text(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str)
}

/// Words of dialog buttons and icon classes that Worldox templates append to messages.
const UI_WORDS: &[&str] = &[
    "OK", "Ok", "Cancel", "Refresh", "Retry", "Yes", "No", "Close", "Continue", "Ignore", "Abort",
    "Help",
];

/// Reduces a `wd_Error_MSG` to its human text: the title and the sentence, without the
/// dialog buttons and icon names the upstream's templates append.
///
/// `"Undefined Address\n\n\nThe email … not defined.\n\n\n\n\nOK\n"` becomes
/// `"Undefined Address: The email … not defined."`.
pub fn clean_message(raw: &str) -> String {
    let blocks: Vec<String> = raw
        .split("\n\n")
        .map(|block| {
            block
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !is_ui_line(line))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|block| !block.is_empty())
        .collect();
    let text = match blocks.split_first() {
        None => String::new(),
        Some((only, [])) => only.clone(),
        Some((title, rest)) => format!("{title}: {}", rest.join(" ")),
    };
    text.chars().filter(|c| !c.is_control()).collect()
}

/// A line that is only button words or icon class names (`closeCircle, wdErrorIco`).
fn is_ui_line(line: &str) -> bool {
    line.split(',').map(str::trim).all(|word| {
        UI_WORDS.contains(&word)
            || (!word.is_empty()
                && !word.contains(' ')
                && word.chars().next().is_some_and(char::is_lowercase)
                && word.chars().any(char::is_uppercase)
                && word.chars().all(char::is_alphanumeric))
    })
}

#[cfg(test)]
mod tests;
