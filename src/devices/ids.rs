//! Stable device ids: a keyed hash of the user and the normalized address.
//!
//! Worldox names a device by its `Rec`, which shifts when an earlier device is deleted;
//! the gateway's id survives that. It is keyed (HMAC) rather than a plain hash so that
//! a redacted listing's ids do not give the address away to a brute-force search of
//! the phone-number space.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;

use crate::address::Address;
use crate::mac::MacKey;

/// Bytes of HMAC output kept in an id (128 bits).
const ID_BYTES: usize = 16;

/// Derives device ids; cheap to clone.
#[derive(Clone)]
pub struct IdKey(MacKey);

impl IdKey {
    /// A key from configured secret text.
    pub fn from_secret(secret: &[u8]) -> Self {
        Self(MacKey::from_secret(secret))
    }

    /// A random key: ids then last as long as the process.
    pub fn random() -> Result<Self, getrandom::Error> {
        MacKey::random().map(Self)
    }

    /// The id of `address` among `username`'s devices.
    pub fn device_id(&self, username: &str, address: &Address) -> String {
        // This framing (no domain, a NUL between) is what ids have always been made of:
        // changing it would rename every device.
        let mut mac = self.0.start();
        mac.update(username.to_lowercase().as_bytes());
        mac.update(b"\0");
        mac.update(address.key().as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("dev_{}", URL_SAFE_NO_PAD.encode(&digest[..ID_BYTES]))
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
}
