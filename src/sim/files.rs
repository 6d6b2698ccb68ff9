//! The IIS side: `GET|HEAD /cgi-bin/WDSIDS/<SID>/OPEN/…` (and `VIEW/…`), the static
//! file handler that serves the per-session copies DOWNLOAD leaves.
//!
//! As IIS's static handler: `Content-Length`, `Accept-Ranges: bytes`, `ETag`,
//! `Last-Modified`, a content type from the extension; one `Range` is a 206 with
//! `Content-Range`, several a `multipart/byteranges` 206, an unsatisfiable one a 416
//! with `Content-Range: bytes */<len>`, a malformed one is ignored (200); `If-Range`
//! that does not match gives the whole file; `If-None-Match` that does gives 304. A
//! missing copy, or a wrong or expired SID, is IIS's HTML 404.
//!
//! Bodies are streamed in chunks generated from the copy's description, after the
//! state lock is released, so memory stays flat whatever the file's size. Faults:
//! `download_copy_missing_ratio`, `download_copy_forbidden` (a 403),
//! `slow_body_bytes_per_sec`, `reset_mid_body_ratio`, `stall_mid_body_ratio`. `/_sim/stats`
//! counts the bodies still being sent.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, HeaderMap, HeaderValue,
    IF_NONE_MATCH, IF_RANGE, LAST_MODIFIED, RANGE, SERVER,
};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use tokio::time::Instant;

use super::Simulator;
use super::faults;
use super::random;
use super::store::Copy;

/// Where the copies live.
pub(crate) const WDSIDS: &str = "/cgi-bin/WDSIDS/";
/// The size of one generated chunk.
const CHUNK: usize = 64 * 1024;
/// IIS's name for itself.
const IIS: &str = "Microsoft-IIS/10.0";
/// The boundary of multipart answers.
const BOUNDARY: &str = "WDSIMBOUNDARY7f3a9c";

/// IIS 10's 404 page.
const NOT_FOUND_HTML: &str = r#"<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>
<title>404 - File or directory not found.</title>
<style type="text/css">
<!--
body{margin:0;font-size:.7em;font-family:Verdana, Arial, Helvetica, sans-serif;background:#EEEEEE;}
fieldset{padding:0 15px 10px 15px;}
h1{font-size:2.4em;margin:0;color:#FFF;}
h2{font-size:1.7em;margin:0;color:#CC0000;}
h3{font-size:1.2em;margin:10px 0 0 0;color:#000000;}
#header{width:96%;margin:0 0 0 0;padding:6px 2% 6px 2%;font-family:"trebuchet MS", Verdana, sans-serif;color:#FFF;
background-color:#555555;}
#content{margin:0 0 0 2%;position:relative;}
.content-container{background:#FFF;width:96%;margin-top:8px;padding:10px;position:relative;}
-->
</style>
</head>
<body>
<div id="header"><h1>Server Error</h1></div>
<div id="content">
 <div class="content-container"><fieldset>
  <h2>404 - File or directory not found.</h2>
  <h3>The resource you are looking for might have been removed, had its name changed, or is temporarily unavailable.</h3>
 </fieldset></div>
</div>
</body>
</html>
"#;

/// `GET|HEAD /cgi-bin/WDSIDS/{*path}`.
pub(crate) async fn serve(State(sim): State<Simulator>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let Some((sid, rest)) = split(&path) else {
        return not_found();
    };
    let now = Instant::now();
    let found = sim.with_state(|state| {
        if !state.session_alive(&sid, now) {
            return None;
        }
        let copy = state.store.copy(&sid, &rest)?.clone();
        if state.faults.download_copy_forbidden {
            return Some(Err(()));
        }
        if random::chance(state.faults.download_copy_missing_ratio) {
            state.store.remove_copy(&sid, &rest);
            return None;
        }
        Some(Ok((
            copy,
            state.faults.clone(),
            Arc::clone(&state.file_bodies),
        )))
    });
    let (copy, faults, bodies) = match found {
        None => return not_found(),
        Some(Err(())) => return forbidden(),
        Some(Ok(found)) => found,
    };
    let pacing = Pacing {
        bytes_per_sec: faults.slow_body_bytes_per_sec,
        reset: random::chance(faults.reset_mid_body_ratio),
        stall: random::chance(faults.stall_mid_body_ratio),
        bodies,
    };
    answer(&copy, request.headers(), &pacing)
}

/// The raw SID and the decoded path below it (`OPEN/…`), for a path under `WDSIDS`.
fn split(path: &str) -> Option<(String, String)> {
    let below = path.strip_prefix(WDSIDS)?;
    let (sid, rest) = below.split_once('/')?;
    let sid = percent_decode_str(sid).decode_utf8().ok()?.into_owned();
    let rest = percent_decode_str(rest).decode_utf8().ok()?.into_owned();
    let area = rest.split('/').next().unwrap_or_default();
    (area.eq_ignore_ascii_case("OPEN") || area.eq_ignore_ascii_case("VIEW")).then_some((sid, rest))
}

/// How a body is sent.
#[derive(Debug, Clone)]
struct Pacing {
    /// 0: as fast as the client reads.
    bytes_per_sec: u64,
    /// Reset the connection half-way.
    reset: bool,
    /// Stop sending half-way, the connection kept open.
    stall: bool,
    /// The count of bodies being sent.
    bodies: Arc<AtomicUsize>,
}

/// Counts one body as being sent while it lives.
#[derive(Debug)]
struct Sending(Arc<AtomicUsize>);

impl Sending {
    fn new(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One piece of a body: literal bytes or a range of the file.
#[derive(Debug, Clone)]
enum Part {
    Literal(Bytes),
    Range { start: u64, end: u64 },
}

fn answer(copy: &Copy, headers: &HeaderMap, pacing: &Pacing) -> Response {
    let len = copy.blob.len();
    let modified = httpdate::fmt_http_date(copy.modified);
    let common = |status: StatusCode| {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = status;
        let h = response.headers_mut();
        h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        insert(h, ETAG, &copy.etag);
        insert(h, LAST_MODIFIED, &modified);
        h.insert(SERVER, HeaderValue::from_static(IIS));
        response
    };
    if let Some(tags) = header(headers, IF_NONE_MATCH) {
        if tags
            .split(',')
            .any(|t| t.trim() == copy.etag || t.trim() == "*")
        {
            return common(StatusCode::NOT_MODIFIED);
        }
    }
    let range_applies = header(headers, IF_RANGE).is_none_or(|v| {
        v.trim() == copy.etag
            || httpdate::parse_http_date(v.trim()).is_ok_and(|d| d >= truncate(copy.modified))
    });
    let ranges = header(headers, RANGE)
        .filter(|_| range_applies)
        .and_then(|r| http_range_header::parse_range_header(r).ok())
        .map(|parsed| parsed.validate(len));
    let whole = || vec![Part::Range { start: 0, end: len }];
    match ranges {
        None => {
            let mut response = common(StatusCode::OK);
            insert(response.headers_mut(), CONTENT_TYPE, &copy.content_type);
            body(response, copy, whole(), len, pacing)
        }
        Some(Err(_)) => {
            let mut response = common(StatusCode::RANGE_NOT_SATISFIABLE);
            insert(
                response.headers_mut(),
                CONTENT_RANGE,
                &format!("bytes */{len}"),
            );
            response
        }
        Some(Ok(ranges)) if ranges.len() == 1 => {
            let (start, end) = (*ranges[0].start(), *ranges[0].end());
            let mut response = common(StatusCode::PARTIAL_CONTENT);
            let h = response.headers_mut();
            insert(h, CONTENT_TYPE, &copy.content_type);
            insert(h, CONTENT_RANGE, &format!("bytes {start}-{end}/{len}"));
            body(
                response,
                copy,
                vec![Part::Range {
                    start,
                    end: end + 1,
                }],
                end + 1 - start,
                pacing,
            )
        }
        Some(Ok(ranges)) => {
            let mut parts = Vec::new();
            let mut total = 0u64;
            for r in &ranges {
                let head = format!(
                    "\r\n--{BOUNDARY}\r\nContent-Type: {}\r\nContent-Range: bytes {}-{}/{len}\r\n\r\n",
                    copy.content_type,
                    r.start(),
                    r.end()
                );
                total += head.len() as u64 + (r.end() + 1 - r.start());
                parts.push(Part::Literal(Bytes::from(head.into_bytes())));
                parts.push(Part::Range {
                    start: *r.start(),
                    end: r.end() + 1,
                });
            }
            let tail = format!("\r\n--{BOUNDARY}--\r\n");
            total += tail.len() as u64;
            parts.push(Part::Literal(Bytes::from(tail.into_bytes())));
            let mut response = common(StatusCode::PARTIAL_CONTENT);
            insert(
                response.headers_mut(),
                CONTENT_TYPE,
                &format!("multipart/byteranges; boundary={BOUNDARY}"),
            );
            body(response, copy, parts, total, pacing)
        }
    }
}

/// Gives `response` a streamed body of `parts`, `total` bytes long.
fn body(
    mut response: Response,
    copy: &Copy,
    parts: Vec<Part>,
    total: u64,
    pacing: &Pacing,
) -> Response {
    insert(response.headers_mut(), CONTENT_LENGTH, &total.to_string());
    let blob = std::sync::Arc::clone(&copy.blob);
    let reset_at = pacing.reset.then_some(total / 2);
    let stall_at = pacing.stall.then_some(total / 2);
    let sending = Arc::new(Sending::new(Arc::clone(&pacing.bodies)));
    let bytes_per_sec = pacing.bytes_per_sec;
    let chunk = if pacing.bytes_per_sec > 0 {
        usize::try_from((pacing.bytes_per_sec / 10).max(1))
            .unwrap_or(CHUNK)
            .min(CHUNK)
    } else {
        CHUNK
    };
    let state = (parts, 0usize, 0u64, 0u64);
    let stream = futures_util::stream::unfold(state, move |(parts, index, within, sent)| {
        let blob = std::sync::Arc::clone(&blob);
        // Each step holds the count, so it drops with the stream.
        let sending = Arc::clone(&sending);
        async move {
            let _sending = sending;
            let part = parts.get(index)?.clone();
            if stall_at.is_some_and(|at| sent >= at) {
                // Nothing more, and no end: only the reader giving up ends this.
                faults::hang().await;
                return None;
            }
            if reset_at.is_some_and(|at| sent >= at) {
                // Let what was sent reach the socket first, as a reset mid-body would.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let error =
                    io::Error::new(io::ErrorKind::ConnectionReset, "simulated reset mid-body");
                return Some((Err(error), (Vec::new(), 0, 0, sent)));
            }
            let mut room = chunk as u64;
            if let Some(at) = reset_at.or(stall_at) {
                room = room.min(at - sent).max(1);
            }
            let (bytes, next) = match part {
                Part::Literal(b) => (b, (index + 1, 0)),
                Part::Range { start, end } => {
                    let from = start + within;
                    let n = room.min(end - from);
                    let bytes = blob.read(from, usize::try_from(n).unwrap_or(CHUNK));
                    if from + n >= end {
                        (bytes, (index + 1, 0))
                    } else {
                        (bytes, (index, within + n))
                    }
                }
            };
            if bytes_per_sec > 0 {
                let secs = bytes.len() as f64 / bytes_per_sec as f64;
                tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            }
            let sent = sent + bytes.len() as u64;
            Some((Ok::<Bytes, io::Error>(bytes), (parts, next.0, next.1, sent)))
        }
    });
    *response.body_mut() = Body::from_stream(stream);
    response
}

/// IIS's 403 for a path the caller may not read (the `download_copy_forbidden` fault).
fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(CONTENT_TYPE, "text/html"), (SERVER, IIS)],
        "<html><head><title>403 - Forbidden: Access is denied.</title></head>\
         <body><h2>403 - Forbidden: Access is denied.</h2></body></html>",
    )
        .into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(CONTENT_TYPE, "text/html"), (SERVER, IIS)],
        NOT_FOUND_HTML,
    )
        .into_response()
}

fn header(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn insert(headers: &mut HeaderMap, name: axum::http::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// A time to whole seconds, as HTTP dates carry it.
fn truncate(t: SystemTime) -> SystemTime {
    httpdate::parse_http_date(&httpdate::fmt_http_date(t)).unwrap_or(t)
}
