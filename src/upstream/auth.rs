//! LOGON and LOGOFF: opening and closing a Worldox session.

use std::borrow::Cow;

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cgi::{self, Params};
use super::client::{Call, Client, Error, Parsed};
use super::envelope::{ShapeError, Success};
use super::fields::{command, param, template};
use super::sid::Sid;

/// The user's profile as LOGON reports it. Only these fields leave LOGON's answer:
/// `rsSecret`, `rsClient`, the SID and `uploadFolder*` are dropped here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The Worldox user code (`data.name`).
    pub username: String,
    /// The display name (`data.user`).
    pub name: String,
    /// `data.email`.
    pub email: String,
    /// `data.Firm`.
    pub firm: String,
}

/// A successful LOGON.
#[derive(Debug, Clone)]
pub struct Logon {
    /// The raw SID.
    pub sid: Sid,
    /// Who logged in.
    pub profile: Profile,
}

impl Client {
    /// LOGON with a user code and password.
    pub async fn logon(&self, username: &str, password: &str) -> Result<Logon, Error> {
        let call = Call {
            command: command::LOGON,
            method: Method::POST,
            query: Params::new(),
            fixed: None,
            form: Params::new()
                .with(param::HTML_ON_OK, template::LOGIN)
                .with(param::HTML_ON_FAIL, template::LOGIN)
                .with(param::USER_CODE, username)
                .with(param::USER_PASSWORD, password)
                .with(param::SERVER_NAME, "*")
                .with(param::SERVER_PASSWORD, "*"),
        };
        let fast = |body: &[u8]| fast_logon(body, username);
        match self.call_parsed(&call, fast).await? {
            Parsed::Fast(logon) => Ok(logon),
            Parsed::Envelope(envelope) => {
                parse_logon(&envelope.data, username).map_err(Error::Shape)
            }
        }
    }

    /// LOGOFF. Worldox documents no failure answer for it.
    pub async fn logoff(&self, sid: &Sid) -> Result<(), Error> {
        let call = Call {
            command: command::LOGOFF,
            method: Method::GET,
            query: Params::new()
                .with(param::SID, sid.expose())
                .with(param::HTML_ON_OK, template::LOGOFF_OK)
                .with(param::HTML_ON_FAIL, template::LOGOFF_FAIL),
            fixed: None,
            form: Params::new(),
        };
        self.call(&call).await.map(drop)
    }
}

/// The fields of LOGON's `data` the gateway keeps (and the two that report a failure),
/// borrowed from the answer where no escape is in the way. Everything else, `rsSecret`
/// included, is skipped unread.
#[derive(Debug, Default, Deserialize)]
struct LogonData<'a> {
    #[serde(borrow, default)]
    session: Cow<'a, str>,
    #[serde(borrow, default)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    user: Cow<'a, str>,
    #[serde(borrow, default)]
    email: Cow<'a, str>,
    #[serde(rename = "Firm", borrow, default)]
    firm: Cow<'a, str>,
    #[serde(rename = "ErrorCount", borrow, default)]
    error_count: Cow<'a, str>,
    #[serde(rename = "wd_Error_MSG", borrow, default)]
    error_message: Cow<'a, str>,
}

/// A successful LOGON read straight from the body, without the JSON tree the general
/// path builds: the common case. `None` for anything else (an error in `errorStatus` or
/// in `data`, no session, a shape it does not know), which then takes the general path
/// and is reported as every other answer is.
fn fast_logon(body: &[u8], typed_username: &str) -> Option<Logon> {
    let Success { data, .. } = Success::<LogonData<'_>>::parse(body)?;
    let failed = !matches!(&*data.error_count, "" | "0") || !data.error_message.is_empty();
    if failed {
        return None;
    }
    logon_from(&data, typed_username).ok()
}

/// Reads the SID and profile out of LOGON's `data`.
fn parse_logon(data: &Value, typed_username: &str) -> Result<Logon, ShapeError> {
    let field =
        |name: &str| Cow::Borrowed(data.get(name).and_then(Value::as_str).unwrap_or_default());
    let data = LogonData {
        session: field("session"),
        name: field("name"),
        user: field("user"),
        email: field("email"),
        firm: field("Firm"),
        ..LogonData::default()
    };
    logon_from(&data, typed_username)
}

fn logon_from(data: &LogonData<'_>, typed_username: &str) -> Result<Logon, ShapeError> {
    // `data.session` is URL-encoded once (`%24` for `$`); the server wants it back raw
    // after its own one decoding, so decode it exactly once here.
    if data.session.is_empty() {
        return Err(ShapeError::WrongShape("LOGON succeeded without a session"));
    }
    let username = match &*data.name {
        "" => typed_username,
        name => name,
    };
    Ok(Logon {
        sid: Sid::new(cgi::decode(&data.session)),
        profile: Profile {
            username: username.to_owned(),
            name: data.user.clone().into_owned(),
            email: data.email.clone().into_owned(),
            firm: data.firm.clone().into_owned(),
        },
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_seed_session_is_decoded_once_and_secrets_dropped() {
        let data = json!({
            "session": "mK2JN75CKK2NN643lsNiLAyWKr%242Ff2XB%242BvFn3ljbYex%242FEahK7OTXML5Daei0%243D",
            "user": "QC User1", "name": "QC1", "email": "qc1@worldox.com",
            "Firm": "World Software Corporation",
            "rsSecret": "ce0ea030382921255f858ccc2dbd748c308cfcd58878ce3e4d40c9ec3e4ad138",
        });
        let logon = parse_logon(&data, "qc1").expect("valid");
        assert_eq!(
            logon.sid.expose(),
            "mK2JN75CKK2NN643lsNiLAyWKr$2Ff2XB$2BvFn3ljbYex$2FEahK7OTXML5Daei0$3D"
        );
        assert_eq!(logon.profile.username, "QC1");
        assert_eq!(logon.profile.name, "QC User1");
        assert_eq!(logon.profile.firm, "World Software Corporation");
        let shown = format!("{logon:?}");
        assert!(!shown.contains("mK2JN") && !shown.contains("ce0ea"));
    }

    #[test]
    fn the_fast_path_reads_the_seed_answer_as_the_general_path_does() {
        let body = br#"{"root":{"errorStatus":{"List_ID":"","List_Count":"","ErrorCount":"","Error":""},
            "data":{"session":"mK2JN75CKK2NN643lsNiLAyWKr%242Ff2XB%242BvFn3ljbYex%242FEahK7OTXML5Daei0%243D",
            "servername":"WDWEB","user":"QC User1","name":"QC1","email":"qc1@worldox.com",
            "ErrorCount":"","wd_Error_MSG":"","Firm":"World Software \u0026 Co",
            "rsSecret":"ce0ea030382921255f858ccc2dbd748c308cfcd58878ce3e4d40c9ec3e4ad138"}}}"#;
        let fast = fast_logon(body, "qc1").expect("a plain success");
        let value: Value = serde_json::from_slice(body).expect("json");
        let general = parse_logon(&value["root"]["data"], "qc1").expect("valid");
        assert_eq!(fast.sid.expose(), general.sid.expose());
        assert_eq!(fast.profile, general.profile);
        assert_eq!(fast.profile.firm, "World Software & Co");
    }

    #[test]
    fn a_failed_logon_is_left_to_the_general_path() {
        let body = br#"{"root":{"errorStatus":{"List_ID":"","List_Count":"","ErrorCount":"1",
            "Error":[{"wd_Error_RCID":"8435","wd_Error_RCTX":"WDRC_LOGON_USER_PASSWORD_INVALID"}]},
            "data":{"session":"","name":"qc1","ErrorCount":"1","wd_Error_MSG":"WDRC_LOGON_USER_PASSWORD_INVALID"}}}"#;
        assert!(fast_logon(body, "qc1").is_none());
        let only_in_data = br#"{"root":{"errorStatus":{"List_ID":"","ErrorCount":"","Error":""},
            "data":{"session":"abc","ErrorCount":"1","wd_Error_MSG":"no"}}}"#;
        assert!(fast_logon(only_in_data, "qc1").is_none());
        let no_session =
            br#"{"root":{"errorStatus":{"ErrorCount":"","Error":""},"data":{"session":""}}}"#;
        assert!(fast_logon(no_session, "qc1").is_none());
    }

    #[test]
    fn a_success_without_session_is_a_wrong_shape() {
        assert!(parse_logon(&json!({"session": ""}), "x").is_err());
    }
}
