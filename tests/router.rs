//! Router tests without a socket: `build_app(config).oneshot(request)`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use proptest::prelude::*;
use tower::ServiceExt;
use wdgate::Config;

fn app() -> wdgate::App {
    let mut config = Config::default();
    // Nothing listens there: a body that passes every check meets a dead upstream.
    config.upstream.url = Some("http://127.0.0.1:9".to_owned());
    config.upstream.retries = 0;
    config.limits.login_per_ip_per_minute = 0;
    config.limits.login_per_username_per_minute = 0;
    config.limits.login_per_username_all_ips_per_minute = 0;
    wdgate::build_app(&config).expect("app")
}

async fn login(
    app: wdgate::App,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, String, String) {
    let request = Request::post("/sessions")
        .header("host", "gw.example")
        .header("content-type", content_type)
        .body(Body::from(body))
        .expect("request");
    let response = app.oneshot(request).await.expect("infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        content_type,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the body, the answer is a 4xx problem (or a 502 when it reached the
    /// dead upstream), never a 500 or a panic.
    #[test]
    fn any_login_body_gets_a_clean_problem(
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            ("\\PC{0,20}", "\\PC{0,20}").prop_map(|(u, p)| serde_json::to_vec(&serde_json::json!({"username": u, "password": p})).expect("json")),
        ],
        content_type in prop_oneof![Just("application/json"), Just("text/plain"), Just("application/json; charset=utf-8")],
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let (status, content_type, text) = runtime.block_on(login(app(), content_type, body));
        prop_assert!(
            status.is_client_error() || status == StatusCode::BAD_GATEWAY,
            "{status} {text}"
        );
        prop_assert_eq!(content_type, "application/problem+json");
    }
}
