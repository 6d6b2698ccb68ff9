//! `GET|HEAD /documents/{id}` over real HTTP against the simulator: from a search's
//! locator without an upstream call, else found with a targeted search that only
//! accepts the id's own row; strong ETags and 304; shared concurrent lookups.

mod common;

use common::{Gateway, Sim, client};
use futures_util::future::join_all;
use serde_json::json;

async fn setup() -> (Sim, Gateway, String) {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    (sim, gw, token)
}

#[tokio::test]
async fn a_searched_document_is_read_from_its_locator_with_an_etag_and_304() {
    let (sim, gw, token) = setup().await;
    let found = gw.get("/documents?q=Excel", Some(&token)).await;
    let listed = found.json["documents"][0].clone();
    let id = listed["id"].as_str().expect("id").to_owned();
    let r = gw.get(&format!("/documents/{id}"), Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["id"], id.as_str());
    assert_eq!(r.json["description"], listed["description"]);
    assert!(
        r.json.get("highlights").is_none(),
        "highlights are for search results"
    );
    assert_eq!(sim.calls("FINDFILES").await, 1, "the locator answered");
    let etag = r.header("etag").to_owned();
    assert!(etag.starts_with("\"d-") && etag.ends_with('"'), "{etag}");
    assert_eq!(r.header("cache-control"), "private, no-cache");
    for inm in [
        etag.clone(),
        format!("\"other\", {etag}"),
        format!("W/{etag}"),
        "*".to_owned(),
    ] {
        let not_modified = client()
            .get(gw.url(&format!("/documents/{id}")))
            .bearer_auth(&token)
            .header("if-none-match", inm)
            .send()
            .await
            .expect("send");
        assert_eq!(not_modified.status(), 304);
        assert_eq!(
            not_modified.headers()["etag"].to_str().ok(),
            Some(etag.as_str())
        );
        assert!(not_modified.bytes().await.expect("body").is_empty());
    }
    let other = client()
        .get(gw.url(&format!("/documents/{id}")))
        .bearer_auth(&token)
        .header("if-none-match", "\"d-something-else\"")
        .send()
        .await
        .expect("send");
    assert_eq!(other.status(), 200);
    let head = client()
        .head(gw.url(&format!("/documents/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"].to_str().ok(), Some(etag.as_str()));
    assert!(head.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn an_unseen_document_is_found_by_a_targeted_search_the_same_in_every_session() {
    let (sim, gw, token) = setup().await;
    let listed = gw.get("/documents?cabinet=14", Some(&token)).await;
    let id = listed.json["documents"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let etag = gw
        .get(&format!("/documents/{id}"), Some(&token))
        .await
        .header("etag")
        .to_owned();
    let other = gw.login("demo", "demo").await;
    let r = gw.get(&format!("/documents/{id}"), Some(&other)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["id"], id.as_str(), "ids are stable across sessions");
    assert_eq!(r.header("etag"), etag, "and so is the ETag");
    assert_eq!(sim.calls("FINDFILES").await, 2, "one targeted search");
    assert_eq!(
        gw.get(&format!("/documents/{id}"), Some(&other))
            .await
            .status,
        200
    );
    assert_eq!(sim.calls("FINDFILES").await, 2, "then its locator");
    let metrics = gw.get("/metrics", None).await.text;
    assert!(
        metrics.contains("wdgate_document_resolve_total{path=\"search\",outcome=\"found\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn only_the_ids_own_row_counts_and_anything_else_is_404() {
    let (sim, gw, token) = setup().await;
    // `?D Excel` matches descriptions, but no file is named Excel.
    for id in [
        "doc_5_Excel",
        "doc_5_99999999",
        "doc_18_00016900",
        "doc_14_00015655",
        "not-an-id",
        "doc_0x5_1",
        "doc_5_a%2Fb",
    ] {
        gw.get(&format!("/documents/{id}"), Some(&token))
            .await
            .assert_problem(404, "not_found");
    }
    assert_eq!(
        sim.calls("FINDFILES").await,
        4,
        "malformed ids never reach Worldox"
    );
    gw.get("/documents/doc_5_00015655", None)
        .await
        .assert_problem(401, "missing_token");
}

#[tokio::test]
async fn concurrent_lookups_of_one_document_share_one_search() {
    let (sim, gw, token) = setup().await;
    // Slow enough that all eight are in flight before the first answer.
    sim.set_faults(json!({"latency_ms": 1000})).await;
    let all = join_all((0..8).map(|_| gw.get("/documents/doc_5_00015655", Some(&token)))).await;
    for r in &all {
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["doc_number"], "00015655");
    }
    assert_eq!(sim.calls("FINDFILES").await, 1);
}
