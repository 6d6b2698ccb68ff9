//! The test harness: a real simulator and a real gateway process on ephemeral
//! loopback ports, and a small HTTP client for them.

#![allow(dead_code, unreachable_pub)]

pub mod front;
pub mod redis;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wdgate::sim::{self, SimConfig, Simulator};

/// How long any wait in a test may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A simulator serving on `127.0.0.1:0` inside the test's runtime.
pub struct Sim {
    pub addr: SocketAddr,
    pub sim: Simulator,
    task: tokio::task::JoinHandle<()>,
}

impl Sim {
    pub async fn start() -> Self {
        Self::with_config(SimConfig::default()).await
    }

    pub async fn with_config(config: SimConfig) -> Self {
        let sim = Simulator::new(&config).expect("simulator config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let served = sim.clone();
        let task = tokio::spawn(async move {
            let _ = sim::serve(listener, served).await;
        });
        Self { addr, sim, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, as a crashed server would (its state is kept).
    pub fn stop(&mut self) {
        self.task.abort();
    }

    /// Serves again on the same address with the same state, as a restarted server.
    pub async fn restart(&mut self) {
        self.task.abort();
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("rebind the simulator's port");
        let served = self.sim.clone();
        self.task = tokio::spawn(async move {
            let _ = sim::serve(listener, served).await;
        });
    }

    /// Calls an admin route.
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = client().request(method, format!("{}/_sim/{path}", self.url()));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("sim admin call");
        assert!(
            resp.status().is_success(),
            "sim admin {path}: {}",
            resp.status()
        );
        resp.json().await.unwrap_or(Value::Null)
    }

    /// How many times the simulator saw `command`.
    pub async fn calls(&self, command: &str) -> u64 {
        let stats = self.admin(reqwest::Method::GET, "stats", None).await;
        stats["calls"][command].as_u64().unwrap_or(0)
    }

    /// Replaces the simulator's faults.
    pub async fn set_faults(&self, faults: Value) {
        self.admin(reqwest::Method::PUT, "faults", Some(faults))
            .await;
    }

    /// Ends every Worldox session, as an idle timeout upstream would.
    pub async fn expire_sessions(&self) {
        self.admin(reqwest::Method::POST, "expire-sessions", None)
            .await;
    }

    /// The outbox of sent access codes.
    pub async fn outbox(&self) -> Vec<Value> {
        let v = self.admin(reqwest::Method::GET, "outbox", None).await;
        v.as_array().cloned().unwrap_or_default()
    }

    /// LOGON straight against the simulator, bypassing the gateway.
    pub async fn direct_logon(&self, user: &str, password: &str) -> Value {
        let form = wdgate::upstream::cgi::Params::new()
            .with("wd_User_Code_Value", user)
            .with("wd_User_Password_Value", password)
            .to_form();
        client()
            .post(format!("{}/cgi-bin/wdwebcgi.exe?LOGON", self.url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("direct LOGON")
            .json()
            .await
            .expect("LOGON JSON")
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A `wdgate serve` child process with its stderr (the log) captured.
pub struct Gateway {
    pub addr: SocketAddr,
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Gateway {
    /// A gateway in front of `upstream` with extra `WDGATE_…` settings.
    pub fn start(upstream: &str, env: &[(&str, &str)]) -> Self {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        if !upstream.is_empty() {
            args.extend(["--upstream", upstream]);
        }
        Self::spawn(&args, env)
    }

    /// A gateway with no upstream: it starts its own simulator.
    pub fn start_demo(env: &[(&str, &str)]) -> Self {
        Self::spawn(&["serve", "--listen", "127.0.0.1:0"], env)
    }

    /// A gateway with extra command-line arguments after `serve --listen 127.0.0.1:0`.
    pub fn start_with_args(extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        Self::spawn(&args, env)
    }

    /// A gateway in front of `upstream` run through `wrapper` (e.g. `prlimit
    /// --nofile=64:64`), which must exec it as the same process.
    pub fn start_wrapped(wrapper: &[&str], upstream: &str, env: &[(&str, &str)]) -> Self {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        if !upstream.is_empty() {
            args.extend(["--upstream", upstream]);
        }
        Self::spawn_via(wrapper, &args, env)
    }

    /// The exit status, if the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// The child's process id, to send it signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`TERM`, `HUP`, …) to the gateway.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit, failing after [`DEADLINE`].
    pub async fn wait_exit(&mut self) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(start.elapsed() < DEADLINE, "the gateway did not exit");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn spawn(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn_via(&[], args, env)
    }

    fn spawn_via(wrapper: &[&str], args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = match wrapper.split_first() {
            None => Command::new(env!("CARGO_BIN_EXE_wdgate")),
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(env!("CARGO_BIN_EXE_wdgate"));
                cmd
            }
        };
        cmd.args(args)
            // No config file is picked up from the source tree.
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("WDGATE_LOG_LEVEL", "debug")
            .env_remove("RUST_LOG");
        for (k, _) in std::env::vars() {
            if k.starts_with("WDGATE_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("WDGATE_LOG_LEVEL", "debug");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn wdgate");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().expect("log lock");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("read stdout");
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!(
                    "first stdout line was {first:?}; log: {}",
                    log.lock().expect("log")
                )
            })
            .parse()
            .expect("an address");
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in stdout.lines() {});
        Self { addr, child, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Everything the gateway logged so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// Waits until the log contains `needle`.
    pub async fn wait_for_log(&self, needle: &str) {
        wait_until(|| async { self.log().contains(needle) }).await;
    }

    /// Logs in and returns the token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let resp = self
            .post_json(
                "/sessions",
                &json!({"username": username, "password": password}),
                None,
            )
            .await;
        assert_eq!(resp.status, 201, "login failed: {}", resp.text);
        resp.json["token"].as_str().expect("token").to_owned()
    }

    /// Starts a login in the background; resolves to its status.
    pub fn login_in_flight(&self, username: &str, password: &str) -> tokio::task::JoinHandle<u16> {
        let request = client()
            .post(self.url("/sessions"))
            .json(&json!({"username": username, "password": password}));
        tokio::spawn(async move { request.send().await.expect("an answer").status().as_u16() })
    }

    /// Tries to log in; returns whatever the gateway answers.
    pub async fn login_attempt(&self, username: &str, password: &str) -> Reply {
        self.post_json(
            "/sessions",
            &json!({"username": username, "password": password}),
            None,
        )
        .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut req = client().get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Reply::from(req.send().await.expect("GET")).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        let mut req = client().delete(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Reply::from(req.send().await.expect("DELETE")).await
    }

    pub async fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Reply {
        self.send(reqwest::Method::POST, path, body, token).await
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> Reply {
        let mut req = client().request(method, self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Reply::from(req.send().await.expect("request")).await
    }

    /// Sends raw bytes with a content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let req = client()
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        Reply::from(req.send().await.expect("POST")).await
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    /// Reads a whole response.
    pub async fn read(resp: reqwest::Response) -> Self {
        Self::from(resp).await
    }

    async fn from(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            text,
            json,
        }
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts the 409 of a device create that lost a race for one verification: refused
    /// by the claim (`verification_used`) or, when it started after the winner's write
    /// reached the listing, by the duplicate check before the claim (`device_exists`).
    pub fn assert_lost_the_create_race(&self) {
        assert_eq!(self.status, 409, "{}", self.text);
        let code = self.json["code"].as_str().unwrap_or_default();
        assert!(
            ["verification_used", "device_exists"].contains(&code),
            "{}",
            self.text
        );
    }

    /// Asserts a problem+json answer with `status` and `code`, and a request id.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "{}",
            self.text
        );
        assert_eq!(self.json["status"], status, "{}", self.text);
        assert_eq!(self.json["code"], code, "{}", self.text);
        assert!(
            !self.json["detail"].as_str().unwrap_or("").is_empty(),
            "{}",
            self.text
        );
        assert_eq!(
            self.json["request_id"].as_str(),
            Some(self.header("x-request-id")),
            "{}",
            self.text
        );
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .expect("client")
}

/// Asks `gw` to send a code to `address` (2FSET step 1) for `token`'s session; the
/// verification id and the code the simulator "sent".
pub async fn request_code(gw: &Gateway, sim: &Sim, token: &str, address: &str) -> (String, String) {
    let r = gw
        .post_json(
            "/me/2fa-devices/verifications",
            &json!({"address": address}),
            Some(token),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let code = sim.outbox().await.last().expect("a code was sent")["code"]
        .as_str()
        .expect("code")
        .to_owned();
    let id = r.json["verification_id"].as_str().expect("id").to_owned();
    (id, code)
}

/// One keep-alive HTTP/1.1 `GET /healthz` on an open stream; returns the status line.
pub async fn healthz_on<S>(stream: &mut S) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.expect("read");
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

/// Writes `request` exactly as given on `stream` and reads the answer until the server
/// closes (within [`DEADLINE`]); returns its status and its whole text.
pub async fn raw_exchange<S>(stream: &mut S, request: &str) -> (u16, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut answer))
        .await
        .expect("an answer in time")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    (status, answer)
}

/// Polls `condition` until it holds, failing the test after [`DEADLINE`].
pub async fn wait_until<F, Fut>(mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !condition().await {
        assert!(
            start.elapsed() < DEADLINE,
            "condition not met within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Checks `condition` every `interval` (not sooner) until it holds, failing after
/// [`DEADLINE`]: for conditions that looking at would disturb, such as idle timers.
pub async fn wait_every<F, Fut>(interval: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        tokio::time::sleep(interval).await;
        if condition().await {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "condition not met within {DEADLINE:?}"
        );
    }
}

/// A loopback address nothing listens on.
pub fn dead_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

/// A client whose connections come from `ip` (any 127.0.0.0/8 address is loopback on
/// Linux) and are never reused: every request opens a fresh connection.
pub fn client_from(ip: std::net::IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip)
        .pool_max_idle_per_host(0)
        .timeout(DEADLINE)
        .build()
        .expect("client")
}

/// Like [`client_from`], speaking HTTP/2 without TLS (h2c, prior knowledge).
pub fn h2c_client_from(ip: std::net::IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip)
        .pool_max_idle_per_host(0)
        .http2_prior_knowledge()
        .timeout(DEADLINE)
        .build()
        .expect("client")
}

/// A TCP connection to `addr` from `ip`.
pub async fn connect_from(ip: std::net::IpAddr, addr: SocketAddr) -> tokio::net::TcpStream {
    let socket = match ip {
        std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .expect("a socket");
    socket
        .bind(SocketAddr::new(ip, 0))
        .expect("bind the client address");
    socket.connect(addr).await.expect("connect")
}

/// Reads from `stream` until an HTTP/1 answer's head is in (the blank line); returns
/// its status and all that was read (the head, maybe some body). `None` if the
/// connection closed first.
pub async fn read_head(stream: &mut tokio::net::TcpStream) -> Option<(u16, String)> {
    use tokio::io::AsyncReadExt;
    let mut read = Vec::new();
    let mut chunk = [0u8; 2048];
    while !read.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => read.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&read).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    Some((status, text))
}
