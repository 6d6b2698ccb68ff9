//! `[server]`: the REST listener, its TLS, and the limits that protect it.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The REST listener.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes (413 above).
    pub body_limit_bytes: usize,
    /// Largest request head (request line and headers) accepted, in bytes (431 above).
    pub max_header_bytes: usize,
    /// Longest a request may take end to end, in seconds (504 after).
    pub request_timeout_secs: u64,
    /// Longest a client may take to send a request's headers, in seconds; slower
    /// connections are closed (slow-loris defence). For a new connection it runs from
    /// accept, through the TLS handshake and the HTTP/2 preface, to the first request;
    /// for each later request of an HTTP/1.1 connection, from the head's first byte
    /// (waiting for the next request is `idle_timeout_secs`'s).
    pub header_read_timeout_secs: u64,
    /// A connection with no request in flight for this many seconds is closed
    /// (gracefully), whatever HTTP/2 PINGs or other frames it sends; one with a
    /// request in flight is closed when no byte moves either way for this long.
    pub idle_timeout_secs: u64,
    /// Requests handled at once; beyond it new requests get 503 + `Retry-After` at
    /// once instead of queueing.
    pub max_concurrent_requests: usize,
    /// Requests in flight from one client IP (an IPv6 client's /64; the IP as
    /// `trusted_proxies` lets `X-Forwarded-For` tell it); beyond it that client alone
    /// gets 429 + `Retry-After`. Probes and `/metrics` are not counted. Unset: an eighth
    /// of `max_concurrent_requests` (at least 1); equal to it: no per-IP cap.
    pub max_concurrent_requests_per_ip: Option<usize>,
    /// Longest a request's body may take to arrive, in seconds from the request's
    /// start; a slower body gets 408 and its HTTP/1 connection is closed.
    pub body_read_timeout_secs: u64,
    /// On SIGTERM/SIGINT, seconds given to requests in flight before the process exits.
    pub shutdown_grace_secs: u64,
    /// Tokio worker threads serving requests; 0: one per CPU the process may use. One
    /// means tokio's single-threaded scheduler.
    pub worker_threads: usize,
    /// Peers (IPs or CIDRs) whose `X-Forwarded-For` is believed for the client IP.
    #[serde(deserialize_with = "super::list::list_or_csv")]
    pub trusted_proxies: Vec<String>,
    /// Connections open at once. At the cap, the connection idle longest (no request in
    /// flight) is closed gracefully to make room; when none is idle the new connection
    /// is closed at once. Keep it below the process's file descriptor limit.
    pub max_connections: usize,
    /// HTTP/2 streams (requests) one connection may have open at once.
    pub http2_max_concurrent_streams: u32,
    /// On SIGTERM/SIGINT, seconds `/readyz` answers 503 while everything else is still
    /// served, so a load balancer stops sending traffic before the listener closes
    /// (a second signal skips the rest of it); then `shutdown_grace_secs` apply.
    pub shutdown_delay_secs: u64,
    /// `/readyz` answers from the last check of the store and the upstream for this
    /// many seconds; one check at a time refreshes it.
    pub readiness_interval_secs: u64,
    /// A folder served as static files under `/ui/` (the self-service page,
    /// `examples/web`); unset: no `/ui/` route. `wdgate serve --ui DIR` sets it.
    pub ui_dir: Option<PathBuf>,
    /// TLS on the listener; absent: plain HTTP (behind a TLS-terminating proxy).
    pub tls: Option<TlsConfig>,
}

/// TLS on the listener (rustls; HTTP/1.1 and HTTP/2 by ALPN).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// Seconds between checks of the files for changes (0: only on SIGHUP). A changed
    /// pair is loaded for new connections; open connections keep theirs.
    #[serde(default = "default_reload_interval")]
    pub reload_interval_secs: u64,
}

fn default_reload_interval() -> u64 {
    10
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit_bytes: 16 * 1024,
            max_header_bytes: 16 * 1024,
            request_timeout_secs: 30,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_concurrent_requests: 1024,
            max_concurrent_requests_per_ip: None,
            body_read_timeout_secs: 10,
            shutdown_grace_secs: 30,
            worker_threads: 0,
            trusted_proxies: Vec::new(),
            max_connections: 4096,
            http2_max_concurrent_streams: 100,
            shutdown_delay_secs: 0,
            readiness_interval_secs: 2,
            ui_dir: None,
            tls: None,
        }
    }
}

impl ServerConfig {
    /// Range checks, each naming its key.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: format!("server.{key}"),
                message: message.to_owned(),
            })
        };
        if self.body_limit_bytes < 256 {
            return invalid("body_limit_bytes", "must be at least 256");
        }
        if self.max_header_bytes < 8192 {
            return invalid("max_header_bytes", "must be at least 8192");
        }
        for (key, value) in [
            ("request_timeout_secs", self.request_timeout_secs),
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("body_read_timeout_secs", self.body_read_timeout_secs),
        ] {
            if value == 0 {
                return invalid(key, "must be above 0");
            }
        }
        if self.max_concurrent_requests == 0 {
            return invalid("max_concurrent_requests", "must be above 0");
        }
        if self.max_connections == 0 {
            return invalid("max_connections", "must be above 0");
        }
        if self.http2_max_concurrent_streams == 0 {
            return invalid("http2_max_concurrent_streams", "must be above 0");
        }
        if self.readiness_interval_secs == 0 {
            return invalid("readiness_interval_secs", "must be above 0");
        }
        match self.max_concurrent_requests_per_ip {
            Some(0) => return invalid("max_concurrent_requests_per_ip", "must be above 0"),
            Some(n) if n > self.max_concurrent_requests => {
                return invalid(
                    "max_concurrent_requests_per_ip",
                    "must not be above server.max_concurrent_requests",
                );
            }
            _ => {}
        }
        if let Some(bad) = self.trusted_proxies.iter().find(|p| parse_net(p).is_none()) {
            return invalid(
                "trusted_proxies",
                &format!("{bad:?} is not an IP address or CIDR"),
            );
        }
        if self.ui_dir.as_ref().is_some_and(|dir| !dir.is_dir()) {
            return invalid("ui_dir", "is not a readable directory");
        }
        if let Some(tls) = &self.tls {
            for (key, path) in [
                ("tls.cert_file", &tls.cert_file),
                ("tls.key_file", &tls.key_file),
            ] {
                if !path.is_file() {
                    return invalid(key, "is not a readable file");
                }
            }
        }
        Ok(())
    }

    /// The per-client-IP cap in force: the configured one, or an eighth of
    /// `max_concurrent_requests` (at least 1).
    pub fn per_ip_limit(&self) -> usize {
        self.max_concurrent_requests_per_ip
            .unwrap_or((self.max_concurrent_requests / 8).max(1))
    }

    /// The trusted proxy networks.
    pub fn trusted_networks(&self) -> Vec<ipnet::IpNet> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| parse_net(p))
            .collect()
    }
}

/// `10.0.0.0/8` or a bare address (a /32 or /128).
fn parse_net(text: &str) -> Option<ipnet::IpNet> {
    text.parse()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
}

#[cfg(test)]
mod per_ip_tests {
    use super::*;

    #[test]
    fn the_per_ip_cap_defaults_to_an_eighth_and_may_not_pass_the_global_one() {
        let mut config = ServerConfig::default();
        assert_eq!(config.per_ip_limit(), 128);
        config.max_concurrent_requests = 4;
        assert_eq!(config.per_ip_limit(), 1, "at least 1");
        config.max_concurrent_requests_per_ip = Some(5);
        let error = config
            .validate()
            .expect_err("above the global cap")
            .to_string();
        assert!(
            error.contains("server.max_concurrent_requests_per_ip"),
            "{error}"
        );
        config.max_concurrent_requests_per_ip = Some(0);
        assert!(config.validate().is_err());
        config.max_concurrent_requests_per_ip = Some(4);
        assert!(config.validate().is_ok(), "equal: no per-IP cap");
        config.body_read_timeout_secs = 0;
        let error = config.validate().expect_err("zero").to_string();
        assert!(error.contains("server.body_read_timeout_secs"), "{error}");
    }
}
