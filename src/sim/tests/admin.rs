//! The `/_sim/` routes, fault injection and start-up errors.

use super::*;
use crate::sim::{Faults, SimError};

#[tokio::test]
async fn stats_count_every_cgi_request_by_uppercase_command() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    sim.list(&sid, true).await;
    sim.raw("2fget+wd_SID=nope", None, None).await;
    sim.raw("LOGOFF&wd_SID=nope", None, None).await;
    sim.raw("Whatever", None, None).await;
    sim.admin(Method::GET, "/_sim/outbox", None).await;
    let stats = sim.admin(Method::GET, "/_sim/stats", None).await;
    assert_eq!(stats.status, StatusCode::OK);
    assert_eq!(
        stats.json(),
        serde_json::json!({
            "calls": {"LOGON": 1, "2FGET": 2, "LOGOFF": 1, "WHATEVER": 1},
            "file_bodies_open": 0,
            "capacity": 0,
            "in_service": 0,
            "in_service_max": 1,
            "queued": 0,
            "queued_max": 0
        })
    );
}

#[tokio::test]
async fn outbox_filters_by_normalized_address() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    sim.set(&sid, &send_form("(551) 655-5721")).await;
    sim.set(&sid, &send_form("demo@example.com")).await;
    let all = sim.admin(Method::GET, "/_sim/outbox", None).await.json();
    assert_eq!(all.as_array().unwrap().len(), 2);
    let keys: Vec<&String> = all[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["action", "code", "object", "ref", "to", "user"]);
    let phone = sim
        .admin(Method::GET, "/_sim/outbox?to=%2B15516555721", None)
        .await
        .json();
    assert_eq!(phone.as_array().unwrap().len(), 1);
    assert_eq!(phone[0]["to"], "+15516555721");
    let none = sim
        .admin(Method::GET, "/_sim/outbox?to=x%40y.z", None)
        .await
        .json();
    assert_eq!(none, serde_json::json!([]));
}

async fn put_faults(sim: &Sim, faults: &Faults) {
    let body = serde_json::to_string(faults).unwrap();
    let answer = sim.admin(Method::PUT, "/_sim/faults", Some(&body)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn faults_can_be_read_and_replaced() {
    let sim = Sim::demo();
    let read = sim.admin(Method::GET, "/_sim/faults", None).await.json();
    assert_eq!(read["garbage_ratio"], 0.0);
    let faults = Faults {
        latency_ms: 5,
        error_ratio: 0.5,
        ..Faults::default()
    };
    put_faults(&sim, &faults).await;
    let read: Faults =
        serde_json::from_str(&sim.admin(Method::GET, "/_sim/faults", None).await.body).unwrap();
    assert_eq!(read, faults);
    let bad = sim
        .admin(Method::PUT, "/_sim/faults", Some(r#"{"drop_ratio": 2}"#))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn garbage_faults_answer_html_and_spare_admin_routes() {
    let sim = Sim::demo();
    put_faults(
        &sim,
        &Faults {
            garbage_ratio: 1.0,
            ..Faults::default()
        },
    )
    .await;
    let query = Params::new().to_query(command::LOGON);
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("{CGI_PATH}?{query}"))
        .body(Body::from(logon_form("demo", "demo").to_form()))
        .unwrap();
    let answer = sim.request(request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, "text/html");
    assert!(answer.body.starts_with("<html><body>Internal Server Error"));
    assert!(serde_json::from_str::<Value>(&answer.body).is_err());
    let stats = sim.admin(Method::GET, "/_sim/stats", None).await;
    assert_eq!(stats.json()["calls"]["LOGON"], 1);
}

#[tokio::test]
async fn error_faults_answer_an_unknown_code_in_the_commands_envelope() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    put_faults(
        &sim,
        &Faults {
            error_ratio: 1.0,
            ..Faults::default()
        },
    )
    .await;
    let v = sim.list(&sid, true).await;
    assert_eq!(v["root"]["errorStatus"]["ErrorCount"], "1");
    assert_eq!(v["root"]["errorStatus"]["wd_Error_RCID"], "8999");
    assert_eq!(v["root"]["data"][0]["Rec"], "%:R#%");
    let v = sim
        .post(command::LOGON, &Params::new(), &logon_form("demo", "demo"))
        .await;
    assert_eq!(v["root"]["data"]["session"], "");
    assert_eq!(rctx(&v), "WDRC_SIM_INJECTED_FAULT");
}

#[tokio::test]
async fn drop_faults_break_the_body() {
    let sim = Sim::demo();
    put_faults(
        &sim,
        &Faults {
            drop_ratio: 1.0,
            ..Faults::default()
        },
    )
    .await;
    let request = Request::builder()
        .uri(format!("{CGI_PATH}?LOGOFF"))
        .body(Body::empty())
        .unwrap();
    let response = sim.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(to_bytes(response.into_body(), usize::MAX).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn hang_faults_never_answer_and_latency_delays() {
    let config = SimConfig {
        faults: Faults {
            hang_ratio: 1.0,
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let sim = Sim::with(&config);
    let call = sim.raw("LOGOFF", None, None);
    let timed = tokio::time::timeout(std::time::Duration::from_secs(600), call).await;
    assert!(timed.is_err(), "a hung request must not answer");

    put_faults(
        &sim,
        &Faults {
            latency_ms: 2000,
            ..Faults::default()
        },
    )
    .await;
    let start = tokio::time::Instant::now();
    sim.raw("LOGOFF", None, None).await;
    assert!(start.elapsed() >= std::time::Duration::from_millis(2000));
}

#[test]
fn start_up_errors_name_the_users_file() {
    let missing = std::env::temp_dir().join("wdgate-sim-no-such-users.toml");
    let config = SimConfig {
        users_file: Some(missing.clone()),
        ..SimConfig::default()
    };
    let err = Simulator::new(&config).unwrap_err();
    assert!(matches!(err, SimError::ReadUsers { .. }));
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );

    for (text, expected) in [
        ("[[users]]\nusername = 1\n", "invalid simulator users file"),
        (
            "[[users]]\nusername = \"a\"\npassword = \"b\"\ncolour = \"red\"\n",
            "colour",
        ),
        ("", "no [[users]]"),
        (
            "[[users]]\nusername = \"a\"\npassword = \"b\"\n[[users.devices]]\naddress = \"nope\"\n",
            "neither an email address nor a phone number",
        ),
        (
            "[[users]]\nusername = \"a\"\npassword = \"b\"\n[[users]]\nusername = \"A\"\npassword = \"c\"\n",
            "defined twice",
        ),
    ] {
        let path = temp_users_file(text);
        let config = SimConfig {
            users_file: Some(path.clone()),
            ..SimConfig::default()
        };
        let err = Simulator::new(&config).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(expected), "{err}");
    }
}

#[test]
fn a_users_file_replaces_the_demo_users() {
    let sim = Sim::with_users(
        "[[users]]\nusername = \"alice\"\npassword = \"pw\"\nname = \"Alice\"\n\
         [[users.devices]]\naddress = \"+442079460958\"\nname = \"London\"\nenabled = false\n",
    );
    assert_eq!(sim.sim.users(), ["alice"]);
    assert!(format!("{:?}", sim.sim).contains("alice"));
}

#[test]
fn invalid_fault_ratios_are_refused_at_start() {
    let config = SimConfig {
        faults: Faults {
            error_ratio: f64::NAN,
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let err = Simulator::new(&config).unwrap_err();
    assert!(err.to_string().contains("error_ratio"), "{err}");
}

#[test]
fn sim_config_reads_from_toml_with_defaults() {
    let config: SimConfig =
        toml::from_str("sid_idle_secs = 5\n[faults]\nlatency_ms = 10\n").unwrap();
    assert_eq!(config.sid_idle_secs, 5);
    assert_eq!(config.code_ttl_secs, 600);
    assert_eq!(config.faults.latency_ms, 10);
    assert!(toml::from_str::<SimConfig>("nope = 1\n").is_err());
    let user = &crate::sim::demo_users()[2];
    assert!(!format!("{user:?}").contains(&user.password));
}
