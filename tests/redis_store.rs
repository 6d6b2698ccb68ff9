//! `session.store = "redis"`: replicas sharing one real redis-server.
//!
//! Each test starts its own redis-server (persistence off) on a free port, or uses
//! `REDIS_URL`; without redis-server the tests skip, except under `CI=true`.

mod common;

use std::time::{Duration, Instant};

use common::redis::{
    ENCRYPTION_KEY, ID_KEY, Redis, open_session, put_session, redis_gateway, replicas_on,
    session_key, time_to_401, wait_ready,
};
use common::{Gateway, Sim, wait_until};
use reqwest::Method;
use serde_json::{Value, json};

/// Longer than any wait below, so only a pub/sub invalidation can explain a fast 401.
const LONG_L1: &str = "5000";

/// The propagation budget the issue sets.
const PROPAGATION_BUDGET: Duration = Duration::from_millis(100);

/// Two ready replicas on `redis`, with a long L1 (plus `extra` settings).
async fn replicas(sim: &Sim, redis: &Redis, extra: &[(&str, &str)]) -> (Gateway, Gateway) {
    let mut env = vec![
        ("WDGATE_DEVICES_ID_KEY", ID_KEY),
        ("WDGATE_SESSION_L1_TTL_MS", LONG_L1),
    ];
    env.extend_from_slice(extra);
    replicas_on(&sim.url(), &redis.url, &env).await
}

fn pttl(redis: &Redis, key: &str) -> i64 {
    redis
        .command(&["PTTL", key])
        .parse()
        .expect("PTTL is an integer")
}

#[tokio::test]
async fn a_session_works_on_every_replica_and_a_logout_on_one_ends_it_on_all() {
    let Some(redis) = Redis::start() else { return };
    let sim = Sim::start().await;
    let (a, b) = replicas(&sim, &redis, &[]).await;
    let token = a.login("demo", "demo").await;
    assert_eq!(a.get("/me", Some(&token)).await.status, 200, "A caches it");
    let r = b.get("/me/2fa-devices", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.json["devices"].as_array().expect("devices").is_empty());
    let r = b.delete("/sessions/current", Some(&token)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let logged_out = Instant::now();
    let elapsed = time_to_401(&a, &token, logged_out).await;
    assert!(
        elapsed < PROPAGATION_BUDGET,
        "A honoured B's logout after {elapsed:?}"
    );
    assert_eq!(sim.calls("LOGOFF").await, 1);
    assert_eq!(redis.command(&["EXISTS", &session_key(&token)]), "0");
}

#[tokio::test]
async fn an_upstream_expiry_seen_by_one_replica_evicts_the_session_on_the_other() {
    let Some(redis) = Redis::start() else { return };
    let sim = Sim::start().await;
    let (a, b) = replicas(&sim, &redis, &[]).await;
    let token = a.login("demo", "demo").await;
    assert_eq!(b.get("/me", Some(&token)).await.status, 200, "B caches it");
    sim.expire_sessions().await;
    a.get("/me/2fa-devices", Some(&token))
        .await
        .assert_problem(401, "session_expired");
    let elapsed = time_to_401(&b, &token, Instant::now()).await;
    assert!(elapsed < PROPAGATION_BUDGET, "B evicted after {elapsed:?}");
}

#[tokio::test]
async fn the_device_listing_is_shared_and_a_write_on_one_replica_drops_it_everywhere() {
    let Some(redis) = Redis::start() else { return };
    let sim = Sim::start().await;
    let (a, b) = replicas(&sim, &redis, &[]).await;
    let token = a.login("demo", "demo").await;
    let on_a = a.get("/me/2fa-devices?redact=false", Some(&token)).await;
    assert_eq!(on_a.status, 200, "{}", on_a.text);
    let on_b = b.get("/me/2fa-devices?redact=false", Some(&token)).await;
    assert_eq!(on_b.json, on_a.json, "one listing, the same ids");
    assert_eq!(sim.calls("2FGET").await, 1, "B read A's listing from Redis");
    let devices = on_a.json["devices"].as_array().expect("devices").clone();
    let id = devices[0]["id"].as_str().expect("id");
    let r = b
        .delete(&format!("/me/2fa-devices/{id}"), Some(&token))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // A's copy is dropped by B's invalidation, which travels over pub/sub: it must land
    // well before A's 5 s L1 TTL could explain the change.
    let started = std::time::Instant::now();
    let r = loop {
        let r = a.get("/me/2fa-devices?redact=false", Some(&token)).await;
        let count = r.json["devices"].as_array().map_or(0, Vec::len);
        if count == devices.len() - 1 || started.elapsed() > std::time::Duration::from_secs(2) {
            break r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    let ids: Vec<&Value> = r.json["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| &d["id"])
        .collect();
    assert_eq!(ids.len(), devices.len() - 1, "{}", r.text);
    assert!(!ids.iter().any(|d| d.as_str() == Some(id)));
    assert_eq!(
        sim.calls("2FGET").await,
        1,
        "the delete left its listing in Redis for every replica, with no 2FGET"
    );
}

#[tokio::test]
async fn a_rename_on_one_replica_shows_on_the_other_without_a_2fget() {
    let Some(redis) = Redis::start() else { return };
    let sim = Sim::start().await;
    let (a, b) = replicas(&sim, &redis, &[]).await;
    let token = a.login("demo", "demo").await;
    let listed = a.get("/me/2fa-devices?redact=false", Some(&token)).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(
        b.get("/me/2fa-devices", Some(&token)).await.status,
        200,
        "B holds the listing in its L1 now"
    );
    let id = listed.json["devices"][0]["id"].as_str().expect("id");
    let path = format!("/me/2fa-devices/{id}");
    let renamed = a
        .send(
            Method::PATCH,
            &path,
            &json!({"name": "Renamed on A"}),
            Some(&token),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    // B drops its L1 copy on A's announcement (pub/sub) and reads A's update from Redis.
    wait_until(|| async {
        let r = b.get("/me/2fa-devices?redact=false", Some(&token)).await;
        r.json["devices"][0]["name"] == "Renamed on A"
    })
    .await;
    assert_eq!(sim.calls("2FGET").await, 1, "one 2FGET in all");
    // The List_ID is spent: a write on B loads a fresh listing first, and its 2FSET is
    // not refused as stale.
    let sets = sim.calls("2FSET").await;
    let disabled = b
        .send(
            Method::PATCH,
            &path,
            &json!({"enabled": false}),
            Some(&token),
        )
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    assert_eq!(sim.calls("2FGET").await, 2);
    assert_eq!(sim.calls("2FSET").await, sets + 1);
    let on_a = a.get("/me/2fa-devices?redact=false", Some(&token)).await;
    assert_eq!(on_a.json["devices"][0]["enabled"], false, "{}", on_a.text);
}

#[tokio::test]
async fn reads_slide_the_idle_ttl_in_redis_and_never_past_the_absolute_end() {
    let Some(redis) = Redis::start() else { return };
    let sim = Sim::start().await;
    let gw = redis_gateway(
        &sim.url(),
        &redis,
        &[
            ("WDGATE_DEVICES_ID_KEY", ID_KEY),
            // Every read goes to Redis.
            ("WDGATE_SESSION_L1_TTL_MS", "0"),
            ("WDGATE_SESSION_IDLE_TIMEOUT_SECS", "60"),
        ],
    );
    wait_ready(&gw).await;
    let token = gw.login("demo", "demo").await;
    let key = session_key(&token);
    let ttl = pttl(&redis, &key);
    assert!((55_000..=60_000).contains(&ttl), "TTL after login: {ttl}");
    let stored = redis.command(&["GET", &key]);
    assert!(!stored.contains(&token[4..]), "the record holds no token");
    let mut record = open_session(&redis, &key);
    // Shorten the TTL behind the gateway's back; one read slides it back to idle.
    assert_eq!(redis.command(&["PEXPIRE", &key, "5000"]), "1");
    assert_eq!(gw.get("/me", Some(&token)).await.status, 200);
    let ttl = pttl(&redis, &key);
    assert!(ttl > 55_000, "a read slides the idle TTL: {ttl}");
    // Ten seconds from the absolute end, a read slides the TTL no further than it.
    let now = record["created_at"].as_u64().expect("created_at");
    record["expires_at"] = (now + 10).into();
    put_session(&redis, &key, &record, 60_000);
    assert_eq!(gw.get("/me", Some(&token)).await.status, 200);
    let ttl = pttl(&redis, &key);
    assert!(ttl <= 10_000, "the TTL stops at the absolute end: {ttl}");
    // Past the absolute end, the session is gone and so is its key.
    record["expires_at"] = (now - 1).into();
    put_session(&redis, &key, &record, 60_000);
    gw.get("/me", Some(&token))
        .await
        .assert_problem(401, "invalid_token");
    assert_eq!(redis.command(&["EXISTS", &key]), "0");
}

#[tokio::test]
async fn without_redis_the_store_answers_503_quickly_and_the_gateway_recovers_by_itself() {
    let Some(mut redis) = Redis::start_own() else {
        return;
    };
    let sim = Sim::start().await;
    let timeout = Duration::from_millis(300);
    let gw = redis_gateway(
        &sim.url(),
        &redis,
        &[
            ("WDGATE_DEVICES_ID_KEY", ID_KEY),
            ("WDGATE_SESSION_L1_TTL_MS", "0"),
            ("WDGATE_SESSION_REDIS_TIMEOUT_MS", "300"),
        ],
    );
    wait_ready(&gw).await;
    let token = gw.login("demo", "demo").await;
    redis.kill();
    // Margin for two processes on a small machine; the store call itself is capped.
    let budget = timeout + Duration::from_millis(700);
    for _ in 0..3 {
        let started = Instant::now();
        let r = gw.get("/me", Some(&token)).await;
        r.assert_problem(503, "store_unavailable");
        assert_eq!(r.header("retry-after"), "1");
        assert!(started.elapsed() < budget, "took {:?}", started.elapsed());
    }
    let r = gw
        .post_json(
            "/sessions",
            &serde_json::json!({"username": "demo", "password": "demo"}),
            None,
        )
        .await;
    r.assert_problem(503, "store_unavailable");
    // /readyz answers from a check at most server.readiness_interval_secs old.
    wait_until(|| async { gw.get("/readyz", None).await.status == 503 }).await;
    let r = gw.get("/readyz", None).await;
    r.assert_problem(503, "not_ready");
    assert_eq!(r.header("retry-after"), "1");
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap_or("")
            .contains("store unavailable")
    );
    assert_eq!(gw.get("/healthz", None).await.status, 200, "still alive");

    redis.restart();
    wait_ready(&gw).await;
    // The restarted server is empty (no persistence): the old token is unknown.
    gw.get("/me", Some(&token))
        .await
        .assert_problem(401, "invalid_token");
    let token = gw.login("demo", "demo").await;
    assert_eq!(gw.get("/me", Some(&token)).await.status, 200);
    let log = gw.log();
    assert!(!log.contains("panicked"), "{log}");
    assert!(log.contains("Redis is unreachable"), "the outage is logged");
}

#[tokio::test]
async fn readyz_reports_each_dependency() {
    let Some(redis) = Redis::start() else { return };
    let sim = Sim::start().await;
    let gw = redis_gateway(&sim.url(), &redis, &[("WDGATE_DEVICES_ID_KEY", ID_KEY)]);
    wait_ready(&gw).await;
    let r = gw.get("/readyz", None).await;
    assert_eq!(
        r.json,
        serde_json::json!({"status": "ready", "checks": {"store": "ok", "upstream": "ok"}})
    );
    drop(sim);
    wait_until(|| async { gw.get("/readyz", None).await.status == 503 }).await;
    let r = gw.get("/readyz", None).await;
    r.assert_problem(503, "not_ready");
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap_or("")
            .contains("upstream unreachable")
    );
}

#[tokio::test]
async fn the_redis_password_reaches_neither_the_log_nor_check_config() {
    let password = "s3cret-redis-passw0rd";
    let Some(redis) = Redis::start_with_password(password) else {
        return;
    };
    let sim = Sim::start().await;
    let gw = redis_gateway(&sim.url(), &redis, &[("WDGATE_DEVICES_ID_KEY", ID_KEY)]);
    wait_ready(&gw).await;
    let token = gw.login("demo", "demo").await;
    assert_eq!(gw.get("/me", Some(&token)).await.status, 200);
    assert!(gw.delete("/sessions/current", Some(&token)).await.status == 204);
    let log = gw.log();
    assert!(!log.contains(password), "the password is logged: {log}");
    assert!(!log.contains(&token[4..]), "the token is logged");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wdgate"))
        .arg("check-config")
        .current_dir(std::env::temp_dir())
        .env("WDGATE_SESSION_STORE", "redis")
        .env("WDGATE_SESSION_REDIS_URL", &redis.url)
        .env("WDGATE_DEVICES_ID_KEY", ID_KEY)
        .env("WDGATE_SESSION_ENCRYPTION_KEYS", ENCRYPTION_KEY)
        .output()
        .expect("check-config");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("redis_url = \"redis://***@127.0.0.1:"),
        "{shown}"
    );
    assert!(!shown.contains(password));
    assert!(!shown.contains(ENCRYPTION_KEY), "{shown}");
    assert!(shown.contains("<redacted, key id "), "{shown}");
}

#[tokio::test]
async fn a_redis_that_stops_answering_costs_a_503_within_the_timeout_not_a_hang() {
    let Some(redis) = Redis::start_own() else {
        return;
    };
    let sim = Sim::start().await;
    let gw = redis_gateway(
        &sim.url(),
        &redis,
        &[
            ("WDGATE_DEVICES_ID_KEY", ID_KEY),
            ("WDGATE_SESSION_L1_TTL_MS", "0"),
            ("WDGATE_SESSION_REDIS_TIMEOUT_MS", "300"),
        ],
    );
    wait_ready(&gw).await;
    let token = gw.login("demo", "demo").await;
    redis.pause();
    let budget = Duration::from_millis(300 + 700);
    let started = Instant::now();
    let r = gw.get("/me", Some(&token)).await;
    r.assert_problem(503, "store_unavailable");
    assert!(started.elapsed() < budget, "took {:?}", started.elapsed());
    // /readyz answers from a check at most server.readiness_interval_secs old; the
    // check that sees the paused Redis is as quick as any other.
    wait_until(|| async {
        let started = Instant::now();
        let status = gw.get("/readyz", None).await.status;
        assert!(started.elapsed() < budget, "took {:?}", started.elapsed());
        status == 503
    })
    .await;
    gw.get("/readyz", None)
        .await
        .assert_problem(503, "not_ready");
    redis.resume();
    // The data survived the pause: the same session works again.
    wait_until(|| async { gw.get("/me", Some(&token)).await.status == 200 }).await;
    wait_ready(&gw).await;
}

#[tokio::test]
async fn a_missed_invalidation_is_bounded_by_the_l1_ttl() {
    let Some(redis) = Redis::start() else { return };
    let sim = Sim::start().await;
    let gw = redis_gateway(
        &sim.url(),
        &redis,
        &[
            ("WDGATE_DEVICES_ID_KEY", ID_KEY),
            ("WDGATE_SESSION_L1_TTL_MS", "1000"),
        ],
    );
    wait_ready(&gw).await;
    let token = gw.login("demo", "demo").await;
    assert_eq!(gw.get("/me", Some(&token)).await.status, 200);
    // Deleted behind the gateway's back: no invalidation is published.
    let deleted = Instant::now();
    assert_eq!(redis.command(&["DEL", &session_key(&token)]), "1");
    assert_eq!(
        gw.get("/me", Some(&token)).await.status,
        200,
        "served from the L1 meanwhile"
    );
    let elapsed = time_to_401(&gw, &token, deleted).await;
    assert!(
        elapsed < Duration::from_millis(1000 + 500),
        "the L1 copy outlived its TTL: {elapsed:?}"
    );
}
