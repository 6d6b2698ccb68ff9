//! JSON and XML both ways over real HTTP: request bodies by `Content-Type`, answers by
//! `Accept` with q-values, 406 and 415, RFC 9457 XML problems, `Vary: Accept`, and the
//! hostile XML a gateway must refuse (billion laughs, external entities).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Gateway, Reply, Sim, client, request_code};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

const XML: &str = "application/xml";

/// `method path` with an optional token, `Accept` and body (content type, bytes).
async fn call(
    gw: &Gateway,
    method: Method,
    path: &str,
    token: Option<&str>,
    accept: Option<&str>,
    body: Option<(&str, String)>,
) -> Reply {
    let mut request = client().request(method, gw.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    if let Some((content_type, body)) = body {
        request = request.header("content-type", content_type).body(body);
    }
    Reply::read(request.send().await.expect("an answer")).await
}

/// The name of the root element of an XML document.
fn root(text: &str) -> String {
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                return String::from_utf8_lossy(e.name().as_ref()).into_owned();
            }
            quick_xml::events::Event::Eof => panic!("no root element: {text}"),
            _ => {}
        }
    }
}

/// Asserts an XML answer with `status` rooted at `element`, negotiated (`Vary`).
fn assert_xml(reply: &Reply, status: u16, element: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.header("content-type"), XML, "{}", reply.text);
    assert!(
        reply.header("vary").contains("accept"),
        "no Vary: {:?}",
        reply.headers
    );
    assert!(
        reply
            .text
            .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        "{}",
        reply.text
    );
    assert_eq!(root(&reply.text), element, "{}", reply.text);
}

/// Asserts a JSON answer with `status`, negotiated (`Vary`).
fn assert_json(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        "application/json",
        "{}",
        reply.text
    );
    assert!(
        reply.header("vary").contains("accept"),
        "no Vary: {:?}",
        reply.headers
    );
    assert!(reply.json.is_object(), "{}", reply.text);
}

/// Asserts an RFC 9457 XML problem with `status` and `code`.
fn assert_xml_problem(reply: &Reply, status: u16, code: &str) -> XmlProblem {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        "application/problem+xml",
        "{}",
        reply.text
    );
    assert!(
        reply
            .text
            .contains(r#"<problem xmlns="urn:ietf:rfc:7807">"#),
        "{}",
        reply.text
    );
    let problem: XmlProblem = quick_xml::de::from_str(&reply.text).expect("a problem");
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (status, code),
        "{}",
        reply.text
    );
    assert_eq!(
        problem.request_id,
        reply.header("x-request-id"),
        "{}",
        reply.text
    );
    assert!(!problem.detail.is_empty());
    problem
}

#[derive(Debug, Deserialize)]
struct XmlProblem {
    status: u16,
    code: String,
    detail: String,
    request_id: String,
    #[serde(rename = "type")]
    kind: String,
    offered: Option<Items>,
}

#[derive(Debug, Deserialize)]
struct Items {
    #[serde(default)]
    i: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct XmlLogin {
    token: String,
    token_type: String,
}

#[derive(Debug, Deserialize)]
struct XmlDevice {
    id: String,
    name: String,
    enabled: bool,
    #[serde(rename = "_links")]
    links: XmlLinks,
}

#[derive(Debug, Deserialize)]
struct XmlLinks {
    #[serde(rename = "Link")]
    link: Vec<XmlLink>,
}

#[derive(Debug, Deserialize)]
struct XmlLink {
    rel: String,
    href: String,
    method: String,
    title: String,
}

#[derive(Debug, Deserialize)]
struct XmlDevices {
    devices: XmlDeviceItems,
}

#[derive(Debug, Deserialize)]
struct XmlDeviceItems {
    #[serde(rename = "DeviceView")]
    device: Vec<XmlDevice>,
}

#[derive(Debug, Deserialize)]
struct XmlSent {
    verification_id: String,
}

/// 2FSET step 1 with an XML body and an XML answer (202 `VerificationSent`): the
/// verification and the code the simulator's outbox got.
async fn send_code_in_xml(
    gw: &Gateway,
    sim: &Sim,
    token: Option<&str>,
    address: &str,
) -> (XmlSent, String) {
    let body = format!("<VerificationRequest><address>{address}</address></VerificationRequest>");
    let reply = call(
        gw,
        Method::POST,
        "/me/2fa-devices/verifications",
        token,
        Some(XML),
        Some((XML, body)),
    )
    .await;
    assert_xml(&reply, 202, "VerificationSent");
    let sent: XmlSent = quick_xml::de::from_str(&reply.text).expect("sent");
    let code = sim.outbox().await.last().expect("a code")["code"]
        .as_str()
        .expect("code")
        .to_owned();
    (sent, code)
}

fn login_xml() -> String {
    r#"<?xml version="1.0" encoding="utf-8"?>
<LoginRequest xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <username>demo</username>
  <password>demo</password>
</LoginRequest>"#
        .to_owned()
}

#[tokio::test]
async fn every_route_takes_and_gives_json_and_xml() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    // POST /sessions: XML in, XML out; XML in, JSON out; and JSON in, XML out.
    let reply = call(
        &gw,
        Method::POST,
        "/sessions",
        None,
        Some(XML),
        Some(("text/xml", login_xml())),
    )
    .await;
    assert_xml(&reply, 201, "LoginResponse");
    let login: XmlLogin = quick_xml::de::from_str(&reply.text).expect("a login");
    assert!(
        login.token.starts_with("wdg_") && login.token_type == "Bearer",
        "{}",
        reply.text
    );
    let token = login.token;
    let reply = call(
        &gw,
        Method::POST,
        "/sessions",
        None,
        None,
        Some((XML, login_xml())),
    )
    .await;
    assert_json(&reply, 201);
    let body = json!({"username": "demo", "password": "demo"}).to_string();
    let reply = call(
        &gw,
        Method::POST,
        "/sessions",
        None,
        Some("text/xml"),
        Some(("text/json", body)),
    )
    .await;
    assert_eq!(reply.header("content-type"), "text/xml", "{}", reply.text);
    assert_eq!(root(&reply.text), "LoginResponse");
    let t = Some(token.as_str());

    // The reads, each in both representations.
    let first = call(&gw, Method::GET, "/documents?q=Excel", t, None, None).await;
    assert_json(&first, 200);
    let doc = first.json["documents"][0]["id"]
        .as_str()
        .expect("a document")
        .to_owned();
    let cabinet = first.json["documents"][0]["cabinet"]["id"].to_string();
    for (path, element) in [
        ("/me".to_owned(), "MeResponse"),
        ("/me/2fa-devices".to_owned(), "DeviceList"),
        ("/cabinets".to_owned(), "CabinetList"),
        (format!("/cabinets/{cabinet}"), "CabinetView"),
        ("/documents?q=Excel".to_owned(), "DocumentList"),
        (format!("/documents/{doc}"), "DocumentView"),
        (format!("/documents/{doc}/versions"), "VersionList"),
    ] {
        assert_json(
            &call(&gw, Method::GET, &path, t, Some("application/json"), None).await,
            200,
        );
        assert_xml(
            &call(&gw, Method::GET, &path, t, Some(XML), None).await,
            200,
            element,
        );
    }
    let list = call(&gw, Method::GET, "/me/2fa-devices", t, Some(XML), None).await;
    let devices: XmlDevices = quick_xml::de::from_str(&list.text).expect("devices");
    let device = &devices.devices.device[0];
    assert!(
        device
            .links
            .link
            .iter()
            .any(|l| l.rel == "self" && l.method == "GET" && !l.title.is_empty())
    );
    let one = call(
        &gw,
        Method::GET,
        &format!("/me/2fa-devices/{}", device.id),
        t,
        Some(XML),
        None,
    )
    .await;
    assert_xml(&one, 200, "DeviceView");
    let json_one = call(
        &gw,
        Method::GET,
        &format!("/me/2fa-devices/{}", device.id),
        t,
        None,
        None,
    )
    .await;
    let xml_one: XmlDevice = quick_xml::de::from_str(&one.text).expect("a device");
    assert_eq!(json_one.json["name"], xml_one.name.as_str());
    assert_eq!(json_one.json["enabled"], xml_one.enabled);
    assert_eq!(
        json_one.json["_links"][0]["href"],
        xml_one.links.link[0].href.as_str()
    );

    // The writes, with XML bodies.
    let (sent, code) = send_code_in_xml(&gw, &sim, t, "new@example.com").await;
    let create = format!(
        "<CreateRequest><address>new@example.com</address><name>From XML</name><enabled>true</enabled>\
         <verification_id>{}</verification_id><code>{code}</code></CreateRequest>",
        sent.verification_id
    );
    let created = call(
        &gw,
        Method::POST,
        "/me/2fa-devices",
        t,
        Some(XML),
        Some((XML, create)),
    )
    .await;
    assert_xml(&created, 201, "DeviceView");
    let new: XmlDevice = quick_xml::de::from_str(&created.text).expect("a device");
    assert_eq!((new.name.as_str(), new.enabled), ("From XML", true));
    let path = format!("/me/2fa-devices/{}", new.id);
    let patch = "<PatchRequest><enabled>false</enabled></PatchRequest>".to_owned();
    let patched = call(&gw, Method::PATCH, &path, t, Some(XML), Some((XML, patch))).await;
    assert_xml(&patched, 200, "DeviceView");
    assert!(
        !quick_xml::de::from_str::<XmlDevice>(&patched.text)
            .expect("a device")
            .enabled
    );
    let patch = "<PatchRequest><name>Renamed</name></PatchRequest>".to_owned();
    let patched = call(
        &gw,
        Method::PATCH,
        &path,
        t,
        None,
        Some(("application/merge-patch+xml", patch)),
    )
    .await;
    assert_json(&patched, 200);
    assert_eq!(patched.json["name"], "Renamed");
    let deleted = call(&gw, Method::DELETE, &path, t, Some(XML), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let gone = call(&gw, Method::GET, &path, t, Some(XML), None).await;
    assert_xml_problem(&gone, 404, "not_found");

    // The passthrough takes an XML body and answers Worldox's JSON.
    let find = "<params><wd_FIND_QUERY>Excel</wd_FIND_QUERY></params>".to_owned();
    let reply = call(
        &gw,
        Method::POST,
        "/wd/FINDFILES",
        t,
        None,
        Some((XML, find)),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("content-type"), "application/json");
    let logout = call(&gw, Method::DELETE, "/sessions/current", t, Some(XML), None).await;
    assert_eq!(logout.status, 204, "{}", logout.text);
}

#[tokio::test]
async fn accept_q_values_choose_the_representation() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    for (accept, expected) in [
        (None, "application/json"),
        (Some("*/*"), "application/json"),
        (Some("application/*"), "application/json"),
        (Some("text/*"), "text/json"),
        (Some("application/xml"), "application/xml"),
        (Some("text/xml"), "text/xml"),
        (Some("text/json"), "text/json"),
        (
            Some("application/xml, application/json"),
            "application/json",
        ),
        (
            Some("application/json;q=0.5, application/xml"),
            "application/xml",
        ),
        (Some("application/json;q=0, */*;q=0.1"), "text/json"),
        (
            Some("text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.8"),
            "application/xml",
        ),
        (
            Some("application/xml;q=0.3, application/json;q=0.2"),
            "application/xml",
        ),
    ] {
        let reply = call(&gw, Method::GET, "/me", Some(&token), accept, None).await;
        assert_eq!(reply.status, 200, "{accept:?}: {}", reply.text);
        assert_eq!(reply.header("content-type"), expected, "{accept:?}");
        assert_eq!(reply.header("vary"), "accept", "{accept:?}");
        if expected.ends_with("xml") {
            assert_eq!(root(&reply.text), "MeResponse", "{accept:?}");
        } else {
            assert_eq!(reply.json["username"], "demo", "{accept:?}: {}", reply.text);
        }
    }
}

#[tokio::test]
async fn nothing_acceptable_is_406_naming_what_is_offered() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    let t = Some(token.as_str());
    for accept in [
        "text/html",
        "application/json;q=0, application/xml;q=0, text/*;q=0",
        "image/png",
    ] {
        let reply = call(&gw, Method::GET, "/me", t, Some(accept), None).await;
        reply.assert_problem(406, "not_acceptable");
        assert_eq!(
            reply.json["offered"],
            json!([
                "application/json",
                "text/json",
                "application/xml",
                "text/xml"
            ]),
            "{accept}"
        );
        assert!(reply.header("vary").contains("accept"));
    }
    // Asked for XML problems only: the 406 is one.
    let reply = call(
        &gw,
        Method::GET,
        "/me",
        t,
        Some("application/problem+xml"),
        None,
    )
    .await;
    let problem = assert_xml_problem(&reply, 406, "not_acceptable");
    assert_eq!(problem.kind, "urn:wdgate:problem:not_acceptable");
    assert_eq!(problem.offered.expect("offered").i.len(), 4);
    // No work is done for a request whose answer nobody can read: the login is not tried.
    let before = sim.calls("LOGON").await;
    let body = json!({"username": "demo", "password": "demo"}).to_string();
    let reply = call(
        &gw,
        Method::POST,
        "/sessions",
        None,
        Some("text/html"),
        Some(("application/json", body)),
    )
    .await;
    reply.assert_problem(406, "not_acceptable");
    assert_eq!(sim.calls("LOGON").await, before);
    // The passthrough offers Worldox's JSON only.
    let reply = call(&gw, Method::GET, "/wd/CABINETS", t, Some(XML), None).await;
    let problem = assert_xml_problem(&reply, 406, "not_acceptable");
    assert_eq!(problem.offered.expect("offered").i, ["application/json"]);
    let reply = call(
        &gw,
        Method::GET,
        "/wd/CABINETS",
        t,
        Some("application/xml, application/json;q=0.1"),
        None,
    )
    .await;
    assert_eq!(
        (reply.status, reply.header("content-type")),
        (200, "application/json"),
        "{}",
        reply.text
    );
    // The probes, metrics and the description are not negotiated at all.
    for path in ["/healthz", "/openapi.json"] {
        let reply = call(&gw, Method::GET, path, None, Some("text/html"), None).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-type"), "application/json", "{path}");
        assert!(reply.headers.get("vary").is_none(), "{path}");
    }
    // Document bytes are not negotiated: any Accept gets them.
    let listed = gw.get("/documents?q=Excel", t).await;
    let doc = listed.json["documents"][0]["id"]
        .as_str()
        .expect("a document")
        .to_owned();
    let content = call(
        &gw,
        Method::GET,
        &format!("/documents/{doc}/content"),
        t,
        Some("image/png"),
        None,
    )
    .await;
    assert_eq!(content.status, 200, "{}", content.text);
}

#[tokio::test]
async fn bodies_neither_json_nor_xml_are_415() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    for content_type in [
        "text/plain",
        "application/yaml",
        "text/html",
        "application/xmlx",
        "text/merge-patch+json",
    ] {
        let reply = call(
            &gw,
            Method::POST,
            "/sessions",
            None,
            None,
            Some((content_type, login_xml())),
        )
        .await;
        reply.assert_problem(415, "unsupported_media_type");
        let reply = call(
            &gw,
            Method::POST,
            "/sessions",
            None,
            Some(XML),
            Some((content_type, login_xml())),
        )
        .await;
        assert_xml_problem(&reply, 415, "unsupported_media_type");
    }
    let reply = client()
        .post(gw.url("/sessions"))
        .body(login_xml())
        .send()
        .await
        .expect("an answer");
    Reply::read(reply)
        .await
        .assert_problem(415, "unsupported_media_type");
}

#[tokio::test]
async fn problems_follow_accept_in_the_rfc_9457_namespace() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let reply = call(&gw, Method::GET, "/me", None, Some(XML), None).await;
    assert_xml_problem(&reply, 401, "missing_token");
    assert!(reply.header("www-authenticate").starts_with("Bearer"));
    assert!(reply.header("vary").contains("accept"));
    let reply = call(
        &gw,
        Method::GET,
        "/no/such/route",
        None,
        Some("text/xml"),
        None,
    )
    .await;
    assert_xml_problem(&reply, 404, "not_found");
    let reply = call(
        &gw,
        Method::GET,
        "/me",
        None,
        Some("application/xml, application/json"),
        None,
    )
    .await;
    reply.assert_problem(401, "missing_token");
    // An upstream refusal carries its nested `upstream` element.
    let body = "<LoginRequest><username>demo</username><password>wrong</password></LoginRequest>"
        .to_owned();
    let reply = call(
        &gw,
        Method::POST,
        "/sessions",
        None,
        Some(XML),
        Some((XML, body)),
    )
    .await;
    assert_xml_problem(&reply, 401, "invalid_credentials");
    assert!(
        reply.text.contains("<upstream><message>") && reply.text.contains("<rcid>8435</rcid>"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn malformed_xml_is_a_400_problem() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    for body in [
        "",
        "not xml at all",
        "<LoginRequest><username>demo</username>",
        "<LoginRequest><username>demo</password></LoginRequest>",
        "<LoginRequest><username>demo</username></LoginRequest>",
        "<a/><b/>",
        "<LoginRequest><username>&nbsp;</username><password>p</password></LoginRequest>",
        "<LoginRequest><username>&#1;</username><password>p</password></LoginRequest>",
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?><LoginRequest/>",
    ] {
        let reply = call(
            &gw,
            Method::POST,
            "/sessions",
            None,
            None,
            Some((XML, body.to_owned())),
        )
        .await;
        reply.assert_problem(400, "bad_request");
        let reply = call(
            &gw,
            Method::POST,
            "/sessions",
            None,
            Some(XML),
            Some((XML, body.to_owned())),
        )
        .await;
        assert_xml_problem(&reply, 400, "bad_request");
    }
    let reply = call(
        &gw,
        Method::POST,
        "/sessions",
        None,
        None,
        Some((XML, "<a>\u{0}</a>".to_owned())),
    )
    .await;
    reply.assert_problem(400, "bad_request");
}

#[tokio::test]
async fn xml_bodies_have_the_json_body_limit() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[("WDGATE_SERVER_BODY_LIMIT_BYTES", "1024")]);
    let big = format!(
        "<LoginRequest><username>demo</username><password>{}</password></LoginRequest>",
        "x".repeat(2048)
    );
    let reply = call(
        &gw,
        Method::POST,
        "/sessions",
        None,
        Some(XML),
        Some((XML, big)),
    )
    .await;
    assert_xml_problem(&reply, 413, "payload_too_large");
}

/// The resident set of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[tokio::test]
async fn entity_expansion_and_external_entities_are_refused_and_nothing_is_fetched() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[("WDGATE_SERVER_BODY_LIMIT_BYTES", "65536")]);
    // A listener the external entities point at: no connection may reach it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let port = listener.local_addr().expect("an address").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let accepting = tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    let mut laughs =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for level in 1..=9 {
        let previous = if level == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", level - 1)
        };
        laughs.push_str(&format!(
            "<!ENTITY lol{level} \"{}\">\n",
            format!("&{previous};").repeat(10)
        ));
    }
    laughs.push_str(
        "]>\n<LoginRequest><username>&lol9;</username><password>x</password></LoginRequest>",
    );
    let bodies = [
        laughs.clone(),
        r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><LoginRequest><username>&xxe;</username><password>x</password></LoginRequest>"#.to_owned(),
        format!(r#"<!DOCTYPE r [<!ENTITY xxe SYSTEM "http://127.0.0.1:{port}/secret">]><LoginRequest><username>&xxe;</username><password>x</password></LoginRequest>"#),
        format!(r#"<!DOCTYPE r SYSTEM "http://127.0.0.1:{port}/evil.dtd"><LoginRequest><username>u</username><password>x</password></LoginRequest>"#),
        format!(r#"<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p.dtd"> %p;]><LoginRequest><username>u</username><password>x</password></LoginRequest>"#),
        // Without a DOCTYPE an undeclared entity is still refused, not left blank.
        "<LoginRequest><username>&xxe;</username><password>x</password></LoginRequest>".to_owned(),
    ];
    let token = gw.login("demo", "demo").await;
    for body in &bodies {
        let reply = call(
            &gw,
            Method::POST,
            "/sessions",
            None,
            None,
            Some((XML, body.clone())),
        )
        .await;
        reply.assert_problem(400, "bad_request");
        let detail = reply.json["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains("DOCTYPE") || detail.contains("&xxe;"),
            "{detail}"
        );
        assert!(!reply.text.contains("root:"), "{}", reply.text);
        // The same on an authenticated route and on the passthrough.
        let reply = call(
            &gw,
            Method::POST,
            "/me/2fa-devices/verifications",
            Some(&token),
            None,
            Some((XML, body.clone())),
        )
        .await;
        reply.assert_problem(400, "bad_request");
        let reply = call(
            &gw,
            Method::POST,
            "/wd/FINDFILES",
            Some(&token),
            None,
            Some(("text/xml", body.clone())),
        )
        .await;
        reply.assert_problem(400, "bad_request");
    }
    // Memory stays flat under a stream of billion-laughs bodies (each would be 3 GB
    // expanded).
    let before = rss_kib(gw.pid());
    for _ in 0..200 {
        let reply = call(
            &gw,
            Method::POST,
            "/sessions",
            None,
            None,
            Some((XML, laughs.clone())),
        )
        .await;
        assert_eq!(reply.status, 400);
    }
    let after = rss_kib(gw.pid());
    eprintln!("gateway RSS before {before} KiB, after 200 billion-laughs bodies {after} KiB");
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "an external entity was fetched"
    );
    accepting.abort();
}

#[tokio::test]
async fn odd_characters_round_trip_escaped() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    let t = Some(token.as_str());
    let list = gw.get("/me/2fa-devices", t).await;
    let path = format!(
        "/me/2fa-devices/{}",
        list.json["devices"][0]["id"].as_str().expect("an id")
    );
    for name in [
        "a < b & c > d",
        "end ]]> of cdata",
        "Ünïcödé ✓ 𝄞 日本",
        "\"quoted\" & 'single'",
        "&amp; stays",
    ] {
        let escaped = quick_xml::escape::escape(name);
        let body = format!("<PatchRequest><name>{escaped}</name></PatchRequest>");
        let reply = call(&gw, Method::PATCH, &path, t, Some(XML), Some((XML, body))).await;
        assert_xml(&reply, 200, "DeviceView");
        assert!(!reply.text.contains("]]>"), "{}", reply.text);
        let device: XmlDevice = quick_xml::de::from_str(&reply.text).expect("a device");
        assert_eq!(device.name, name, "{}", reply.text);
        // The JSON twin holds the same string.
        assert_eq!(gw.get(&path, t).await.json["name"], name);
        // And a CDATA section reads the same as escaped text.
        let body = format!(
            "<PatchRequest><name><![CDATA[{}]]></name></PatchRequest>",
            name.replace("]]>", "]]]]><![CDATA[>")
        );
        let reply = call(&gw, Method::PATCH, &path, t, None, Some((XML, body))).await;
        assert_eq!(reply.json["name"], name, "{}", reply.text);
    }
    // A control character can be sent in JSON (and is refused by validation) but cannot
    // be written in XML 1.0 at all.
    let reply = call(
        &gw,
        Method::PATCH,
        &path,
        t,
        None,
        Some(("application/json", json!({"name": "bell\u{7}"}).to_string())),
    )
    .await;
    reply.assert_problem(422, "validation_failed");
    let reply = call(
        &gw,
        Method::PATCH,
        &path,
        t,
        None,
        Some((
            XML,
            "<PatchRequest><name>bell&#7;</name></PatchRequest>".to_owned(),
        )),
    )
    .await;
    reply.assert_problem(400, "bad_request");
}

#[tokio::test]
async fn the_xml_twin_has_its_own_entity_tag() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    let t = Some(token.as_str());
    let listed = gw.get("/documents?q=Excel", t).await;
    let path = format!(
        "/documents/{}",
        listed.json["documents"][0]["id"].as_str().expect("an id")
    );
    let json_tag = gw.get(&path, t).await.header("etag").to_owned();
    let xml = call(&gw, Method::GET, &path, t, Some(XML), None).await;
    let xml_tag = xml.header("etag").to_owned();
    assert!(
        !json_tag.is_empty() && xml_tag != json_tag,
        "{json_tag} {xml_tag}"
    );
    let conditional = |accept: &'static str, tag: String| {
        client()
            .get(gw.url(&path))
            .bearer_auth(&token)
            .header("accept", accept)
            .header("if-none-match", tag)
            .send()
    };
    let same = conditional(XML, xml_tag.clone()).await.expect("an answer");
    assert_eq!(same.status(), 304);
    assert_eq!(same.headers()["etag"].to_str().expect("a tag"), xml_tag);
    let other = conditional(XML, json_tag.clone()).await.expect("an answer");
    assert_eq!(other.status(), 200);
    let other = conditional("application/json", xml_tag)
        .await
        .expect("an answer");
    assert_eq!(other.status(), 200);
    let same = conditional("application/json", json_tag)
        .await
        .expect("an answer");
    assert_eq!(same.status(), 304);
}

#[tokio::test]
async fn the_description_lists_both_media_types_for_every_body() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let doc = gw.get("/openapi.json", None).await.json;
    let mut bodies = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let untouched =
            ["/healthz", "/readyz", "/metrics", "/openapi.json"].contains(&path.as_str());
        for (method, operation) in item.as_object().expect("an item") {
            if let Some(content) = operation["requestBody"]["content"].as_object() {
                bodies += 1;
                let passthrough = path == "/wd/{command}";
                for media in ["application/json", "text/json", XML, "text/xml"] {
                    let xml = media.ends_with("xml");
                    assert_eq!(
                        content.contains_key(media),
                        !(xml && passthrough),
                        "{method} {path}: {media} body"
                    );
                }
                if let Some(xml) = content.get(XML) {
                    // XML has no null: a field left out is absent.
                    let schema = xml["schema"].to_string();
                    assert!(!schema.contains("\"null\""), "{method} {path}: {schema}");
                }
            }
            for (status, response) in operation["responses"].as_object().expect("responses") {
                let Some(content) = response["content"].as_object() else {
                    continue;
                };
                if status.starts_with('2')
                    && content.contains_key("application/json")
                    && !untouched
                    && path != "/wd/{command}"
                {
                    for media in ["text/json", XML, "text/xml"] {
                        assert!(
                            content.contains_key(media),
                            "{method} {path} {status}: no {media}"
                        );
                    }
                    assert!(
                        operation["responses"]["406"].is_object(),
                        "{method} {path}: no 406"
                    );
                }
                if !status.starts_with('2') && !untouched {
                    assert!(
                        content.contains_key("application/problem+xml"),
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
    assert!(bodies >= 5, "{bodies} request bodies");
    assert_eq!(doc["components"]["schemas"]["Link"]["xml"]["name"], "Link");
    assert_eq!(
        doc["components"]["schemas"]["DeviceView"]["properties"]["_links"]["xml"]["wrapped"],
        true
    );
}

#[tokio::test]
async fn verification_ids_from_xml_work_in_json() {
    // A flow may mix representations: the verification started in XML finishes in JSON.
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let token = gw.login("demo", "demo").await;
    let (id, code) = request_code(&gw, &sim, &token, "mixed@example.com").await;
    let create = format!(
        "<CreateRequest><address>mixed@example.com</address><name>Mixed</name>\
         <verification_id>{id}</verification_id><code>{code}</code></CreateRequest>"
    );
    let created = call(
        &gw,
        Method::POST,
        "/me/2fa-devices",
        Some(&token),
        None,
        Some(("text/xml", create)),
    )
    .await;
    assert_json(&created, 201);
    assert_eq!(created.json["name"], "Mixed");
    assert!(created.header("location").starts_with("/me/2fa-devices/"));
}

#[derive(Debug, Deserialize)]
struct XmlVerification {
    verification_id: String,
    state: String,
    attempts_left: u32,
    message: String,
    #[serde(rename = "_links")]
    links: XmlLinks,
}

#[derive(Debug, Deserialize)]
struct XmlSessionList {
    sessions: XmlSessionItems,
    #[serde(rename = "_links")]
    links: XmlLinks,
}

#[derive(Debug, Deserialize)]
struct XmlSessionItems {
    #[serde(rename = "SessionSummary")]
    session: Vec<XmlSession>,
}

#[derive(Debug, Deserialize)]
struct XmlSession {
    id: String,
    current: bool,
}

#[derive(Debug, Deserialize)]
struct XmlEnded {
    username: String,
    ended: u32,
}

/// The routes built beside negotiation (the verify step, the sessions index, the operator
/// route) are negotiated too, with no code of their own: XML bodies in, XML answers and
/// XML problems out.
#[tokio::test]
async fn the_verify_step_and_the_session_routes_speak_xml_too() {
    const OPERATOR: &str = "an operator token of at least some length";
    let digest: String = <sha2::Sha256 as sha2::Digest>::digest(OPERATOR.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[("WDGATE_ADMIN_OPERATOR_TOKEN_SHA256", digest.as_str())],
    );
    let token = gw.login("demo", "demo").await;
    let t = Some(token.as_str());
    let other = gw.login("demo", "demo").await;

    // The verify step: send a code, read the verification, verify it, then create.
    let (sent, code) = send_code_in_xml(&gw, &sim, t, "xml@example.com").await;
    let path = format!("/me/2fa-devices/verifications/{}", sent.verification_id);
    let pending = call(&gw, Method::GET, &path, t, Some("text/xml"), None).await;
    assert_eq!(pending.status, 200, "{}", pending.text);
    assert_eq!(pending.header("content-type"), "text/xml");
    assert_eq!(root(&pending.text), "VerificationView");
    let pending: XmlVerification = quick_xml::de::from_str(&pending.text).expect("pending");
    assert_eq!(pending.state, "pending");
    assert!(pending.links.link.iter().any(|l| l.rel == "verify"));
    let wrong_code = if code == "000000" { "111111" } else { "000000" };
    let wrong = call(
        &gw,
        Method::POST,
        &path,
        t,
        Some(XML),
        Some((
            XML,
            format!("<VerifyRequest><code>{wrong_code}</code></VerifyRequest>"),
        )),
    )
    .await;
    assert_xml_problem(&wrong, 422, "code_invalid");
    let verified = call(
        &gw,
        Method::POST,
        &path,
        t,
        Some(XML),
        Some((
            XML,
            format!("<VerifyRequest><code>{code}</code></VerifyRequest>"),
        )),
    )
    .await;
    assert_xml(&verified, 200, "VerificationView");
    let verified: XmlVerification = quick_xml::de::from_str(&verified.text).expect("verified");
    assert_eq!(verified.verification_id, sent.verification_id);
    assert_eq!(verified.state, "verified");
    assert!(verified.attempts_left < 5);
    assert!(!verified.message.is_empty());
    assert!(
        verified
            .links
            .link
            .iter()
            .any(|l| l.rel == "insert" && l.method == "POST")
    );
    let create = format!(
        "<CreateRequest><verification_id>{}</verification_id><name>Two steps, XML</name>\
         </CreateRequest>",
        sent.verification_id
    );
    let created = call(
        &gw,
        Method::POST,
        "/me/2fa-devices",
        t,
        Some(XML),
        Some((XML, create)),
    )
    .await;
    assert_xml(&created, 201, "DeviceView");
    let device: XmlDevice = quick_xml::de::from_str(&created.text).expect("a device");
    assert_eq!(device.name, "Two steps, XML");
    let used = call(&gw, Method::GET, &path, t, Some(XML), None).await;
    assert_xml_problem(&used, 409, "verification_used");

    // Where I'm signed in: the list in XML, then ending the other session.
    let list = call(&gw, Method::GET, "/me/sessions", t, Some(XML), None).await;
    assert_xml(&list, 200, "SessionList");
    let list: XmlSessionList = quick_xml::de::from_str(&list.text).expect("sessions");
    assert_eq!(list.sessions.session.len(), 2);
    assert_eq!(
        list.sessions.session.iter().filter(|s| s.current).count(),
        1
    );
    assert!(list.links.link.iter().any(|l| l.rel == "end-others"));
    let json = call(&gw, Method::GET, "/me/sessions", t, None, None).await;
    assert_json(&json, 200);
    let other_id = list
        .sessions
        .session
        .iter()
        .find(|s| !s.current)
        .expect("the other session")
        .id
        .clone();
    let unknown = call(
        &gw,
        Method::DELETE,
        "/me/sessions/ses_AAAAAAAAAAAAAAAAAAAAAA",
        t,
        Some(XML),
        None,
    )
    .await;
    assert_xml_problem(&unknown, 404, "not_found");
    let ended = call(
        &gw,
        Method::DELETE,
        &format!("/me/sessions/{other_id}"),
        t,
        Some(XML),
        None,
    )
    .await;
    assert_eq!(ended.status, 204, "{}", ended.text);
    assert!(ended.text.is_empty());
    gw.get("/me", Some(&other))
        .await
        .assert_problem(401, "invalid_token");
    let refused = call(&gw, Method::DELETE, "/me/sessions", t, Some(XML), None).await;
    assert_xml_problem(&refused, 400, "bad_request");

    // The operator route: its problems and its answer negotiate like every route's.
    let path = "/admin/users/demo/sessions";
    let wrong = client()
        .delete(gw.url(path))
        .bearer_auth("not the operator token")
        .header("accept", XML)
        .send()
        .await
        .expect("send");
    assert_xml_problem(&Reply::read(wrong).await, 401, "invalid_token");
    let done = client()
        .delete(gw.url(path))
        .bearer_auth(OPERATOR)
        .header("accept", XML)
        .send()
        .await
        .expect("send");
    let done = Reply::read(done).await;
    assert_xml(&done, 200, "EndedSessions");
    let done: XmlEnded = quick_xml::de::from_str(&done.text).expect("ended");
    assert_eq!((done.username.as_str(), done.ended), ("demo", 1));
    gw.get("/me", Some(&token))
        .await
        .assert_problem(401, "invalid_token");
}
