//! Signals: SIGHUP never ends the process; SIGTERM turns `/readyz` to 503 at once while
//! everything else is served for `server.shutdown_delay_secs`, then the gateway drains
//! and exits 0; a second signal skips the rest of the delay.

mod common;

use common::{Gateway, Sim, client};
use tokio::net::TcpStream;

#[tokio::test]
async fn sighup_does_not_end_a_plain_http_gateway() {
    let sim = Sim::start().await;
    let mut gw = Gateway::start(&sim.url(), &[]);
    gw.signal("HUP");
    gw.wait_for_log("SIGHUP ignored").await;
    assert_eq!(gw.get("/healthz", None).await.status, 200);
    gw.signal("HUP");
    common::wait_until(|| async { gw.log().matches("SIGHUP ignored").count() == 2 }).await;
    assert!(gw.exited().is_none(), "still running");
    assert_eq!(gw.get("/healthz", None).await.status, 200);
}

#[tokio::test]
async fn sigterm_turns_readiness_503_while_everything_else_is_served_for_the_delay() {
    let sim = Sim::start().await;
    let mut gw = Gateway::start(&sim.url(), &[("WDGATE_SERVER_SHUTDOWN_DELAY_SECS", "6")]);
    let token = gw.login("demo", "demo").await;
    assert_eq!(gw.get("/readyz", None).await.status, 200);

    gw.signal("TERM");
    gw.wait_for_log("shutdown signal received").await;
    gw.get("/readyz", None)
        .await
        .assert_problem(503, "shutting_down");
    // A fresh connection (a new client has no pooled one) is still served.
    assert_eq!(gw.get("/healthz", None).await.status, 200);
    let me = gw.get("/me", Some(&token)).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert!(
        !gw.log().contains("stopped accepting"),
        "the listener is still open during the delay"
    );

    gw.wait_for_log("shutdown delay over").await;
    gw.wait_for_log("stopped accepting").await;
    assert!(
        TcpStream::connect(gw.addr).await.is_err(),
        "then the listener closes"
    );
    let status = gw.wait_exit().await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn a_second_signal_skips_the_rest_of_the_delay() {
    let sim = Sim::start().await;
    let mut gw = Gateway::start(&sim.url(), &[("WDGATE_SERVER_SHUTDOWN_DELAY_SECS", "600")]);
    gw.signal("TERM");
    gw.wait_for_log("shutdown signal received").await;
    let readyz = client()
        .get(gw.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(readyz.status(), 503);
    gw.signal("INT");
    gw.wait_for_log("second signal; skipping the rest of the shutdown delay")
        .await;
    let status = gw.wait_exit().await;
    assert!(status.success(), "{status:?}");
}
