//! Request ids: the id a trusted proxy (`server.trusted_proxies`) sent is kept when it
//! is a short token; anyone else's is only logged beside the gateway's own, so a client
//! cannot pick the id that names a log entry (or collide with another's). The edge
//! ([`crate::api::edge`]) names the id in the log span and problem bodies and puts it
//! on the answer.

use std::cell::RefCell;

use axum::http::{HeaderMap, HeaderValue, Request};
use bytes::Bytes;

use super::REQUEST_ID;

/// A request's ids.
#[derive(Debug, Default)]
pub struct RequestIds {
    /// The request's id: what the answer carries and log lines and problem bodies
    /// name. `None` only if the OS random number generator fails (the request then
    /// goes on without an id).
    pub id: Option<HeaderValue>,
    /// The id an untrusted client sent, when it is a short printable token: logged
    /// beside [`Self::id`], used for nothing else.
    pub client: Option<HeaderValue>,
}

/// Gives `request` its id: the `x-request-id` it came with when `from_trusted_proxy`
/// and that id is a short printable token, otherwise a fresh UUIDv4 written over it.
pub fn assign<B>(request: &mut Request<B>, from_trusted_proxy: bool) -> RequestIds {
    let (ids, minted) = ids_of(request.headers(), from_trusted_proxy);
    if minted {
        match &ids.id {
            Some(id) => request.headers_mut().insert(REQUEST_ID, id.clone()),
            None => request.headers_mut().remove(&REQUEST_ID),
        };
    }
    ids
}

/// The ids [`assign`] gives a request with `headers`, leaving the request as it came:
/// for a handler that reads no `x-request-id` (writing the id over it costs a header
/// insert).
pub fn ids(headers: &HeaderMap, from_trusted_proxy: bool) -> RequestIds {
    ids_of(headers, from_trusted_proxy).0
}

/// The ids of a request with `headers`, and whether the id is the gateway's own (or
/// none), not the one the request came with.
fn ids_of(headers: &HeaderMap, from_trusted_proxy: bool) -> (RequestIds, bool) {
    let sent = headers
        .get(&REQUEST_ID)
        .filter(|id| acceptable(id.as_bytes()));
    if from_trusted_proxy {
        if let Some(id) = sent {
            let ids = RequestIds {
                id: Some(id.clone()),
                client: None,
            };
            return (ids, false);
        }
    }
    let client = sent.cloned();
    (RequestIds { id: mint(), client }, true)
}

/// Whether a client-sent id is a short printable token (at most 64 bytes of letters,
/// digits and `-_.:`: no control characters, nothing a log reader could mistake).
fn acceptable(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
}

/// A new UUIDv4 request id.
pub fn mint() -> Option<HeaderValue> {
    let uuid = uuid::Builder::from_random_bytes(random_id_bytes()?).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid.hyphenated().encode_lower(&mut text);
    // Shared from the start: the edge puts the id on the request and on the answer,
    // and each clone of a copied value would allocate again.
    HeaderValue::from_maybe_shared(Bytes::from_owner(text)).ok()
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
        let ids: Vec<String> = (0..600)
            .map(|_| mint().expect("rng").to_str().expect("ascii").to_owned())
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

    fn request_with_id(id: &'static str) -> Request<()> {
        Request::get("/me")
            .header(REQUEST_ID, id)
            .body(())
            .expect("a request")
    }

    #[test]
    fn a_trusted_proxys_id_is_kept_and_a_strangers_only_logged() {
        let mut request = request_with_id("lb-123");
        let ids = assign(&mut request, true);
        assert_eq!(ids.id.expect("an id"), "lb-123");
        assert!(ids.client.is_none());

        let mut request = request_with_id("mine-456");
        let ids = assign(&mut request, false);
        let id = ids.id.expect("an id");
        assert_ne!(id, "mine-456");
        assert_eq!(request.headers()[REQUEST_ID], id, "ours replaces it");
        assert_eq!(ids.client.expect("kept for the log"), "mine-456");

        let kept = request_with_id("mine-456");
        let ids = super::ids(kept.headers(), false);
        assert_eq!(ids.client.expect("kept for the log"), "mine-456");
        assert_ne!(ids.id.expect("an id"), "mine-456");
        assert_eq!(kept.headers()[REQUEST_ID], "mine-456", "left as it came");

        let mut request = request_with_id("bad id\twith tab");
        let ids = assign(&mut request, false);
        assert!(ids.client.is_none(), "not even logged");
        let mut request = request_with_id("bad id with spaces");
        assert_ne!(
            assign(&mut request, true).id.expect("an id"),
            "bad id with spaces"
        );
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
