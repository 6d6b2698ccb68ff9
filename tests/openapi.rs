//! The live gateway keeps the promises of `/openapi.json`: its document is served, and
//! the rejections axum makes on its own (a malformed query, a path that is not UTF-8)
//! are problem bodies like every other error, and passthrough parameter names are the
//! Worldox names the document allows.

mod common;

use common::{Gateway, Sim};

#[tokio::test]
async fn the_document_is_served_as_openapi_3_1() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let reply = gw.get("/openapi.json", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(reply.json["openapi"], "3.1.0");
    assert_eq!(reply.json["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(reply.json["paths"]["/me/2fa-devices/{id}"]["patch"].is_object());
}

#[tokio::test]
async fn a_repeated_query_parameter_is_a_problem_not_plain_text() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    let reply = gw
        .get("/me/2fa-devices?redact=true&redact=false", Some(&token))
        .await;
    reply.assert_problem(400, "bad_request");
    assert!(
        reply.json["detail"]
            .as_str()
            .unwrap_or("")
            .contains("redact")
    );
}

#[tokio::test]
async fn a_device_id_that_is_not_utf8_is_a_problem_not_plain_text() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    gw.delete("/me/2fa-devices/%FF", Some(&token))
        .await
        .assert_problem(400, "bad_request");
}

#[tokio::test]
async fn a_passthrough_parameter_name_outside_worldox_names_is_refused() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    for query in ["a%5B0%5D=x", "=x", "%20skip=0", "caf%C3%A9=1"] {
        gw.get(&format!("/wd/FINDFILES?{query}"), Some(&token))
            .await
            .assert_problem(400, "bad_request");
    }
    let ok = gw
        .get("/wd/FINDFILES?wd_FIND_QUERY=Excel&take=10", Some(&token))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(
        sim.calls("FINDFILES").await,
        1,
        "only the valid call went upstream"
    );
}

#[tokio::test]
async fn head_routes_are_their_own_operations_and_answer_without_a_body() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let doc = gw.get("/openapi.json", None).await;
    let token = gw.login("demo", "demo").await;
    for (path, id, live) in [
        (
            "/documents/{id}",
            "headDocument",
            "/documents/doc_6_00014711",
        ),
        (
            "/documents/{id}/content",
            "headDocumentContent",
            "/documents/doc_6_00014711/content",
        ),
        (
            "/documents/{id}/versions/{n}/content",
            "headDocumentVersionContent",
            "/documents/doc_6_00014711/versions/1/content",
        ),
    ] {
        let head = &doc.json["paths"][path]["head"];
        assert_eq!(head["operationId"], id, "{path}");
        assert!(head["responses"]["200"].get("content").is_none(), "{path}");
        let get = common::client()
            .get(gw.url(live))
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET");
        assert_eq!(get.status(), 200, "{live}");
        let get_type = get.headers()["content-type"].clone();
        let get_body = get.bytes().await.expect("body");
        let answer = common::client()
            .head(gw.url(live))
            .bearer_auth(&token)
            .send()
            .await
            .expect("HEAD");
        assert_eq!(answer.status(), 200, "{live}");
        assert_eq!(answer.headers()["content-type"], get_type, "{live}");
        if let Some(len) = answer.headers().get("content-length") {
            assert_eq!(
                len.to_str().expect("ascii"),
                get_body.len().to_string(),
                "{live}"
            );
        }
        assert!(answer.bytes().await.expect("no body").is_empty(), "{live}");
    }
}
