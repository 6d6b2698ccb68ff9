//! A dead, slow or garbage-spewing upstream gets a clear 502/504, never a hang or a 500.

mod common;

use common::{Gateway, Sim, dead_address};
use serde_json::json;

const LOGIN: &str = "/sessions";

fn demo() -> serde_json::Value {
    json!({"username": "demo", "password": "demo"})
}

#[tokio::test]
async fn a_garbage_answer_is_502() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    sim.set_faults(json!({"garbage_ratio": 1.0})).await;
    let r = gw.post_json(LOGIN, &demo(), None).await;
    r.assert_problem(502, "upstream_bad_answer");
    assert!(
        !r.text.contains("<html"),
        "the upstream's body is not passed on"
    );
}

#[tokio::test]
async fn an_unknown_upstream_error_is_502_with_its_code() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    sim.set_faults(json!({"error_ratio": 1.0})).await;
    let r = gw.post_json(LOGIN, &demo(), None).await;
    r.assert_problem(502, "upstream_error");
    assert!(
        r.json["upstream"]["rctx"]
            .as_str()
            .is_some_and(|c| c.starts_with("WDRC_")),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn the_status_map_from_config_decides_unknown_codes() {
    let sim = Sim::start().await;
    sim.set_faults(json!({"error_ratio": 1.0})).await;
    let probe = Gateway::start(&sim.url(), &[]);
    let code = probe.post_json(LOGIN, &demo(), None).await.json["upstream"]["rctx"]
        .as_str()
        .expect("an upstream code")
        .to_owned();
    let var = format!("WDGATE_STATUS_MAP_{code}");
    let gw = Gateway::start(&sim.url(), &[(var.as_str(), "403")]);
    gw.post_json(LOGIN, &demo(), None)
        .await
        .assert_problem(403, "upstream_error");
}

#[tokio::test]
async fn a_dead_upstream_is_502() {
    let gw = Gateway::start(&dead_address(), &[]);
    let r = gw.post_json(LOGIN, &demo(), None).await;
    r.assert_problem(502, "upstream_unreachable");
}

#[tokio::test]
async fn a_dropped_connection_is_502() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    sim.set_faults(json!({"drop_ratio": 1.0})).await;
    let r = gw.post_json(LOGIN, &demo(), None).await;
    assert_eq!(r.status, 502, "{}", r.text);
}

#[tokio::test]
async fn an_upstream_slower_than_the_timeout_is_504() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[("WDGATE_UPSTREAM_TIMEOUT_MS", "200")]);
    sim.set_faults(json!({"hang_ratio": 1.0})).await;
    let r = gw.post_json(LOGIN, &demo(), None).await;
    r.assert_problem(504, "upstream_timeout");
    // The gateway recovers as soon as the upstream does.
    sim.set_faults(json!({})).await;
    assert_eq!(gw.post_json(LOGIN, &demo(), None).await.status, 201);
}

#[tokio::test]
async fn a_non_200_upstream_status_is_502() {
    // A web server with no Worldox behind it answers 404 for the CGI path.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let app = axum::Router::new();
        let _ = axum::serve(listener, app).await;
    });
    let gw = Gateway::start(&format!("http://{addr}"), &[]);
    gw.post_json(LOGIN, &demo(), None)
        .await
        .assert_problem(502, "upstream_bad_answer");
}

#[tokio::test]
async fn an_oversized_upstream_answer_is_502() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let big = format!("{{\"root\":{{\"data\":\"{}\"}}}}", "x".repeat(64 * 1024));
        let app = axum::Router::new().fallback(move || {
            let big = big.clone();
            async move { big }
        });
        let _ = axum::serve(listener, app).await;
    });
    let gw = Gateway::start(
        &format!("http://{addr}"),
        &[("WDGATE_UPSTREAM_MAX_RESPONSE_BYTES", "4096")],
    );
    gw.post_json(LOGIN, &demo(), None)
        .await
        .assert_problem(502, "upstream_bad_answer");
}
