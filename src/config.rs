//! Typed configuration: defaults, then `config/wdgate.toml`, then `WDGATE_…` environment
//! variables, then command-line flags; `validate()` last.
//!
//! Environment variables are read through [`EnvSource`] so tests pass a map instead of
//! touching the process environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use self::admin::AdminConfig;
pub use self::browser::{BrowserConfig, SameSite};
pub use self::documents::{DocumentsConfig, SkipBase, SortKeys};
pub use self::limits::LimitsConfig;
pub use self::passthrough::PassthroughConfig;
pub use self::server::{ServerConfig, TlsConfig};
pub use self::session::{EncryptionKey, SessionConfig, StoreKind};
pub use self::upstream::UpstreamConfig;
use crate::sim::SimConfig;

mod admin;
mod browser;
mod documents;
mod limits;
mod list;
mod passthrough;
mod server;
mod session;
mod upstream;
use crate::upstream::status::StatusTable;

/// The file read when no `--config` is given and it exists.
pub const DEFAULT_CONFIG_PATH: &str = "config/wdgate.toml";

/// The prefix of environment variables that set config keys.
pub const ENV_PREFIX: &str = "WDGATE_";

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The REST listener.
    pub server: ServerConfig,
    /// The Worldox server.
    pub upstream: UpstreamConfig,
    /// Gateway sessions.
    pub session: SessionConfig,
    /// Two-factor devices.
    pub devices: DevicesConfig,
    /// Documents and cabinets.
    pub documents: DocumentsConfig,
    /// Abuse limits.
    pub limits: LimitsConfig,
    /// CORS and the session cookie for browsers.
    pub browser: BrowserConfig,
    /// The `/wd/{COMMAND}` passthrough of allow-listed Worldox commands.
    pub passthrough: PassthroughConfig,
    /// The operator's routes.
    pub admin: AdminConfig,
    /// Logging.
    pub log: LogConfig,
    /// Extra or overriding entries of the upstream-code → HTTP-status table.
    pub status_map: BTreeMap<String, u16>,
    /// The built-in simulator, used when `upstream.url` is unset and by `wdgate sim`.
    pub sim: SimConfig,
}

/// Two-factor devices.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevicesConfig {
    /// Secret that keys device ids. Set it (the same on every replica) for ids that
    /// survive restarts; unset, a random key lives as long as the process.
    pub id_key: Option<String>,
    /// Seconds a session's device listing is cached; 0 turns the cache off.
    pub cache_ttl_secs: u64,
    /// Seconds a `verification_id` (and the access code behind it) stays usable.
    pub verification_ttl_secs: u64,
    /// Wrong codes a verification takes before it is spent (counted across replicas
    /// with the Redis store); a right code uses it up.
    pub verification_attempts: u32,
}

impl Default for DevicesConfig {
    fn default() -> Self {
        Self {
            id_key: None,
            cache_ttl_secs: 60,
            verification_ttl_secs: 600,
            verification_attempts: 5,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `pretty` for people, `json` for log shippers.
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `wdgate=debug,info`. `RUST_LOG` wins when set.
    pub level: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info".to_owned(),
        }
    }
}

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file (or the merged settings) do not parse.
    #[error("{origin}: {message}")]
    Parse {
        /// Where the bad text came from.
        origin: String,
        /// The parser's message, naming the key.
        message: String,
    },
    /// An environment variable names no setting.
    #[error("{0}: no such setting (expected {ENV_PREFIX}SECTION_KEY, e.g. WDGATE_UPSTREAM_URL)")]
    UnknownEnv(String),
    /// A value is out of range.
    #[error("{key}: {message}")]
    Invalid {
        /// The dotted key, e.g. `session.idle_timeout_secs`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Where environment variables come from; tests implement it with a map.
pub trait EnvSource {
    /// Every variable as `(name, value)`.
    fn vars(&self) -> Vec<(String, String)>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn vars(&self) -> Vec<(String, String)> {
        std::env::vars().collect()
    }
}

impl EnvSource for BTreeMap<String, String> {
    fn vars(&self) -> Vec<(String, String)> {
        self.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// Short environment names for the settings people set most.
const ENV_ALIASES: &[(&str, &str, &str)] = &[("LISTEN", "server", "listen")];

/// Variables with the prefix that are not settings (read by other parts of the program).
const ENV_IGNORED: &[&str] = &["CONFIG"];

impl Config {
    /// Loads the file (explicit `path`, else [`DEFAULT_CONFIG_PATH`] if it exists), then
    /// applies `env`, then validates.
    pub fn load(path: Option<&Path>, env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let (text, origin) = match path {
            Some(path) => (read(path)?, path.display().to_string()),
            None if Path::new(DEFAULT_CONFIG_PATH).is_file() => (
                read(Path::new(DEFAULT_CONFIG_PATH))?,
                DEFAULT_CONFIG_PATH.to_owned(),
            ),
            None => (String::new(), "defaults".to_owned()),
        };
        Self::from_toml(&text, &origin, env)
    }

    /// Parses TOML text, applies `env` and validates.
    pub fn from_toml(text: &str, origin: &str, env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let mut table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    origin: origin.to_owned(),
                    message: e.message().to_owned() + &span_hint(text, e.span()),
                })?;
        apply_env(&mut table, env)?;
        let config: Config =
            serde_path_to_error::deserialize(table).map_err(|e| ConfigError::Parse {
                origin: format!("{origin} + {ENV_PREFIX}* environment"),
                message: format!("{}: {}", e.path(), e.inner().message()),
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges and cross-field rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: key.to_owned(),
                message: message.to_owned(),
            })
        };
        self.upstream.validate()?;
        self.server.validate()?;
        self.browser.validate()?;
        self.session.validate()?;
        self.limits.validate()?;
        if self.session.store == StoreKind::Redis && self.devices.id_key.is_none() {
            // Replicas share listings, so they must name devices alike.
            return invalid(
                "devices.id_key",
                "must be set, the same on every replica, when session.store = \"redis\"",
            );
        }
        if self.devices.verification_ttl_secs == 0 {
            return invalid("devices.verification_ttl_secs", "must be above 0");
        }
        if !(1..=100).contains(&self.devices.verification_attempts) {
            return invalid("devices.verification_attempts", "must be between 1 and 100");
        }
        if self.devices.id_key.as_ref().is_some_and(|k| k.len() < 16) {
            return invalid("devices.id_key", "must be at least 16 characters");
        }
        self.passthrough.validate()?;
        self.admin.validate()?;
        self.documents.validate()?;
        if self.sim.skip_base > 1 {
            return invalid("sim.skip_base", "must be 0 or 1");
        }
        if self.sim.capacity > 100_000 {
            return invalid("sim.capacity", "must be at most 100000 (0: unlimited)");
        }
        if self.sim.call_ms > 60_000 {
            return invalid("sim.call_ms", "must be at most 60000");
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return invalid("log.level", &e.to_string());
        }
        if let Err(e) = StatusTable::new(&self.status_map) {
            return invalid(
                &format!("status_map.{}", e.code),
                "must be an HTTP error status (400-599)",
            );
        }
        Ok(())
    }

    /// The effective config as TOML, with secrets (URL credentials) redacted.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        if let Some(url) = &mut shown.upstream.url {
            *url = redact_url_credentials(url);
        }
        shown.session.redis_url = shown.session.redacted_redis_url();
        for key in &mut shown.session.encryption_keys {
            *key = key.redacted();
        }
        if let Some(key) = &mut shown.devices.id_key {
            *key = "<redacted>".to_owned();
        }
        if let Some(key) = &mut shown.documents.id_key {
            *key = "<redacted>".to_owned();
        }
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

fn span_hint(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|s| {
        format!(
            " (line {})",
            text[..s.start.min(text.len())].lines().count().max(1)
        )
    })
    .unwrap_or_default()
}

/// Sets `section.key` from each `WDGATE_SECTION_KEY` variable. Values that parse as a
/// TOML number or boolean are taken as such, everything else as a string.
fn apply_env(table: &mut toml::Table, env: &dyn EnvSource) -> Result<(), ConfigError> {
    let sections = [
        "server",
        "upstream",
        "session",
        "devices",
        "documents",
        "limits",
        "browser",
        "log",
        "passthrough",
        "admin",
        "status_map",
        "sim",
    ];
    for (name, value) in env.vars() {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if ENV_IGNORED.contains(&rest) {
            continue;
        }
        let (section, key) =
            if let Some((_, s, k)) = ENV_ALIASES.iter().find(|(a, _, _)| *a == rest) {
                ((*s).to_owned(), (*k).to_owned())
            } else {
                let lower = rest.to_ascii_lowercase();
                let Some(section) = sections
                    .iter()
                    .find(|s| lower.starts_with(&format!("{s}_")))
                else {
                    return Err(ConfigError::UnknownEnv(name));
                };
                let key = &rest[section.len() + 1..];
                // status_map keys are upstream codes, kept as written.
                let key = if *section == "status_map" {
                    key.to_owned()
                } else {
                    key.to_ascii_lowercase()
                };
                ((*section).to_owned(), key)
            };
        let entry = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(section_table) = entry.as_table_mut() else {
            return Err(ConfigError::Invalid {
                key: section,
                message: "is not a table".to_owned(),
            });
        };
        section_table.insert(key, env_value(&value));
    }
    Ok(())
}

fn env_value(raw: &str) -> toml::Value {
    if let Ok(n) = raw.parse::<i64>() {
        return toml::Value::Integer(n);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_owned()),
    }
}

/// `https://user:pass@host/` → `https://***@host/`.
pub fn redact_url_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests;
