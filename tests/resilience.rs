//! Upstream resilience: the circuit breaker opens and closes, reads are retried and
//! writes are not, and upstream concurrency is bounded.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::front::{Misbehave, front};
use common::{Gateway, Sim, wait_until};
use serde_json::json;

fn demo() -> serde_json::Value {
    json!({"username": "demo", "password": "demo"})
}

#[tokio::test]
async fn the_circuit_opens_after_repeated_failures_and_closes_when_the_upstream_recovers() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_UPSTREAM_BREAKER_WINDOW_CALLS", "3"),
            ("WDGATE_UPSTREAM_BREAKER_MIN_CALLS", "3"),
            ("WDGATE_UPSTREAM_BREAKER_OPEN_SECS", "1"),
        ],
    );
    sim.set_faults(json!({"drop_ratio": 1.0})).await;
    for _ in 0..3 {
        gw.post_json("/sessions", &demo(), None)
            .await
            .assert_problem(502, "upstream_unreachable");
    }
    let r = gw.post_json("/sessions", &demo(), None).await;
    r.assert_problem(503, "upstream_unavailable");
    assert!(r.header("retry-after").parse::<u64>().is_ok_and(|s| s >= 1));
    assert_eq!(
        sim.calls("LOGON").await,
        3,
        "an open circuit sends nothing upstream"
    );
    gw.wait_for_log("upstream circuit opened").await;

    sim.set_faults(json!({})).await;
    wait_until(|| async { gw.post_json("/sessions", &demo(), None).await.status == 201 }).await;
    gw.wait_for_log("upstream circuit closed").await;
}

/// The front for `command` that answers 503 to its first `fail` calls.
async fn flaky_front(sim: &Sim, command: &'static str, fail: usize) -> (String, Arc<AtomicUsize>) {
    front(&sim.url(), command, Misbehave::FailFirst(fail)).await
}

#[tokio::test]
async fn slow_calls_of_one_user_leave_the_circuit_closed_for_everyone_else() {
    let sim = Sim::start().await;
    let slow = std::time::Duration::from_secs(2);
    let (front, seen) = front(&sim.url(), "CABINETS", Misbehave::Delay(slow)).await;
    let gw = Gateway::start(
        &front,
        &[
            ("WDGATE_UPSTREAM_TIMEOUT_MS", "300"),
            ("WDGATE_DEVICES_CACHE_TTL_SECS", "0"),
        ],
    );
    let heavy = gw.login("demo", "demo").await;
    let others = [gw.login("qc1", "qc1").await, gw.login("demo", "demo").await];
    // Five searches slower than the upstream timeout, among the others' healthy calls.
    for round in 0..5 {
        let search = gw.get("/wd/CABINETS", Some(&heavy)).await;
        search.assert_problem(504, "upstream_timeout");
        for token in &others {
            let r = gw.get("/me/2fa-devices", Some(token)).await;
            assert_eq!(r.status, 200, "round {round}: {}", r.text);
        }
    }
    assert_eq!(
        seen.load(Ordering::SeqCst),
        5,
        "a timed-out read is not repeated"
    );
    for token in &others {
        assert_eq!(gw.get("/me/2fa-devices", Some(token)).await.status, 200);
    }
    assert!(
        !gw.log().contains("upstream circuit opened"),
        "five slow calls among healthy ones opened the circuit"
    );
}

#[tokio::test]
async fn a_dead_upstream_opens_the_circuit_within_the_bounded_number_of_calls() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_UPSTREAM_RETRIES", "0"),
            ("WDGATE_LIMITS_LOGIN_PER_USERNAME_PER_MINUTE", "0"),
            ("WDGATE_LIMITS_LOGIN_PER_IP_PER_MINUTE", "0"),
        ],
    );
    // A healthy history first: a full window of successes.
    for _ in 0..25 {
        assert_eq!(gw.post_json("/sessions", &demo(), None).await.status, 201);
    }
    sim.set_faults(json!({"drop_ratio": 1.0})).await;
    let before = sim.calls("LOGON").await;
    let mut refused_at = None;
    for call in 1..=20 {
        let r = gw.post_json("/sessions", &demo(), None).await;
        if r.status == 503 {
            r.assert_problem(503, "upstream_unavailable");
            refused_at = Some(call);
            break;
        }
        r.assert_problem(502, "upstream_unreachable");
    }
    // Defaults: a window of 20, ratio 0.5: ten failures open it, the eleventh is refused.
    assert_eq!(refused_at, Some(11));
    assert_eq!(sim.calls("LOGON").await - before, 10);
}

#[tokio::test]
async fn a_read_that_meets_a_503_is_retried() {
    let sim = Sim::start().await;
    let (front, seen) = flaky_front(&sim, "2FGET", 1).await;
    let gw = Gateway::start(&front, &[("WDGATE_DEVICES_CACHE_TTL_SECS", "0")]);
    let token = gw.login("demo", "demo").await;
    let r = gw.get("/me/2fa-devices", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(seen.load(Ordering::SeqCst), 2, "one failure, one retry");
}

#[tokio::test]
async fn a_write_that_meets_a_503_is_not_repeated() {
    let sim = Sim::start().await;
    let (front, seen) = flaky_front(&sim, "2FSET", 1).await;
    let gw = Gateway::start(&front, &[]);
    let token = gw.login("demo", "demo").await;
    let r = gw
        .post_json(
            "/me/2fa-devices/verifications",
            &json!({"address": "x@example.com"}),
            Some(&token),
        )
        .await;
    r.assert_problem(502, "upstream_bad_answer");
    assert_eq!(seen.load(Ordering::SeqCst), 1, "a write is sent once");
    assert!(
        sim.outbox().await.is_empty(),
        "no code was sent twice or at all"
    );
}

#[tokio::test]
async fn upstream_calls_in_flight_are_bounded() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[("WDGATE_UPSTREAM_MAX_IN_FLIGHT", "1")]);
    sim.set_faults(json!({"latency_ms": 800})).await;
    let login = |url: String| async move {
        let status = common::client()
            .post(url)
            .json(&demo())
            .send()
            .await
            .map(|r| r.status().as_u16());
        (status, std::time::Instant::now())
    };
    let first = tokio::spawn(login(gw.url("/sessions")));
    wait_until(|| async { sim.calls("LOGON").await == 1 }).await;
    let second = tokio::spawn(login(gw.url("/sessions")));
    let (first_status, first_done) = first.await.expect("join");
    let (second_status, second_done) = second.await.expect("join");
    assert_eq!(first_status.expect("answered"), 201);
    assert_eq!(second_status.expect("answered"), 201);
    // The second call could only start upstream once the first had finished, and the
    // simulator holds every call 800 ms: a lower bound that holds by construction.
    assert!(
        second_done.duration_since(first_done) >= std::time::Duration::from_millis(700),
        "the calls overlapped upstream"
    );
}
