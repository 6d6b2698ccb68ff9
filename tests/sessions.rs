//! `POST /sessions`, `GET /me`, `DELETE /sessions/current` over real HTTP.

mod common;

use std::time::Duration;

use common::{Gateway, Sim, wait_every, wait_until};
use serde_json::json;

#[tokio::test]
async fn login_returns_a_bearer_token_and_the_profile() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let r = gw.login_attempt("demo", "demo").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(r.header("location"), "/sessions/current");
    let token = r.json["token"].as_str().expect("token");
    assert!(token.starts_with("wdg_") && token.len() == 47, "{token}");
    assert_eq!(r.json["token_type"], "Bearer");
    assert_eq!(r.json["expires_in"], 1800);
    assert_eq!(
        r.json["user"],
        json!({"username": "demo", "name": "Demo User", "email": "demo@example.com", "firm": "Example Law LLP"})
    );
    let keys: Vec<_> = r
        .json
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        keys.len(),
        7,
        "no upstream fields leak into the answer: {keys:?}"
    );
    let id = r.json["id"].as_str().expect("the session id");
    assert!(id.starts_with("ses_") && !token.contains(&id[4..]), "{id}");
    assert_eq!(r.json["_links"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn a_wrong_password_is_401_with_the_upstream_code() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let r = gw.login_attempt("demo", "nope").await;
    r.assert_problem(401, "invalid_credentials");
    assert_eq!(r.header("www-authenticate"), "Bearer realm=\"wdgate\"");
    assert_eq!(r.json["upstream"]["rcid"], "8435");
    assert_eq!(
        r.json["upstream"]["rctx"],
        "WDRC_LOGON_USER_PASSWORD_INVALID"
    );
    assert!(
        !r.text.contains("WINRC#1326"),
        "wd_Error_VAL must not be passed on"
    );
}

#[tokio::test]
async fn bad_login_bodies_get_clear_errors_and_no_upstream_call() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[("WDGATE_SERVER_BODY_LIMIT_BYTES", "4096")]);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "application/json",
            br#"{"username": "demo"}"#.to_vec(),
            400,
            "bad_request",
        ),
        (
            "application/json",
            br#"{"username": "demo", "password": 5}"#.to_vec(),
            400,
            "bad_request",
        ),
        (
            "application/json",
            br#"{"username": "demo", "password": "#.to_vec(),
            400,
            "bad_request",
        ),
        ("application/json", b"[]".to_vec(), 400, "bad_request"),
        ("application/json", b"".to_vec(), 400, "bad_request"),
        (
            "text/plain",
            br#"{"username": "demo", "password": "demo"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "application/x-www-form-urlencoded",
            b"username=demo&password=demo".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "application/json",
            format!(
                r#"{{"username": "demo", "password": "{}"}}"#,
                "x".repeat(10_000)
            )
            .into_bytes(),
            413,
            "payload_too_large",
        ),
        (
            "application/json",
            br#"{"username": "", "password": "demo"}"#.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "application/json",
            br#"{"username": "   ", "password": "demo"}"#.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "application/json",
            br#"{"username": "de\nmo", "password": "demo"}"#.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "application/json",
            br#"{"username": "demo", "password": ""}"#.to_vec(),
            422,
            "validation_failed",
        ),
    ];
    for (content_type, body, status, code) in cases {
        let r = gw.post_raw("/sessions", content_type, body.clone()).await;
        assert_eq!(
            r.status,
            status,
            "{} {:?}: {}",
            content_type,
            String::from_utf8_lossy(&body[..body.len().min(60)]),
            r.text
        );
        r.assert_problem(status, code);
    }
    assert_eq!(
        sim.calls("LOGON").await,
        0,
        "refused input never reaches Worldox"
    );
}

#[tokio::test]
async fn a_password_full_of_cgi_metacharacters_reaches_the_simulator_intact() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    // The simulator's `tricky` user has exactly this password: it only logs in if every
    // byte arrived unchanged, and no `+ & = %` split it into extra parameters.
    let r = gw
        .post_json(
            "/sessions",
            &json!({"username": "tricky", "password": "p+a&s=s%w#rd 1\u{e9}"}),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Near misses fail, so the match above is exact.
    for wrong in ["p a&s=s%w#rd 1\u{e9}", "p+a&s=s%25w#rd 1\u{e9}", "p+a"] {
        let r = gw
            .post_json(
                "/sessions",
                &json!({"username": "tricky", "password": wrong}),
                None,
            )
            .await;
        assert_eq!(r.status, 401, "{wrong:?}: {}", r.text);
    }
}

#[tokio::test]
async fn metacharacters_in_the_username_cannot_inject_parameters() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    // Were `&wd_User_Password_Value=demo` decoded as a parameter, this would log in.
    for username in [
        "demo&wd_User_Password_Value=demo",
        "demo+wd_User_Password_Value=demo",
        "demo%26x%3D1",
        "d\u{e9}mo=+",
    ] {
        let r = gw
            .post_json(
                "/sessions",
                &json!({"username": username, "password": "wrong"}),
                None,
            )
            .await;
        r.assert_problem(401, "invalid_credentials");
    }
}

#[tokio::test]
async fn me_answers_from_the_cache_for_a_good_token() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    let before = sim.calls("LOGON").await;
    let r = gw.get("/me", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["username"], "demo");
    assert_eq!(r.json["email"], "demo@example.com");
    assert!(r.json["session"]["expires_at"].as_u64() > r.json["session"]["created_at"].as_u64());
    let stats = sim.admin(reqwest::Method::GET, "stats", None).await;
    let total: u64 = stats["calls"]
        .as_object()
        .expect("calls")
        .values()
        .filter_map(|v| v.as_u64())
        .sum();
    assert_eq!(total, before, "GET /me makes no upstream call");
}

#[tokio::test]
async fn me_refuses_missing_malformed_and_unknown_tokens() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let r = gw.get("/me", None).await;
    r.assert_problem(401, "missing_token");
    assert_eq!(r.header("www-authenticate"), "Bearer realm=\"wdgate\"");
    let unknown = format!("wdg_{}", "A".repeat(43));
    for token in ["garbage", "wdg_short", unknown.as_str()] {
        let r = gw.get("/me", Some(token)).await;
        r.assert_problem(401, "invalid_token");
        assert!(
            r.header("www-authenticate")
                .contains("error=\"invalid_token\"")
        );
    }
    let r = gw.post_raw("/me", "application/json", b"{}".to_vec()).await;
    r.assert_problem(405, "method_not_allowed");
    let r = gw.get("/nowhere", None).await;
    r.assert_problem(404, "not_found");
}

#[tokio::test]
async fn an_idle_session_expires() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[("WDGATE_SESSION_IDLE_TIMEOUT_SECS", "1")]);
    let token = gw.login("demo", "demo").await;
    assert_eq!(gw.get("/me", Some(&token)).await.status, 200);
    // Each look slides the idle timer, so look less often than the timeout.
    wait_every(Duration::from_millis(1200), || async {
        gw.get("/me", Some(&token)).await.status == 401
    })
    .await;
    gw.get("/me", Some(&token))
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn a_busy_session_still_ends_at_its_absolute_timeout() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_SESSION_IDLE_TIMEOUT_SECS", "1"),
            ("WDGATE_SESSION_ABSOLUTE_TIMEOUT_SECS", "1"),
        ],
    );
    let token = gw.login("demo", "demo").await;
    // Frequent use keeps the idle timer fresh; the absolute end comes anyway.
    wait_until(|| async { gw.get("/me", Some(&token)).await.status == 401 }).await;
}

#[tokio::test]
async fn logout_ends_the_session_here_and_upstream() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    let other = gw.login("demo", "demo").await;
    let r = gw.delete("/sessions/current", Some(&token)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(sim.calls("LOGOFF").await, 1);
    gw.get("/me", Some(&token))
        .await
        .assert_problem(401, "invalid_token");
    gw.delete("/sessions/current", Some(&token))
        .await
        .assert_problem(401, "invalid_token");
    assert_eq!(
        gw.get("/me", Some(&other)).await.status,
        200,
        "other sessions live on"
    );
}

#[tokio::test]
async fn logout_succeeds_even_when_the_upstream_is_down() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    drop(sim);
    let r = gw.delete("/sessions/current", Some(&token)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    gw.get("/me", Some(&token))
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn request_ids_are_echoed_or_minted() {
    let sim = Sim::start().await;
    // A trusted proxy's id is echoed (anyone else's only logged: tests/http_rules.rs).
    let gw = Gateway::start(
        &sim.url(),
        &[("WDGATE_SERVER_TRUSTED_PROXIES", "127.0.0.1")],
    );
    let r = common::client()
        .get(gw.url("/me"))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.headers()["x-request-id"], "trace-123");
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["request_id"], "trace-123");
    let r = common::client()
        .get(gw.url("/me"))
        .header("x-request-id", "bad id with spaces and <junk>")
        .send()
        .await
        .expect("GET");
    let id = r.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(id.len(), 36, "a fresh UUID replaces an unsafe id: {id}");
}

/// `GET /me` with `token` on the one connection `sender` holds: status and body.
async fn me_on(
    sender: &mut hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>>,
    token: &str,
) -> (u16, serde_json::Value) {
    use http_body_util::BodyExt;
    let request = hyper::Request::get("/me")
        .header("host", "localhost")
        .header("authorization", format!("Bearer {token}"))
        .body(http_body_util::Empty::new())
        .expect("a request");
    let response = sender.send_request(request).await.expect("an answer");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (status, serde_json::from_slice(&body).expect("JSON"))
}

/// A connection remembers its last token's store key (to hash it once), never whose
/// session it is: on one kept-alive connection, each of two tokens reaches its own
/// session however they alternate, a token one character off the remembered one is
/// refused, and a token logged out elsewhere is refused on the next request.
#[tokio::test]
async fn tokens_alternating_on_one_connection_each_reach_their_own_session() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let a = gw.login("demo", "demo").await;
    let b = gw.login("demo", "demo").await;
    let tcp = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .expect("a handshake");
    let driven = tokio::spawn(connection);

    let (_, of_a) = me_on(&mut sender, &a).await;
    let (_, of_b) = me_on(&mut sender, &b).await;
    let id_a = of_a["session"]["id"].as_str().expect("an id").to_owned();
    let id_b = of_b["session"]["id"].as_str().expect("an id").to_owned();
    assert_ne!(id_a, id_b);
    for (token, id) in [
        (&a, &id_a),
        (&a, &id_a),
        (&b, &id_b),
        (&a, &id_a),
        (&b, &id_b),
    ] {
        let (status, body) = me_on(&mut sender, token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["session"]["id"], id.as_str());
    }

    let mut near = a.clone();
    let last = if near.ends_with('A') { "B" } else { "A" };
    near.replace_range(near.len() - 1.., last);
    let (status, body) = me_on(&mut sender, &near).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );

    let (status, _) = me_on(&mut sender, &b).await;
    assert_eq!(status, 200);
    let r = gw.delete("/sessions/current", Some(&b)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let (status, body) = me_on(&mut sender, &b).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    let (status, body) = me_on(&mut sender, &a).await;
    assert_eq!(
        (status, body["session"]["id"].as_str()),
        (200, Some(id_a.as_str()))
    );
    assert!(!driven.is_finished(), "all of it on one connection");
}
