//! Browsers: CORS for configured origins, cookie sessions, CSRF protection.

mod common;

use common::{Gateway, Reply, Sim};
use reqwest::Method;
use serde_json::json;

const APP: &str = "https://app.example.com";
const EVIL: &str = "https://evil.example";

fn browser_gateway(sim: &Sim) -> Gateway {
    Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_BROWSER_CORS_ORIGINS", APP),
            ("WDGATE_BROWSER_COOKIE_ENABLED", "true"),
        ],
    )
}

async fn send(
    gw: &Gateway,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> Reply {
    let mut req = common::client().request(method, gw.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    Reply::read(req.send().await.expect("request")).await
}

/// Logs in from the app's origin; returns the `name=value` cookie pair.
async fn cookie_login(gw: &Gateway) -> (String, Reply) {
    let r = send(
        gw,
        Method::POST,
        "/sessions",
        &[("origin", APP)],
        Some(json!({"username": "demo", "password": "demo"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let set_cookie = r.header("set-cookie").to_owned();
    let pair = set_cookie.split(';').next().expect("pair").to_owned();
    (pair, r)
}

#[tokio::test]
async fn preflights_are_answered_for_allowed_origins_only() {
    let sim = Sim::start().await;
    let gw = browser_gateway(&sim);
    let gw = &gw;
    let preflight = |origin: &'static str| async move {
        let headers = [
            ("origin", origin),
            ("access-control-request-method", "PATCH"),
            (
                "access-control-request-headers",
                "content-type, authorization",
            ),
        ];
        send(gw, Method::OPTIONS, "/me/2fa-devices/x", &headers, None).await
    };
    let ok = preflight(APP).await;
    assert!(ok.status == 200 || ok.status == 204, "{}", ok.status);
    assert_eq!(ok.header("access-control-allow-origin"), APP);
    assert_eq!(ok.header("access-control-allow-credentials"), "true");
    assert!(ok.header("access-control-allow-methods").contains("PATCH"));
    let foreign = preflight(EVIL).await;
    assert_eq!(
        foreign.header("access-control-allow-origin"),
        "",
        "a foreign origin gets no CORS grant"
    );
    // Actual responses carry the grant and expose the request id, and the headers a
    // page reads from a download (its name) and a list (its links).
    let r = send(gw, Method::GET, "/healthz", &[("origin", APP)], None).await;
    assert_eq!(r.header("access-control-allow-origin"), APP);
    let exposed = r.header("access-control-expose-headers");
    for name in ["x-request-id", "content-disposition", "etag", "link"] {
        assert!(exposed.contains(name), "{name} is not exposed: {exposed}");
    }
}

#[tokio::test]
async fn cookie_login_sets_a_hardened_cookie_that_authenticates() {
    let sim = Sim::start().await;
    let gw = browser_gateway(&sim);
    let (pair, r) = cookie_login(&gw).await;
    let set_cookie = r.header("set-cookie");
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=28800",
    ] {
        assert!(
            set_cookie.contains(attribute),
            "{set_cookie} lacks {attribute}"
        );
    }
    assert!(pair.starts_with("wdgate_session=wdg_"));
    // The page's scripts never see the token: it is in the HttpOnly cookie only.
    let token = pair.trim_start_matches("wdgate_session=");
    assert!(
        !r.text.contains(token),
        "the body repeats the token: {}",
        r.text
    );
    assert!(r.json.get("token").is_none() && r.json.get("token_type").is_none());
    assert_eq!(r.json["user"]["username"], "demo");
    assert_eq!(r.json["expires_in"], 1800);
    let me = send(&gw, Method::GET, "/me", &[("cookie", &pair)], None).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["username"], "demo");
}

#[tokio::test]
async fn in_cookie_mode_a_client_without_an_origin_still_gets_its_token() {
    let sim = Sim::start().await;
    let gw = browser_gateway(&sim);
    let r = gw.login_attempt("demo", "demo").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.json["token"]
        .as_str()
        .expect("a token for a non-browser client");
    assert_eq!(r.json["token_type"], "Bearer");
    assert!(
        r.header("set-cookie")
            .starts_with(&format!("wdgate_session={token}"))
    );
    assert_eq!(gw.get("/me", Some(token)).await.status, 200);
}

#[tokio::test]
async fn cookie_authenticated_changes_need_an_allowed_origin() {
    let sim = Sim::start().await;
    let gw = browser_gateway(&sim);
    let (pair, _) = cookie_login(&gw).await;
    // A client without an Origin (a server, curl) still gets a bearer token.
    let token = gw.login("demo", "demo").await;
    let id = gw.get("/me/2fa-devices", Some(&token)).await.json["devices"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/me/2fa-devices/{id}");
    let rename = || Some(json!({"name": "Renamed"}));
    let before = sim.calls("2FSET").await;
    send(
        &gw,
        Method::PATCH,
        &path,
        &[("cookie", &pair), ("origin", EVIL)],
        rename(),
    )
    .await
    .assert_problem(403, "csrf_rejected");
    send(&gw, Method::PATCH, &path, &[("cookie", &pair)], rename())
        .await
        .assert_problem(403, "csrf_rejected");
    send(
        &gw,
        Method::DELETE,
        &path,
        &[("cookie", &pair), ("referer", "https://evil.example/x")],
        None,
    )
    .await
    .assert_problem(403, "csrf_rejected");
    assert_eq!(
        sim.calls("2FSET").await,
        before,
        "a rejected request never reaches Worldox"
    );
    // Reads with the cookie need no origin; changes from the app's origin go through.
    assert_eq!(
        send(&gw, Method::GET, &path, &[("cookie", &pair)], None)
            .await
            .status,
        200
    );
    let ok = send(
        &gw,
        Method::PATCH,
        &path,
        &[("cookie", &pair), ("origin", APP)],
        rename(),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // A bearer token is not ambient, so it needs no origin check.
    let bearer = gw
        .send(
            Method::PATCH,
            &path,
            &json!({"name": "Bearer"}),
            Some(&token),
        )
        .await;
    assert_eq!(bearer.status, 200, "{}", bearer.text);
}

#[tokio::test]
async fn a_foreign_page_cannot_log_a_browser_in() {
    let sim = Sim::start().await;
    let gw = browser_gateway(&sim);
    let r = send(
        &gw,
        Method::POST,
        "/sessions",
        &[("origin", EVIL)],
        Some(json!({"username": "demo", "password": "demo"})),
    )
    .await;
    r.assert_problem(403, "csrf_rejected");
    assert_eq!(r.header("set-cookie"), "");
    assert_eq!(sim.calls("LOGON").await, 0);
}

#[tokio::test]
async fn logout_clears_the_cookie() {
    let sim = Sim::start().await;
    let gw = browser_gateway(&sim);
    let (pair, _) = cookie_login(&gw).await;
    let r = send(
        &gw,
        Method::DELETE,
        "/sessions/current",
        &[("cookie", &pair), ("origin", APP)],
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let cleared = r.header("set-cookie");
    assert!(
        cleared.starts_with("wdgate_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    send(&gw, Method::GET, "/me", &[("cookie", &pair)], None)
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn without_cookie_mode_cookies_and_cors_are_ignored() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    let r = send(
        &gw,
        Method::GET,
        "/me",
        &[
            ("cookie", &format!("wdgate_session={token}")),
            ("origin", APP),
        ],
        None,
    )
    .await;
    r.assert_problem(401, "missing_token");
    assert_eq!(r.header("access-control-allow-origin"), "");
}

#[test]
fn a_wildcard_origin_is_refused_at_start_up() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wdgate"))
        .args(["check-config"])
        .current_dir(std::env::temp_dir())
        .env("WDGATE_BROWSER_CORS_ORIGINS", "*")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("browser.cors_origins"));
}

#[tokio::test]
async fn the_gateways_own_refusals_carry_cors_headers_for_a_listed_origin() {
    // A page must be able to read a 503 (and its Retry-After), not meet a CORS error.
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_BROWSER_CORS_ORIGINS", APP),
            ("WDGATE_SERVER_MAX_CONCURRENT_REQUESTS", "1"),
        ],
    );
    sim.set_faults(json!({"latency_ms": 1500})).await;
    let slow = gw.login_in_flight("demo", "demo");
    common::wait_until(|| async { sim.calls("LOGON").await == 1 }).await;
    let r = send(&gw, Method::GET, "/me", &[("origin", APP)], None).await;
    r.assert_problem(503, "overloaded");
    assert_eq!(r.header("access-control-allow-origin"), APP);
    assert_eq!(slow.await.expect("join"), 201);
}

/// A CA-signed `localhost` certificate and key in a fresh folder, for a TLS listener;
/// returns the folder, the config file naming them, and the CA's PEM.
fn tls_files(name: &str) -> (std::path::PathBuf, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let dir = std::env::temp_dir().join(format!("wdgate-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "wdgate test CA");
    let ca_pem = ca.self_signed(&ca_key).expect("CA").pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&key, &issuer)
        .expect("leaf");
    std::fs::write(dir.join("cert.pem"), cert.pem()).expect("write cert");
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("write key");
    let config = dir.join("wdgate.toml");
    let text = format!(
        "[server.tls]\ncert_file = {:?}\nkey_file = {:?}\nreload_interval_secs = 0\n",
        dir.join("cert.pem"),
        dir.join("key.pem")
    );
    std::fs::write(&config, text).expect("config");
    (dir, config.to_string_lossy().into_owned(), ca_pem)
}

#[tokio::test]
async fn over_http2_the_same_origin_page_logs_in_and_out_with_its_cookie() {
    // HTTP/2 clients send no Host: the same-host check must read :authority.
    let sim = Sim::start().await;
    let (dir, config, ca_pem) = tls_files("h2-cookie");
    let gw = Gateway::start_with_args(
        &["--config", &config, "--upstream", &sim.url()],
        &[("WDGATE_BROWSER_COOKIE_ENABLED", "true")],
    );
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("pem"))
        .timeout(common::DEADLINE)
        .build()
        .expect("client");
    let origin = format!("https://localhost:{}", gw.addr.port());
    let login = client
        .post(format!("{origin}/sessions"))
        .header("origin", &origin)
        .json(&json!({"username": "demo", "password": "demo"}))
        .send()
        .await
        .expect("login");
    assert_eq!(
        login.version(),
        reqwest::Version::HTTP_2,
        "ALPN picks HTTP/2"
    );
    let login = Reply::read(login).await;
    assert_eq!(login.status, 201, "{}", login.text);
    let pair = login
        .header("set-cookie")
        .split(';')
        .next()
        .expect("a cookie")
        .to_owned();
    assert!(pair.starts_with("wdgate_session=wdg_"), "{pair}");

    // Another port is another origin, over HTTP/2 too.
    let elsewhere = format!("https://localhost:{}", gw.addr.port().wrapping_add(1));
    let foreign = client
        .delete(format!("{origin}/sessions/current"))
        .header("cookie", &pair)
        .header("origin", &elsewhere)
        .send()
        .await
        .expect("logout");
    Reply::read(foreign)
        .await
        .assert_problem(403, "csrf_rejected");

    let logout = client
        .delete(format!("{origin}/sessions/current"))
        .header("cookie", &pair)
        .header("origin", &origin)
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.version(), reqwest::Version::HTTP_2);
    let logout = Reply::read(logout).await;
    assert_eq!(logout.status, 204, "{}", logout.text);
    let _ = std::fs::remove_dir_all(&dir);
}
