//! Access-code send limits (SMS pumping) over real sockets: per address whoever asks,
//! per session, per user, fleet-wide with the Redis store. Beyond them: 429 with
//! `Retry-After`, and nothing reaches Worldox's 2FSET.

mod common;

use std::time::Instant;

use common::redis::{ID_KEY, Redis, replicas_on};
use common::{Gateway, Reply, Sim};
use futures_util::StreamExt;
use serde_json::json;

const VERIFICATIONS: &str = "/me/2fa-devices/verifications";

/// 2FSET step 1 for `address` on `gw` as the session `token`.
async fn request_code(gw: &Gateway, token: &str, address: &str) -> Reply {
    gw.post_json(VERIFICATIONS, &json!({"address": address}), Some(token))
        .await
}

/// Asserts a 429 from the limit `key`, with a `Retry-After` within the window.
fn assert_limited(r: &Reply, key: &str, window_secs: u64) {
    r.assert_problem(429, "too_many_requests");
    let detail = r.json["detail"].as_str().unwrap_or("");
    assert!(detail.contains(key), "{detail}");
    let retry: u64 = r
        .header("retry-after")
        .parse()
        .expect("Retry-After seconds");
    assert!((1..=window_secs).contains(&retry), "{retry}");
}

const PER_ADDRESS: &str = "limits.code_sends_per_address";
const PER_SESSION: &str = "limits.code_sends_per_session";
const PER_USER: &str = "limits.code_sends_per_user";
const WINDOW: u64 = 900;

#[tokio::test]
async fn a_hundred_code_requests_to_one_number_in_under_a_second_send_five() {
    let sim = Sim::start().await;
    // The defaults: 5 per address and 10 per session per 15 minutes.
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    let before = sim.calls("2FSET").await;
    let started = Instant::now();
    let replies: Vec<Reply> = futures_util::stream::iter(0..100)
        .map(|_| request_code(&gw, &token, "+1 (551) 655-0100"))
        .buffer_unordered(16)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let sent = replies.iter().filter(|r| r.status == 202).count();
    for r in replies.iter().filter(|r| r.status != 202) {
        assert_limited(r, PER_ADDRESS, WINDOW);
    }
    let upstream = sim.calls("2FSET").await - before;
    println!(
        "100 code requests to one number from one session in {elapsed:?}: \
         {sent} answered 202, {} answered 429, {upstream} reached 2FSET",
        100 - sent
    );
    assert_eq!(sent, 5);
    assert_eq!(upstream, 5, "only the admitted sends reach Worldox");
    assert_eq!(sim.outbox().await.len(), 5);
    let metrics = gw.get("/metrics", None).await.text;
    assert!(
        metrics.contains("wdgate_limit_refusals_total{limit=\"send_address\"} 95"),
        "{metrics}"
    );
}

#[tokio::test]
async fn one_session_is_limited_across_different_addresses() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    for i in 0..10 {
        let r = request_code(&gw, &token, &format!("+1551655{:04}", 200 + i)).await;
        assert_eq!(r.status, 202, "{}", r.text);
    }
    assert_limited(
        &request_code(&gw, &token, "+15516550299").await,
        PER_SESSION,
        WINDOW,
    );
    assert_limited(
        &request_code(&gw, &token, "someone@example.com").await,
        PER_SESSION,
        WINDOW,
    );
    assert_eq!(sim.outbox().await.len(), 10);
    // Another session of another user is not limited by this one.
    let other = gw.login("qc1", "qc1").await;
    assert_eq!(request_code(&gw, &other, "+15516550299").await.status, 202);
}

#[tokio::test]
async fn one_number_is_limited_whoever_asks_and_however_it_is_spelled() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[("WDGATE_LIMITS_CODE_SENDS_PER_ADDRESS", "2")]);
    let demo = gw.login("demo", "demo").await;
    let qc1 = gw.login("qc1", "qc1").await;
    assert_eq!(request_code(&gw, &demo, "+15516550300").await.status, 202);
    assert_eq!(request_code(&gw, &qc1, "(551) 655-0300").await.status, 202);
    assert_limited(
        &request_code(&gw, &demo, "551.655.0300").await,
        PER_ADDRESS,
        WINDOW,
    );
    // Emails are one address whatever their case.
    assert_eq!(
        request_code(&gw, &demo, "Pump@Example.com").await.status,
        202
    );
    assert_eq!(
        request_code(&gw, &qc1, "pump@example.COM").await.status,
        202
    );
    assert_limited(
        &request_code(&gw, &qc1, "PUMP@example.com").await,
        PER_ADDRESS,
        WINDOW,
    );
    assert_eq!(sim.outbox().await.len(), 4);
}

#[tokio::test]
async fn a_user_is_limited_over_all_their_sessions() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_LIMITS_CODE_SENDS_PER_USER", "3"),
            ("WDGATE_LIMITS_CODE_SEND_WINDOW_SECS", "120"),
        ],
    );
    for i in 0..3 {
        let token = gw.login("demo", "demo").await;
        let r = request_code(&gw, &token, &format!("+1551655{:04}", 400 + i)).await;
        assert_eq!(r.status, 202, "{}", r.text);
    }
    let fresh = gw.login("demo", "demo").await;
    assert_limited(
        &request_code(&gw, &fresh, "+15516550499").await,
        PER_USER,
        120,
    );
    assert_eq!(sim.outbox().await.len(), 3);
}

#[tokio::test]
async fn the_code_send_limit_holds_across_two_replicas() {
    let Some(redis) = Redis::start_own() else {
        return;
    };
    let sim = Sim::start().await;
    let (a, b) = replicas_on(&sim.url(), &redis.url, &[("WDGATE_DEVICES_ID_KEY", ID_KEY)]).await;
    let token = a.login("demo", "demo").await;
    // 100 requests at once, every other one on the other replica.
    let replies: Vec<Reply> = futures_util::stream::iter(0..100)
        .map(|i| {
            let replica = if i % 2 == 0 { &a } else { &b };
            request_code(replica, &token, "+15516550500")
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let sent = replies.iter().filter(|r| r.status == 202).count();
    for r in replies.iter().filter(|r| r.status != 202) {
        assert_limited(r, PER_ADDRESS, WINDOW);
    }
    assert_eq!(sent, 5, "counted once for the fleet");
    assert_eq!(sim.calls("2FSET").await, 5);
    assert_eq!(sim.outbox().await.len(), 5);
    // Redis holds no trace of the number in clear.
    let out = std::process::Command::new("redis-cli")
        .args(["-u", &redis.url, "--raw", "--scan", "--pattern", "*"])
        .output()
        .expect("redis-cli");
    let keys = String::from_utf8_lossy(&out.stdout);
    assert!(keys.contains("wdgate:{limits}:send_address:"), "{keys}");
    assert!(!keys.contains("5516550500"), "{keys}");
}

#[tokio::test]
async fn in_redis_the_window_slides_and_retry_after_is_honest() {
    let Some(redis) = Redis::start_own() else {
        return;
    };
    let sim = Sim::start().await;
    let (a, b) = replicas_on(
        &sim.url(),
        &redis.url,
        &[
            ("WDGATE_DEVICES_ID_KEY", ID_KEY),
            ("WDGATE_LIMITS_CODE_SENDS_PER_ADDRESS", "1"),
            ("WDGATE_LIMITS_CODE_SEND_WINDOW_SECS", "2"),
        ],
    )
    .await;
    let token = a.login("demo", "demo").await;
    assert_eq!(request_code(&a, &token, "+15516550600").await.status, 202);
    let refused = request_code(&b, &token, "+15516550600").await;
    assert_limited(&refused, PER_ADDRESS, 2);
    // Refused requests do not push the window on: polling until it frees works.
    common::wait_until(|| async { request_code(&b, &token, "+15516550600").await.status == 202 })
        .await;
    assert_eq!(sim.outbox().await.len(), 2);
}
