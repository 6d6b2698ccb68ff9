//! `[browser]`: CORS and the session cookie for browser clients.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Browser support.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrowserConfig {
    /// Origins (`https://app.example.com`) allowed to call the API from a browser, with
    /// credentials. Empty: no CORS headers. `*` is refused: credentials need a list.
    #[serde(deserialize_with = "super::list::list_or_csv")]
    pub cors_origins: Vec<String>,
    /// Whether `POST /sessions` also sets an `HttpOnly; Secure` session cookie, and
    /// requests may authenticate with it instead of a bearer token.
    pub cookie_enabled: bool,
    /// The cookie's name.
    pub cookie_name: String,
    /// The cookie's `Domain` (unset: this host only).
    pub cookie_domain: Option<String>,
    /// The cookie's `Path`.
    pub cookie_path: String,
    /// `lax` or `strict`.
    pub cookie_same_site: SameSite,
    /// Whether the cookie is `Secure` (sent over HTTPS only; browsers also send it to
    /// `http://localhost`). Turn off only for local experiments.
    pub cookie_secure: bool,
}

/// The cookie's `SameSite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SameSite {
    /// Sent on top-level navigations from other sites, not on their subrequests.
    Lax,
    /// Never sent from other sites.
    Strict,
}

impl Default for BrowserConfig {
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            cookie_enabled: false,
            cookie_name: "wdgate_session".to_owned(),
            cookie_domain: None,
            cookie_path: "/".to_owned(),
            cookie_same_site: SameSite::Lax,
            cookie_secure: true,
        }
    }
}

impl BrowserConfig {
    /// Checks each origin and cookie attribute, naming the key.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| {
            Err(ConfigError::Invalid {
                key: format!("browser.{key}"),
                message,
            })
        };
        for origin in &self.cors_origins {
            if origin == "*" {
                return invalid(
                    "cors_origins",
                    "\"*\" is not allowed with credentials; list the origins".to_owned(),
                );
            }
            let valid = origin
                .parse::<http::Uri>()
                .ok()
                .filter(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some())
                .is_some_and(|u| u.path() == "/" && !origin.ends_with('/'));
            if !valid {
                return invalid(
                    "cors_origins",
                    format!("{origin:?} is not an origin like https://app.example.com"),
                );
            }
        }
        let token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if self.cookie_name.is_empty() || !self.cookie_name.chars().all(token_char) {
            return invalid("cookie_name", "must be a cookie name token".to_owned());
        }
        if !self.cookie_path.starts_with('/') || self.cookie_path.contains(';') {
            return invalid("cookie_path", "must start with / and hold no ;".to_owned());
        }
        if self
            .cookie_domain
            .as_ref()
            .is_some_and(|d| d.is_empty() || d.contains(';') || d.contains(' '))
        {
            return invalid("cookie_domain", "must be a domain name".to_owned());
        }
        Ok(())
    }
}
