//! `[upstream]`: the Worldox server, how the gateway talks to it, and how it copes
//! when that server is slow or down.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// `upstream.charset_fallback` names no encoding the Encoding Standard knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownEncoding;

/// The Worldox server.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Base URL (`http://` or `https://`) of the Worldox Web server. Unset: the built-in
    /// simulator is started on loopback (a demo, not for production).
    pub url: Option<String>,
    /// Path of the CGI program on that server.
    pub cgi_path: String,
    /// Longest one upstream call may take, in milliseconds (504 after), unless
    /// `command_timeouts_ms` names its command.
    pub timeout_ms: u64,
    /// Per-command budgets in milliseconds for the commands that legitimately take
    /// longer (a full-text FINDFILES, a DOWNLOAD that copies a large file). A request
    /// still ends at `server.request_timeout_secs`.
    pub command_timeouts_ms: BTreeMap<String, u64>,
    /// Error codes that mean "success, nothing found" (`WDRC_ZERO_PROJECT_CLEAN` and its
    /// family): exact codes, or prefixes ending in `*`.
    #[serde(deserialize_with = "super::list::list_or_csv")]
    pub empty_result_codes: Vec<String>,
    /// How to read an answer that is not valid UTF-8 (some Worldox templates emit
    /// Windows-1252 bytes inside their JSON): an encoding label of the WHATWG Encoding
    /// Standard for the bytes that are not UTF-8 (the UTF-8 runs stay as they are), or
    /// `none` to refuse such answers (502).
    pub charset_fallback: String,
    /// Longest a TCP/TLS connect may take, in milliseconds.
    pub connect_timeout_ms: u64,
    /// PEM file of extra CA certificates trusted for `https://` upstreams, besides the
    /// system roots.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain for upstreams that require mutual TLS.
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of `client_cert_file`.
    pub client_key_file: Option<PathBuf>,
    /// Idle keep-alive connections kept per upstream host.
    pub pool_max_idle: usize,
    /// Seconds an idle pooled connection is kept.
    pub pool_idle_timeout_secs: u64,
    /// Largest upstream answer read, in bytes (502 above).
    pub max_response_bytes: usize,
    /// Upstream calls in flight at once; a call that cannot start within its timeout
    /// answers 503.
    pub max_in_flight: usize,
    /// Extra attempts for a call that failed to connect (any command) or, for reads
    /// (GET), broke off or got a 502/503/504. Writes are never repeated once sent.
    pub retries: u32,
    /// First retry delay in milliseconds; doubles each time, with full jitter.
    pub retry_base_ms: u64,
    /// The circuit breaker watches the outcomes of at most this many latest calls.
    pub breaker_window_calls: usize,
    /// Outcomes older than this many seconds leave the breaker's window.
    pub breaker_window_secs: u64,
    /// The breaker never opens on fewer calls than this in its window.
    pub breaker_min_calls: usize,
    /// The breaker opens when this share (0 to 1) of the calls in its window got no
    /// usable answer (unreachable, timed out, 5xx, not JSON).
    pub breaker_failure_ratio: f64,
    /// Seconds the breaker stays open (calls answer 503 at once) before one probe call
    /// is let through; its success closes the breaker.
    pub breaker_open_secs: u64,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            url: None,
            cgi_path: crate::upstream::fields::CGI_PATH.to_owned(),
            timeout_ms: 10_000,
            command_timeouts_ms: BTreeMap::from(
                [
                    ("FINDFILES", 90_000),
                    ("DOWNLOAD", 120_000),
                    ("VIEWFILE", 30_000),
                    ("NEWFILE", 120_000),
                    ("UPLOAD", 120_000),
                ]
                .map(|(command, ms)| (command.to_owned(), ms)),
            ),
            empty_result_codes: vec![crate::upstream::envelope::EMPTY_RESULTS_DEFAULT.to_owned()],
            charset_fallback: "windows-1252".to_owned(),
            connect_timeout_ms: 3_000,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            pool_max_idle: 64,
            pool_idle_timeout_secs: 60,
            max_response_bytes: 4 * 1024 * 1024,
            max_in_flight: 512,
            retries: 2,
            retry_base_ms: 25,
            breaker_window_calls: 20,
            breaker_window_secs: 60,
            breaker_min_calls: 10,
            breaker_failure_ratio: 0.5,
            breaker_open_secs: 5,
        }
    }
}

impl UpstreamConfig {
    /// The encoding `charset_fallback` names: `None` for `none`, an error for a label
    /// the Encoding Standard does not know.
    pub fn fallback_encoding(
        &self,
    ) -> Result<Option<&'static encoding_rs::Encoding>, UnknownEncoding> {
        let label = self.charset_fallback.trim();
        if label.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        encoding_rs::Encoding::for_label(label.as_bytes())
            .map(Some)
            .ok_or(UnknownEncoding)
    }

    /// Range checks, each naming its key.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: format!("upstream.{key}"),
                message: message.to_owned(),
            })
        };
        if let Some(url) = &self.url {
            match url.parse::<http::Uri>() {
                Ok(uri)
                    if matches!(uri.scheme_str(), Some("http" | "https"))
                        && uri.host().is_some() => {}
                _ => return invalid("url", "must be an http:// or https:// URL"),
            }
            if url.contains('?') || url.contains('#') {
                return invalid("url", "must not carry a query or fragment");
            }
        }
        if !self.cgi_path.starts_with('/') {
            return invalid("cgi_path", "must start with /");
        }
        for (key, value) in [
            ("timeout_ms", self.timeout_ms),
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("breaker_open_secs", self.breaker_open_secs),
        ] {
            if value == 0 {
                return invalid(key, "must be above 0");
            }
        }
        if let Some((command, _)) = self.command_timeouts_ms.iter().find(|(_, ms)| **ms == 0) {
            return invalid(&format!("command_timeouts_ms.{command}"), "must be above 0");
        }
        if self.fallback_encoding().is_err() {
            return invalid(
                "charset_fallback",
                "must be an encoding label such as windows-1252, or none",
            );
        }
        if self.max_response_bytes < 1024 {
            return invalid("max_response_bytes", "must be at least 1024");
        }
        if self.max_in_flight == 0 {
            return invalid("max_in_flight", "must be above 0");
        }
        if self.breaker_window_calls == 0 {
            return invalid("breaker_window_calls", "must be above 0");
        }
        if self.breaker_window_secs == 0 {
            return invalid("breaker_window_secs", "must be above 0");
        }
        if self.breaker_min_calls == 0 || self.breaker_min_calls > self.breaker_window_calls {
            return invalid(
                "breaker_min_calls",
                "must be between 1 and upstream.breaker_window_calls",
            );
        }
        if !(self.breaker_failure_ratio > 0.0 && self.breaker_failure_ratio <= 1.0) {
            return invalid("breaker_failure_ratio", "must be above 0 and at most 1");
        }
        for (key, path) in [
            ("ca_file", &self.ca_file),
            ("client_cert_file", &self.client_cert_file),
            ("client_key_file", &self.client_key_file),
        ] {
            if path.as_ref().is_some_and(|p| !p.is_file()) {
                return invalid(key, "is not a readable file");
            }
        }
        if self.client_cert_file.is_some() != self.client_key_file.is_some() {
            return invalid(
                "client_key_file",
                "client_cert_file and client_key_file go together",
            );
        }
        Ok(())
    }
}
