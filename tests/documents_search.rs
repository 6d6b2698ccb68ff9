//! `GET /documents` over real HTTP against the simulator: cursor paging through
//! SORTFILES, restarts on a stale list, the skip base, cursors across replicas, shared
//! concurrent searches, validation, and that no position or secret leaves.

mod common;

use common::{Gateway, Reply, Sim};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;

async fn setup(env: &[(&str, &str)]) -> (Sim, Gateway, String) {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), env);
    let token = gw.login("demo", "demo").await;
    (sim, gw, token)
}

fn ids(r: &Reply) -> Vec<String> {
    r.json["documents"]
        .as_array()
        .map(|docs| {
            docs.iter()
                .filter_map(|d| d["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn next_href(r: &Reply) -> Option<String> {
    r.json["_links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == "next")
        .and_then(|l| l["href"].as_str().map(str::to_owned))
}

/// Nothing positional or secret in a body: no List_ID (`x` + hex as the simulator
/// mints them), `RN`, `LN`, `Rec`, internal paths (the hidden form `\\#\005\…`, as JSON
/// writes it), or the SID. (A description may hold a backslash of its own.)
fn assert_clean(text: &str, sids: &[String]) {
    let list_id = regex::Regex::new(r"\bx[0-9A-F]{7}\b").expect("regex");
    assert!(!list_id.is_match(text), "a List_ID leaked: {text}");
    for key in [
        "\"RN\"", "\"LN\"", "\"Rec\"", "List_ID", "\"FP\"", "FPR", r"\\\\#", "WDSIDS", "wd_",
    ] {
        assert!(!text.contains(key), "{key} leaked: {text}");
    }
    for sid in sids {
        assert!(!text.contains(sid.as_str()), "the SID leaked");
    }
}

async fn sids(sim: &Sim) -> Vec<String> {
    let live = sim.admin(Method::GET, "sessions", None).await;
    live.as_array()
        .map(|all| {
            all.iter()
                .filter_map(|s| s["sid"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn cursor_pages_cover_the_search_once_through_sortfiles_and_leak_no_position() {
    let (sim, gw, token) = setup(&[]).await;
    let first = gw.get("/documents?limit=2", Some(&token)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let total = first.json["total"].as_u64().expect("total");
    assert!(total >= 5, "{}", first.text);
    assert_eq!(first.json["offset"], 0);
    assert_eq!(first.json["restarted"], false);
    assert!(first.header("cache-control").contains("no-store"));
    assert!(first.header("link").contains("rel=\"next\""));
    let mut seen = ids(&first);
    let mut bodies = vec![first.text.clone()];
    let mut next = next_href(&first);
    let mut pages = 1;
    while let Some(href) = next {
        assert!(href.starts_with("/documents?cursor=cur_"), "{href}");
        let page = gw.get(&href, Some(&token)).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert_eq!(page.json["restarted"], false, "{}", page.text);
        assert!(
            page.json["_links"]
                .as_array()
                .is_some_and(|l| l.iter().any(|l| l["rel"] == "prev"))
        );
        seen.extend(ids(&page));
        bodies.push(page.text.clone());
        next = next_href(&page);
        pages += 1;
    }
    assert_eq!(seen.len() as u64, total, "every document once: {seen:?}");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no document twice: {seen:?}");
    assert!(seen.iter().all(|id| {
        regex::Regex::new("^doc_[0-9]{1,9}_[0-9A-Za-z]{1,32}$")
            .expect("re")
            .is_match(id)
    }));
    assert_eq!(sim.calls("FINDFILES").await, 1, "one search");
    assert_eq!(
        sim.calls("SORTFILES").await,
        pages - 1,
        "later pages page the list"
    );
    let sids = sids(&sim).await;
    for body in &bodies {
        assert_clean(body, &sids);
    }
    assert_clean(&gw.log(), &sids);
}

#[tokio::test]
async fn a_document_is_clean_json_without_highlight_markup() {
    let (_sim, gw, token) = setup(&[]).await;
    let r = gw
        .get("/documents?q=Excel&sort=-updated", Some(&token))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains("<span"), "{}", r.text);
    let docs = r.json["documents"].as_array().expect("documents");
    assert!(!docs.is_empty());
    let rfc3339 = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$").expect("re");
    let day = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}$").expect("re");
    let mut updated: Vec<String> = Vec::new();
    for d in docs {
        let id = d["id"].as_str().expect("id");
        assert_eq!(
            id,
            format!(
                "doc_{}_{}",
                d["cabinet"]["id"],
                d["doc_number"].as_str().expect("n")
            )
        );
        assert!(
            d["description"]
                .as_str()
                .expect("description")
                .to_lowercase()
                .contains("excel")
        );
        assert!(
            !d["highlights"]["description"]
                .as_array()
                .expect("ranges")
                .is_empty(),
            "{d}"
        );
        let at = d["updated_at"].as_str().expect("updated_at");
        assert!(rfc3339.is_match(at), "{at}");
        assert!(day.is_match(d["created_on"].as_str().expect("created_on")));
        assert_eq!(d["status"], "available");
        assert!(d["size_text"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(
            d["cabinet"]["href"],
            format!("/cabinets/{}", d["cabinet"]["id"])
        );
        updated.push(at.to_owned());
    }
    let mut sorted = updated.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(updated, sorted, "-updated is newest first");
    // The cabinet filter narrows the search.
    let r = gw.get("/documents?cabinet=14", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        ids(&r).iter().all(|id| id.starts_with("doc_14_")),
        "{}",
        r.text
    );
    assert!(!ids(&r).is_empty());
}

#[tokio::test]
async fn tampered_cursors_and_bad_parameters_are_refused() {
    let (sim, gw, token) = setup(&[]).await;
    let first = gw.get("/documents?limit=1", Some(&token)).await;
    let href = next_href(&first).expect("a next page");
    let cursor = href.trim_start_matches("/documents?cursor=").to_owned();
    // Flip one character of the payload.
    let mut bytes = cursor.into_bytes();
    let at = 10;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(bytes).expect("ascii");
    gw.get(&format!("/documents?cursor={forged}"), Some(&token))
        .await
        .assert_problem(400, "cursor_invalid");
    gw.get("/documents?cursor=cur_bm90IGEgY3Vyc29y", Some(&token))
        .await
        .assert_problem(400, "cursor_invalid");
    gw.get("/documents?cursor=nonsense", Some(&token))
        .await
        .assert_problem(400, "cursor_invalid");
    gw.get(&format!("{href}&q=x"), Some(&token))
        .await
        .assert_problem(400, "bad_request");
    for bad in [
        "q=%3FD%2000015655",
        "q=a%7Cb",
        "limit=0",
        "limit=501",
        "limit=x",
        "sort=name",
        "cabinet=0",
        "cabinet=-1",
    ] {
        gw.get(&format!("/documents?{bad}"), Some(&token))
            .await
            .assert_problem(422, "validation_failed");
    }
    gw.get(&format!("/documents?q={}", "a".repeat(257)), Some(&token))
        .await
        .assert_problem(422, "validation_failed");
    gw.get("/documents?q=a&q=b", Some(&token))
        .await
        .assert_problem(400, "bad_request");
    gw.get("/documents", None)
        .await
        .assert_problem(401, "missing_token");
    assert_eq!(
        sim.calls("FINDFILES").await,
        1,
        "refusals never reach Worldox"
    );
}

#[tokio::test]
async fn a_stale_list_reruns_the_search_and_continues_at_the_offset() {
    let (sim, gw, token) = setup(&[]).await;
    let first = gw.get("/documents?limit=2", Some(&token)).await;
    let href = next_href(&first).expect("next");
    let second = gw.get(&href, Some(&token)).await;
    assert_eq!(second.status, 200, "{}", second.text);
    sim.admin(Method::POST, "invalidate-lists", None).await;
    let again = gw.get(&href, Some(&token)).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json["restarted"], true, "{}", again.text);
    assert_eq!(again.json["offset"], 2);
    assert_eq!(
        ids(&again),
        ids(&second),
        "the same rows at the same offset"
    );
    assert_eq!(sim.calls("FINDFILES").await, 2, "one re-run");
    // The re-run's list is the session's now: the next page pages it again.
    let third = gw.get(&href, Some(&token)).await;
    assert_eq!(third.json["restarted"], false, "{}", third.text);
    assert_eq!(sim.calls("FINDFILES").await, 2);
}

#[tokio::test]
async fn a_cursor_from_another_session_restarts_there() {
    let (sim, gw, token) = setup(&[]).await;
    let first = gw.get("/documents?limit=3", Some(&token)).await;
    let href = next_href(&first).expect("next");
    let other = gw.login("demo", "demo").await;
    let page = gw.get(&href, Some(&other)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.json["restarted"], true);
    assert_eq!(page.json["offset"], 3);
    assert_eq!(sim.calls("FINDFILES").await, 2);
}

#[tokio::test]
async fn concurrent_identical_searches_of_a_session_share_one_upstream_call() {
    let (sim, gw, token) = setup(&[]).await;
    // Slow enough that all eight are in flight before the first answer.
    sim.set_faults(json!({"latency_ms": 1000})).await;
    let all = join_all((0..8).map(|_| gw.get("/documents?q=Excel", Some(&token)))).await;
    for r in &all {
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(ids(r), ids(&all[0]));
    }
    assert_eq!(
        sim.calls("FINDFILES").await,
        1,
        "one FINDFILES for eight requests"
    );
}

/// Every id of a search, page by page, and the number of pages.
async fn walk(gw: &Gateway, token: &str, first: &str) -> (Vec<String>, u64, u64) {
    let first = gw.get(first, Some(token)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let total = first.json["total"].as_u64().expect("total");
    let mut seen = ids(&first);
    let mut next = next_href(&first);
    let mut pages = 1;
    while let Some(href) = next {
        let page = gw.get(&href, Some(token)).await;
        assert_eq!(page.status, 200, "{}", page.text);
        seen.extend(ids(&page));
        next = next_href(&page);
        pages += 1;
    }
    (seen, total, pages)
}

#[tokio::test]
async fn an_upstream_that_counts_skip_from_zero_is_detected_and_pages_stay_exact() {
    let one_based = Sim::start().await;
    let gw = Gateway::start(&one_based.url(), &[]);
    let token = gw.login("demo", "demo").await;
    let (expected, _, _) = walk(&gw, &token, "/documents?limit=3").await;

    let config = wdgate::sim::SimConfig {
        skip_base: 0,
        ..wdgate::sim::SimConfig::default()
    };
    let zero_based = Sim::with_config(config).await;
    let gw = Gateway::start(&zero_based.url(), &[]);
    let token = gw.login("demo", "demo").await;
    let (seen, total, pages) = walk(&gw, &token, "/documents?limit=3").await;
    assert_eq!(seen, expected, "the same rows in the same order");
    assert_eq!(seen.len() as u64, total);
    // One extra SORTFILES on the first page, when the first row's LN gave it away.
    assert_eq!(zero_based.calls("SORTFILES").await, pages);
    gw.wait_for_log("counts skip the other way").await;
    let (again, _, _) = walk(&gw, &token, "/documents?limit=3").await;
    assert_eq!(again, expected);
    assert_eq!(
        zero_based.calls("SORTFILES").await,
        2 * pages - 1,
        "learned once"
    );
}

#[tokio::test]
async fn a_cursor_is_good_on_any_replica_with_the_same_key_and_no_other() {
    let sim = Sim::start().await;
    let key = ("WDGATE_DOCUMENTS_ID_KEY", "a shared cursor key, 32 bytes..");
    let a = Gateway::start(&sim.url(), &[key]);
    let b = Gateway::start(&sim.url(), &[key]);
    let c = Gateway::start(
        &sim.url(),
        &[("WDGATE_DOCUMENTS_ID_KEY", "another key, also long enough")],
    );
    let on_a = a.login("demo", "demo").await;
    let first = a.get("/documents?limit=2", Some(&on_a)).await;
    let href = next_href(&first).expect("next");
    let expected = ids(&a.get(&href, Some(&on_a)).await);
    let on_b = b.login("demo", "demo").await;
    let page = b.get(&href, Some(&on_b)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.json["restarted"], true);
    assert_eq!(ids(&page), expected);
    let on_c = c.login("demo", "demo").await;
    c.get(&href, Some(&on_c))
        .await
        .assert_problem(400, "cursor_invalid");
}

#[tokio::test]
async fn a_search_after_worldox_ended_the_session_is_401_and_ends_it_here() {
    let (sim, gw, token) = setup(&[]).await;
    assert_eq!(gw.get("/documents?limit=1", Some(&token)).await.status, 200);
    sim.expire_sessions().await;
    let r = gw.get("/documents?limit=1", Some(&token)).await;
    r.assert_problem(401, "session_expired");
    assert!(r.header("www-authenticate").contains("invalid_token"));
    gw.get("/cabinets", Some(&token))
        .await
        .assert_problem(401, "invalid_token");
}
