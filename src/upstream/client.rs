//! The HTTP client to the Worldox server: pooled connections, rustls for `https://`,
//! a timeout per call, a cap on answer size, and envelope parsing.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::cgi::Params;
use super::envelope::{Envelope, ShapeError, UpstreamError};
use crate::config::UpstreamConfig;

/// One upstream call: a command, its query parameters and (for POST) its form body.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// The command, e.g. `2FGET`.
    pub command: &'a str,
    /// GET or POST.
    pub method: Method,
    /// Parameters after the command in the query string.
    pub query: Params,
    /// Form-encoded body parameters (POST only).
    pub form: Params,
}

/// Why an upstream call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The server answered, and the answer reports an error.
    #[error("upstream error {}", .0.rctx)]
    Rejected(UpstreamError),
    /// No answer within the per-call timeout (504).
    #[error("the upstream did not answer within {0:?}")]
    Timeout(Duration),
    /// Connection refused, reset, TLS failure (502).
    #[error("the upstream is unreachable: {0}")]
    Unreachable(String),
    /// The server answered with a status other than 200 (502).
    #[error("the upstream answered HTTP {0}")]
    HttpStatus(u16),
    /// The answer is bigger than `upstream.max_response_bytes` (502).
    #[error("the upstream answer is larger than {0} bytes")]
    TooLarge(usize),
    /// The answer is not a Worldox envelope (502).
    #[error(transparent)]
    Shape(#[from] ShapeError),
}

/// A client configuration that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The CA file does not hold usable PEM certificates.
    #[error("upstream.ca_file {path}: {message}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// No upstream URL.
    #[error("upstream.url is not set")]
    NoUrl,
    /// rustls refused the TLS settings.
    #[error("upstream TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// The pooled client, cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    endpoint: Arc<str>,
    timeout: Duration,
    max_response_bytes: usize,
}

impl Client {
    /// Builds the client from config; `upstream.url` must be set.
    pub fn new(config: &UpstreamConfig) -> Result<Self, BuildError> {
        let url = config.url.as_deref().ok_or(BuildError::NoUrl)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_millis(config.connect_timeout_ms)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(config)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(config.pool_idle_timeout_secs))
            .pool_max_idle_per_host(config.pool_max_idle)
            .build(https);
        Ok(Self {
            http,
            endpoint: format!("{}{}", url.trim_end_matches('/'), config.cgi_path).into(),
            timeout: Duration::from_millis(config.timeout_ms),
            max_response_bytes: config.max_response_bytes,
        })
    }

    /// Sends a call and parses the answer. An answer that reports an error is
    /// `Err(Error::Rejected)`.
    pub async fn call(&self, call: &Call<'_>) -> Result<Envelope, Error> {
        let body = self.fetch(call).await?;
        let envelope = Envelope::parse(&body)?;
        match envelope.first_error() {
            Some(error) => Err(Error::Rejected(error.clone())),
            None => Ok(envelope),
        }
    }

    /// Sends a call and returns the raw body of a 200 answer.
    pub(super) async fn fetch(&self, call: &Call<'_>) -> Result<Bytes, Error> {
        let uri = format!("{}?{}", self.endpoint, call.query.to_query(call.command));
        let mut request = Request::builder()
            .method(call.method.clone())
            .uri(uri)
            .header(header::ACCEPT, "application/json");
        let body = if call.method == Method::POST {
            request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Full::new(Bytes::from(call.form.to_form()))
        } else {
            Full::new(Bytes::new())
        };
        let request = request
            .body(body)
            .map_err(|e| Error::Unreachable(format!("cannot build the request: {e}")))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| Error::Unreachable(describe(&e)))?;
            if response.status() != http::StatusCode::OK {
                return Err(Error::HttpStatus(response.status().as_u16()));
            }
            let limited = Limited::new(response.into_body(), self.max_response_bytes);
            match limited.collect().await {
                Ok(collected) => Ok(collected.to_bytes()),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    Err(Error::TooLarge(self.max_response_bytes))
                }
                Err(e) => Err(Error::Unreachable(format!("the answer broke off: {e}"))),
            }
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| Error::Timeout(self.timeout))?
    }

    /// Whether the upstream answers at all: any HTTP answer from the CGI URL within
    /// the per-call timeout counts (for readiness; no command is run).
    pub async fn probe(&self) -> Result<(), Error> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(&*self.endpoint)
            .body(Full::new(Bytes::new()))
            .map_err(|e| Error::Unreachable(format!("cannot build the request: {e}")))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| Error::Unreachable(describe(&e)))?;
            // Read (a bounded part of) the answer so the connection can be reused.
            let _ = Limited::new(response.into_body(), self.max_response_bytes)
                .collect()
                .await;
            Ok(())
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| Error::Timeout(self.timeout))?
    }

    /// The endpoint URL (no query, so no secrets), for logs and readiness.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

/// The error and its causes on one line. hyper's errors name no URL, so no SID.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn tls_config(config: &UpstreamConfig) -> Result<rustls::ClientConfig, BuildError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A system root rustls cannot parse is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    if let Some(path) = &config.ca_file {
        let ca_error = |message: String| BuildError::CaFile {
            path: path.display().to_string(),
            message,
        };
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| ca_error(e.to_string()))?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| ca_error(e.to_string()))?;
            roots.add(cert).map_err(|e| ca_error(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(ca_error("holds no PEM certificate".to_owned()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
