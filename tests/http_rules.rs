//! HTTP done right, over real sockets: the `Host` rules of RFC 9112, media types as
//! RFC 9110 writes them, request ids believed only from trusted proxies, and refusals
//! logged with the client IP.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::{
    Gateway, Reply, Sim, client, client_from, connect_from, h2c_client_from, raw_exchange,
};
use serde_json::json;

/// Sends `request` as written on a fresh connection; returns the status and the
/// whole answer (the request asks for, or HTTP/1.0 implies, the connection's close).
async fn raw(gw: &Gateway, request: &str) -> (u16, String) {
    let mut stream = connect_from(IpAddr::V4(Ipv4Addr::LOCALHOST), gw.addr).await;
    raw_exchange(&mut stream, request).await
}

#[tokio::test]
async fn an_http_1_1_request_needs_exactly_one_valid_host() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    for (request, why) in [
        (
            "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
            "no Host",
        ),
        (
            "GET /healthz HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n",
            "two Hosts",
        ),
        (
            "GET /me HTTP/1.1\r\nHost: user@gw.example\r\nConnection: close\r\n\r\n",
            "user info",
        ),
        (
            "GET /me HTTP/1.1\r\nHost: gw.example:99999\r\nConnection: close\r\n\r\n",
            "a port past 65535",
        ),
        (
            "GET /healthz HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
            "two Hosts on HTTP/1.0",
        ),
    ] {
        let (status, answer) = raw(&gw, request).await;
        assert_eq!(status, 400, "{why}: {answer}");
        assert!(
            answer.contains("application/problem+json") && answer.contains("\"bad_request\""),
            "{why}: {answer}"
        );
    }
    let (status, answer) = raw(&gw, "GET /healthz HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 200, "HTTP/1.0 may leave Host out: {answer}");
    let (status, answer) = raw(
        &gw,
        "GET /healthz HTTP/1.1\r\nHost: gw.example:8080\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // HTTP/2 names the host in :authority, and needs no Host header.
    let h2 = h2c_client_from(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .get(gw.url("/healthz"))
        .send()
        .await
        .expect("GET over h2c");
    assert_eq!(h2.version(), reqwest::Version::HTTP_2);
    assert_eq!(h2.status(), 200);
}

#[tokio::test]
async fn media_types_are_read_as_rfc_9110_writes_them() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let login = serde_json::to_vec(&json!({"username": "demo", "password": "demo"})).expect("json");
    for content_type in [
        "application/json ; charset=utf-8",
        "Application/JSON;charset=\"utf-8\"",
        "application/json;\tcharset=UTF-8",
    ] {
        let r = gw.post_raw("/sessions", content_type, login.clone()).await;
        assert_eq!(r.status, 201, "{content_type}: {}", r.text);
    }
    for content_type in [
        "application/jsonx",
        "text/plain",
        "application/json; charset",
    ] {
        gw.post_raw("/sessions", content_type, login.clone())
            .await
            .assert_problem(415, "unsupported_media_type");
    }
    // The passthrough's form and JSON bodies are read by the same rules.
    let token = gw.login("demo", "demo").await;
    let find = |content_type: &'static str, body: &'static str| {
        client()
            .post(gw.url("/wd/FINDFILES"))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    for (content_type, body) in [
        (
            "Application/X-WWW-Form-Urlencoded ; charset=utf-8",
            "wd_FIND_QUERY=Excel",
        ),
        (
            "APPLICATION/JSON ; charset=\"utf-8\"",
            "{\"wd_FIND_QUERY\":\"Excel\"}",
        ),
    ] {
        let r = Reply::read(find(content_type, body).await.expect("POST")).await;
        assert_eq!(r.status, 200, "{content_type}: {}", r.text);
        let found = r.json["root"]["data"].as_array().map_or(0, Vec::len);
        assert_eq!(found, 3, "the query reached Worldox: {}", r.text);
    }
    let r = Reply::read(
        find("application/x-www-form-urlencodedx", "wd_FIND_QUERY=Excel")
            .await
            .expect("POST"),
    )
    .await;
    r.assert_problem(415, "unsupported_media_type");
}

/// The log lines naming `request_id`.
fn lines_of(log: &str, request_id: &str) -> Vec<String> {
    let needle = format!("request_id=\"{request_id}\"");
    log.lines()
        .filter(|line| line.contains(&needle))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_strangers_request_id_is_logged_beside_ours_and_a_proxys_is_kept() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let r = Reply::read(
        client()
            .get(gw.url("/me"))
            .header("x-request-id", "trace-123")
            .send()
            .await
            .expect("GET"),
    )
    .await;
    let ours = r.header("x-request-id").to_owned();
    assert_ne!(ours, "trace-123", "a client does not pick the id");
    assert!(uuid_like(&ours), "{ours}");
    assert_eq!(r.json["request_id"], ours.as_str());
    gw.wait_for_log(&format!("request_id=\"{ours}\"")).await;
    let lines = lines_of(&gw.log(), &ours);
    assert!(
        lines
            .iter()
            .any(|line| line.contains("client_request_id=\"trace-123\"")),
        "{lines:?}"
    );
    // An id with control characters, or too long, is not even logged.
    for bad in ["evil\tid", &"x".repeat(65)] {
        let r = client()
            .get(gw.url("/me"))
            .header("x-request-id", bad)
            .send()
            .await
            .expect("GET");
        let ours = r.headers()["x-request-id"]
            .to_str()
            .expect("ascii")
            .to_owned();
        gw.wait_for_log(&format!("request_id=\"{ours}\"")).await;
        let lines = lines_of(&gw.log(), &ours);
        assert!(
            lines.iter().all(|line| !line.contains("client_request_id")),
            "{lines:?}"
        );
    }

    // From a trusted proxy, the id it sent is the request's id.
    let behind = Gateway::start(
        &sim.url(),
        &[("WDGATE_SERVER_TRUSTED_PROXIES", "127.0.0.1")],
    );
    let r = Reply::read(
        client()
            .get(behind.url("/me"))
            .header("x-request-id", "lb-trace-9")
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(r.header("x-request-id"), "lb-trace-9");
    assert_eq!(r.json["request_id"], "lb-trace-9");
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

#[tokio::test]
async fn refusals_are_logged_with_the_client_ip_and_successes_are_not() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let refused = client_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 7)))
        .get(gw.url("/me"))
        .send()
        .await
        .expect("GET");
    assert_eq!(refused.status(), 401);
    let id = refused.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    gw.wait_for_log(&format!("request_id=\"{id}\"")).await;
    common::wait_until(|| async {
        lines_of(&gw.log(), &id)
            .iter()
            .any(|line| line.contains("status=401") && line.contains("client_ip=127.0.0.7"))
    })
    .await;

    let served = client_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 8)))
        .get(gw.url("/healthz"))
        .send()
        .await
        .expect("GET");
    assert_eq!(served.status(), 200);
    let id = served.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    common::wait_until(|| async {
        lines_of(&gw.log(), &id)
            .iter()
            .any(|line| line.contains("status=200"))
    })
    .await;
    let lines = lines_of(&gw.log(), &id);
    assert!(
        lines.iter().all(|line| !line.contains("127.0.0.8")),
        "{lines:?}"
    );
}
