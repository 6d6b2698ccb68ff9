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
    assert_eq!(
        sim.calls("SERVE").await,
        1,
        "one reread, for the fields a search row lacks"
    );
    assert!(listed["fields"].is_null(), "a search row has no fields");
    assert!(listed["version"].is_null(), "nor a version");
    assert_eq!(r.json["version"], 1, "{}", r.text);
    let fields = r.json["fields"].as_array().expect("the profile's fields");
    assert!(!fields.is_empty(), "{}", r.text);
    for field in fields {
        assert!(
            field["number"]
                .as_u64()
                .is_some_and(|n| (1..=7).contains(&n))
        );
        assert!(
            field["name"].as_str().is_some_and(|n| !n.is_empty()),
            "{field}"
        );
        assert!(
            field["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{field}"
        );
    }
    let again = gw.get(&format!("/documents/{id}"), Some(&token)).await;
    assert_eq!(again.json, r.json);
    assert_eq!(
        sim.calls("SERVE").await,
        1,
        "then within the window, without a reread"
    );
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
    // `?D Excel` matches descriptions, but no file is named Excel; cabinet 18 is not
    // the demo user's.
    for id in [
        "doc_5_Excel",
        "doc_5_99999999",
        "doc_18_00016900",
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
        6,
        "in the id's cabinet, then in all; malformed ids never reach Worldox"
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

/// Every read past the reread window: `documents.reread_after_secs = 0`.
const ALWAYS_REREAD: (&str, &str) = ("WDGATE_DOCUMENTS_REREAD_AFTER_SECS", "0");

/// The parameters of the `n`th (from 0) SERVE the simulator saw, as name → value.
async fn serve_params(sim: &Sim, n: usize) -> std::collections::BTreeMap<String, String> {
    let sent = sim
        .admin(reqwest::Method::GET, "requests?command=SERVE", None)
        .await;
    sent["SERVE"][n]
        .as_array()
        .expect("that SERVE")
        .iter()
        .filter_map(|p| Some((p[0].as_str()?.to_owned(), p[1].as_str()?.to_owned())))
        .collect()
}

async fn post_admin(sim: &Sim, path: &str) {
    sim.admin(reqwest::Method::POST, path, None).await;
}

#[tokio::test]
async fn detail_after_the_reread_window_costs_one_serve_and_no_search() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[ALWAYS_REREAD]);
    let token = gw.login("demo", "demo").await;
    let found = gw.get("/documents?q=Excel", Some(&token)).await;
    let listed = found.json["documents"][0].clone();
    let id = listed["id"].as_str().expect("id").to_owned();
    for n in 0..2 {
        let r = gw.get(&format!("/documents/{id}"), Some(&token)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["id"], id.as_str());
        assert_eq!(r.json["description"], listed["description"]);
        assert!(
            r.json["version"].is_u64(),
            "the reread row is rich: {}",
            r.text
        );
        assert!(r.header("content-location").is_empty());
        assert_eq!(sim.calls("SERVE").await, n + 1, "one reread per read");
        assert_eq!(sim.calls("FINDFILES").await, 1, "and no search");
    }
    // The reread names the row's record and line, one row, as the real client does.
    let sent = serve_params(&sim, 0).await;
    assert_eq!(sent["html"], "/v4/filelist/rereadrecord.json");
    assert!(!sent["wd_List_ID"].is_empty());
    assert!(sent["wd_List_RecNum"].parse::<u32>().is_ok(), "{sent:?}");
    assert_eq!(sent["take"], "1");
    assert!(sent["skip"].parse::<u32>().is_ok(), "{sent:?}");
    let metrics = gw.get("/metrics", None).await.text;
    assert!(
        metrics.contains("wdgate_document_resolve_total{path=\"reread\",outcome=\"found\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_etag_holds_across_the_reread_and_changes_when_the_record_does() {
    let sim = Sim::start().await;
    // One gateway answers from the search's row, the other from its reread.
    let cached = Gateway::start(&sim.url(), &[]);
    let reread = Gateway::start(&sim.url(), &[ALWAYS_REREAD]);
    let path = "/documents/doc_5_00015655";
    let on_cached = cached.login("demo", "demo").await;
    cached.get("/documents?q=Excel", Some(&on_cached)).await;
    let from_search = cached.get(path, Some(&on_cached)).await;
    assert_eq!(sim.calls("SERVE").await, 1, "the profile's fields");
    let listed = cached.get(path, Some(&on_cached)).await;
    assert_eq!(sim.calls("SERVE").await, 1, "then the window holds");
    assert_eq!(listed.header("etag"), from_search.header("etag"));
    let on_reread = reread.login("demo", "demo").await;
    reread.get("/documents?q=Excel", Some(&on_reread)).await;
    let from_reread = reread.get(path, Some(&on_reread)).await;
    let again = reread.get(path, Some(&on_reread)).await;
    assert_eq!(sim.calls("SERVE").await, 3, "a reread per read");
    let etag = from_search.header("etag").to_owned();
    assert_eq!(
        from_reread.header("etag"),
        etag,
        "one ETag on both gateways"
    );
    assert_eq!(again.header("etag"), etag);
    let content_etag = |gw: &Gateway, token: &str| {
        let request = client()
            .head(gw.url(&format!("{path}/content")))
            .bearer_auth(token);
        async move {
            let r = request.send().await.expect("head");
            assert_eq!(r.status(), 200);
            r.headers()["etag"].to_str().expect("etag").to_owned()
        }
    };
    let old_content = content_etag(&reread, &on_reread).await;
    // The record is saved again: the reread sees it at once.
    post_admin(&sim, "documents/00015655/touch").await;
    let changed = client()
        .get(reread.url(path))
        .bearer_auth(&on_reread)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("send");
    assert_eq!(changed.status(), 200, "the old ETag no longer holds");
    let new_etag = changed.headers()["etag"].to_str().expect("etag").to_owned();
    assert_ne!(new_etag, etag);
    let not_modified = client()
        .get(reread.url(path))
        .bearer_auth(&on_reread)
        .header("if-none-match", &new_etag)
        .send()
        .await
        .expect("send");
    assert_eq!(not_modified.status(), 304);
    assert_ne!(content_etag(&reread, &on_reread).await, old_content);
}

#[tokio::test]
async fn a_stale_list_at_the_reread_is_found_again_and_answers() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[ALWAYS_REREAD]);
    let token = gw.login("demo", "demo").await;
    let path = "/documents/doc_5_00015655";
    let first = gw.get(path, Some(&token)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(sim.calls("FINDFILES").await, 1, "no locator yet: a search");
    post_admin(&sim, "invalidate-lists").await;
    let again = gw.get(path, Some(&token)).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(
        sim.calls("SERVE").await,
        3,
        "the first read's fields; the reread that said stale; the found row's fields"
    );
    assert_eq!(sim.calls("FINDFILES").await, 2, "then one targeted search");
    let metrics = gw.get("/metrics", None).await.text;
    assert!(
        metrics.contains("wdgate_document_resolve_total{path=\"reread\",outcome=\"stale\"} 1"),
        "{metrics}"
    );
    // Content on lists that stay stale: the reread's stale answer was the first, the
    // DOWNLOAD's on the re-found list the second: 409, nothing more.
    sim.set_faults(json!({"stale_doc_lists": true})).await;
    let (serves, finds, downloads) = (
        sim.calls("SERVE").await,
        sim.calls("FINDFILES").await,
        sim.calls("DOWNLOAD").await,
    );
    let r = gw.get(&format!("{path}/content"), Some(&token)).await;
    r.assert_problem(409, "upstream_error");
    assert_eq!(sim.calls("SERVE").await - serves, 1);
    assert_eq!(sim.calls("FINDFILES").await - finds, 1);
    assert_eq!(sim.calls("DOWNLOAD").await - downloads, 1);
}

#[tokio::test]
async fn a_document_that_moves_resolves_by_its_old_id_with_content_location() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[ALWAYS_REREAD]);
    let old = "/documents/doc_5_00015655";
    let new = "/documents/doc_14_00015655";
    let before_token = gw.login("demo", "demo").await;
    let before = gw.get(old, Some(&before_token)).await;
    assert_eq!(before.status, 200, "{}", before.text);
    assert!(before.header("content-location").is_empty());
    let bytes_before = client()
        .get(gw.url(&format!("{old}/content")))
        .bearer_auth(&before_token)
        .send()
        .await
        .expect("send")
        .bytes()
        .await
        .expect("body");
    post_admin(&sim, "documents/00015655/move?cabinet=14").await;
    let check = |r: &common::Reply| {
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["id"], "doc_14_00015655", "{}", r.text);
        assert_eq!(r.json["cabinet"]["id"], 14);
        assert_eq!(r.json["_links"][0]["href"], new);
        assert_eq!(r.header("content-location"), new, "no redirect, a location");
    };
    // A session whose locator still holds the row: its reread shows the new cabinet.
    let finds = sim.calls("FINDFILES").await;
    check(&gw.get(old, Some(&before_token)).await);
    assert_eq!(sim.calls("FINDFILES").await, finds, "the reread told");
    // A new session: nothing in cabinet 5, then found in 14 by the search across all.
    let token = gw.login("demo", "demo").await;
    let moved = gw.get(old, Some(&token)).await;
    check(&moved);
    assert_eq!(sim.calls("FINDFILES").await - finds, 2, "in 5, then in all");
    assert_ne!(moved.header("etag"), before.header("etag"), "it moved");
    // Asked again by the old id, the locator answers (a reread, no search).
    let finds = sim.calls("FINDFILES").await;
    check(&gw.get(old, Some(&token)).await);
    let canonical = gw.get(new, Some(&token)).await;
    assert_eq!(canonical.status, 200, "{}", canonical.text);
    assert!(canonical.header("content-location").is_empty());
    assert_eq!(canonical.header("etag"), moved.header("etag"));
    assert_eq!(sim.calls("FINDFILES").await, finds);
    // The content by the old id: the same bytes, its canonical location.
    let content = client()
        .get(gw.url(&format!("{old}/content")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(content.status(), 200);
    assert_eq!(
        content.headers()["content-location"].to_str().ok(),
        Some(format!("{new}/content").as_str())
    );
    assert_eq!(content.bytes().await.expect("body"), bytes_before);
    let metrics = gw.get("/metrics", None).await.text;
    assert!(
        metrics.contains("wdgate_document_resolve_total{path=\"search_all\",outcome=\"found\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_id_under_the_wrong_cabinet_is_the_document_with_its_canonical_location() {
    let (sim, gw, token) = setup().await;
    let r = gw.get("/documents/doc_14_00015655", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["id"], "doc_5_00015655");
    assert_eq!(r.header("content-location"), "/documents/doc_5_00015655");
    assert_eq!(sim.calls("FINDFILES").await, 2);
    // A document the user cannot see is not found in any cabinet either.
    gw.get("/documents/doc_5_00016900", Some(&token))
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn an_upstream_counting_skip_from_zero_is_learned_by_a_lookup_and_its_reread() {
    let config = wdgate::sim::SimConfig {
        skip_base: 0,
        ..wdgate::sim::SimConfig::default()
    };
    let sim = Sim::with_config(config).await;
    let gw = Gateway::start(&sim.url(), &[ALWAYS_REREAD]);
    let token = gw.login("demo", "demo").await;
    // No search ran first, so the base is not known yet: a lookup asks from `skip=0`,
    // line 1 either way, and a reread of line 1 too.
    let path = "/documents/doc_5_00015655";
    let first = gw.get(path, Some(&token)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(sim.calls("FINDFILES").await, 1);
    let again = gw.get(path, Some(&token)).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(sim.calls("SERVE").await, 2, "the fields, then a reread");
    assert_eq!(sim.calls("FINDFILES").await, 1, "the reread found the row");
    assert_eq!(serve_params(&sim, 0).await["skip"], "0");
    // A search learns the base; a row further down its list is reread at its line.
    let found = gw.get("/documents?q=Excel", Some(&token)).await;
    let second = found.json["documents"][1]["id"]
        .as_str()
        .expect("a second row")
        .to_owned();
    let finds = sim.calls("FINDFILES").await;
    let r = gw.get(&format!("/documents/{second}"), Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["id"], second.as_str());
    assert_eq!(sim.calls("SERVE").await, 3);
    assert_eq!(
        sim.calls("FINDFILES").await,
        finds,
        "no search: the right line"
    );
    assert_eq!(
        serve_params(&sim, 2).await["skip"],
        "1",
        "line 2, counted from 0"
    );
}
