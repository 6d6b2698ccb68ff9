//! Sessions users can see and end, over real HTTP: `GET /me/sessions`,
//! `DELETE /me/sessions/{id}`, `DELETE /me/sessions?others=true`, the operator's
//! `DELETE /admin/users/{username}/sessions`, and the links on the login and `/me`
//! answers; with the memory store, with a real redis-server (two replicas on it), and
//! on a real Redis Cluster.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::redis::{
    ENCRYPTION_KEY, ID_KEY, Redis, RedisCluster, gateway_on, open_session, replicas_on,
    session_key, time_to_401, wait_ready,
};
use common::{Gateway, Reply, Sim, client, wait_every, wait_until};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wdgate::session::{Sealer, TokenHash};

/// The sim's second user and password.
const TRICKY: &str = "tricky";
const TRICKY_PASSWORD: &str = "p+a&s=s%w#rd 1\u{e9}";

/// The operator token of the admin tests, and its SHA-256 as the config holds it.
const OPERATOR_TOKEN: &str = "op_5cN1q7bG2vVh0pXr3mT8wK4zLdYs6eJa";

/// Longer than any wait below, so only a pub/sub invalidation can explain a fast 401.
const LONG_L1: &str = "5000";

/// The logout propagation bound `tests/redis_store.rs` holds `DELETE /sessions/current` to.
const PROPAGATION_BUDGET: Duration = Duration::from_millis(100);

fn operator_digest() -> String {
    Sha256::digest(OPERATOR_TOKEN.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A login with a `User-Agent`; the whole answer.
async fn login_as(gw: &Gateway, user: &str, password: &str, agent: &str) -> Reply {
    let request = client()
        .post(gw.url("/sessions"))
        .header("user-agent", agent)
        .json(&json!({"username": user, "password": password}));
    let r = Reply::read(request.send().await.expect("POST /sessions")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r
}

/// The token and session id of a login answer.
fn token_and_id(r: &Reply) -> (String, String) {
    (
        r.json["token"].as_str().expect("token").to_owned(),
        r.json["id"].as_str().expect("id").to_owned(),
    )
}

/// `GET /me/sessions` with `token`: the answer, checked to be a 200.
async fn list(gw: &Gateway, token: &str) -> Value {
    let r = gw.get("/me/sessions", Some(token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), "no-store");
    r.json
}

/// The ids in a listing (logins within one second have no order among them), after
/// checking it is newest first.
fn ids(listing: &Value) -> BTreeSet<String> {
    let sessions = listing["sessions"].as_array().expect("sessions");
    let created: Vec<u64> = sessions
        .iter()
        .map(|s| s["created_at"].as_u64().expect("created_at"))
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {created:?}"
    );
    sessions
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect()
}

/// The set of `ids`.
fn set<const N: usize>(ids: [&String; N]) -> BTreeSet<String> {
    ids.into_iter().cloned().collect()
}

/// `DELETE` with an operator token (or none).
async fn admin_delete(gw: &Gateway, path: &str, bearer: Option<&str>) -> Reply {
    let mut request = client().request(Method::DELETE, gw.url(path));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    Reply::read(request.send().await.expect("DELETE")).await
}

fn rels(links: &Value) -> Vec<(String, String, String)> {
    links
        .as_array()
        .expect("_links")
        .iter()
        .map(|l| {
            for field in ["rel", "href", "method", "title"] {
                assert!(l[field].is_string(), "link field {field}: {l}");
            }
            (
                l["rel"].as_str().expect("rel").to_owned(),
                l["href"].as_str().expect("href").to_owned(),
                l["method"].as_str().expect("method").to_owned(),
            )
        })
        .collect()
}

fn owned(links: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    links
        .iter()
        .map(|(r, h, m)| ((*r).to_owned(), (*h).to_owned(), (*m).to_owned()))
        .collect()
}

// ------------------------------------------------------------------ memory store

#[tokio::test]
async fn the_list_shows_every_session_with_current_on_the_right_one_and_links_everywhere() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let long_agent = format!("Mozilla/5.0 (X11)\t{}", "x".repeat(300));
    let first = login_as(&gw, "demo", "demo", "curl/8.5.0").await;
    let second = login_as(&gw, "demo", "demo", &long_agent).await;
    let (token_a, id_a) = token_and_id(&first);
    let (token_b, id_b) = token_and_id(&second);
    assert!(id_a.starts_with("ses_") && id_a.len() == 26, "{id_a}");
    assert_ne!(id_a, id_b);
    assert!(!token_a.contains(&id_a[4..]) && !id_a.contains(&token_a[4..]));
    assert_eq!(
        rels(&first.json["_links"]),
        owned(&[
            ("me", "/me", "GET"),
            ("devices", "/me/2fa-devices", "GET"),
            ("sessions", "/me/sessions", "GET"),
            ("logout", "/sessions/current", "DELETE"),
        ])
    );

    let me = gw.get("/me", Some(&token_a)).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["session"]["id"], id_a);
    assert_eq!(
        rels(&me.json["_links"]),
        owned(&[
            ("self", "/me", "GET"),
            ("devices", "/me/2fa-devices", "GET"),
            ("sessions", "/me/sessions", "GET"),
            ("logout", "/sessions/current", "DELETE"),
        ])
    );

    for (token, current) in [(&token_a, &id_a), (&token_b, &id_b)] {
        let listing = list(&gw, token).await;
        assert_eq!(ids(&listing), set([&id_b, &id_a]));
        assert_eq!(
            rels(&listing["_links"]),
            owned(&[
                ("self", "/me/sessions", "GET"),
                ("end-others", "/me/sessions?others=true", "DELETE"),
                ("me", "/me", "GET"),
            ])
        );
        for s in listing["sessions"].as_array().expect("sessions") {
            let is_current = s["id"] == **current;
            assert_eq!(s["current"], is_current, "{s}");
            assert_eq!(s["client_ip"], "127.0.0.1");
            let created = s["created_at"].as_u64().expect("created_at");
            assert!(s["last_seen_at"].as_u64().expect("last_seen_at") >= created);
            assert_eq!(
                s["expires_at"].as_u64().expect("expires_at"),
                created + 8 * 3600
            );
            let expected_links = if is_current {
                owned(&[("logout", "/sessions/current", "DELETE")])
            } else {
                let href = format!("/me/sessions/{}", s["id"].as_str().expect("id"));
                vec![("end".to_owned(), href, "DELETE".to_owned())]
            };
            assert_eq!(rels(&s["_links"]), expected_links);
            let keys: Vec<&String> = s.as_object().expect("object").keys().collect();
            assert_eq!(keys.len(), 8, "nothing else is shown: {keys:?}");
        }
        let agent_of = |id: &str| {
            listing["sessions"]
                .as_array()
                .expect("sessions")
                .iter()
                .find(|s| s["id"] == id)
                .and_then(|s| s["user_agent"].as_str())
                .expect("user_agent")
                .to_owned()
        };
        assert_eq!(agent_of(&id_a), "curl/8.5.0");
        let long = agent_of(&id_b);
        assert_eq!(long.chars().count(), 200, "trimmed to 200");
        assert!(
            long.starts_with("Mozilla/5.0 (X11)xxx"),
            "tab removed: {long}"
        );
    }
}

#[tokio::test]
async fn ending_one_session_logs_it_off_and_others_true_keeps_only_the_current() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let (a, _) = token_and_id(&login_as(&gw, "demo", "demo", "a").await);
    let (b, id_b) = token_and_id(&login_as(&gw, "demo", "demo", "b").await);
    let (c, id_c) = token_and_id(&login_as(&gw, "demo", "demo", "c").await);
    let (d, id_d) = token_and_id(&login_as(&gw, "demo", "demo", "d").await);

    let r = gw.delete(&format!("/me/sessions/{id_b}"), Some(&a)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    gw.get("/me", Some(&b))
        .await
        .assert_problem(401, "invalid_token");
    assert_eq!(
        sim.calls("LOGOFF").await,
        1,
        "its Worldox session was logged off"
    );
    let r = gw.delete(&format!("/me/sessions/{id_b}"), Some(&a)).await;
    r.assert_problem(404, "not_found");
    assert!(!ids(&list(&gw, &a).await).contains(&id_b));

    for bad in [
        "/me/sessions",
        "/me/sessions?others=false",
        "/me/sessions?others=yes",
    ] {
        let r = gw.delete(bad, Some(&a)).await;
        r.assert_problem(400, "bad_request");
        assert!(r.text.contains("/sessions/current"), "{}", r.text);
    }
    assert_eq!(
        list(&gw, &a).await["sessions"].as_array().map(Vec::len),
        Some(3)
    );

    let r = gw.delete("/me/sessions?others=true", Some(&a)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    for gone in [&c, &d] {
        gw.get("/me", Some(gone))
            .await
            .assert_problem(401, "invalid_token");
    }
    assert_eq!(
        gw.get("/me", Some(&a)).await.status,
        200,
        "the current lives on"
    );
    let listing = list(&gw, &a).await;
    assert_eq!(listing["sessions"].as_array().map(Vec::len), Some(1));
    assert_eq!(listing["sessions"][0]["current"], true);
    assert!(!ids(&listing).contains(&id_c) && !ids(&listing).contains(&id_d));
    assert_eq!(sim.calls("LOGOFF").await, 3);
    // Nothing left to end: still 204, and no LOGOFF.
    let r = gw.delete("/me/sessions?others=true", Some(&a)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(sim.calls("LOGOFF").await, 3);
    let r = gw.delete("/me/sessions?others=true", None).await;
    r.assert_problem(401, "missing_token");
}

#[tokio::test]
async fn another_users_session_ids_and_unknown_ids_are_404_alike() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let (demo, demo_id) = token_and_id(&login_as(&gw, "demo", "demo", "demo").await);
    let (tricky, tricky_id) = token_and_id(&login_as(&gw, TRICKY, TRICKY_PASSWORD, "t").await);
    assert_eq!(ids(&list(&gw, &demo).await), set([&demo_id]));
    assert_eq!(ids(&list(&gw, &tricky).await), set([&tricky_id]));

    let theirs = gw
        .delete(&format!("/me/sessions/{tricky_id}"), Some(&demo))
        .await;
    theirs.assert_problem(404, "not_found");
    let made_up = format!("ses_{}", "A".repeat(22));
    let unknown = gw
        .delete(&format!("/me/sessions/{made_up}"), Some(&demo))
        .await;
    unknown.assert_problem(404, "not_found");
    assert_eq!(
        theirs.json["detail"], unknown.json["detail"],
        "nothing told apart"
    );
    for junk in ["x", "ses_", "%2e%2e", "ses_%00"] {
        let r = gw
            .delete(&format!("/me/sessions/{junk}"), Some(&demo))
            .await;
        r.assert_problem(404, "not_found");
    }
    assert_eq!(gw.get("/me", Some(&tricky)).await.status, 200, "untouched");
    assert_eq!(sim.calls("LOGOFF").await, 0);
    let others = gw.delete("/me/sessions?others=true", Some(&demo)).await;
    assert_eq!(others.status, 204);
    assert_eq!(
        gw.get("/me", Some(&tricky)).await.status,
        200,
        "others = mine only"
    );
}

#[tokio::test]
async fn a_user_holds_at_most_max_sessions_per_user_and_the_oldest_ends_first() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[("WDGATE_SESSION_MAX_SESSIONS_PER_USER", "2")]);
    let (first, _) = token_and_id(&login_as(&gw, "demo", "demo", "1").await);
    let (second, id2) = token_and_id(&login_as(&gw, "demo", "demo", "2").await);
    let (_tricky, _) = token_and_id(&login_as(&gw, TRICKY, TRICKY_PASSWORD, "t").await);
    assert_eq!(gw.get("/me", Some(&first)).await.status, 200, "two fit");
    let (third, id3) = token_and_id(&login_as(&gw, "demo", "demo", "3").await);
    gw.get("/me", Some(&first))
        .await
        .assert_problem(401, "invalid_token");
    assert_eq!(ids(&list(&gw, &third).await), set([&id3, &id2]));
    assert_eq!(gw.get("/me", Some(&second)).await.status, 200);
    assert_eq!(sim.calls("LOGOFF").await, 1, "the ended one was logged off");
    gw.wait_for_log("the user's oldest sessions ended to make room for this login")
        .await;
    assert!(gw.log().contains("session.max_sessions_per_user"));
    let mut newest = third;
    for _ in 0..5 {
        newest = token_and_id(&login_as(&gw, "demo", "demo", "more").await).0;
    }
    assert_eq!(
        ids(&list(&gw, &newest).await).len(),
        2,
        "never more than the cap"
    );
    assert_eq!(sim.calls("LOGOFF").await, 6);
    assert_eq!(
        ids(&list(&gw, &_tricky).await).len(),
        1,
        "other users unaffected"
    );
}

#[tokio::test]
async fn sessions_that_idle_out_vanish_from_the_list() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_SESSION_IDLE_TIMEOUT_SECS", "1"),
            ("WDGATE_SESSION_LAST_SEEN_INTERVAL_SECS", "1"),
        ],
    );
    let (kept, kept_id) = token_and_id(&login_as(&gw, "demo", "demo", "kept").await);
    let (idle, idle_id) = token_and_id(&login_as(&gw, "demo", "demo", "idle").await);
    assert_eq!(ids(&list(&gw, &kept).await), set([&idle_id, &kept_id]));
    // Listing every 20 ms keeps `kept` alive; `idle` is never used again.
    wait_until(|| async { ids(&list(&gw, &kept).await) == set([&kept_id]) }).await;
    gw.get("/me", Some(&idle))
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn the_operator_ends_every_session_of_a_user_with_the_right_token_only() {
    let sim = Sim::start().await;
    let digest = operator_digest();
    let gw = Gateway::start(
        &sim.url(),
        &[("WDGATE_ADMIN_OPERATOR_TOKEN_SHA256", digest.as_str())],
    );
    let (d1, _) = token_and_id(&login_as(&gw, "demo", "demo", "1").await);
    let (d2, _) = token_and_id(&login_as(&gw, "demo", "demo", "2").await);
    let (t, _) = token_and_id(&login_as(&gw, TRICKY, TRICKY_PASSWORD, "t").await);
    let path = "/admin/users/demo/sessions";

    admin_delete(&gw, path, None)
        .await
        .assert_problem(401, "missing_token");
    for wrong in [
        &OPERATOR_TOKEN[..OPERATOR_TOKEN.len() - 1],
        &format!("{OPERATOR_TOKEN}x"),
        digest.as_str(),
        d1.as_str(),
    ] {
        let r = admin_delete(&gw, path, Some(wrong)).await;
        r.assert_problem(401, "invalid_token");
    }
    assert_eq!(
        gw.get("/me", Some(&d1)).await.status,
        200,
        "nothing ended yet"
    );
    assert_eq!(sim.calls("LOGOFF").await, 0);

    // Any case and surrounding space name the same user, as logins count them.
    let r = admin_delete(&gw, "/admin/users/%20DEMO/sessions", Some(OPERATOR_TOKEN)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json, json!({"username": "demo", "ended": 2}));
    assert_eq!(r.header("cache-control"), "no-store");
    for gone in [&d1, &d2] {
        gw.get("/me", Some(gone))
            .await
            .assert_problem(401, "invalid_token");
    }
    assert_eq!(
        gw.get("/me", Some(&t)).await.status,
        200,
        "another user's lives on"
    );
    assert_eq!(sim.calls("LOGOFF").await, 2);

    // Odd characters are fine; a user without sessions has 0 to end.
    for odd in [
        "J%C3%BCrgen%20O%27Brien",
        "a%2Fb",
        "%E2%98%83",
        "x%3Cy%3E%26z",
    ] {
        let r = admin_delete(
            &gw,
            &format!("/admin/users/{odd}/sessions"),
            Some(OPERATOR_TOKEN),
        )
        .await;
        assert_eq!(r.status, 200, "{odd}: {}", r.text);
        assert_eq!(r.json["ended"], 0, "{odd}");
    }
    admin_delete(&gw, "/admin/users/%20/sessions", Some(OPERATOR_TOKEN))
        .await
        .assert_problem(400, "bad_request");

    gw.wait_for_log("operator ended every session of a user")
        .await;
    gw.wait_for_log("operator request refused").await;
    let log = gw.log();
    for secret in [OPERATOR_TOKEN, &OPERATOR_TOKEN[3..], &d1, &d2, &t] {
        assert!(!log.contains(secret), "the log leaks {secret:?}:\n{log}");
    }
}

#[tokio::test]
async fn without_an_operator_token_configured_the_admin_route_is_not_there() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    let absent = gw.get("/admin/nowhere", None).await;
    absent.assert_problem(404, "not_found");
    for bearer in [None, Some(OPERATOR_TOKEN), Some(token.as_str())] {
        let r = admin_delete(&gw, "/admin/users/demo/sessions", bearer).await;
        r.assert_problem(404, "not_found");
        assert_eq!(
            r.json["detail"], absent.json["detail"],
            "as invisible as no route"
        );
    }
    assert_eq!(gw.get("/me", Some(&token)).await.status, 200);
}

#[tokio::test]
async fn no_token_token_hash_or_sid_reaches_an_answer_or_the_log() {
    let sim = Sim::start().await;
    let digest = operator_digest();
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_ADMIN_OPERATOR_TOKEN_SHA256", digest.as_str()),
            ("WDGATE_SESSION_MAX_SESSIONS_PER_USER", "3"),
        ],
    );
    let mut replies = Vec::new();
    let mut tokens = Vec::new();
    for agent in ["1", "2", "3", "4"] {
        let r = login_as(&gw, "demo", "demo", agent).await;
        tokens.push(token_and_id(&r).0);
        replies.push(r);
    }
    let current = tokens[3].clone();
    let listing = gw.get("/me/sessions", Some(&current)).await;
    let other = listing.json["sessions"][1]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    replies.push(listing);
    replies.push(gw.get("/me", Some(&current)).await);
    let sids: Vec<String> = sim
        .admin(Method::GET, "sessions", None)
        .await
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| s["sid"].as_str().expect("sid").to_owned())
        .collect();
    assert!(sids.len() >= 3, "{sids:?}");
    replies.push(
        gw.delete(&format!("/me/sessions/{other}"), Some(&current))
            .await,
    );
    replies.push(gw.delete("/me/sessions/ses_nope", Some(&current)).await);
    replies.push(gw.delete("/me/sessions", Some(&current)).await);
    replies.push(gw.delete("/me/sessions?others=true", Some(&current)).await);
    replies.push(admin_delete(&gw, "/admin/users/demo/sessions", Some("wrong")).await);
    replies.push(admin_delete(&gw, "/admin/users/demo/sessions", Some(OPERATOR_TOKEN)).await);
    assert_eq!(replies.last().map(|r| r.status), Some(200));

    let mut secrets: Vec<String> = vec![OPERATOR_TOKEN.to_owned()];
    for token in &tokens {
        secrets.push(token.clone());
        secrets.push(token["wdg_".len()..].to_owned());
        let hash = TokenHash::from_presented(token).expect("a token").to_hex();
        secrets.push(hash[..32].to_owned());
        secrets.push(hash[32..].to_owned());
    }
    for sid in &sids {
        secrets.push(sid.clone());
        secrets.push(sid.replace('$', "%24"));
        secrets.push(sid.chars().take(20).collect());
    }
    for (i, reply) in replies.iter().enumerate() {
        let headers = format!("{:?}", reply.headers);
        for secret in &secrets {
            // A login answer carries its own token, and only that.
            if i < 4 && tokens[i].contains(secret.as_str()) {
                continue;
            }
            assert!(
                !reply.text.contains(secret.as_str()),
                "an answer leaks {secret:?}: {}",
                reply.text
            );
            assert!(
                !headers.contains(secret.as_str()),
                "a header leaks {secret:?}"
            );
        }
    }
    gw.wait_for_log("operator ended every session of a user")
        .await;
    let log = gw.log();
    assert!(
        log.contains("session created"),
        "the log was captured: {log}"
    );
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "the log leaks {secret:?}:\n{log}"
        );
    }
}

// ------------------------------------------------------------------ Redis store

/// Two ready replicas on `redis` with a long L1 (plus `extra`).
async fn replicas(sim: &Sim, redis_url: &str, extra: &[(&str, &str)]) -> (Gateway, Gateway) {
    let mut env = vec![
        ("WDGATE_DEVICES_ID_KEY", ID_KEY),
        ("WDGATE_SESSION_L1_TTL_MS", LONG_L1),
    ];
    env.extend_from_slice(extra);
    replicas_on(&sim.url(), redis_url, &env).await
}

/// The Redis key of `user`'s session index (its name blinded, never in clear).
fn index_key(user: &str) -> String {
    let sealer = Sealer::new(&[ENCRYPTION_KEY]).expect("a good key");
    format!("wdgate:user-sessions:{{{}}}", sealer.blind(user))
}

#[tokio::test]
async fn replicas_list_each_others_sessions_and_an_end_on_one_is_a_401_on_the_other_at_once() {
    let Some(redis) = Redis::start() else { return };
    let sim = Sim::start().await;
    let (a, b) = replicas(&sim, &redis.url, &[]).await;
    let (on_a, id_a) = token_and_id(&login_as(&a, "demo", "demo", "on A").await);
    let (on_b, id_b) = token_and_id(&login_as(&b, "demo", "demo", "on B").await);
    let (third, id_3) = token_and_id(&login_as(&a, "demo", "demo", "third").await);
    for (gw, token, current) in [(&a, &on_b, &id_b), (&b, &on_a, &id_a)] {
        let listing = list(gw, token).await;
        assert_eq!(ids(&listing), set([&id_3, &id_b, &id_a]));
        for s in listing["sessions"].as_array().expect("sessions") {
            assert_eq!(s["current"], s["id"] == **current, "{s}");
        }
    }
    // Both replicas hold every token in their L1 (for 5 s).
    for token in [&on_a, &on_b, &third] {
        assert_eq!(a.get("/me", Some(token)).await.status, 200);
        assert_eq!(b.get("/me", Some(token)).await.status, 200);
    }

    let r = a.delete(&format!("/me/sessions/{id_b}"), Some(&on_a)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let ended = Instant::now();
    let elapsed = time_to_401(&b, &on_b, ended).await;
    assert!(
        elapsed < PROPAGATION_BUDGET,
        "B honoured A's end after {elapsed:?}"
    );
    assert_eq!(sim.calls("LOGOFF").await, 1);
    assert_eq!(redis.command(&["EXISTS", &session_key(&on_b)]), "0");

    let r = b.delete("/me/sessions?others=true", Some(&on_a)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let ended = Instant::now();
    let elapsed = time_to_401(&a, &third, ended).await;
    assert!(
        elapsed < PROPAGATION_BUDGET,
        "A honoured B's end after {elapsed:?}"
    );
    assert_eq!(ids(&list(&a, &on_a).await), set([&id_a]));
    assert_eq!(ids(&list(&b, &on_a).await), set([&id_a]));
    assert_eq!(sim.calls("LOGOFF").await, 2);
    let index = index_key("demo");
    assert_eq!(
        redis.command_list(&["ZRANGE", &index, "0", "-1"]),
        [TokenHash::from_presented(&on_a).expect("token").to_hex()],
        "ended sessions left the index"
    );
}

#[tokio::test]
async fn the_redis_index_is_blinded_bounded_expiring_and_pruned() {
    let Some(redis) = Redis::start_own() else {
        return;
    };
    let sim = Sim::start().await;
    let (a, b) = replicas(
        &sim,
        &redis.url,
        &[
            ("WDGATE_SESSION_MAX_SESSIONS_PER_USER", "2"),
            ("WDGATE_SESSION_IDLE_TIMEOUT_SECS", "3"),
            ("WDGATE_SESSION_L1_TTL_MS", "0"),
        ],
    )
    .await;
    let (first, _) = token_and_id(&login_as(&a, "demo", "demo", "1").await);
    let (second, id2) = token_and_id(&login_as(&b, "demo", "demo", "2").await);
    let (third, id3) = token_and_id(&login_as(&a, "demo", "demo", "3").await);
    b.get("/me", Some(&first))
        .await
        .assert_problem(401, "invalid_token");
    assert_eq!(ids(&list(&b, &third).await), set([&id3, &id2]));
    assert_eq!(sim.calls("LOGOFF").await, 1);

    let index = index_key("demo");
    assert_eq!(redis.command(&["TYPE", &index]), "zset");
    assert_eq!(redis.command(&["ZCARD", &index]), "2");
    let ttl: i64 = redis.command(&["TTL", &index]).parse().expect("TTL");
    // (TTL rounds; the set's end is the latest session's, to the millisecond.)
    let record = open_session(&redis, &session_key(&third));
    let end = record["expires_at"].as_i64().expect("expires_at");
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("now");
    assert!(
        (end - now - 2..=end - now + 1).contains(&ttl),
        "the set expires with its last session: {ttl}"
    );
    assert_eq!(record["id"], id3, "the id lives in the sealed record");
    assert_eq!(record["client_ip"], "127.0.0.1");
    assert_eq!(record["user_agent"], "3");
    let keys = redis.command_list(&["KEYS", "wdgate:*"]);
    for key in &keys {
        assert!(!key.to_lowercase().contains("demo"), "{key} names the user");
    }

    // `second` idles out (3 s unused) while `third` is kept busy: the next listing
    // drops it from the index too.
    wait_until(|| async { ids(&list(&a, &third).await) == set([&id3]) }).await;
    assert_eq!(
        redis.command(&["ZCARD", &index]),
        "1",
        "the idle one was pruned"
    );
    b.get("/me", Some(&second))
        .await
        .assert_problem(401, "invalid_token");
    // A logout takes its member out at once.
    assert_eq!(
        b.delete("/sessions/current", Some(&third)).await.status,
        204
    );
    assert_eq!(redis.command(&["EXISTS", &index]), "0");
}

#[tokio::test]
async fn last_seen_is_written_at_most_once_per_interval_not_per_request() {
    let Some(redis) = Redis::start_own() else {
        return;
    };
    let sim = Sim::start().await;
    let quiet = gateway_on(&sim.url(), &redis.url, &[("WDGATE_DEVICES_ID_KEY", ID_KEY)]);
    let busy = gateway_on(
        &sim.url(),
        &redis.url,
        &[
            ("WDGATE_DEVICES_ID_KEY", ID_KEY),
            ("WDGATE_SESSION_LAST_SEEN_INTERVAL_SECS", "1"),
            ("WDGATE_SESSION_L1_TTL_MS", "0"),
        ],
    );
    wait_ready(&quiet).await;
    wait_ready(&busy).await;
    let token = quiet.login("demo", "demo").await;
    let key = session_key(&token);
    let stored = redis.command(&["GET", &key]);
    for _ in 0..20 {
        assert_eq!(quiet.get("/me", Some(&token)).await.status, 200);
    }
    assert_eq!(
        redis.command(&["GET", &key]),
        stored,
        "20 requests within the interval (60 s) rewrote nothing"
    );
    let created = open_session(&redis, &key)["created_at"]
        .as_u64()
        .expect("created_at");
    wait_every(Duration::from_millis(300), || async {
        assert_eq!(busy.get("/me", Some(&token)).await.status, 200);
        open_session(&redis, &key)["last_seen_at"]
            .as_u64()
            .is_some_and(|seen| seen > created)
    })
    .await;
    let listing = list(&quiet, &token).await;
    assert!(listing["sessions"][0]["last_seen_at"].as_u64() > Some(created));
    let ttl: i64 = redis.command(&["PTTL", &key]).parse().expect("PTTL");
    assert!(
        ttl > 0 && ttl <= 30 * 60 * 1000,
        "the write kept the TTL: {ttl}"
    );
}

#[tokio::test]
async fn the_operator_route_works_across_replicas() {
    let Some(redis) = Redis::start() else { return };
    let sim = Sim::start().await;
    let digest = operator_digest();
    let (a, b) = replicas(
        &sim,
        &redis.url,
        &[("WDGATE_ADMIN_OPERATOR_TOKEN_SHA256", digest.as_str())],
    )
    .await;
    let (on_a, _) = token_and_id(&login_as(&a, "demo", "demo", "a").await);
    let (on_b, _) = token_and_id(&login_as(&b, "demo", "demo", "b").await);
    for token in [&on_a, &on_b] {
        assert_eq!(a.get("/me", Some(token)).await.status, 200);
        assert_eq!(b.get("/me", Some(token)).await.status, 200);
    }
    admin_delete(&b, "/admin/users/demo/sessions", Some("nope"))
        .await
        .assert_problem(401, "invalid_token");
    let r = admin_delete(&b, "/admin/users/demo/sessions", Some(OPERATOR_TOKEN)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["ended"], 2);
    let ended = Instant::now();
    for token in [&on_a, &on_b] {
        let elapsed = time_to_401(&a, token, ended).await;
        assert!(
            elapsed < PROPAGATION_BUDGET,
            "A honoured it after {elapsed:?}"
        );
    }
    assert_eq!(sim.calls("LOGOFF").await, 2);
    assert_eq!(redis.command(&["EXISTS", &index_key("demo")]), "0");
}

#[tokio::test]
async fn the_index_works_on_a_real_cluster() {
    let Some(cluster) = RedisCluster::start(3) else {
        return;
    };
    let sim = Sim::start().await;
    let (a, b) = replicas(&sim, &cluster.url(), &[]).await;
    let mut sessions = Vec::new();
    for agent in ["1", "2", "3", "4"] {
        let gw = if agent == "2" { &b } else { &a };
        sessions.push(token_and_id(&login_as(gw, "demo", "demo", agent).await));
    }
    let (current, current_id) = sessions[0].clone();
    let mut expected: BTreeSet<String> = sessions.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(ids(&list(&b, &current).await), expected);
    let r = b
        .delete(&format!("/me/sessions/{}", sessions[2].1), Some(&current))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    expected.retain(|id| *id != sessions[2].1);
    assert_eq!(ids(&list(&a, &current).await), expected);
    let r = a.delete("/me/sessions?others=true", Some(&current)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(ids(&list(&b, &current).await), set([&current_id]));
    let ended = Instant::now();
    for (token, _) in &sessions[1..] {
        let elapsed = time_to_401(&b, token, ended).await;
        assert!(
            elapsed < PROPAGATION_BUDGET,
            "B honoured A's end after {elapsed:?}"
        );
    }
    assert_eq!(cluster.command(&["ZCARD", &index_key("demo")]), "1");
}

#[tokio::test]
async fn a_cross_site_page_cannot_end_sessions_with_the_cookie_and_the_app_can() {
    const APP: &str = "https://app.example.com";
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_BROWSER_CORS_ORIGINS", APP),
            ("WDGATE_BROWSER_COOKIE_ENABLED", "true"),
        ],
    );
    let (other, other_id) = token_and_id(&login_as(&gw, "demo", "demo", "laptop").await);
    let login = client()
        .post(gw.url("/sessions"))
        .header("origin", APP)
        .json(&json!({"username": "demo", "password": "demo"}));
    let login = Reply::read(login.send().await.expect("login")).await;
    assert_eq!(login.status, 201, "{}", login.text);
    assert!(
        login.json.get("token").is_none(),
        "a page gets the cookie alone"
    );
    assert!(login.json["id"].is_string(), "and its session id");
    let cookie = login
        .header("set-cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let cookie_request = |method: Method, path: &str, origin: Option<&str>| {
        let mut request = client()
            .request(method, gw.url(path))
            .header("cookie", cookie.as_str());
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request
    };
    let end_one = format!("/me/sessions/{other_id}");
    for origin in [Some("https://evil.example"), None] {
        for path in [end_one.as_str(), "/me/sessions?others=true"] {
            let r = Reply::read(
                cookie_request(Method::DELETE, path, origin)
                    .send()
                    .await
                    .expect("DELETE"),
            )
            .await;
            r.assert_problem(403, "csrf_rejected");
        }
    }
    assert_eq!(
        gw.get("/me", Some(&other)).await.status,
        200,
        "nothing ended"
    );
    let listing = Reply::read(
        cookie_request(Method::GET, "/me/sessions", None)
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(
        listing.status, 200,
        "reads need no origin: {}",
        listing.text
    );
    assert_eq!(listing.json["sessions"].as_array().map(Vec::len), Some(2));
    let r = Reply::read(
        cookie_request(Method::DELETE, &end_one, Some(APP))
            .send()
            .await
            .expect("DELETE"),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    gw.get("/me", Some(&other))
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn members_planted_in_a_users_redis_index_are_neither_listed_nor_ended() {
    let Some(redis) = Redis::start_own() else {
        return;
    };
    let sim = Sim::start().await;
    let gw = gateway_on(&sim.url(), &redis.url, &[("WDGATE_DEVICES_ID_KEY", ID_KEY)]);
    wait_ready(&gw).await;
    let (mine, my_id) = token_and_id(&login_as(&gw, "demo", "demo", "mine").await);
    let (theirs, their_id) = token_and_id(&login_as(&gw, TRICKY, TRICKY_PASSWORD, "t").await);
    let index = index_key("demo");
    let their_hash = TokenHash::from_presented(&theirs).expect("token").to_hex();
    let far = "99999999999999";
    // Someone with write access to Redis plants another user's session, garbage and a
    // hash with no session in the demo user's index.
    for member in [their_hash.as_str(), "not-a-hash", &"0".repeat(64)] {
        assert_eq!(redis.command(&["ZADD", &index, far, member]), "1");
    }
    assert_eq!(ids(&list(&gw, &mine).await), set([&my_id]));
    assert_eq!(
        redis.command(&["ZCARD", &index]),
        "1",
        "the planted members were pruned"
    );
    let r = gw
        .delete(&format!("/me/sessions/{their_id}"), Some(&mine))
        .await;
    r.assert_problem(404, "not_found");
    redis.command(&["ZADD", &index, far, &their_hash]);
    let r = gw.delete("/me/sessions?others=true", Some(&mine)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        gw.get("/me", Some(&theirs)).await.status,
        200,
        "theirs lives on"
    );
    assert_eq!(sim.calls("LOGOFF").await, 0);
}
