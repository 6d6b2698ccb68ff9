//! Request ids: a client's id is kept when it is a short token, otherwise one is
//! minted. The edge ([`crate::api::edge`]) names it in the log span and problem bodies
//! and puts it on the answer.

use std::cell::RefCell;

use axum::http::{HeaderValue, Request};

use super::REQUEST_ID;

/// Gives `request` its id: the client's `x-request-id` when it is a short printable
/// token, otherwise a fresh UUIDv4 written over it. The id is what the answer will
/// carry and what log lines and problem bodies name. `None` only if the OS random
/// number generator fails (the request then goes on without an id).
pub fn assign<B>(request: &mut Request<B>) -> Option<HeaderValue> {
    if let Some(id) = request.headers().get(&REQUEST_ID) {
        if acceptable(id.as_bytes()) {
            return Some(id.clone());
        }
    }
    let id = mint();
    match &id {
        Some(id) => request.headers_mut().insert(REQUEST_ID, id.clone()),
        None => request.headers_mut().remove(&REQUEST_ID),
    };
    id
}

/// Whether a client-sent id is a short printable token.
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
    HeaderValue::from_str(uuid.hyphenated().encode_lower(&mut text)).ok()
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
