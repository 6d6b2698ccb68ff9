//! Login limits over real sockets: per (username, client IP), per username over all
//! IPs and per IP; X-Forwarded-For believed from trusted proxies only; counted in
//! Redis for the whole fleet with the Redis store; and load shedding beyond the
//! concurrency limit.
//!
//! Clients bind their own loopback address (`127.0.0.2`, …: Linux routes all of
//! 127.0.0.0/8 to `lo`), so the gateway sees attacker and user as different peers.

mod common;

use std::net::IpAddr;
use std::process::Command;

use common::redis::{ID_KEY, Redis, RedisCluster, gateway_on, replicas_on, wait_ready};
use common::{DEADLINE, Gateway, Reply, Sim, wait_until};
use serde_json::json;

const WRONG: &str = "wrong-password-7f3a";

/// A client whose connections come from `ip`.
fn client_from(ip: &str) -> reqwest::Client {
    let ip: IpAddr = ip.parse().expect("an IP");
    reqwest::Client::builder()
        .timeout(DEADLINE)
        .local_address(ip)
        .build()
        .expect("client")
}

/// `POST /sessions` from `ip`.
async fn login_from(gw: &Gateway, ip: &str, user: &str, password: &str) -> Reply {
    let request = client_from(ip)
        .post(gw.url("/sessions"))
        .json(&json!({"username": user, "password": password}));
    Reply::read(request.send().await.expect("POST /sessions")).await
}

async fn attempt(gw: &Gateway, user: &str, forwarded_for: Option<&str>) -> Reply {
    let mut req = common::client()
        .post(gw.url("/sessions"))
        .json(&json!({"username": user, "password": "wrong"}));
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    Reply::read(req.send().await.expect("POST")).await
}

/// Asserts a 429 from the limit `key`, with a usable `Retry-After`.
fn assert_limited(r: &Reply, key: &str) {
    r.assert_problem(429, "too_many_requests");
    let detail = r.json["detail"].as_str().unwrap_or("");
    assert!(detail.contains(key), "{detail}");
    let retry: u64 = r
        .header("retry-after")
        .parse()
        .expect("Retry-After seconds");
    assert!((1..=60).contains(&retry), "{retry}");
}

const PAIR: &str = "limits.login_per_username_per_minute";
const ALL_IPS: &str = "limits.login_per_username_all_ips_per_minute";
const PER_IP: &str = "limits.login_per_ip_per_minute";

/// `n` wrong-password logins for `demo` from 127.0.0.2, all at once, spread over
/// `replicas` in turn: how many got 401, how many 429, and every status.
async fn concurrent_guesses(replicas: &[&Gateway], n: usize) -> (usize, usize, Vec<u16>) {
    let guesses: Vec<_> = (0..n)
        .map(|i| {
            let request = client_from("127.0.0.2")
                .post(replicas[i % replicas.len()].url("/sessions"))
                .json(&json!({"username": "demo", "password": WRONG}));
            tokio::spawn(async move { request.send().await.expect("answer").status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.expect("join"));
    }
    let count = |status: u16| statuses.iter().filter(|s| **s == status).count();
    (count(401), count(429), statuses)
}

#[tokio::test]
async fn bad_logins_beyond_the_limit_get_429_with_retry_after() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[("WDGATE_LIMITS_LOGIN_PER_USERNAME_PER_MINUTE", "3")],
    );
    for _ in 0..3 {
        attempt(&gw, "demo", None)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let r = attempt(&gw, " DEMO ", None).await;
    assert_limited(&r, PAIR);
    assert_eq!(
        sim.calls("LOGON").await,
        3,
        "a limited attempt never reaches Worldox"
    );
    // Another user is not limited.
    attempt(&gw, "qc1", None)
        .await
        .assert_problem(401, "invalid_credentials");
}

#[tokio::test]
async fn an_attacker_failing_from_one_address_does_not_lock_out_the_user_at_another() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_LIMITS_LOGIN_PER_USERNAME_PER_MINUTE", "3"),
            ("WDGATE_LIMITS_LOGIN_PER_USERNAME_ALL_IPS_PER_MINUTE", "20"),
        ],
    );
    for _ in 0..3 {
        login_from(&gw, "127.0.0.2", "demo", WRONG)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    for _ in 0..5 {
        assert_limited(&login_from(&gw, "127.0.0.2", "demo", WRONG).await, PAIR);
    }
    let r = login_from(&gw, "127.0.0.1", "demo", "demo").await;
    assert_eq!(r.status, 201, "the user is not locked out: {}", r.text);
    // Even the user's own typo from their own address is still allowed.
    login_from(&gw, "127.0.0.1", "demo", WRONG)
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(sim.calls("LOGON").await, 5, "3 guesses, 1 login, 1 typo");
}

#[tokio::test]
async fn the_all_ips_cap_stops_a_guessing_attack_spread_over_addresses() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_LIMITS_LOGIN_PER_USERNAME_PER_MINUTE", "3"),
            ("WDGATE_LIMITS_LOGIN_PER_USERNAME_ALL_IPS_PER_MINUTE", "7"),
        ],
    );
    // 3 + 3 + 1 guesses from three addresses: the cap of 7 is met.
    for (ip, guesses) in [("127.0.0.2", 3), ("127.0.0.3", 3), ("127.0.0.4", 1)] {
        for _ in 0..guesses {
            login_from(&gw, ip, "demo", WRONG)
                .await
                .assert_problem(401, "invalid_credentials");
        }
    }
    assert_limited(&login_from(&gw, "127.0.0.5", "demo", WRONG).await, ALL_IPS);
    // Now the cap binds the user too, wherever they are: that is what it is for.
    assert_limited(&login_from(&gw, "127.0.0.1", "demo", "demo").await, ALL_IPS);
    assert_eq!(sim.calls("LOGON").await, 7);
    // Other users are untouched.
    assert_eq!(login_from(&gw, "127.0.0.1", "qc1", "qc1").await.status, 201);
}

#[tokio::test]
async fn a_successful_login_does_not_count_against_its_pair() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_LIMITS_LOGIN_PER_USERNAME_PER_MINUTE", "3"),
            ("WDGATE_LIMITS_LOGIN_PER_USERNAME_ALL_IPS_PER_MINUTE", "3"),
        ],
    );
    for _ in 0..8 {
        let r = login_from(&gw, "127.0.0.1", "Demo", "demo").await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    for _ in 0..3 {
        login_from(&gw, "127.0.0.1", "demo", WRONG)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    assert_limited(&login_from(&gw, "127.0.0.1", "demo", WRONG).await, PAIR);
}

#[tokio::test]
async fn concurrent_guesses_cannot_slip_past_the_pair_limit() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[("WDGATE_LIMITS_LOGIN_PER_USERNAME_PER_MINUTE", "5")],
    );
    // Slow Worldox answers, so every guess is in flight before the first is answered.
    sim.set_faults(json!({"latency_ms": 200})).await;
    let (wrong, refused, statuses) = concurrent_guesses(&[&gw], 30).await;
    sim.set_faults(json!({})).await;
    assert_eq!((wrong, refused), (5, 25), "{statuses:?}");
    assert_eq!(sim.calls("LOGON").await, 5);
}

#[tokio::test]
async fn logins_log_the_client_ip_and_never_the_password() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_LIMITS_LOGIN_PER_USERNAME_PER_MINUTE", "1"),
            ("WDGATE_LOG_LEVEL", "info"),
        ],
    );
    login_from(&gw, "127.0.0.3", "demo", WRONG)
        .await
        .assert_problem(401, "invalid_credentials");
    assert_limited(&login_from(&gw, "127.0.0.3", "demo", WRONG).await, PAIR);
    assert_eq!(
        login_from(&gw, "127.0.0.4", "demo", "demo").await.status,
        201
    );
    gw.wait_for_log("session created").await;
    let log = gw.log();
    let line = |needle: &str| {
        log.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} line in {log}"))
            .to_owned()
    };
    let failed = line("login failed");
    assert!(failed.contains("127.0.0.3") && failed.contains("invalid_credentials"));
    let refused = line("login refused by a limit");
    assert!(
        refused.contains("127.0.0.3") && refused.contains(PAIR),
        "{refused}"
    );
    assert!(line("session created").contains("127.0.0.4"));
    assert!(!log.contains(WRONG), "a password reached the log");
}

#[tokio::test]
async fn one_address_spraying_usernames_is_limited_and_spoofed_forwarded_for_does_not_help() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[("WDGATE_LIMITS_LOGIN_PER_IP_PER_MINUTE", "2")],
    );
    attempt(&gw, "a", Some("203.0.113.1"))
        .await
        .assert_problem(401, "invalid_credentials");
    attempt(&gw, "b", Some("203.0.113.2"))
        .await
        .assert_problem(401, "invalid_credentials");
    // The peer (127.0.0.1) is not a trusted proxy, so X-Forwarded-For is ignored.
    assert_limited(&attempt(&gw, "c", Some("203.0.113.3")).await, PER_IP);
    // Another peer is another client.
    login_from(&gw, "127.0.0.2", "c", WRONG)
        .await
        .assert_problem(401, "invalid_credentials");
}

#[tokio::test]
async fn a_forged_forwarded_for_does_not_give_an_attacker_fresh_pairs() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[("WDGATE_LIMITS_LOGIN_PER_USERNAME_PER_MINUTE", "2")],
    );
    for i in 0..6 {
        let r = Reply::read(
            client_from("127.0.0.2")
                .post(gw.url("/sessions"))
                .header("x-forwarded-for", format!("198.51.100.{i}"))
                .json(&json!({"username": "demo", "password": WRONG}))
                .send()
                .await
                .expect("POST"),
        )
        .await;
        if i < 2 {
            r.assert_problem(401, "invalid_credentials");
        } else {
            assert_limited(&r, PAIR);
        }
    }
    assert_eq!(sim.calls("LOGON").await, 2);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_ip_is_limited() {
    let sim = Sim::start().await;
    let dir = std::env::temp_dir().join(format!("wdgate-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("wdgate.toml");
    std::fs::write(
        &config,
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n[limits]\nlogin_per_ip_per_minute = 2\n",
    )
    .expect("config");
    let config = config.to_string_lossy().into_owned();
    let gw = Gateway::start_with_args(&["--config", &config, "--upstream", &sim.url()], &[]);
    attempt(&gw, "a", Some("203.0.113.1"))
        .await
        .assert_problem(401, "invalid_credentials");
    attempt(&gw, "b", Some("203.0.113.1"))
        .await
        .assert_problem(401, "invalid_credentials");
    assert_limited(&attempt(&gw, "c", Some("203.0.113.1")).await, PER_IP);
    // Another client behind the same proxy is not affected.
    attempt(&gw, "d", Some("203.0.113.2"))
        .await
        .assert_problem(401, "invalid_credentials");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn beyond_the_concurrency_limit_requests_are_shed_with_503() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[("WDGATE_SERVER_MAX_CONCURRENT_REQUESTS", "1")],
    );
    sim.set_faults(json!({"latency_ms": 1500})).await;
    let slow = gw.login_in_flight("demo", "demo");
    wait_until(|| async { sim.calls("LOGON").await == 1 }).await;
    let r = gw.login_attempt("demo", "demo").await;
    r.assert_problem(503, "overloaded");
    assert_eq!(r.header("retry-after"), "1");
    assert_eq!(
        gw.get("/healthz", None).await.status,
        200,
        "probes are not shed"
    );
    assert_eq!(
        slow.await.expect("join"),
        201,
        "the admitted request completes"
    );
    sim.set_faults(json!({})).await;
    assert_eq!(gw.login_attempt("demo", "demo").await.status, 201);
}

// With the Redis store: the counts are the fleet's.

/// Settings every Redis replica in these tests shares.
fn fleet(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut env = vec![("WDGATE_DEVICES_ID_KEY", ID_KEY)];
    env.extend_from_slice(extra);
    env
}

#[tokio::test]
async fn wrong_passwords_alternating_between_two_replicas_meet_429_at_the_limit() {
    let Some(redis) = Redis::start_own() else {
        return;
    };
    let sim = Sim::start().await;
    // The default limit: 10 failed logins per username and address per minute.
    let (a, b) = replicas_on(&sim.url(), &redis.url, &fleet(&[])).await;
    let mut statuses = Vec::new();
    for i in 0..12 {
        let replica = if i % 2 == 0 { &a } else { &b };
        let r = login_from(replica, "127.0.0.1", "demo", WRONG).await;
        if r.status == 429 {
            assert_limited(&r, PAIR);
        } else {
            r.assert_problem(401, "invalid_credentials");
        }
        statuses.push(r.status);
    }
    let counted = statuses.iter().filter(|s| **s == 401).count();
    println!(
        "attempts counted across replicas: {counted} of 12 alternating wrong passwords \
         reached Worldox (limit 10); answers {statuses:?}"
    );
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10..], [429, 429]);
    assert_eq!(sim.calls("LOGON").await, 10);
}

#[tokio::test]
async fn concurrent_guesses_on_two_replicas_cannot_slip_past_the_fleet_limit() {
    let Some(redis) = Redis::start_own() else {
        return;
    };
    let sim = Sim::start().await;
    let env = fleet(&[("WDGATE_LIMITS_LOGIN_PER_USERNAME_PER_MINUTE", "4")]);
    let (a, b) = replicas_on(&sim.url(), &redis.url, &env).await;
    sim.set_faults(json!({"latency_ms": 200})).await;
    let (wrong, refused, statuses) = concurrent_guesses(&[&a, &b], 40).await;
    sim.set_faults(json!({})).await;
    assert_eq!((wrong, refused), (4, 36), "{statuses:?}");
    assert_eq!(sim.calls("LOGON").await, 4);
}

#[tokio::test]
async fn across_replicas_an_attacker_elsewhere_does_not_lock_out_the_user_until_the_cap() {
    let Some(redis) = Redis::start_own() else {
        return;
    };
    let sim = Sim::start().await;
    let env = fleet(&[
        ("WDGATE_LIMITS_LOGIN_PER_USERNAME_PER_MINUTE", "3"),
        ("WDGATE_LIMITS_LOGIN_PER_USERNAME_ALL_IPS_PER_MINUTE", "6"),
    ]);
    let (a, b) = replicas_on(&sim.url(), &redis.url, &env).await;
    // The attacker's guesses from 127.0.0.2 alternate between the replicas.
    for (i, status) in [401, 401, 401, 429].into_iter().enumerate() {
        let replica = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            login_from(replica, "127.0.0.2", "qc1", WRONG).await.status,
            status
        );
    }
    // The user, at 127.0.0.1, logs in on either replica.
    assert_eq!(login_from(&a, "127.0.0.1", "qc1", "qc1").await.status, 201);
    assert_eq!(login_from(&b, "127.0.0.1", "qc1", "qc1").await.status, 201);
    // Three more guesses from another address meet the cap of 6 for everyone.
    for replica in [&b, &a, &b] {
        login_from(replica, "127.0.0.3", "qc1", WRONG)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    assert_limited(&login_from(&a, "127.0.0.1", "qc1", "qc1").await, ALL_IPS);
    assert_limited(&login_from(&b, "127.0.0.4", "qc1", WRONG).await, ALL_IPS);
}

/// `redis-cli` against `redis`, one reply item per line.
fn cli(redis: &Redis, args: &[&str]) -> Vec<String> {
    let out = Command::new("redis-cli")
        .args(["-u", &redis.url, "--raw"])
        .args(args)
        .output()
        .expect("run redis-cli");
    assert!(out.status.success(), "redis-cli {args:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_fleet_counts_in_redis_keys_that_expire_and_name_no_user_or_address() {
    let Some(redis) = Redis::start_own() else {
        return;
    };
    let sim = Sim::start().await;
    let gw = gateway_on(&sim.url(), &redis.url, &fleet(&[]));
    wait_ready(&gw).await;
    let user = "Limits.Probe.User";
    for ip in ["127.0.0.2", "127.0.0.3"] {
        login_from(&gw, ip, user, WRONG)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let keys = cli(&redis, &["--scan", "--pattern", "wdgate:{limits}:*"]);
    // (user, .2), (user, .3), user, .2, .3
    assert_eq!(keys.len(), 5, "{keys:?}");
    let mut dump = keys.join("\n");
    for key in &keys {
        assert_eq!(cli(&redis, &["TYPE", key]), ["zset"]);
        let ttl: i64 = cli(&redis, &["PTTL", key])[0].parse().expect("PTTL");
        assert!((1..=60_000).contains(&ttl), "{key}: {ttl}");
        dump.push('\n');
        dump.push_str(&cli(&redis, &["ZRANGE", key, "0", "-1", "WITHSCORES"]).join("\n"));
    }
    for clear in [
        "limits.probe.user",
        "Limits.Probe.User",
        "127.0.0",
        "7f000002",
    ] {
        assert!(
            !dump.to_lowercase().contains(&clear.to_lowercase()),
            "{clear} in {dump}"
        );
    }
}

#[tokio::test]
async fn when_redis_stops_answering_each_replica_still_limits_logins_on_its_own() {
    let Some(mut redis) = Redis::start_own() else {
        return;
    };
    let sim = Sim::start().await;
    let gw = gateway_on(
        &sim.url(),
        &redis.url,
        &fleet(&[
            ("WDGATE_LIMITS_LOGIN_PER_USERNAME_PER_MINUTE", "2"),
            ("WDGATE_SESSION_REDIS_TIMEOUT_MS", "200"),
        ]),
    );
    wait_ready(&gw).await;
    login_from(&gw, "127.0.0.2", "demo", WRONG)
        .await
        .assert_problem(401, "invalid_credentials");
    redis.kill();
    // Neither locked out (Worldox still judges the password)...
    login_from(&gw, "127.0.0.2", "demo", WRONG)
        .await
        .assert_problem(401, "invalid_credentials");
    login_from(&gw, "127.0.0.2", "demo", WRONG)
        .await
        .assert_problem(401, "invalid_credentials");
    // ...nor unlimited: this replica counted on its own.
    assert_limited(&login_from(&gw, "127.0.0.2", "demo", WRONG).await, PAIR);
    gw.wait_for_log("Redis cannot count the limits").await;
    assert_eq!(sim.calls("LOGON").await, 3);
    // Redis is back (empty): the fleet's count starts again there. `/readyz` may still
    // answer from a check made before the outage, so wait on the limits themselves: a
    // login from a fresh address each time, until one is counted in Redis.
    redis.restart();
    let started = std::time::Instant::now();
    for last in 5..=250u8 {
        let r = login_from(&gw, &format!("127.0.0.{last}"), "demo", WRONG).await;
        assert_ne!(r.status, 503, "{}", r.text);
        if gw.log().contains("Redis counts the limits again") {
            break;
        }
        assert!(
            started.elapsed() < common::DEADLINE && last < 250,
            "the limits never went back to Redis"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let keys = cli(&redis, &["--scan", "--pattern", "wdgate:{limits}:*"]);
    assert!(keys.len() >= 3, "counted in Redis again: {keys:?}");
}

#[tokio::test]
async fn when_redis_hangs_the_check_times_out_and_the_replica_counts_on_its_own() {
    let Some(redis) = Redis::start_own() else {
        return;
    };
    let sim = Sim::start().await;
    let gw = gateway_on(
        &sim.url(),
        &redis.url,
        &fleet(&[
            ("WDGATE_LIMITS_LOGIN_PER_USERNAME_PER_MINUTE", "2"),
            ("WDGATE_SESSION_REDIS_TIMEOUT_MS", "200"),
        ]),
    );
    wait_ready(&gw).await;
    // Frozen: the connection stays open and nothing answers.
    redis.pause();
    for _ in 0..2 {
        login_from(&gw, "127.0.0.2", "demo", WRONG)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    assert_limited(&login_from(&gw, "127.0.0.2", "demo", WRONG).await, PAIR);
    redis.resume();
    gw.wait_for_log("Redis cannot count the limits").await;
    assert_eq!(sim.calls("LOGON").await, 2);
}

#[tokio::test]
async fn login_limits_hold_on_a_real_redis_cluster() {
    let Some(cluster) = RedisCluster::start(3) else {
        return;
    };
    let sim = Sim::start().await;
    let env = fleet(&[("WDGATE_LIMITS_LOGIN_PER_USERNAME_PER_MINUTE", "3")]);
    let (a, b) = replicas_on(&sim.url(), &cluster.url(), &env).await;
    for i in 0..3 {
        let replica = if i % 2 == 0 { &a } else { &b };
        login_from(replica, "127.0.0.2", "demo", WRONG)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    // All keys of one check share a hash slot, so the script runs on one node.
    assert_limited(&login_from(&b, "127.0.0.2", "demo", WRONG).await, PAIR);
    assert_eq!(
        login_from(&a, "127.0.0.1", "demo", "demo").await.status,
        201
    );
    assert!(
        !a.log().contains("Redis cannot count the limits"),
        "{}",
        a.log()
    );
}
