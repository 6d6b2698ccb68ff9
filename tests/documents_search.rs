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

/// The parameters of the last FINDFILES the simulator saw, in the order sent.
async fn last_find(sim: &Sim) -> Vec<(String, String)> {
    let log = sim
        .admin(Method::GET, "requests?command=FINDFILES", None)
        .await;
    let calls = log["FINDFILES"].as_array().expect("FINDFILES calls");
    let last = calls.last().expect("one FINDFILES at least");
    last.as_array()
        .expect("pairs")
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().expect("name").to_owned(),
                pair[1].as_str().expect("value").to_owned(),
            )
        })
        .collect()
}

/// The values of `name` in `params`.
fn values<'a>(params: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    params
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn structured_filters_reach_findfiles_as_their_own_parameters_and_narrow_the_search() {
    let (sim, gw, token) = setup(&[]).await;
    let r = gw
        .get(
            "/documents?description=Excel%20test.&cabinet=5",
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        sorted(ids(&r)),
        ["doc_5_00015655", "doc_5_00015661"],
        "{}",
        r.text
    );
    let sent = last_find(&sim).await;
    assert_eq!(values(&sent, "wd_File_Xname_Filter"), ["Excel test."]);
    assert_eq!(values(&sent, "wd_File_ProfileGroup_Filter"), ["5"]);
    assert!(
        values(&sent, "wd_FIND_QUERY").is_empty(),
        "no query beside filters: {sent:?}"
    );
    for (query, expected) in [
        (
            "description=*EXCEL*",
            vec!["doc_5_00015577", "doc_5_00015655", "doc_5_00015661"],
        ),
        ("file_name=00015655.*", vec!["doc_5_00015655"]),
        (
            "field3=SPREAD",
            vec!["doc_5_00015577", "doc_5_00015655", "doc_5_00015661"],
        ),
        ("field1=00012&field3=MEMO", vec!["doc_14_00014603"]),
        (
            "field2=0010&cabinet=5",
            vec![
                "doc_5_00014410",
                "doc_5_00015102",
                "doc_5_00015655",
                "doc_5_00016627",
            ],
        ),
        ("field3=SPREAD&cabinet=14", vec![]),
    ] {
        let r = gw.get(&format!("/documents?{query}"), Some(&token)).await;
        assert_eq!(r.status, 200, "{query}: {}", r.text);
        assert_eq!(sorted(ids(&r)), expected, "{query}");
        assert_eq!(r.json["total"], expected.len(), "{query}");
    }
    let sent = last_find(&sim).await;
    assert_eq!(values(&sent, "wd_File_Field3_Filter"), ["SPREAD"]);
    assert_eq!(values(&sent, "wd_File_ProfileGroup_Filter"), ["14"]);
    // The date filters are passed as given, in their own parameters.
    let r = gw
        .get(
            "/documents?updated=2020-01-01&created=%3E%3D2019&accessed=*",
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_find(&sim).await;
    assert_eq!(values(&sent, "wd_File_Updated_Filter"), ["2020-01-01"]);
    assert_eq!(values(&sent, "wd_File_Created_Filter"), [">=2019"]);
    assert_eq!(values(&sent, "wd_File_AccessDate_Filter"), ["*"]);
}

#[tokio::test]
async fn odd_characters_in_every_new_parameter_arrive_as_one_value() {
    let (sim, gw, token) = setup(&[]).await;
    // `+`, `&`, `=`, `%`, `#`, a space and a non-ASCII letter, percent-encoded once
    // by the client as any client would.
    let odd = "a+b&c=d%e #f é";
    let encoded =
        percent_encoding::utf8_percent_encode(odd, percent_encoding::NON_ALPHANUMERIC).to_string();
    let known = [
        "wd_SID",
        "HTMLOnOK",
        "HTMLOnFail",
        "Wd_File_Sort_Key1",
        "wd_File_Sort_Dir1",
        "skip",
        "take",
    ];
    for (name, param, sent_as) in [
        ("text", "wd_FIND_QUERY", format!("?t {odd}")),
        ("wdq", "wd_FIND_QUERY", odd.to_owned()),
        ("description", "wd_File_Xname_Filter", odd.to_owned()),
        ("file_name", "wd_File_Filename_Filter", odd.to_owned()),
        ("field1", "wd_File_Field1_Filter", odd.to_owned()),
        ("field2", "wd_File_Field2_Filter", odd.to_owned()),
        ("field3", "wd_File_Field3_Filter", odd.to_owned()),
        ("field4", "wd_File_Field4_Filter", odd.to_owned()),
        ("field5", "wd_File_Field5_Filter", odd.to_owned()),
        ("field6", "wd_File_Field6_Filter", odd.to_owned()),
        ("field7", "wd_File_Field7_Filter", odd.to_owned()),
        ("updated", "wd_File_Updated_Filter", odd.to_owned()),
        ("created", "wd_File_Created_Filter", odd.to_owned()),
        ("accessed", "wd_File_AccessDate_Filter", odd.to_owned()),
    ] {
        let r = gw
            .get(&format!("/documents?{name}={encoded}"), Some(&token))
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.text);
        let sent = last_find(&sim).await;
        assert_eq!(values(&sent, param), [sent_as.as_str()], "{name}: {sent:?}");
        for (n, _) in &sent {
            assert!(
                n == param || known.iter().any(|k| k.eq_ignore_ascii_case(n)),
                "{name}: an extra parameter {n:?} reached the CGI query: {sent:?}"
            );
        }
    }
    // A line break is a raw query's to send; in a filter or `text` it is refused
    // before Worldox hears of it.
    let r = gw
        .get("/documents?wdq=Excel%0A%3FG%205", Some(&token))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        values(&last_find(&sim).await, "wd_FIND_QUERY"),
        ["Excel\n?G 5"]
    );
    let finds = sim.calls("FINDFILES").await;
    for name in ["text", "description", "field4", "updated"] {
        gw.get(&format!("/documents?{name}=a%0Ab"), Some(&token))
            .await
            .assert_problem(422, "validation_failed");
    }
    assert_eq!(
        sim.calls("FINDFILES").await,
        finds,
        "refused before Worldox"
    );
}

#[tokio::test]
async fn queries_filters_cursors_and_offsets_combine_only_as_the_rules_say() {
    let (sim, gw, token) = setup(&[]).await;
    let first = gw
        .get("/documents?field3=SPREAD&limit=1", Some(&token))
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let href = next_href(&first).expect("a next page");
    let finds = sim.calls("FINDFILES").await;
    for bad in [
        "q=a&text=b",
        "text=a&wdq=b",
        "q=a&wdq=b",
        "q=a&description=b",
        "text=a&field1=b",
        "wdq=a&accessed=b",
    ] {
        gw.get(&format!("/documents?{bad}"), Some(&token))
            .await
            .assert_problem(400, "bad_request");
    }
    for extra in ["offset=0", "description=x", "text=x", "wdq=x", "field7=x"] {
        gw.get(&format!("{href}&{extra}"), Some(&token))
            .await
            .assert_problem(400, "bad_request");
    }
    for bad in [
        "offset=-1".to_owned(),
        "offset=x".to_owned(),
        "offset=1000000001".to_owned(),
        format!("description={}", "d".repeat(101)),
        format!("wdq={}", "w".repeat(257)),
        "text=%3Ft%20x".to_owned(),
        "text=a%7Cb".to_owned(),
        "wdq=a%00b".to_owned(),
    ] {
        gw.get(&format!("/documents?{bad}"), Some(&token))
            .await
            .assert_problem(422, "validation_failed");
    }
    assert_eq!(
        sim.calls("FINDFILES").await,
        finds,
        "refusals never reach Worldox"
    );
    // A cabinet scopes any kind of search.
    for ok in [
        "text=Excel&cabinet=5",
        "wdq=Excel&cabinet=5",
        "q=Excel&cabinet=5",
    ] {
        let r = gw.get(&format!("/documents?{ok}"), Some(&token)).await;
        assert_eq!(r.status, 200, "{ok}: {}", r.text);
        assert_eq!(r.json["total"], 3, "{ok}: {}", r.text);
    }
    let sent = last_find(&sim).await;
    assert_eq!(values(&sent, "wd_FIND_QUERY"), ["Excel | ?G 5"]);
}

#[tokio::test]
async fn a_cursor_carries_the_structured_search_into_a_rerun() {
    let (sim, gw, token) = setup(&[]).await;
    let first = gw
        .get("/documents?field3=SPREAD&cabinet=5&limit=1", Some(&token))
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let self_link = first.json["_links"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["rel"] == "self"))
        .and_then(|l| l["href"].as_str())
        .expect("self")
        .to_owned();
    assert!(self_link.contains("field3=SPREAD"), "{self_link}");
    let href = next_href(&first).expect("next");
    // The list is gone: the page re-runs the search from the cursor alone.
    sim.admin(Method::POST, "invalidate-lists", None).await;
    let second = gw.get(&href, Some(&token)).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.json["restarted"], true);
    let sent = last_find(&sim).await;
    assert_eq!(values(&sent, "wd_File_Field3_Filter"), ["SPREAD"]);
    assert_eq!(values(&sent, "wd_File_ProfileGroup_Filter"), ["5"]);
    assert!(values(&sent, "wd_FIND_QUERY").is_empty());
    let (seen, total, _) = walk(&gw, &token, "/documents?field3=SPREAD&cabinet=5&limit=1").await;
    assert_eq!(total, 3);
    assert_eq!(
        sorted(seen),
        ["doc_5_00015577", "doc_5_00015655", "doc_5_00015661"]
    );
}

#[tokio::test]
async fn an_offset_pages_the_sessions_list_like_a_cursor() {
    let (sim, gw, token) = setup(&[]).await;
    let (all, total, _) = walk(&gw, &token, "/documents?limit=4").await;
    let (finds, sorts) = (sim.calls("FINDFILES").await, sim.calls("SORTFILES").await);
    let page = gw.get("/documents?limit=2&offset=3", Some(&token)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.json["offset"], 3);
    assert_eq!(page.json["total"], total);
    assert_eq!(page.json["restarted"], false);
    assert_eq!(ids(&page), all[3..5].to_vec());
    assert_eq!(
        sim.calls("FINDFILES").await,
        finds,
        "the session's list is paged"
    );
    assert_eq!(sim.calls("SORTFILES").await, sorts + 1);
    let links = page.json["_links"].as_array().expect("links");
    let self_href = links.iter().find(|l| l["rel"] == "self").expect("self")["href"]
        .as_str()
        .expect("href");
    assert!(self_href.contains("offset=3"), "{self_href}");
    assert!(links.iter().any(|l| l["rel"] == "prev"), "{}", page.text);
    // The session's list went stale: the offset re-runs the search and says so.
    sim.admin(Method::POST, "invalidate-lists", None).await;
    let rerun = gw.get("/documents?limit=2&offset=3", Some(&token)).await;
    assert_eq!(rerun.status, 200, "{}", rerun.text);
    assert_eq!(rerun.json["restarted"], true, "{}", rerun.text);
    assert_eq!(ids(&rerun), all[3..5].to_vec());
    let finds = sim.calls("FINDFILES").await;
    // An offset past the end is an empty page of the same total.
    let past = gw
        .get(
            &format!("/documents?limit=2&offset={}", total + 10),
            Some(&token),
        )
        .await;
    assert_eq!(past.status, 200, "{}", past.text);
    assert!(ids(&past).is_empty());
    assert_eq!(past.json["total"], total);
    assert!(next_href(&past).is_none());
    // Another session has no list for it: its offset runs the search at that line.
    let other = gw.login("demo", "demo").await;
    let fresh = gw.get("/documents?limit=2&offset=3", Some(&other)).await;
    assert_eq!(ids(&fresh), all[3..5].to_vec());
    assert_eq!(sim.calls("FINDFILES").await, finds + 1);
}

#[tokio::test]
async fn with_every_list_stale_each_cursor_page_reruns_the_search_once() {
    let (sim, gw, token) = setup(&[]).await;
    sim.set_faults(json!({"stale_doc_lists": true})).await;
    let first = gw.get("/documents?limit=4", Some(&token)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let total = first.json["total"].as_u64().expect("total");
    let mut seen = ids(&first);
    let mut next = next_href(&first);
    let mut pages = 1u64;
    while let Some(href) = next {
        let (finds, sorts) = (sim.calls("FINDFILES").await, sim.calls("SORTFILES").await);
        let page = gw.get(&href, Some(&token)).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert_eq!(page.json["restarted"], true, "{}", page.text);
        assert_eq!(
            sim.calls("SORTFILES").await - sorts,
            1,
            "one try of the list"
        );
        assert_eq!(
            sim.calls("FINDFILES").await - finds,
            1,
            "one re-run, no loop"
        );
        seen.extend(ids(&page));
        next = next_href(&page);
        pages += 1;
    }
    assert_eq!(seen.len() as u64, total, "{seen:?}");
    assert_eq!(sorted(seen.clone()).len(), {
        let mut unique = sorted(seen);
        unique.dedup();
        unique.len()
    });
    assert!(pages > 2, "several pages: {pages}");
}

#[tokio::test]
async fn stale_twice_on_search_paging_is_409() {
    // An upstream counting `skip` from 0 makes page one page its fresh list again
    // (SORTFILES); with every list stale, that list fails too: 409 after one search
    // and one page call, no more.
    let config = wdgate::sim::SimConfig {
        skip_base: 0,
        ..wdgate::sim::SimConfig::default()
    };
    let sim = Sim::with_config(config).await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    sim.set_faults(json!({"stale_doc_lists": true})).await;
    let r = gw.get("/documents?limit=3", Some(&token)).await;
    r.assert_problem(409, "upstream_error");
    assert_eq!(
        r.json["upstream"]["rctx"], "WDRC_LISTID_INVALID",
        "{}",
        r.text
    );
    assert_eq!(sim.calls("FINDFILES").await, 1);
    assert_eq!(sim.calls("SORTFILES").await, 1);
    // The base is learned: the same page now needs only the search.
    let again = gw.get("/documents?limit=3", Some(&token)).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(sim.calls("FINDFILES").await, 2);
    assert_eq!(sim.calls("SORTFILES").await, 1);
}

#[tokio::test]
async fn an_expired_list_restarts_the_cursor_page_at_its_offset() {
    let config = wdgate::sim::SimConfig {
        list_ttl_secs: 1,
        ..wdgate::sim::SimConfig::default()
    };
    let sim = Sim::with_config(config).await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    let first = gw.get("/documents?limit=2", Some(&token)).await;
    let href = next_href(&first).expect("next");
    let second = gw.get(&href, Some(&token)).await;
    assert_eq!(second.status, 200, "{}", second.text);
    // Paging the list works until it expires, however often it is used; then the
    // page re-runs the search and says so.
    let restarted = std::sync::Mutex::new(None);
    common::wait_until(|| async {
        let page = gw.get(&href, Some(&token)).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let done = page.json["restarted"] == true;
        if done {
            *restarted.lock().expect("lock") = Some(ids(&page));
        }
        done
    })
    .await;
    let restarted = restarted
        .lock()
        .expect("lock")
        .take()
        .expect("a restarted page");
    assert_eq!(restarted, ids(&second), "the same rows at the same offset");
    assert!(sim.calls("FINDFILES").await >= 2);
}

#[tokio::test]
async fn a_hidden_document_is_found_by_its_owner_only() {
    let (_sim, gw, token) = setup(&[]).await;
    let mine = gw.get("/documents?q=Partner", Some(&token)).await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert!(ids(&mine).is_empty(), "{}", mine.text);
    let all = gw.get("/documents?limit=500", Some(&token)).await;
    assert!(!ids(&all).contains(&"doc_5_00015101".to_owned()));
    assert!(
        ids(&all).contains(&"doc_5_00015102".to_owned()),
        "protected is found"
    );
    gw.get("/documents/doc_5_00015101", Some(&token))
        .await
        .assert_problem(404, "not_found");
    let owner = gw.login("qc1", "qc1").await;
    let theirs = gw.get("/documents?q=Partner", Some(&owner)).await;
    assert_eq!(ids(&theirs), ["doc_5_00015101"], "{}", theirs.text);
    let doc = gw.get("/documents/doc_5_00015101", Some(&owner)).await;
    assert_eq!(doc.status, 200, "{}", doc.text);
}
