//! Worldox CGI command names, parameter names, templates and error codes.
//!
//! Every Worldox spelling lives here once, so a quirk of the upstream (such as the
//! `wd_2FA_RecContract` typo its reference uses for edits) is handled in one place.

/// The CGI program every Worldox command goes through.
pub const CGI_PATH: &str = "/cgi-bin/wdwebcgi.exe";

/// Command names, the first token of the query string.
pub mod command {
    /// Log in and get a session ID.
    pub const LOGON: &str = "LOGON";
    /// Close a session.
    pub const LOGOFF: &str = "LOGOFF";
    /// List the user's two-factor devices.
    pub const TWO_FA_GET: &str = "2FGET";
    /// Add, verify, edit or delete a two-factor device.
    pub const TWO_FA_SET: &str = "2FSET";
}

/// Parameter names. The server matches them case-insensitively.
pub mod param {
    /// The session ID, raw after one level of URL decoding.
    pub const SID: &str = "wd_SID";
    /// The answer template on success.
    pub const HTML_ON_OK: &str = "HTMLOnOk";
    /// The answer template on failure.
    pub const HTML_ON_FAIL: &str = "HTMLOnFail";
    /// The answer template, as some reference pages name it.
    pub const HTML: &str = "html";
    /// LOGON: the user code.
    pub const USER_CODE: &str = "wd_User_Code_Value";
    /// LOGON: the password.
    pub const USER_PASSWORD: &str = "wd_User_Password_Value";
    /// LOGON: the server name a browser client sends (`*`).
    pub const SERVER_NAME: &str = "wd_Server_Name_Value";
    /// LOGON: the server password a browser client sends (`*`).
    pub const SERVER_PASSWORD: &str = "wd_Server_Password_Value";
    /// 2FGET: the listing filter (`Redact>0` shows addresses, `Redact>1` masks them).
    pub const LIST_FILTER: &str = "WD_List_Filter";
    /// 2FSET edit/delete: the listing the record number refers to.
    pub const LIST_ID: &str = "wd_List_ID";
    /// 2FSET edit/delete: the record number in that listing.
    pub const LIST_REC_NUM: &str = "wd_List_RecNum";
    /// 2FSET step 1: where to send the access code.
    pub const SEND_TO_ADDR: &str = "wd_2FA_SendToAddr";
    /// 2FSET step 1: what the code is for.
    pub const SEND_OBJECT: &str = "wd_2FA_SENDOBJECT";
    /// 2FSET step 1: why the code is sent.
    pub const SEND_ACTION: &str = "wd_2FA_SENDACTION";
    /// 2FSET step 2: the `Ref` step 1 answered.
    pub const WORLDOX_REF: &str = "wd_2FA_WORLDOXREF";
    /// 2FSET step 2: the access code the user received.
    pub const ACCESS_CODE: &str = "wd_2FA_ACCESSCODE";
    /// 2FSET step 3 / edit / delete: the device address.
    pub const REC_ADDRESS: &str = "wd_2FA_RecAddress";
    /// 2FSET add: the device description.
    pub const REC_CONTACT: &str = "wd_2FA_RecContact";
    /// 2FSET edit/delete: the device description, as the reference spells it there.
    pub const REC_CONTRACT: &str = "wd_2FA_RecContract";
    /// 2FSET: `1` enabled, `0` disabled, `DELETE` to delete.
    pub const REC_ENABLED: &str = "wd_2FA_RecEnabled";
}

/// Answer templates named in the reference.
pub mod template {
    /// LOGON's answer.
    pub const LOGIN: &str = "/v4/authentication/login.json";
    /// LOGOFF's answer on success.
    pub const LOGOFF_OK: &str = "/v4/authentication/logoffSucc.json";
    /// LOGOFF's answer on failure.
    pub const LOGOFF_FAIL: &str = "/v4/authentication/logoffFail.json";
    /// 2FGET's answer.
    pub const TWO_FA_LIST: &str = "/v4/authentication/twoFactorDevice.json";
    /// 2FSET's answer.
    pub const TWO_FA_SET: &str = "/v4/authentication/setTwoFactorDevice.json";
}

/// `2FGET` filter values.
pub mod filter {
    /// Addresses in clear.
    pub const SHOW: &str = "Redact>0";
    /// Addresses masked with asterisks.
    pub const REDACT: &str = "Redact>1";
}

/// `wd_2FA_RecEnabled` value that deletes a record.
pub const REC_DELETE: &str = "DELETE";

/// Upstream error codes (`wd_Error_RCTX`) with their numbers (`wd_Error_RCID`).
pub mod rc {
    /// 8030: the 2FA address is not a valid email or phone number.
    pub const TWO_FA_ADDRESS_UNDEFINED: (&str, &str) = ("8030", "WDRC_2FA_ADDRESS_UNDEFINED");
    /// 8031: wrong, expired or used access code. Not in the public reference: the
    /// simulator uses it, and the status table maps it; a real server's code can be
    /// mapped from config.
    pub const TWO_FA_ACCESSCODE_INVALID: (&str, &str) = ("8031", "WDRC_2FA_ACCESSCODE_INVALID");
    /// 8032: the address is already one of the user's devices. Not in the public reference.
    pub const TWO_FA_ADDRESS_DUPLICATE: (&str, &str) = ("8032", "WDRC_2FA_ADDRESS_DUPLICATE");
    /// 8033: a record was written for an address no access code has verified. Not in
    /// the public reference.
    pub const TWO_FA_NOT_VERIFIED: (&str, &str) = ("8033", "WDRC_2FA_NOT_VERIFIED");
    /// 8120: no such cabinet.
    pub const CABINET_INVALID: (&str, &str) = ("8120", "WDRC_CABINET_INVALID");
    /// 8158: the server could not reach the file transfer service.
    pub const XFERFILE_FAIL_CONNECT: (&str, &str) = ("8158", "WDRC_XFERFILE_FAIL_CONNECT");
    /// 8275: no such file.
    pub const FILE_NOT_FOUND: (&str, &str) = ("8275", "WDRC_FILE_NOT_FOUND");
    /// 8375: the listing is stale.
    pub const LISTID_INVALID: (&str, &str) = ("8375", "WDRC_LISTID_INVALID");
    /// 8380: no listing was named.
    pub const LISTID_UNDEFINED: (&str, &str) = ("8380", "WDRC_LISTID_UNDEFINED");
    /// 8435: wrong user code or password.
    pub const LOGON_USER_PASSWORD_INVALID: (&str, &str) =
        ("8435", "WDRC_LOGON_USER_PASSWORD_INVALID");
    /// 8525: bad path.
    pub const PATH_INVALID: (&str, &str) = ("8525", "WDRC_PATH_INVALID");
    /// 8740: the session ID is unknown or expired.
    pub const SID_INVALID: (&str, &str) = ("8740", "WDRC_SID_INVALID");
    /// 9105: an empty result, reported as an error that is not one.
    pub const ZERO_PROJECT_CLEAN: (&str, &str) = ("9105", "WDRC_ZERO_PROJECT_CLEAN");
    /// Unknown command. Not in the public reference: the simulator's answer to one.
    pub const COMMAND_INVALID: (&str, &str) = ("8001", "WDRC_COMMAND_INVALID");
}
