//! `server.worker_threads = 1`: the gateway on tokio's single-threaded scheduler, the
//! setting for a one-CPU sidecar. Everything that waits (upstream calls, timers,
//! coalesced reads, shutdown) shares one thread, so each is checked here once.

mod common;

use common::{Gateway, Sim, wait_until};
use futures_util::future::join_all;
use serde_json::json;

const ONE_THREAD: (&str, &str) = ("WDGATE_SERVER_WORKER_THREADS", "1");

#[tokio::test]
async fn one_thread_serves_the_flows_coalesces_and_times_out() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[ONE_THREAD, ("WDGATE_UPSTREAM_TIMEOUT_MS", "300")],
    );
    let token = gw.login("demo", "demo").await;
    assert_eq!(gw.get("/me", Some(&token)).await.status, 200);

    // Concurrent reads while the upstream is slow: one 2FGET, every read answered.
    sim.set_faults(json!({"latency_ms": 150})).await;
    let before = sim.calls("2FGET").await;
    let reads = (0..50).map(|_| gw.get("/me/2fa-devices", Some(&token)));
    for r in join_all(reads).await {
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(sim.calls("2FGET").await, before + 1);

    // A hanging upstream: the timer still fires on the one thread.
    sim.set_faults(json!({"hang_ratio": 1.0})).await;
    gw.post_json(
        "/sessions",
        &json!({"username": "demo", "password": "demo"}),
        None,
    )
    .await
    .assert_problem(504, "upstream_timeout");
    sim.set_faults(json!({})).await;
    assert_eq!(gw.get("/me", Some(&token)).await.status, 200);
}

#[tokio::test]
async fn one_thread_finishes_the_request_in_flight_on_sigterm() {
    let sim = Sim::start().await;
    let mut gw = Gateway::start(&sim.url(), &[ONE_THREAD]);
    sim.set_faults(json!({"latency_ms": 1000})).await;
    let in_flight = gw.login_in_flight("demo", "demo");
    wait_until(|| async { sim.calls("LOGON").await == 1 }).await;
    gw.signal("TERM");
    gw.wait_for_log("stopped accepting").await;
    assert_eq!(in_flight.await.expect("join"), 201);
    let status = gw.wait_exit().await;
    assert!(status.success(), "{status:?}");
}
