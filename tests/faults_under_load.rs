//! Fault injection under a bounded load: latency spikes, garbage answers, hung and
//! dropped connections and an upstream restart while 2,000 requests run over 20 s.
//! Every request gets a correct answer or a correct 502/503/504 problem, the gateway's
//! memory stays flat, and sessions made before the faults still work after them.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Gateway, Sim, wait_until};
use serde_json::json;
use tokio::sync::Semaphore;

/// Requests in the run, and how long it lasts.
const REQUESTS: u32 = 2_000;
const RUN: Duration = Duration::from_secs(20);

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[derive(Debug, Default)]
struct Tally {
    ok: u32,
    upstream_failures: u32,
    wrong: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_under_load_give_correct_answers_flat_memory_and_no_lost_sessions() {
    let mut sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_UPSTREAM_TIMEOUT_MS", "400"),
            ("WDGATE_UPSTREAM_BREAKER_OPEN_SECS", "1"),
            ("WDGATE_DEVICES_CACHE_TTL_SECS", "0"),
            ("WDGATE_LIMITS_LOGIN_PER_USERNAME_PER_MINUTE", "0"),
            ("WDGATE_LIMITS_LOGIN_PER_IP_PER_MINUTE", "0"),
            ("WDGATE_LIMITS_LOGIN_PER_USERNAME_ALL_IPS_PER_MINUTE", "0"),
            ("WDGATE_LOG_LEVEL", "warn"),
        ],
    );
    let mut tokens = Vec::new();
    for _ in 0..20 {
        tokens.push(gw.login("demo", "demo").await);
    }
    // Warm up, then take the baseline.
    for token in &tokens {
        assert_eq!(gw.get("/me/2fa-devices", Some(token)).await.status, 200);
    }
    let rss_before = rss_kib(gw.pid());

    let tokens = Arc::new(tokens);
    let slots = Arc::new(Semaphore::new(32));
    let base = gw.url("");
    let start = Instant::now();
    let mut tasks = Vec::new();
    let mut phase = 0;
    let mut stopped = false;
    for i in 0..REQUESTS {
        // The load profile: one request every 10 ms, and a new fault every 3 s.
        let due = RUN * i / REQUESTS;
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let elapsed = start.elapsed().as_secs();
        let wanted = (elapsed / 3).min(6);
        if wanted != phase {
            phase = wanted;
            match phase {
                1 => sim.set_faults(json!({"latency_ms": 250})).await,
                2 => sim.set_faults(json!({"garbage_ratio": 0.1})).await,
                3 => sim.set_faults(json!({"hang_ratio": 0.2})).await,
                4 => sim.set_faults(json!({"drop_ratio": 0.2})).await,
                5 => {
                    sim.set_faults(json!({})).await;
                    sim.stop();
                    stopped = true;
                }
                _ => {
                    if stopped {
                        sim.restart().await;
                        stopped = false;
                    }
                }
            }
        }
        let permit = slots.clone().acquire_owned().await.expect("semaphore");
        let (base, tokens) = (base.clone(), tokens.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            one_request(&base, &tokens, i).await
        }));
    }
    let mut tally = Tally::default();
    for task in tasks {
        match task.await.expect("join") {
            Ok(true) => tally.ok += 1,
            Ok(false) => tally.upstream_failures += 1,
            Err(wrong) => tally.wrong.push(wrong),
        }
    }
    assert!(
        tally.wrong.is_empty(),
        "wrong answers: {:?}",
        &tally.wrong[..tally.wrong.len().min(10)]
    );
    assert_eq!(tally.ok + tally.upstream_failures, REQUESTS);
    assert!(tally.ok > REQUESTS / 2, "most requests succeed: {tally:?}");
    assert!(
        tally.upstream_failures > 0,
        "the faults were felt: {tally:?}"
    );

    let rss_after = rss_kib(gw.pid());
    assert!(
        rss_after < rss_before + 32 * 1024,
        "memory grew from {rss_before} KiB to {rss_after} KiB"
    );

    // Faults over: every session made before them works again.
    sim.set_faults(json!({})).await;
    for token in tokens.iter() {
        wait_until(|| async { gw.get("/me/2fa-devices", Some(token)).await.status == 200 }).await;
        assert_eq!(gw.get("/me", Some(token)).await.status, 200);
    }
    eprintln!("faults under load: {tally:?}, RSS {rss_before} KiB -> {rss_after} KiB");
}

/// Sends request `i` of the mix; `Ok(true)` for a success, `Ok(false)` for a correct
/// upstream failure (502/503/504 problem), `Err` for anything else.
async fn one_request(base: &str, tokens: &[String], i: u32) -> Result<bool, String> {
    let client = common::client();
    let token = &tokens[i as usize % tokens.len()];
    let (what, request) = match i % 4 {
        0 => (
            "GET /me",
            client.get(format!("{base}/me")).bearer_auth(token),
        ),
        1 | 2 => (
            "GET /me/2fa-devices",
            client
                .get(format!("{base}/me/2fa-devices"))
                .bearer_auth(token),
        ),
        _ => (
            "POST /sessions",
            client
                .post(format!("{base}/sessions"))
                .json(&json!({"username": "qc1", "password": "qc1"})),
        ),
    };
    let response = request
        .send()
        .await
        .map_err(|e| format!("{what}: no answer: {e}"))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.text().await.unwrap_or_default();
    match (what, status) {
        ("GET /me", 200) | ("GET /me/2fa-devices", 200) | ("POST /sessions", 201) => Ok(true),
        (_, 502..=504) if what != "GET /me" && content_type == "application/problem+json" => {
            Ok(false)
        }
        _ => Err(format!("{what}: {status} {body}")),
    }
}
