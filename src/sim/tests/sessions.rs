//! LOGON, LOGOFF, SIDs and the CGI syntax the server accepts.

use std::time::Duration;

use super::*;
use crate::upstream::cgi::encode;

#[tokio::test]
async fn wrong_password_or_unknown_user_fails_like_the_seed() {
    let sim = Sim::demo();
    for (user, password) in [("demo", "DEMO"), ("nobody", "demo"), ("demo", "")] {
        let v = sim
            .post(command::LOGON, &Params::new(), &logon_form(user, password))
            .await;
        assert_eq!(
            rctx(&v),
            "WDRC_LOGON_USER_PASSWORD_INVALID",
            "{user}/{password}"
        );
        let status = &v["root"]["errorStatus"];
        assert_eq!(status["ErrorCount"], "1");
        assert_eq!(status["wd_Error_RCID"], "8435");
        assert_eq!(status["wd_Error_VAR"], "wd_USER_NAME_VALUE");
        let data = &v["root"]["data"];
        assert_eq!(data["session"], "");
        assert_eq!(data["name"], user);
        assert_eq!(data["ErrorCount"], "1");
        assert_eq!(data["wd_Error_MSG"], "WDRC_LOGON_USER_PASSWORD_INVALID");
    }
    let no_password = Params::new().with(param::USER_CODE, "demo");
    let v = sim.post(command::LOGON, &Params::new(), &no_password).await;
    assert_eq!(rctx(&v), "WDRC_LOGON_USER_PASSWORD_INVALID");
}

#[tokio::test]
async fn user_codes_match_case_insensitively_passwords_exactly() {
    let sim = Sim::demo();
    let v = sim
        .post(command::LOGON, &Params::new(), &logon_form("DEMO", "demo"))
        .await;
    assert_eq!(rctx(&v), "");
    assert_eq!(v["root"]["data"]["name"], "demo");
    assert_eq!(v["root"]["data"]["user"], "Demo User");
}

#[tokio::test]
async fn a_password_with_every_separator_arrives_intact() {
    let sim = Sim::demo();
    let password = "p+a&s=s%w#rd 1\u{e9}";
    sim.logon("tricky", password).await;
    // In the query too, where `+` and `&` separate parameters.
    let v = sim
        .get(command::LOGON, &logon_form("tricky", password))
        .await;
    assert_eq!(rctx(&v), "");
    assert!(sim.sim.users().contains(&"tricky".to_owned()));
}

#[tokio::test]
async fn each_logon_gets_a_new_sid() {
    let sim = Sim::demo();
    let a = sim.logon("demo", "demo").await;
    let b = sim.logon("demo", "demo").await;
    assert_ne!(a, b);
    assert_eq!(rctx(&sim.list(&a, true).await), "");
    assert_eq!(rctx(&sim.list(&b, true).await), "");
}

#[tokio::test]
async fn a_double_encoded_sid_is_rejected() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let double = encode(&encode(&sid)).into_owned();
    let answer = sim
        .raw(&format!("2FGET+wd_SID={double}"), None, None)
        .await
        .json();
    assert_eq!(rctx(&answer), "WDRC_SID_INVALID");
    // Once encoded it works, whatever `$` escapes the SID holds.
    let once = encode(&sid).into_owned();
    let answer = sim
        .raw(&format!("2FGET+wd_SID={once}"), None, None)
        .await
        .json();
    assert_eq!(rctx(&answer), "");
}

#[tokio::test]
async fn sid_invalid_echoes_the_sid_with_junk_or_null() {
    let sim = Sim::demo();
    let v = sim.list("bogus$2F", true).await;
    let status = &v["root"]["errorStatus"];
    assert_eq!(status["wd_Error_RCID"], "8740");
    assert_eq!(status["wd_Error_VAR"], "wd_SID");
    assert_eq!(status["wd_Error_VAL"], "bogus$2F[wy");
    let v = sim.get(command::TWO_FA_GET, &Params::new()).await;
    assert_eq!(v["root"]["errorStatus"]["wd_Error_VAL"], "null");
}

#[tokio::test(start_paused = true)]
async fn sids_expire_when_idle_and_every_use_refreshes_them() {
    let config = SimConfig {
        sid_idle_secs: 60,
        ..SimConfig::default()
    };
    let sim = Sim::with(&config);
    let sid = sim.logon("demo", "demo").await;
    tokio::time::advance(Duration::from_secs(45)).await;
    assert_eq!(rctx(&sim.list(&sid, true).await), "");
    tokio::time::advance(Duration::from_secs(45)).await;
    assert_eq!(rctx(&sim.list(&sid, true).await), "", "refreshed 45 s ago");
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(rctx(&sim.list(&sid, true).await), "WDRC_SID_INVALID");
}

#[tokio::test]
async fn logoff_always_succeeds_and_ends_the_session() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let expected = serde_json::json!({"root": {"data": {"loggedOff": "successfully"}}});
    let v = sim
        .raw(&format!("LOGOFF&wd_SID={}", encode(&sid)), None, None)
        .await
        .json();
    assert_eq!(v, expected);
    assert_eq!(rctx(&sim.list(&sid, true).await), "WDRC_SID_INVALID");
    for query in ["LOGOFF&wd_SID=unknown", "LOGOFF", "logoff+html=%2Fx.json"] {
        assert_eq!(sim.raw(query, None, None).await.json(), expected, "{query}");
    }
}

#[tokio::test]
async fn expire_sessions_invalidates_every_sid() {
    let sim = Sim::demo();
    let a = sim.logon("demo", "demo").await;
    let b = sim.logon("qc1", "qc1").await;
    let answer = sim.admin(Method::POST, "/_sim/expire-sessions", None).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(rctx(&sim.list(&a, true).await), "WDRC_SID_INVALID");
    assert_eq!(rctx(&sim.list(&b, true).await), "WDRC_SID_INVALID");
}

#[tokio::test]
async fn parameter_names_and_commands_match_case_insensitively() {
    let sim = Sim::demo();
    let sid = encode(&sim.logon("demo", "demo").await).into_owned();
    let query = format!("2fget+WD_SID={sid}+wd_list_filter=Redact%3E0+HTMLONOK=%2Fx.json");
    let v = sim.raw(&query, None, None).await.json();
    assert_eq!(rctx(&v), "");
    assert_eq!(v["root"]["data"][0]["ADDR.ASIS"], "+15516555721");
}

#[tokio::test]
async fn ampersand_separators_and_html_are_accepted() {
    let sim = Sim::demo();
    let sid = encode(&sim.logon("demo", "demo").await).into_owned();
    let query = format!("2FGET&wd_SID={sid}&WD_List_Filter=Redact%3E1&html=%2Fv4%2Fx.json");
    let v = sim.raw(&query, None, None).await.json();
    assert_eq!(rctx(&v), "");
    assert_eq!(v["root"]["data"][0]["ADDR.ASIS"], "+*********21");
}

#[tokio::test]
async fn the_sid_may_come_in_the_form_body() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let form = send_form("demo@example.com").with(param::SID, &sid);
    let v = sim.post(command::TWO_FA_SET, &Params::new(), &form).await;
    assert_eq!(rctx(&v), "");
    assert_eq!(v["root"]["data"]["AC"], "1");
}
