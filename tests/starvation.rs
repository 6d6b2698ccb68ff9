//! No client can starve the others: a request body must arrive within
//! `server.body_read_timeout_secs` (408), and a client IP holds at most
//! `server.max_concurrent_requests_per_ip` of the request slots (429 for it alone).
//!
//! The attacker connects from 127.0.0.2 and the user from 127.0.0.1 (Linux routes all
//! of 127.0.0.0/8 to the loopback interface), so the gateway sees two client IPs.

mod common;

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{DEADLINE, Gateway, Sim, client_from, connect_from, h2c_client_from, read_head};
use futures_util::{StreamExt as _, stream};
use http_body_util::{BodyExt as _, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::{JoinHandle, JoinSet};

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const USER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));

/// Attack connections (HTTP/1.1) or streams (h2c): more than the gateway's slots.
const ATTACKERS: usize = 100;
/// The gateway's request slots in these tests, below [`ATTACKERS`].
const SLOTS: &str = "50";
/// The per-client cap in these tests.
const PER_IP: &str = "10";

/// A login whose announced 50-byte body never arrives whole.
const SLOW_LOGIN: &[u8] =
    b"POST /sessions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n\
Content-Length: 50\r\n\r\n{\"username\"";

/// What the attacker's requests got.
#[derive(Debug, Default)]
struct Tally {
    timed_out: AtomicUsize,
    capped: AtomicUsize,
    shed: AtomicUsize,
    other: AtomicUsize,
}

impl Tally {
    fn count(&self, status: Option<u16>) {
        let counter = match status {
            Some(408) => &self.timed_out,
            Some(429) => &self.capped,
            Some(503) => &self.shed,
            _ => &self.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::Relaxed)
    }
}

/// Slow-body attackers, sending again whenever they are answered, until dropped.
struct Attack {
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Attack {
    /// [`ATTACKERS`] HTTP/1.1 connections, each one slow login at a time.
    fn http1(gw: &Gateway) -> Self {
        let mut attack = Self::new();
        for _ in 0..ATTACKERS {
            let (tally, stop, addr) = (attack.tally.clone(), attack.stop.clone(), gw.addr);
            attack.tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let mut stream = connect_from(ATTACKER, addr).await;
                    let status = match stream.write_all(SLOW_LOGIN).await {
                        Ok(()) => tokio::time::timeout(DEADLINE, read_head(&mut stream))
                            .await
                            .ok()
                            .flatten()
                            .map(|(status, _)| status),
                        Err(_) => None,
                    };
                    tally.count(status);
                    drop(stream);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }));
        }
        attack
    }

    /// `connections` h2c connections with [`ATTACKERS`] streams among them, each
    /// stream one slow login at a time.
    async fn h2c(gw: &Gateway, connections: usize) -> Self {
        let mut attack = Self::new();
        for _ in 0..connections {
            let stream = connect_from(ATTACKER, gw.addr).await;
            let (sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                    .await
                    .expect("an h2c connection");
            let (tally, stop, url) = (
                attack.tally.clone(),
                attack.stop.clone(),
                format!("http://{}/sessions", gw.addr),
            );
            attack.tasks.push(tokio::spawn(async move {
                let mut streams = JoinSet::new();
                streams.spawn(async move {
                    let _ = connection.await;
                });
                for _ in 0..ATTACKERS / connections {
                    let (mut sender, tally, stop, url) =
                        (sender.clone(), tally.clone(), stop.clone(), url.clone());
                    streams.spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            let request = http::Request::post(&url)
                                .header("content-type", "application/json")
                                .header("content-length", "50")
                                .body(stalled_body())
                                .expect("a request");
                            let status = match sender.ready().await {
                                Ok(()) => {
                                    tokio::time::timeout(DEADLINE, sender.send_request(request))
                                        .await
                                        .ok()
                                        .and_then(Result::ok)
                                        .map(|response| response.status().as_u16())
                                }
                                Err(_) => None,
                            };
                            tally.count(status);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    });
                }
                while streams.join_next().await.is_some() {}
            }));
        }
        attack
    }

    fn new() -> Self {
        Self {
            tally: Arc::default(),
            stop: Arc::default(),
            tasks: Vec::new(),
        }
    }
}

impl Drop for Attack {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Slow logins held open from one address (with `extra` header lines), each in flight
/// at the gateway until dropped.
struct Held {
    from: IpAddr,
    addr: std::net::SocketAddr,
    request: String,
    streams: Vec<tokio::net::TcpStream>,
}

impl Held {
    async fn new(gw: &Gateway, from: IpAddr, extra: &str, count: usize) -> Self {
        let request = String::from_utf8_lossy(SLOW_LOGIN).replacen(
            "Host: gw\r\n",
            &format!("Host: gw\r\n{extra}"),
            1,
        );
        let mut held = Self {
            from,
            addr: gw.addr,
            request,
            streams: Vec::new(),
        };
        for _ in 0..count {
            let stream = held.open().await;
            held.streams.push(stream);
        }
        held
    }

    async fn open(&self) -> tokio::net::TcpStream {
        let mut stream = connect_from(self.from, self.addr).await;
        stream
            .write_all(self.request.as_bytes())
            .await
            .expect("write");
        stream
    }

    /// Sends again the logins that were answered: one can reach the gateway after a
    /// request of the same client it raced with, and meet the cap itself.
    async fn renew(&mut self) {
        for i in 0..self.streams.len() {
            let mut buf = [0u8; 64];
            if !matches!(self.streams[i].try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            {
                self.streams[i] = self.open().await;
            }
        }
    }

    /// Waits until `probe` (a request of the same client) meets the cap, which the held
    /// logins fill.
    async fn until_capped<F, Fut>(&mut self, mut probe: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<u16>>,
    {
        let start = Instant::now();
        loop {
            self.renew().await;
            if probe().await == Some(429) {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "the held logins never filled the cap"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A body that sends its first bytes and then nothing, ever.
fn stalled_body() -> UnsyncBoxBody<Bytes, Infallible> {
    let chunks = stream::iter([Ok::<_, Infallible>(Frame::data(Bytes::from_static(
        b"{\"username\"",
    )))])
    .chain(stream::pending());
    StreamBody::new(chunks).boxed_unsync()
}

/// The gateway of these tests: [`SLOTS`] slots, [`PER_IP`] per client, bodies due
/// within `body_secs`.
fn gateway(sim: &Sim, per_ip: &str, body_secs: &str) -> Gateway {
    Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_SERVER_MAX_CONCURRENT_REQUESTS", SLOTS),
            ("WDGATE_SERVER_MAX_CONCURRENT_REQUESTS_PER_IP", per_ip),
            ("WDGATE_SERVER_BODY_READ_TIMEOUT_SECS", body_secs),
            // The user's polling must not be what is measured.
            ("WDGATE_LOG_LEVEL", "info"),
        ],
    )
}

/// The user's `GET /me`s, each on a fresh connection, until `done` holds: how many
/// answered 200, and the statuses of the others.
async fn user_requests(
    client: &reqwest::Client,
    gw: &Gateway,
    token: &str,
    done: impl Fn() -> bool,
) -> (usize, Vec<u16>) {
    let start = Instant::now();
    let (mut served, mut refused) = (0, Vec::new());
    while !done() {
        assert!(start.elapsed() < DEADLINE, "the attack never went round");
        let status = client
            .get(gw.url("/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("an answer")
            .status()
            .as_u16();
        if status == 200 {
            served += 1;
        } else {
            refused.push(status);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (served, refused)
}

/// Runs `attack` against `gw` and the user's requests beside it, from the moment the
/// attacker holds its share until every held slot has timed out once; asserts the
/// user was always served and the attacker only ever capped, and returns the user's
/// count.
async fn user_is_served_through(
    gw: &Gateway,
    attack: &Attack,
    user: &reqwest::Client,
    token: &str,
) -> usize {
    let tally = &attack.tally;
    // Every attacker beyond the cap is refused at once: the cap is full.
    common::wait_until(|| async { Tally::get(&tally.capped) >= ATTACKERS - 10 }).await;
    let (served, refused) =
        user_requests(user, gw, token, || Tally::get(&tally.timed_out) >= 10).await;
    assert!(refused.is_empty(), "the user was refused: {refused:?}");
    assert!(served >= 5, "only {served} requests in the window");
    assert_eq!(
        Tally::get(&tally.shed),
        0,
        "the attacker never reached the global limit"
    );
    served
}

#[tokio::test]
async fn a_slow_body_attack_over_http1_does_not_starve_a_logged_in_user() {
    let sim = Sim::start().await;
    let gw = gateway(&sim, PER_IP, "2");
    let token = gw.login("demo", "demo").await;
    let attack = Attack::http1(&gw);
    let user = client_from(USER);
    let served = user_is_served_through(&gw, &attack, &user, &token).await;
    let tally = &attack.tally;
    eprintln!(
        "HTTP/1.1: {ATTACKERS} attack connections, {SLOTS} slots, {PER_IP} per IP: the user's \
         GET /me answered 200 {served} times out of {served} during the attack; the attacker \
         got {} 429s and {} 408s",
        Tally::get(&tally.capped),
        Tally::get(&tally.timed_out),
    );
}

#[tokio::test]
async fn a_slow_body_attack_over_h2c_does_not_starve_a_logged_in_user() {
    let sim = Sim::start().await;
    let gw = gateway(&sim, PER_IP, "2");
    let token = gw.login("demo", "demo").await;
    // Few connections, many streams: what took every slot with 6 connections.
    let attack = Attack::h2c(&gw, 2).await;
    let user = h2c_client_from(USER);
    let served = user_is_served_through(&gw, &attack, &user, &token).await;
    let tally = &attack.tally;
    eprintln!(
        "h2c: {ATTACKERS} attack streams on 2 connections, {SLOTS} slots, {PER_IP} per IP: the \
         user's GET /me answered 200 {served} times out of {served} during the attack; the \
         attacker got {} 429s and {} 408s",
        Tally::get(&tally.capped),
        Tally::get(&tally.timed_out),
    );
}

#[tokio::test]
async fn without_a_per_ip_cap_the_same_attack_starves_the_user() {
    // The control: the cap at the global limit is no cap, and the attack works.
    let sim = Sim::start().await;
    let gw = gateway(&sim, SLOTS, "10");
    let token = gw.login("demo", "demo").await;
    let attack = Attack::http1(&gw);
    common::wait_until(|| async { Tally::get(&attack.tally.shed) >= ATTACKERS - 50 }).await;
    let r = common::Reply::read(
        client_from(USER)
            .get(gw.url("/me"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("an answer"),
    )
    .await;
    r.assert_problem(503, "overloaded");
}

#[tokio::test]
async fn a_body_that_never_arrives_is_a_408_problem_and_the_connection_is_closed() {
    let sim = Sim::start().await;
    let gw = gateway(&sim, PER_IP, "1");
    let mut stream = connect_from(ATTACKER, gw.addr).await;
    stream.write_all(SLOW_LOGIN).await.expect("write");
    let start = Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut answer))
        .await
        .expect("the gateway answers and closes the connection")
        .expect("read");
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "not before the deadline"
    );
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 408"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(
        answer.contains("content-type: application/problem+json"),
        "{answer}"
    );
    assert!(answer.contains("\"code\":\"body_timeout\""), "{answer}");
    // The refusal is logged with the client's address.
    gw.wait_for_log("client_ip=127.0.0.2").await;
}

#[tokio::test]
async fn a_body_that_never_arrives_on_an_h2c_stream_is_a_408_problem() {
    let sim = Sim::start().await;
    let gw = gateway(&sim, PER_IP, "1");
    let stream = connect_from(ATTACKER, gw.addr).await;
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("an h2c connection");
    let connection = tokio::spawn(connection);
    let request = http::Request::post(format!("http://{}/sessions", gw.addr))
        .header("content-type", "application/json")
        .header("content-length", "50")
        .body(stalled_body())
        .expect("a request");
    let response = tokio::time::timeout(DEADLINE, sender.send_request(request))
        .await
        .expect("in time")
        .expect("an answer");
    assert_eq!(response.status(), 408);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let problem: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(problem["code"], "body_timeout");
    connection.abort();
}

#[tokio::test]
async fn the_per_ip_cap_refuses_the_attacker_alone_and_probes_stay_open() {
    let sim = Sim::start().await;
    let gw = gateway(&sim, "2", "10");
    let token = gw.login("demo", "demo").await;
    let mut held = Held::new(&gw, ATTACKER, "", 2).await;
    let attacker = client_from(ATTACKER);
    // Once both are in, the attacker's next request is over its share.
    held.until_capped(|| async {
        let r = attacker.get(gw.url("/me")).bearer_auth(&token).send().await;
        r.ok().map(|r| r.status().as_u16())
    })
    .await;
    let refused = common::Reply::read(
        attacker
            .get(gw.url("/me"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("an answer"),
    )
    .await;
    refused.assert_problem(429, "too_many_in_flight");
    assert_eq!(refused.header("retry-after"), "1");
    let probe = attacker.get(gw.url("/healthz")).send().await.expect("GET");
    assert_eq!(probe.status(), 200, "probes are not counted");
    let user = client_from(USER)
        .get(gw.url("/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET");
    assert_eq!(user.status(), 200, "another client is untouched");
    // The held requests end with their connections; the attacker's share is free again.
    drop(held);
    common::wait_until(|| async {
        attacker
            .get(gw.url("/me"))
            .bearer_auth(&token)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_cap_is_per_forwarded_client() {
    let sim = Sim::start().await;
    let gw = Gateway::start(
        &sim.url(),
        &[
            ("WDGATE_SERVER_MAX_CONCURRENT_REQUESTS_PER_IP", "1"),
            ("WDGATE_SERVER_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    );
    let token = gw.login("demo", "demo").await;
    // The proxy (127.0.0.1) forwards a slow body for 203.0.113.1.
    let mut held = Held::new(&gw, USER, "X-Forwarded-For: 203.0.113.1\r\n", 1).await;
    let proxy = client_from(USER);
    let me_for = |client_ip: &'static str| {
        proxy
            .get(gw.url("/me"))
            .bearer_auth(&token)
            .header("x-forwarded-for", client_ip)
            .send()
    };
    held.until_capped(|| async {
        let r = me_for("203.0.113.1").await;
        r.ok().map(|r| r.status().as_u16())
    })
    .await;
    let other = me_for("203.0.113.2").await.expect("GET");
    assert_eq!(other.status(), 200, "another client behind the same proxy");
    drop(held);
}

#[tokio::test]
async fn a_body_dripped_a_byte_at_a_time_is_cut_off_at_the_deadline_too() {
    // Never silent for long, so an idle timeout would never fire; the deadline does.
    let sim = Sim::start().await;
    let gw = gateway(&sim, PER_IP, "1");
    let stream = connect_from(ATTACKER, gw.addr).await;
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(SLOW_LOGIN).await.expect("write");
    let start = Instant::now();
    // The answer is read as it comes, while the drip goes on.
    let answer = tokio::spawn(async move {
        let mut answer = Vec::new();
        let _ = reader.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    });
    // 39 more bytes would finish the body after 3.9 s.
    for _ in 0..39 {
        if answer.is_finished() || writer.write_all(b" ").await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = tokio::time::timeout(DEADLINE, answer)
        .await
        .expect("the connection closed")
        .expect("join");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    let took = start.elapsed();
    assert!(took < Duration::from_millis(3500), "cut off after {took:?}");
}
