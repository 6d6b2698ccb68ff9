//! Stable device ids: a keyed hash of the user and the normalized address.
//!
//! Worldox names a device by its `Rec`, which shifts when an earlier device is deleted;
//! the gateway's id survives that. It is keyed (HMAC) rather than a plain hash so that
//! a redacted listing's ids do not give the address away to a brute-force search of
//! the phone-number space.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;

use crate::address::Address;
use crate::mac::MacKey;

/// Bytes of HMAC output kept in an id (128 bits).
const ID_BYTES: usize = 16;

/// Ids remembered at most (a few MB): past it the memo starts over.
const MEMO_CAPACITY: usize = 16_384;

/// Derives device ids; cheap to clone (clones share the memo).
#[derive(Clone)]
pub struct IdKey {
    key: MacKey,
    memo: Arc<Memo>,
}

/// Ids already derived, by the exact bytes they were derived from (the lowercased
/// username, a NUL, the normalized address). Every uncached listing names the same few
/// devices again; an HMAC per device was a tenth of such a read. An id depends only on
/// those bytes and the key, so a forgotten one is derived again, byte for byte the same:
/// the memo is bounded by starting over when it is full, which costs one HMAC per id.
#[derive(Default)]
struct Memo(Mutex<HashMap<String, String>>);

impl IdKey {
    /// A key from configured secret text.
    pub fn from_secret(secret: &[u8]) -> Self {
        Self::with_key(MacKey::from_secret(secret))
    }

    /// A random key: ids then last as long as the process.
    pub fn random() -> Result<Self, getrandom::Error> {
        MacKey::random().map(Self::with_key)
    }

    fn with_key(key: MacKey) -> Self {
        Self {
            key,
            memo: Arc::default(),
        }
    }

    /// The id of `address` among `username`'s devices.
    pub fn device_id(&self, username: &str, address: &Address) -> String {
        // This framing (no domain, a NUL between) is what ids have always been made of:
        // changing it would rename every device.
        let mut input = String::with_capacity(username.len() + 1 + address.asis().len() + 8);
        push_lowercase(&mut input, username);
        input.push('\0');
        match address {
            Address::Phone(number) => input.push_str(number),
            Address::Email(email) => push_lowercase(&mut input, email),
        }
        debug_assert_eq!(
            input,
            format!("{}\0{}", username.to_lowercase(), address.key())
        );
        let mut memo = self.memo.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(id) = memo.get(&input) {
            return id.clone();
        }
        let id = self.derive(&input);
        if memo.len() >= MEMO_CAPACITY {
            memo.clear();
        }
        memo.insert(input, id.clone());
        id
    }

    /// The id of `input` (see [`Self::device_id`]), without the memo.
    fn derive(&self, input: &str) -> String {
        let mut mac = self.key.start();
        mac.update(input.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut id = String::with_capacity(4 + 22);
        id.push_str("dev_");
        URL_SAFE_NO_PAD.encode_string(&digest[..ID_BYTES], &mut id);
        id
    }
}

/// Appends `text.to_lowercase()`, without its allocation when `text` is ASCII (a
/// username or an email address almost always is).
fn push_lowercase(out: &mut String, text: &str) {
    if text.is_ascii() {
        out.extend(text.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        out.push_str(&text.to_lowercase());
    }
}

impl fmt::Debug for IdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        Address::parse(s).expect("valid address")
    }

    #[test]
    fn the_same_device_in_any_spelling_has_one_id() {
        let key = IdKey::from_secret(b"k");
        let a = key.device_id("demo", &addr("(551) 655-5721"));
        assert_eq!(a, key.device_id("DEMO", &addr("+15516555721")));
        assert_eq!(a, key.device_id("demo", &addr("551.655.5721")));
        assert!(a.starts_with("dev_") && a.len() == 4 + 22, "{a}");
        let e = key.device_id("demo", &addr("DSnyder@Worldox.com"));
        assert_eq!(e, key.device_id("demo", &addr("dsnyder@worldox.com")));
    }

    #[test]
    fn ids_differ_by_user_address_and_key() {
        let key = IdKey::from_secret(b"k");
        let a = key.device_id("demo", &addr("+15516555721"));
        assert_ne!(a, key.device_id("other", &addr("+15516555721")));
        assert_ne!(a, key.device_id("demo", &addr("+15516555722")));
        assert_ne!(
            a,
            IdKey::from_secret(b"k2").device_id("demo", &addr("+15516555721"))
        );
    }

    /// The ids clients hold: derived as they always were (HMAC-SHA256 of the lowercased
    /// username, a NUL and the normalized address, 128 bits in base64url), whether
    /// the memo has them or not, and whatever the case or script of the username.
    #[test]
    fn remembered_ids_are_the_ids_an_hmac_gives() {
        let key = IdKey::from_secret(b"k");
        for (user, address) in [
            ("demo", "+15516555721"),
            ("DEMO", "DSnyder@Worldox.com"),
            ("ΟΔΥΣΣΕΥΣ", "+15516555722"),
            ("Zoë", "zoe@example.com"),
        ] {
            let address = addr(address);
            let mut mac = MacKey::from_secret(b"k").start();
            mac.update(user.to_lowercase().as_bytes());
            mac.update(b"\0");
            mac.update(address.key().as_bytes());
            let digest = mac.finalize().into_bytes();
            let expected = format!("dev_{}", URL_SAFE_NO_PAD.encode(&digest[..ID_BYTES]));
            assert_eq!(key.device_id(user, &address), expected, "{user}");
            assert_eq!(
                key.device_id(user, &address),
                expected,
                "remembered: {user}"
            );
            assert_eq!(key.clone().device_id(user, &address), expected, "a clone");
        }
        // A fixed value (Python's hmac module agrees), so that a change to the framing
        // cannot go unnoticed.
        assert_eq!(
            key.device_id("demo", &addr("+15516555721")),
            "dev_vZVw_ILHUPDRUTtz-AEUnQ"
        );
    }

    #[test]
    fn a_full_memo_starts_over_and_ids_stay_the_same() {
        let key = IdKey::from_secret(b"k");
        let first = key.device_id("demo", &addr("+15516555721"));
        for n in 0..MEMO_CAPACITY + 10 {
            key.device_id("demo", &addr(&format!("user{n}@example.com")));
        }
        assert!(key.memo.0.lock().expect("memo").len() <= MEMO_CAPACITY);
        assert_eq!(key.device_id("demo", &addr("+15516555721")), first);
    }
}
