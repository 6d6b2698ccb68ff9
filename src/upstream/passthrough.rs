//! Any command, passed through: the `/wd/{COMMAND}` route's upstream side.
//!
//! The gateway injects the session's SID as the first parameter, sends the caller's
//! parameters after it, classifies the answer like every other call, and hands back the
//! upstream's JSON with every secret stripped: the keys in [`SECRET_KEYS`] (LOGON's
//! `rsSecret`, `session`, `uploadFolder*`, an echoed `wd_SID`, `wd_Error_VAL`) wherever
//! they sit, and any string that carries the SID raw or URL-encoded.
//!
//! Some reference templates leave placeholders unquoted when they are not filled (the
//! failed CABINETS answer has `"PGID":%Cabinet_ID%`), which is not JSON; such bare
//! placeholders are quoted before the answer is parsed, so the error inside is read.

use http::Method;
use serde_json::Value;

use super::cgi::{self, Params};
pub use super::client::is_read;
use super::client::{Call, Client, Error};
use super::envelope::{Envelope, ShapeError};
use super::fields::{SECRET_KEYS, param};
use super::sid::Sid;

impl Client {
    /// Sends `command` with `wd_SID` injected first in the query, then `query` (and for
    /// POST, `form` as the body). A successful answer is the upstream's JSON
    /// (`{"root": …}`) with secrets stripped; a failed one is `Err` as for any call.
    ///
    /// The caller must have refused a `wd_SID` of its own in `query` and `form`.
    pub async fn passthrough(
        &self,
        sid: &Sid,
        command: &str,
        method: Method,
        query: Params,
        form: Params,
    ) -> Result<Value, Error> {
        let mut with_sid = Params::new().with(param::SID, sid.expose());
        with_sid.extend(query);
        let call = Call {
            command,
            method,
            query: with_sid,
            fixed: None,
            form,
        };
        let body = self.exchange(&call).await?;
        let mut value = parse_lenient(&body)?;
        let envelope = Envelope::from_value_with(value.clone(), &self.empty)?;
        if let Some(error) = envelope.cause() {
            return Err(Error::Rejected(error.clone()));
        }
        strip_secrets(&mut value, sid);
        Ok(value)
    }
}

/// Whether a caller's parameter name is one only the gateway may send: `wd_SID`,
/// matched as the server matches names (case-insensitively), blanks around it ignored.
pub fn is_reserved(name: &str) -> bool {
    name.trim().eq_ignore_ascii_case(param::SID)
}

/// Removes, at any depth, the keys named in [`SECRET_KEYS`] (compared
/// case-insensitively), and blanks every string that contains `sid` raw or in its
/// URL-encoded form (`$` as `%24`), such as an upload path built from it.
pub fn strip_secrets(value: &mut Value, sid: &Sid) {
    let raw = sid.expose();
    if raw.is_empty() {
        strip_keys(value, &[]);
        return;
    }
    let encoded = cgi::encode(raw);
    strip_keys(value, &[raw, encoded.as_ref()]);
}

fn strip_keys(value: &mut Value, needles: &[&str]) {
    let leaks = |s: &str| needles.iter().any(|n| s.contains(n));
    match value {
        Value::Object(map) => {
            map.retain(|key, _| {
                !leaks(key) && !SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
            });
            for v in map.values_mut() {
                strip_keys(v, needles);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| strip_keys(v, needles)),
        Value::String(s) if leaks(s) => s.clear(),
        _ => {}
    }
}

/// Parses an answer as JSON, quoting bare template placeholders when the body is not
/// JSON as sent.
pub(crate) fn parse_lenient(body: &[u8]) -> Result<Value, ShapeError> {
    match serde_json::from_slice(body) {
        Ok(value) => Ok(value),
        Err(_) => quote_bare_placeholders(body)
            .and_then(|fixed| serde_json::from_slice(&fixed).ok())
            .ok_or(ShapeError::NotJson),
    }
}

/// Wraps every `%NAME%` that stands outside a string (an unfilled placeholder where the
/// template expected a number or an array) in quotes. `None` when there is none.
pub fn quote_bare_placeholders(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() + 16);
    let (mut in_string, mut escaped, mut changed) = (false, false, false);
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b'%' {
            let rest = &body[i + 1..];
            let len = rest.iter().take_while(|&&c| is_placeholder_byte(c)).count();
            if len > 0 && rest.get(len) == Some(&b'%') {
                out.push(b'"');
                out.extend_from_slice(&body[i..i + len + 2]);
                out.push(b'"');
                i += len + 2;
                changed = true;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

fn is_placeholder_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'#' | b'.')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SID: &str = "GZtxRsXj2$2B8MnPlwt8pRFspAvTvLfEtgw0nQWOFs$2BIUTozTGBsr1WTxc6oY$3Dn";

    #[test]
    fn secret_keys_go_at_any_depth_whatever_their_case() {
        let mut v = json!({"root": {
            "data": {"session": "x", "List_ID": "x269CA70", "rows": [{"RsSecret": "s", "FN": "a.doc"}]},
            "errorStatus": {"ErrorCount": "", "wd_Error_VAL": "", "Error": [{"wd_error_val": "v", "wd_Error_RCID": "1"}]},
            "uploadFolder": "u", "UPLOADFOLDERJSON": "u", "rsClient": "c", "wd_SID": "s",
        }});
        strip_secrets(&mut v, &Sid::new(SID));
        assert_eq!(
            v,
            json!({"root": {
                "data": {"List_ID": "x269CA70", "rows": [{"FN": "a.doc"}]},
                "errorStatus": {"ErrorCount": "", "Error": [{"wd_Error_RCID": "1"}]},
            }})
        );
    }

    #[test]
    fn internal_paths_and_sid_built_links_go_too() {
        let mut v = json!({"root": {"data": {
            "fileLoc": "/cgi-bin/WDSIDS/x/OPEN/a.pdf", "UploadTo": "x", "FileZMS": "\\WORLDOX\\ZMS",
            "Path": "\\\\fs01\\worldox\\data", "wdPath": "p", "wd_Raw_Loc": "C:\\Users\\QC4",
            "wd_True_Loc": "t", "FN": "00015655.xlsx", "FPR": "\\#\\005\\00015655.xlsx"}}});
        strip_secrets(&mut v, &Sid::new(SID));
        assert_eq!(
            v,
            json!({"root": {"data": {"FN": "00015655.xlsx", "FPR": "\\#\\005\\00015655.xlsx"}}})
        );
    }

    #[test]
    fn strings_carrying_the_sid_raw_or_encoded_are_blanked() {
        let encoded = SID.replace('$', "%24");
        let mut v = json!({"a": format!("/cgi-bin/WDSIDS/{SID}/SAVE/x.asp"),
                           "b": [format!("?wd_SID={encoded}")], "c": "harmless $2B",
                           format!("k{SID}"): 1});
        strip_secrets(&mut v, &Sid::new(SID));
        assert_eq!(v, json!({"a": "", "b": [""], "c": "harmless $2B"}));
    }

    #[test]
    fn bare_placeholders_are_quoted_and_nothing_else_changes() {
        let body =
            br#"{"L#": "%:L#%", "PGID":%Cabinet_ID%, "s": "50% off %x%", "F":%Cabinet_FIELDS%}"#;
        let fixed = quote_bare_placeholders(body).expect("placeholders");
        let v: Value = serde_json::from_slice(&fixed).expect("JSON now");
        assert_eq!(
            v,
            json!({"L#": "%:L#%", "PGID": "%Cabinet_ID%", "s": "50% off %x%", "F": "%Cabinet_FIELDS%"})
        );
        assert!(quote_bare_placeholders(br#"{"a": "%x%", "b": "\"%y%"}"#).is_none());
        assert_eq!(parse_lenient(b"<html>").unwrap_err(), ShapeError::NotJson);
        assert_eq!(
            parse_lenient(b"{\"a\":%b c%}").unwrap_err(),
            ShapeError::NotJson
        );
    }
}
