//! LOGON and LOGOFF: opening and closing a Worldox session.

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cgi::{self, Params};
use super::client::{Call, Client, Error};
use super::envelope::ShapeError;
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
            form: Params::new()
                .with(param::HTML_ON_OK, template::LOGIN)
                .with(param::HTML_ON_FAIL, template::LOGIN)
                .with(param::USER_CODE, username)
                .with(param::USER_PASSWORD, password)
                .with(param::SERVER_NAME, "*")
                .with(param::SERVER_PASSWORD, "*"),
        };
        let envelope = self.call(&call).await?;
        parse_logon(&envelope.data, username).map_err(Error::Shape)
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
            form: Params::new(),
        };
        self.call(&call).await.map(drop)
    }
}

/// Reads the SID and profile out of LOGON's `data`.
fn parse_logon(data: &Value, typed_username: &str) -> Result<Logon, ShapeError> {
    let field = |name: &str| data.get(name).and_then(Value::as_str).unwrap_or_default();
    // `data.session` is URL-encoded once (`%24` for `$`); the server wants it back raw
    // after its own one decoding, so decode it exactly once here.
    let session = field("session");
    if session.is_empty() {
        return Err(ShapeError::WrongShape("LOGON succeeded without a session"));
    }
    let username = match field("name") {
        "" => typed_username,
        name => name,
    };
    Ok(Logon {
        sid: Sid::new(cgi::decode(session)),
        profile: Profile {
            username: username.to_owned(),
            name: field("user").to_owned(),
            email: field("email").to_owned(),
            firm: field("Firm").to_owned(),
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
    fn a_success_without_session_is_a_wrong_shape() {
        assert!(parse_logon(&json!({"session": ""}), "x").is_err());
    }
}
