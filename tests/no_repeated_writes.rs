//! A Worldox write is never sent twice: whether a call may be repeated after a broken
//! answer is decided by the command, not by the HTTP method, because Worldox carries
//! its writes (CHECKIN, UPLOAD, RENAME, LOCK…) as GET. Against a simulator that reads
//! each request, counts it, and then drops the connection.

mod common;

use common::{Gateway, Reply, Sim, client};
use reqwest::Method;
use serde_json::json;

/// Writes of the reference, each sent through both methods.
const WRITES: &[&str] = &[
    "CHECKIN",
    "CHECKOUT",
    "UPLOAD",
    "NEWFILE",
    "RENAME",
    "LOCK",
    "AEDTABLE",
    "FILEWDL",
    "OPENWDL",
    "CLOSELIST",
    "DOWNLOAD",
    "VIEWFILE",
];

/// Extra attempts the gateway may make for a read (the default).
const RETRIES: u64 = 2;

/// A gateway whose breaker never opens during the test (every call here fails).
fn gateway(sim: &Sim, extra: &[(&str, &str)]) -> Gateway {
    let mut env = vec![
        ("WDGATE_UPSTREAM_BREAKER_WINDOW_CALLS", "1000"),
        ("WDGATE_UPSTREAM_BREAKER_MIN_CALLS", "1000"),
        ("WDGATE_UPSTREAM_RETRY_BASE_MS", "1"),
    ];
    env.extend_from_slice(extra);
    Gateway::start(&sim.url(), &env)
}

async fn wd(gw: &Gateway, method: Method, command: &str, token: &str) -> Reply {
    let url = gw.url(&format!("/wd/{command}?wd_List_ID=x1&wd_List_RecNum=1"));
    let mut request = client().request(method.clone(), url).bearer_auth(token);
    if method == Method::POST {
        request = request.form(&[("wd_FILE_VERSION_VALUE", "1")]);
    }
    Reply::read(request.send().await.expect("request")).await
}

#[tokio::test]
async fn each_write_reaches_worldox_once_through_get_and_post() {
    let sim = Sim::start().await;
    let gw = gateway(&sim, &[]);
    let token = gw.login("demo", "demo").await;
    sim.set_faults(json!({"drop_ratio": 1.0})).await;
    for command in WRITES {
        for method in [Method::GET, Method::POST] {
            let before = sim.calls(command).await;
            let r = wd(&gw, method.clone(), command, &token).await;
            r.assert_problem(502, "upstream_unreachable");
            assert_eq!(
                sim.calls(command).await - before,
                1,
                "{method} /wd/{command} reached Worldox more than once"
            );
        }
    }
}

#[tokio::test]
async fn a_read_is_retried_whatever_its_method() {
    let sim = Sim::start().await;
    let gw = gateway(&sim, &[]);
    let token = gw.login("demo", "demo").await;
    sim.set_faults(json!({"drop_ratio": 1.0})).await;
    for method in [Method::GET, Method::POST] {
        let before = sim.calls("FINDFILES").await;
        wd(&gw, method.clone(), "FINDFILES", &token)
            .await
            .assert_problem(502, "upstream_unreachable");
        assert_eq!(
            sim.calls("FINDFILES").await - before,
            1 + RETRIES,
            "{method} /wd/FINDFILES: a read is tried again"
        );
    }
}

#[tokio::test]
async fn serve_is_retried_only_with_a_read_template() {
    let sim = Sim::start().await;
    let gw = gateway(&sim, &[]);
    let token = gw.login("demo", "demo").await;
    sim.set_faults(json!({"drop_ratio": 1.0})).await;
    for (template, sent) in [
        ("/v4/filelist/rereadrecord.json", 1 + RETRIES),
        ("\\v4\\filelist\\rereadrecord.json", 1 + RETRIES),
        ("/v4/fileActions/SetField.json", 1),
    ] {
        let before = sim.calls("SERVE").await;
        let url = gw.url("/wd/SERVE");
        let r = client()
            .get(url)
            .query(&[("html", template), ("wd_List_ID", "x1")])
            .bearer_auth(&token)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), 502);
        assert_eq!(sim.calls("SERVE").await - before, sent, "SERVE {template}");
    }
}

#[tokio::test]
async fn a_cross_site_cookie_get_of_a_write_is_refused_and_sends_nothing() {
    const APP: &str = "https://app.example.com";
    let sim = Sim::start().await;
    let gw = gateway(
        &sim,
        &[
            ("WDGATE_BROWSER_CORS_ORIGINS", APP),
            ("WDGATE_BROWSER_COOKIE_ENABLED", "true"),
        ],
    );
    let login = client()
        .post(gw.url("/sessions"))
        .header("origin", APP)
        .json(&json!({"username": "demo", "password": "demo"}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status().as_u16(), 201);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let get = |command: &'static str, origin: Option<&'static str>| {
        let mut request = client()
            .get(gw.url(&format!("/wd/{command}?wd_List_ID=x1")))
            .header("cookie", &cookie);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        async move { Reply::read(request.send().await.expect("request")).await }
    };
    for origin in [Some("https://evil.example"), None] {
        let before = sim.calls("CHECKIN").await;
        get("CHECKIN", origin)
            .await
            .assert_problem(403, "csrf_rejected");
        assert_eq!(
            sim.calls("CHECKIN").await,
            before,
            "nothing reached Worldox"
        );
    }
    // From the app's own origin the write goes through (the simulator does not know
    // CHECKIN, which the status table maps like any unknown command).
    let before = sim.calls("CHECKIN").await;
    assert_ne!(get("CHECKIN", Some(APP)).await.status, 403);
    assert_eq!(sim.calls("CHECKIN").await, before + 1);
    // A read needs no origin check: a cookie GET of a search is not refused (CORS
    // still keeps its answer from a foreign page).
    let before = sim.calls("FINDFILES").await;
    assert_ne!(
        get("FINDFILES", Some("https://evil.example")).await.status,
        403
    );
    assert_eq!(sim.calls("FINDFILES").await, before + 1);
}
