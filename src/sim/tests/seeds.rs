//! The simulator's answers against the seed reference's, key for key and in order,
//! and where the inputs allow it, value for value.

use serde_json::Value;

use super::shape::Json;
use super::*;

const LOGON_OK: &str = include_str!("../../../tests/fixtures/seeds/logon_ok.json");
const LOGON_FAILED: &str = include_str!("../../../tests/fixtures/seeds/logon_failed.json");
const LIST_OK: &str = include_str!("../../../tests/fixtures/seeds/2fget_ok.json");
const LIST_FAILED: &str = include_str!("../../../tests/fixtures/seeds/2fget_failed.json");
const SEND_OK: &str = include_str!("../../../tests/fixtures/seeds/2fset_send_code_ok.json");
const ADD_FAILED: &str = include_str!("../../../tests/fixtures/seeds/2fset_add_failed.json");
const DELETE_OK: &str = include_str!("../../../tests/fixtures/seeds/2fset_delete_ok.json");
const DELETE_FAILED: &str = include_str!("../../../tests/fixtures/seeds/2fset_delete_failed.json");
const EDIT_OK: &str = include_str!("../../../tests/fixtures/seeds/2fset_edit_ok.json");
const EDIT_FAILED: &str = include_str!("../../../tests/fixtures/seeds/2fset_edit_failed.json");
const LOGOFF: &str = include_str!("../../../tests/fixtures/seeds/logoff.json");

/// The seed's user, with the seed's two devices.
const SEED_USERS: &str = r#"
[[users]]
username = "qc1"
password = "qc1"
name = "QC User1"
email = "qc1@worldox.com"
firm = "World Software Corporation"

[[users.devices]]
address = "+15516555721"
name = "Work cell"

[[users.devices]]
address = "dsnyder@worldox.com"
name = "Work email"
"#;

fn assert_shape(actual: &str, seed: &str) {
    assert_eq!(
        Json::parse(actual).skeleton(),
        Json::parse(seed).skeleton(),
        "{actual}"
    );
}

fn seed(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn logon_success_has_the_seeds_keys_in_order() {
    let sim = Sim::demo();
    let answer = sim
        .raw(
            &Params::new().to_query(command::LOGON),
            Some(logon_form("qc1", "qc1").to_form()),
            None,
        )
        .await;
    assert_shape(&answer.body, LOGON_OK);
    let v = answer.json();
    let data = &v["root"]["data"];
    let session = data["session"].as_str().unwrap();
    let sid = decode(session);
    assert!(!session.contains('$'), "session is URL-encoded: {session}");
    assert_eq!(session, crate::upstream::cgi::encode(&sid));
    assert!(
        !sid.contains(['/', '+', '=']),
        "the raw SID escapes base64 specials: {sid}"
    );
    assert_eq!(sid.len() - 2 * sid.matches('$').count(), 60);
    assert_eq!(
        data["uploadFolder"],
        format!("/cgi-bin/WDSIDS/{sid}/SAVE/upload-file.asp").as_str()
    );
    assert_eq!(data["user"], "QC User1");
    assert_eq!(data["name"], "qc1");
    assert_eq!(data["email"], "qc1@worldox.com");
    assert_eq!(data["Firm"], "World Software Corporation");
    assert_eq!(data["rsClient"].as_str().unwrap().len(), 64);
    assert_eq!(
        v["root"]["errorStatus"],
        seed(LOGON_OK)["root"]["errorStatus"]
    );
}

#[tokio::test]
async fn logon_failure_equals_the_seed_but_for_server_secrets() {
    let sim = Sim::demo();
    let form = logon_form("qc1@worldox.com", "wrong");
    let answer = sim
        .raw(
            &Params::new().to_query(command::LOGON),
            Some(form.to_form()),
            None,
        )
        .await;
    assert_shape(&answer.body, LOGON_FAILED);
    let mut ours = answer.json();
    let mut theirs = seed(LOGON_FAILED);
    for v in [&mut ours, &mut theirs] {
        v["root"]["data"]["rsClient"] = Value::Null;
        v["root"]["data"]["rsSecret"] = Value::Null;
    }
    assert_eq!(ours, theirs);
}

#[tokio::test]
async fn list_success_has_the_seeds_status_and_rows() {
    let sim = Sim::with_users(SEED_USERS);
    let sid = sim.logon("qc1", "qc1").await;
    let query = Params::new()
        .with(param::SID, &sid)
        .with(param::LIST_FILTER, filter::SHOW)
        .to_query(command::TWO_FA_GET);
    let answer = sim.raw(&query, None, None).await;
    let ours = Json::parse(&answer.body);
    let (ok, failed) = (Json::parse(LIST_OK), Json::parse(LIST_FAILED));
    assert_eq!(
        ours.at("root/errorStatus").skeleton(),
        ok.at("root/errorStatus").skeleton()
    );
    // The seed's success rows lack NAME; its placeholder row has every field.
    assert_eq!(
        ours.at("root/data").skeleton(),
        failed.at("root/data").skeleton()
    );

    let mut v = answer.json();
    let id = list_id(&v);
    assert!(id.len() == 8 && id.starts_with('x'), "{id}");
    assert!(
        id[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()),
        "{id}"
    );
    let mut expected = seed(LIST_OK);
    expected["root"]["errorStatus"]["List_ID"] = id.as_str().into();
    for row in v["root"]["data"].as_array_mut().unwrap() {
        row.as_object_mut().unwrap().remove("NAME");
    }
    assert_eq!(v, expected);
}

#[tokio::test]
async fn list_failure_equals_the_seed_placeholders_and_junk() {
    let sim = Sim::demo();
    // The seed's VAL is this SID with `[wy` appended.
    let sid = "pQG7rtsguFSwdhnaBLtpvrtxOwZoDI4bGO3EnXdTMRHy1bqg1FctD7A6Gw8$3Dkopkp";
    let query = Params::new()
        .with(param::SID, sid)
        .to_query(command::TWO_FA_GET);
    let answer = sim.raw(&query, None, None).await;
    assert_shape(&answer.body, LIST_FAILED);
    assert_eq!(answer.json(), seed(LIST_FAILED));
}

#[tokio::test]
async fn send_code_answers_the_seeds_ref_and_masked_address() {
    let sim = Sim::with_users(SEED_USERS);
    let sid = sim.logon("qc1", "qc1").await;
    let query = Params::new()
        .with(param::SID, &sid)
        .to_query(command::TWO_FA_SET);
    let answer = sim
        .raw(
            &query,
            Some(send_form("dsnyder@worldox.com").to_form()),
            Some(SEED_RMT),
        )
        .await;
    assert_shape(&answer.body, SEND_OK);
    assert_shape(&answer.body, EDIT_OK);
    let mut v = answer.json();
    let reference = v["root"]["data"]["Ref"].as_str().unwrap().to_owned();
    let (prefix, hex) = reference.split_at(8);
    assert_eq!(prefix, "Worldox ");
    assert!(hex.len() == 9 && hex.as_bytes()[4] == b'-', "{reference}");
    v["root"]["data"]["Ref"] = "Worldox 5FFC-B161".into();
    assert_eq!(v, seed(SEND_OK));
}

#[tokio::test]
async fn an_undefined_address_equals_the_seeds_failure() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let query = Params::new()
        .with(param::SID, &sid)
        .to_query(command::TWO_FA_SET);
    let answer = sim
        .raw(
            &query,
            Some(send_form("not an address").to_form()),
            Some(SEED_RMT),
        )
        .await;
    assert_shape(&answer.body, ADD_FAILED);
    assert_eq!(answer.json(), seed(ADD_FAILED));
}

#[tokio::test]
async fn an_unknown_list_id_equals_the_seeds_edit_failure() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let query = Params::new()
        .with(param::SID, &sid)
        .to_query(command::TWO_FA_SET);
    let form = Params::new()
        .with(param::LIST_REC_NUM, "1")
        .with(param::LIST_ID, "x214E1A8")
        .with(param::REC_CONTRACT, "Work cell")
        .with(param::REC_ENABLED, "0");
    let answer = sim.raw(&query, Some(form.to_form()), Some(SEED_RMT)).await;
    assert_shape(&answer.body, EDIT_FAILED);
    assert_eq!(answer.json(), seed(EDIT_FAILED));
}

#[tokio::test]
async fn a_delete_without_sid_equals_the_seeds_delete_failure() {
    let sim = Sim::demo();
    let form = Params::new()
        .with(param::LIST_REC_NUM, "1")
        .with(param::LIST_ID, "x256B2F8")
        .with(param::REC_ENABLED, "DELETE");
    let query = Params::new().to_query(command::TWO_FA_SET);
    let answer = sim.raw(&query, Some(form.to_form()), Some(SEED_RMT)).await;
    assert_shape(&answer.body, DELETE_FAILED);
    assert_eq!(answer.json(), seed(DELETE_FAILED));
}

#[tokio::test]
async fn a_delete_equals_the_seeds_delete_success() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let id = list_id(&sim.list(&sid, false).await);
    let query = Params::new()
        .with(param::SID, &sid)
        .to_query(command::TWO_FA_SET);
    let form = Params::new()
        .with(param::LIST_REC_NUM, "2")
        .with(param::LIST_ID, &id)
        .with(param::REC_CONTRACT, "Work email")
        .with(param::REC_ENABLED, "DELETE")
        .with(param::REC_ADDRESS, "demo@example.com");
    let answer = sim.raw(&query, Some(form.to_form()), Some(SEED_RMT)).await;
    assert_shape(&answer.body, DELETE_OK);
    let mut expected = seed(DELETE_OK);
    expected["root"]["errorStatus"]["List_ID"] = id.as_str().into();
    assert_eq!(answer.json(), expected);
}

#[tokio::test]
async fn logoff_equals_the_reference() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let query = Params::new()
        .with(param::SID, &sid)
        .to_query(command::LOGOFF);
    let answer = sim.raw(&query, None, None).await;
    assert_shape(&answer.body, LOGOFF);
    assert_eq!(answer.json(), seed(LOGOFF));
}

#[tokio::test]
async fn an_unknown_command_answers_an_error_envelope() {
    let sim = Sim::demo();
    let answer = sim.raw("FROBNICATE+wd_SID=x", None, None).await;
    assert_shape(&answer.body, ADD_FAILED);
    assert_eq!(rctx(&answer.json()), "WDRC_COMMAND_INVALID");
}
