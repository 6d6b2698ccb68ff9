//! Sealed records: what the gateway keeps in Redis, encrypted and authenticated
//! (XChaCha20-Poly1305) under `session.encryption_keys`, and bound to the Redis key it
//! is stored under, so a dump of Redis gives away neither a SID nor a profile.
//!
//! A sealed value is text: `s1.{key id}.{base64url(nonce ‖ ciphertext ‖ tag)}`. The
//! 192-bit nonce is random per record (XChaCha's nonce is long enough that random ones
//! never need counting). The Redis key name is the associated data: a value copied
//! under another key (another session's) does not open. The key id (8 hex digits,
//! derived from the key, not the key itself) picks the key that opens a record, so the
//! first configured key seals and every listed key opens: keys rotate without ending
//! the sessions sealed under the previous one.
//!
//! How to use it (every Redis record writer does):
//! - `RedisLink::set_sealed` / `RedisLink::get_sealed` store and read a serde value;
//! - or, for a record a Lua script must read part of, [`Sealer::seal`] the secret part
//!   and keep what the script needs (a deadline, a counter) in clear beside it, as the
//!   session store keeps its absolute end (`redis.rs`); a script never sees plaintext;
//! - a key name that would otherwise carry a user's data (a username, an address) uses
//!   [`Sealer::blind`] for that part instead.
//!
//! A value that does not open (tampered, cut, sealed under a key no longer listed,
//! copied from another key) is a miss: `open` says why, `open_json` logs a warning
//! naming the record kind (never the value or the key's hash) and returns `None`.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

use super::store::StoreError;

/// The format tag every sealed value starts with (bumped if the format ever changes).
const FORMAT: &str = "s1";

/// Fewest bytes a configured key must decode to.
pub const MIN_KEY_BYTES: usize = 32;

/// Bytes of XChaCha20-Poly1305's nonce and tag.
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;

/// Hex digits of a key id.
const KEY_ID_LEN: usize = 8;

/// Labels that derive the independent keys from one configured secret.
const LABEL_CIPHER: &[u8] = b"wdgate sealed records v1: cipher key";
const LABEL_ID: &[u8] = b"wdgate sealed records v1: key id";
const LABEL_BLIND: &[u8] = b"wdgate sealed records v1: key names";

/// Seals and opens records with the configured keys; cheap to clone.
#[derive(Clone)]
pub struct Sealer {
    inner: Arc<Keys>,
}

struct Keys {
    /// The configured keys in order: the first seals.
    ring: Vec<SealKey>,
    /// Keys the [`Sealer::blind`] hashes (derived from the first key).
    blind: Hmac<Sha256>,
}

struct SealKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// Why `session.encryption_keys` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No key at all.
    #[error("must list at least one key (generate one with `openssl rand -base64 32`)")]
    Empty,
    /// A key that is not base64.
    #[error("key {0} is not base64 (generate one with `openssl rand -base64 32`)")]
    NotBase64(usize),
    /// A key shorter than [`MIN_KEY_BYTES`].
    #[error("key {0} has fewer than {MIN_KEY_BYTES} bytes; use `openssl rand -base64 32`")]
    TooShort(usize),
    /// The same key twice (or two keys whose ids collide).
    #[error("keys {0} and {1} have the same key id; list each key once")]
    Duplicate(usize, usize),
}

/// Why a stored value did not open. Says nothing of the value itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unsealable {
    /// Not a sealed value (wrong format, cut short, not base64).
    #[error("not a sealed record")]
    Malformed,
    /// Sealed under a key that is no longer listed.
    #[error("sealed under key {0:?}, which is not listed in session.encryption_keys")]
    UnknownKey(KeyId),
    /// The key is listed but the value does not authenticate: tampered, or copied from
    /// another Redis key.
    #[error("does not authenticate (tampered, or copied from another key)")]
    Forged,
}

/// A key id as read from a record (8 hex digits).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.0).unwrap_or("?"))
    }
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Key ids only: they name the keys without giving them away.
        f.debug_struct("Sealer")
            .field("key_ids", &self.key_ids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// The sealer for `keys` (each base64 of at least [`MIN_KEY_BYTES`] random bytes);
    /// the first seals, all open. Errors number the keys from 1.
    pub fn new<K: AsRef<str>>(keys: &[K]) -> Result<Self, KeyError> {
        let mut ring: Vec<SealKey> = Vec::with_capacity(keys.len());
        let mut first_secret = None;
        for (i, key) in keys.iter().enumerate() {
            let secret = decode_key(key.as_ref()).ok_or(KeyError::NotBase64(i + 1))?;
            if secret.len() < MIN_KEY_BYTES {
                return Err(KeyError::TooShort(i + 1));
            }
            let id = key_id_of(&secret);
            if let Some(j) = ring.iter().position(|k| k.id == id) {
                return Err(KeyError::Duplicate(j + 1, i + 1));
            }
            let cipher = XChaCha20Poly1305::new(&derive(&secret, LABEL_CIPHER).into());
            ring.push(SealKey { id, cipher });
            first_secret.get_or_insert(secret);
        }
        let first = first_secret.ok_or(KeyError::Empty)?;
        let blind = hmac_key(&derive(&first, LABEL_BLIND));
        Ok(Self {
            inner: Arc::new(Keys { ring, blind }),
        })
    }

    /// The ids of the configured keys, the sealing one first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.inner.ring.iter().map(|k| k.id.as_str())
    }

    /// `plaintext` sealed with the first key, bound to the Redis key `key_name`.
    ///
    /// Fails only if the OS random number generator does (503, like a store failure).
    pub fn seal(&self, key_name: &str, plaintext: &[u8]) -> Result<String, StoreError> {
        let key = &self.inner.ring[0];
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce)
            .map_err(|e| StoreError(format!("cannot seal a record: the OS RNG failed: {e}")))?;
        let sealed = key
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: key_name.as_bytes(),
                },
            )
            .map_err(|_| StoreError("cannot seal a record: it is too long".to_owned()))?;
        let mut body = Vec::with_capacity(NONCE_BYTES + sealed.len());
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&sealed);
        let mut out = String::with_capacity(FORMAT.len() + KEY_ID_LEN + 2 + body.len() * 4 / 3 + 4);
        out.push_str(FORMAT);
        out.push('.');
        out.push_str(&key.id);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&body, &mut out);
        Ok(out)
    }

    /// The plaintext of `stored`, if it was sealed by a listed key for `key_name` and
    /// is intact.
    pub fn open(&self, key_name: &str, stored: &str) -> Result<Vec<u8>, Unsealable> {
        let rest = stored
            .strip_prefix(FORMAT)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or(Unsealable::Malformed)?;
        let (id, body) = rest.split_once('.').ok_or(Unsealable::Malformed)?;
        let id: [u8; KEY_ID_LEN] = id
            .as_bytes()
            .try_into()
            .map_err(|_| Unsealable::Malformed)?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| Unsealable::Malformed)?;
        if body.len() < NONCE_BYTES + TAG_BYTES {
            return Err(Unsealable::Malformed);
        }
        let key = self
            .inner
            .ring
            .iter()
            .find(|k| k.id.as_bytes() == id)
            .ok_or(Unsealable::UnknownKey(KeyId(id)))?;
        let (nonce, sealed) = body.split_at(NONCE_BYTES);
        key.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: key_name.as_bytes(),
                },
            )
            .map_err(|_| Unsealable::Forged)
    }

    /// `value` as JSON, sealed for `key_name`.
    pub fn seal_json<T: Serialize>(&self, key_name: &str, value: &T) -> Result<String, StoreError> {
        let json = serde_json::to_vec(value)
            .map_err(|e| StoreError(format!("cannot encode a record: {e}")))?;
        self.seal(key_name, &json)
    }

    /// The value sealed in `stored` for `key_name`, or `None` (logged as a warning that
    /// names the record kind and why, never the value) when it does not open or parse.
    pub fn open_json<T: DeserializeOwned>(&self, key_name: &str, stored: &str) -> Option<T> {
        let record = record_kind(key_name);
        let plaintext = match self.open(key_name, stored) {
            Ok(plaintext) => plaintext,
            Err(why) => {
                tracing::warn!(record, error = %why, "a stored record that does not open was ignored");
                return None;
            }
        };
        match serde_json::from_slice(&plaintext) {
            Ok(value) => Some(value),
            Err(e) => {
                // The error may quote the plaintext: only its position is logged.
                tracing::warn!(
                    record,
                    line = e.line(),
                    column = e.column(),
                    "a stored record that opens but does not parse was ignored"
                );
                None
            }
        }
    }

    /// A keyed hash (128 bits, hex) of `value`, for a Redis key name that must tell
    /// users or addresses apart without naming them (`wdgate:limit:{blind(username)}`).
    /// Keyed with the first encryption key, so a dump cannot be searched by guessing
    /// usernames; it changes when that key does (counters keyed by it start afresh).
    pub fn blind(&self, value: &str) -> String {
        let mut mac = self.inner.blind.clone();
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The id (8 hex digits) of a configured key, or `None` if it is not a usable key.
pub fn key_id(key: &str) -> Option<String> {
    decode_key(key)
        .filter(|s| s.len() >= MIN_KEY_BYTES)
        .map(|s| key_id_of(&s))
}

/// `wdgate:session:3fa1…` → `wdgate:session`: the kind of record, without the hash.
fn record_kind(key_name: &str) -> &str {
    key_name.rsplit_once(':').map_or(key_name, |(kind, _)| kind)
}

/// A key written in any base64 alphabet, padded or not.
fn decode_key(key: &str) -> Option<Vec<u8>> {
    let key = key.trim();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(key).ok())
}

fn key_id_of(secret: &[u8]) -> String {
    derive(secret, LABEL_ID)[..KEY_ID_LEN / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// HMAC-SHA256(secret, label): one key per purpose from one uniformly random secret
/// (the single-block case of a counter-mode KDF, NIST SP 800-108).
fn derive(secret: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac = hmac_key(secret);
    mac.update(label);
    mac.finalize().into_bytes().into()
}

fn hmac_key(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("any key length"))
}

#[cfg(test)]
mod tests;
