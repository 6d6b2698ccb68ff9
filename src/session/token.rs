//! Gateway tokens: 256 random bits, base64url, prefixed `wdg_` so secret scanners can
//! spot a leaked one. The store keys on their SHA-256, never on the token itself.

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The prefix every token carries.
pub const TOKEN_PREFIX: &str = "wdg_";

/// Random bytes in a token.
const TOKEN_BYTES: usize = 32;

/// Length of a token's text: the prefix and 43 base64url characters.
const TOKEN_LEN: usize = TOKEN_PREFIX.len() + 43;

/// A freshly minted token, given to the client once.
pub struct Token(String);

/// SHA-256 of a token: the store's key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

/// A key that is already a SHA-256 digest hashes as its first eight bytes: hashing it
/// again with SipHash would cost a lookup more than the rest of it and spread nothing
/// further. (Keys are only stored for tokens the gateway drew from the OS RNG, so
/// nobody can aim many at one bucket.)
impl Hash for TokenHash {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let [a, b, c, d, e, f, g, h, ..] = self.0;
        state.write_u64(u64::from_le_bytes([a, b, c, d, e, f, g, h]));
    }
}

/// The hasher for maps keyed by [`TokenHash`]: it passes the key's 64 bits through.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenHashState;

impl BuildHasher for TokenHashState {
    type Hasher = TokenHasher;

    fn build_hasher(&self) -> TokenHasher {
        TokenHasher(0)
    }
}

/// See [`TokenHashState`].
#[derive(Debug)]
pub struct TokenHasher(u64);

impl Hasher for TokenHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is expected; anything else is folded in, not dropped.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 ^= value;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// An in-process cache keyed by [`TokenHash`].
pub type TokenCache<V> = moka::future::Cache<TokenHash, V, TokenHashState>;

/// The OS random number generator failed.
#[derive(Debug, thiserror::Error)]
#[error("the OS random number generator failed: {0}")]
pub struct RngError(String);

impl RngError {
    /// The error of a failed draw.
    pub fn new(error: &getrandom::Error) -> Self {
        Self(error.to_string())
    }
}

impl Token {
    /// Mints a token from the OS RNG.
    pub fn generate() -> Result<Self, RngError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| RngError(e.to_string()))?;
        Ok(Self(format!(
            "{TOKEN_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(bytes)
        )))
    }

    /// The text to hand to the client.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The store key.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.0.as_bytes())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl TokenHash {
    /// A number spread like the digest, for picking a stripe of per-key state (bits
    /// other than the ones the cache's hasher takes).
    pub fn stripe(&self) -> usize {
        usize::from(u16::from_le_bytes([self.0[8], self.0[9]]))
    }

    /// Hashes presented token text, or `None` if it is not shaped like one of ours
    /// (so garbage never costs a store lookup).
    pub fn from_presented(text: &str) -> Option<Self> {
        Self::from_presented_bytes(text.as_bytes())
    }

    /// [`Self::from_presented`] of the bytes of a header (anything not ASCII is refused).
    pub fn from_presented_bytes(text: &[u8]) -> Option<Self> {
        let body = text.strip_prefix(TOKEN_PREFIX.as_bytes())?;
        let well_formed = text.len() == TOKEN_LEN
            && body
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| Self::of(text))
    }

    fn of(text: &[u8]) -> Self {
        Self(Sha256::digest(text).into())
    }

    /// Lowercase hex, for stores that key on text.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses [`Self::to_hex`]'s output back (as invalidation messages carry it).
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(bytes))
    }
}

/// The last token one connection presented, with its store key.
///
/// A client keeps its connection and presents the same token on every request, so the
/// key is worked out once per connection rather than once per request. SHA-256 of a
/// token costs about 3,500 instructions on a CPU without SHA extensions (Skylake and
/// Cascade Lake Xeons have none): a seventh of a cached read (bench/results.md). A token
/// is compared with the remembered one in constant time, so timing tells nothing of a
/// token another client sent on a shared connection (a load balancer's); any other token
/// is hashed and remembered instead.
#[derive(Clone, Default)]
pub struct RecentToken(Option<(TokenWords, TokenHash)>);

/// A token's text as machine words (zero-padded), to compare a word at a time.
type TokenWords = [u64; TOKEN_LEN.div_ceil(8)];

impl RecentToken {
    /// The store key of `presented`, as [`TokenHash::from_presented`] gives it.
    pub fn key_of(&mut self, presented: &[u8]) -> Option<TokenHash> {
        // Only a token's length may be told by timing: every token has the same one.
        let text: &[u8; TOKEN_LEN] = presented.try_into().ok()?;
        let words = words_of(text);
        if let Some((remembered, key)) = &self.0 {
            if bool::from(remembered[..].ct_eq(&words[..])) {
                return Some(*key);
            }
        }
        let key = TokenHash::from_presented_bytes(text)?;
        self.0 = Some((words, key));
        Some(key)
    }
}

fn words_of(text: &[u8; TOKEN_LEN]) -> TokenWords {
    let mut padded = [0u8; TOKEN_LEN.next_multiple_of(8)];
    padded[..TOKEN_LEN].copy_from_slice(text);
    let mut words = TokenWords::default();
    for (word, bytes) in words.iter_mut().zip(padded.chunks_exact(8)) {
        let mut chunk = [0u8; 8];
        chunk.copy_from_slice(bytes);
        *word = u64::from_ne_bytes(chunk);
    }
    words
}

impl fmt::Debug for RecentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecentToken(<redacted>)")
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The first bytes are enough to correlate in a debugger; the hash is not a secret.
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_hash_hashes_as_its_first_eight_bytes() {
        let a = Token::generate().expect("rng").hash();
        let b = Token::generate().expect("rng").hash();
        let state = TokenHashState;
        assert_eq!(state.hash_one(a), state.hash_one(a));
        assert_ne!(state.hash_one(a), state.hash_one(b));
        let mut first = [0u8; 8];
        first.copy_from_slice(&a.0[..8]);
        assert_eq!(state.hash_one(a), u64::from_le_bytes(first));
    }

    #[test]
    fn tokens_are_prefixed_unique_and_well_formed() {
        let a = Token::generate().expect("rng");
        let b = Token::generate().expect("rng");
        assert!(a.as_str().starts_with("wdg_"));
        assert_eq!(a.as_str().len(), TOKEN_LEN);
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(TokenHash::from_presented(a.as_str()), Some(a.hash()));
        assert!(!format!("{a:?}").contains(&a.as_str()[4..]));
    }

    #[test]
    fn a_remembered_token_gives_the_key_its_hash_gives() {
        let a = Token::generate().expect("rng");
        let b = Token::generate().expect("rng");
        let mut recent = RecentToken::default();
        for _ in 0..2 {
            assert_eq!(recent.key_of(a.as_str().as_bytes()), Some(a.hash()));
        }
        // Another token is hashed, not taken for the remembered one; then it is the one
        // remembered.
        let key_of = |recent: &mut RecentToken, text: &str| recent.key_of(text.as_bytes());
        assert_eq!(key_of(&mut recent, b.as_str()), Some(b.hash()));
        assert_eq!(key_of(&mut recent, b.as_str()), Some(b.hash()));
        assert_eq!(key_of(&mut recent, a.as_str()), Some(a.hash()));
        // A token differing in its last character (the one in the padded word), or a
        // prefix of it, is not the remembered one.
        let mut near = a.as_str().to_owned();
        let last = if near.ends_with('A') { "B" } else { "A" };
        near.replace_range(near.len() - 1.., last);
        assert_eq!(key_of(&mut recent, &near), TokenHash::from_presented(&near));
        assert_ne!(key_of(&mut recent, &near), Some(a.hash()));
        assert_eq!(key_of(&mut recent, &a.as_str()[..20]), None);
        // Garbage of a token's length is refused, and forgets nothing.
        let garbage = format!("wdg_{}", "!".repeat(TOKEN_LEN - 4));
        assert_eq!(key_of(&mut recent, &garbage), None);
        assert_eq!(key_of(&mut recent, &near), TokenHash::from_presented(&near));
        assert!(!format!("{recent:?}").contains(&near[4..]));
    }

    #[test]
    fn hashes_round_trip_through_hex() {
        let hash = Token::generate().expect("rng").hash();
        assert_eq!(TokenHash::from_hex(&hash.to_hex()), Some(hash));
        for bad in ["", "zz", &"g".repeat(64), &"0".repeat(63), &"é".repeat(32)] {
            assert_eq!(TokenHash::from_hex(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn malformed_tokens_are_refused_without_hashing() {
        let good = Token::generate().expect("rng");
        let cases = [
            "",
            "wdg_",
            "bearer",
            &good.as_str()[4..],
            &format!("{}x", good.as_str()),
            &good.as_str().replace('_', "+"),
        ];
        for case in cases {
            if case == good.as_str() {
                continue;
            }
            assert_eq!(TokenHash::from_presented(case), None, "{case:?}");
        }
    }
}
