//! The simulator's CGI pool over a real socket: calls beyond `sim.capacity` queue, as
//! an IIS CGI pool makes them, and `/_sim/stats` counts how many were in service.

mod common;

use std::time::{Duration, Instant};

use common::Sim;
use wdgate::sim::SimConfig;

#[tokio::test]
async fn calls_beyond_the_capacity_queue_for_a_slot() {
    let sim = Sim::with_config(SimConfig {
        capacity: 2,
        call_ms: 200,
        ..SimConfig::default()
    })
    .await;
    let started = Instant::now();
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let sim_url = sim.url();
            tokio::spawn(async move {
                let form = wdgate::upstream::cgi::Params::new()
                    .with("wd_User_Code_Value", "demo")
                    .with("wd_User_Password_Value", "demo")
                    .to_form();
                let resp = common::client()
                    .post(format!("{sim_url}/cgi-bin/wdwebcgi.exe?LOGON"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form)
                    .send()
                    .await
                    .expect("LOGON");
                let status = resp.status().as_u16();
                let body: serde_json::Value = resp.json().await.expect("LOGON JSON");
                (status, body)
            })
        })
        .collect();
    for call in calls {
        let (status, body) = call.await.expect("call task");
        assert_eq!(status, 200);
        assert!(
            body["root"]["data"]["session"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "every queued LOGON is still served: {body}"
        );
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400),
        "4 calls of 200 ms through 2 slots take two rounds, took {elapsed:?}"
    );
    let stats = sim.admin(reqwest::Method::GET, "stats", None).await;
    assert_eq!(stats["capacity"], 2);
    assert_eq!(
        stats["in_service_max"], 2,
        "never more than 2 in service: {stats}"
    );
    assert_eq!(stats["in_service"], 0);
    assert_eq!(stats["queued"], 0);
    assert!(
        stats["queued_max"]
            .as_u64()
            .is_some_and(|q| (1..=2).contains(&q)),
        "calls waited for a slot: {stats}"
    );
    assert_eq!(stats["calls"]["LOGON"], 4);
}

#[tokio::test]
async fn an_unlimited_simulator_serves_every_call_at_once() {
    let sim = Sim::with_config(SimConfig {
        call_ms: 200,
        ..SimConfig::default()
    })
    .await;
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let url = format!("{}/cgi-bin/wdwebcgi.exe?2FGET", sim.url());
            tokio::spawn(async move { common::client().get(url).send().await.expect("2FGET") })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.expect("call task").status().as_u16(), 200);
    }
    let stats = sim.admin(reqwest::Method::GET, "stats", None).await;
    assert_eq!(stats["capacity"], 0);
    assert_eq!(
        stats["queued_max"], 0,
        "nothing queues without a capacity: {stats}"
    );
    assert_eq!(stats["in_service"], 0);
    assert!(
        stats["in_service_max"]
            .as_u64()
            .is_some_and(|n| (1..=4).contains(&n))
    );
}
