//! The HTTP client to the Worldox server: pooled connections, rustls for `https://`,
//! a timeout per call, a cap on answer size, and envelope parsing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Method, Request, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use std::time::Instant;
use tokio::sync::Semaphore;

use super::breaker::{self, Admission, CircuitBreaker};
use super::cgi::{FixedParams, Params};
use super::envelope::{EmptyResults, Envelope, ShapeError, UpstreamError};
use super::fields::{param, repeat};
use super::pool::{Pool, SendError};
use crate::config::UpstreamConfig;

/// Errors Worldox reported, by command and `wd_Error_RCTX`.
pub const UPSTREAM_ERRORS: &str = "wdgate_upstream_errors_total";
/// Answers that were not UTF-8 and were read in `upstream.charset_fallback`, by command.
pub const CHARSET_FALLBACK: &str = "wdgate_upstream_charset_fallback_total";

/// The most one upstream connection buffers while reading (headers and body frames).
/// hyper grows the buffer only as far as a read needs, so a CGI answer stays small; a
/// download fills it. Larger buffers cost fewer system calls per transfer (256 KiB
/// measured 0.87–1.40× a tuned nginx where 64 KiB measured 0.83–0.94×) but more memory
/// per transfer: eight concurrent 200 MiB downloads grew a debug gateway by 28–33 MiB
/// at 256 KiB and 16–18 MiB at 128 KiB, against 6–8 MiB at 64 KiB and the 16 MiB
/// target (`tests/documents_content.rs`, `bench/run downloads`).
const UPSTREAM_READ_BUFFER: usize = 64 * 1024;

/// One upstream call: a command, its query parameters and (for POST) its form body.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// The command, e.g. `2FGET`.
    pub command: &'a str,
    /// GET or POST.
    pub method: Method,
    /// Parameters after the command in the query string.
    pub query: Params,
    /// Parameters after `query`'s that are the same on every call of the command,
    /// encoded once.
    pub fixed: Option<&'static FixedParams>,
    /// Form-encoded body parameters (POST only).
    pub form: Params,
}

impl Call<'_> {
    /// Whether the command only reads (so it may be repeated after a broken answer),
    /// by the command table in [`repeat`]; never by the HTTP method, since
    /// Worldox carries writes as GET.
    pub fn is_read(&self) -> bool {
        match self.fixed {
            // The query's own template first, as it comes first.
            Some(fixed) if !self.query.contains(param::HTML) => {
                is_read(self.command, fixed.params(), &self.form)
            }
            _ => is_read(self.command, &self.query, &self.form),
        }
    }

    /// Appends the query string (`COMMAND+name=value+…`, the fixed parameters last).
    pub fn push_query(&self, out: &mut String) {
        self.query.push_query(out, self.command);
        if let Some(fixed) = self.fixed {
            out.push_str(fixed.text());
        }
    }

    /// About as long as the query string or longer, to size a buffer for it once.
    fn query_len_hint(&self) -> usize {
        self.query.query_len_hint(self.command) + self.fixed.map_or(0, |f| f.text().len())
    }
}

/// Whether `command` with these parameters only reads, by the table in
/// [`repeat`]: SERVE by its `html` template, wherever it is given.
pub fn is_read(command: &str, query: &Params, form: &Params) -> bool {
    let template = query.get(param::HTML).or_else(|| form.get(param::HTML));
    repeat::class(command, template) == repeat::Class::Read
}

/// An answer read by [`Client::call_parsed`].
#[derive(Debug)]
pub enum Parsed<T> {
    /// Read by the caller's fast parser.
    Fast(T),
    /// A successful answer the fast parser did not accept, as an envelope.
    Envelope(Envelope),
}

/// Why an upstream call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The server answered, and the answer reports an error.
    #[error("upstream error {}", .0.rctx)]
    Rejected(UpstreamError),
    /// No answer within the per-call timeout (504).
    #[error("the upstream did not answer within {0:?}")]
    Timeout(Duration),
    /// Connection refused, reset, TLS failure (502).
    #[error("the upstream is unreachable: {0}")]
    Unreachable(String),
    /// The server answered with a status other than 200 (502).
    #[error("the upstream answered HTTP {0}")]
    HttpStatus(u16),
    /// The answer is bigger than `upstream.max_response_bytes` (502).
    #[error("the upstream answer is larger than {0} bytes")]
    TooLarge(usize),
    /// The answer is not a Worldox envelope (502).
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// The circuit breaker is open after repeated failures (503); a probe may go
    /// through after the given time.
    #[error("the upstream is failing; calls are paused for {0:?}")]
    CircuitOpen(Duration),
    /// Too many upstream calls in flight to start this one in time (503).
    #[error("too many upstream calls in flight")]
    Saturated,
}

impl Error {
    /// Whether the failure says the upstream is unhealthy (it counts against the
    /// circuit breaker). An error the upstream reported is a healthy answer.
    fn is_upstream_failure(&self) -> bool {
        match self {
            Self::Unreachable(_) | Self::Timeout(_) => true,
            Self::HttpStatus(status) => *status >= 500,
            Self::Shape(ShapeError::NotJson) => true,
            Self::Rejected(_)
            | Self::TooLarge(_)
            | Self::Shape(ShapeError::WrongShape(_))
            | Self::CircuitOpen(_)
            | Self::Saturated => false,
        }
    }

    /// Whether the call may have reached the server: every failure but the breaker's
    /// and the in-flight limit's refusals, which send nothing.
    pub fn may_have_been_sent(&self) -> bool {
        !matches!(self, Self::CircuitOpen(_) | Self::Saturated)
    }

    /// Whether a read may be repeated after this failure: the answer broke off or the
    /// server (or a proxy in front of it) said it was briefly unavailable. A write is
    /// never repeated after these: its bytes may have reached the server.
    fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::HttpStatus(status) => matches!(status, 502..=504),
            _ => false,
        }
    }
}

/// A failed attempt, and whether it failed before anything was sent.
struct Failed {
    error: Error,
    connect: bool,
}

impl From<Error> for Failed {
    fn from(error: Error) -> Self {
        Self {
            error,
            connect: false,
        }
    }
}

/// A client configuration that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A CA, client certificate or key file is unusable.
    #[error("upstream TLS file {path}: {message}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// No upstream URL.
    #[error("upstream.url is not set")]
    NoUrl,
    /// rustls refused the TLS settings.
    #[error("upstream TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// The pooled client, cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    pub(super) http: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    endpoint: Arc<str>,
    /// Where CGI calls go; `None` if the endpoint does not parse (each call then
    /// reports it).
    cgi: Option<Arc<Cgi>>,
    /// The `Host` every call sends (the endpoint's host, and its port unless it is the
    /// scheme's default), made once: the pool would make it again for each request.
    host: Option<HeaderValue>,
    /// `upstream.url` without a trailing `/`: where same-origin file paths are sent.
    pub(super) origin: Arc<str>,
    pub(super) timeout: Duration,
    /// Budgets of the commands that take longer than `timeout`, by upper-case name.
    command_timeouts: Arc<BTreeMap<String, Duration>>,
    /// Codes read as "success, nothing found".
    pub(super) empty: Arc<EmptyResults>,
    /// How answers that are not UTF-8 are read (`None`: they are refused).
    fallback: Option<&'static encoding_rs::Encoding>,
    max_response_bytes: usize,
    in_flight: Arc<Semaphore>,
    pub(super) breaker: Arc<CircuitBreaker>,
    retries: u32,
    retry_base: Duration,
}

impl Client {
    /// Builds the client from config; `upstream.url` must be set.
    pub fn new(config: &UpstreamConfig) -> Result<Self, BuildError> {
        let url = config.url.as_deref().ok_or(BuildError::NoUrl)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_millis(config.connect_timeout_ms)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(config)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let endpoint: Arc<str> = format!("{}{}", url.trim_end_matches('/'), config.cgi_path).into();
        let cgi = Target::of(&endpoint).map(|target| {
            let pool = Pool::new(
                https.clone(),
                target.origin(),
                config.pool_max_idle,
                Duration::from_secs(config.pool_idle_timeout_secs),
                UPSTREAM_READ_BUFFER,
            );
            Arc::new(Cgi {
                target,
                pool: Arc::new(pool),
            })
        });
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(config.pool_idle_timeout_secs))
            .pool_max_idle_per_host(config.pool_max_idle)
            // The read buffer bounds what one streamed file body holds in memory.
            .http1_max_buf_size(UPSTREAM_READ_BUFFER)
            .build(https);
        Ok(Self {
            http,
            host: host_header(&endpoint),
            cgi,
            endpoint,
            origin: url.trim_end_matches('/').into(),
            timeout: Duration::from_millis(config.timeout_ms),
            command_timeouts: Arc::new(
                config
                    .command_timeouts_ms
                    .iter()
                    .map(|(command, ms)| {
                        (
                            command.trim().to_ascii_uppercase(),
                            Duration::from_millis(*ms),
                        )
                    })
                    .collect(),
            ),
            empty: Arc::new(EmptyResults::new(&config.empty_result_codes)),
            fallback: config.fallback_encoding().unwrap_or(None),
            max_response_bytes: config.max_response_bytes,
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            breaker: Arc::new(CircuitBreaker::new(breaker::Policy {
                window_calls: config.breaker_window_calls,
                window_age: Duration::from_secs(config.breaker_window_secs),
                min_calls: config.breaker_min_calls,
                failure_ratio: config.breaker_failure_ratio,
                open_for: Duration::from_secs(config.breaker_open_secs),
            })),
            retries: config.retries,
            retry_base: Duration::from_millis(config.retry_base_ms),
        })
    }

    /// The circuit breaker's state.
    pub fn circuit_state(&self) -> breaker::State {
        self.breaker.state()
    }

    /// Sends a call and parses the answer. An answer that reports an error is
    /// `Err(Error::Rejected)`.
    pub async fn call(&self, call: &Call<'_>) -> Result<Envelope, Error> {
        let body = self.exchange(call).await?;
        Self::check(call, Envelope::parse_with(&body, &self.empty)?)
    }

    /// Sends a call and reads a successful answer with `fast`, which parses the body
    /// straight into what the caller needs, without building a JSON tree. An answer
    /// `fast` does not accept (an error, or a shape it does not know) is parsed as an
    /// [`Envelope`] like any other, so errors are reported the same way.
    pub async fn call_parsed<T>(
        &self,
        call: &Call<'_>,
        fast: impl FnOnce(&[u8]) -> Option<T>,
    ) -> Result<Parsed<T>, Error> {
        let body = self.exchange(call).await?;
        if let Some(parsed) = fast(&body) {
            return Ok(Parsed::Fast(parsed));
        }
        Self::check(call, Envelope::parse_with(&body, &self.empty)?).map(Parsed::Envelope)
    }

    /// The envelope if it reports no error, else the error (counted by code).
    fn check(call: &Call<'_>, envelope: Envelope) -> Result<Envelope, Error> {
        match envelope.cause() {
            Some(error) => {
                metrics::counter!(
                    UPSTREAM_ERRORS,
                    "command" => call.command.to_owned(),
                    "code" => error.rctx.clone()
                )
                .increment(1);
                Err(Error::Rejected(error.clone()))
            }
            None => Ok(envelope),
        }
    }

    /// Sends a call and returns the body of its 200 answer: through the circuit
    /// breaker (fails fast while it is open), a slot among the calls in flight, and
    /// retries where they are safe.
    pub(super) async fn exchange(&self, call: &Call<'_>) -> Result<Bytes, Error> {
        let started = Instant::now();
        let admission = self.breaker.admit();
        if let Admission::Rejected(wait) = admission {
            crate::metrics::upstream_call(call.command, "circuit_open", started);
            return Err(Error::CircuitOpen(wait));
        }
        let mut probe = ProbeGuard {
            breaker: (admission == Admission::Probe).then_some(&*self.breaker),
        };
        let outcome = self
            .fetch_with_retries(call)
            .await
            .map(|body| self.to_utf8(call, body));
        match &outcome {
            Err(e) if e.is_upstream_failure() => self.breaker.failed(),
            Err(Error::Saturated) => {}
            _ => self.breaker.succeeded(),
        }
        probe.breaker = None;
        crate::metrics::upstream_call(call.command, outcome_label(&outcome), started);
        outcome
    }

    /// Repeats an attempt that failed to connect (any command: nothing was sent) or,
    /// for a read ([`Call::is_read`], by command, whatever the method), broke off or
    /// met a 502/503/504; waits with exponential backoff and full jitter. A write that
    /// may have reached the server is never sent again.
    async fn fetch_with_retries(&self, call: &Call<'_>) -> Result<Bytes, Error> {
        let idempotent = call.is_read();
        let mut attempt = 0;
        loop {
            match self.attempt(call).await {
                Ok(body) => return Ok(body),
                Err(failed)
                    if attempt < self.retries
                        && (failed.connect || (idempotent && failed.error.is_transient())) =>
                {
                    attempt += 1;
                    let delay = backoff(self.retry_base, attempt);
                    tracing::debug!(command = call.command, attempt, ?delay, error = %failed.error, "retrying the upstream call");
                    tokio::time::sleep(delay).await;
                }
                Err(failed) => return Err(failed.error),
            }
        }
    }

    /// One attempt, holding a slot among the calls in flight.
    async fn attempt(&self, call: &Call<'_>) -> Result<Bytes, Failed> {
        let _permit = tokio::time::timeout(self.timeout, self.in_flight.acquire())
            .await
            .map_err(|_| Error::Saturated)?
            .map_err(|_| Error::Saturated)?;
        self.fetch(call).await
    }

    /// The budget of one attempt at `command`: its own from
    /// `upstream.command_timeouts_ms`, else `upstream.timeout_ms`.
    pub fn timeout_for(&self, command: &str) -> Duration {
        if self.command_timeouts.is_empty() {
            return self.timeout;
        }
        // The gateway's own commands are upper case already: no copy to look them up.
        if let Some(budget) = self.command_timeouts.get(command) {
            return *budget;
        }
        if !command
            .bytes()
            .any(|b| b.is_ascii_lowercase() || b.is_ascii_whitespace())
        {
            return self.timeout;
        }
        self.command_timeouts
            .get(command.trim().to_ascii_uppercase().as_str())
            .copied()
            .unwrap_or(self.timeout)
    }

    /// The body as UTF-8: as sent when it is, else with its invalid bytes decoded from
    /// the fallback charset (counted), so the JSON parser sees text either way. Without
    /// a fallback it is left as it is, and the parser refuses it.
    fn to_utf8(&self, call: &Call<'_>, body: Bytes) -> Bytes {
        let Some(encoding) = self.fallback else {
            return body;
        };
        if std::str::from_utf8(&body).is_ok() {
            return body;
        }
        let text = decode_mixed(&body, encoding);
        metrics::counter!(CHARSET_FALLBACK, "command" => call.command.to_owned()).increment(1);
        tracing::debug!(
            command = call.command,
            charset = encoding.name(),
            "the answer was not UTF-8; decoded from the fallback charset"
        );
        Bytes::from(text)
    }

    /// Sends a call and returns the raw body of a 200 answer.
    async fn fetch(&self, call: &Call<'_>) -> Result<Bytes, Failed> {
        let timeout = self.timeout_for(call.command);
        let cgi = self.cgi.as_deref().ok_or_else(|| {
            Failed::from(Error::Unreachable(
                "cannot build the request: the upstream URL does not parse".to_owned(),
            ))
        })?;
        let uri = Self::uri_of(&cgi.target, call)?;
        let mut request = Request::builder()
            .method(call.method.clone())
            .uri(uri)
            .header(header::ACCEPT, "application/json");
        let body = if call.method == Method::POST {
            request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Full::new(Bytes::from(call.form.to_form()))
        } else {
            Full::new(Bytes::new())
        };
        // Last, where the pool would have put it.
        if let Some(host) = &self.host {
            request = request.header(header::HOST, host.clone());
        }
        let request = request
            .body(body)
            .map_err(|e| Error::Unreachable(format!("cannot build the request: {e}")))?;
        let pool = &cgi.pool;
        let exchange = async {
            let (response, lease) = pool.send(request).await.map_err(|e| match e {
                SendError::Connect(message) => Failed {
                    connect: true,
                    error: Error::Unreachable(message),
                },
                SendError::Exchange(message) => Failed::from(Error::Unreachable(message)),
            })?;
            if response.status() != http::StatusCode::OK {
                return Err(Error::HttpStatus(response.status().as_u16()).into());
            }
            let limited = Limited::new(response.into_body(), self.max_response_bytes);
            match limited.collect().await {
                Ok(collected) => {
                    lease.release(pool);
                    Ok(collected.to_bytes())
                }
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    Err(Error::TooLarge(self.max_response_bytes).into())
                }
                Err(e) => Err(Error::Unreachable(format!("the answer broke off: {e}")).into()),
            }
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| Failed::from(Error::Timeout(timeout)))?
    }

    /// The origin-form URI of `call` (`target`'s path and the query), written into one
    /// buffer sized once, which becomes the URI's without a copy.
    fn uri_of(target: &Target, call: &Call<'_>) -> Result<Uri, Failed> {
        let mut text = String::with_capacity(target.path.len() + 1 + call.query_len_hint());
        text.push_str(&target.path);
        text.push('?');
        call.push_query(&mut text);
        target
            .with(text)
            .map_err(|e| Failed::from(Error::Unreachable(format!("cannot build the request: {e}"))))
    }

    /// Whether the upstream answers at all: any HTTP answer from the CGI URL within
    /// the per-call timeout counts (for readiness; no command is run).
    pub async fn probe(&self) -> Result<(), Error> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(&*self.endpoint)
            .body(Full::new(Bytes::new()))
            .map_err(|e| Error::Unreachable(format!("cannot build the request: {e}")))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| Error::Unreachable(describe(&e)))?;
            // Read (a bounded part of) the answer so the connection can be reused.
            let _ = Limited::new(response.into_body(), self.max_response_bytes)
                .collect()
                .await;
            Ok(())
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| Error::Timeout(self.timeout))?
    }

    /// The endpoint URL (no query, so no secrets), for logs and readiness.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

/// Where CGI calls go: the endpoint's parts, parsed once so that a call's URI is parsed
/// for its query alone, and the connections to it. File bodies and the readiness probe
/// use the client's `http`.
#[derive(Debug)]
struct Cgi {
    target: Target,
    pool: Arc<Pool>,
}

/// An endpoint URL's parts that every call shares.
#[derive(Debug)]
struct Target {
    scheme: Scheme,
    authority: Authority,
    /// The path, without a query.
    path: Box<str>,
}

impl Target {
    /// The parts of `endpoint`, if it is an absolute URL without a query.
    fn of(endpoint: &str) -> Option<Self> {
        let uri: Uri = endpoint.parse().ok()?;
        let parts = uri.into_parts();
        let path_and_query = parts.path_and_query?;
        // The path as written (an endpoint without one parses with `/`), and no query.
        if path_and_query.query().is_some() || !endpoint.ends_with(path_and_query.path()) {
            return None;
        }
        Some(Self {
            scheme: parts.scheme?,
            authority: parts.authority?,
            path: path_and_query.path().into(),
        })
    }

    /// The origin-form URI of `path_and_query` (this target's path and a query).
    fn with(&self, path_and_query: String) -> Result<Uri, String> {
        let path_and_query = PathAndQuery::from_maybe_shared(Bytes::from(path_and_query))
            .map_err(|e| e.to_string())?;
        Ok(Uri::from(path_and_query))
    }

    /// The scheme and authority alone, to connect to.
    fn origin(&self) -> Uri {
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(PathAndQuery::from_static("/"));
        Uri::from_parts(parts).expect("a scheme and an authority make a URI")
    }
}

/// The `Host` the pool sends for `endpoint`: its host, with the port when the URL
/// names one that is not its scheme's default. `None` when it is not a URL with a host
/// (the pool then reports the bad URL per call, as before).
fn host_header(endpoint: &str) -> Option<HeaderValue> {
    let uri: Uri = endpoint.parse().ok()?;
    let host = uri.host()?;
    let secure = matches!(uri.scheme_str(), Some("https" | "wss"));
    let text = match uri.port_u16() {
        Some(443) if secure => host.to_owned(),
        Some(80) if !secure => host.to_owned(),
        Some(_) => format!("{host}:{}", uri.port()?.as_str()),
        None => host.to_owned(),
    };
    // Shared from the start: each call clones it.
    HeaderValue::from_maybe_shared(Bytes::from(text)).ok()
}

/// The `outcome` label of an exchange.
fn outcome_label(outcome: &Result<Bytes, Error>) -> &'static str {
    match outcome {
        Ok(_) => "answered",
        Err(Error::Timeout(_)) => "timeout",
        Err(Error::Unreachable(_)) => "unreachable",
        Err(Error::HttpStatus(_)) => "bad_status",
        Err(Error::TooLarge(_)) => "too_large",
        Err(Error::CircuitOpen(_)) => "circuit_open",
        Err(Error::Saturated) => "saturated",
        Err(Error::Rejected(_) | Error::Shape(_)) => "bad_answer",
    }
}

/// Frees the half-open slot if a probe call is dropped before its verdict.
pub(super) struct ProbeGuard<'a> {
    /// The breaker whose probe this is, until its verdict is given.
    pub(super) breaker: Option<&'a CircuitBreaker>,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if let Some(breaker) = self.breaker {
            breaker.probe_abandoned();
        }
    }
}

/// `body` as text: its UTF-8 runs as they are, and only the bytes that are not UTF-8
/// read in `encoding`. Worldox stores text as it was typed, so one answer can mix a
/// record saved as UTF-8 (`Résumé`) with one saved in the ANSI code page
/// (`electr\xF3nico`); decoding the whole answer in the fallback would garble the first.
fn decode_mixed(body: &[u8], encoding: &'static encoding_rs::Encoding) -> String {
    let mut text = String::with_capacity(body.len() + body.len() / 8);
    for chunk in body.utf8_chunks() {
        text.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            text.push_str(&encoding.decode_without_bom_handling(chunk.invalid()).0);
        }
    }
    text
}

/// `base · 2^(attempt-1)`, scaled by a random factor in `[0, 1]` (full jitter).
fn backoff(base: Duration, attempt: u32) -> Duration {
    let ceiling = base.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    let mut bytes = [0u8; 2];
    // Without randomness the full delay is used: still a backoff, just not spread.
    let fraction = getrandom::fill(&mut bytes).map_or(1.0, |()| {
        f64::from(u16::from_le_bytes(bytes)) / f64::from(u16::MAX)
    });
    ceiling.mul_f64(fraction)
}

/// The error and its causes on one line. hyper's errors name no URL, so no SID.
pub(super) fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn tls_config(config: &UpstreamConfig) -> Result<rustls::ClientConfig, BuildError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A system root rustls cannot parse is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    if let Some(path) = &config.ca_file {
        let ca_error = |message: String| BuildError::CaFile {
            path: path.display().to_string(),
            message,
        };
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| ca_error(e.to_string()))?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| ca_error(e.to_string()))?;
            roots.add(cert).map_err(|e| ca_error(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(ca_error("holds no PEM certificate".to_owned()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let (Some(cert_file), Some(key_file)) = (&config.client_cert_file, &config.client_key_file)
    else {
        return Ok(builder.with_no_client_auth());
    };
    let file_error = |path: &std::path::Path, message: String| BuildError::CaFile {
        path: path.display().to_string(),
        message,
    };
    let chain = CertificateDer::pem_file_iter(cert_file)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| file_error(cert_file, e.to_string()))?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| file_error(key_file, e.to_string()))?;
    Ok(builder.with_client_auth_cert(chain, key)?)
}

#[cfg(test)]
mod tests {
    use super::{Target, Uri, decode_mixed, host_header};

    /// A call's URI is the origin form (path and query) of the one parsed from the
    /// whole text, and the pool connects to that URI's scheme and authority.
    #[test]
    fn a_uri_from_the_endpoint_parts_is_the_parsed_one() {
        let query = "2FGET+wd_SID=a%24b+HTMLOnOk=%2Fv4%2Fx.json";
        for endpoint in [
            "http://127.0.0.1:8080/cgi-bin/wdwebcgi.exe",
            "https://wd.example/cgi-bin/wdwebcgi.exe",
            "http://[::1]:9/x",
        ] {
            let target = Target::of(endpoint).expect("an absolute URL");
            let built = target
                .with(format!("{}?{query}", target.path))
                .expect("a URI");
            let parsed: Uri = format!("{endpoint}?{query}").parse().expect("a URI");
            assert_eq!(
                built.path_and_query(),
                parsed.path_and_query(),
                "{endpoint}"
            );
            assert_eq!(built.scheme(), None, "{endpoint}: origin form");
            assert_eq!(built.authority(), None, "{endpoint}: origin form");
            let origin = target.origin();
            assert_eq!(origin.scheme(), parsed.scheme(), "{endpoint}");
            assert_eq!(origin.authority(), parsed.authority(), "{endpoint}");
        }
        for not_one in [
            "/cgi-bin/wdwebcgi.exe",
            "http://wd.example",
            "http://wd.example/x?y=1",
            "not a url",
        ] {
            assert!(Target::of(not_one).is_none(), "{not_one}");
        }
    }

    /// The `Host` made once is the one hyper-util's pool makes for each request.
    #[test]
    fn the_host_names_the_port_unless_it_is_the_default() {
        for (endpoint, host) in [
            (
                "http://127.0.0.1:8080/cgi-bin/wdwebcgi.exe",
                Some("127.0.0.1:8080"),
            ),
            ("http://wd.example/cgi-bin/wdwebcgi.exe", Some("wd.example")),
            ("http://wd.example:80/cgi", Some("wd.example")),
            ("https://wd.example:443/cgi", Some("wd.example")),
            ("https://wd.example:80/cgi", Some("wd.example:80")),
            ("http://wd.example:443/cgi", Some("wd.example:443")),
            ("https://[::1]:8443/cgi", Some("[::1]:8443")),
            ("not a url", None),
        ] {
            let made = host_header(endpoint);
            assert_eq!(
                made.as_ref().map(|v| v.to_str().expect("ascii")),
                host,
                "{endpoint}"
            );
        }
    }

    #[test]
    fn only_the_bytes_that_are_not_utf8_are_read_in_the_fallback() {
        // One record saved as UTF-8, one in Windows-1252 (`ó` is byte 0xF3).
        let bytes = [
            "{\"a\":\"R\u{e9}sum\u{e9} \u{2013} M\u{fc}ller\",\"b\":\"".as_bytes(),
            b"electr\xf3nico\"}",
        ]
        .concat();
        assert_eq!(
            decode_mixed(&bytes, encoding_rs::WINDOWS_1252),
            "{\"a\":\"R\u{e9}sum\u{e9} \u{2013} M\u{fc}ller\",\"b\":\"electr\u{f3}nico\"}"
        );
    }

    #[test]
    fn a_body_in_windows_1252_alone_reads_as_before() {
        let bytes = b"men\xfa Kepl\xe9w \x96 \x80";
        assert_eq!(
            decode_mixed(bytes, encoding_rs::WINDOWS_1252),
            "men\u{fa} Kepl\u{e9}w \u{2013} \u{20ac}"
        );
    }
}
