//! Request ids: a client's id is kept when it is a short token, otherwise one is
//! minted; the id travels on the request (for the span and problem bodies) and comes
//! back on the answer.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tower_http::request_id::{MakeRequestId, RequestId};

use super::REQUEST_ID;

/// Gives every request an `x-request-id` and every answer the same one.
///
/// A client's id is kept only if it is a short printable token, so ids cannot forge or
/// bloat log lines; otherwise a UUIDv4 replaces it. This one layer does what a
/// `from_fn` sanitizer, tower-http's `SetRequestIdLayer` and `PropagateRequestIdLayer`
/// did as three, without boxing a future or cloning the services below on every request.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIds<S>;

    fn layer(&self, inner: S) -> RequestIds<S> {
        RequestIds { inner }
    }
}

/// The service [`RequestIdLayer`] adds.
#[derive(Debug, Clone)]
pub struct RequestIds<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for RequestIds<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let id = match request.headers().get(&REQUEST_ID) {
            Some(id) if acceptable(id.as_bytes()) => Some(id.clone()),
            _ => {
                let id = MakeUuid
                    .make_request_id(&request)
                    .map(RequestId::into_header_value);
                match &id {
                    Some(id) => request.headers_mut().insert(REQUEST_ID, id.clone()),
                    None => request.headers_mut().remove(&REQUEST_ID),
                };
                id
            }
        };
        if let Some(id) = &id {
            // As tower-http's layers leave it, for whatever reads the extension.
            request.extensions_mut().insert(RequestId::new(id.clone()));
        }
        RequestIdFuture {
            inner: self.inner.call(request),
            id,
        }
    }
}

pin_project! {
    /// Puts the request id on the answer, unless the answer names one already.
    #[derive(Debug)]
    pub struct RequestIdFuture<F> {
        #[pin]
        inner: F,
        id: Option<HeaderValue>,
    }
}

impl<F, R, E> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(id) = this.id.take() {
            if !response.headers().contains_key(&REQUEST_ID) {
                response.headers_mut().insert(REQUEST_ID, id);
            }
        }
        Poll::Ready(Ok(response))
    }
}

/// Whether a client-sent id is a short printable token.
fn acceptable(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
}

/// Mints UUIDv4 request ids.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeUuid;

impl MakeRequestId for MakeUuid {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let uuid = uuid::Builder::from_random_bytes(random_id_bytes()?).into_uuid();
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        HeaderValue::from_str(uuid.hyphenated().encode_lower(&mut text))
            .ok()
            .map(RequestId::new)
    }
}

/// Random bytes fetched from the OS at a time for request ids: one `getrandom` call
/// per 256 ids instead of one per request.
const ID_POOL_BYTES: usize = 4096;

thread_local! {
    /// This thread's random bytes for request ids, and how many are used up.
    static ID_POOL: RefCell<([u8; ID_POOL_BYTES], usize)> =
        const { RefCell::new(([0; ID_POOL_BYTES], ID_POOL_BYTES)) };
}

/// 16 random bytes from this thread's pool, refilled from the OS RNG when empty.
fn random_id_bytes() -> Option<[u8; 16]> {
    ID_POOL.with_borrow_mut(|(pool, used)| {
        if *used + 16 > ID_POOL_BYTES {
            getrandom::fill(pool).ok()?;
            *used = 0;
        }
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&pool[*used..*used + 16]);
        *used += 16;
        Some(bytes)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_are_distinct_v4_uuids() {
        let request = Request::new(());
        let ids: Vec<String> = (0..600)
            .map(|_| {
                let id = MakeUuid.make_request_id(&request).expect("rng");
                id.header_value().to_str().expect("ascii").to_owned()
            })
            .collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "ids repeat across pool refills");
        for id in &ids {
            let uuid = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(uuid.get_version_num(), 4, "{id}");
        }
    }

    #[test]
    fn only_short_printable_ids_are_kept() {
        assert!(acceptable(b"trace-123"));
        assert!(acceptable(b"a.b:c_d-e"));
        assert!(!acceptable(b""));
        assert!(!acceptable(b"bad id with spaces"));
        assert!(!acceptable(b"x\r\nforged: line"));
        assert!(!acceptable(&[b'a'; 65]));
    }
}
