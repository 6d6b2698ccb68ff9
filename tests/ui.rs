//! `wdgate serve --ui DIR`: the self-service page's files under `/ui/`, over real HTTP.

mod common;

use std::process::Command;

use common::{Gateway, Reply, client};

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
    common::raw_exchange(&mut stream, &request).await
}

#[tokio::test]
async fn the_page_is_served_without_a_session() {
    let gw = gateway_with_ui();
    for (path, content_type, needle) in [
        ("/ui/index.html", "text/html", "<title>Self-service"),
        ("/ui/", "text/html", "<title>Self-service"),
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

/// A copy of the page's index in a fresh folder, with symlinks that stay inside it
/// and symlinks that lead out of it (to a file and to a folder holding a secret).
fn folder_with_symlinks(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::symlink;
    let base = std::env::temp_dir().join(format!("wdgate-ui-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (ui, outside) = (base.join("ui"), base.join("outside"));
    std::fs::create_dir_all(ui.join("sub")).expect("ui dir");
    std::fs::create_dir_all(&outside).expect("outside dir");
    std::fs::copy(format!("{WEB}/index.html"), ui.join("index.html")).expect("index");
    std::fs::write(ui.join("sub/page.html"), "<p>inside</p>").expect("page");
    std::fs::write(outside.join("secret.txt"), "TOP-SECRET").expect("secret");
    std::fs::write(outside.join("index.html"), "TOP-SECRET index").expect("index");
    symlink(ui.join("index.html"), ui.join("alias.html")).expect("symlink");
    symlink(ui.join("sub"), ui.join("same")).expect("symlink");
    symlink(outside.join("secret.txt"), ui.join("leak.txt")).expect("symlink");
    symlink(&outside, ui.join("out")).expect("symlink");
    symlink(outside.join("index.html"), ui.join("sub/index.html")).expect("symlink");
    (base, ui)
}

#[tokio::test]
async fn nothing_reached_through_a_symlink_out_of_the_folder_is_served() {
    let (base, ui) = folder_with_symlinks("symlinks");
    let gw = Gateway::start_with_args(&["--ui", &ui.to_string_lossy()], &[]);
    for path in ["/ui/alias.html", "/ui/same/page.html", "/ui/index.html"] {
        let reply = get(&gw, path).await;
        assert_eq!(reply.status, 200, "{path} stays inside: {}", reply.text);
    }
    for path in [
        "/ui/leak.txt",
        "/ui/out/secret.txt",
        "/ui/out/",
        "/ui/out/index.html",
        "/ui/sub/",
        "/ui/sub/index.html",
        "/ui/%6Ceak.txt",
    ] {
        let (status, answer) = raw_get(&gw, path).await;
        assert_eq!(status, 404, "{path}: {answer}");
        assert!(!answer.contains("TOP-SECRET"), "{path} leaked: {answer}");
    }
    get(&gw, "/ui/leak.txt")
        .await
        .assert_problem(404, "not_found");
    let _ = std::fs::remove_dir_all(&base);
}

#[tokio::test]
async fn a_name_too_long_for_the_file_system_is_404_not_500() {
    let gw = gateway_with_ui();
    for name in [
        "a".repeat(300),
        format!("{}/x.html", "d".repeat(300)),
        "b".repeat(5000),
    ] {
        let reply = get(&gw, &format!("/ui/{name}")).await;
        reply.assert_problem(404, "not_found");
    }
}

#[tokio::test]
async fn a_range_the_file_cannot_satisfy_is_a_416_problem_of_its_own() {
    let gw = gateway_with_ui();
    let size = get(&gw, "/ui/index.html").await.text.len();
    for range in ["bytes=999999-", "bytes=abc", "bytes=0-1,5-6"] {
        let reply = Reply::read(
            client()
                .get(gw.url("/ui/index.html"))
                .header("range", range)
                .send()
                .await
                .expect("GET"),
        )
        .await;
        reply.assert_problem(416, "range_not_satisfiable");
        assert_eq!(
            reply.header("content-range"),
            format!("bytes */{size}"),
            "{range}"
        );
    }
    // A range it can satisfy is served.
    let part = client()
        .get(gw.url("/ui/index.html"))
        .header("range", "bytes=0-4")
        .send()
        .await
        .expect("GET");
    assert_eq!(part.status(), 206);
    assert_eq!(part.text().await.expect("body").len(), 5);
}
