//! The Worldox session ID, an opaque secret.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A raw Worldox SID (with its `$2F`-style escapes, after one URL decoding).
///
/// It has no `Display`, and its `Debug` is redacted, so it cannot slip into a log
/// line or a response by formatting.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sid(String);

impl Sid {
    /// Wraps a raw SID.
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The raw value, for building an upstream call.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sid(<redacted>)")
    }
}
