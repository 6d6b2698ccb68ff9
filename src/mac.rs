//! Keyed hashes (HMAC-SHA256) under a gateway secret: how device ids, limit subjects and
//! other names are derived from what they stand for without revealing it, and without
//! letting anyone who lacks the secret test a guess (a phone number) against them.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A secret to hash under; cheap to clone. Its `Debug` hides it.
#[derive(Clone)]
pub struct MacKey(Hmac<Sha256>);

impl MacKey {
    /// A key from configured secret text (the same on every replica).
    pub fn from_secret(secret: &[u8]) -> Self {
        // HMAC takes keys of any length.
        Self(Hmac::new_from_slice(secret).unwrap_or_else(|_| unreachable!("any key length")))
    }

    /// A random key: what it derives lasts as long as the process.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(Self::from_secret(&key))
    }

    /// A fresh HMAC state under the key, for a caller that frames its own input.
    pub fn start(&self) -> Hmac<Sha256> {
        self.0.clone()
    }

    /// The HMAC of `domain` and then each of `parts` length-prefixed, so no two
    /// different lists of parts (or domains) hash alike.
    pub fn tag(&self, domain: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.start();
        mac.update(domain);
        for part in parts {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_depend_on_the_key_the_domain_and_the_framing() {
        let key = MacKey::from_secret(b"0123456789abcdef");
        let t = key.tag(b"d", &[b"ab", b"c"]);
        assert_eq!(t, key.tag(b"d", &[b"ab", b"c"]));
        assert_ne!(t, key.tag(b"d", &[b"a", b"bc"]), "parts are framed");
        assert_ne!(t, key.tag(b"e", &[b"ab", b"c"]));
        assert_ne!(t, MacKey::from_secret(b"other").tag(b"d", &[b"ab", b"c"]));
        assert_ne!(t, MacKey::random().expect("rng").tag(b"d", &[b"ab", b"c"]));
        assert!(!format!("{key:?}").contains("0123"));
    }
}
