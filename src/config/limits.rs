//! `[limits]`: abuse limits on logins.

use serde::{Deserialize, Serialize};

/// Login attempt limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Login attempts allowed per username per minute (0: no limit). Beyond it: 429.
    pub login_per_username_per_minute: u32,
    /// Login attempts allowed per client IP per minute (0: no limit). Beyond it: 429.
    pub login_per_ip_per_minute: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            login_per_username_per_minute: 10,
            login_per_ip_per_minute: 60,
        }
    }
}
