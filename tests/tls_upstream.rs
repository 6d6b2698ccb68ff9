//! An `https://` upstream: trusted through `upstream.ca_file`, refused without it.

mod common;

use std::sync::Arc;

use axum::serve::Listener;
use common::{Gateway, Sim};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::server::TlsStream;

/// A TLS listener for `axum::serve`; failed handshakes are skipped.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A CA (as PEM) and a `localhost` server config signed by it.
fn test_pki() -> (String, tokio_rustls::rustls::ServerConfig) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "wdgate test CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf_params = CertificateParams::new(vec!["localhost".to_owned()]).expect("leaf params");
    let leaf = leaf_params
        .signed_by(&leaf_key, &issuer)
        .expect("leaf cert");
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let server = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .expect("server config");
    (ca_cert.pem(), server)
}

async fn https_sim(sim: &Sim, server: tokio_rustls::rustls::ServerConfig) -> String {
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = tcp.local_addr().expect("addr").port();
    let listener = TlsListener {
        tcp,
        acceptor: TlsAcceptor::from(Arc::new(server)),
    };
    let router = sim.sim.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("https://localhost:{port}")
}

#[tokio::test]
async fn an_https_upstream_signed_by_the_configured_ca_works() {
    let sim = Sim::start().await;
    let (ca_pem, server) = test_pki();
    let url = https_sim(&sim, server).await;
    let ca_file = std::env::temp_dir().join(format!("wdgate-test-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, ca_pem).expect("write CA");
    let ca_path = ca_file.to_string_lossy().into_owned();

    let gw = Gateway::start(&url, &[("WDGATE_UPSTREAM_CA_FILE", &ca_path)]);
    let r = gw.login_attempt("demo", "demo").await;
    assert_eq!(r.status, 201, "{}", r.text);

    // Without the CA the certificate is not trusted: a clear 502, not a success.
    let untrusting = Gateway::start(&url, &[]);
    let r = untrusting.login_attempt("demo", "demo").await;
    r.assert_problem(502, "upstream_unreachable");
    let _ = std::fs::remove_file(&ca_file);
}

#[tokio::test]
async fn an_upstream_that_requires_a_client_certificate_gets_the_configured_one() {
    let sim = Sim::start().await;
    // One CA signs the server's certificate and the gateway's client certificate.
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().expect("key");
    let server_cert = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&server_key, &issuer)
        .expect("server cert");
    let client_key = KeyPair::generate().expect("key");
    let client_cert = CertificateParams::new(vec!["wdgate".to_owned()])
        .expect("params")
        .signed_by(&client_key, &issuer)
        .expect("client cert");

    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_cert.der().to_vec()))
        .expect("root");
    let verifier = tokio_rustls::rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("verifier");
    let server = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(server_cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .expect("server config");
    let url = https_sim(&sim, server).await;

    let dir = std::env::temp_dir().join(format!("wdgate-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path.to_string_lossy().into_owned()
    };
    let ca = write("ca.pem", ca_cert.pem());
    let cert = write("client.pem", client_cert.pem());
    let key = write("client.key", client_key.serialize_pem());

    let with_cert = Gateway::start(
        &url,
        &[
            ("WDGATE_UPSTREAM_CA_FILE", &ca),
            ("WDGATE_UPSTREAM_CLIENT_CERT_FILE", &cert),
            ("WDGATE_UPSTREAM_CLIENT_KEY_FILE", &key),
        ],
    );
    let r = with_cert.login_attempt("demo", "demo").await;
    assert_eq!(r.status, 201, "{}", r.text);

    let without = Gateway::start(&url, &[("WDGATE_UPSTREAM_CA_FILE", &ca)]);
    let r = without.login_attempt("demo", "demo").await;
    assert_eq!(
        r.status, 502,
        "the server refuses a client without a certificate: {}",
        r.text
    );
    let _ = std::fs::remove_dir_all(&dir);
}
