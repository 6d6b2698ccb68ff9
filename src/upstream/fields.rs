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
    /// List the cabinets the user can see.
    pub const CABINETS: &str = "CABINETS";
    /// Search for files (also "get list" and "create temp list").
    pub const FINDFILES: &str = "FINDFILES";
    /// Re-sort and page an existing list.
    pub const SORTFILES: &str = "SORTFILES";
    /// Free a list.
    pub const CLOSELIST: &str = "CLOSELIST";
    /// Prepare a per-session copy of a file for a plain GET.
    pub const DOWNLOAD: &str = "DOWNLOAD";
    /// List a document's versions (a new list).
    pub const VERLIST: &str = "VERLIST";
    /// Serve a template in the session's context.
    pub const SERVE: &str = "SERVE";

    /// The document commands of the public reference, as its example URLs name them:
    /// the default allow-list of the `/wd/{COMMAND}` passthrough. (UNLOCK is LOCK
    /// without a record number; PREVIEW is VIEWFILE.)
    pub const DOCUMENT: &[&str] = &[
        "AEDTABLE",
        CABINETS,
        "CATLIST",
        "CHECKIN",
        "CHECKOUT",
        CLOSELIST,
        "DOWNLOAD",
        "FIELDTABLE",
        "FILEWDL",
        FINDFILES,
        "FONTGET",
        "LOCK",
        "NEWFILE",
        "OPENWDL",
        "RENAME",
        "SERVE",
        SORTFILES,
        "TESTPROFILE",
        "TREEOPEN",
        "TREEVIEW",
        "UPLOAD",
        "VERLIST",
        "VIEWFILE",
    ];

    /// Commands the passthrough never sends, whatever the config says: they open or
    /// close sessions or handle second factors, which the gateway's own routes own.
    pub const NEVER_PASSED_THROUGH: &[&str] = &[LOGON, LOGOFF, TWO_FA_GET, TWO_FA_SET];
}

/// Which commands may be sent again after a broken answer: the reads. Worldox carries
/// its writes as GET as often as POST (CHECKIN, CHECKOUT, UPLOAD, NEWFILE, RENAME, LOCK…
/// are documented as GET requests), so whether a call may be repeated is decided here,
/// by command, never by HTTP method. A command not listed is a write.
pub mod repeat {
    use super::command;

    /// What a command does to the server, for the retry decision.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Class {
        /// Only reads: repeating it changes nothing on the server.
        Read,
        /// Changes something (or may): never sent twice once a byte of it may have
        /// reached the server.
        Write,
    }

    /// The commands that only read. Everything else (LOGON, LOGOFF, 2FSET, CHECKIN,
    /// CHECKOUT, UPLOAD, NEWFILE, RENAME, LOCK, AEDTABLE, FILEWDL, OPENWDL, CLOSELIST,
    /// DOWNLOAD and VIEWFILE, which prepare a server-side copy and can set a field,
    /// and any command this table does not know) is a write. SERVE depends on its
    /// template: see [`SERVE_READ_TEMPLATES`].
    pub const READS: &[&str] = &[
        command::TWO_FA_GET,
        command::CABINETS,
        "CATLIST",
        "FIELDTABLE",
        command::FINDFILES,
        "FONTGET",
        command::SORTFILES,
        "TESTPROFILE",
        "TREEOPEN",
        "TREEVIEW",
        "VERLIST",
    ];

    /// SERVE runs any template in the session's context, and some write (SetField,
    /// iniSet): only these named templates make it a read. Compared without case,
    /// leading slash or backslash (the reference spells them both ways).
    pub const SERVE_READ_TEMPLATES: &[&str] = &[
        "v4/filelist/rereadrecord.json",
        "v4/sidemenu/expandbranch.json",
        "api/authentication/authcheck.json",
        "v4/errorlog/getvar.json",
    ];

    /// The command that serves a template.
    pub const SERVE: &str = "SERVE";

    /// The class of `command` (matched without case, as the server does); for SERVE,
    /// `template` is its `html` parameter.
    pub fn class(command: &str, template: Option<&str>) -> Class {
        let command = command.trim();
        if command.eq_ignore_ascii_case(SERVE) {
            return match template {
                Some(t) if is_read_template(t) => Class::Read,
                _ => Class::Write,
            };
        }
        if READS.iter().any(|r| r.eq_ignore_ascii_case(command)) {
            Class::Read
        } else {
            Class::Write
        }
    }

    fn is_read_template(template: &str) -> bool {
        let normal = template
            .trim()
            .replace('\\', "/")
            .trim_start_matches('/')
            .to_ascii_lowercase();
        SERVE_READ_TEMPLATES.contains(&normal.as_str())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn document_writes_are_writes_whatever_their_case() {
            for write in [
                "CHECKIN",
                "checkout",
                "Upload",
                "NEWFILE",
                "RENAME",
                "LOCK",
                "AEDTABLE",
                "FILEWDL",
                "OPENWDL",
                "CLOSELIST",
                "DOWNLOAD",
                "VIEWFILE",
                "LOGON",
                "LOGOFF",
                "2FSET",
                "NOSUCHCOMMAND",
                "",
            ] {
                assert_eq!(class(write, None), Class::Write, "{write}");
            }
        }

        #[test]
        fn reads_are_reads() {
            for read in [
                "FINDFILES",
                "findfiles",
                " VERLIST ",
                "2FGET",
                "CABINETS",
                "TREEVIEW",
            ] {
                assert_eq!(class(read, None), Class::Read, "{read}");
            }
        }

        #[test]
        fn serve_is_a_read_only_with_a_named_read_template() {
            assert_eq!(
                class("SERVE", Some("\\v4\\filelist\\rereadrecord.json")),
                Class::Read
            );
            assert_eq!(
                class("serve", Some("/API/authentication/authCheck.json")),
                Class::Read
            );
            assert_eq!(
                class("SERVE", Some("/v4/fileActions/SetField.json")),
                Class::Write
            );
            assert_eq!(class("SERVE", None), Class::Write);
        }
    }
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
    /// The primary sort key of a list (a column id such as 5374).
    pub const SORT_KEY: &str = "Wd_File_Sort_Key1";
    /// The primary sort direction: `1` descending, `0` ascending.
    pub const SORT_DIR: &str = "wd_File_Sort_Dir1";
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
    /// CABINETS: the cabinet ids wanted (`0` or absent: all).
    pub const CABINET_ID_VALUE: &str = "wd_CABINET_ID_VALUE";
    /// FINDFILES: the search text.
    pub const FIND_QUERY: &str = "wd_FIND_QUERY";
    /// FINDFILES filter: the description (`XN`). The filter names are the real
    /// client's template search; their wildcard and date syntax is undocumented.
    pub const XNAME_FILTER: &str = "wd_File_Xname_Filter";
    /// FINDFILES filter: the DOCID file name (`FN`).
    pub const FILENAME_FILTER: &str = "wd_File_Filename_Filter";
    /// FINDFILES filter: the cabinet (profile group) id.
    pub const PROFILE_GROUP_FILTER: &str = "wd_File_ProfileGroup_Filter";
    /// FINDFILES filter: the date of the last update.
    pub const UPDATED_FILTER: &str = "wd_File_Updated_Filter";
    /// FINDFILES filter: the creation date.
    pub const CREATED_FILTER: &str = "wd_File_Created_Filter";
    /// FINDFILES filter: the date of the last access.
    pub const ACCESS_DATE_FILTER: &str = "wd_File_AccessDate_Filter";
    /// FINDFILES filters: profile field 1 to 7's code.
    pub const FIELD_FILTERS: [&str; 7] = [
        "wd_File_Field1_Filter",
        "wd_File_Field2_Filter",
        "wd_File_Field3_Filter",
        "wd_File_Field4_Filter",
        "wd_File_Field5_Filter",
        "wd_File_Field6_Filter",
        "wd_File_Field7_Filter",
    ];
    /// FINDFILES: the offset of the first row answered (0-based).
    pub const SKIP: &str = "skip";
    /// FINDFILES: how many rows to answer.
    pub const TAKE: &str = "take";
    /// DOWNLOAD: the row's display line (`LN`), which also picks `FileNme`.
    pub const LIST_OFFSET: &str = "wd_List_Offset";
    /// DOWNLOAD: a favorites category to add the file to (a write; never sent).
    pub const FAV_CAT_INPUT: &str = "FavCatInput";
    /// A request id the `fileActions` answers echo in `req_ID`.
    pub const REQ_ID: &str = "reqId";
    /// SERVE `getVar.json`: the error code whose text is wanted.
    pub const SZ_VAR: &str = "szVar";
}

/// Keys of Worldox answers that hold or embed the SID, another secret, or a path
/// inside the firm's servers: LOGON's `rsSecret`, `rsClient`, `session` and
/// `uploadFolder*`, an echoed `wd_SID`, `wd_Error_VAL` (which echoes the SID on
/// `WDRC_SID_INVALID`); LOCK, UNLOCK and TESTPROFILE's `session`; DOWNLOAD and
/// PREVIEW's `fileLoc` and NEWFILE's `UploadTo` (both built from the SID); and the
/// internal paths `FileZMS`, `wdPath`, `Path` (UNC), `wd_Raw_Loc` and `wd_True_Loc`.
/// The passthrough drops them wherever they appear.
pub const SECRET_KEYS: &[&str] = &[
    "rsSecret",
    "rsClient",
    "session",
    "uploadFolder",
    "uploadFolderJSON",
    param::SID,
    "wd_Error_VAL",
    "fileLoc",
    "UploadTo",
    "FileZMS",
    "wdPath",
    "Path",
    "wd_Raw_Loc",
    "wd_True_Loc",
];

/// The row keys of profile field n (1 to 7) in rich list rows (SERVE `rereadrecord.json`,
/// VERLIST): its code, the code's description, and the field's name.
pub const ROW_FIELD_KEYS: [(&str, &str, &str); 7] = [
    ("F1C", "F1D", "F1N"),
    ("F2C", "F2D", "F2N"),
    ("F3C", "F3D", "F3N"),
    ("F4C", "F4D", "F4N"),
    ("F5C", "F5D", "F5N"),
    ("F6C", "F6D", "F6N"),
    ("F7C", "F7D", "F7N"),
];

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
    /// CABINETS' answer.
    pub const CABINETS: &str = "/v4/cabinets/cabinets.json";
    /// FINDFILES' (and SORTFILES', VERLIST's) answer.
    pub const FILE_LIST: &str = "/v4/filelist/fileList.json";
    /// SERVE: one record re-read fresh.
    pub const REREAD_RECORD: &str = "/v4/filelist/rereadrecord.json";
    /// SERVE: the session probe (the deprecated flat template).
    pub const AUTH_CHECK: &str = "/api/authentication/authCheck.json";
    /// SERVE: the dialog text of an error code.
    pub const GET_VAR: &str = "/v4/errorLog/getVar.json";
    /// DOWNLOAD's answer.
    pub const DOWNLOAD: &str = "/v4/fileActions/download.json";
    /// CLOSELIST's answer.
    pub const CLOSE_LIST: &str = "/v4/fileActions/closeList.json";
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
    /// The user may not open this file (a protected or hidden document, a read-only
    /// cabinet). The name is the real client's; its number is in no source, so 8290 is
    /// the simulator's invention (the status table keys on the name).
    pub const FILE_ACCESS_DENIED: (&str, &str) = ("8290", "WDRC_FILE_ACCESS_DENIED");
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

/// `wd_Error_MSG` texts as the server writes them, UI text included (the seeds show the
/// server appends its dialog's buttons and icons; the gateway cleans them off).
pub mod msg {
    /// 8030, verbatim from the reference.
    pub const TWO_FA_ADDRESS_UNDEFINED: &str = "Undefined Address\n\n\nThe email address entered for two factor authentication is not defined.\n\n\n\n\nOK\n";
    /// 8031, in the style of 8030.
    pub const TWO_FA_ACCESSCODE_INVALID: &str =
        "Invalid Access Code\n\n\nThe access code entered is invalid or has expired.\n\n\n\n\nOK\n";
    /// 8032, in the style of 8030.
    pub const TWO_FA_ADDRESS_DUPLICATE: &str = "Duplicate Address\n\n\nThe address entered is already defined for two factor authentication.\n\n\n\n\nOK\n";
    /// 8033, in the style of 8030.
    pub const TWO_FA_NOT_VERIFIED: &str = "Address Not Verified\n\n\nThe address entered has not been verified with an access code.\n\n\n\n\nOK\n";
    /// 8375, verbatim from the reference.
    pub const LISTID_INVALID: &str = "Invalid list ID issue\n\n\nInvalid list ID, click Refresh to update your file list.\n\n\n\ncloseCircle, wdErrorIco\nRefresh\nCancel";
    /// 8380, in the style of 8375.
    pub const LISTID_UNDEFINED: &str = "Undefined list ID issue\n\n\nNo list ID was given, click Refresh to update your file list.\n\n\n\ncloseCircle, wdErrorIco\nRefresh\nCancel";
    /// The simulator's answer to an unknown command, in the style of 8030.
    pub const COMMAND_INVALID: &str =
        "Invalid Command\n\n\nThe command is not supported by this server.\n\n\n\n\nOK\n";
    /// 8120, in the style of 8030 (the reference shows no text for it).
    /// 8275 as the simulator words it (the reference shows only the code).
    pub const FILE_NOT_FOUND: &str =
        "File Not Found\n\n\nThe file or project could not be found.\n\n\n\n\nOK\n";
    pub const CABINET_INVALID: &str =
        "Invalid Cabinet\n\n\nThe cabinet requested is not defined.\n\n\n\n\nOK\n";
    /// `WDRC_FILE_ACCESS_DENIED` as the simulator words it, in the style of 8030.
    pub const FILE_ACCESS_DENIED: &str =
        "Access Denied\n\n\nYou do not have rights to open this file.\n\n\n\n\nOK\n";
    /// 8525, verbatim from the reference (download.md).
    pub const PATH_INVALID: &str = "Invalid Path\n\n\nThe path is invalid.\n\n\n\n\nOK\n";
    /// 8380 as DOWNLOAD's failure shows it, verbatim from the reference (download.md).
    pub const LISTID_UNDEFINED_DOWNLOAD: &str = "Error no List ID\nYour request returned without a 'List ID', please refresh.\n\n\n\n\nlock, wdInfo\ncloseCircle, wdErrorIco\n\nRefresh\n";
    /// 9105, verbatim from the reference (findfiles.md).
    pub const ZERO_PROJECT_CLEAN: &str = "Empty Project List\nYour project contains no files.\n\n\n\n\nProjectCollection, wdInfo\nWarning, wdWarningIco\n\nOk";
}

/// `wd_Error_VAR` values: the parameter an error is about.
pub mod var {
    /// `WDRC_SID_INVALID` names the session parameter.
    pub const SID: &str = "wd_SID";
    /// `WDRC_LOGON_USER_PASSWORD_INVALID` names the user field, in this spelling.
    pub const USER_NAME: &str = "wd_USER_NAME_VALUE";
    /// `WDRC_CABINET_INVALID` names the cabinet parameter.
    pub const CABINET_ID: &str = "wd_CABINET_ID_VALUE";
}

/// `wd_Error_VAL` of a failed LOGON: the Windows error text.
pub const LOGON_INVALID_VAL: &str = "The user name or password is incorrect. (WINRC#1326)";

/// `wd_Error_VAL` of `WDRC_SID_INVALID` when no SID was sent at all.
pub const SID_MISSING_VAL: &str = "null";

/// The unfilled template placeholders of the one row a failed 2FGET answers. A row
/// holding these is not a device.
pub mod placeholder {
    /// `Rec`.
    pub const REC: &str = "%:R#%";
    /// `L`.
    pub const L: &str = "%:L#%";
    /// `ADDR`.
    pub const ADDR: &str = "%:ADDR%";
    /// `ADDR.ASIS`.
    pub const ADDR_ASIS: &str = "%:ADDR.ASIS%";
    /// `ADDR.VIEW`.
    pub const ADDR_VIEW: &str = "%:ADDR.VIEW%";
    /// `NAME`.
    pub const NAME: &str = "%:NAME%";
    /// `FLAG`.
    pub const FLAG: &str = "%:FLAG%";
}

/// 2FGET's `FLAG` values.
pub mod flag {
    /// The device is enabled.
    pub const YES: &str = "Yes";
    /// The device is disabled.
    pub const NO: &str = "No";
}

/// `wd_2FA_RecEnabled` value of an enabled record.
pub const REC_ENABLED: &str = "1";
/// `wd_2FA_RecEnabled` value of a disabled record.
pub const REC_DISABLED: &str = "0";

/// 2FSET's `data.AC` after a code was sent.
pub const AC_SENT: &str = "1";

/// The prefix of a 2FSET `Ref` (`Worldox 5FFC-B161`).
pub const REF_PREFIX: &str = "Worldox ";

/// LOGOFF's `data.loggedOff`.
pub const LOGGED_OFF: &str = "successfully";
