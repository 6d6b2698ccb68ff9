//! `[passthrough]`: which Worldox commands `GET|POST /wd/{COMMAND}` may send.

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::upstream::fields::command;

/// The authenticated passthrough of allow-listed Worldox commands.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PassthroughConfig {
    /// Whether `/wd/{COMMAND}` passes anything through; off, every command gets 403.
    pub enabled: bool,
    /// The commands allowed, uppercase (`A-Z`, `0-9`, `_`). A TOML list, or in the
    /// environment a comma-separated string. LOGON, LOGOFF, 2FGET and 2FSET can never
    /// be allowed. Default: the document commands of the Worldox reference.
    #[serde(deserialize_with = "super::list::list_or_csv")]
    pub allow: Vec<String>,
}

impl Default for PassthroughConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allow: command::DOCUMENT.iter().map(|&c| c.to_owned()).collect(),
        }
    }
}

impl PassthroughConfig {
    /// Whether `command` (already uppercase) may be passed through.
    pub fn allows(&self, command: &str) -> bool {
        self.enabled
            && !command::NEVER_PASSED_THROUGH.contains(&command)
            && self.allow.iter().any(|c| c == command)
    }

    /// Refuses names that are not command names and the commands the gateway owns.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            key: "passthrough.allow".to_owned(),
            message,
        };
        for name in &self.allow {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(invalid(format!(
                    "{name:?} is not a command name (uppercase A-Z, 0-9 and _ only)"
                )));
            }
            if command::NEVER_PASSED_THROUGH.contains(&name.as_str()) {
                return Err(invalid(format!(
                    "{name} can never be passed through (LOGON, LOGOFF, 2FGET and 2FSET \
                     are the gateway's own routes)"
                )));
            }
        }
        Ok(())
    }
}
