//! Signed search cursors: `cur_` + base64url(JSON `{v, q, off}` ‖ HMAC-SHA-256 tag).
//!
//! A cursor names a search and an offset, never a server-side list: the session maps
//! the search's fingerprint to its List_ID, so a cursor stays usable on another
//! replica, after a restart, or after the list went stale (the search is then re-run).
//! The tag (keyed by `documents.id_key`) stops a client from forging offsets or
//! queries it was not given; a tampered cursor is refused.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::mac::MacKey;
use crate::upstream::documents::Filter;

/// The label `documents.id_key` is derived from `devices.id_key` under when unset.
const DERIVED_LABEL: &[u8] = b"wdgate documents.id_key v1";

/// The cursor format's version.
const VERSION: u8 = 1;
/// Bytes of the tag.
const TAG_BYTES: usize = 32;
/// The longest cursor accepted, in characters: room for the longest search the API
/// accepts (twelve filters of [`MAX_FILTER_CHARS`] characters of up to four UTF-8
/// bytes, or one query of 256, base64'd), and well inside a request head
/// (`server.max_header_bytes`, 16 KiB by default).
pub const MAX_CURSOR_LEN: usize = 8192;
/// The longest structured filter value, in characters.
pub const MAX_FILTER_CHARS: usize = 100;

/// A normalized search: what a cursor carries, and what names the search's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Search {
    /// The quick-find text, trimmed; `None` for none.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub q: Option<String>,
    /// The full-text search, trimmed (exclusive with `q` and `wdq`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text: Option<String>,
    /// A raw Worldox query, as given (exclusive with `q` and `text`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub wdq: Option<String>,
    /// Structured filters, trimmed, each once, in [`Filter`] order (exclusive with the
    /// three queries).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub filters: Vec<(Filter, String)>,
    /// Only this cabinet.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cabinet: Option<u32>,
    /// The sort as the API names it (`-updated`, `size`, …).
    pub sort: String,
    /// The page size.
    pub limit: u32,
}

impl Search {
    /// The fingerprint of the list this search reads: the queries, filters, cabinet
    /// and sort (not the page size, which each page call names anew).
    pub fn fingerprint(&self) -> [u8; 32] {
        let unsized_search = Self {
            limit: 0,
            ..self.clone()
        };
        // Strings, numbers and unit variants: it always serializes, unambiguously.
        let bytes = serde_json::to_vec(&unsized_search).unwrap_or_default();
        Sha256::digest(bytes).into()
    }
}

/// What a cursor says: a search, and the 0-based offset of the page it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The format version.
    pub v: u8,
    /// The search.
    pub q: Search,
    /// The offset.
    pub off: u64,
}

/// Why a cursor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// Not `cur_…`, not base64url, too long, or too short to hold a tag.
    #[error("the cursor is malformed")]
    Malformed,
    /// The tag does not match: tampered, or signed under another key.
    #[error("the cursor's signature does not match")]
    BadSignature,
    /// Signed, but not a cursor this gateway makes.
    #[error("the cursor's content is not understood")]
    Unreadable,
}

/// Signs and checks cursors; cheap to clone.
#[derive(Clone)]
pub struct CursorKey(Hmac<Sha256>);

impl CursorKey {
    /// A key from configured secret text, domain-separated from other uses of it.
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut mac = Self::mac(secret);
        mac.update(b"wdgate documents cursor key v1");
        Self(Self::mac(&mac.finalize().into_bytes()))
    }

    /// The key of the configuration: `documents.id_key` when set, else one derived
    /// from `devices.id_key` (HMAC-SHA-256 under a fixed label, so replicas that share
    /// only the devices key sign alike, and the derived key is not the devices key);
    /// `None` when neither is set.
    pub fn from_config(
        documents_id_key: Option<&str>,
        devices_id_key: Option<&str>,
    ) -> Option<Self> {
        match (documents_id_key, devices_id_key) {
            (Some(key), _) => Some(Self::from_secret(key.as_bytes())),
            (None, Some(devices)) => {
                let derived = MacKey::from_secret(devices.as_bytes()).tag(DERIVED_LABEL, &[]);
                Some(Self::from_secret(&derived))
            }
            (None, None) => None,
        }
    }

    /// A random key: cursors then last as long as the process.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(Self::from_secret(&key))
    }

    fn mac(key: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        Hmac::new_from_slice(key).unwrap_or_else(|_| unreachable!("any key length"))
    }

    /// The cursor of page `off` of `search`.
    pub fn seal(&self, search: &Search, off: u64) -> String {
        let cursor = Cursor {
            v: VERSION,
            q: search.clone(),
            off,
        };
        // A Search is strings and numbers: it always serializes.
        let mut bytes = serde_json::to_vec(&cursor).unwrap_or_default();
        let mut mac = self.0.clone();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes());
        format!("cur_{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The cursor `text` says, if this key signed it.
    pub fn open(&self, text: &str) -> Result<Cursor, CursorError> {
        if text.len() > MAX_CURSOR_LEN {
            return Err(CursorError::Malformed);
        }
        let encoded = text.strip_prefix("cur_").ok_or(CursorError::Malformed)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| CursorError::Malformed)?;
        if bytes.len() <= TAG_BYTES {
            return Err(CursorError::Malformed);
        }
        let (body, tag) = bytes.split_at(bytes.len() - TAG_BYTES);
        let mut mac = self.0.clone();
        mac.update(body);
        mac.verify_slice(tag)
            .map_err(|_| CursorError::BadSignature)?;
        let cursor: Cursor = serde_json::from_slice(body).map_err(|_| CursorError::Unreadable)?;
        if cursor.v != VERSION {
            return Err(CursorError::Unreadable);
        }
        Ok(cursor)
    }
}

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search() -> Search {
        Search {
            q: Some("Excel".into()),
            text: None,
            wdq: None,
            filters: Vec::new(),
            cabinet: Some(5),
            sort: "-updated".into(),
            limit: 2,
        }
    }

    #[test]
    fn the_longest_search_the_api_accepts_fits_a_cursor() {
        let key = CursorKey::from_secret(b"0123456789abcdef");
        // Four-byte characters, the most bytes a character can take in JSON but for
        // control characters, which the API refuses in filters.
        let long = "\u{1F600}".repeat(MAX_FILTER_CHARS);
        let search = Search {
            q: None,
            text: None,
            wdq: None,
            filters: Filter::ALL.iter().map(|f| (*f, long.clone())).collect(),
            cabinet: Some(999_999_999),
            sort: "-doc_number".into(),
            limit: 500,
        };
        let cursor = key.seal(&search, 1_000_000_000);
        assert!(cursor.len() <= MAX_CURSOR_LEN, "{}", cursor.len());
        let opened = key.open(&cursor).expect("opens");
        assert_eq!(opened.q, search);
    }

    #[test]
    fn filters_and_the_query_kind_name_different_lists() {
        let quick = search();
        let text = Search {
            q: None,
            text: Some("Excel".into()),
            ..search()
        };
        let filtered = Search {
            q: None,
            filters: vec![(Filter::Description, "Excel".into())],
            ..search()
        };
        let fps = [
            quick.fingerprint(),
            text.fingerprint(),
            filtered.fingerprint(),
        ];
        assert_ne!(fps[0], fps[1]);
        assert_ne!(fps[0], fps[2]);
        assert_ne!(fps[1], fps[2]);
    }

    #[test]
    fn a_sealed_cursor_opens_with_the_same_key_only() {
        let key = CursorKey::from_secret(b"0123456789abcdef");
        let cursor = key.seal(&search(), 4);
        assert!(cursor.starts_with("cur_"));
        let opened = key.open(&cursor).expect("opens");
        assert_eq!((opened.q, opened.off), (search(), 4));
        let other = CursorKey::from_secret(b"fedcba9876543210");
        assert_eq!(other.open(&cursor), Err(CursorError::BadSignature));
    }

    #[test]
    fn an_unset_key_is_derived_from_the_devices_key_the_same_on_every_replica() {
        let devices = "shared-devices-key-0123";
        let one = CursorKey::from_config(None, Some(devices)).expect("derived");
        let two = CursorKey::from_config(None, Some(devices)).expect("derived");
        let cursor = one.seal(&search(), 8);
        assert_eq!(cursor, two.seal(&search(), 8), "replicas sign alike");
        assert_eq!(two.open(&cursor).map(|c| c.off), Ok(8));
        // The derived key is neither the devices key used as documents.id_key nor one
        // derived from another devices key.
        let direct = CursorKey::from_config(Some(devices), None).expect("set");
        assert_eq!(direct.open(&cursor), Err(CursorError::BadSignature));
        let other = CursorKey::from_config(None, Some("another-devices-key-99")).expect("derived");
        assert_eq!(other.open(&cursor), Err(CursorError::BadSignature));
        // documents.id_key, when set, wins over the devices key.
        let set = CursorKey::from_config(Some("documents-own-key-42"), Some(devices)).expect("set");
        assert_eq!(set.open(&cursor), Err(CursorError::BadSignature));
        let set_again = CursorKey::from_config(Some("documents-own-key-42"), None).expect("set");
        assert_eq!(
            set_again.open(&set.seal(&search(), 1)).map(|c| c.off),
            Ok(1)
        );
        assert!(CursorKey::from_config(None, None).is_none());
    }

    #[test]
    fn any_changed_byte_is_refused() {
        let key = CursorKey::from_secret(b"0123456789abcdef");
        let cursor = key.seal(&search(), 4);
        let bytes = URL_SAFE_NO_PAD.decode(&cursor[4..]).expect("base64");
        for i in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[i] ^= 0x01;
            let forged = format!("cur_{}", URL_SAFE_NO_PAD.encode(&changed));
            assert!(key.open(&forged).is_err(), "byte {i}");
        }
        for bad in ["", "cur_", "cur_!!", "xyz", &"cur_A".repeat(600)] {
            assert!(key.open(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_cursor_carries_no_list_and_the_fingerprint_ignores_the_page_size() {
        let key = CursorKey::from_secret(b"0123456789abcdef");
        let cursor = key.seal(&search(), 0);
        let bytes = URL_SAFE_NO_PAD.decode(&cursor[4..]).expect("b64");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("Excel"), "{text}");
        assert!(!text.contains("List_ID") && !text.contains("x2"));
        let mut bigger = search();
        bigger.limit = 50;
        assert_eq!(search().fingerprint(), bigger.fingerprint());
        bigger.sort = "size".into();
        assert_ne!(search().fingerprint(), bigger.fingerprint());
    }
}
