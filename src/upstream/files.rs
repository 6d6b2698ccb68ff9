//! The streaming file path: a same-origin `/cgi-bin/WDSIDS/…` copy that DOWNLOAD
//! prepared, fetched byte for byte as given, its body passed on frame by frame with an
//! idle timeout between frames and no size cap.
//!
//! The path holds the SID: it is never logged, and no error here names it.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, header};
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use super::breaker::Admission;
use super::client::{Client, Error, ProbeGuard, describe};

/// The prefix every per-session copy lives under.
const WDSIDS: &str = "/cgi-bin/WDSIDS/";

/// A path DOWNLOAD answered, checked to be a same-origin WDSIDS path. Its `Debug` shows
/// nothing of it (it holds the SID).
#[derive(Clone, PartialEq, Eq)]
pub struct WdsidsPath(String);

impl std::fmt::Debug for WdsidsPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WdsidsPath(…)")
    }
}

impl WdsidsPath {
    /// `path` if it is an absolute path under `/cgi-bin/WDSIDS/` with no scheme, host,
    /// `//`, dot segment (plain or percent-encoded), backslash, whitespace or control
    /// character, and no query or fragment.
    pub fn parse(path: &str) -> Option<Self> {
        let rest = path.strip_prefix(WDSIDS)?;
        if rest.is_empty()
            || path.contains("//")
            || path.contains(['\\', '?', '#'])
            || path
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii())
        {
            return None;
        }
        let lower = path.to_ascii_lowercase();
        // `%2e` is a dot and `%2f`/`%5c` a separator once decoded: refuse them so no
        // decoding step anywhere can make a dot segment.
        if lower.contains("%2e%2e") || lower.contains("%2f") || lower.contains("%5c") {
            return None;
        }
        let dots = |segment: &str| {
            let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
            decoded == "." || decoded == ".."
        };
        if rest.split('/').any(dots) {
            return None;
        }
        http::uri::PathAndQuery::try_from(path).ok()?;
        Some(Self(path.to_owned()))
    }

    /// The path, to send. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Request headers passed to the file GET (the rest are dropped).
const FORWARDED: [header::HeaderName; 3] = [header::RANGE, header::IF_RANGE, header::IF_NONE_MATCH];

impl Client {
    /// GETs (or HEADs) a WDSIDS copy: the response headers within `upstream.timeout_ms`
    /// (through the circuit breaker: connect and header failures count against it),
    /// then the body unbuffered, failing when no frame comes for `idle`. Only `Range`,
    /// `If-Range` and `If-None-Match` of `headers` are sent, with
    /// `Accept-Encoding: identity` so lengths and ranges stay true. Never retried.
    pub async fn open_path(
        &self,
        method: Method,
        path: &WdsidsPath,
        headers: &HeaderMap,
        idle: Duration,
    ) -> Result<Response<IdleBody>, Error> {
        let admission = self.breaker.admit();
        if let Admission::Rejected(wait) = admission {
            return Err(Error::CircuitOpen(wait));
        }
        let mut probe = ProbeGuard {
            breaker: (admission == Admission::Probe).then_some(&*self.breaker),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.origin, path.expose()))
            .header(header::ACCEPT_ENCODING, "identity");
        for name in &FORWARDED {
            for value in headers.get_all(name) {
                request = request.header(name, value);
            }
        }
        // hyper's errors name no URL; the path is never put in one.
        let request = request
            .body(Full::new(Bytes::new()))
            .map_err(|_| Error::Unreachable("cannot build the file request".to_owned()))?;
        let outcome = match tokio::time::timeout(self.timeout, self.http.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(Error::Unreachable(describe(&e))),
            Err(_) => Err(Error::Timeout(self.timeout)),
        };
        match &outcome {
            Ok(_) => self.breaker.succeeded(),
            Err(_) => self.breaker.failed(),
        }
        probe.breaker = None;
        Ok(outcome?.map(|body| IdleBody::new(body, idle)))
    }
}

/// An upstream body that fails when no frame arrives within its idle timeout.
#[derive(Debug)]
pub struct IdleBody {
    inner: Incoming,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
}

/// Why a file body stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The upstream connection broke or the body was malformed.
    #[error("the file body broke off: {0}")]
    Broken(String),
    /// No frame for the idle timeout.
    #[error("no file bytes for {0:?}")]
    Idle(Duration),
}

impl IdleBody {
    fn new(inner: Incoming, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
        }
    }
}

impl Body for IdleBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = Instant::now() + this.idle;
                this.timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(BodyError::Broken(describe(&e))))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(BodyError::Idle(this.idle)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::WdsidsPath;

    #[test]
    fn only_same_origin_wdsids_paths_pass() {
        let good = "/cgi-bin/WDSIDS/1FZMV%243D/OPEN/005/20000/Terms%20of%20QC%20%2800001079-2x51615%29.DOC";
        assert_eq!(
            WdsidsPath::parse(good)
                .map(|p| p.expose().to_owned())
                .as_deref(),
            Some(good)
        );
        for bad in [
            "",
            "/cgi-bin/WDSIDS/",
            "http://evil/cgi-bin/WDSIDS/a/OPEN/x",
            "//evil/cgi-bin/WDSIDS/a",
            "/cgi-bin/wdwebcgi.exe?LOGON",
            "/cgi-bin/WDSIDS/a/../../etc/passwd",
            "/cgi-bin/WDSIDS/a/%2e%2e/x",
            "/cgi-bin/WDSIDS/a/%2E%2e/x",
            "/cgi-bin/WDSIDS/a/.%2e/x",
            "/cgi-bin/WDSIDS/a/%2e/x",
            "/cgi-bin/WDSIDS/a/%2f/x",
            "/cgi-bin/WDSIDS/a//x",
            "/cgi-bin/WDSIDS/a\\x",
            "/cgi-bin/WDSIDS/a b",
            "/cgi-bin/WDSIDS/a\r\nHost: x",
            "/cgi-bin/WDSIDS/a?x=1",
            "/cgi-bin/WDSIDS/a#f",
            "/cgi-bin/WDSIDS/é",
            " /cgi-bin/WDSIDS/a",
        ] {
            assert!(WdsidsPath::parse(bad).is_none(), "{bad:?} passed");
        }
        assert_eq!(
            format!("{:?}", WdsidsPath::parse(good)),
            "Some(WdsidsPath(…))"
        );
    }
}
