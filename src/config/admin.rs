//! `[admin]`: the operator's routes (`DELETE /admin/users/{username}/sessions`).

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Hex digits of a SHA-256.
const SHA256_HEX_LEN: usize = 64;

/// Operator access.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// The SHA-256, in hex, of the operator token that the admin routes take as
    /// `Authorization: Bearer TOKEN` (make a token with `openssl rand -base64 32`, then
    /// `printf %s "$TOKEN" | sha256sum`); the token itself is never configured. Unset
    /// (the default), the admin routes do not exist: they answer 404.
    pub operator_token_sha256: Option<String>,
}

impl AdminConfig {
    /// Checks the digest's shape; errors name the key.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(hex) = &self.operator_token_sha256 {
            if hex.len() != SHA256_HEX_LEN || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ConfigError::Invalid {
                    key: "admin.operator_token_sha256".to_owned(),
                    message: "must be a SHA-256 in hex (64 hex digits, as sha256sum prints)"
                        .to_owned(),
                });
            }
        }
        Ok(())
    }

    /// The operator token's digest, when one is configured (and well formed).
    pub fn operator_digest(&self) -> Option<[u8; 32]> {
        let hex = self.operator_token_sha256.as_deref()?;
        if hex.len() != SHA256_HEX_LEN || !hex.is_ascii() {
            return None;
        }
        let mut digest = [0u8; 32];
        for (i, byte) in digest.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_must_be_64_hex_digits() {
        let good = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
        let config = AdminConfig {
            operator_token_sha256: Some(good.to_owned()),
        };
        assert!(config.validate().is_ok());
        let digest = config.operator_digest().expect("digest");
        assert_eq!(digest[0], 0x9f);
        assert_eq!(digest[31], 0x08);
        for bad in [
            "",
            "abc",
            &good[1..],
            &format!("{good}0"),
            &good.replace('9', "g"),
        ] {
            let config = AdminConfig {
                operator_token_sha256: Some(bad.to_owned()),
            };
            assert!(config.validate().is_err(), "{bad:?}");
        }
        assert!(AdminConfig::default().operator_digest().is_none());
    }
}
