//! The Redis store against real Sentinel and Cluster deployments, not only a single
//! server: two gateway replicas share sessions, a logout on one ends the session on the
//! other, and a device write on one drops the shared listing everywhere.

mod common;

use std::time::{Duration, Instant};

use common::redis::{ID_KEY, Redis, RedisCluster, replicas_on, session_key, time_to_401};
use common::{Gateway, Sim};

/// Two ready replicas whose sessions live at `redis_url`. The L1 is long, so only a
/// pub/sub invalidation can end a session on the replica that did not log out.
async fn replicas(sim: &Sim, redis_url: &str) -> (Gateway, Gateway) {
    let env = [
        ("WDGATE_DEVICES_ID_KEY", ID_KEY),
        ("WDGATE_SESSION_L1_TTL_MS", "60000"),
    ];
    replicas_on(&sim.url(), redis_url, &env).await
}

/// Login on A, use on B, a device rename on A that B sees at once, logout on B that A
/// honours; `exists` reads the session key from the deployment.
async fn shared_flow(sim: &Sim, redis_url: &str, exists: impl Fn(&str) -> String) {
    let (a, b) = replicas(sim, redis_url).await;
    let token = a.login("demo", "demo").await;
    assert_eq!(exists(&session_key(&token)), "1", "the session is in Redis");
    assert_eq!(a.get("/me", Some(&token)).await.status, 200);

    // B loads the listing (and shares it); a rename through A must drop it on B.
    let listing = b.get("/me/2fa-devices", Some(&token)).await;
    assert_eq!(listing.status, 200, "{}", listing.text);
    let id = listing.json["devices"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let path = format!("/me/2fa-devices/{id}");
    let renamed = a
        .send(
            reqwest::Method::PATCH,
            &path,
            &serde_json::json!({"name": "Renamed via A"}),
            Some(&token),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    common::wait_until(|| async {
        b.get(&path, Some(&token)).await.json["name"] == "Renamed via A"
    })
    .await;

    let out = b.delete("/sessions/current", Some(&token)).await;
    assert_eq!(out.status, 204, "{}", out.text);
    let elapsed = time_to_401(&a, &token, Instant::now()).await;
    assert!(
        elapsed < Duration::from_secs(1),
        "A honoured B's logout after {elapsed:?}"
    );
    assert_eq!(
        exists(&session_key(&token)),
        "0",
        "the session is gone from Redis"
    );
}

#[tokio::test]
async fn replicas_share_sessions_through_a_real_sentinel() {
    let Some(master) = Redis::start_own() else {
        return;
    };
    let Some(sentinel) = Redis::start_sentinel(&master, "wdgate") else {
        return;
    };
    let sim = Sim::start().await;
    let url = format!(
        "redis-sentinel://127.0.0.1:{}?sentinelServiceName=wdgate",
        sentinel.port()
    );
    shared_flow(&sim, &url, |key| master.command(&["EXISTS", key])).await;
}

#[tokio::test]
async fn replicas_share_sessions_on_a_real_cluster() {
    let Some(cluster) = RedisCluster::start(3) else {
        return;
    };
    let sim = Sim::start().await;
    shared_flow(&sim, &cluster.url(), |key| {
        cluster.command(&["EXISTS", key])
    })
    .await;
}
