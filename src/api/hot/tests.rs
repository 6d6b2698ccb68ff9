//! The hot routes answer what the router answers, byte for byte.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, header};
use http_body_util::BodyExt;
use tower::{Layer, ServiceExt};

use super::*;
use crate::api::edge::{Edge, EdgeLayer};
use crate::api::health::Readiness;
use crate::sim::{SimConfig, Simulator};
use crate::telemetry::REQUEST_ID;
use crate::{Config, build_routes, edge_settings, route_table};

/// An answer with its request id taken out: status, headers in order, body.
type Answer = (u16, Vec<(String, String)>, String);

/// A request (path, headers) and the status both ways must answer it with.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16);

/// Two edges over one router and one state: one answering the hot routes itself,
/// one passing everything to the router.
struct Pair {
    hot: Edge<axum::Router>,
    routed: Edge<axum::Router>,
}

impl Pair {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let address = listener.local_addr().expect("an address");
        let sim = Simulator::new(&SimConfig::default()).expect("the simulator");
        tokio::spawn(crate::sim::serve(listener, sim));
        let mut config = Config::default();
        config.upstream.url = Some(format!("http://{address}"));
        let (state, router) =
            build_routes(&config, Readiness::new(Duration::from_secs(1))).expect("the routes");
        let hot = EdgeLayer::with_hot_routes(
            route_table().expect("the table"),
            edge_settings(&config),
            Some(HotRoutes::new(state)),
        )
        .layer(router.clone());
        let routed =
            EdgeLayer::new(route_table().expect("the table"), edge_settings(&config)).layer(router);
        Self { hot, routed }
    }

    /// A token for `demo`, logged in through the router.
    async fn login(&self) -> String {
        let request = Request::post("/sessions")
            .header(header::HOST, "gw.example")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"username":"demo","password":"demo"}"#))
            .expect("a request");
        let response = self
            .routed
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        json["token"].as_str().expect("a token").to_owned()
    }

    /// The answers of both edges to the request `make` builds.
    async fn both(&self, make: impl Fn() -> Request<Body>) -> (Answer, Answer) {
        let hot = answer(self.hot.clone().oneshot(make()).await.expect("infallible")).await;
        let routed = answer(
            self.routed
                .clone()
                .oneshot(make())
                .await
                .expect("infallible"),
        )
        .await;
        (hot, routed)
    }
}

async fn answer(response: Response) -> Answer {
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get(&REQUEST_ID)
        .and_then(|id| id.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let headers = response
        .headers()
        .iter()
        .filter(|(name, _)| **name != REQUEST_ID)
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let body = String::from_utf8_lossy(&body).replace(&id, "<request id>");
    (status, headers, body)
}

fn request(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::get(path).header(header::HOST, "gw.example");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::empty()).expect("a request")
}

#[test]
fn only_the_gets_of_two_templates_are_hot() {
    assert_eq!(HotRoutes::get_of(paths::ME), Some(Hot::Me));
    assert_eq!(HotRoutes::get_of(paths::DEVICES), Some(Hot::Devices));
    for template in [paths::DEVICE, paths::MY_SESSIONS, paths::SESSIONS, "/me/"] {
        assert_eq!(HotRoutes::get_of(template), None, "{template}");
    }
    assert!(HotRoutes::takes(&Method::GET));
    for method in [Method::HEAD, Method::POST, Method::DELETE, Method::OPTIONS] {
        assert!(!HotRoutes::takes(&method), "{method}");
    }
}

#[tokio::test]
async fn hot_routes_answer_what_the_router_answers() {
    let pair = Pair::start().await;
    let token = pair.login().await;
    let bearer = format!("Bearer {token}");
    let bearer = bearer.as_str();
    let lower = format!("bearer {token}");
    let spaced = format!("  BEARER   {token}  ");
    let tabbed = format!("Bearer\t{token}");
    let cases: Vec<Case<'_>> = vec![
        ("/me", vec![("authorization", bearer)], 200),
        ("/me", vec![("authorization", &lower)], 200),
        ("/me", vec![("authorization", &spaced)], 200),
        ("/me", vec![("authorization", &tabbed)], 401),
        ("/me/2fa-devices?", vec![("authorization", bearer)], 200),
        (
            "/me/2fa-devices?redact=",
            vec![("authorization", bearer)],
            400,
        ),
        ("/me", vec![], 401),
        (
            "/me",
            vec![("authorization", "Bearer wdg_not-a-token")],
            401,
        ),
        ("/me", vec![("authorization", "Basic ZGVtbzpkZW1v")], 401),
        (
            "/me",
            vec![("authorization", bearer), ("accept", "application/xml")],
            200,
        ),
        (
            "/me",
            vec![("authorization", bearer), ("accept", "text/csv")],
            406,
        ),
        ("/me?x=1", vec![("authorization", bearer)], 200),
        ("/me/2fa-devices", vec![("authorization", bearer)], 200),
        (
            "/me/2fa-devices?redact=false",
            vec![("authorization", bearer)],
            200,
        ),
        (
            "/me/2fa-devices?redact=maybe",
            vec![("authorization", bearer)],
            400,
        ),
        (
            "/me/2fa-devices?redact=1&redact=0",
            vec![("authorization", bearer)],
            400,
        ),
        (
            "/me/2fa-devices?redact=%ZZ",
            vec![("authorization", bearer)],
            400,
        ),
        ("/me/2fa-devices", vec![], 401),
        ("/me/2fa-devices?redact=maybe", vec![], 401),
        (
            "/me/2fa-devices",
            vec![("authorization", bearer), ("accept", "application/xml")],
            200,
        ),
    ];
    for (path, headers, status) in cases {
        let (hot, routed) = pair.both(|| request(path, &headers)).await;
        assert_eq!(hot, routed, "GET {path} {headers:?}");
        assert_eq!(hot.0, status, "GET {path} {headers:?}: {hot:?}");
        // As the router's route future does (the edge rewrites problems and XML).
        let json = hot
            .1
            .contains(&("content-type".to_owned(), "application/json".to_owned()));
        if json {
            assert!(
                hot.1.iter().any(|(name, _)| name == "content-length"),
                "GET {path}: {hot:?}"
            );
        }
    }
}

/// A `GET` that comes with a body (which neither way reads) is answered alike.
#[tokio::test]
async fn a_get_with_a_body_is_answered_alike() {
    let pair = Pair::start().await;
    let token = pair.login().await;
    let bearer = format!("Bearer {token}");
    for path in ["/me", "/me/2fa-devices", "/me/2fa-devices?redact=false"] {
        let with_body = || {
            Request::get(path)
                .header(header::HOST, "gw.example")
                .header(header::AUTHORIZATION, bearer.as_str())
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"ignored":true}"#))
                .expect("a request")
        };
        let (hot, routed) = pair.both(with_body).await;
        assert_eq!(hot, routed, "GET {path} with a body");
        assert_eq!(hot.0, 200, "GET {path} with a body: {hot:?}");
    }
}
