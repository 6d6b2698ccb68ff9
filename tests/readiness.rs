//! `/readyz` is cheap: probes share the last check, refreshed at most once per interval
//! by one upstream call, so a flood of probes is not a flood of upstream calls.

mod common;

use common::{DEADLINE, Gateway, Sim, client};

/// The simulator's count of bare probes (a GET of the CGI URL with no command).
async fn probes(sim: &Sim) -> u64 {
    sim.calls("").await
}

/// Sends `n` `GET /readyz` at once; returns their statuses.
async fn readyz_burst(gw: &Gateway, n: usize) -> Vec<u16> {
    let client = client();
    let calls = (0..n).map(|_| {
        let request = client.get(gw.url("/readyz"));
        async move { request.send().await.expect("readyz").status().as_u16() }
    });
    futures_util::future::join_all(calls).await
}

#[tokio::test]
async fn concurrent_probes_share_one_upstream_call() {
    let sim = Sim::start().await;
    // Slow upstream: all 150 probes arrive while the one check is in flight.
    sim.set_faults(serde_json::json!({"latency_ms": 300})).await;
    let gw = Gateway::start(
        &sim.url(),
        &[("WDGATE_SERVER_READINESS_INTERVAL_SECS", "600")],
    );
    let statuses = readyz_burst(&gw, 150).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let calls = probes(&sim).await;
    eprintln!("upstream calls per 150 concurrent probes: {calls}");
    assert_eq!(calls, 1, "one check for 150 probes");
    let again = readyz_burst(&gw, 150).await;
    assert!(again.iter().all(|s| *s == 200));
    assert_eq!(probes(&sim).await, 1, "answered from the last check");
}

#[tokio::test]
async fn the_check_is_refreshed_after_the_interval_and_a_failure_is_reported() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_SERVER_READINESS_INTERVAL_SECS", "1"),
            ("WDGATE_UPSTREAM_TIMEOUT_MS", "300"),
        ],
    );
    assert_eq!(gw.get("/readyz", None).await.status, 200);
    assert_eq!(probes(&sim).await, 1);
    sim.set_faults(serde_json::json!({"hang_ratio": 1.0})).await;
    // The upstream stops answering: once the interval is over, a check sees it.
    common::wait_until(|| async { gw.get("/readyz", None).await.status == 503 }).await;
    gw.get("/readyz", None)
        .await
        .assert_problem(503, "not_ready");
    sim.set_faults(serde_json::json!({})).await;
    common::wait_until(|| async { gw.get("/readyz", None).await.status == 200 }).await;
    // Polled every 20 ms for a few seconds, yet about one check per second.
    let calls = probes(&sim).await;
    assert!(
        (3..=DEADLINE.as_secs() + 1).contains(&calls),
        "{calls} checks"
    );
}
