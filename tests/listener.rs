//! The listener: TLS with HTTP/2 by ALPN and live certificate reloads, slow and idle
//! clients cut off, oversized headers refused, graceful shutdown.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{DEADLINE, Gateway, Sim, healthz_on};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

struct Pki {
    ca_pem: String,
    ca_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "wdgate test CA");
        let cert = params.self_signed(&key).expect("CA");
        Self {
            ca_pem: cert.pem(),
            ca_der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Writes a new `localhost` certificate and key; returns the certificate's DER.
    fn issue(&self, dir: &std::path::Path) -> Vec<u8> {
        let key = KeyPair::generate().expect("key");
        let cert = CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .signed_by(&key, &self.issuer)
            .expect("leaf");
        std::fs::write(dir.join("cert.pem"), cert.pem()).expect("write cert");
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("write key");
        cert.der().to_vec()
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wdgate-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    dir
}

fn tls_gateway(sim: &Sim, dir: &std::path::Path) -> Gateway {
    let config = dir.join("wdgate.toml");
    let text = format!(
        "[server.tls]\ncert_file = {:?}\nkey_file = {:?}\nreload_interval_secs = 0\n",
        dir.join("cert.pem"),
        dir.join("key.pem")
    );
    std::fs::write(&config, text).expect("config");
    let config = config.to_string_lossy().into_owned();
    Gateway::start_with_args(&["--config", &config, "--upstream", &sim.url()], &[])
}

/// Connects with TLS (ALPN http/1.1) and returns the stream and the server's leaf DER.
async fn tls_connect(
    port: u16,
    ca_der: &[u8],
) -> (tokio_rustls::client::TlsStream<TcpStream>, Vec<u8>) {
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_der.to_vec()))
        .expect("root");
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("handshake");
    let leaf = stream.get_ref().1.peer_certificates().expect("certs")[0].to_vec();
    (stream, leaf)
}

#[tokio::test]
async fn tls_serves_http2_and_http1_and_reloads_certificates_without_dropping_connections() {
    let sim = Sim::start().await;
    let dir = temp_dir("tls");
    let pki = Pki::new();
    let first = pki.issue(&dir);
    let gw = tls_gateway(&sim, &dir);
    let port = gw.addr.port();

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).expect("pem"))
        .timeout(DEADLINE)
        .build()
        .expect("client");
    let url = format!("https://localhost:{port}/sessions");
    let r = client
        .post(&url)
        .json(&json!({"username": "demo", "password": "demo"}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.version(), reqwest::Version::HTTP_2, "ALPN picks HTTP/2");
    assert_eq!(r.status(), 201);

    let (mut open, served) = tls_connect(port, &pki.ca_der).await;
    assert_eq!(served, first);
    assert!(
        healthz_on(&mut open).await.contains("200"),
        "HTTP/1.1 over TLS"
    );

    let second = pki.issue(&dir);
    gw.signal("HUP");
    gw.wait_for_log("TLS certificate reloaded").await;
    let (_, served) = tls_connect(port, &pki.ca_der).await;
    assert_eq!(served, second, "new connections get the new certificate");
    assert!(
        healthz_on(&mut open).await.contains("200"),
        "the open connection lives on"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_bad_certificate_file_is_a_clear_start_up_error() {
    let dir = temp_dir("badtls");
    std::fs::write(dir.join("cert.pem"), "not a certificate").expect("write");
    std::fs::write(dir.join("key.pem"), "not a key").expect("write");
    let config = dir.join("wdgate.toml");
    std::fs::write(
        &config,
        format!(
            "[server.tls]\ncert_file = {:?}\nkey_file = {:?}\n",
            dir.join("cert.pem"),
            dir.join("key.pem")
        ),
    )
    .expect("config");
    // An address this test holds: if the gateway bound before reading the TLS pair,
    // the error would name the address instead.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wdgate"))
        .args([
            "--config",
            &config.to_string_lossy(),
            "serve",
            "--listen",
            &addr,
            "--upstream",
            "http://127.0.0.1:9",
        ])
        .current_dir(&dir)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("server.tls: cert_file"),
        "names the certificate: {stderr}"
    );
    assert!(
        !stderr.contains("cannot listen"),
        "the TLS pair is read before any port is bound: {stderr}"
    );
    drop(taken);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_tls_handshake_never_finished_is_cut_at_the_header_timeout() {
    let sim = Sim::start().await;
    let dir = temp_dir("tls-silent");
    Pki::new().issue(&dir);
    let config = dir.join("wdgate.toml");
    let text = format!(
        "[server]\nheader_read_timeout_secs = 1\nidle_timeout_secs = 600\n\
         [server.tls]\ncert_file = {:?}\nkey_file = {:?}\nreload_interval_secs = 0\n",
        dir.join("cert.pem"),
        dir.join("key.pem")
    );
    std::fs::write(&config, text).expect("config");
    let config = config.to_string_lossy().into_owned();
    let gw = Gateway::start_with_args(&["--config", &config, "--upstream", &sim.url()], &[]);
    // The start of a TLS record (a handshake record, TLS 1.0 framing, 512 bytes
    // announced) and then nothing: the handshake never finishes.
    let mut stream = TcpStream::connect(gw.addr).await.expect("connect");
    stream
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .expect("write");
    let took = closed_within(stream).await;
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");
    gw.wait_for_log("TLS handshake not done within the header timeout")
        .await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until the server closes `stream`; returns how long that took.
async fn closed_within(mut stream: TcpStream) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(DEADLINE, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("the server kept the connection open"),
        }
    }
}

#[tokio::test]
async fn a_slow_loris_client_is_cut_off() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[("WDGATE_SERVER_HEADER_READ_TIMEOUT_SECS", "1")],
    );
    let mut stream = TcpStream::connect(gw.addr).await.expect("connect");
    // Half a request head, and then nothing more.
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .expect("write");
    let took = closed_within(stream).await;
    assert!(took < Duration::from_secs(10), "closed after {took:?}");
}

#[tokio::test]
async fn a_kept_alive_connection_waits_for_its_next_request_past_the_header_timeout() {
    let (_sim, _gw, mut stream) = after_one_request(&[
        ("WDGATE_SERVER_HEADER_READ_TIMEOUT_SECS", "1"),
        ("WDGATE_SERVER_IDLE_TIMEOUT_SECS", "60"),
    ])
    .await;
    // Waiting between requests is the idle timeout's business, not the header
    // timeout's: a client (or a load balancer's pool) keeps the connection for the next
    // request, as nginx's keepalive_timeout does. The wait is what is tested.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(
        healthz_on(&mut stream).await.contains("200"),
        "the kept-alive connection was closed at the header timeout"
    );
}

#[tokio::test]
async fn a_head_dripped_on_a_kept_alive_connection_is_cut_at_the_header_timeout() {
    let (_sim, _gw, mut stream) = after_one_request(&[
        ("WDGATE_SERVER_HEADER_READ_TIMEOUT_SECS", "1"),
        ("WDGATE_SERVER_IDLE_TIMEOUT_SECS", "60"),
    ])
    .await;
    // The next head a byte at a time, each well within the idle timeout, never ending.
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .expect("write");
    let start = Instant::now();
    let mut buf = [0u8; 64];
    let took = loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => break start.elapsed(),
                Ok(_) => panic!("an answer to a head never finished"),
            },
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                assert!(start.elapsed() < DEADLINE, "the server kept the dripping connection open");
                if stream.write_all(b"x").await.is_err() {
                    break start.elapsed();
                }
            }
        }
    };
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "cut after {took:?}, not at the 1 s header timeout"
    );
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let (_sim, _gw, stream) = after_one_request(&[
        ("WDGATE_SERVER_IDLE_TIMEOUT_SECS", "1"),
        ("WDGATE_SERVER_REQUEST_TIMEOUT_SECS", "1"),
    ])
    .await;
    closed_within(stream).await;
}

/// A gateway started with `env` and a connection kept alive after one answered request.
async fn after_one_request(env: &[(&str, &str)]) -> (Sim, Gateway, TcpStream) {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), env);
    let mut stream = TcpStream::connect(gw.addr).await.expect("connect");
    assert!(healthz_on(&mut stream).await.contains("200"));
    (sim, gw, stream)
}

#[tokio::test]
async fn oversized_headers_are_431() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &[]);
    let mut stream = TcpStream::connect(gw.addr).await.expect("connect");
    let big = "x".repeat(64 * 1024);
    let request = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let _ = stream.write_all(request.as_bytes()).await;
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 431"), "{head:?}");
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    let sim = Sim::start().await;
    let mut gw = Gateway::start(&sim.url(), &[]);
    sim.set_faults(json!({"latency_ms": 1500})).await;
    let in_flight = gw.login_in_flight("demo", "demo");
    common::wait_until(|| async { sim.calls("LOGON").await == 1 }).await;
    gw.signal("TERM");
    gw.wait_for_log("stopped accepting").await;
    assert!(
        TcpStream::connect(gw.addr).await.is_err(),
        "no new connections after SIGTERM"
    );
    assert_eq!(in_flight.await.expect("join"), 201);
    let status = gw.wait_exit().await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn a_certificate_replaced_on_disk_is_picked_up() {
    let sim = Sim::start().await;
    let dir = temp_dir("tls-watch");
    let pki = Pki::new();
    pki.issue(&dir);
    let config = dir.join("wdgate.toml");
    let text = format!(
        "[server.tls]\ncert_file = {:?}\nkey_file = {:?}\nreload_interval_secs = 1\n",
        dir.join("cert.pem"),
        dir.join("key.pem")
    );
    std::fs::write(&config, text).expect("config");
    let config = config.to_string_lossy().into_owned();
    let gw = Gateway::start_with_args(&["--config", &config, "--upstream", &sim.url()], &[]);
    let renewed = pki.issue(&dir);
    gw.wait_for_log("reason=\"the files changed\"").await;
    let (_, served) = tls_connect(gw.addr.port(), &pki.ca_der).await;
    assert_eq!(served, renewed);
    let _ = std::fs::remove_dir_all(&dir);
}
