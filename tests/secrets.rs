//! No secret reaches a client or a log line: the Worldox SID (raw or URL-encoded),
//! passwords, gateway tokens, LOGON's rsSecret/rsClient and uploadFolder paths.

mod common;

use common::{Gateway, Reply, Sim};
use reqwest::Method;
use serde_json::json;

const TRICKY_PASSWORD: &str = "p+a&s=s%w#rd 1\u{e9}";
const WRONG_PASSWORD: &str = "Wr0ng-But-Secret-Pa55";

#[tokio::test]
async fn no_secret_reaches_a_response_or_the_log() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let upstream_secrets = sim.direct_logon("tricky", TRICKY_PASSWORD).await;
    let rs_secret = upstream_secrets["root"]["data"]["rsSecret"]
        .as_str()
        .expect("rsSecret")
        .to_owned();
    let rs_client = upstream_secrets["root"]["data"]["rsClient"]
        .as_str()
        .expect("rsClient")
        .to_owned();
    let mut replies: Vec<Reply> = Vec::new();

    // A full session: login (tricky and demo), profile, devices, an add flow, errors.
    let login = gw
        .post_json(
            "/sessions",
            &json!({"username": "tricky", "password": TRICKY_PASSWORD}),
            None,
        )
        .await;
    let tricky_token = login.json["token"].as_str().expect("token").to_owned();
    let demo = gw.login_attempt("demo", "demo").await;
    let token = demo.json["token"].as_str().expect("token").to_owned();
    replies.push(
        gw.post_json(
            "/sessions",
            &json!({"username": "demo", "password": WRONG_PASSWORD}),
            None,
        )
        .await,
    );
    replies.push(gw.get("/me", Some(&tricky_token)).await);
    replies.push(gw.get("/me/2fa-devices?redact=false", Some(&token)).await);
    let verification = gw
        .post_json(
            "/me/2fa-devices/verifications",
            &json!({"address": "leak@example.com"}),
            Some(&token),
        )
        .await;
    let code = sim.outbox().await.last().expect("code")["code"]
        .as_str()
        .expect("code")
        .to_owned();
    // The verify step's own routes, read and posted (the create then sends step 3 alone).
    let verification_path = format!(
        "/me/2fa-devices/verifications/{}",
        verification.json["verification_id"].as_str().expect("id")
    );
    replies.push(gw.get(&verification_path, Some(&token)).await);
    replies.push(
        gw.post_json(&verification_path, &json!({"code": code}), Some(&token))
            .await,
    );
    let body = json!({"address": "leak@example.com", "name": "Leak", "code": code,
                      "verification_id": verification.json["verification_id"]});
    replies.push(gw.post_json("/me/2fa-devices", &body, Some(&token)).await);
    replies.push(verification);
    let sessions = sim.admin(Method::GET, "sessions", None).await;
    let sids: Vec<String> = sessions
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| s["sid"].as_str().expect("sid").to_owned())
        .collect();
    assert!(sids.len() >= 3, "the simulator holds the SIDs: {sessions}");
    // Upstream expiry: Worldox answers WDRC_SID_INVALID with the SID in wd_Error_VAL.
    sim.expire_sessions().await;
    replies.push(gw.get("/me/2fa-devices/dev_x", Some(&token)).await);
    replies.push(gw.get("/me/2fa-devices", Some(&token)).await);
    replies.push(gw.delete("/sessions/current", Some(&tricky_token)).await);

    let mut secrets: Vec<String> = vec![
        TRICKY_PASSWORD.to_owned(),
        "p%2Ba%26s%3Ds%25w%23rd".to_owned(),
        WRONG_PASSWORD.to_owned(),
        rs_secret,
        rs_client,
        "WDSIDS".to_owned(),
    ];
    for sid in &sids {
        secrets.push(sid.clone());
        secrets.push(sid.replace('$', "%24"));
        // The SID's first 20 characters are enough to be a leak.
        secrets.push(sid.chars().take(20).collect());
    }
    for reply in &replies {
        let headers = format!("{:?}", reply.headers);
        for secret in &secrets {
            assert!(
                !reply.text.contains(secret.as_str()),
                "a response body leaks {secret:?}: {}",
                reply.text
            );
            assert!(
                !headers.contains(secret.as_str()),
                "a response header leaks {secret:?}"
            );
        }
    }
    assert!(
        replies.iter().any(|r| r.json["code"] == "session_expired"),
        "the SID_INVALID path ran"
    );

    gw.wait_for_log("session ended").await;
    let log = gw.log();
    assert!(log.contains("request"), "the log was captured: {log}");
    secrets.push(tricky_token.clone());
    secrets.push(token.clone());
    secrets.push(tricky_token["wdg_".len()..].to_owned());
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "the log leaks {secret:?}:\n{log}"
        );
    }
}

#[tokio::test]
async fn json_logs_carry_the_request_id_and_no_secrets() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[("WDGATE_LOG_FORMAT", "json")]);
    let r = gw
        .post_json(
            "/sessions",
            &json!({"username": "demo", "password": WRONG_PASSWORD}),
            None,
        )
        .await;
    let id = r.header("x-request-id").to_owned();
    gw.wait_for_log(&id).await;
    let log = gw.log();
    let line = log
        .lines()
        .find(|l| l.contains(&id))
        .expect("a line with the id");
    let parsed: serde_json::Value = serde_json::from_str(line).expect("JSON log line");
    assert!(parsed.get("level").is_some(), "{line}");
    assert!(!log.contains(WRONG_PASSWORD));
}
