//! The simulator's documents over real sockets: the gateway reads the Windows-1252
//! seed through its charset fallback, `wdgate serve` in demo mode shows the new
//! documents, and a file body reset half-way breaks the client's read instead of
//! looking whole; a stalled body stays open with nothing more; lists expire with
//! `sim.list_ttl_secs`; protected and hidden seeds follow their owner.

mod common;

use common::{Gateway, Sim, client};
use serde_json::{Value, json};
use wdgate::upstream::cgi::{Params, decode};

async fn wd_get(gw: &Gateway, token: &str, command: &str, query: &[(&str, &str)]) -> Value {
    let resp = client()
        .get(gw.url(&format!("/wd/{command}")))
        .query(query)
        .bearer_auth(token)
        .send()
        .await
        .expect("passthrough call");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("passthrough JSON")
}

fn file_names(v: &Value) -> Vec<String> {
    v["root"]["data"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| r["FN"].as_str().expect("FN").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_gateway_reads_the_windows_1252_seed_through_its_fallback() {
    let sim = Sim::start().await;
    // The simulator really sends bytes that are not UTF-8.
    let logon = sim.direct_logon("demo", "demo").await;
    let session = logon["root"]["data"]["session"].as_str().unwrap();
    let raw = client()
        .get(format!(
            "{}/cgi-bin/wdwebcgi.exe?FINDFILES&wd_SID={session}&wd_FIND_QUERY=Correo",
            sim.url()
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(std::str::from_utf8(&raw).is_err());
    assert!(raw.windows(11).any(|w| w == b"electr\xf3nico"));

    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    let v = wd_get(&gw, &token, "FINDFILES", &[("wd_FIND_QUERY", "Correo")]).await;
    assert_eq!(file_names(&v), ["00014805.txt"]);
    assert_eq!(
        v["root"]["data"][0]["XN"],
        "<span class='selectedTxt'>Correo</span> electr\u{f3}nico del cliente"
    );
}

#[tokio::test]
async fn the_demo_gateway_shows_the_new_documents() {
    let gw = Gateway::start_demo(&[]);
    let token = gw.login("demo", "demo").await;
    for (query, file) in [
        ("Settlement", "00014410.docx"),
        ("Deposition", "00014502.docx"),
        ("Memo", "00014603.txt"),
        ("M\u{fc}ller", "00014711.pdf"),
        ("Ledger", "00014999.csv"),
        ("board resolutions", "00015102.pdf"),
    ] {
        let v = wd_get(&gw, &token, "FINDFILES", &[("wd_FIND_QUERY", query)]).await;
        assert_eq!(file_names(&v), [file], "{query}: {v}");
    }
    let all = wd_get(&gw, &token, "FINDFILES", &[]).await;
    // Every seed but cabinet 18's and the one qc1 hid.
    assert_eq!(all["root"]["errorStatus"]["List_Count"], "14");
}

#[tokio::test]
async fn a_body_reset_half_way_is_a_broken_read_not_a_short_file() {
    let sim = Sim::start().await;
    let logon = sim.direct_logon("demo", "demo").await;
    let sid = decode(logon["root"]["data"]["session"].as_str().unwrap());
    let cgi = |command: &'static str, params: Params| {
        let url = format!(
            "{}/cgi-bin/wdwebcgi.exe?{}",
            sim.url(),
            params.to_query(command)
        );
        async move {
            client()
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let found = cgi(
        "FINDFILES",
        Params::new()
            .with("wd_SID", &sid)
            .with("wd_FIND_QUERY", "Articles"),
    )
    .await;
    let list = found["root"]["errorStatus"]["List_ID"].as_str().unwrap();
    let prepared = cgi(
        "DOWNLOAD",
        Params::new()
            .with("wd_SID", &sid)
            .with("wd_List_ID", list)
            .with("wd_List_RecNum", "1")
            .with("wd_List_Offset", "1"),
    )
    .await;
    let url = format!(
        "{}{}",
        sim.url(),
        prepared["root"]["data"]["fileLoc"].as_str().unwrap()
    );
    sim.set_faults(json!({"reset_mid_body_ratio": 1.0})).await;
    let mut response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-length"], "310774");
    let mut received = 0usize;
    let outcome = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received += chunk.len(),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    assert!(outcome.is_err(), "the read must fail, got {received} bytes");
    assert!(received < 310_774, "{received}");
    assert!(received > 0, "the headers and the first half were sent");

    // Without the fault the same copy is whole.
    sim.set_faults(json!({})).await;
    let whole = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(whole.len(), 310_774);
}

/// A CGI call straight to the simulator, its JSON answer.
async fn sim_cgi(sim: &Sim, command: &str, params: Params) -> Value {
    let url = format!(
        "{}/cgi-bin/wdwebcgi.exe?{}",
        sim.url(),
        params.to_query(command)
    );
    client()
        .get(url)
        .send()
        .await
        .expect("CGI call")
        .json()
        .await
        .expect("JSON")
}

/// A live SID of `user` and the URL of a fresh download copy of the first match of
/// `query`.
async fn copy_url(sim: &Sim, user: &str, query: &str) -> (String, String) {
    let logon = sim.direct_logon(user, user).await;
    let sid = decode(logon["root"]["data"]["session"].as_str().expect("SID"));
    let found = sim_cgi(
        sim,
        "FINDFILES",
        Params::new()
            .with("wd_SID", &sid)
            .with("wd_FIND_QUERY", query),
    )
    .await;
    let list = found["root"]["errorStatus"]["List_ID"]
        .as_str()
        .expect("a list");
    let prepared = sim_cgi(
        sim,
        "DOWNLOAD",
        Params::new()
            .with("wd_SID", &sid)
            .with("wd_List_ID", list)
            .with("wd_List_RecNum", "1")
            .with("wd_List_Offset", "1"),
    )
    .await;
    let loc = prepared["root"]["data"]["fileLoc"]
        .as_str()
        .unwrap_or_default();
    (sid, format!("{}{loc}", sim.url()))
}

async fn bodies_open(sim: &Sim) -> u64 {
    let stats = sim.admin(reqwest::Method::GET, "stats", None).await;
    stats["file_bodies_open"]
        .as_u64()
        .expect("file_bodies_open")
}

#[tokio::test]
async fn a_stalled_body_sends_half_then_nothing_on_an_open_connection() {
    let sim = Sim::start().await;
    let (_sid, url) = copy_url(&sim, "demo", "Articles").await;
    sim.set_faults(json!({"stall_mid_body_ratio": 1.0})).await;
    let mut response = client().get(&url).send().await.expect("GET");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-length"], "310774");
    let mut received = 0usize;
    while received < 310_774 / 2 {
        let chunk = response.chunk().await.expect("no error").expect("more");
        received += chunk.len();
    }
    assert_eq!(received, 310_774 / 2, "exactly the first half");
    // Then nothing: neither more bytes, nor an end, nor an error, for as long as the
    // reader cares to wait (here half a second), with the body still being "sent".
    let next = tokio::time::timeout(std::time::Duration::from_millis(500), response.chunk()).await;
    assert!(next.is_err(), "the stalled body moved: {next:?}");
    assert_eq!(bodies_open(&sim).await, 1);
    // The reader giving up ends it on the simulator's side too.
    drop(response);
    common::wait_until(|| async { bodies_open(&sim).await == 0 }).await;
}

#[tokio::test]
async fn a_list_past_its_lifetime_is_stale_however_much_it_is_used() {
    let config = wdgate::sim::SimConfig {
        list_ttl_secs: 1,
        ..wdgate::sim::SimConfig::default()
    };
    let sim = Sim::with_config(config).await;
    let logon = sim.direct_logon("demo", "demo").await;
    let sid = decode(logon["root"]["data"]["session"].as_str().expect("SID"));
    let found = sim_cgi(
        &sim,
        "FINDFILES",
        Params::new().with("wd_SID", &sid).with("take", "2"),
    )
    .await;
    let list = found["root"]["errorStatus"]["List_ID"]
        .as_str()
        .expect("a list")
        .to_owned();
    let page = |list: String| {
        let (sim, sid) = (&sim, &sid);
        async move {
            sim_cgi(
                sim,
                "SORTFILES",
                Params::new()
                    .with("wd_SID", sid)
                    .with("wd_List_ID", &list)
                    .with("skip", "2")
                    .with("take", "2"),
            )
            .await
        }
    };
    let fresh = page(list.clone()).await;
    assert_eq!(
        fresh["root"]["errorStatus"]["List_ID"],
        list.as_str(),
        "{fresh}"
    );
    // Used all along, it still expires.
    common::wait_until(|| async {
        let answer = page(list.clone()).await;
        answer["root"]["errorStatus"]["wd_Error_RCID"] == "8375"
    })
    .await;
    let expired = page(list.clone()).await;
    assert_eq!(
        expired["root"]["errorStatus"]["wd_Error_RCTX"], "WDRC_LISTID_INVALID",
        "{expired}"
    );
}

#[tokio::test]
async fn protected_and_hidden_seeds_follow_their_owner() {
    let sim = Sim::start().await;
    // Another user finds the protected document, and its download is refused.
    let logon = sim.direct_logon("demo", "demo").await;
    let sid = decode(logon["root"]["data"]["session"].as_str().expect("SID"));
    let found = sim_cgi(
        &sim,
        "FINDFILES",
        Params::new()
            .with("wd_SID", &sid)
            .with("wd_FIND_QUERY", "?D 15102"),
    )
    .await;
    assert_eq!(file_names(&found), ["00015102.pdf"], "{found}");
    let list = found["root"]["errorStatus"]["List_ID"]
        .as_str()
        .expect("list");
    let refused = sim_cgi(
        &sim,
        "DOWNLOAD",
        Params::new()
            .with("wd_SID", &sid)
            .with("wd_List_ID", list)
            .with("wd_List_RecNum", "1")
            .with("wd_List_Offset", "1"),
    )
    .await;
    let status = &refused["root"]["errorStatus"];
    assert_eq!(
        status["wd_Error_RCTX"], "WDRC_FILE_ACCESS_DENIED",
        "{refused}"
    );
    assert_eq!(status["ErrorCount"], "1");
    assert_eq!(refused["root"]["data"]["fileLoc"], "");
    // The hidden one is not found by another user, and is by its owner.
    let hidden = Params::new().with("wd_FIND_QUERY", "?D 15101");
    let theirs = sim_cgi(&sim, "FINDFILES", hidden.clone().with("wd_SID", &sid)).await;
    assert!(file_names(&theirs).is_empty(), "{theirs}");
    let (_, url) = copy_url(&sim, "qc1", "?D 15102").await;
    let bytes = client()
        .get(&url)
        .send()
        .await
        .expect("GET")
        .bytes()
        .await
        .expect("body");
    assert_eq!(
        bytes.len(),
        23_456,
        "the owner opens the protected document"
    );
    let owner = sim.direct_logon("qc1", "qc1").await;
    let owner_sid = decode(owner["root"]["data"]["session"].as_str().expect("SID"));
    let mine = sim_cgi(&sim, "FINDFILES", hidden.with("wd_SID", &owner_sid)).await;
    assert_eq!(file_names(&mine), ["00015101.docx"], "{mine}");
}
