//! Fault injection for CGI requests: latency, hangs, dropped connections, garbage
//! bodies and error codes no gateway knows.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use hyper::body::Frame;

use super::config::Faults;
use super::envelope::WdError;
use super::random;

/// An error code missing from every reference, so a gateway must treat it as unknown.
const UNKNOWN_RC: (&str, &str) = ("8999", "WDRC_SIM_INJECTED_FAULT");
const UNKNOWN_MSG: &str = "Simulated failure\n\n\nThe simulator injected this error.\n\n\n\n\nOK\n";
/// How long a hung request waits before the simulator gives up on it.
const HANG: Duration = Duration::from_secs(3600);

/// The fault a request gets instead of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Never answer.
    Hang,
    /// Reset the connection after the headers.
    Drop,
    /// A 200 answer that is not JSON.
    Garbage,
    /// The command's failure envelope with an unknown error code.
    Error,
}

/// Rolls each ratio in turn; the first that hits wins.
pub(crate) fn roll(faults: &Faults) -> Option<Fault> {
    [
        (Fault::Hang, faults.hang_ratio),
        (Fault::Drop, faults.drop_ratio),
        (Fault::Garbage, faults.garbage_ratio),
        (Fault::Error, faults.error_ratio),
    ]
    .into_iter()
    .find(|(_, ratio)| random::chance(*ratio))
    .map(|(fault, _)| fault)
}

/// Sleeps `latency_ms`.
pub(crate) async fn delay(faults: &Faults) {
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
}

/// Waits an hour, which to any client is never.
pub(crate) async fn hang() {
    tokio::time::sleep(HANG).await;
}

/// The error an `Error` fault reports.
pub(crate) fn unknown_error() -> WdError {
    WdError::new(UNKNOWN_RC, UNKNOWN_MSG)
}

/// A 200 answer in HTML, as IIS gives when the CGI program crashes.
pub(crate) fn garbage() -> Response {
    (
        [(CONTENT_TYPE, "text/html")],
        "<html><body>Internal Server Error (simulated): the CGI program ended unexpectedly.</body></html>",
    )
        .into_response()
}

/// A 200 answer whose body fails at its first read: the connection is reset.
pub(crate) fn dropped() -> Response {
    ([(CONTENT_TYPE, "application/json")], Body::new(BrokenBody)).into_response()
}

/// A body whose first frame is an I/O error.
#[derive(Debug)]
struct BrokenBody;

impl HttpBody for BrokenBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Poll::Ready(Some(Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "simulated dropped connection",
        ))))
    }
}
