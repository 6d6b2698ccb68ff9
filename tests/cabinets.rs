//! `/cabinets` over real HTTP against the simulator: the caller's cabinets, cached per
//! session, looked up by id, and their names on documents.

mod common;

use common::{Gateway, Sim};

async fn setup(env: &[(&str, &str)]) -> (Sim, Gateway, String) {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), env);
    let token = gw.login("demo", "demo").await;
    (sim, gw, token)
}

#[tokio::test]
async fn cabinets_are_listed_cached_and_looked_up() {
    let (sim, gw, token) = setup(&[]).await;
    let r = gw.get("/cabinets", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let cabinets = r.json["cabinets"].as_array().expect("cabinets").clone();
    let accounting = cabinets.iter().find(|c| c["id"] == 14).expect("cabinet 14");
    assert_eq!(accounting["name"], "Accounting");
    assert!(
        accounting["fields"]
            .as_array()
            .is_some_and(|f| !f.is_empty() && f.iter().all(|f| f["name"] != "0"))
    );
    assert!(
        accounting["_links"]
            .as_array()
            .is_some_and(|l| l.iter().any(|l| l["href"] == "/documents?cabinet=14"))
    );
    assert!(!r.text.contains("PGID") && !r.text.contains("\"BP\""));
    assert!(
        cabinets.iter().all(|c| c["id"] != 18),
        "cabinet 18 is qc1's"
    );
    assert_eq!(gw.get("/cabinets", Some(&token)).await.status, 200);
    assert_eq!(sim.calls("CABINETS").await, 1, "cached for the session");
    let one = gw.get("/cabinets/14", Some(&token)).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json["name"], "Accounting");
    assert_eq!(
        sim.calls("CABINETS").await,
        1,
        "served from the cached listing"
    );
    gw.get("/cabinets/18", Some(&token))
        .await
        .assert_problem(404, "upstream_error");
    for bad in ["0", "abc", "-1", "99999999999"] {
        gw.get(&format!("/cabinets/{bad}"), Some(&token))
            .await
            .assert_problem(404, "not_found");
    }
    // Without a cached listing, one cabinet is asked for by id.
    let fresh = gw.login("demo", "demo").await;
    let one = gw.get("/cabinets/3", Some(&fresh)).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json["id"], 3);
    assert_eq!(sim.calls("CABINETS").await, 3);
    // Document names come from the cached cabinets.
    let r = gw.get("/documents?cabinet=14", Some(&token)).await;
    assert!(
        r.json["documents"]
            .as_array()
            .expect("docs")
            .iter()
            .all(|d| d["cabinet"]["name"] == "Accounting"),
        "{}",
        r.text
    );
}
