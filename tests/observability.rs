//! `/metrics` in Prometheus format, with no secret in it.

mod common;

use common::{Gateway, Sim};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn metrics_count_requests_upstream_calls_cache_and_sessions_without_secrets() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("tricky", "p+a&s=s%w#rd 1\u{e9}").await;
    let demo = gw.login("demo", "demo").await;
    gw.login_attempt("demo", "wrong").await;
    for _ in 0..3 {
        assert_eq!(gw.get("/me/2fa-devices", Some(&demo)).await.status, 200);
    }
    let id = gw.get("/me/2fa-devices", Some(&demo)).await.json["devices"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    gw.get(&format!("/me/2fa-devices/{id}"), Some(&demo)).await;
    let r = gw.get("/metrics", None).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type").starts_with("text/plain"),
        "{}",
        r.header("content-type")
    );
    let text = r.text;
    for needle in [
        r#"wdgate_http_requests_total{route="/sessions",method="POST",status="201"} 2"#,
        r#"wdgate_http_requests_total{route="/sessions",method="POST",status="401"} 1"#,
        r#"route="/me/2fa-devices/{id}""#,
        r#"wdgate_http_request_duration_seconds_bucket{route="/me/2fa-devices",method="GET","#,
        r#"wdgate_upstream_calls_total{command="LOGON",outcome="answered"} 3"#,
        r#"wdgate_upstream_calls_total{command="2FGET",outcome="answered"} 1"#,
        r#"wdgate_upstream_errors_total{command="LOGON",code="WDRC_LOGON_USER_PASSWORD_INVALID"} 1"#,
        r#"wdgate_listing_cache_requests_total{result="miss"} 1"#,
        r#"wdgate_listing_cache_requests_total{result="hit"}"#,
        "wdgate_sessions_active",
        "wdgate_upstream_circuit_state 0",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let sessions = sim.admin(Method::GET, "sessions", None).await;
    let mut secrets = vec![
        token.clone(),
        demo.clone(),
        "p+a&s".to_owned(),
        id.clone(),
        "wdg_".to_owned(),
    ];
    for s in sessions.as_array().expect("sessions") {
        secrets.push(s["sid"].as_str().expect("sid").chars().take(20).collect());
    }
    for secret in secrets {
        assert!(!text.contains(&secret), "metrics leak {secret:?}");
    }
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let r = gw.get("/healthz", None).await;
    assert_eq!((r.status, r.json.clone()), (200, json!({"status": "ok"})));
    let r = gw.get("/readyz", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    drop(sim);
    // Answered from a check at most server.readiness_interval_secs old.
    common::wait_until(|| async { gw.get("/readyz", None).await.status == 503 }).await;
    let r = gw.get("/readyz", None).await;
    r.assert_problem(503, "not_ready");
    assert_eq!(
        gw.get("/healthz", None).await.status,
        200,
        "liveness does not depend on the upstream"
    );
}
