//! Abuse limits: login rate limits (per username, per IP, X-Forwarded-For from trusted
//! proxies only) and load shedding beyond the concurrency limit.

mod common;

use common::{Gateway, Sim, wait_until};
use serde_json::json;

async fn attempt(gw: &Gateway, user: &str, forwarded_for: Option<&str>) -> common::Reply {
    let mut req = common::client()
        .post(gw.url("/sessions"))
        .json(&json!({"username": user, "password": "wrong"}));
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    common::Reply::read(req.send().await.expect("POST")).await
}

#[tokio::test]
async fn bad_logins_beyond_the_limit_get_429_with_retry_after() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[("WDGATE_LIMITS_LOGIN_PER_USERNAME_PER_MINUTE", "3")],
    );
    for _ in 0..3 {
        attempt(&gw, "demo", None)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let r = attempt(&gw, "DEMO", None).await;
    r.assert_problem(429, "too_many_requests");
    let retry: u64 = r
        .header("retry-after")
        .parse()
        .expect("Retry-After seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        sim.calls("LOGON").await,
        3,
        "a limited attempt never reaches Worldox"
    );
    // Another user is not limited.
    attempt(&gw, "qc1", None)
        .await
        .assert_problem(401, "invalid_credentials");
}

#[tokio::test]
async fn one_address_spraying_usernames_is_limited_and_spoofed_forwarded_for_does_not_help() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[("WDGATE_LIMITS_LOGIN_PER_IP_PER_MINUTE", "2")],
    );
    attempt(&gw, "a", Some("203.0.113.1"))
        .await
        .assert_problem(401, "invalid_credentials");
    attempt(&gw, "b", Some("203.0.113.2"))
        .await
        .assert_problem(401, "invalid_credentials");
    // The peer (127.0.0.1) is not a trusted proxy, so X-Forwarded-For is ignored.
    attempt(&gw, "c", Some("203.0.113.3"))
        .await
        .assert_problem(429, "too_many_requests");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_ip_is_limited() {
    let sim = Sim::start().await;
    let dir = std::env::temp_dir().join(format!("wdgate-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("wdgate.toml");
    std::fs::write(
        &config,
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n[limits]\nlogin_per_ip_per_minute = 2\n",
    )
    .expect("config");
    let config = config.to_string_lossy().into_owned();
    let gw = Gateway::start_with_args(&["--config", &config, "--upstream", &sim.url()], &[]);
    attempt(&gw, "a", Some("203.0.113.1"))
        .await
        .assert_problem(401, "invalid_credentials");
    attempt(&gw, "b", Some("203.0.113.1"))
        .await
        .assert_problem(401, "invalid_credentials");
    attempt(&gw, "c", Some("203.0.113.1"))
        .await
        .assert_problem(429, "too_many_requests");
    // Another client behind the same proxy is not affected.
    attempt(&gw, "d", Some("203.0.113.2"))
        .await
        .assert_problem(401, "invalid_credentials");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn beyond_the_concurrency_limit_requests_are_shed_with_503() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[("WDGATE_SERVER_MAX_CONCURRENT_REQUESTS", "1")],
    );
    sim.set_faults(json!({"latency_ms": 1500})).await;
    let slow = gw.login_in_flight("demo", "demo");
    wait_until(|| async { sim.calls("LOGON").await == 1 }).await;
    let r = gw.login_attempt("demo", "demo").await;
    r.assert_problem(503, "overloaded");
    assert_eq!(r.header("retry-after"), "1");
    assert_eq!(
        gw.get("/healthz", None).await.status,
        200,
        "probes are not shed"
    );
    assert_eq!(
        slow.await.expect("join"),
        201,
        "the admitted request completes"
    );
    sim.set_faults(json!({})).await;
    assert_eq!(gw.login_attempt("demo", "demo").await.status, 201);
}
