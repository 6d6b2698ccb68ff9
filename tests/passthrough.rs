//! `GET|POST /wd/{COMMAND}` over real HTTP against the simulator: the allow-list, the
//! injected SID, parameters arriving intact, status mapping and secrets stripped.

mod common;

use common::{Gateway, Reply, Sim, client};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

async fn setup() -> (Sim, Gateway, String) {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    (sim, gw, token)
}

/// Sends a request and reads the whole answer.
async fn send(request: RequestBuilder) -> Reply {
    let resp = request.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        json,
    }
}

/// `GET /wd/{command}` with `query` as the query string's parameters.
async fn wd_get(gw: &Gateway, token: &str, command: &str, query: &[(&str, &str)]) -> Reply {
    let url = gw.url(&format!("/wd/{command}"));
    send(client().get(url).query(query).bearer_auth(token)).await
}

/// `POST /wd/{command}` with a form body.
async fn wd_post_form(gw: &Gateway, token: &str, command: &str, form: &[(&str, &str)]) -> Reply {
    let url = gw.url(&format!("/wd/{command}"));
    send(client().post(url).form(form).bearer_auth(token)).await
}

/// `POST /wd/{command}` with a JSON body.
async fn wd_post_json(gw: &Gateway, token: &str, command: &str, body: &Value) -> Reply {
    let url = gw.url(&format!("/wd/{command}"));
    send(client().post(url).json(body).bearer_auth(token)).await
}

/// The simulator's live raw SIDs.
async fn raw_sids(sim: &Sim) -> Vec<String> {
    let sessions = sim.admin(Method::GET, "sessions", None).await;
    let sids: Vec<String> = sessions
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| s["sid"].as_str().expect("sid").to_owned())
        .collect();
    assert!(!sids.is_empty());
    sids
}

fn assert_no_sid(reply: &Reply, sids: &[String]) {
    for sid in sids {
        assert!(!reply.text.contains(sid.as_str()), "{}", reply.text);
        assert!(
            !reply.text.contains(&sid.replace('$', "%24")),
            "{}",
            reply.text
        );
    }
}

fn file_names(reply: &Reply) -> Vec<String> {
    reply.json["root"]["data"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["FN"].as_str().expect("FN").to_owned())
        .collect()
}

#[tokio::test]
async fn cabinets_pass_through_as_the_upstreams_json_without_secrets() {
    let (sim, gw, token) = setup().await;
    let html = [("html", "/v4/cabinets/cabinets.json")];
    let r = wd_get(&gw, &token, "CABINETS", &html).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("cache-control"), "no-store");
    let data = r.json["root"]["data"].as_array().expect("cabinets");
    let names: Vec<&str> = data.iter().map(|c| c["Name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["Accounting", "Litigation", "Corporate", "Real Estate"]
    );
    assert_eq!(data[0]["Fields"][0]["NAME"], "Client");
    assert_eq!(r.json["root"]["errorStatus"]["ErrorCount"], "");
    assert!(!r.text.contains("wd_Error_VAL") && !r.text.contains("wd_SID"));
    assert_no_sid(&r, &raw_sids(&sim).await);

    // Command names are case-insensitive, as the server's are.
    let lower = wd_get(&gw, &token, "cabinets", &[("wd_CABINET_ID_VALUE", "14")]).await;
    assert_eq!(lower.status, 200, "{}", lower.text);
    assert_eq!(lower.json["root"]["data"][0]["PGID"], 14);
    assert_eq!(sim.calls("CABINETS").await, 2);
}

#[tokio::test]
async fn findfiles_searches_with_the_callers_query_and_paging() {
    let (_sim, gw, token) = setup().await;
    let q = [
        ("wd_FIND_QUERY", "excel"),
        ("skip", "2"),
        ("take", "2"),
        ("html", "/v4/filelist/fileList.json"),
    ];
    let r = wd_get(&gw, &token, "FINDFILES", &q).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["root"]["errorStatus"]["List_Count"], "3");
    assert_eq!(file_names(&r), ["00015661.xlsx", "00015577.xlsx"]);
    assert_eq!(r.json["root"]["data"][0]["LN"], "2");
    assert!(
        r.json["root"]["errorStatus"]["List_ID"]
            .as_str()
            .is_some_and(|id| id.starts_with('x'))
    );
}

#[tokio::test]
async fn a_search_without_matches_is_a_200_with_empty_data() {
    let (_sim, gw, token) = setup().await;
    let r = wd_get(
        &gw,
        &token,
        "FINDFILES",
        &[("wd_FIND_QUERY", "no such file")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["root"]["data"], "");
    assert_eq!(r.json["root"]["errorStatus"]["List_Count"], "0");
    assert_eq!(
        r.json["root"]["errorStatus"]["wd_Error_RCTX"],
        "WDRC_ZERO_PROJECT_CLEAN"
    );
}

#[tokio::test]
async fn commands_off_the_allow_list_are_403_and_never_sent() {
    let (sim, gw, token) = setup().await;
    for command in [
        "FROBNICATE",
        "LOGON",
        "logoff",
        "2FSET",
        "2fget",
        "CABINETS%26x=1",
    ] {
        let r = wd_get(&gw, &token, command, &[]).await;
        r.assert_problem(403, "command_not_allowed");
        let r = wd_post_form(&gw, &token, command, &[("a", "b")]).await;
        r.assert_problem(403, "command_not_allowed");
    }
    let r = wd_get(&gw, &token, "LOGON", &[]).await;
    assert!(
        r.json["detail"].as_str().unwrap().contains("/sessions"),
        "{}",
        r.text
    );
    for command in ["FROBNICATE", "LOGOFF", "2FSET", "2FGET"] {
        assert_eq!(sim.calls(command).await, 0, "{command}");
    }
    assert_eq!(sim.calls("LOGON").await, 1, "the login only");
    let r = send(client().delete(gw.url("/wd/CABINETS")).bearer_auth(&token)).await;
    r.assert_problem(405, "method_not_allowed");
}

#[tokio::test]
async fn a_callers_wd_sid_is_refused_in_any_case_and_place() {
    let (sim, gw, token) = setup().await;
    let x = "stolen$2Fsid";
    for name in ["wd_SID", "WD_SID", "Wd_Sid", " wd_sid"] {
        wd_get(&gw, &token, "FINDFILES", &[(name, x)])
            .await
            .assert_problem(400, "bad_request");
        wd_post_form(
            &gw,
            &token,
            "FINDFILES",
            &[("wd_FIND_QUERY", "a"), (name, x)],
        )
        .await
        .assert_problem(400, "bad_request");
        wd_post_json(&gw, &token, "FINDFILES", &json!({ name: x }))
            .await
            .assert_problem(400, "bad_request");
    }
    // Also in the query string of a POST.
    let url = gw.url("/wd/FINDFILES?wd_sid=x");
    send(client().post(url).form(&[("a", "b")]).bearer_auth(&token))
        .await
        .assert_problem(400, "bad_request");
    assert_eq!(sim.calls("FINDFILES").await, 0, "nothing went upstream");
}

#[tokio::test]
async fn post_takes_a_form_or_a_json_object_and_nothing_else() {
    let (_sim, gw, token) = setup().await;
    let r = wd_post_form(&gw, &token, "FINDFILES", &[("wd_FIND_QUERY", "Excel")]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(file_names(&r).len(), 3);
    let body = json!({"wd_FIND_QUERY": "budget", "take": 10});
    let r = wd_post_json(&gw, &token, "FINDFILES", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(file_names(&r), ["00016710.xlsx"]);
    let r = send(client().post(gw.url("/wd/CABINETS")).bearer_auth(&token)).await;
    assert_eq!(r.status, 200, "an empty body needs no type: {}", r.text);

    let url = gw.url("/wd/FINDFILES");
    let plain = client()
        .post(&url)
        .header("content-type", "text/plain")
        .body("x");
    send(plain.bearer_auth(&token))
        .await
        .assert_problem(415, "unsupported_media_type");
    wd_post_json(&gw, &token, "FINDFILES", &json!(["wd_FIND_QUERY"]))
        .await
        .assert_problem(400, "bad_request");
    wd_post_json(&gw, &token, "FINDFILES", &json!({"take": {"n": 1}}))
        .await
        .assert_problem(400, "bad_request");
    let big = "x".repeat(64 * 1024);
    wd_post_form(&gw, &token, "FINDFILES", &[("wd_FIND_QUERY", big.as_str())])
        .await
        .assert_problem(413, "payload_too_large");
}

#[tokio::test]
async fn values_with_every_separator_reach_the_server_intact() {
    let (_sim, gw, token) = setup().await;
    // Matches "Smith & Jones: 50% + fees #2" only if nothing was split or decoded twice.
    let query = "& Jones: 50% + fees #";
    for r in [
        wd_get(&gw, &token, "FINDFILES", &[("wd_FIND_QUERY", query)]).await,
        wd_post_form(&gw, &token, "FINDFILES", &[("wd_FIND_QUERY", query)]).await,
        wd_post_json(&gw, &token, "FINDFILES", &json!({"wd_FIND_QUERY": query})).await,
    ] {
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(file_names(&r), ["00016702.pdf"]);
    }
    // And a line break and `=` come back as sent, in the search's description.
    let odd = "a+b&c=d%e#f\ng";
    let r = wd_get(&gw, &token, "FINDFILES", &[("wd_FIND_QUERY", odd)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["root"]["errorStatus"]["wd_Desc"],
        format!("Find: Name={odd}; using Quick Access <Active>").as_str()
    );
}

#[tokio::test]
async fn without_a_token_it_is_401_before_anything_else() {
    let (sim, gw, _token) = setup().await;
    let r = send(client().get(gw.url("/wd/CABINETS"))).await;
    r.assert_problem(401, "missing_token");
    let r = send(client().get(gw.url("/wd/LOGON")).bearer_auth("wdg_nope")).await;
    r.assert_problem(401, "invalid_token");
    assert_eq!(sim.calls("CABINETS").await, 0);
}

#[tokio::test]
async fn an_expired_worldox_session_is_401_and_ends_the_gateway_session() {
    let (sim, gw, token) = setup().await;
    sim.expire_sessions().await;
    // CABINETS' failed answer is not JSON as sent (bare placeholders): still read as 8740.
    let r = wd_get(&gw, &token, "CABINETS", &[]).await;
    r.assert_problem(401, "session_expired");
    assert!(r.header("www-authenticate").contains("invalid_token"));
    assert_eq!(r.json["upstream"]["rctx"], "WDRC_SID_INVALID");
    gw.get("/me", Some(&token))
        .await
        .assert_problem(401, "invalid_token");

    let token = gw.login("demo", "demo").await;
    sim.expire_sessions().await;
    wd_get(&gw, &token, "FINDFILES", &[])
        .await
        .assert_problem(401, "session_expired");
    gw.get("/me", Some(&token))
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn upstream_refusals_map_through_the_status_table_without_the_sid() {
    let (sim, gw, token) = setup().await;
    let sids = raw_sids(&sim).await;
    // Cabinet 18 is qc1's only: WDRC_CABINET_INVALID, which the table maps to 404.
    let r = wd_get(&gw, &token, "CABINETS", &[("wd_CABINET_ID_VALUE", "18")]).await;
    r.assert_problem(404, "upstream_error");
    assert_eq!(r.json["upstream"]["rctx"], "WDRC_CABINET_INVALID");
    assert_no_sid(&r, &sids);
    // A command the simulator does not know: an unknown code is 502.
    let r = wd_get(&gw, &token, "CATLIST", &[]).await;
    r.assert_problem(502, "upstream_error");
    assert_eq!(r.json["upstream"]["rctx"], "WDRC_COMMAND_INVALID");
    assert_no_sid(&r, &sids);
}

#[tokio::test]
async fn the_log_names_the_command_but_never_the_parameters() {
    let (sim, gw, token) = setup().await;
    let marker = "needle-7f3a9c";
    let r = wd_get(&gw, &token, "FINDFILES", &[("wd_FIND_QUERY", marker)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    gw.wait_for_log("FINDFILES").await;
    let log = gw.log();
    assert!(!log.contains(marker), "{log}");
    for sid in raw_sids(&sim).await {
        assert!(!log.contains(&sid), "{log}");
    }
}

#[tokio::test]
async fn the_allow_list_and_the_switch_come_from_config() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[("WDGATE_PASSTHROUGH_ALLOW", "FINDFILES,SERVE")],
    );
    let token = gw.login("demo", "demo").await;
    let r = wd_get(&gw, &token, "FINDFILES", &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    wd_get(&gw, &token, "CABINETS", &[])
        .await
        .assert_problem(403, "command_not_allowed");
    drop(gw);

    let off = Gateway::start(&sim.url(), &[("WDGATE_PASSTHROUGH_ENABLED", "false")]);
    let token = off.login("demo", "demo").await;
    wd_get(&off, &token, "FINDFILES", &[])
        .await
        .assert_problem(403, "command_not_allowed");
    assert_eq!(sim.calls("CABINETS").await, 0);
}

#[test]
fn a_config_that_allows_logon_is_refused_at_start() {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wdgate"));
    cmd.arg("check-config").current_dir(std::env::temp_dir());
    for (k, _) in std::env::vars() {
        if k.starts_with("WDGATE_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .env("WDGATE_PASSTHROUGH_ALLOW", "CABINETS,LOGON")
        .output()
        .expect("run wdgate");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("passthrough.allow"), "{stderr}");
    assert!(stderr.contains("LOGON"), "{stderr}");
}
