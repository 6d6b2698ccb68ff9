//! Session ids: what a user names one of their sessions by in `/me/sessions/{id}`.
//! Random (`ses_` + 16 bytes in base64url), drawn at login, unrelated to the token.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::token::RngError;

/// The prefix every session id carries.
pub const SESSION_ID_PREFIX: &str = "ses_";

/// Random bytes in a session id.
const ID_BYTES: usize = 16;

/// A session's opaque id. Not a secret: knowing one gives nothing, since ending a
/// session by id needs that user's own token (or the operator's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// A new id from the OS RNG.
    pub fn generate() -> Result<Self, RngError> {
        let mut bytes = [0u8; ID_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| RngError::new(&e))?;
        Ok(Self(format!(
            "{SESSION_ID_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(bytes)
        )))
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a real id (records from before ids existed have none).
    pub fn is_set(&self) -> bool {
        !self.0.is_empty()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Token;

    #[test]
    fn ids_are_prefixed_unique_and_unrelated_to_tokens() {
        let a = SessionId::generate().expect("rng");
        let b = SessionId::generate().expect("rng");
        assert!(a.as_str().starts_with(SESSION_ID_PREFIX));
        assert_eq!(a.as_str().len(), SESSION_ID_PREFIX.len() + 22);
        assert_ne!(a, b);
        assert!(a.is_set());
        assert!(!SessionId::default().is_set());
        let token = Token::generate().expect("rng");
        assert!(!token.as_str().contains(&a.as_str()[4..]));
        assert!(!token.hash().to_hex().contains(&a.as_str()[4..]));
    }
}
