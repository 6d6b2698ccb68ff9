//! `[limits]`: abuse limits on logins and on access-code sends.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Login attempt and code-send limits. Each is "at most N in any window", counted in
/// Redis for the whole fleet when `session.store = "redis"`, else in this process.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Failed login attempts allowed per username from one client IP per minute (0: no
    /// limit). A successful login does not count. Beyond it: 429 for that pair only, so
    /// an attacker elsewhere cannot lock the user out.
    pub login_per_username_per_minute: u32,
    /// Failed login attempts allowed per username from all client IPs together per
    /// minute (0: no limit): the cap on a guessing attack spread over many addresses.
    /// A successful login does not count. At least `login_per_username_per_minute`.
    pub login_per_username_all_ips_per_minute: u32,
    /// Login attempts allowed per client IP per minute, whatever the username and
    /// however they fare (0: no limit). IPv6 clients are counted by their /64.
    pub login_per_ip_per_minute: u32,
    /// Access codes (`POST /me/2fa-devices/verifications`) sent to one address, by any
    /// session, per `code_send_window_secs` (0: no limit).
    pub code_sends_per_address: u32,
    /// Access codes one session may have sent per `code_send_window_secs` (0: no limit).
    pub code_sends_per_session: u32,
    /// Access codes one user may have sent, over all their sessions, per
    /// `code_send_window_secs` (0: no limit).
    pub code_sends_per_user: u32,
    /// The window of the code-send limits, in seconds.
    pub code_send_window_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            login_per_username_per_minute: 10,
            login_per_username_all_ips_per_minute: 50,
            login_per_ip_per_minute: 60,
            code_sends_per_address: 5,
            code_sends_per_session: 10,
            code_sends_per_user: 20,
            code_send_window_secs: 15 * 60,
        }
    }
}

impl LimitsConfig {
    /// Checks ranges; errors name the key.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: key.to_owned(),
                message: message.to_owned(),
            })
        };
        let pair = self.login_per_username_per_minute;
        let all = self.login_per_username_all_ips_per_minute;
        if pair > 0 && all > 0 && all < pair {
            return invalid(
                "limits.login_per_username_all_ips_per_minute",
                "must be at least limits.login_per_username_per_minute (or 0 for no limit)",
            );
        }
        if self.code_send_window_secs == 0 {
            return invalid("limits.code_send_window_secs", "must be above 0");
        }
        if self.code_send_window_secs > 7 * 24 * 60 * 60 {
            return invalid("limits.code_send_window_secs", "must be at most a week");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(config: &LimitsConfig) -> Option<String> {
        match config.validate() {
            Ok(()) => None,
            Err(ConfigError::Invalid { key, .. }) => Some(key),
            Err(other) => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn defaults_are_valid_and_the_all_ips_cap_is_well_above_the_pair_limit() {
        let defaults = LimitsConfig::default();
        assert_eq!(key_of(&defaults), None);
        assert!(
            defaults.login_per_username_all_ips_per_minute
                >= 5 * defaults.login_per_username_per_minute
        );
    }

    #[test]
    fn errors_name_the_key() {
        let below_pair = LimitsConfig {
            login_per_username_per_minute: 10,
            login_per_username_all_ips_per_minute: 9,
            ..LimitsConfig::default()
        };
        assert_eq!(
            key_of(&below_pair).as_deref(),
            Some("limits.login_per_username_all_ips_per_minute")
        );
        let no_window = LimitsConfig {
            code_send_window_secs: 0,
            ..LimitsConfig::default()
        };
        assert_eq!(
            key_of(&no_window).as_deref(),
            Some("limits.code_send_window_secs")
        );
        // 0 turns a limit off, either side of the comparison.
        let off = LimitsConfig {
            login_per_username_per_minute: 0,
            login_per_username_all_ips_per_minute: 0,
            ..LimitsConfig::default()
        };
        assert_eq!(key_of(&off), None);
    }
}
