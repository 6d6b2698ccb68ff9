//! `wdgate serve --ui DIR`: the self-service page's files under `/ui/`, over real HTTP.

mod common;

use std::process::Command;

use common::{Gateway, Reply, client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The page shipped in the repository.
const WEB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/web");

/// A demo gateway serving the page.
fn gateway_with_ui() -> Gateway {
    Gateway::start_with_args(&["--ui", WEB], &[])
}

async fn get(gw: &Gateway, path: &str) -> Reply {
    Reply::read(client().get(gw.url(path)).send().await.expect("GET")).await
}

/// Sends `path` exactly as written (no client-side `..` normalisation) and returns the
/// status and the whole answer.
async fn raw_get(gw: &Gateway, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        gw.addr
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(common::DEADLINE, stream.read_to_end(&mut answer))
        .await
        .expect("answer in time")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    (status, answer)
}

#[tokio::test]
async fn the_page_is_served_without_a_session() {
    let gw = gateway_with_ui();
    for (path, content_type, needle) in [
        ("/ui/index.html", "text/html", "<title>Two-factor devices"),
        ("/ui/", "text/html", "<title>Two-factor devices"),
        ("/ui/app.js", "text/javascript", "credentials: \"include\""),
        ("/ui/style.css", "text/css", ".device"),
    ] {
        let reply = get(&gw, path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert!(
            reply.header("content-type").starts_with(content_type),
            "{path}: {}",
            reply.header("content-type")
        );
        assert!(reply.text.contains(needle), "{path}");
        let csp = reply.header("content-security-policy");
        assert!(csp.contains("connect-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(reply.header("x-content-type-options"), "nosniff");
        assert!(!reply.header("x-request-id").is_empty(), "{path}");
    }
    // The API beside it is unchanged.
    get(&gw, "/me").await.assert_problem(401, "missing_token");
}

#[tokio::test]
async fn ui_without_a_slash_redirects_and_folders_keep_the_prefix() {
    let gw = gateway_with_ui();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(common::DEADLINE)
        .build()
        .expect("client");
    for (path, location) in [("/ui", "/ui/"), ("/ui/test", "/ui/test/")] {
        let reply = Reply::read(no_redirects.get(gw.url(path)).send().await.expect("GET")).await;
        assert!(
            (300..400).contains(&reply.status),
            "{path}: {}",
            reply.status
        );
        assert_eq!(reply.header("location"), location, "{path}");
    }
}

#[tokio::test]
async fn nothing_outside_the_folder_or_hidden_is_served() {
    let gw = gateway_with_ui();
    for path in [
        "/ui/../Cargo.toml",
        "/ui/../../Cargo.toml",
        "/ui/%2e%2e/%2e%2e/Cargo.toml",
        "/ui/%2E%2E%2F%2E%2E%2FCargo.toml",
        "/ui/..%2f..%2fCargo.toml",
        "/ui/..\\..\\Cargo.toml",
        "/ui/test/.gitignore",
        "/ui/%2egitignore",
        "/ui/nope.html",
    ] {
        let (status, answer) = raw_get(&gw, path).await;
        assert!(status == 404 || status == 400, "{path}: {status}\n{answer}");
        assert!(!answer.contains("[package]"), "{path} leaked Cargo.toml");
        assert!(!answer.contains("node_modules"), "{path} leaked .gitignore");
    }
    let reply = get(&gw, "/ui/nope.html").await;
    reply.assert_problem(404, "not_found");
}

#[tokio::test]
async fn only_reads_are_answered() {
    let gw = gateway_with_ui();
    let reply = Reply::read(
        client()
            .post(gw.url("/ui/index.html"))
            .body("x")
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_eq!(reply.status, 405, "{}", reply.text);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    let head = client()
        .head(gw.url("/ui/index.html"))
        .send()
        .await
        .expect("HEAD");
    assert_eq!(head.status(), 200);
}

#[tokio::test]
async fn without_ui_there_is_no_ui_route() {
    let gw = Gateway::start_demo(&[]);
    get(&gw, "/ui/index.html")
        .await
        .assert_problem(404, "not_found");
}

#[test]
fn a_missing_ui_folder_is_a_config_error_naming_the_key() {
    let out = Command::new(env!("CARGO_BIN_EXE_wdgate"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--ui",
            "/nonexistent/wdgate-ui",
        ])
        .current_dir(std::env::temp_dir())
        .env_remove("WDGATE_SERVER_UI_DIR")
        .output()
        .expect("run wdgate");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server.ui_dir"), "{stderr}");
}
