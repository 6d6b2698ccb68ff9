//! Unit tests of the edge's own answers.

use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;

fn table() -> RouteTable {
    RouteTable::new(super::super::ROUTES).expect("the routes fit one table")
}

/// One-second budgets and room for one request.
fn settings() -> EdgeSettings {
    EdgeSettings {
        body_limit_bytes: 1024,
        request_timeout: Duration::from_secs(1),
        stream_timeout: Duration::from_secs(60),
        body_read_timeout: Duration::from_secs(1),
        max_concurrent_requests: 1,
        max_concurrent_requests_per_ip: 1,
        client_ip: ClientIpResolver::default(),
    }
}

/// An edge with [`settings`] in front of `inner`.
fn edge<S>(inner: S) -> Edge<S> {
    EdgeLayer::new(table(), settings()).layer(inner)
}

/// `GET path` as if from `client` over a socket.
fn get_from(path: &str, client: [u8; 4]) -> Request<Body> {
    let mut request = get(path);
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((client, 40000))));
    request
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, "gw.example")
        .body(Body::empty())
        .expect("a request")
}

/// Status, `code` and `request_id` of a problem answer, checking it names the
/// same id as its header.
async fn problem(response: Response) -> (u16, String) {
    let status = response.status().as_u16();
    let id = response.headers()[REQUEST_ID]
        .to_str()
        .expect("ascii")
        .to_owned();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).expect("problem+json");
    assert_eq!(json["request_id"], id.as_str(), "{json}");
    (status, json["code"].as_str().expect("a code").to_owned())
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_problem() {
    let panics = tower::service_fn(|_: Request<Body>| async {
        if true {
            panic!("boom");
        }
        Ok::<Response, Infallible>(Response::default())
    });
    let response = edge(panics).oneshot(get("/me")).await.expect("infallible");
    assert_eq!(problem(response).await, (500, "internal_error".to_owned()));
}

/// A service that panics as it is called, before it has a future to poll.
#[derive(Clone)]
struct PanicsOnCall;

impl Service<Request<Body>> for PanicsOnCall {
    type Response = Response;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<Body>) -> Self::Future {
        panic!("boom in call");
    }
}

#[tokio::test]
async fn a_service_that_panics_when_called_is_a_500_problem() {
    let response = edge(PanicsOnCall)
        .oneshot(get("/me"))
        .await
        .expect("infallible");
    assert_eq!(problem(response).await, (500, "internal_error".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn a_request_past_its_budget_is_a_504_problem() {
    let hangs = tower::service_fn(|_: Request<Body>| async {
        std::future::pending::<()>().await;
        Ok::<Response, Infallible>(Response::default())
    });
    let response = edge(hangs).oneshot(get("/me")).await.expect("infallible");
    assert_eq!(problem(response).await, (504, "request_timeout".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn beyond_the_limit_api_requests_are_shed_and_probes_are_not() {
    let slow = tower::service_fn(|_: Request<Body>| async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok::<Response, Infallible>(Response::default())
    });
    let service = edge(slow);
    let first = tokio::spawn(service.clone().oneshot(get("/me")));
    tokio::task::yield_now().await;
    let shed = service
        .clone()
        .oneshot(get("/me"))
        .await
        .expect("infallible");
    assert_eq!(problem(shed).await, (503, "overloaded".to_owned()));
    let probe = service
        .clone()
        .oneshot(get("/healthz"))
        .await
        .expect("infallible");
    assert_eq!(probe.status(), 200, "probes are not shed");
    let first = first.await.expect("join").expect("infallible");
    assert_eq!(first.status(), 200);
    let again = service.oneshot(get("/me")).await.expect("infallible");
    assert_eq!(again.status(), 200, "the slot is given back");
}

#[tokio::test(start_paused = true)]
async fn a_streaming_route_has_the_transfer_budget_and_does_not_shed() {
    let slow = tower::service_fn(|_: Request<Body>| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok::<Response, Infallible>(Response::default())
    });
    let service = edge(slow);
    let content = "/documents/doc_5_00014410/content";
    // Past the request timeout (1 s) but within the transfer budget (60 s).
    let first = tokio::spawn(service.clone().oneshot(get(content)));
    tokio::task::yield_now().await;
    // The only slot among requests in flight is free: streams do not take one.
    let other = tokio::spawn(service.clone().oneshot(get("/me")));
    let streamed = first.await.expect("join").expect("infallible");
    assert_eq!(streamed.status(), 200, "the transfer budget applies");
    let other = other.await.expect("join").expect("infallible");
    assert_eq!(
        other.status(),
        504,
        "a JSON route keeps the request timeout"
    );
    let hangs = tower::service_fn(|_: Request<Body>| async {
        std::future::pending::<()>().await;
        Ok::<Response, Infallible>(Response::default())
    });
    let response = edge(hangs)
        .oneshot(get("/documents/doc_5_00014410/versions/2/content"))
        .await
        .expect("infallible");
    assert_eq!(problem(response).await, (504, "request_timeout".to_owned()));
    let table = table();
    for path in [content, "/documents/doc_5_1/versions/2/content"] {
        let route = table.find(path);
        assert!(route.streams && !route.sheds, "{path}");
    }
    for path in ["/documents/doc_5_1", "/documents/doc_5_1/versions"] {
        let route = table.find(path);
        assert!(!route.streams && route.sheds, "{path}");
    }
}

#[test]
fn paths_are_labelled_by_their_template() {
    let table = table();
    assert_eq!(table.find("/me").template, "/me");
    assert_eq!(
        table.find("/me/2fa-devices/dev_abc").template,
        "/me/2fa-devices/{id}"
    );
    assert_eq!(
        table.find("/me/2fa-devices/verifications").template,
        "/me/2fa-devices/verifications"
    );
    assert_eq!(table.find("/ui/").template, "/ui/{*path}");
    assert_eq!(table.find("/ui/app.js").template, "/ui/{*path}");
    assert_eq!(table.find("/nope").template, UNMATCHED);
    assert_eq!(table.find("/me/2fa-devices/a/b").template, UNMATCHED);
}

#[test]
fn probes_and_metrics_do_not_shed_load() {
    let table = table();
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert!(!table.find(path).sheds, "{path}");
    }
    for path in ["/me", "/sessions", "/wd/CABINETS", "/nope"] {
        assert!(table.find(path).sheds, "{path}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_client_with_its_share_in_flight_gets_429_and_others_do_not() {
    let slow = tower::service_fn(|_: Request<Body>| async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok::<Response, Infallible>(Response::default())
    });
    let service = EdgeLayer::new(
        table(),
        EdgeSettings {
            max_concurrent_requests: 4,
            max_concurrent_requests_per_ip: 1,
            ..settings()
        },
    )
    .layer(slow);
    let attacker = [192, 0, 2, 1];
    let first = tokio::spawn(service.clone().oneshot(get_from("/me", attacker)));
    tokio::task::yield_now().await;
    let refused = service
        .clone()
        .oneshot(get_from("/me", attacker))
        .await
        .expect("infallible");
    assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
    assert_eq!(
        problem(refused).await,
        (429, "too_many_in_flight".to_owned())
    );
    let probe = service.clone().oneshot(get_from("/healthz", attacker));
    let other = service.clone().oneshot(get_from("/me", [192, 0, 2, 2]));
    let (probe, other) = tokio::join!(probe, other);
    assert_eq!(
        probe.expect("infallible").status(),
        200,
        "probes are exempt"
    );
    assert_eq!(
        other.expect("infallible").status(),
        200,
        "another client is served"
    );
    assert_eq!(
        first.await.expect("join").expect("infallible").status(),
        200
    );
    let again = service
        .oneshot(get_from("/me", attacker))
        .await
        .expect("infallible");
    assert_eq!(again.status(), 200, "the client's place is given back");
}

#[tokio::test(start_paused = true)]
async fn a_body_that_does_not_arrive_in_time_is_a_408_that_closes_the_connection() {
    use futures_util::{StreamExt as _, stream};

    let router = axum::Router::new().route(
        "/sessions",
        axum::routing::post(|_: super::super::json::ApiJson<serde_json::Value>| async { "read" }),
    );
    let service = EdgeLayer::new(
        table(),
        EdgeSettings {
            request_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(10),
            ..settings()
        },
    )
    .layer(router);
    let stalled = stream::iter([Ok::<_, BoxError>(hyper::body::Frame::data(Bytes::from(
        "{\"user",
    )))])
    .chain(stream::pending());
    let request = Request::post("/sessions")
        .header(header::HOST, "gw.example")
        .header(header::CONTENT_TYPE, "application/json")
        .body(http_body_util::StreamBody::new(stalled))
        .expect("a request");
    let started = tokio::time::Instant::now();
    let response = service.oneshot(request).await.expect("infallible");
    let waited = started.elapsed();
    assert!(
        (Duration::from_secs(10)..Duration::from_secs(11)).contains(&waited),
        "at the deadline: {waited:?}"
    );
    assert_eq!(response.headers()[header::CONNECTION], "close");
    assert_eq!(problem(response).await, (408, "body_timeout".to_owned()));
}

#[tokio::test]
async fn an_http_1_1_request_without_exactly_one_host_is_a_400_problem() {
    let ok = tower::service_fn(|_: Request<Body>| async {
        Ok::<Response, Infallible>(Response::default())
    });
    let without = Request::get("/healthz")
        .body(Body::empty())
        .expect("a request");
    let response = edge(ok).oneshot(without).await.expect("infallible");
    assert_eq!(problem(response).await, (400, "bad_request".to_owned()));
    let two = Request::get("/healthz")
        .header(header::HOST, "a.example")
        .header(header::HOST, "b.example")
        .body(Body::empty())
        .expect("a request");
    let response = edge(ok).oneshot(two).await.expect("infallible");
    assert_eq!(problem(response).await, (400, "bad_request".to_owned()));
    let http_1_0 = Request::get("/healthz")
        .version(Version::HTTP_10)
        .body(Body::empty())
        .expect("a request");
    let response = edge(ok).oneshot(http_1_0).await.expect("infallible");
    assert_eq!(response.status(), 200, "HTTP/1.0 may leave Host out");
}

#[test]
fn the_edge_future_stays_small_whatever_the_router_future_holds() {
    // hyper moves a request's future whole several times a request: the router's
    // future (which holds the request until it is routed) is boxed, not inline.
    type Routed = axum::routing::future::RouteFuture<Infallible>;
    let size = std::mem::size_of::<EdgeFuture<Routed>>();
    assert!(size < std::mem::size_of::<Routed>(), "{size} bytes");
}
