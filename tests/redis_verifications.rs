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
