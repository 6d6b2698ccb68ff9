use serde_json::json;

use super::*;

fn parse(v: Value) -> Envelope {
    Envelope::from_value(v).expect("a Worldox envelope")
}

#[test]
fn only_a_plain_success_is_read_without_a_tree() {
    let ok = br#"{"root": {"errorStatus": {"List_ID": "x1", "ErrorCount": "0", "Error": ""},
        "data": [1, 2]}}"#;
    let success = Success::<Vec<u8>>::parse(ok).expect("a plain success");
    assert_eq!((success.data, &*success.list_id), (vec![1, 2], "x1"));
    let no_data = br#"{"root": {"errorStatus": {}}}"#;
    assert_eq!(
        Success::<Vec<u8>>::parse(no_data).expect("success").data,
        Vec::<u8>::new()
    );
    for body in [
        &br#"{"root": {"errorStatus": {"ErrorCount": "1", "wd_Error_RCTX": "WDRC_SID_INVALID"}}}"#
            [..],
        br#"{"root": {"errorStatus": {"ErrorCount": 0}}}"#,
        br#"{"root": {"errorStatus": {"Error": []}}}"#,
        br#"{"root": {"data": []}}"#,
        b"[]",
    ] {
        assert!(
            Success::<Vec<u8>>::parse(body).is_none(),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn twofget_success_has_rows_and_list_id() {
    let env = parse(json!({"root": {
        "errorStatus": {"List_ID": "x211D3D8", "List_Count": "2", "ErrorCount": "",
            "wd_Error_RCID": "", "wd_Error_RCTX": "", "wd_Error_MSG": "", "wd_Error_VAR": "",
            "wd_Error_VAL": "", "Error": ""},
        "data": [{"Rec": "1"}, {"Rec": "2"}]}}));
    assert!(env.is_ok());
    assert_eq!(env.list_id.as_deref(), Some("x211D3D8"));
    assert_eq!(env.data.as_array().map(Vec::len), Some(2));
}

#[test]
fn twofget_failure_reads_the_error_array_and_drops_val() {
    let env = parse(json!({"root": {
        "errorStatus": {"List_ID": "", "List_Count": "", "ErrorCount": "1",
            "wd_Error_RCID": "8740", "wd_Error_RCTX": "WDRC_SID_INVALID",
            "wd_Error_MSG": "WDRC_SID_INVALID", "wd_Error_VAR": "wd_SID",
            "wd_Error_VAL": "pQG7rtsg$3Dkopkp[wy",
            "Error": [{"wd_Error_RCID": "8740", "wd_Error_RCTX": "WDRC_SID_INVALID",
                "wd_Error_MSG": "WDRC_SID_INVALID", "wd_Error_VAR": "wd_SID",
                "wd_Error_VAL": "pQG7rtsg$3Dkopkp[wy"}]},
        "data": [{"Rec": "%:R#%"}]}}));
    assert_eq!(env.errors.len(), 1);
    let e = &env.errors[0];
    assert!(e.is_sid_invalid());
    assert_eq!(e.rcid, "8740");
    assert_eq!(e.var, "wd_SID");
    assert!(!format!("{env:?}").contains("pQG7"), "VAL must be dropped");
}

#[test]
fn twofset_failure_cleans_ui_junk_from_the_message() {
    let env = parse(json!({"root": {
        "errorStatus": {"List_ID": "x214E1A8", "List_Count": "", "ErrorCount": "1",
            "Error": [{"wd_Error_RCID": "8375", "wd_Error_RCTX": "WDRC_LISTID_INVALID",
                "wd_Error_MSG": "Invalid list ID issue\n\n\nInvalid list ID, click Refresh to update your file list.\n\n\n\ncloseCircle, wdErrorIco\nRefresh\nCancel",
                "wd_Error_VAR": "", "wd_Error_VAL": ""}]},
        "data": {"Ref": "", "AC": "", "Send": "", "RMT": "69.112.37.92"}}}));
    let e = env.cause().expect("an error");
    assert!(e.is_list_stale());
    assert_eq!(
        e.message,
        "Invalid list ID issue: Invalid list ID, click Refresh to update your file list."
    );
}

#[test]
fn messages_lose_dialog_buttons() {
    assert_eq!(
        clean_message(
            "Undefined Address\n\n\nThe email address entered for two factor authentication is not defined.\n\n\n\n\nOK\n"
        ),
        "Undefined Address: The email address entered for two factor authentication is not defined."
    );
    assert_eq!(clean_message("WDRC_SID_INVALID"), "WDRC_SID_INVALID");
    assert_eq!(clean_message(""), "");
    assert_eq!(clean_message("\n\nOK\n"), "");
}

#[test]
fn logon_failure_is_read_from_error_status() {
    let env = parse(json!({"root": {
        "data": {"session": "", "ErrorCount": "1",
            "wd_Error_MSG": "WDRC_LOGON_USER_PASSWORD_INVALID", "rsSecret": "ce0e"},
        "errorStatus": {"ErrorCount": "1", "wd_Error_RCID": "8435",
            "wd_Error_RCTX": "WDRC_LOGON_USER_PASSWORD_INVALID",
            "wd_Error_MSG": "WDRC_LOGON_USER_PASSWORD_INVALID",
            "wd_Error_VAR": "wd_USER_NAME_VALUE",
            "wd_Error_VAL": "The user name or password is incorrect. (WINRC#1326)",
            "wd_Error_DOCID": "", "wd_Error_DOCNAME": "", "req_ID": "",
            "Error": [{"wd_Error_RCID": "8435", "wd_Error_RCTX": "WDRC_LOGON_USER_PASSWORD_INVALID",
                "wd_Error_MSG": "WDRC_LOGON_USER_PASSWORD_INVALID",
                "wd_Error_VAR": "wd_USER_NAME_VALUE", "wd_Error_VAL": "x"}]}}}));
    assert_eq!(env.cause().map(|e| e.rcid.as_str()), Some("8435"));
}

#[test]
fn logon_error_only_in_data_still_fails() {
    let env = parse(json!({"root": {"data": {"ErrorCount": "1",
        "wd_Error_MSG": "WDRC_LOGON_USER_PASSWORD_INVALID"}}}));
    assert_eq!(
        env.cause().map(|e| e.rctx.as_str()),
        Some("WDRC_LOGON_USER_PASSWORD_INVALID")
    );
}

#[test]
fn logoff_without_error_status_is_a_success() {
    let env = parse(json!({"root": {"data": {"loggedOff": "successfully"}}}));
    assert!(env.is_ok());
}

#[test]
fn several_errors_keep_their_order() {
    let env = parse(
        json!({"root": {"errorStatus": {"ErrorCount": "2", "Error": [
        {"wd_Error_RCID": "8120", "wd_Error_RCTX": "WDRC_CABINET_INVALID", "wd_Error_MSG": "a"},
        {"wd_Error_RCID": "8525", "wd_Error_RCTX": "WDRC_PATH_INVALID", "wd_Error_MSG": "b"}]}}}),
    );
    let codes: Vec<_> = env.errors.iter().map(|e| e.rcid.as_str()).collect();
    assert_eq!(codes, ["8120", "8525"]);
}

#[test]
fn zero_project_clean_is_an_empty_success() {
    let env = parse(
        json!({"root": {"errorStatus": {"ErrorCount": "1", "Error": [
        {"wd_Error_RCID": "9105", "wd_Error_RCTX": "WDRC_ZERO_PROJECT_CLEAN",
         "wd_Error_MSG": "No files"}]}, "data": []}}),
    );
    assert!(env.is_ok());
}

#[test]
fn an_error_count_without_details_is_still_an_error() {
    let env = parse(json!({"root": {"errorStatus": {"ErrorCount": "1", "Error": ""}}}));
    assert!(!env.is_ok());
}

#[test]
fn garbage_is_rejected_with_a_reason() {
    assert_eq!(
        Envelope::parse(b"<html>oops</html>"),
        Err(ShapeError::NotJson)
    );
    assert!(matches!(
        Envelope::parse(b"[1,2]"),
        Err(ShapeError::WrongShape(_))
    ));
    assert!(matches!(
        Envelope::parse(b"{\"root\":1}"),
        Err(ShapeError::WrongShape(_))
    ));
    assert!(matches!(
        Envelope::parse(br#"{"root":{"errorStatus":{"ErrorCount":"x"}}}"#),
        Err(ShapeError::WrongShape(_))
    ));
    assert!(matches!(
        Envelope::parse(br#"{"root":{"errorStatus":{"Error":[1]}}}"#),
        Err(ShapeError::WrongShape(_))
    ));
}

proptest::proptest! {
    #[test]
    fn parsing_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
        let _ = Envelope::parse(&bytes);
    }
}

fn entry(rcid: &str, rctx: &str) -> Value {
    json!({"wd_Error_RCID": rcid, "wd_Error_RCTX": rctx, "wd_Error_MSG": rctx,
           "wd_Error_VAR": "", "wd_Error_VAL": ""})
}

fn with_errors(entries: &[Value]) -> Envelope {
    parse(json!({"root": {"data": "", "errorStatus": {
        "ErrorCount": entries.len().to_string(), "Error": entries}}}))
}

#[test]
fn the_cause_of_a_multi_error_answer_goes_by_precedence() {
    // DOWNLOAD without a list: PATH_INVALID first, but the list decides (retry, 409).
    let download = with_errors(&[
        entry("8525", "WDRC_PATH_INVALID"),
        entry("8380", "WDRC_LISTID_UNDEFINED"),
    ]);
    assert_eq!(
        download.cause().expect("error").rctx,
        "WDRC_LISTID_UNDEFINED"
    );
    // An expired session beats everything.
    let expired = with_errors(&[
        entry("8375", "WDRC_LISTID_INVALID"),
        entry("8740", "WDRC_SID_INVALID"),
    ]);
    assert!(expired.cause().expect("error").is_sid_invalid());
    // LOCK's extra WINRC sentence is ignored when a Worldox code is there.
    let lock = with_errors(&[
        entry("1208", "An extended error has occurred. (WINRC#1208)"),
        entry("8275", "WDRC_FILE_NOT_FOUND"),
    ]);
    assert_eq!(lock.cause().expect("error").rctx, "WDRC_FILE_NOT_FOUND");
    // Alone, it is the cause (an unknown code: 502 by the table).
    let alone = with_errors(&[entry(
        "1208",
        "An extended error has occurred. (WINRC#1208)",
    )]);
    assert_eq!(alone.cause().expect("error").rcid, "1208");
    assert!(with_errors(&[]).cause().is_none());
}

#[test]
fn the_zero_family_is_an_empty_success_and_the_set_is_configurable() {
    for code in [
        "WDRC_ZERO_PROJECT_CLEAN",
        "WDRC_ZERO_FIELDS_CLEAN",
        "WDRC_ZERO_FOUND_FILTER",
        "WDRC_ZERO_FOLDER_FILTER",
    ] {
        assert!(with_errors(&[entry("9105", code)]).is_ok(), "{code}");
    }
    // FIELDTABLE says it in wd_Error_MSG alone.
    let fieldtable = parse(json!({"root": {"data": "", "errorStatus": {
        "ErrorCount": "1", "wd_Error_MSG": "WDRC_ZERO_FIELDS_CLEAN"}}}));
    assert!(fieldtable.is_ok());
    let only_9105 = EmptyResults::new(&["WDRC_ZERO_PROJECT_CLEAN".to_owned()]);
    let body = json!({"root": {"data": "", "errorStatus": {"ErrorCount": "1",
        "Error": [entry("9107", "WDRC_ZERO_FOUND_FILTER")]}}});
    let strict = Envelope::from_value_with(body, &only_9105).expect("envelope");
    assert_eq!(
        strict.cause().expect("error").rctx,
        "WDRC_ZERO_FOUND_FILTER"
    );
    assert!(!EmptyResults::new(&[]).matches(&strict.errors[0]));
}

#[test]
fn an_empty_error_array_is_a_success() {
    let env = parse(json!({"root": {"data": {"DocId": "1"},
        "errorStatus": {"List_Count": "", "ErrorCount": "", "Error": []}}}));
    assert!(env.is_ok());
}
