//! The edge: what every request goes through once, in front of the router.
//!
//! One tower layer and one future, with nothing boxed on a request that succeeds. On
//! the way in it gives the request its id, opens its log span, sheds load and sets the
//! body limit. While the handler runs it catches a panic and bounds the time. On the
//! way out it writes problem bodies, puts the id on the answer, and counts, times and
//! logs the answer.
//!
//! Seven stacked layers used to do this (request id, trace, metrics and problems
//! middleware, catch-panic, timeout, load shedding). Each had its own future, and
//! several boxed theirs and cloned the services below them. Together they cost about
//! 20,000 instructions a request: as much as hyper and the handler combined
//! (bench/results.md has the before and after).

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::{BoxError, Layer, Service};
use tracing::Span;

use super::problem::{self, ApiError};
use crate::metrics::{RequestMetrics, method_label};
use crate::telemetry::{self, REQUEST_ID};

/// The route label of a path that matches no route.
const UNMATCHED: &str = "unmatched";

/// Route templates, to label requests by and to tell which ones shed load.
#[derive(Debug)]
pub struct RouteTable(matchit::Router<Route>);

/// What the edge knows of a route.
#[derive(Debug, Clone, Copy)]
struct Route {
    /// The template: the label in metrics and logs.
    template: &'static str,
    /// Whether the route counts against the concurrency limit.
    sheds: bool,
}

impl RouteTable {
    /// A table of `(template, sheds load)` pairs, in the router's syntax.
    pub fn new(routes: &[(&'static str, bool)]) -> Result<Self, matchit::InsertError> {
        let mut table = matchit::Router::new();
        for &(template, sheds) in routes {
            let route = Route { template, sheds };
            table.insert(template, route)?;
            // A catch-all needs a segment; the bare prefix (`/ui/`) is the same route.
            if let Some(prefix) = template.strip_suffix("{*path}") {
                table.insert(prefix, route)?;
            }
        }
        Ok(Self(table))
    }

    /// The route `path` matches; an unmatched path sheds load like any API call.
    fn find(&self, path: &str) -> Route {
        self.0.at(path).map_or(
            Route {
                template: UNMATCHED,
                sheds: true,
            },
            |found| *found.value,
        )
    }
}

/// The edge's settings.
#[derive(Debug, Clone, Copy)]
pub struct EdgeSettings {
    /// The largest request body (`server.body_limit_bytes`).
    pub body_limit_bytes: usize,
    /// How long a request may take (`server.request_timeout_secs`).
    pub request_timeout: Duration,
    /// Requests in flight beyond which load-shedding routes answer 503
    /// (`server.max_concurrent_requests`).
    pub max_concurrent_requests: usize,
}

/// Puts [`Edge`] in front of a service.
#[derive(Debug, Clone)]
pub struct EdgeLayer(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    routes: RouteTable,
    metrics: RequestMetrics,
    body_limit: DefaultBodyLimit,
    timeout: Duration,
    max_in_flight: usize,
    in_flight: AtomicUsize,
}

impl EdgeLayer {
    /// An edge for the routes of `routes`.
    pub fn new(routes: RouteTable, settings: EdgeSettings) -> Self {
        Self(Arc::new(Shared {
            routes,
            metrics: RequestMetrics::default(),
            body_limit: DefaultBodyLimit::max(settings.body_limit_bytes),
            timeout: settings.request_timeout,
            max_in_flight: settings.max_concurrent_requests,
            in_flight: AtomicUsize::new(0),
        }))
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            shared: self.0.clone(),
        }
    }
}

/// The service [`EdgeLayer`] adds.
#[derive(Debug, Clone)]
pub struct Edge<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S, B> Service<Request<B>> for Edge<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let start = Instant::now();
        let mut request = request.map(Body::new);
        let request_id = telemetry::assign_request_id(&mut request);
        let route = self.shared.routes.find(request.uri().path());
        let span = telemetry::request_span(
            request_id
                .as_ref()
                .map_or("", |id| id.to_str().unwrap_or("")),
            request.method().as_str(),
            route.template,
        );
        let mut answer = EdgeFuture {
            state: State::Done,
            shared: self.shared.clone(),
            span,
            request_id,
            route: route.template,
            method: method_label(request.method()),
            start,
            slot: None,
        };
        if route.sheds {
            match Slot::take(&self.shared) {
                Some(slot) => answer.slot = Some(slot),
                None => {
                    answer.state = rendering(
                        ApiError::Overloaded.into_response(),
                        answer.request_id.as_ref(),
                    );
                    return answer;
                }
            }
        }
        self.shared.body_limit.apply(&mut request);
        let called = answer
            .span
            .in_scope(|| catch_unwind(AssertUnwindSafe(|| self.inner.call(request))));
        answer.state = match called {
            Ok(inner) => State::Running {
                inner,
                deadline: None,
            },
            Err(panic) => {
                let _entered = answer.span.enter();
                rendering(panicked(&*panic), answer.request_id.as_ref())
            }
        };
        answer
    }
}

/// A place among the requests in flight, given back on drop.
#[derive(Debug)]
struct Slot(Arc<Shared>);

impl Slot {
    /// A place, or `None` when all are taken.
    fn take(shared: &Arc<Shared>) -> Option<Self> {
        let before = shared.in_flight.fetch_add(1, Ordering::AcqRel);
        if before >= shared.max_in_flight {
            shared.in_flight.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Self(shared.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A problem body being written (on error paths only, so it may be boxed).
type Rendering = Pin<Box<dyn Future<Output = Response> + Send>>;

pin_project! {
    /// The answer to one request, see [`Edge`].
    pub struct EdgeFuture<F> {
        #[pin]
        state: State<F>,
        shared: Arc<Shared>,
        span: Span,
        request_id: Option<HeaderValue>,
        route: &'static str,
        method: &'static str,
        start: Instant,
        slot: Option<Slot>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        /// The router has the request. The deadline is armed only if the first poll
        /// does not finish it, so a request answered at once never touches a timer.
        Running {
            #[pin]
            inner: F,
            deadline: Option<Pin<Box<Sleep>>>,
        },
        /// A problem answer is being written.
        Rendering { render: Rendering },
        /// The answer is out.
        Done,
    }
}

/// The state that writes `response`'s problem body, naming `request_id`.
fn rendering<F>(response: Response, request_id: Option<&HeaderValue>) -> State<F> {
    let request_id = request_id
        .and_then(|id| id.to_str().ok())
        .map(str::to_owned);
    State::Rendering {
        render: Box::pin(problem::render(response, request_id)),
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        let response = loop {
            let response = match this.state.as_mut().project() {
                StateProj::Running { inner, deadline } => {
                    match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                        Ok(Poll::Ready(Ok(response))) => response,
                        Ok(Poll::Ready(Err(never))) => match never {},
                        Ok(Poll::Pending) => {
                            let deadline = deadline.get_or_insert_with(|| {
                                let at = *this.start + this.shared.timeout;
                                Box::pin(tokio::time::sleep_until(at.into()))
                            });
                            if deadline.as_mut().poll(cx).is_pending() {
                                return Poll::Pending;
                            }
                            StatusCode::GATEWAY_TIMEOUT.into_response()
                        }
                        Err(panic) => panicked(&*panic),
                    }
                }
                StateProj::Rendering { render } => match render.as_mut().poll(cx) {
                    Poll::Ready(response) => break response,
                    Poll::Pending => return Poll::Pending,
                },
                StateProj::Done => panic!("EdgeFuture polled after it answered"),
            };
            if !problem::needs_rendering(&response) {
                break response;
            }
            this.state
                .set(rendering(response, this.request_id.as_ref()));
        };
        this.state.set(State::Done);
        let mut response = response;
        if let Some(id) = this.request_id.take() {
            if !response.headers().contains_key(&REQUEST_ID) {
                response.headers_mut().insert(REQUEST_ID, id);
            }
        }
        let latency = this.start.elapsed();
        let status = response.status().as_u16();
        this.shared
            .metrics
            .record(this.route, this.method, status, latency);
        telemetry::log_response(status, latency);
        this.slot.take();
        Poll::Ready(Ok(response))
    }
}

/// The answer to a panic in the service below (logged with its message).
fn panicked(panic: &(dyn Any + Send)) -> Response {
    tracing::error!(panic = panic_text(panic), "a request handler panicked");
    ApiError::Internal("a request handler panicked".to_owned()).into_response()
}

/// A panic's message, when it has one.
fn panic_text(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    fn table() -> RouteTable {
        RouteTable::new(super::super::ROUTES).expect("the routes fit one table")
    }

    /// An edge with a one-second budget and room for one request, in front of `inner`.
    fn edge<S>(inner: S) -> Edge<S> {
        EdgeLayer::new(
            table(),
            EdgeSettings {
                body_limit_bytes: 1024,
                request_timeout: Duration::from_secs(1),
                max_concurrent_requests: 1,
            },
        )
        .layer(inner)
    }

    fn get(path: &str) -> Request<Body> {
        Request::get(path).body(Body::empty()).expect("a request")
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
}
