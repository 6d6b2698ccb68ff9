//! The simulator's documents over real sockets: the gateway reads the Windows-1252
//! seed through its charset fallback, `wdgate serve` in demo mode shows the new
//! documents, and a file body reset half-way breaks the client's read instead of
//! looking whole.

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
    ] {
        let v = wd_get(&gw, &token, "FINDFILES", &[("wd_FIND_QUERY", query)]).await;
        assert_eq!(file_names(&v), [file], "{query}: {v}");
    }
    let all = wd_get(&gw, &token, "FINDFILES", &[]).await;
    assert_eq!(all["root"]["errorStatus"]["List_Count"], "13");
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
