//! `/me/2fa-devices` over real HTTP against the simulator: every flow and failure.

mod common;

use common::{Gateway, Reply, Sim, request_code, wait_until};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

const DEVICES: &str = "/me/2fa-devices";

async fn setup() -> (Sim, Gateway, String) {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    (sim, gw, token)
}

/// The devices in clear, by name.
async fn clear_list(gw: &Gateway, token: &str) -> Vec<Value> {
    let r = gw
        .get(&format!("{DEVICES}?redact=false"), Some(token))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["devices"].as_array().cloned().unwrap_or_default()
}

async fn id_of(gw: &Gateway, token: &str, name: &str) -> String {
    clear_list(gw, token)
        .await
        .iter()
        .find(|d| d["name"] == name)
        .and_then(|d| d["id"].as_str())
        .unwrap_or_else(|| panic!("no device named {name}"))
        .to_owned()
}

async fn add(gw: &Gateway, sim: &Sim, token: &str, address: &str, name: &str) -> Reply {
    let (verification_id, code) = request_code(gw, sim, token, address).await;
    let body = json!({"address": address, "name": name, "enabled": true,
                      "verification_id": verification_id, "code": code});
    gw.post_json(DEVICES, &body, Some(token)).await
}

async fn patch(gw: &Gateway, token: &str, id: &str, body: Value) -> Reply {
    gw.send(
        Method::PATCH,
        &format!("{DEVICES}/{id}"),
        &body,
        Some(token),
    )
    .await
}

#[tokio::test]
async fn the_listing_is_redacted_by_default_as_the_seed_shows() {
    let (_sim, gw, token) = setup().await;
    let r = gw.get(DEVICES, Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), "no-store");
    let devices = r.json["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), 2);
    let phone = &devices[0];
    assert_eq!(phone["type"], "phone");
    assert_eq!(phone["address"], "+*********21");
    assert_eq!(phone["display"], "(***) ***-**21");
    assert_eq!(phone["name"], "Work cell");
    assert_eq!(phone["enabled"], true);
    let email = &devices[1];
    assert_eq!(email["type"], "email");
    assert_eq!(email["address"], "**mo@*****le.***");
    let id = phone["id"].as_str().expect("id");
    let rels: Vec<_> = phone["_links"]
        .as_array()
        .expect("links")
        .iter()
        .map(|l| (l["rel"].clone(), l["method"].clone()))
        .collect();
    assert!(rels.contains(&(json!("self"), json!("GET"))));
    assert!(rels.contains(&(json!("update"), json!("PATCH"))));
    assert!(rels.contains(&(json!("delete"), json!("DELETE"))));
    assert_eq!(phone["_links"][0]["href"], format!("{DEVICES}/{id}"));
    assert!(!r.text.contains("5516555721") && !r.text.contains("demo@example.com"));

    let clear = clear_list(&gw, &token).await;
    assert_eq!(clear[0]["address"], "+15516555721");
    assert_eq!(clear[0]["display"], "(551) 655-5721");
    assert_eq!(clear[1]["address"], "demo@example.com");
    assert_eq!(
        clear[0]["id"], phone["id"],
        "ids do not depend on redaction"
    );
    gw.get(&format!("{DEVICES}?redact=maybe"), Some(&token))
        .await
        .assert_problem(400, "bad_request");
}

#[tokio::test]
async fn one_device_by_id_and_unknown_ids_are_404() {
    let (_sim, gw, token) = setup().await;
    let id = id_of(&gw, &token, "Work email").await;
    let r = gw
        .get(&format!("{DEVICES}/{id}?redact=false"), Some(&token))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["address"], "demo@example.com");
    gw.get(&format!("{DEVICES}/dev_nope"), Some(&token))
        .await
        .assert_problem(404, "not_found");
    gw.get(DEVICES, None)
        .await
        .assert_problem(401, "missing_token");
}

#[tokio::test]
async fn adding_a_device_takes_a_code_from_the_outbox() {
    let (sim, gw, token) = setup().await;
    let r = add(&gw, &sim, &token, "(212) 555-0147", "Desk phone").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let location = r.header("location").to_owned();
    assert_eq!(
        location,
        format!("{DEVICES}/{}", r.json["id"].as_str().expect("id"))
    );
    assert_eq!(r.json["type"], "phone");
    assert_eq!(r.json["address"], "+*********47");
    let got = gw
        .get(&format!("{location}?redact=false"), Some(&token))
        .await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.json["address"], "+12125550147");
    assert_eq!(got.json["name"], "Desk phone");
    assert_eq!(clear_list(&gw, &token).await.len(), 3);
    let sent = sim.outbox().await;
    assert_eq!(sent.last().expect("sent")["to"], "+12125550147");
}

#[tokio::test]
async fn a_wrong_code_costs_an_attempt_not_the_verification() {
    let (sim, gw, token) = setup().await;
    let (verification_id, code) = request_code(&gw, &sim, &token, "new@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let body = json!({"address": "new@example.com", "name": "New", "verification_id": verification_id, "code": wrong});
    let r = gw.post_json(DEVICES, &body, Some(&token)).await;
    r.assert_problem(422, "code_invalid");
    assert_eq!(r.json["attempts_left"], 4, "{}", r.text);
    assert_eq!(r.json["upstream"]["rctx"], "WDRC_2FA_ACCESSCODE_INVALID");
    assert_eq!(clear_list(&gw, &token).await.len(), 2);
    // The typo cost one attempt; the right code still adds the device, no new SMS.
    let sent = sim.outbox().await.len();
    let body = json!({"address": "new@example.com", "name": "New", "verification_id": verification_id, "code": code});
    let r = gw.post_json(DEVICES, &body, Some(&token)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(sim.outbox().await.len(), sent);
    gw.post_json(DEVICES, &body, Some(&token))
        .await
        .assert_problem(409, "verification_used");
    assert_eq!(clear_list(&gw, &token).await.len(), 3);
}

#[tokio::test]
async fn a_verification_is_spent_after_its_attempts() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[("WDGATE_DEVICES_VERIFICATION_ATTEMPTS", "3")]);
    let token = gw.login("demo", "demo").await;
    let (verification_id, code) = request_code(&gw, &sim, &token, "new@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let body = |code: &str| json!({"address": "new@example.com", "name": "New", "verification_id": verification_id, "code": code});
    for left in [2, 1, 0] {
        let r = gw.post_json(DEVICES, &body(wrong), Some(&token)).await;
        r.assert_problem(422, "code_invalid");
        assert_eq!(r.json["attempts_left"], left, "{}", r.text);
    }
    let before = sim.calls("2FSET").await;
    gw.post_json(DEVICES, &body(&code), Some(&token))
        .await
        .assert_problem(409, "verification_spent");
    assert_eq!(
        sim.calls("2FSET").await,
        before,
        "a spent verification sends nothing"
    );
    assert_eq!(clear_list(&gw, &token).await.len(), 2);
}

#[tokio::test]
async fn an_expired_code_is_422() {
    let sim = Sim::with_config(wdgate::sim::SimConfig {
        code_ttl_secs: 0,
        ..Default::default()
    })
    .await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    let r = add(&gw, &sim, &token, "late@example.com", "Late").await;
    r.assert_problem(422, "code_invalid");
    assert_eq!(clear_list(&gw, &token).await.len(), 2);
}

#[tokio::test]
async fn a_verification_id_works_once_for_its_own_session_and_address() {
    let (sim, gw, token) = setup().await;
    let (verification_id, code) = request_code(&gw, &sim, &token, "once@example.com").await;
    let create = |address: &str, vid: &str| json!({"address": address, "name": "Once", "verification_id": vid, "code": code.clone()});
    // Another session cannot use it.
    let other = gw.login("demo", "demo").await;
    gw.post_json(
        DEVICES,
        &create("once@example.com", &verification_id),
        Some(&other),
    )
    .await
    .assert_problem(422, "verification_invalid");
    // It is for one address only.
    gw.post_json(
        DEVICES,
        &create("twice@example.com", &verification_id),
        Some(&token),
    )
    .await
    .assert_problem(422, "verification_invalid");
    gw.post_json(
        DEVICES,
        &create("once@example.com", "ver_unknown"),
        Some(&token),
    )
    .await
    .assert_problem(422, "verification_invalid");
    let r = gw
        .post_json(
            DEVICES,
            &create("once@example.com", &verification_id),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    gw.post_json(
        DEVICES,
        &create("once@example.com", &verification_id),
        Some(&token),
    )
    .await
    .assert_problem(409, "verification_used");
}

#[tokio::test]
async fn addresses_that_are_neither_email_nor_phone_are_422_before_any_upstream_call() {
    let (sim, gw, token) = setup().await;
    let before = sim.calls("2FSET").await;
    for bad in [
        "",
        "not an address",
        "a@b",
        "555-1234",
        "+1",
        "x@y.com\nwd_List_ID=1",
        "a+b&c=d%@x",
    ] {
        let r = gw
            .post_json(
                &format!("{DEVICES}/verifications"),
                &json!({"address": bad}),
                Some(&token),
            )
            .await;
        r.assert_problem(422, "validation_failed");
    }
    gw.post_json(
        &format!("{DEVICES}/verifications"),
        &json!({"addr": "a@b.co"}),
        Some(&token),
    )
    .await
    .assert_problem(400, "bad_request");
    assert_eq!(sim.calls("2FSET").await, before);
}

#[tokio::test]
async fn a_duplicate_address_is_409() {
    let (sim, gw, token) = setup().await;
    let r = add(&gw, &sim, &token, "Demo@Example.com", "Again").await;
    r.assert_problem(409, "device_exists");
    assert_eq!(clear_list(&gw, &token).await.len(), 2);
}

#[tokio::test]
async fn rename_and_disable_is_one_2fset_and_shows_at_once() {
    let (sim, gw, token) = setup().await;
    let id = id_of(&gw, &token, "Work cell").await;
    let before = sim.calls("2FSET").await;
    let r = patch(
        &gw,
        &token,
        &id,
        json!({"name": "Old cell", "enabled": false}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["id"], id.as_str());
    assert_eq!(r.json["name"], "Old cell");
    assert_eq!(r.json["enabled"], false);
    assert_eq!(sim.calls("2FSET").await, before + 1);
    let list = clear_list(&gw, &token).await;
    assert_eq!(
        list[0]["name"], "Old cell",
        "the write dropped the cached listing"
    );
    assert_eq!(list[0]["enabled"], false);
}

#[tokio::test]
async fn a_rename_or_delete_shows_in_the_next_read_without_a_2fget_and_the_next_write_reloads_first()
 {
    let (sim, gw, token) = setup().await;
    let id = id_of(&gw, &token, "Work cell").await;
    let (gets, sets) = (sim.calls("2FGET").await, sim.calls("2FSET").await);
    let r = patch(&gw, &token, &id, json!({"name": "Renamed"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = clear_list(&gw, &token).await;
    assert_eq!(list[0]["name"], "Renamed");
    assert_eq!(list[0]["id"], id.as_str());
    let one = gw.get(&format!("{DEVICES}/{id}"), Some(&token)).await;
    assert_eq!(one.json["name"], "Renamed", "{}", one.text);
    assert_eq!(
        sim.calls("2FGET").await,
        gets,
        "the rename updated the listing in place"
    );
    // Worldox spent the List_ID on the rename: the next write reads a fresh one first
    // instead of sending a 2FSET it would refuse as stale.
    let r = patch(&gw, &token, &id, json!({"enabled": false})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(sim.calls("2FGET").await, gets + 1);
    assert_eq!(sim.calls("2FSET").await, sets + 2, "no 2FSET was refused");
    let list = clear_list(&gw, &token).await;
    assert_eq!(
        (&list[0]["name"], &list[0]["enabled"]),
        (&json!("Renamed"), &json!(false))
    );
    assert_eq!(sim.calls("2FGET").await, gets + 1);
    let r = gw.delete(&format!("{DEVICES}/{id}"), Some(&token)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let list = clear_list(&gw, &token).await;
    assert_eq!(list.len(), 1);
    assert!(list.iter().all(|d| d["id"] != id.as_str()));
    assert_eq!(
        sim.calls("2FGET").await,
        gets + 2,
        "one reload, for the delete"
    );
    // What the cache shows is what Worldox holds.
    let fresh = Gateway::start(&sim.url(), &[]);
    let other = fresh.login("demo", "demo").await;
    let upstream: Vec<Value> = clear_list(&fresh, &other).await;
    let names = |l: &[Value]| l.iter().map(|d| d["name"].clone()).collect::<Vec<_>>();
    assert_eq!(names(&upstream), names(&list));
}

#[tokio::test]
async fn odd_characters_in_a_name_arrive_intact() {
    let (_sim, gw, token) = setup().await;
    let id = id_of(&gw, &token, "Work cell").await;
    let name = "a+b&c=d%e #1 John’s";
    let r = patch(&gw, &token, &id, json!({"name": name})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(clear_list(&gw, &token).await[0]["name"], name);
    patch(&gw, &token, &id, json!({"name": "two\nlines"}))
        .await
        .assert_problem(422, "validation_failed");
    patch(&gw, &token, &id, json!({"name": ""}))
        .await
        .assert_problem(422, "validation_failed");
    patch(&gw, &token, &id, json!({"enabled": "yes"}))
        .await
        .assert_problem(400, "bad_request");
    patch(&gw, &token, &id, json!({"colour": "red"}))
        .await
        .assert_problem(400, "bad_request");
}

#[tokio::test]
async fn changing_the_address_needs_a_verification_of_the_new_one() {
    let (sim, gw, token) = setup().await;
    let id = id_of(&gw, &token, "Work email").await;
    patch(&gw, &token, &id, json!({"address": "moved@example.com"}))
        .await
        .assert_problem(422, "validation_failed");
    let (verification_id, code) = request_code(&gw, &sim, &token, "moved@example.com").await;
    let r = patch(
        &gw,
        &token,
        &id,
        json!({"address": "moved@example.com", "verification_id": verification_id, "code": code}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_ne!(r.json["id"], id.as_str(), "a new address is a new id");
    let list = clear_list(&gw, &token).await;
    assert_eq!(list[1]["address"], "moved@example.com");
    assert_eq!(list[1]["name"], "Work email");
    assert_eq!(list[1]["id"], r.json["id"]);
}

#[tokio::test]
async fn delete_then_the_id_is_gone() {
    let (sim, gw, token) = setup().await;
    let id = id_of(&gw, &token, "Work cell").await;
    let r = gw.delete(&format!("{DEVICES}/{id}"), Some(&token)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    gw.get(&format!("{DEVICES}/{id}"), Some(&token))
        .await
        .assert_problem(404, "not_found");
    gw.delete(&format!("{DEVICES}/{id}"), Some(&token))
        .await
        .assert_problem(404, "not_found");
    assert_eq!(clear_list(&gw, &token).await.len(), 1);
    assert!(sim.calls("2FSET").await >= 1);
}

#[tokio::test]
async fn ids_survive_renumbering_by_another_session() {
    let (sim, gw, token) = setup().await;
    let email_id = id_of(&gw, &token, "Work email").await; // cached: the email is Rec 2
    let phone_id = id_of(&gw, &token, "Work cell").await;
    // Another session deletes Rec 1; Worldox renumbers the email to Rec 1.
    let other = gw.login("demo", "demo").await;
    assert_eq!(
        gw.delete(&format!("{DEVICES}/{phone_id}"), Some(&other))
            .await
            .status,
        204
    );
    // The first session's cached List_ID is stale; the gateway refreshes and edits the right row.
    let r = patch(&gw, &token, &email_id, json!({"name": "Renamed"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = clear_list(&gw, &token).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["address"], "demo@example.com");
    assert_eq!(list[0]["name"], "Renamed");
    assert_eq!(list[0]["id"], email_id.as_str());
    let _ = sim;
}

#[tokio::test]
async fn a_stale_list_id_is_refreshed_and_retried_once() {
    let (sim, gw, token) = setup().await;
    let id = id_of(&gw, &token, "Work cell").await;
    let (gets, sets) = (sim.calls("2FGET").await, sim.calls("2FSET").await);
    sim.admin(Method::POST, "invalidate-lists", None).await;
    let r = patch(&gw, &token, &id, json!({"name": "Retried"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        sim.calls("2FSET").await,
        sets + 2,
        "one failed write, one retry"
    );
    assert_eq!(sim.calls("2FGET").await, gets + 1, "one refresh");
}

#[tokio::test]
async fn a_list_id_that_stays_stale_is_409_after_one_retry() {
    let (sim, gw, token) = setup().await;
    let id = id_of(&gw, &token, "Work cell").await;
    let sets = sim.calls("2FSET").await;
    sim.set_faults(json!({"stale_lists": true})).await;
    let r = patch(&gw, &token, &id, json!({"name": "Never"})).await;
    r.assert_problem(409, "upstream_error");
    assert_eq!(r.json["upstream"]["rctx"], "WDRC_LISTID_INVALID");
    assert_eq!(
        r.json["detail"],
        "Invalid list ID issue: Invalid list ID, click Refresh to update your file list."
    );
    assert_eq!(sim.calls("2FSET").await, sets + 2, "exactly one retry");
    gw.delete(&format!("{DEVICES}/{id}"), Some(&token))
        .await
        .assert_problem(409, "upstream_error");
    sim.set_faults(json!({})).await;
    assert_eq!(
        clear_list(&gw, &token).await[0]["name"],
        "Work cell",
        "nothing changed"
    );
}

#[tokio::test]
async fn a_session_that_expires_upstream_mid_flow_is_401_and_evicted() {
    let (sim, gw, token) = setup().await;
    let id = id_of(&gw, &token, "Work cell").await;
    let (verification_id, code) = request_code(&gw, &sim, &token, "mid@example.com").await;
    sim.expire_sessions().await;
    let body = json!({"address": "mid@example.com", "name": "Mid", "verification_id": verification_id, "code": code});
    let r = gw.post_json(DEVICES, &body, Some(&token)).await;
    r.assert_problem(401, "session_expired");
    assert_eq!(
        r.header("www-authenticate"),
        "Bearer realm=\"wdgate\", error=\"invalid_token\""
    );
    assert!(r.json.get("upstream").is_some());
    gw.get("/me", Some(&token))
        .await
        .assert_problem(401, "invalid_token");
    patch(&gw, &token, &id, json!({"name": "x"}))
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn a_listing_read_after_upstream_expiry_is_401() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[("WDGATE_DEVICES_CACHE_TTL_SECS", "0")]);
    let token = gw.login("demo", "demo").await;
    assert_eq!(gw.get(DEVICES, Some(&token)).await.status, 200);
    sim.expire_sessions().await;
    let r = gw.get(DEVICES, Some(&token)).await;
    r.assert_problem(401, "session_expired");
    gw.get(DEVICES, Some(&token))
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn concurrent_reads_of_one_session_share_one_2fget() {
    let (sim, gw, token) = setup().await;
    let before = sim.calls("2FGET").await;
    let reads = (0..50).map(|_| gw.get(DEVICES, Some(&token)));
    for r in join_all(reads).await {
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(sim.calls("2FGET").await, before + 1);
}

#[tokio::test]
async fn with_the_cache_off_every_read_goes_upstream() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[("WDGATE_DEVICES_CACHE_TTL_SECS", "0")]);
    let token = gw.login("demo", "demo").await;
    for _ in 0..3 {
        assert_eq!(gw.get(DEVICES, Some(&token)).await.status, 200);
    }
    assert_eq!(sim.calls("2FGET").await, 3);
}

// ---------------------------------------------------------------- the verify step

const VERIFICATIONS: &str = "/me/2fa-devices/verifications";

fn wrong(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

/// The 2FSET calls the simulator logged, each as its decoded parameters.
async fn set_calls(sim: &Sim) -> Vec<Vec<(String, String)>> {
    let log = sim.admin(Method::GET, "requests?command=2FSET", None).await;
    serde_json::from_value(log["2FSET"].clone()).unwrap_or_default()
}

fn has(call: &[(String, String)], name: &str) -> bool {
    call.iter().any(|(k, _)| k == name)
}

fn value<'a>(call: &'a [(String, String)], name: &str) -> Option<&'a str> {
    call.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// How many 2FSET step-2 (verify) and step-3 (add) calls the simulator saw.
async fn steps_2_and_3(sim: &Sim) -> (usize, usize) {
    let calls = set_calls(sim).await;
    let verifies = calls.iter().filter(|c| has(c, "wd_2FA_WORLDOXREF")).count();
    let adds = calls
        .iter()
        .filter(|c| {
            has(c, "wd_2FA_RecAddress")
                && !has(c, "wd_List_ID")
                && !has(c, "wd_2FA_WORLDOXREF")
                && !has(c, "wd_2FA_SendToAddr")
        })
        .count();
    (verifies, adds)
}

fn rels(reply: &Value) -> Vec<(String, String, String)> {
    reply["_links"]
        .as_array()
        .map(|links| {
            links
                .iter()
                .map(|l| {
                    let s = |k: &str| l[k].as_str().unwrap_or_default().to_owned();
                    (s("rel"), s("method"), s("href"))
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn verify(gw: &Gateway, token: &str, id: &str, code: &str) -> Reply {
    gw.post_json(
        &format!("{VERIFICATIONS}/{id}"),
        &json!({ "code": code }),
        Some(token),
    )
    .await
}

#[tokio::test]
async fn the_verify_step_is_its_own_call_and_the_create_then_sends_step_3_alone() {
    let (sim, gw, token) = setup().await;
    let r = gw
        .post_json(
            VERIFICATIONS,
            &json!({"address": "(212) 555-0147"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.json["verification_id"].as_str().expect("id").to_owned();
    let href = format!("{VERIFICATIONS}/{id}");
    assert!(rels(&r.json).contains(&("verify".into(), "POST".into(), href.clone())));
    let code = sim.outbox().await.last().expect("sent")["code"]
        .as_str()
        .expect("code")
        .to_owned();

    // GET shows it pending, masked, with its attempts and expiry.
    let got = gw.get(&href, Some(&token)).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.header("cache-control"), "no-store");
    assert_eq!(got.json["verification_id"], id.as_str());
    assert_eq!(got.json["state"], "pending");
    assert_eq!(got.json["sent_to"], "(***) ***-**47");
    assert_eq!(got.json["attempts_left"], 5);
    let expires_in = got.json["expires_in"].as_u64().expect("expires_in");
    assert!((590..=600).contains(&expires_in), "{expires_in}");
    assert!(!got.text.contains("5550147"), "the address is masked");
    assert!(
        !got.text.contains("Worldox "),
        "the upstream Ref stays inside"
    );
    assert_eq!(
        rels(&got.json),
        [
            ("self".into(), "GET".into(), href.clone()),
            ("verify".into(), "POST".into(), href.clone()),
            ("list".into(), "GET".into(), DEVICES.into()),
        ]
    );

    // The verify step: 2FSET step 2 only.
    let r = verify(&gw, &token, &id, &code).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["state"], "verified");
    let message = r.json["message"].as_str().expect("message");
    assert!(
        message.contains("(***) ***-**47") && message.contains("accepted"),
        "{message}"
    );
    assert!(rels(&r.json).contains(&("insert".into(), "POST".into(), DEVICES.into())));
    assert_eq!(steps_2_and_3(&sim).await, (1, 0));
    assert_eq!(clear_list(&gw, &token).await.len(), 2, "nothing added yet");

    // Again: 200, idempotent, nothing sent upstream.
    let sets = sim.calls("2FSET").await;
    let again = verify(&gw, &token, &id, &code).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json["state"], "verified");
    assert!(
        again.json["message"]
            .as_str()
            .expect("message")
            .contains("already")
    );
    assert_eq!(sim.calls("2FSET").await, sets, "nothing reached Worldox");
    let got = gw.get(&href, Some(&token)).await;
    assert_eq!(got.json["state"], "verified", "{}", got.text);

    // The create takes the verified verification without a code (or address): step 3.
    let r = gw
        .post_json(
            DEVICES,
            &json!({"verification_id": id, "name": "Desk phone"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["name"], "Desk phone");
    assert_eq!(steps_2_and_3(&sim).await, (1, 1), "one step 2, one step 3");
    let list = clear_list(&gw, &token).await;
    assert_eq!(list.len(), 3);
    assert_eq!(list[2]["address"], "+12125550147");

    // Used up: every route says so, and nothing more is sent.
    let sets = sim.calls("2FSET").await;
    gw.post_json(
        DEVICES,
        &json!({"verification_id": id, "name": "Again"}),
        Some(&token),
    )
    .await
    .assert_problem(409, "verification_used");
    verify(&gw, &token, &id, &code)
        .await
        .assert_problem(409, "verification_used");
    gw.get(&href, Some(&token))
        .await
        .assert_problem(409, "verification_used");
    assert_eq!(sim.calls("2FSET").await, sets);
}

#[tokio::test]
async fn wrong_codes_at_the_verify_step_cost_attempts_until_it_is_spent() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[("WDGATE_DEVICES_VERIFICATION_ATTEMPTS", "3")]);
    let token = gw.login("demo", "demo").await;
    let (id, code) = request_code(&gw, &sim, &token, "new@example.com").await;
    let r = verify(&gw, &token, &id, wrong(&code)).await;
    r.assert_problem(422, "code_invalid");
    assert_eq!(r.json["attempts_left"], 2, "{}", r.text);
    assert_eq!(r.json["upstream"]["rctx"], "WDRC_2FA_ACCESSCODE_INVALID");
    let got = gw.get(&format!("{VERIFICATIONS}/{id}"), Some(&token)).await;
    assert_eq!(
        (got.json["state"].clone(), got.json["attempts_left"].clone()),
        (json!("pending"), json!(2))
    );
    // The right code still verifies it; the right one took an attempt too.
    let r = verify(&gw, &token, &id, &code).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["attempts_left"], 1);

    // Another verification: three wrong codes spend it; the right one then sends nothing.
    let (id, code) = request_code(&gw, &sim, &token, "other@example.com").await;
    for left in [2, 1, 0] {
        let r = verify(&gw, &token, &id, wrong(&code)).await;
        r.assert_problem(422, "code_invalid");
        assert_eq!(r.json["attempts_left"], left, "{}", r.text);
    }
    let sets = sim.calls("2FSET").await;
    verify(&gw, &token, &id, &code)
        .await
        .assert_problem(409, "verification_spent");
    gw.get(&format!("{VERIFICATIONS}/{id}"), Some(&token))
        .await
        .assert_problem(409, "verification_spent");
    gw.post_json(
        DEVICES,
        &json!({"verification_id": id, "name": "Spent", "code": code}),
        Some(&token),
    )
    .await
    .assert_problem(409, "verification_spent");
    assert_eq!(
        sim.calls("2FSET").await,
        sets,
        "a spent verification sends nothing"
    );
    // A code that is not a code is refused before any attempt is taken.
    let (id, _) = request_code(&gw, &sim, &token, "third@example.com").await;
    for bad in [
        json!({"code": ""}),
        json!({"code": "1\n2"}),
        json!({"code": "x".repeat(33)}),
    ] {
        gw.post_json(&format!("{VERIFICATIONS}/{id}"), &bad, Some(&token))
            .await
            .assert_problem(422, "validation_failed");
    }
    gw.post_json(
        &format!("{VERIFICATIONS}/{id}"),
        &json!({"otp": "1"}),
        Some(&token),
    )
    .await
    .assert_problem(400, "bad_request");
    let got = gw.get(&format!("{VERIFICATIONS}/{id}"), Some(&token)).await;
    assert_eq!(got.json["attempts_left"], 3, "{}", got.text);
}

#[tokio::test]
async fn unknown_or_foreign_verifications_are_404_on_their_own_routes_and_cost_nothing() {
    let (sim, gw, token) = setup().await;
    let (id, code) = request_code(&gw, &sim, &token, "mine@example.com").await;
    let other = gw.login("demo", "demo").await;
    let sets = sim.calls("2FSET").await;
    let long = format!("ver_{}", "A".repeat(200));
    for vid in [id.as_str(), "ver_nope", "nope", long.as_str(), "ver_%2e%2e"] {
        let path = format!("{VERIFICATIONS}/{vid}");
        gw.get(&path, Some(&other))
            .await
            .assert_problem(404, "not_found");
        verify(&gw, &other, vid, &code)
            .await
            .assert_problem(404, "not_found");
    }
    verify(&gw, &token, "ver_nope", &code)
        .await
        .assert_problem(404, "not_found");
    gw.get(&format!("{VERIFICATIONS}/{id}"), None)
        .await
        .assert_problem(401, "missing_token");
    assert_eq!(sim.calls("2FSET").await, sets, "nothing reached Worldox");
    let got = gw.get(&format!("{VERIFICATIONS}/{id}"), Some(&token)).await;
    assert_eq!(
        got.json["attempts_left"], 5,
        "the owner lost nothing: {}",
        got.text
    );
    // In a create body an unknown id stays 422, as it always was.
    gw.post_json(
        DEVICES,
        &json!({"verification_id": "ver_nope", "name": "x"}),
        Some(&token),
    )
    .await
    .assert_problem(422, "verification_invalid");
}

#[tokio::test]
async fn a_pending_verification_without_a_code_is_422_and_sends_nothing() {
    let (sim, gw, token) = setup().await;
    let (id, code) = request_code(&gw, &sim, &token, "pending@example.com").await;
    let sets = sim.calls("2FSET").await;
    let r = gw
        .post_json(
            DEVICES,
            &json!({"verification_id": id, "name": "Pending"}),
            Some(&token),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert!(r.text.contains("code"), "{}", r.text);
    assert_eq!(sim.calls("2FSET").await, sets);
    // Verified, it is still for its own address only.
    assert_eq!(verify(&gw, &token, &id, &code).await.status, 200);
    gw.post_json(
        DEVICES,
        &json!({"verification_id": id, "name": "Other", "address": "else@example.com"}),
        Some(&token),
    )
    .await
    .assert_problem(422, "verification_invalid");
    // The one-call form with the code of a verified verification sends step 3 alone.
    let r = gw
        .post_json(
            DEVICES,
            &json!({"verification_id": id, "name": "Pending", "address": "pending@example.com", "code": code}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(steps_2_and_3(&sim).await, (1, 1));
}

#[tokio::test]
async fn a_failed_step_3_leaves_the_verification_verified_and_the_retry_sends_step_3_alone() {
    let (sim, gw, token) = setup().await;
    let (id, code) = request_code(&gw, &sim, &token, "retry@example.com").await;
    assert_eq!(verify(&gw, &token, &id, &code).await.status, 200);
    assert_eq!(
        clear_list(&gw, &token).await.len(),
        2,
        "the listing is cached"
    );
    // Step 3's answer breaks off: the outcome is unknown and 2FSET is never resent.
    sim.set_faults(json!({"drop_ratio": 1.0})).await;
    let body = json!({"verification_id": id, "name": "Retry"});
    let r = gw.post_json(DEVICES, &body, Some(&token)).await;
    assert_eq!(r.status, 502, "{}", r.text);
    sim.set_faults(json!({})).await;
    assert_eq!(
        steps_2_and_3(&sim).await,
        (1, 1),
        "one step 3, not repeated"
    );
    let got = gw.get(&format!("{VERIFICATIONS}/{id}"), Some(&token)).await;
    assert_eq!(got.json["state"], "verified", "{}", got.text);
    // The user retries: a fresh listing shows no such device, so step 3 goes once more.
    let r = gw.post_json(DEVICES, &body, Some(&token)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        steps_2_and_3(&sim).await,
        (1, 2),
        "step 2 was never sent again"
    );
    assert_eq!(clear_list(&gw, &token).await.len(), 3);
    gw.post_json(DEVICES, &body, Some(&token))
        .await
        .assert_problem(409, "verification_used");
}

#[tokio::test]
async fn concurrent_creates_with_one_verified_verification_add_one_device() {
    let (sim, gw, token) = setup().await;
    let (id, code) = request_code(&gw, &sim, &token, "race@example.com").await;
    assert_eq!(verify(&gw, &token, &id, &code).await.status, 200);
    let body = json!({"verification_id": id, "name": "Race"});
    let creates = (0..8).map(|_| gw.post_json(DEVICES, &body, Some(&token)));
    let replies = join_all(creates).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        replies.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status != 201) {
        r.assert_lost_the_create_race();
    }
    assert_eq!(steps_2_and_3(&sim).await, (1, 1));
    assert_eq!(clear_list(&gw, &token).await.len(), 3);
}

#[tokio::test]
async fn the_right_code_typed_eight_times_at_once_verifies_once_and_answers_every_one() {
    let (sim, gw, token) = setup().await;
    let (id, code) = request_code(&gw, &sim, &token, "eager@example.com").await;
    let verifies = (0..8).map(|_| verify(&gw, &token, &id, &code));
    let replies = join_all(verifies).await;
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["state"], "verified");
    }
    let (sent, adds) = steps_2_and_3(&sim).await;
    assert!((1..=8).contains(&sent), "{sent}");
    assert_eq!(adds, 0);
    let status = gw.get(&format!("{VERIFICATIONS}/{id}"), Some(&token)).await;
    assert_eq!(status.json["state"], "verified", "{}", status.text);
}

#[tokio::test]
async fn an_address_change_takes_a_verified_verification_without_a_code() {
    let (sim, gw, token) = setup().await;
    let device = id_of(&gw, &token, "Work email").await;
    let (vid, code) = request_code(&gw, &sim, &token, "moved@example.com").await;
    patch(
        &gw,
        &token,
        &device,
        json!({"address": "moved@example.com", "verification_id": vid}),
    )
    .await
    .assert_problem(422, "validation_failed");
    assert_eq!(verify(&gw, &token, &vid, &code).await.status, 200);
    let edits_before = set_calls(&sim)
        .await
        .iter()
        .filter(|c| has(c, "wd_List_ID"))
        .count();
    let r = patch(
        &gw,
        &token,
        &device,
        json!({"address": "moved@example.com", "verification_id": vid}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let calls = set_calls(&sim).await;
    let edits: Vec<_> = calls.iter().filter(|c| has(c, "wd_List_ID")).collect();
    assert_eq!(edits.len(), edits_before + 1, "one edit");
    assert_eq!(
        value(edits[edits.len() - 1], "wd_2FA_RecAddress"),
        Some("moved@example.com")
    );
    assert_eq!(steps_2_and_3(&sim).await.0, 1, "one step 2");
    let list = clear_list(&gw, &token).await;
    assert_eq!(list[1]["address"], "moved@example.com");
    let moved = list[1]["id"].as_str().expect("id").to_owned();
    patch(
        &gw,
        &token,
        &moved,
        json!({"address": "again@example.com", "verification_id": vid}),
    )
    .await
    .assert_problem(409, "verification_used");
    gw.get(&format!("{VERIFICATIONS}/{vid}"), Some(&token))
        .await
        .assert_problem(409, "verification_used");
}

#[tokio::test]
async fn odd_characters_in_the_code_and_name_reach_worldox_as_sent() {
    let (sim, gw, token) = setup().await;
    let (id, code) = request_code(&gw, &sim, &token, "odd@example.com").await;
    // A "code" that would be more parameters if it were not encoded.
    let sly = "1&wd_2FA_RecEnabled=0+%41 #’=";
    verify(&gw, &token, &id, sly)
        .await
        .assert_problem(422, "code_invalid");
    let calls = set_calls(&sim).await;
    let step2 = calls.last().expect("step 2");
    assert_eq!(value(step2, "wd_2FA_ACCESSCODE"), Some(sly));
    let mut names: Vec<&str> = step2.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "HTMLOnFail",
            "HTMLOnOk",
            "wd_2FA_ACCESSCODE",
            "wd_2FA_WORLDOXREF",
            "wd_SID"
        ],
        "no parameter smuggled in: {step2:?}"
    );
    assert_eq!(verify(&gw, &token, &id, &code).await.status, 200);
    let name = "a+b&c=d%e #1 John’s <i>";
    let r = gw
        .post_json(
            DEVICES,
            &json!({"verification_id": id, "name": name}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let calls = set_calls(&sim).await;
    let step3 = calls.last().expect("step 3");
    assert_eq!(value(step3, "wd_2FA_RecContact"), Some(name));
    assert_eq!(value(step3, "wd_2FA_RecAddress"), Some("odd@example.com"));
    assert_eq!(value(step3, "wd_2FA_RecEnabled"), Some("1"));
    assert_eq!(
        step3.len(),
        6,
        "SID, two templates and the three fields: {step3:?}"
    );
    assert_eq!(clear_list(&gw, &token).await[2]["name"], name);
}

#[tokio::test]
async fn a_verified_verification_expires_like_a_pending_one() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[("WDGATE_DEVICES_VERIFICATION_TTL_SECS", "1")]);
    let token = gw.login("demo", "demo").await;
    let (id, code) = request_code(&gw, &sim, &token, "brief@example.com").await;
    let r = verify(&gw, &token, &id, &code).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["expires_in"].as_u64().expect("expires_in") <= 1);
    let path = format!("{VERIFICATIONS}/{id}");
    wait_until(|| async { gw.get(&path, Some(&token)).await.status == 404 }).await;
    let sets = sim.calls("2FSET").await;
    gw.post_json(
        DEVICES,
        &json!({"verification_id": id, "name": "Late"}),
        Some(&token),
    )
    .await
    .assert_problem(422, "verification_invalid");
    verify(&gw, &token, &id, &code)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(sim.calls("2FSET").await, sets, "nothing reached Worldox");
    assert_eq!(clear_list(&gw, &token).await.len(), 2);
}

#[tokio::test]
async fn a_failed_address_edit_gives_the_verification_back_for_a_retry_without_step_2() {
    let (sim, gw, token) = setup().await;
    let device = id_of(&gw, &token, "Work email").await;
    let (vid, code) = request_code(&gw, &sim, &token, "moved@example.com").await;
    assert_eq!(verify(&gw, &token, &vid, &code).await.status, 200);
    let body = json!({"address": "moved@example.com", "verification_id": vid});
    sim.set_faults(json!({"stale_lists": true})).await;
    let r = patch(&gw, &token, &device, body.clone()).await;
    r.assert_problem(409, "upstream_error");
    sim.set_faults(json!({})).await;
    let got = gw
        .get(&format!("{VERIFICATIONS}/{vid}"), Some(&token))
        .await;
    assert_eq!(got.json["state"], "verified", "{}", got.text);
    let r = patch(&gw, &token, &device, body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(steps_2_and_3(&sim).await.0, 1, "step 2 was sent once");
    assert_eq!(
        clear_list(&gw, &token).await[1]["address"],
        "moved@example.com"
    );
}

#[tokio::test]
async fn a_step_3_worldox_refuses_as_not_verified_uses_the_verification_up() {
    let (sim, gw, token) = setup().await;
    let (vid, code) = request_code(&gw, &sim, &token, "twice@example.com").await;
    assert_eq!(verify(&gw, &token, &vid, &code).await.status, 200);
    assert_eq!(
        clear_list(&gw, &token).await.len(),
        2,
        "the listing is cached"
    );
    // Another client of the same Worldox session uses the upstream verification first.
    let sessions = sim.admin(Method::GET, "sessions", None).await;
    let sid = sessions[0]["sid"].as_str().expect("the session's SID");
    let form = wdgate::upstream::cgi::Params::new()
        .with("wd_SID", sid)
        .with("wd_2FA_RecAddress", "twice@example.com")
        .with("wd_2FA_RecContact", "Elsewhere")
        .with("wd_2FA_RecEnabled", "1")
        .to_form();
    let direct: Value = common::client()
        .post(format!("{}/cgi-bin/wdwebcgi.exe?2FSET", sim.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("direct 2FSET")
        .json()
        .await
        .expect("2FSET JSON");
    assert_eq!(direct["root"]["errorStatus"]["ErrorCount"], "", "{direct}");
    // The gateway's step 3 is refused: Worldox holds the address verified no more.
    let r = gw
        .post_json(
            DEVICES,
            &json!({"verification_id": vid, "name": "Twice"}),
            Some(&token),
        )
        .await;
    r.assert_problem(422, "upstream_error");
    assert_eq!(r.json["upstream"]["rctx"], "WDRC_2FA_NOT_VERIFIED");
    // So the verification is used up: a new code is needed, and the page can say so.
    gw.get(&format!("{VERIFICATIONS}/{vid}"), Some(&token))
        .await
        .assert_problem(409, "verification_used");
}
