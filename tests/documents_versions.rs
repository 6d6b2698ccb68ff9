//! `GET /documents/{id}/versions`, `…/versions/{n}` and `…/versions/{n}/content` over
//! real sockets against the simulator's three-version document.

mod common;

use common::{Gateway, Sim, client};

const DOC: &str = "/documents/doc_5_00014410";

async fn setup() -> (Sim, Gateway, String) {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    (sim, gw, token)
}

#[tokio::test]
async fn versions_are_listed_with_links_and_each_one_downloads() {
    let (sim, gw, token) = setup().await;
    let r = gw.get(&format!("{DOC}/versions"), Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let versions = r.json["versions"].as_array().expect("versions").clone();
    let numbers: Vec<u64> = versions.iter().filter_map(|v| v["n"].as_u64()).collect();
    assert_eq!(numbers, [3, 2, 1], "{}", r.text);
    let current: Vec<bool> = versions.iter().map(|v| v["current"] == true).collect();
    assert_eq!(current, [true, false, false]);
    assert_eq!(
        versions[2]["_links"][1]["href"],
        format!("{DOC}/versions/1/content")
    );
    assert!(
        versions[0]["updated_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert!(
        !r.text.contains("~VER") && !r.text.contains("WDSIDS"),
        "{}",
        r.text
    );
    let one = gw.get(&format!("{DOC}/versions/1"), Some(&token)).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json["n"], 1);
    assert_eq!(one.json["current"], false);
    gw.get(&format!("{DOC}/versions/99"), Some(&token))
        .await
        .assert_problem(404, "not_found");
    gw.get(&format!("{DOC}/versions/x"), Some(&token))
        .await
        .assert_problem(404, "not_found");
    let old = client()
        .get(gw.url(&format!("{DOC}/versions/1/content")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(old.status(), 200);
    let disposition = old.headers()["content-disposition"]
        .to_str()
        .expect("cd")
        .to_owned();
    assert!(disposition.contains("00014410-1x51615"), "{disposition}");
    let old_etag = old.headers()["etag"].to_str().expect("etag").to_owned();
    let old = old.bytes().await.expect("body");
    let head = client()
        .head(gw.url(&format!("{DOC}/versions/1/content")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"].to_str().ok(),
        Some(old.len().to_string().as_str())
    );
    assert_eq!(
        head.headers()["etag"].to_str().ok(),
        Some(old_etag.as_str())
    );
    let now = client()
        .get(gw.url(&format!("{DOC}/content")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(now.status(), 200);
    let now_etag = now.headers()["etag"].to_str().expect("etag").to_owned();
    let now = now.bytes().await.expect("body");
    assert_ne!(old, now, "version 1 holds other bytes than the current one");
    assert_ne!(old_etag, now_etag);
    let current_version = client()
        .get(gw.url(&format!("{DOC}/versions/3/content")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(current_version.bytes().await.expect("body"), now);
    gw.get(&format!("{DOC}/versions/99/content"), Some(&token))
        .await
        .assert_problem(404, "not_found");
    // Listing again replaces the document's version list: the old one is closed.
    let lists_before = sim.calls("CLOSELIST").await;
    let again = gw.get(&format!("{DOC}/versions"), Some(&token)).await;
    assert_eq!(again.status, 200);
    common::wait_until(|| async { sim.calls("CLOSELIST").await > lists_before }).await;
    assert!(!gw.log().contains("WDSIDS"));
}

#[tokio::test]
async fn a_stale_version_list_is_found_again_once() {
    let (sim, gw, token) = setup().await;
    assert_eq!(
        gw.get(&format!("{DOC}/versions"), Some(&token))
            .await
            .status,
        200
    );
    sim.admin(reqwest::Method::POST, "invalidate-lists", None)
        .await;
    let (finds, verlists) = (sim.calls("FINDFILES").await, sim.calls("VERLIST").await);
    let again = gw.get(&format!("{DOC}/versions"), Some(&token)).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json["versions"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        sim.calls("VERLIST").await - verlists,
        2,
        "stale, then again"
    );
    assert_eq!(sim.calls("FINDFILES").await - finds, 1, "found again once");
}

#[tokio::test]
async fn a_moved_documents_versions_answer_under_its_canonical_id() {
    let (sim, gw, _) = setup().await;
    sim.admin(
        reqwest::Method::POST,
        "documents/00014410/move?cabinet=14",
        None,
    )
    .await;
    let token = gw.login("demo", "demo").await;
    let moved = "/documents/doc_14_00014410";
    let r = gw.get(&format!("{DOC}/versions"), Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-location"), format!("{moved}/versions"));
    assert_eq!(r.json["_links"][1]["href"], moved);
    assert_eq!(
        r.json["versions"][2]["_links"][1]["href"],
        format!("{moved}/versions/1/content")
    );
    let one = client()
        .get(gw.url(&format!("{DOC}/versions/1/content")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(one.status(), 200);
    assert_eq!(
        one.headers()["content-location"].to_str().ok(),
        Some(format!("{moved}/versions/1/content").as_str())
    );
    let canonical = gw.get(&format!("{moved}/versions/1"), Some(&token)).await;
    assert_eq!(canonical.status, 200, "{}", canonical.text);
    assert!(canonical.header("content-location").is_empty());
}
