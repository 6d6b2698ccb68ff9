//! Connections against hostile clients: silent ones and h2c ones that never ask are cut
//! at the header timeout counted from accept, an HTTP/2 connection that only PINGs is
//! idle, the connection cap closes idle keep-alive connections first and refuses new
//! ones when none is idle, and running out of file descriptors backs off.

mod common;

use std::time::{Duration, Instant};

use common::{DEADLINE, Gateway, Sim, healthz_on};
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Waits until the server closes `stream`, reading (and ignoring) what it sends;
/// returns how long that took. Fails if it stays open for [`DEADLINE`].
async fn closed_within(stream: &mut TcpStream) -> Duration {
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

/// Header timeout 1 s, idle timeout far longer than any test waits.
const SHORT_HEADER_TIMEOUT: [(&str, &str); 2] = [
    ("WDGATE_SERVER_HEADER_READ_TIMEOUT_SECS", "1"),
    ("WDGATE_SERVER_IDLE_TIMEOUT_SECS", "600"),
];

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_at_the_header_timeout() {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), &SHORT_HEADER_TIMEOUT);
    let mut stream = TcpStream::connect(gw.addr).await.expect("connect");
    let took = closed_within(&mut stream).await;
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");
    gw.wait_for_log("no request within the header timeout")
        .await;
}

#[tokio::test]
async fn an_h2c_connection_with_a_preface_and_settings_but_no_request_is_closed() {
    let sim = Sim::start().await;
    let mut env = SHORT_HEADER_TIMEOUT.to_vec();
    env.push(("WDGATE_SERVER_HTTP2_MAX_CONCURRENT_STREAMS", "7"));
    let gw = Gateway::start(&sim.url(), &env);
    let mut stream = TcpStream::connect(gw.addr).await.expect("connect");
    // The client preface, then an empty SETTINGS frame (length 0, type 4, no flags,
    // stream 0), then nothing.
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .expect("write");
    let mut head = [0u8; 9];
    stream.read_exact(&mut head).await.expect("server SETTINGS");
    assert_eq!(head[3], 4, "the server speaks HTTP/2 (SETTINGS first)");
    let length = (usize::from(head[1]) << 8) | usize::from(head[2]);
    let mut settings = vec![0u8; length];
    stream
        .read_exact(&mut settings)
        .await
        .expect("SETTINGS payload");
    // Each setting: a 16-bit id, a 32-bit value; 3 is SETTINGS_MAX_CONCURRENT_STREAMS.
    let max_streams = settings
        .chunks_exact(6)
        .find(|s| s[..2] == [0, 3])
        .map(|s| u32::from_be_bytes([s[2], s[3], s[4], s[5]]));
    assert_eq!(max_streams, Some(7), "server.http2_max_concurrent_streams");
    closed_within(&mut stream).await;
    gw.wait_for_log("no request within the header timeout")
        .await;
}

#[tokio::test]
async fn an_http2_connection_that_only_pings_is_closed_after_the_idle_timeout() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_SERVER_HEADER_READ_TIMEOUT_SECS", "30"),
            ("WDGATE_SERVER_IDLE_TIMEOUT_SECS", "2"),
        ],
    );
    let tcp = TcpStream::connect(gw.addr).await.expect("connect");
    // h2c with prior knowledge; the client PINGs every 100 ms, streams or not, so
    // bytes never stop moving.
    let (mut sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_millis(100))
        .keep_alive_timeout(DEADLINE)
        .keep_alive_while_idle(true)
        .handshake::<_, Empty<bytes::Bytes>>(TokioIo::new(tcp))
        .await
        .expect("h2 handshake");
    let connection = tokio::spawn(connection);
    let request = hyper::Request::get(format!("http://{}/healthz", gw.addr))
        .body(Empty::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("answer");
    assert_eq!(response.status(), 200);
    drop(response);
    let idle_from = Instant::now();
    tokio::time::timeout(DEADLINE, connection)
        .await
        .unwrap_or_else(|_| panic!("the PINGing connection is closed: {}", gw.log()))
        .expect("join")
        .expect("closed cleanly with GOAWAY");
    let took = idle_from.elapsed();
    assert!(
        took >= Duration::from_millis(1900),
        "closed after {took:?}, before the idle timeout"
    );
    gw.wait_for_log("reason=\"idle\"").await;
}

#[tokio::test]
async fn silent_connections_filling_the_cap_do_not_keep_a_user_out() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_SERVER_MAX_CONNECTIONS", "20"),
            ("WDGATE_SERVER_HEADER_READ_TIMEOUT_SECS", "600"),
            ("WDGATE_SERVER_IDLE_TIMEOUT_SECS", "600"),
        ],
    );
    let token = gw.login("demo", "demo").await;
    // An attacker holds every slot with connections that never send a byte.
    let mut silent = Vec::new();
    for _ in 0..40 {
        silent.push(TcpStream::connect(gw.addr).await.expect("connect"));
    }
    // Each user request comes on a fresh connection (a new client has no pool).
    for _ in 0..10 {
        let me = gw.get("/me", Some(&token)).await;
        assert_eq!(me.status, 200, "{}", me.text);
    }
    // 40 silent connections against a cap of 20: at least 20 were closed for room.
    common::wait_until(|| async {
        gw.log()
            .matches("closing the connection idle longest")
            .count()
            >= 20
    })
    .await;
}

/// A gateway admitting two connections.
fn capped_gateway(sim: &Sim) -> Gateway {
    Gateway::start(&sim.url(), &[("WDGATE_SERVER_MAX_CONNECTIONS", "2")])
}

#[tokio::test]
async fn at_the_connection_cap_the_idle_keep_alive_connection_is_closed_first() {
    let sim = Sim::start().await;
    let gw = capped_gateway(&sim);
    let mut oldest = TcpStream::connect(gw.addr).await.expect("connect");
    assert!(healthz_on(&mut oldest).await.contains("200"));
    let mut newer = TcpStream::connect(gw.addr).await.expect("connect");
    assert!(healthz_on(&mut newer).await.contains("200"));

    let mut third = TcpStream::connect(gw.addr).await.expect("connect");
    assert!(
        healthz_on(&mut third).await.contains("200"),
        "a new connection is served at the cap"
    );
    closed_within(&mut oldest).await;
    gw.wait_for_log("closing the connection idle longest").await;
    assert!(
        healthz_on(&mut newer).await.contains("200"),
        "the connection idle for less time is kept"
    );
    let metrics = gw.get("/metrics", None).await.text;
    assert!(
        metrics.contains("wdgate_connections_ended_total{reason=\"evicted\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("wdgate_connections_open "), "{metrics}");
}

#[tokio::test]
async fn at_the_connection_cap_with_none_idle_a_new_connection_is_closed_at_once() {
    let sim = Sim::start().await;
    let gw = capped_gateway(&sim);
    sim.set_faults(json!({"latency_ms": 2000})).await;
    // Two logins in flight, each on a connection of its own.
    let first = gw.login_in_flight("demo", "demo");
    let second = gw.login_in_flight("demo", "demo");
    common::wait_until(|| async { sim.calls("LOGON").await == 2 }).await;

    let mut refused = TcpStream::connect(gw.addr).await.expect("connect");
    let _ = refused
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let answer = tokio::time::timeout(DEADLINE, refused.read_to_end(&mut buf))
        .await
        .expect("closed, not kept waiting");
    assert!(
        answer.is_err() || buf.is_empty(),
        "closed without an answer: {:?}",
        String::from_utf8_lossy(&buf)
    );
    gw.wait_for_log("max_connections reached with no idle connection")
        .await;

    assert_eq!(first.await.expect("join"), 201, "requests in flight finish");
    assert_eq!(second.await.expect("join"), 201);
    sim.set_faults(json!({})).await;
    let mut later = TcpStream::connect(gw.addr).await.expect("connect");
    assert!(
        healthz_on(&mut later).await.contains("200"),
        "once they are idle a new connection gets in"
    );
    let metrics = gw.get("/metrics", None).await.text;
    assert!(
        metrics.contains("wdgate_connections_ended_total{reason=\"refused\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn running_out_of_file_descriptors_backs_off_and_recovers() {
    let sim = Sim::start().await;
    let gw = Gateway::start_wrapped(
        &["prlimit", "--nofile=64:64"],
        &sim.url(),
        &[
            // Silent connections are kept, so they hold their descriptors.
            ("WDGATE_SERVER_HEADER_READ_TIMEOUT_SECS", "600"),
            ("WDGATE_SERVER_IDLE_TIMEOUT_SECS", "600"),
        ],
    );
    gw.wait_for_log("the file descriptor limit is below server.max_connections")
        .await;
    let mut held = Vec::new();
    for _ in 0..80 {
        held.push(TcpStream::connect(gw.addr).await.expect("connect"));
    }
    let exhausted = Instant::now();
    // The first failure logs; the next line comes only a second later, with a count.
    common::wait_until(|| async { gw.log().matches("accept failed").count() >= 2 }).await;
    let log = gw.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("accept failed"))
        .collect();
    let seconds = exhausted.elapsed().as_secs();
    assert!(
        lines.len() as u64 <= seconds + 2,
        "{} lines in {seconds} s: {lines:#?}",
        lines.len()
    );
    assert!(
        lines[1].contains("Too many open files") || lines[1].contains("os error 24"),
        "{}",
        lines[1]
    );
    let folded = regex::Regex::new(r"failures=(\d+)")
        .expect("regex")
        .captures(lines[1])
        .and_then(|c| c[1].parse::<u64>().ok())
        .expect("a count");
    assert!(
        folded > 2,
        "failures are folded into the line: {}",
        lines[1]
    );

    drop(held);
    gw.wait_for_log("accepting connections again").await;
    let mut fresh = TcpStream::connect(gw.addr).await.expect("connect");
    assert!(
        healthz_on(&mut fresh).await.contains("200"),
        "serves again once descriptors are free"
    );
}
