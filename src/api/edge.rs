//! The edge: what every request goes through once, in front of the router.
//!
//! One tower layer and one future, with nothing boxed on a request that succeeds. On
//! the way in it works out the client IP, gives the request its id and its log fields
//! (`telemetry::RequestContext`, current while the request is polled), refuses a bad
//! `Host` (`host.rs`), holds the client to its share of the request slots
//! (`per_client.rs`) and sheds load, and sets the body limit and the body's
//! deadline (`body_deadline.rs`), and negotiates the answer's representation by `Accept`
//! (`super::negotiate`: 406 when nothing offered is acceptable). While the handler runs
//! it catches a panic and bounds the time. On the way out it re-encodes a JSON answer as
//! XML when XML was chosen (`super::xml`), writes problem bodies (JSON or XML), puts the
//! id and `Vary: Accept` on the answer, and counts, times and logs the answer (a refusal
//! with the client IP). The `GET`s of the busiest routes it answers itself, with the
//! router's handlers (`super::hot`), instead of passing them to the router.
//!
//! Seven stacked layers used to do this (request id, trace, metrics and problems
//! middleware, catch-panic, timeout, load shedding). Each had its own future, and
//! several boxed theirs and cloned the services below them. Together they cost about
//! 20,000 instructions a request: as much as hyper and the handler combined
//! (bench/results.md has the before and after).

mod body_deadline;
mod host;
mod negotiated;
mod per_client;
#[cfg(test)]
mod tests;

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::{HeaderValue, Request, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::{BoxError, Layer, Service};

pub use self::body_deadline::BodyTimeout;
use self::body_deadline::DeadlineBody;
pub use self::host::target_authority;
use self::negotiated::{is_json, json_validators, negotiated, reencoding};
use self::per_client::PerClient;
use super::client_ip::ClientIpResolver;
use super::hot::{Hot, HotFuture, HotRoutes};
use super::negotiate::{Decision, Format, Negotiation, RouteOffers};
use super::problem::{self, ApiError};
use crate::metrics::{RequestMetrics, method_index};
use crate::session::RecentToken;
use crate::telemetry::{self, REQUEST_ID, RequestContext};

/// The route label of a path that matches no route.
const UNMATCHED: &str = "unmatched";

/// Route templates, to label requests by and to tell which ones shed load, and which
/// representations each offers.
#[derive(Debug)]
pub struct RouteTable {
    routes: matchit::Router<Route>,
    /// The templates, by [`Route::id`].
    templates: Vec<&'static str>,
    /// What each route offers, by [`Route::id`]; the last entry is an unmatched path's.
    offers: Vec<RouteOffers>,
    negotiation: Negotiation,
}

/// What the edge knows of a route.
#[derive(Debug, Clone, Copy)]
struct Route {
    /// Its place in the table (an unmatched path: one past the last route).
    id: usize,
    /// The template: the label in metrics and logs.
    template: &'static str,
    /// Whether the route counts against the concurrency limit.
    sheds: bool,
    /// Whether the route streams a transfer: it waits for its answer's headers up to
    /// the transfer budget instead of the request timeout (and takes a transfer permit
    /// of its own instead of shedding).
    streams: bool,
    /// Whether a `GET` of it is answered without the router (`super::hot`).
    hot: Option<Hot>,
}

impl RouteTable {
    /// A table of `(template, sheds load, streams)` triples, in the router's syntax.
    pub fn new(routes: &[(&'static str, bool, bool)]) -> Result<Self, matchit::InsertError> {
        let mut table = matchit::Router::new();
        for (id, &(template, sheds, streams)) in routes.iter().enumerate() {
            let route = Route {
                id,
                template,
                sheds,
                streams,
                hot: HotRoutes::get_of(template),
            };
            table.insert(template, route)?;
            // A catch-all needs a segment; the bare prefix (`/ui/`) is the same route.
            if let Some(prefix) = template.strip_suffix("{*path}") {
                table.insert(prefix, route)?;
            }
        }
        let templates: Vec<&'static str> = routes.iter().map(|&(t, _, _)| t).collect();
        let negotiation = Negotiation::default();
        Ok(Self {
            offers: offers_of(&negotiation, &templates),
            routes: table,
            templates,
            negotiation,
        })
    }

    /// The table with `negotiation` (from the OpenAPI document) deciding the answers'
    /// representations; without it only problems follow `Accept`.
    #[must_use]
    pub fn with_negotiation(mut self, negotiation: Negotiation) -> Self {
        self.offers = offers_of(&negotiation, &self.templates);
        self.negotiation = negotiation;
        self
    }

    /// The route `path` matches; an unmatched path sheds load like any API call.
    fn find(&self, path: &str) -> Route {
        self.routes.at(path).map_or(
            Route {
                id: self.templates.len(),
                template: UNMATCHED,
                sheds: true,
                streams: false,
                hot: None,
            },
            |found| *found.value,
        )
    }
}

/// What each of `templates` offers under `negotiation`, then an unmatched path's.
fn offers_of(negotiation: &Negotiation, templates: &[&str]) -> Vec<RouteOffers> {
    templates
        .iter()
        .map(|template| negotiation.offers(template))
        .chain(std::iter::once(negotiation.offers(UNMATCHED)))
        .collect()
}

/// The edge's settings.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// The largest request body (`server.body_limit_bytes`).
    pub body_limit_bytes: usize,
    /// How long a request may take (`server.request_timeout_secs`).
    pub request_timeout: Duration,
    /// How long a streaming route may take to start its answer
    /// (`documents.transfer_max_secs`).
    pub stream_timeout: Duration,
    /// How long a request's body may take to arrive, from the request's start
    /// (`server.body_read_timeout_secs`).
    pub body_read_timeout: Duration,
    /// Requests in flight beyond which load-shedding routes answer 503
    /// (`server.max_concurrent_requests`).
    pub max_concurrent_requests: usize,
    /// Requests in flight from one client beyond which that client's load-shedding
    /// requests answer 429 (`server.max_concurrent_requests_per_ip`); at or above
    /// `max_concurrent_requests` there is no per-client cap.
    pub max_concurrent_requests_per_ip: usize,
    /// Who the client is, and whether its peer is a trusted proxy (whose request id
    /// is kept).
    pub client_ip: ClientIpResolver,
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
    stream_timeout: Duration,
    body_timeout: Duration,
    max_in_flight: usize,
    in_flight: AtomicUsize,
    /// `None` when the per-client cap is no tighter than the global one.
    per_client: Option<PerClient>,
    client_ip: ClientIpResolver,
    /// The routes answered without the service below, if any.
    hot: Option<HotRoutes>,
}

impl EdgeLayer {
    /// An edge for the routes of `routes`, every request passed to the service below.
    pub fn new(routes: RouteTable, settings: EdgeSettings) -> Self {
        Self::with_hot_routes(routes, settings, None)
    }

    /// An edge for the routes of `routes` that answers the `GET`s of `hot` itself
    /// (`super::hot`), the rest through the service below (the router `hot` shares
    /// its state with).
    pub fn with_hot_routes(
        routes: RouteTable,
        settings: EdgeSettings,
        hot: Option<HotRoutes>,
    ) -> Self {
        let per_client = (settings.max_concurrent_requests_per_ip
            < settings.max_concurrent_requests)
            .then(|| PerClient::new(settings.max_concurrent_requests_per_ip));
        let metrics = RequestMetrics::new(
            routes
                .templates
                .iter()
                .copied()
                .chain(std::iter::once(UNMATCHED)),
        );
        Self(Arc::new(Shared {
            routes,
            metrics,
            body_limit: DefaultBodyLimit::max(settings.body_limit_bytes),
            timeout: settings.request_timeout,
            stream_timeout: settings.stream_timeout,
            body_timeout: settings.body_read_timeout,
            max_in_flight: settings.max_concurrent_requests,
            in_flight: AtomicUsize::new(0),
            per_client,
            client_ip: settings.client_ip,
            hot,
        }))
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            shared: self.0.clone(),
            peer: None,
            recent_token: None,
        }
    }
}

/// The service [`EdgeLayer`] adds.
#[derive(Debug, Clone)]
pub struct Edge<S> {
    inner: S,
    shared: Arc<Shared>,
    /// The connection's peer, when the edge serves one connection (see
    /// [`Edge::set_peer`]); else a request's `ConnectInfo`.
    peer: Option<SocketAddr>,
    /// The connection's last token, shared by the edge's clones for its requests
    /// (`None` when the edge serves no one connection).
    recent_token: Option<Arc<Mutex<RecentToken>>>,
}

impl<S> Edge<S> {
    /// Serves the connection of `peer`. The edge reads the peer from here rather than
    /// from a `ConnectInfo` in each request's extensions (a map, its table and a box
    /// made for every request), and gives it to the routed handlers that read it. The
    /// connection's requests also share its last token (see [`RecentToken`]).
    pub fn set_peer(&mut self, peer: SocketAddr) {
        self.peer = Some(peer);
        self.recent_token = Some(Arc::default());
    }
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
        let body_due = start + self.shared.body_timeout;
        let mut bodiless = false;
        let mut request = request.map(|body| {
            // A body that has already ended (a GET) needs no deadline, nor a box: an
            // empty body stands for it (a box of nothing allocates nothing).
            if body.is_end_stream() {
                bodiless = true;
                Body::empty()
            } else {
                Body::new(DeadlineBody::new(body, body_due.into()))
            }
        });
        let peer = self
            .peer
            .or_else(|| {
                request
                    .extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(peer)| *peer)
            })
            .map(|peer| peer.ip());
        let resolver = &self.shared.client_ip;
        let client = peer.map(|peer| resolver.client_behind(peer, request.headers()));
        let route = self.shared.routes.find(request.uri().path());
        // Whether the edge answers the request itself (`super::hot`) or the router does.
        let hot = match (&self.shared.hot, route.hot) {
            (Some(routes), Some(hot)) if HotRoutes::takes(request.method()) => Some((routes, hot)),
            _ => None,
        };
        let trusted = peer.is_some_and(|peer| resolver.is_trusted(peer));
        // A hot route's handler reads no `x-request-id`: its request keeps the one it
        // came with; the router's handlers see the id on the request.
        let ids = if hot.is_some() {
            telemetry::request_ids(request.headers(), trusted)
        } else {
            telemetry::assign_request_id(&mut request, trusted)
        };
        let routes = &self.shared.routes;
        let decision = routes.negotiation.decide_for(
            &routes.offers[route.id],
            request.method(),
            request.headers(),
        );
        let log = telemetry::request_context(
            ids.id.as_ref().map_or("", header_text),
            ids.client.as_ref().map(header_text),
            request.method(),
            route.template,
        );
        let mut answer = EdgeFuture {
            state: State::Done,
            shared: self.shared.clone(),
            log,
            request_id: ids.id,
            route: route.id,
            method: method_index(request.method()),
            http1: request.version() <= Version::HTTP_11,
            client,
            start,
            timeout: if route.streams {
                self.shared.stream_timeout
            } else {
                self.shared.timeout
            },
            slot: None,
            decision,
        };
        if let Err(reason) = host::check(request.version(), request.uri(), request.headers()) {
            answer.refuse(ApiError::BadRequest(reason.to_owned()));
            return answer;
        }
        match decision {
            Decision::NotAcceptable { offered, .. } => {
                answer.refuse(ApiError::NotAcceptable(offered));
                return answer;
            }
            Decision::Negotiated { offer, .. } if offer.format == Format::Xml => {
                // The handler compares the JSON representation's tags.
                json_validators(request.headers_mut());
            }
            _ => {}
        }
        if route.sheds {
            match Slot::take(&self.shared, client) {
                Ok(slot) => answer.slot = Some(slot),
                Err(refusal) => {
                    answer.refuse(refusal);
                    return answer;
                }
            }
        }
        // Nothing to limit in a body that has ended (the extension costs an allocation).
        if !bodiless {
            self.shared.body_limit.apply(&mut request);
        }
        // The routed handlers read the peer from the request (the client-IP extractor);
        // the hot ones have no use for it.
        if let (None, Some(peer)) = (hot, self.peer) {
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        let called = answer.log.in_scope(|| {
            catch_unwind(AssertUnwindSafe(|| match hot {
                Some((routes, hot)) => Call::Hot {
                    answer: routes.call(hot, request, self.recent_token.as_deref()),
                },
                None => Call::Routed {
                    inner: Box::pin(self.inner.call(request)),
                },
            }))
        });
        answer.state = match called {
            Ok(inner) => State::Running {
                inner,
                deadline: None,
            },
            Err(panic) => {
                let _entered = answer.log.enter();
                rendering(
                    panicked(&*panic),
                    answer.request_id.as_ref(),
                    answer.decision,
                )
            }
        };
        answer
    }
}

/// A place among the requests in flight (and among its client's, when the client is
/// known and capped), given back on drop.
#[derive(Debug)]
struct Slot {
    shared: Arc<Shared>,
    /// The client whose count this place is in.
    client: Option<IpAddr>,
}

impl Slot {
    /// A place, or the refusal: 429 when `client` has its share in flight (so it
    /// cannot take the places of others), 503 when all places are taken.
    fn take(shared: &Arc<Shared>, client: Option<IpAddr>) -> Result<Self, ApiError> {
        let counted = match (&shared.per_client, client) {
            (Some(per_client), Some(ip)) => {
                if !per_client.enter(ip) {
                    return Err(ApiError::TooManyInFlight);
                }
                Some(ip)
            }
            _ => None,
        };
        // From here on, dropping the slot gives back whatever it holds.
        let slot = Self {
            shared: shared.clone(),
            client: counted,
        };
        let before = shared.in_flight.fetch_add(1, Ordering::AcqRel);
        if before >= shared.max_in_flight {
            drop(slot);
            return Err(ApiError::Overloaded);
        }
        Ok(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::AcqRel);
        if let (Some(per_client), Some(ip)) = (&self.shared.per_client, self.client) {
            per_client.leave(ip);
        }
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
        // The request's log fields, current while it is polled.
        log: RequestContext,
        request_id: Option<HeaderValue>,
        // The route's id and the method's index, the metrics' labels.
        route: usize,
        method: usize,
        // Whether the connection is HTTP/1, which a 408 closes.
        http1: bool,
        client: Option<IpAddr>,
        start: Instant,
        // How long the answer's headers may take: the request timeout, or the
        // transfer budget on a streaming route.
        timeout: Duration,
        slot: Option<Slot>,
        // The answer's representation.
        decision: Decision,
    }
}

impl<F> EdgeFuture<F> {
    /// Answers with `refusal` instead of calling the service.
    fn refuse(&mut self, refusal: ApiError) {
        self.state = rendering(
            refusal.into_response(),
            self.request_id.as_ref(),
            self.decision,
        );
    }
}

/// The handler's answer: through the service below, or a hot route's.
///
/// Both are boxed. The router's future holds the request until it is routed (320
/// bytes); inline, it made every edge future that size, hot routes' included, and
/// hyper moves the future whole several times a request (memcpy each time), where one
/// allocation on a routed request costs less than those moves.
enum Call<F> {
    Routed { inner: Pin<Box<F>> },
    Hot { answer: HotFuture },
}

impl<F> Future for Call<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Both variants are boxes, so the enum is `Unpin`.
        match self.get_mut() {
            Call::Routed { inner } => inner.as_mut().poll(cx),
            Call::Hot { answer } => answer.as_mut().poll(cx).map(Ok),
        }
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        /// The router (or a hot route) has the request. The deadline is armed only if
        /// the first poll does not finish it, so a request answered at once never
        /// touches a timer.
        Running {
            #[pin]
            inner: Call<F>,
            deadline: Option<Pin<Box<Sleep>>>,
        },
        /// A problem answer, or an XML one, is being written.
        Rendering { render: Rendering },
        /// The answer is out.
        Done,
    }
}

/// The state that writes `response`'s problem body, naming `request_id`, in the format
/// `decision` chose.
fn rendering<F>(
    response: Response,
    request_id: Option<&HeaderValue>,
    decision: Decision,
) -> State<F> {
    let request_id = request_id
        .and_then(|id| id.to_str().ok())
        .map(str::to_owned);
    let format = decision.problem().unwrap_or(Format::Json);
    State::Rendering {
        render: Box::pin(problem::render(response, request_id, format)),
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _entered = this.log.enter();
        let response = loop {
            let response = match this.state.as_mut().project() {
                StateProj::Running { inner, deadline } => {
                    match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                        Ok(Poll::Ready(Ok(response))) => response,
                        Ok(Poll::Ready(Err(never))) => match never {},
                        Ok(Poll::Pending) => {
                            let deadline = deadline.get_or_insert_with(|| {
                                let at = *this.start + *this.timeout;
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
                match *this.decision {
                    Decision::Negotiated {
                        operation, offer, ..
                    } if offer.format == Format::Xml && is_json(&response) => {
                        this.state.set(reencoding(
                            response,
                            this.shared.clone(),
                            operation,
                            offer,
                            this.request_id.as_ref(),
                        ));
                        continue;
                    }
                    _ => break response,
                }
            }
            this.state.set(rendering(
                response,
                this.request_id.as_ref(),
                *this.decision,
            ));
        };
        this.state.set(State::Done);
        let mut response = response;
        negotiated(&mut response, *this.decision);
        if let Some(id) = this.request_id.take() {
            // One lookup, where `contains_key` and `insert` hashed the name twice.
            if let header::Entry::Vacant(vacant) = response.headers_mut().entry(REQUEST_ID) {
                vacant.insert(id);
            }
        }
        if response.status() == StatusCode::REQUEST_TIMEOUT && *this.http1 {
            // The rest of the body may still come: the connection cannot be reused.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        let latency = this.start.elapsed();
        let status = response.status().as_u16();
        this.shared
            .metrics
            .record(*this.route, *this.method, status, latency);
        telemetry::log_response(status, latency, *this.client);
        this.slot.take();
        Poll::Ready(Ok(response))
    }
}

/// A header value as text (request ids are ASCII).
fn header_text(value: &HeaderValue) -> &str {
    value.to_str().unwrap_or("")
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
