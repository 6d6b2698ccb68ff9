//! `GET|HEAD /documents/{id}/content` (and a version's): resolve the row → the
//! session's copy of it (DOWNLOAD on a miss, kept per document, version and `UPD`) →
//! GET the per-session copy, its body streamed through frame by frame (never
//! collected). The SID-bearing file path stays inside the gateway; `Range` is passed on
//! when `If-Range` holds against our content ETag; a copy that vanished is forgotten
//! and prepared again once, a refused one forgotten; a stale list is found afresh once.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Body as AxumBody;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::time::Sleep;

use super::super::auth::CurrentSession;
use super::super::openapi::problems;
use super::super::problem::ApiError;
use super::super::state::AppState;
use super::document::{matches, no_such_document};
use super::resolve::{self, ByLocator, Need, Resolved};
use crate::documents::transfers::{Permit, Refused};
use crate::documents::{DocId, FileKey, FileLoc, SessionDocs};
use crate::upstream::documents::{DocumentRow, Download, RowPlace};
use crate::upstream::files::{BodyError, IdleBody};
use crate::upstream::{self, Sid};

/// Which bytes of a document: its current file or one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The document as it is.
    Current,
    /// Version `n` (from VERLIST).
    Version(u32),
}

/// `GET|HEAD /documents/{id}/content` (the router answers HEAD with the GET handler;
/// the handler sends a HEAD upstream and no body).
#[utoipa::path(
    get,
    path = "/documents/{id}/content",
    operation_id = "getDocumentContent",
    tag = "documents",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(
        ("id" = String, Path, description = "A document id (`doc_{cabinet}_{doc_number}`)"),
        ContentHeaders,
    ),
    responses(
        (status = 200, description = "The file's bytes, streamed, with the media type its extension names.", content_type = "*/*", body = Vec<u8>, headers(
            ("etag" = String, description = "Strong content ETag `\"c-{doc_number}-v{version}-{updated}\"`"),
            ("last-modified" = String, description = "The document's update time"),
            ("content-length" = u64, description = "The file's length, when the file server sent it"),
            ("accept-ranges" = String, description = "`bytes` when ranges are served"),
            ("content-disposition" = String, description = "RFC 6266 `attachment` with an ASCII `filename` and a UTF-8 `filename*`"),
            ("content-location" = String, description = "`/documents/{canonical id}/content` when the document was asked for by an id it no longer has (it moved to another cabinet)"),
        )),
        (status = 206, description = "The range asked for (`multipart/byteranges` for several).", content_type = "*/*", body = Vec<u8>, headers(
            ("content-range" = String, description = "The range sent, of the whole length"),
            ("etag" = String, description = "The content ETag"),
            ("content-disposition" = String, description = "As for 200"),
            ("content-location" = String, description = "As for 200"),
        )),
        (status = 304, description = "The content still has the `If-None-Match` ETag (no copy is prepared).", headers(
            ("etag" = String, description = "The current content ETag"),
            ("content-location" = String, description = "As for 200"),
        )),
        problems::GetDocumentContent,
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(&state, &current, &id, Target::Current, &method, &headers).await
}

/// The conditional and range request headers of a content route.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct ContentHeaders {
    /// `bytes=first-last` (several ranges give `multipart/byteranges`).
    #[param(rename = "range")]
    range: Option<String>,
    /// The content ETag or `Last-Modified` the client holds: the range is served only
    /// while it holds, else the whole file.
    #[param(rename = "if-range")]
    if_range: Option<String>,
    /// A content ETag: 304 if it still holds.
    #[param(rename = "if-none-match")]
    if_none_match: Option<String>,
}

/// The whole sequence for one content request.
pub async fn serve(
    state: &AppState,
    current: &CurrentSession,
    id: &str,
    target: Target,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let doc = DocId::parse(id).ok_or_else(no_such_document)?;
    let sid = &current.session.sid;
    // Taken before any upstream work: a session's transfers bound its DOWNLOADs too.
    let permit =
        state
            .documents()
            .transfers()
            .start(current.key)
            .map_err(|refused| match refused {
                Refused::Session => ApiError::TooManyRequests {
                    retry_after_secs: 1,
                    detail: "this session has its share of transfers in flight; retry shortly"
                        .to_owned(),
                },
                Refused::Full => ApiError::Overloaded,
            })?;
    let docs = state.documents().session(current.key, sid).await;
    let mut resolved = locate(state, current, &docs, &doc, target, false).await?;
    let tag = content_etag(&doc, &resolved.row);
    let suffix = match target {
        Target::Current => "/content".to_owned(),
        Target::Version(n) => format!("/versions/{n}/content"),
    };
    if matches(headers, &tag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        insert(response.headers_mut(), header::ETAG, &tag);
        resolved.content_location(&doc, &suffix, response.headers_mut());
        return Ok(response);
    }
    let config = state.documents_config();
    let idle = Duration::from_secs(config.transfer_idle_timeout_secs);
    let forwarded = forwarded(headers, &tag, &resolved.row);
    let version = match target {
        Target::Current => None,
        Target::Version(n) => Some(n),
    };
    // A stale answer met while resolving was the first: the next one is 409.
    let mut found_again = resolved.stale_seen;
    let mut prepared_again = false;
    loop {
        let row = resolved.row.clone();
        let key = FileKey::new(
            resolved.canonical.to_string(),
            version,
            row.updated.text().unwrap_or_default(),
        );
        // The session's copy of this version, else one DOWNLOAD (shared by concurrent
        // requests for it).
        let prepared = docs
            .file_loc(key.clone(), prepare(state, sid, &resolved.list_id, &row))
            .await
            .map_err(|e| (*e).clone());
        let loc = match prepared {
            Ok(loc) => loc,
            Err(Prepare::Reread) if !found_again => {
                found_again = true;
                docs.forget(&resolved.list_id);
                resolved = locate(state, current, &docs, &doc, target, true).await?;
                continue;
            }
            Err(Prepare::Reread) => return Err(no_such_document()),
            Err(Prepare::Failed(upstream::Error::Rejected(e))) if is_stale(&e) && !found_again => {
                tracing::debug!("the row's list went stale; finding the document again");
                found_again = true;
                docs.forget(&resolved.list_id);
                resolved = locate(state, current, &docs, &doc, target, true).await?;
                continue;
            }
            Err(Prepare::Failed(upstream::Error::Rejected(e))) if is_stale(&e) => {
                docs.forget(&resolved.list_id);
                return Err(ApiError::Upstream {
                    status: StatusCode::CONFLICT,
                    error: upstream::Error::Rejected(e),
                });
            }
            Err(Prepare::Failed(e)) => {
                return Err(Box::pin(state.upstream_failure(Some(current.key), e)).await);
            }
        };
        let answer = state
            .upstream()
            .open_path(method.clone(), &loc.path, &forwarded, idle)
            .await
            .map_err(|e| ApiError::Upstream {
                status: StatusCode::BAD_GATEWAY,
                error: e,
            })?;
        let named = loc.name.as_deref();
        let mut response = match answer.status() {
            StatusCode::OK | StatusCode::PARTIAL_CONTENT => {
                let name = file_name(&doc, &row, named);
                stream(state, &name, &row, &tag, answer, permit, method)
            }
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED
                if method == Method::HEAD =>
            {
                // The file server does not answer HEAD: our headers, without a length.
                let name = file_name(&doc, &row, named);
                let mut response = stream(state, &name, &row, &tag, answer, permit, method);
                *response.status_mut() = StatusCode::OK;
                let h = response.headers_mut();
                for gone in [
                    header::CONTENT_LENGTH,
                    header::CONTENT_RANGE,
                    header::ACCEPT_RANGES,
                ] {
                    h.remove(gone);
                }
                response
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                let mut response = ApiError::RangeNotSatisfiable.into_response();
                if let Some(range) = answer.headers().get(header::CONTENT_RANGE) {
                    response
                        .headers_mut()
                        .insert(header::CONTENT_RANGE, range.clone());
                }
                transfer_done("range_not_satisfiable", 0);
                response
            }
            StatusCode::NOT_FOUND if !prepared_again => {
                tracing::debug!("the prepared copy is gone; preparing it again");
                docs.evict_file_loc(&key).await;
                prepared_again = true;
                continue;
            }
            status => {
                // The copy is refused (401/403: the SID path; 404 again: gone) or the
                // file server fails: it is not tried again from the cache.
                docs.evict_file_loc(&key).await;
                tracing::warn!(
                    status = status.as_u16(),
                    "the file server refused the prepared copy"
                );
                transfer_done("failed", 0);
                return Err(ApiError::Upstream {
                    status: StatusCode::BAD_GATEWAY,
                    error: upstream::Error::HttpStatus(status.as_u16()),
                });
            }
        };
        resolved.content_location(&doc, &suffix, response.headers_mut());
        return Ok(response);
    }
}

/// Why no copy could be prepared.
#[derive(Debug, Clone)]
enum Prepare {
    /// The template could not reread the row: its place is no longer right.
    Reread,
    /// DOWNLOAD failed.
    Failed(upstream::Error),
}

/// DOWNLOAD of a row: where the copy is.
async fn prepare(
    state: &AppState,
    sid: &Sid,
    list_id: &str,
    row: &DocumentRow,
) -> Result<FileLoc, Prepare> {
    let place = RowPlace {
        list_id,
        rn: row.rn,
        ln: row.ln,
    };
    match state.upstream().download(sid, place).await {
        Ok(Download::Ready { path, name }) => Ok(FileLoc { path, name }),
        Ok(Download::Reread) => Err(Prepare::Reread),
        Err(e) => Err(Prepare::Failed(e)),
    }
}

/// Whether a DOWNLOAD or VERLIST refusal says the row's list is stale or unknown.
fn is_stale(e: &upstream::envelope::UpstreamError) -> bool {
    e.rctx.starts_with("WDRC_LISTID_")
}

/// What content needs of a row: any recent one, or a fresh resolution.
fn need(fresh: bool) -> Need {
    if fresh { Need::Fresh } else { Need::Row }
}

/// The row of `target` and its list: from the session's locators (reread when not
/// recent) unless `fresh`, else found again (a targeted search, then VERLIST for a
/// version).
pub(super) async fn locate(
    state: &AppState,
    current: &CurrentSession,
    docs: &SessionDocs,
    doc: &DocId,
    target: Target,
    fresh: bool,
) -> Result<Resolved, ApiError> {
    let Target::Version(n) = target else {
        return resolve::document(state, current, docs, doc, need(fresh)).await;
    };
    let key = version_key(&doc.to_string(), n);
    let mut stale_seen = false;
    if !fresh {
        match resolve::by_locator(state, current, docs, doc, &key, Some(n), false).await? {
            ByLocator::Found(found) => return Ok(found),
            ByLocator::Stale => stale_seen = true,
            ByLocator::Missing => {}
        }
    }
    let document = resolve::document(state, current, docs, doc, need(fresh)).await?;
    Box::pin(super::versions::load(state, current, docs, doc, &document)).await?;
    docs.locate(&key, Duration::MAX)
        .map(|(list_id, row)| Resolved {
            list_id,
            row,
            canonical: document.canonical.clone(),
            stale_seen: stale_seen || document.stale_seen,
        })
        .ok_or_else(|| ApiError::NotFound("no such version".to_owned()))
}

/// The locator key of version `n` of document `id`.
pub(super) fn version_key(id: &str, n: u32) -> String {
    format!("{id}/versions/{n}")
}

/// Strong: `"c-{doc_number}-v{version}-{UPD}"`: the same bytes for the same version
/// and update time.
pub(super) fn content_etag(doc: &DocId, row: &DocumentRow) -> String {
    format!(
        "\"c-{}-v{}-{}\"",
        doc.docnum,
        row.version.number::<u32>().unwrap_or(0),
        row.updated.number::<i64>().unwrap_or(0)
    )
}

/// The request headers for the file GET: `Range` when there is no `If-Range`, or when
/// it names our content ETag (strongly) or our `Last-Modified`; else none (a full 200).
fn forwarded(headers: &HeaderMap, tag: &str, row: &DocumentRow) -> HeaderMap {
    let mut out = HeaderMap::new();
    let Some(range) = headers.get(header::RANGE) else {
        return out;
    };
    let holds = match headers.get(header::IF_RANGE).map(HeaderValue::to_str) {
        None => true,
        Some(Ok(value)) => {
            let value = value.trim();
            value == tag || last_modified(row).is_some_and(|lm| lm == value)
        }
        Some(Err(_)) => false,
    };
    if holds {
        out.insert(header::RANGE, range.clone());
    }
    out
}

/// `Last-Modified` from the row's `UPD`.
fn last_modified(row: &DocumentRow) -> Option<String> {
    let secs: u64 = row.updated.number()?;
    Some(httpdate::fmt_http_date(
        UNIX_EPOCH + Duration::from_secs(secs),
    ))
}

/// The client's answer: the file server's status and length headers, ours for the
/// rest, and the body passed through.
fn stream(
    state: &AppState,
    name: &str,
    row: &DocumentRow,
    tag: &str,
    answer: hyper::Response<IdleBody>,
    permit: Permit,
    method: &Method,
) -> Response {
    let (parts, body) = answer.into_parts();
    let config = state.documents_config();
    let max = Duration::from_secs(config.transfer_max_secs);
    let body = if method == Method::HEAD {
        drop(body);
        transfer_done("head", 0);
        AxumBody::empty()
    } else {
        AxumBody::new(Transfer::new(body, permit, max))
    };
    let mut response = Response::new(body);
    *response.status_mut() = parts.status;
    let h = response.headers_mut();
    for name in [
        header::CONTENT_LENGTH,
        header::CONTENT_RANGE,
        header::ACCEPT_RANGES,
    ] {
        if let Some(value) = parts.headers.get(&name) {
            h.insert(name, value.clone());
        }
    }
    let multipart = parts
        .headers
        .get(header::CONTENT_TYPE)
        .filter(|t| t.as_bytes().starts_with(b"multipart/byteranges"));
    match multipart {
        Some(value) => {
            h.insert(header::CONTENT_TYPE, value.clone());
        }
        None => {
            let mime = mime_guess::from_path(name).first_or_octet_stream();
            insert(h, header::CONTENT_TYPE, mime.essence_str());
        }
    }
    insert(h, header::ETAG, tag);
    if let Some(lm) = last_modified(row) {
        insert(h, header::LAST_MODIFIED, &lm);
    }
    insert(h, header::CONTENT_DISPOSITION, &disposition(name));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    insert(h, header::CACHE_CONTROL, &config.content_cache_control);
    response
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// The file's name for the client: the row's long name (`Name`) when it has one, else
/// DOWNLOAD's `FileNme` (`named`), else the DOCID file name, else `{doc_number}`.
fn file_name(doc: &DocId, row: &DocumentRow, named: Option<&str>) -> String {
    let clean = |text: &str| -> String {
        text.chars()
            .filter(|c| !matches!(c, '"' | '\\' | '/') && !c.is_control())
            .collect::<String>()
            .trim()
            .to_owned()
    };
    [
        row.name.text().unwrap_or_default(),
        named.unwrap_or_default(),
        row.file_name.as_str(),
    ]
    .into_iter()
    .map(clean)
    .find(|n| !n.is_empty())
    .unwrap_or_else(|| doc.docnum.clone())
}

/// RFC 5987 `attr-char`: what `filename*` may hold unencoded.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment; filename="<ascii>"; filename*=UTF-8''<pct>` (RFC 6266).
pub fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' && c != '%' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(name, ATTR_CHAR)
    )
}

/// Counts a transfer that ended, by outcome, and its bytes.
fn transfer_done(outcome: &'static str, bytes: u64) {
    crate::metrics::document_transfer("down", outcome, bytes);
}

/// The client's body: the file server's frames as they come, holding the transfer's
/// place, with a total deadline; it counts the outcome once.
struct Transfer {
    inner: IdleBody,
    _permit: Permit,
    deadline: Pin<Box<Sleep>>,
    max: Duration,
    bytes: u64,
    outcome: Option<&'static str>,
}

impl Transfer {
    fn new(inner: IdleBody, permit: Permit, max: Duration) -> Self {
        Self {
            inner,
            _permit: permit,
            deadline: Box::pin(tokio::time::sleep(max)),
            max,
            bytes: 0,
            outcome: None,
        }
    }

    fn finish(&mut self, outcome: &'static str) {
        if self.outcome.is_none() {
            self.outcome = Some(outcome);
            transfer_done(outcome, self.bytes);
        }
    }
}

/// Why a transfer stopped before its end.
#[derive(Debug, thiserror::Error)]
enum TransferError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("the transfer took longer than {0:?}")]
    TooLong(Duration),
}

impl Body for Transfer {
    type Data = Bytes;
    type Error = TransferError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, TransferError>>> {
        let this = &mut *self;
        if this.outcome.is_some() {
            return Poll::Ready(None);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.finish("too_long");
            tracing::warn!(max = ?this.max, "a content transfer took too long; aborted");
            return Poll::Ready(Some(Err(TransferError::TooLong(this.max))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes += data.len() as u64;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.finish("aborted");
                tracing::warn!(error = %e, bytes = this.bytes, "a content transfer broke off; the answer is aborted");
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                this.finish("complete");
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.outcome.is_some() || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Transfer {
    fn drop(&mut self) {
        // The client went away before the end.
        self.finish("cancelled");
    }
}

#[cfg(test)]
mod tests {
    use super::disposition;

    #[test]
    fn disposition_has_an_ascii_fallback_and_the_utf8_name() {
        assert_eq!(
            disposition("Résumé – Müller (00014711x51615).PDF"),
            "attachment; filename=\"R_sum_ _ M_ller (00014711x51615).PDF\"; \
             filename*=UTF-8''R%C3%A9sum%C3%A9%20%E2%80%93%20M%C3%BCller%20%2800014711x51615%29.PDF"
        );
        assert_eq!(
            disposition("a%b;c.txt"),
            "attachment; filename=\"a_b;c.txt\"; filename*=UTF-8''a%25b%3Bc.txt"
        );
    }
}
