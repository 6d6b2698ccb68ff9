//! The add-a-device flow behind a load balancer: two replicas on one real Redis. A code
//! asked for on one replica is entered on the other, and wrong codes are counted for
//! the fleet, not per replica.

mod common;

use common::redis::{ID_KEY, Redis, replicas_on};
use common::{Gateway, Sim, request_code};
use serde_json::{Value, json};

const DEVICES: &str = "/me/2fa-devices";

async fn replicas(sim: &Sim, redis: &Redis) -> (Gateway, Gateway) {
    let env = [
        ("WDGATE_DEVICES_ID_KEY", ID_KEY),
        ("WDGATE_DEVICES_VERIFICATION_ATTEMPTS", "4"),
    ];
    replicas_on(&sim.url(), &redis.url, &env).await
}

fn create(address: &str, verification_id: &str, code: &str) -> Value {
    json!({"address": address, "name": "Desk", "enabled": true,
           "verification_id": verification_id, "code": code})
}

fn wrong(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

#[tokio::test]
async fn a_code_asked_for_on_one_replica_is_entered_on_the_other() {
    let Some(redis) = Redis::start() else { return };
    let sim = Sim::start().await;
    let (a, b) = replicas(&sim, &redis).await;
    let token = a.login("demo", "demo").await;
    let (id, code) = request_code(&a, &sim, &token, "(212) 555-0147").await;
    // A typo on B costs one attempt there; the right code on B then adds the device.
    let r = b
        .post_json(
            DEVICES,
            &create("212.555.0147", &id, wrong(&code)),
            Some(&token),
        )
        .await;
    r.assert_problem(422, "code_invalid");
    assert_eq!(r.json["attempts_left"], 3);
    let r = b
        .post_json(DEVICES, &create("+12125550147", &id, &code), Some(&token))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Used on B means used on A too.
    a.post_json(DEVICES, &create("+12125550147", &id, &code), Some(&token))
        .await
        .assert_problem(409, "verification_used");
    // The key names a hash of the id, and expires with the verification.
    let keys = redis.command(&[
        "EVAL",
        "return table.concat(redis.call('KEYS', ARGV[1]), ' ')",
        "0",
        "wdgate:verification:*",
    ]);
    assert!(
        !keys.contains(&id) && keys.starts_with("wdgate:verification:"),
        "{keys}"
    );
    let ttl: i64 = redis
        .command(&["PTTL", keys.split(' ').next().expect("a key")])
        .parse()
        .expect("PTTL is an integer");
    assert!(
        (1..=600_000).contains(&ttl),
        "expires with the verification: {ttl}"
    );
}

#[tokio::test]
async fn wrong_codes_are_counted_across_replicas() {
    let Some(redis) = Redis::start() else { return };
    let sim = Sim::start().await;
    let (a, b) = replicas(&sim, &redis).await;
    let token = a.login("demo", "demo").await;
    let (id, code) = request_code(&b, &sim, &token, "new@example.com").await;
    let body = create("new@example.com", &id, wrong(&code));
    // Four attempts for the fleet, alternating replicas: 3, 2, 1, 0 left.
    for (n, gw) in [&a, &b, &a, &b].into_iter().enumerate() {
        let r = gw.post_json(DEVICES, &body, Some(&token)).await;
        r.assert_problem(422, "code_invalid");
        assert_eq!(
            r.json["attempts_left"],
            3 - n,
            "attempt {}: {}",
            n + 1,
            r.text
        );
    }
    let before = sim.calls("2FSET").await;
    for gw in [&a, &b] {
        gw.post_json(
            DEVICES,
            &create("new@example.com", &id, &code),
            Some(&token),
        )
        .await
        .assert_problem(409, "verification_spent");
    }
    assert_eq!(
        sim.calls("2FSET").await,
        before,
        "nothing more reached Worldox"
    );
    // Another session cannot spend the owner's attempts, on any replica.
    let other = b.login("demo", "demo").await;
    let (id, code) = request_code(&a, &sim, &token, "other@example.com").await;
    for gw in [&a, &b, &a, &b, &a] {
        gw.post_json(
            DEVICES,
            &create("other@example.com", &id, wrong(&code)),
            Some(&other),
        )
        .await
        .assert_problem(422, "verification_invalid");
    }
    let r = b
        .post_json(
            DEVICES,
            &create("other@example.com", &id, &code),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// How many 2FSET step-2 (verify) and step-3 (add) calls the simulator saw.
async fn steps_2_and_3(sim: &Sim) -> (usize, usize) {
    let log = sim
        .admin(reqwest::Method::GET, "requests?command=2FSET", None)
        .await;
    let calls: Vec<Vec<(String, String)>> =
        serde_json::from_value(log["2FSET"].clone()).unwrap_or_default();
    let has = |c: &[(String, String)], name: &str| c.iter().any(|(k, _)| k == name);
    let verifies = calls.iter().filter(|c| has(c, "wd_2FA_WORLDOXREF")).count();
    let adds = calls
        .iter()
        .filter(|c| has(c, "wd_2FA_RecAddress") && !has(c, "wd_List_ID"))
        .count();
    (verifies, adds)
}

#[tokio::test]
async fn the_two_step_flow_verifies_on_one_replica_and_creates_on_the_other() {
    let Some(redis) = Redis::start() else { return };
    let sim = Sim::start().await;
    let (a, b) = replicas(&sim, &redis).await;
    let token = a.login("demo", "demo").await;
    let (id, code) = request_code(&a, &sim, &token, "(212) 555-0147").await;
    let path = format!("{DEVICES}/verifications/{id}");
    // Pending on B; a typo on B costs one attempt for the fleet.
    let got = b.get(&path, Some(&token)).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.json["state"], "pending");
    assert_eq!(got.json["attempts_left"], 4);
    assert_eq!(got.json["sent_to"], "(***) ***-**47");
    let r = b
        .post_json(&path, &json!({"code": wrong(&code)}), Some(&token))
        .await;
    r.assert_problem(422, "code_invalid");
    assert_eq!(r.json["attempts_left"], 3);
    // Verified on A: B sees it at once, and B's verify is idempotent.
    let r = a
        .post_json(&path, &json!({"code": code}), Some(&token))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["state"], "verified");
    let got = b.get(&path, Some(&token)).await;
    assert_eq!(got.json["state"], "verified", "{}", got.text);
    let r = b
        .post_json(&path, &json!({"code": code}), Some(&token))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        steps_2_and_3(&sim).await,
        (2, 0),
        "the typo and the right code"
    );
    // Created on B with no code: step 3 alone.
    let r = b
        .post_json(
            DEVICES,
            &json!({"verification_id": id, "name": "Desk"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(steps_2_and_3(&sim).await, (2, 1));
    // Used on B is used on A, for every route.
    a.post_json(
        DEVICES,
        &json!({"verification_id": id, "name": "Again"}),
        Some(&token),
    )
    .await
    .assert_problem(409, "verification_used");
    a.get(&path, Some(&token))
        .await
        .assert_problem(409, "verification_used");
    a.post_json(&path, &json!({"code": code}), Some(&token))
        .await
        .assert_problem(409, "verification_used");
    assert_eq!(steps_2_and_3(&sim).await, (2, 1), "nothing more was sent");
    // The state lives in the hash, in clear beside the sealed record; expiry kept.
    let dump = redis.dump("wdgate:verification:*");
    let (key, fields) = dump.first().expect("the verification's hash");
    assert!(fields.iter().any(|f| f == "ver"), "{fields:?}");
    let ttl: i64 = redis.command(&["PTTL", key]).parse().expect("PTTL");
    assert!((1..=600_000).contains(&ttl), "{ttl}");
}

#[tokio::test]
async fn concurrent_creates_on_both_replicas_use_one_verified_verification_once() {
    let Some(redis) = Redis::start() else { return };
    let sim = Sim::start().await;
    let (a, b) = replicas(&sim, &redis).await;
    let token = a.login("demo", "demo").await;
    let (id, code) = request_code(&a, &sim, &token, "race@example.com").await;
    let path = format!("{DEVICES}/verifications/{id}");
    assert_eq!(
        b.post_json(&path, &json!({"code": code}), Some(&token))
            .await
            .status,
        200
    );
    let body = json!({"verification_id": id, "name": "Race"});
    let creates = [&a, &b, &a, &b, &a, &b].map(|gw| gw.post_json(DEVICES, &body, Some(&token)));
    let replies = futures_util::future::join_all(creates).await;
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 1);
    for r in replies.iter().filter(|r| r.status != 201) {
        r.assert_lost_the_create_race();
    }
    assert_eq!(steps_2_and_3(&sim).await, (1, 1));
}

#[tokio::test]
async fn the_right_code_on_both_replicas_at_once_verifies_once_and_answers_both() {
    let Some(redis) = Redis::start() else { return };
    let sim = Sim::start().await;
    let (a, b) = replicas(&sim, &redis).await;
    let token = a.login("demo", "demo").await;
    let (id, code) = request_code(&a, &sim, &token, "both@example.com").await;
    let path = format!("{DEVICES}/verifications/{id}");
    let body = json!({"code": code});
    let (ra, rb) = tokio::join!(
        a.post_json(&path, &body, Some(&token)),
        b.post_json(&path, &body, Some(&token))
    );
    for r in [&ra, &rb] {
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["state"], "verified");
    }
    let (verifies, adds) = steps_2_and_3(&sim).await;
    assert!((1..=2).contains(&verifies), "{verifies}");
    assert_eq!(adds, 0);
    // The late one was not a wrong code: the attempts it took were given back.
    let got = a.get(&path, Some(&token)).await;
    assert_eq!(got.json["state"], "verified");
    assert!(
        got.json["attempts_left"].as_u64().expect("attempts") >= 3,
        "{}",
        got.text
    );
    let r = a
        .post_json(
            DEVICES,
            &json!({"verification_id": id, "name": "Both"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}
