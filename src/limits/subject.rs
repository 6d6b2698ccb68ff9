//! Limit subjects as keyed hashes: HMAC-SHA256 under the gateway's secret, so a
//! counter names no username, IP or address, and no one without the key can test a
//! guess (a phone number) against a Redis dump.

use std::fmt;

use crate::mac::MacKey;

use super::Kind;

/// Bytes of HMAC output kept (128 bits).
const DIGEST_BYTES: usize = 16;

/// Separates limit digests from anything else derived from the same secret.
const DOMAIN: &[u8] = b"wdgate limits v1";

/// A subject's keyed hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest([u8; DIGEST_BYTES]);

impl Digest {
    /// Lowercase hex, as Redis keys carry it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

/// The secret subjects are hashed under; cheap to clone.
#[derive(Clone)]
pub struct SubjectKey(MacKey);

impl SubjectKey {
    /// A key from configured secret text (`devices.id_key`, the same on every replica).
    pub fn from_secret(secret: &[u8]) -> Self {
        Self(MacKey::from_secret(secret))
    }

    /// A random key, for a single process (the memory store).
    pub fn random() -> Result<Self, getrandom::Error> {
        MacKey::random().map(Self)
    }

    /// The digest of the subject made of `parts` for limits of `kind`. Each part is
    /// length-prefixed, so no two different lists of parts hash alike.
    pub fn digest(&self, kind: Kind, parts: &[&[u8]]) -> Digest {
        let mut framed: Vec<&[u8]> = Vec::with_capacity(parts.len() + 1);
        framed.push(kind.name().as_bytes());
        framed.extend_from_slice(parts);
        let full = self.0.tag(DOMAIN, &framed);
        let mut digest = [0u8; DIGEST_BYTES];
        digest.copy_from_slice(&full[..DIGEST_BYTES]);
        Digest(digest)
    }
}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_depend_on_the_key_the_kind_and_every_part() {
        let key = SubjectKey::from_secret(b"0123456789abcdef");
        let d = key.digest(Kind::LoginPair, &[b"alice", b"192.0.2.1"]);
        assert_eq!(d, key.digest(Kind::LoginPair, &[b"alice", b"192.0.2.1"]));
        assert_ne!(d, key.digest(Kind::LoginUser, &[b"alice", b"192.0.2.1"]));
        assert_ne!(d, key.digest(Kind::LoginPair, &[b"alice", b"192.0.2.2"]));
        // Moving a byte between parts changes the digest (length prefixes).
        assert_ne!(d, key.digest(Kind::LoginPair, &[b"alice1", b"92.0.2.1"]));
        let other = SubjectKey::from_secret(b"fedcba9876543210");
        assert_ne!(d, other.digest(Kind::LoginPair, &[b"alice", b"192.0.2.1"]));
        assert_eq!(d.to_hex().len(), 2 * DIGEST_BYTES);
        assert!(!format!("{key:?}").contains("0123"));
    }
}
