//! The one table that turns an upstream error code into an HTTP status.
//!
//! Nothing else in the gateway decides a status from an upstream answer. Operators
//! extend or override it from config (`[status_map] WDRC_SOMETHING = 403`); an entry
//! whose key ends in `*` matches every code with that prefix.

use std::collections::BTreeMap;

use http::StatusCode;

use super::Error;
use super::fields::rc;

/// Built-in entries, exact codes or `PREFIX*` patterns.
const DEFAULTS: &[(&str, u16)] = &[
    (rc::SID_INVALID.1, 401),
    (rc::LOGON_USER_PASSWORD_INVALID.1, 401),
    (rc::LISTID_INVALID.1, 409),
    (rc::LISTID_UNDEFINED.1, 409),
    (rc::FILE_NOT_FOUND.1, 404),
    (rc::CABINET_INVALID.1, 404),
    (rc::FILE_ACCESS_DENIED.1, 403),
    (rc::TWO_FA_ADDRESS_UNDEFINED.1, 422),
    (rc::TWO_FA_ACCESSCODE_INVALID.1, 422),
    (rc::TWO_FA_NOT_VERIFIED.1, 422),
    (rc::TWO_FA_ADDRESS_DUPLICATE.1, 409),
    (rc::PATH_INVALID.1, 422),
    ("WDRC_AEDTABLE_*", 422),
    ("WDRC_AEDTABLE_FAIL_*", 502),
    (rc::XFERFILE_FAIL_CONNECT.1, 502),
];

/// Maps `wd_Error_RCTX` codes to HTTP statuses; unknown codes are 502.
#[derive(Debug, Clone)]
pub struct StatusTable {
    exact: BTreeMap<String, StatusCode>,
    /// Prefix patterns, longest first so the most specific wins.
    prefixes: Vec<(String, StatusCode)>,
}

/// A `[status_map]` entry that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("status_map.{code}: {status} is not an HTTP error status (400-599)")]
pub struct BadStatusEntry {
    /// The upstream code the entry is for.
    pub code: String,
    /// The status it asked for.
    pub status: u16,
}

impl Default for StatusTable {
    fn default() -> Self {
        Self::new(&BTreeMap::new()).unwrap_or_else(|_| unreachable!("the defaults are valid"))
    }
}

impl StatusTable {
    /// The built-in table with `overrides` applied on top.
    pub fn new(overrides: &BTreeMap<String, u16>) -> Result<Self, BadStatusEntry> {
        let mut exact = BTreeMap::new();
        let mut prefixes = BTreeMap::new();
        let entries = DEFAULTS.iter().map(|&(code, status)| (code, status)).chain(
            overrides
                .iter()
                .map(|(code, status)| (code.as_str(), *status)),
        );
        for (code, status) in entries {
            let bad = || BadStatusEntry {
                code: code.to_owned(),
                status,
            };
            let status = StatusCode::from_u16(status).map_err(|_| bad())?;
            if !(status.is_client_error() || status.is_server_error()) {
                return Err(bad());
            }
            match code.strip_suffix('*') {
                Some(prefix) => prefixes.insert(prefix.to_owned(), status),
                None => exact.insert(code.to_owned(), status),
            };
        }
        let mut prefixes: Vec<_> = prefixes.into_iter().collect();
        prefixes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Ok(Self { exact, prefixes })
    }

    /// The status for a failed upstream call: the table for errors the upstream
    /// reported, 504 for a timeout, 502 for anything else (no usable answer).
    pub fn classify(&self, error: &Error) -> StatusCode {
        match error {
            Error::Rejected(e) => self.status_for(&e.rctx),
            Error::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Error::CircuitOpen(_) | Error::Saturated => StatusCode::SERVICE_UNAVAILABLE,
            Error::Unreachable(_) | Error::HttpStatus(_) | Error::TooLarge(_) | Error::Shape(_) => {
                StatusCode::BAD_GATEWAY
            }
        }
    }

    /// The status for an upstream error code.
    pub fn status_for(&self, rctx: &str) -> StatusCode {
        if let Some(status) = self.exact.get(rctx) {
            return *status;
        }
        self.prefixes
            .iter()
            .find(|(prefix, _)| rctx.starts_with(prefix.as_str()))
            .map_or(StatusCode::BAD_GATEWAY, |(_, status)| *status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_table_is_built_in() {
        let t = StatusTable::default();
        let cases = [
            ("WDRC_SID_INVALID", 401),
            ("WDRC_LOGON_USER_PASSWORD_INVALID", 401),
            ("WDRC_LISTID_INVALID", 409),
            ("WDRC_LISTID_UNDEFINED", 409),
            ("WDRC_FILE_NOT_FOUND", 404),
            ("WDRC_CABINET_INVALID", 404),
            ("WDRC_2FA_ADDRESS_UNDEFINED", 422),
            ("WDRC_PATH_INVALID", 422),
            ("WDRC_AEDTABLE_CODE_TOOLONG", 422),
            ("WDRC_AEDTABLE_FAIL_ADD", 502),
            ("WDRC_XFERFILE_FAIL_CONNECT", 502),
            ("WDRC_SOMETHING_NEW", 502),
        ];
        for (code, status) in cases {
            assert_eq!(t.status_for(code).as_u16(), status, "{code}");
        }
    }

    #[test]
    fn config_overrides_and_extends() {
        let overrides = BTreeMap::from([
            ("WDRC_SOMETHING".to_owned(), 403),
            ("WDRC_PATH_INVALID".to_owned(), 400),
            ("WDRC_NEWFAMILY_*".to_owned(), 418),
        ]);
        let t = StatusTable::new(&overrides).expect("valid overrides");
        assert_eq!(t.status_for("WDRC_SOMETHING").as_u16(), 403);
        assert_eq!(t.status_for("WDRC_PATH_INVALID").as_u16(), 400);
        assert_eq!(t.status_for("WDRC_NEWFAMILY_X").as_u16(), 418);
        assert_eq!(t.status_for("WDRC_SID_INVALID").as_u16(), 401);
    }

    #[test]
    fn non_error_statuses_are_refused_with_the_key() {
        let err = StatusTable::new(&BTreeMap::from([("WDRC_X".to_owned(), 200)]))
            .expect_err("200 is not an error");
        assert_eq!(
            err.to_string(),
            "status_map.WDRC_X: 200 is not an HTTP error status (400-599)"
        );
        assert!(StatusTable::new(&BTreeMap::from([("WDRC_X".to_owned(), 1000)])).is_err());
    }
}
