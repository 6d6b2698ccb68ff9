//! 2FGET and 2FSET: listings, List_IDs, access codes, add, edit and delete.

use std::time::Duration;

use super::*;

fn row_form(list_id: &str, rec: &str) -> Params {
    Params::new()
        .with(param::LIST_REC_NUM, rec)
        .with(param::LIST_ID, list_id)
}

fn add_form(address: &str, name: &str, enabled: &str) -> Params {
    Params::new()
        .with(param::REC_ADDRESS, address)
        .with(param::REC_CONTACT, name)
        .with(param::REC_ENABLED, enabled)
}

fn owned(rec: &str, asis: &str, name: &str, flag: &str) -> (String, String, String, String) {
    (
        rec.to_owned(),
        asis.to_owned(),
        name.to_owned(),
        flag.to_owned(),
    )
}

#[tokio::test]
async fn addresses_are_masked_unless_redact_0() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let unfiltered = sim
        .get(command::TWO_FA_GET, &Params::new().with(param::SID, &sid))
        .await;
    for v in [unfiltered, sim.list(&sid, false).await] {
        let data = &v["root"]["data"];
        assert_eq!(data[0]["ADDR"], "(***) ***-**21");
        assert_eq!(data[0]["ADDR.ASIS"], "+*********21");
        assert_eq!(data[0]["ADDR.VIEW"], "(***) ***-**21");
        assert_eq!(data[1]["ADDR"], "**mo@*****le.***");
        assert_eq!(data[1]["NAME"], "Work email");
        assert_eq!(v["root"]["errorStatus"]["List_Count"], "2");
    }
    let clear = sim.list(&sid, true).await;
    assert_eq!(clear["root"]["data"][0]["ADDR"], "(551) 655-5721");
    assert_eq!(clear["root"]["data"][1]["ADDR.VIEW"], "demo@example.com");
}

#[tokio::test]
async fn an_empty_list_has_count_0() {
    let sim = Sim::demo();
    let sid = sim.logon("qc1", "qc1").await;
    let v = sim.list(&sid, true).await;
    assert_eq!(v["root"]["data"], serde_json::json!([]));
    assert_eq!(v["root"]["errorStatus"]["List_Count"], "0");
    assert_eq!(v["root"]["errorStatus"]["ErrorCount"], "");
}

#[tokio::test]
async fn every_listing_has_a_new_list_id_and_reads_keep_old_ones_valid() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let first = list_id(&sim.list(&sid, true).await);
    let second = list_id(&sim.list(&sid, true).await);
    assert_ne!(first, second);
    let edit = row_form(&first, "1").with(param::REC_CONTRACT, "Old listing, still good");
    assert_eq!(rctx(&sim.set(&sid, &edit).await), "");
}

#[tokio::test]
async fn a_write_by_another_session_makes_earlier_list_ids_stale() {
    let sim = Sim::demo();
    let a = sim.logon("demo", "demo").await;
    let b = sim.logon("demo", "demo").await;
    let id_a = list_id(&sim.list(&a, true).await);
    let id_b = list_id(&sim.list(&b, true).await);
    let edit = row_form(&id_b, "1").with(param::REC_ENABLED, "0");
    assert_eq!(rctx(&sim.set(&b, &edit).await), "");
    let stale = sim
        .set(&a, &row_form(&id_a, "1").with(param::REC_ENABLED, "1"))
        .await;
    assert_eq!(rctx(&stale), "WDRC_LISTID_INVALID");
    assert_eq!(stale["root"]["errorStatus"]["List_ID"], id_a.as_str());
    // The writer's own listing is stale too.
    let again = sim
        .set(&b, &row_form(&id_b, "1").with(param::REC_ENABLED, "1"))
        .await;
    assert_eq!(rctx(&again), "WDRC_LISTID_INVALID");
}

#[tokio::test]
async fn invalidate_lists_makes_every_list_id_stale() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let id = list_id(&sim.list(&sid, true).await);
    let answer = sim
        .admin(Method::POST, "/_sim/invalidate-lists", None)
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    let v = sim
        .set(&sid, &row_form(&id, "1").with(param::REC_ENABLED, "0"))
        .await;
    assert_eq!(rctx(&v), "WDRC_LISTID_INVALID");
}

#[tokio::test]
async fn bad_list_references_fail() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let other = sim.logon("qc1", "qc1").await;
    let id = list_id(&sim.list(&sid, true).await);
    let other_id = list_id(&sim.list(&other, true).await);
    let cases = [
        (row_form("", "1"), "WDRC_LISTID_UNDEFINED"),
        (
            Params::new().with(param::LIST_REC_NUM, "1"),
            "WDRC_LISTID_UNDEFINED",
        ),
        (row_form(&id, "3"), "WDRC_LISTID_INVALID"),
        (row_form(&id, "0"), "WDRC_LISTID_INVALID"),
        (row_form(&id, "one"), "WDRC_LISTID_INVALID"),
        (
            Params::new().with(param::LIST_ID, &id),
            "WDRC_LISTID_INVALID",
        ),
        (row_form(&other_id, "1"), "WDRC_LISTID_INVALID"),
    ];
    for (form, expected) in cases {
        let form = form.with(param::REC_ENABLED, "0");
        let v = sim.set(&sid, &form).await;
        assert_eq!(rctx(&v), expected, "{form:?}");
    }
}

#[tokio::test]
async fn rows_renumber_after_a_delete() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let id = list_id(&sim.list(&sid, true).await);
    let delete = row_form(&id, "1").with(param::REC_ENABLED, "delete");
    assert_eq!(rctx(&sim.set(&sid, &delete).await), "");
    let after = sim.list(&sid, true).await;
    assert_eq!(
        rows(&after),
        [owned("1", "demo@example.com", "Work email", "Yes")]
    );
    assert_eq!(after["root"]["data"][0]["L"], "1");
}

#[tokio::test]
async fn adding_a_device_takes_a_code_from_the_outbox() {
    let sim = Sim::demo();
    let sid = sim.logon("qc1", "qc1").await;
    sim.verify(&sid, "(201) 555-0123").await;
    let v = sim
        .set(&sid, &add_form("201.555.0123", "Desk phone", "0"))
        .await;
    assert_eq!(rctx(&v), "", "{v}");
    assert_eq!(v["root"]["data"]["Ref"], "");
    assert_eq!(v["root"]["data"]["RMT"], "127.0.0.1");
    let list = sim.list(&sid, true).await;
    assert_eq!(
        rows(&list),
        [owned("1", "+12015550123", "Desk phone", "No")]
    );
    let outbox = sim.admin(Method::GET, "/_sim/outbox", None).await.json();
    let entry = &outbox[0];
    assert_eq!(entry["to"], "+12015550123");
    assert_eq!(entry["user"], "qc1");
    assert_eq!(entry["object"], "Worldox");
    assert_eq!(entry["action"], "Worldox Web Authentication");
    assert_eq!(entry["code"].as_str().unwrap().len(), 6);
    // The verification was used up, and an address is one device only.
    let again = sim.set(&sid, &add_form("+12015550123", "Again", "1")).await;
    assert_eq!(rctx(&again), "WDRC_2FA_NOT_VERIFIED");
    sim.verify(&sid, "+12015550123").await;
    let again = sim.set(&sid, &add_form("+12015550123", "Again", "1")).await;
    assert_eq!(rctx(&again), "WDRC_2FA_ADDRESS_DUPLICATE");
    let unverified = sim
        .set(&sid, &add_form("qc1@worldox.com", "Mail", "1"))
        .await;
    assert_eq!(rctx(&unverified), "WDRC_2FA_NOT_VERIFIED");
}

#[tokio::test]
async fn a_wrong_code_leaves_the_ref_usable_and_a_right_one_uses_it_up() {
    let sim = Sim::demo();
    let sid = sim.logon("qc1", "qc1").await;
    assert_eq!(
        rctx(&sim.set(&sid, &send_form("qc1@worldox.com")).await),
        ""
    );
    let (reference, code) = sim.last_code("qc1@worldox.com").await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let v = sim.set(&sid, &code_form(&reference, wrong)).await;
    assert_eq!(rctx(&v), "WDRC_2FA_ACCESSCODE_INVALID");
    assert!(
        v["root"]["errorStatus"]["Error"][0]["wd_Error_MSG"]
            .as_str()
            .unwrap()
            .starts_with("Invalid Access Code\n")
    );
    let v = sim.set(&sid, &code_form(&reference, &code)).await;
    assert_eq!(rctx(&v), "", "the right code still works after a typo");
    let again = sim.set(&sid, &code_form(&reference, &code)).await;
    assert_eq!(
        rctx(&again),
        "WDRC_2FA_ACCESSCODE_INVALID",
        "a used Ref is gone"
    );
}

#[tokio::test]
async fn a_right_code_answers_the_ref_and_the_masked_address() {
    let sim = Sim::demo();
    let sid = sim.logon("qc1", "qc1").await;
    sim.set(&sid, &send_form("dsnyder@worldox.com")).await;
    let (reference, code) = sim.last_code("DSnyder@WORLDOX.com").await;
    let v = sim.set(&sid, &code_form(&reference, &code)).await;
    let data = &v["root"]["data"];
    assert_eq!(data["Ref"], reference.as_str());
    assert_eq!(data["AC"], "");
    assert_eq!(data["Send"], "*****er@*****ox.***");
    // A Ref is good once.
    let v = sim.set(&sid, &code_form(&reference, &code)).await;
    assert_eq!(rctx(&v), "WDRC_2FA_ACCESSCODE_INVALID");
}

#[tokio::test]
async fn another_users_ref_is_refused_and_left_intact() {
    let sim = Sim::demo();
    let owner = sim.logon("qc1", "qc1").await;
    let thief = sim.logon("demo", "demo").await;
    sim.set(&owner, &send_form("qc1@worldox.com")).await;
    let (reference, code) = sim.last_code("qc1@worldox.com").await;
    let v = sim.set(&thief, &code_form(&reference, &code)).await;
    assert_eq!(rctx(&v), "WDRC_2FA_ACCESSCODE_INVALID");
    assert_eq!(
        rctx(&sim.set(&owner, &code_form(&reference, &code)).await),
        ""
    );
}

#[tokio::test(start_paused = true)]
async fn codes_expire() {
    let config = SimConfig {
        code_ttl_secs: 60,
        ..SimConfig::default()
    };
    let sim = Sim::with(&config);
    let sid = sim.logon("qc1", "qc1").await;
    sim.set(&sid, &send_form("qc1@worldox.com")).await;
    let (reference, code) = sim.last_code("qc1@worldox.com").await;
    tokio::time::advance(Duration::from_secs(61)).await;
    let v = sim.set(&sid, &code_form(&reference, &code)).await;
    assert_eq!(rctx(&v), "WDRC_2FA_ACCESSCODE_INVALID");
}

#[tokio::test]
async fn edits_change_name_and_flag_under_either_spelling() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let id = list_id(&sim.list(&sid, true).await);
    let edit = row_form(&id, "2")
        .with(param::REC_CONTRACT, "Home email")
        .with(param::REC_ENABLED, "0")
        .with(param::REC_ADDRESS, "demo@EXAMPLE.com");
    let v = sim.set(&sid, &edit).await;
    assert_eq!(rctx(&v), "", "{v}");
    assert_eq!(v["root"]["errorStatus"]["List_ID"], id.as_str());
    let id = list_id(&sim.list(&sid, true).await);
    let edit = row_form(&id, "1").with(param::REC_CONTACT, "Cell");
    assert_eq!(rctx(&sim.set(&sid, &edit).await), "");
    assert_eq!(
        rows(&sim.list(&sid, true).await),
        [
            owned("1", "+15516555721", "Cell", "Yes"),
            owned("2", "demo@example.com", "Home email", "No"),
        ]
    );
}

#[tokio::test]
async fn changing_an_address_needs_a_code() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let id = list_id(&sim.list(&sid, true).await);
    let to_new = row_form(&id, "2").with(param::REC_ADDRESS, "new@example.com");
    assert_eq!(rctx(&sim.set(&sid, &to_new).await), "WDRC_2FA_NOT_VERIFIED");
    sim.verify(&sid, "+15516555721").await;
    let to_other_row = row_form(&id, "2").with(param::REC_ADDRESS, "+15516555721");
    assert_eq!(
        rctx(&sim.set(&sid, &to_other_row).await),
        "WDRC_2FA_ADDRESS_DUPLICATE"
    );
    let bad = row_form(&id, "2").with(param::REC_ADDRESS, "nope");
    assert_eq!(
        rctx(&sim.set(&sid, &bad).await),
        "WDRC_2FA_ADDRESS_UNDEFINED"
    );
    sim.verify(&sid, "new@example.com").await;
    assert_eq!(rctx(&sim.set(&sid, &to_new).await), "");
    let list = sim.list(&sid, true).await;
    assert_eq!(
        rows(&list)[1],
        owned("2", "new@example.com", "Work email", "Yes")
    );
}

#[tokio::test]
async fn a_set_without_a_recognisable_step_is_an_error() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let v = sim
        .set(&sid, &Params::new().with(param::REC_ENABLED, "1"))
        .await;
    assert_eq!(rctx(&v), "WDRC_2FA_ADDRESS_UNDEFINED");
    let v = sim
        .set(
            &sid,
            &Params::new().with(param::WORLDOX_REF, "Worldox 0000-0000"),
        )
        .await;
    assert_eq!(rctx(&v), "WDRC_2FA_ACCESSCODE_INVALID");
}
