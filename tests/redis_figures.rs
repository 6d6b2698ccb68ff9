//! The figures README's "Running several replicas" quotes, measured on this machine.
//! Ignored by `cargo test`; run them with
//! `cargo test --release --test redis_figures -- --ignored --nocapture --test-threads 1`.

mod common;

use std::time::{Duration, Instant};

use common::redis::{ID_KEY, Redis, redis_gateway, wait_ready};
use common::{Gateway, Sim};

const TRIALS: usize = 100;
const REQUESTS: usize = 5_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{what}: n={} p50={:?} p99={:?} max={:?} mean={:?}",
        samples.len(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples[samples.len() - 1],
        mean
    );
}

#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn logout_propagation_from_one_replica_to_another() {
    let Some(redis) = Redis::start() else { return };
    let sim = Sim::start().await;
    // A long L1, so only the pub/sub invalidation can end the session on A early.
    let env = [
        ("WDGATE_DEVICES_ID_KEY", ID_KEY),
        ("WDGATE_SESSION_L1_TTL_MS", "5000"),
        ("WDGATE_LOG_LEVEL", "warn"),
        // A hundred logins in a few seconds would trip the login limits.
        ("WDGATE_LIMITS_LOGIN_PER_USERNAME_PER_MINUTE", "0"),
        ("WDGATE_LIMITS_LOGIN_PER_IP_PER_MINUTE", "0"),
        ("WDGATE_LIMITS_LOGIN_PER_USERNAME_ALL_IPS_PER_MINUTE", "0"),
    ];
    let a = redis_gateway(&sim.url(), &redis, &env);
    let b = redis_gateway(&sim.url(), &redis, &env);
    wait_ready(&a).await;
    wait_ready(&b).await;
    let mut samples = Vec::with_capacity(TRIALS);
    for _ in 0..TRIALS {
        let token = a.login("demo", "demo").await;
        assert_eq!(a.get("/me", Some(&token)).await.status, 200);
        assert_eq!(
            b.delete("/sessions/current", Some(&token)).await.status,
            204
        );
        let since = Instant::now();
        // Back-to-back reads on A until it answers 401.
        loop {
            let status = a.get("/me", Some(&token)).await.status;
            if status == 401 {
                break;
            }
            assert_eq!(status, 200);
            assert!(since.elapsed() < Duration::from_secs(5), "never ended on A");
        }
        samples.push(since.elapsed());
    }
    report("logout on B -> 401 on A", samples);
}

async fn me_latency(gw: &Gateway) -> Vec<Duration> {
    let token = gw.login("demo", "demo").await;
    let client = common::client();
    let url = gw.url("/me");
    let mut samples = Vec::with_capacity(REQUESTS);
    for i in 0..REQUESTS + 200 {
        let started = Instant::now();
        let r = client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET /me");
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await;
        // The first 200 warm the connection and the caches.
        if i >= 200 {
            samples.push(started.elapsed());
        }
    }
    samples
}

#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn me_latency_memory_versus_redis() {
    let Some(redis) = Redis::start() else { return };
    let sim = Sim::start().await;
    let quiet = ("WDGATE_LOG_LEVEL", "warn");
    let memory = Gateway::start(&sim.url(), &[quiet]);
    report("GET /me, memory store", me_latency(&memory).await);
    drop(memory);
    for l1 in ["500", "0"] {
        let gw = redis_gateway(
            &sim.url(),
            &redis,
            &[
                ("WDGATE_DEVICES_ID_KEY", ID_KEY),
                ("WDGATE_SESSION_L1_TTL_MS", l1),
                quiet,
            ],
        );
        wait_ready(&gw).await;
        report(
            &format!("GET /me, redis store, l1_ttl_ms={l1}"),
            me_latency(&gw).await,
        );
    }
}
