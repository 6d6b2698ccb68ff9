//! LOGON and LOGOFF.

use super::dispatch::Call;
use super::envelope::{
    ErrorFields, ErrorList, LogoffBody, LogoffData, LogonBody, LogonData, LogonStatus, WdError,
    error_count, to_body,
};
use super::state::State;
use crate::upstream::cgi::encode;
use crate::upstream::fields::{LOGGED_OFF, LOGON_INVALID_VAL, param, rc, var};

/// The server's internal name, as LOGON reports it.
const SERVER_NAME: &str = "_5D839152_51615_F";
/// The firm LOGON reports when no user is logged in.
const SERVER_FIRM: &str = "World Software Corporation";
const ONLINE_HELP: &str = "https://www.worldox.com/WEB3HELP/!SSL!/WebHelp/Introduction.htm";
const TROUBLESHOOT: &str =
    "https://www.worldox.com/WEB3DOCS/Worldox%20Web%203.0%20Basics%20and%20Troubleshooting.pdf";
const IIS_VERSION: &str = "20201120";
const AUTH_METHOD: &str = "b";
const GRAPH: &str = "3e58cb3b-1d02-4f55-b6a8-c113d1c2102c";
const RS_REDIRECT: &str = "https://phoenix.wdsaas.com";

/// LOGON: checks the user code (case-insensitive) and password (exact), starts a
/// session.
pub(crate) fn logon(state: &mut State, call: &Call<'_>) -> Vec<u8> {
    let code = call.params.get(param::USER_CODE).unwrap_or_default();
    let user = call.params.get(param::USER_PASSWORD).and_then(|password| {
        state
            .find_user(code)
            .filter(|&u| state.users[u].profile.password == password)
    });
    let Some(user) = user else {
        let rc = rc::LOGON_USER_PASSWORD_INVALID;
        let error = WdError {
            rc,
            msg: rc.1.to_owned(),
            var: var::USER_NAME.to_owned(),
            val: LOGON_INVALID_VAL.to_owned(),
        };
        return failure(state, call, &error);
    };
    let sid = state.new_session(user, call.now);
    let profile = &state.users[user].profile;
    let data = LogonData {
        session: encode(&sid).into_owned(),
        servername: SERVER_NAME.to_owned(),
        user: profile.name.clone(),
        name: profile.username.clone(),
        email: profile.email.clone(),
        uploadFolder: format!("/cgi-bin/WDSIDS/{sid}/SAVE/upload-file.asp"),
        uploadFolderJSON: format!("/cgi-bin/WDSIDS/{sid}/SAVE/upload-file-json.asp"),
        ownerInital: String::new(),
        ErrorCount: String::new(),
        wd_Error_MSG: String::new(),
        Firm: profile.firm.clone(),
        ..server_fields(state)
    };
    to_body(LogonBody {
        data,
        errorStatus: status(None),
    })
}

/// LOGON's failure answer: `data.name` echoes the user code typed, `servername` the
/// server name sent (a browser sends `*`).
pub(crate) fn failure(state: &State, call: &Call<'_>, error: &WdError) -> Vec<u8> {
    let data = LogonData {
        session: String::new(),
        servername: call
            .params
            .get(param::SERVER_NAME)
            .unwrap_or("*")
            .to_owned(),
        user: String::new(),
        name: call
            .params
            .get(param::USER_CODE)
            .unwrap_or_default()
            .to_owned(),
        email: String::new(),
        uploadFolder: "/upload-file.asp".to_owned(),
        uploadFolderJSON: "/upload-file-json.asp".to_owned(),
        ownerInital: String::new(),
        ErrorCount: error_count(Some(error)),
        wd_Error_MSG: error.rc.1.to_owned(),
        Firm: SERVER_FIRM.to_owned(),
        ..server_fields(state)
    };
    to_body(LogonBody {
        data,
        errorStatus: status(Some(error)),
    })
}

/// LOGOFF: ends the session if it exists; the answer is always the same.
pub(crate) fn logoff(state: &mut State, call: &Call<'_>) -> Vec<u8> {
    if let Some(sid) = call.params.get(param::SID) {
        state.end_session(sid);
    }
    to_body(LogoffBody {
        data: LogoffData {
            loggedOff: LOGGED_OFF,
        },
    })
}

/// The fields of LOGON's `data` that describe the server, not the user.
fn server_fields(state: &State) -> LogonData {
    LogonData {
        session: String::new(),
        servername: String::new(),
        user: String::new(),
        name: String::new(),
        email: String::new(),
        uploadFolder: String::new(),
        uploadFolderJSON: String::new(),
        ownerInital: String::new(),
        ErrorCount: String::new(),
        wd_Error_MSG: String::new(),
        Firm: String::new(),
        OnlineHelp: ONLINE_HELP.to_owned(),
        WWTroubleShoot: TROUBLESHOOT.to_owned(),
        IISVER: IIS_VERSION.to_owned(),
        AuthMethod: AUTH_METHOD.to_owned(),
        Graph: GRAPH.to_owned(),
        rsClient: state.rs_client.clone(),
        rsRedirect: RS_REDIRECT.to_owned(),
        rsSecret: state.rs_secret.clone(),
    }
}

fn status(error: Option<&WdError>) -> LogonStatus {
    LogonStatus {
        ErrorCount: error_count(error),
        first: ErrorFields::of(error),
        wd_Error_DOCID: String::new(),
        wd_Error_DOCNAME: String::new(),
        req_ID: String::new(),
        Error: ErrorList::of(error),
    }
}
