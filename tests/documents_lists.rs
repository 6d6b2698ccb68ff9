//! The list registry over real HTTP against the simulator: lists no longer needed are
//! closed with CLOSELIST in the background, a session holds a bounded number, and a
//! session that ends sends none (LOGOFF frees them).

mod common;

use common::{Gateway, Reply, Sim, wait_until};
use reqwest::Method;

async fn setup(env: &[(&str, &str)]) -> (Sim, Gateway, String) {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), env);
    let token = gw.login("demo", "demo").await;
    (sim, gw, token)
}

fn next_href(r: &Reply) -> Option<String> {
    r.json["_links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == "next")
        .and_then(|l| l["href"].as_str().map(str::to_owned))
}

async fn open_lists(sim: &Sim) -> u64 {
    let lists = sim.admin(Method::GET, "lists", None).await;
    lists
        .as_array()
        .map(|all| all.iter().filter_map(|l| l["open"].as_u64()).sum())
        .unwrap_or(0)
}

#[tokio::test]
async fn lists_no_longer_needed_are_closed_and_a_session_holds_a_bounded_number() {
    let (sim, gw, token) = setup(&[("WDGATE_DOCUMENTS_MAX_OPEN_LISTS_PER_SESSION", "2")]).await;
    // The same search again replaces (and closes) its list.
    for _ in 0..2 {
        assert_eq!(gw.get("/documents?q=Excel", Some(&token)).await.status, 200);
    }
    wait_until(|| async { sim.calls("CLOSELIST").await >= 1 }).await;
    wait_until(|| async { open_lists(&sim).await == 1 }).await;
    // Four different searches: only two lists stay open.
    for q in ["test", "letter", "budget", "incorporation"] {
        assert_eq!(
            gw.get(&format!("/documents?q={q}"), Some(&token))
                .await
                .status,
            200
        );
    }
    wait_until(|| async { open_lists(&sim).await == 2 }).await;
    // The worker counts a CLOSELIST once its answer is in.
    wait_until(|| async {
        let metrics = gw.get("/metrics", None).await.text;
        metrics.contains("wdgate_closelist_total{outcome=\"closed\"} 4")
    })
    .await;
    assert_eq!(sim.calls("CLOSELIST").await, 4);
    let metrics = gw.get("/metrics", None).await;
    assert!(
        metrics.text.contains("wdgate_upstream_open_lists 2"),
        "{}",
        metrics.text
    );
    // The evicted search's cursor still works: it re-runs the search.
    let first = gw.get("/documents?limit=1", Some(&token)).await;
    let href = next_href(&first).expect("next");
    for q in ["test", "letter"] {
        gw.get(&format!("/documents?q={q}"), Some(&token)).await;
    }
    let page = gw.get(&href, Some(&token)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.json["restarted"], true);
}

#[tokio::test]
async fn logout_sends_no_closelist_and_the_gauge_forgets_the_lists() {
    let (sim, gw, token) = setup(&[]).await;
    for q in ["Excel", "letter"] {
        assert_eq!(
            gw.get(&format!("/documents?q={q}"), Some(&token))
                .await
                .status,
            200
        );
    }
    let gauge = |text: &str| text.contains("wdgate_upstream_open_lists 2");
    assert!(gauge(&gw.get("/metrics", None).await.text));
    assert_eq!(
        gw.delete("/sessions/current", Some(&token)).await.status,
        204
    );
    wait_until(|| async {
        gw.get("/metrics", None)
            .await
            .text
            .contains("wdgate_upstream_open_lists 0")
    })
    .await;
    assert_eq!(sim.calls("CLOSELIST").await, 0, "LOGOFF frees them");
}
