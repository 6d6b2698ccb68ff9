//! A real `redis-server` for tests: started on a free loopback port with persistence
//! off (or the one `REDIS_URL` names), killed on drop, and a tiny RESP client to look
//! at what the gateway stored.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use wdgate::session::{Sealer, TokenHash};

use super::{DEADLINE, Gateway};

/// A redis-server child process, or an external server from `REDIS_URL`.
pub struct Redis {
    /// `redis://127.0.0.1:PORT` (or `rediss://localhost:PORT` for a TLS one).
    pub url: String,
    port: u16,
    args: Vec<String>,
    child: Option<Child>,
    plain: bool,
    /// Files of its own (a Sentinel's config), removed with it.
    scratch: Option<PathBuf>,
}

/// Whether this run must not skip Redis tests (`CI=true`).
fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn redis_server_installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// False (after printing why) when no redis-server can be started here; under
/// `CI=true` a missing redis-server fails the test instead of skipping it.
fn available() -> bool {
    if redis_server_installed() {
        return true;
    }
    let why = "redis-server is not installed (apt-get install redis-server)";
    assert!(
        !required(),
        "{why}, and CI=true forbids skipping Redis tests"
    );
    eprintln!("SKIPPED: {why}");
    false
}

impl Redis {
    /// The server from `REDIS_URL`, else a fresh one; `None` when the test must skip.
    pub fn start() -> Option<Self> {
        if let Ok(url) = std::env::var("REDIS_URL") {
            return Some(Self {
                url,
                port: 0,
                args: Vec::new(),
                child: None,
                plain: true,
                scratch: None,
            });
        }
        Self::start_own()
    }

    /// A fresh server of our own (tests that kill it cannot use `REDIS_URL`'s).
    pub fn start_own() -> Option<Self> {
        Self::spawn_with(&[], true)
    }

    /// A fresh server that requires `password` (the URL carries it).
    pub fn start_with_password(password: &str) -> Option<Self> {
        let mut redis = Self::spawn_with(&["--requirepass", password], true)?;
        redis.url = redis
            .url
            .replace("redis://", &format!("redis://:{password}@"));
        Some(redis)
    }

    /// A TLS-only server presenting `cert`/`key` (PEM files); `None` to skip.
    pub fn start_tls(cert: &Path, key: &Path, ca: &Path) -> Option<Self> {
        let args = [
            "--port",
            "0",
            "--tls-auth-clients",
            "no",
            "--tls-cert-file",
            cert.to_str().expect("path"),
            "--tls-key-file",
            key.to_str().expect("path"),
            "--tls-ca-cert-file",
            ca.to_str().expect("path"),
        ];
        Self::spawn_with(&args, false)
    }

    fn spawn_with(extra: &[&str], plain: bool) -> Option<Self> {
        if !available() {
            return None;
        }
        for _ in 0..5 {
            let port = free_port();
            let port_flag = if plain { "--port" } else { "--tls-port" };
            let mut args: Vec<String> = vec![
                port_flag.to_owned(),
                port.to_string(),
                "--bind".to_owned(),
                "127.0.0.1".to_owned(),
                "--save".to_owned(),
                String::new(),
                "--appendonly".to_owned(),
                "no".to_owned(),
            ];
            args.extend(extra.iter().map(|s| (*s).to_owned()));
            let scheme = if plain {
                "redis://127.0.0.1"
            } else {
                "rediss://localhost"
            };
            let mut redis = Self {
                url: format!("{scheme}:{port}"),
                port,
                args,
                child: None,
                plain,
                scratch: None,
            };
            if redis.launch() {
                return Some(redis);
            }
        }
        panic!("could not start redis-server on a free port");
    }

    /// Starts the process on `self.port`; false if it died (port taken).
    fn launch(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if let Some(child) = &mut self.child {
                if child.try_wait().expect("try_wait").is_some() {
                    self.child = None;
                    return false;
                }
            }
            if self.answers() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("redis-server did not answer within {DEADLINE:?}");
    }

    fn answers(&self) -> bool {
        if self.plain {
            self.try_command(&["PING"])
                .is_some_and(|r| r == "PONG" || r.starts_with("ERR NOAUTH"))
        } else {
            TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        }
    }

    /// Kills the server (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("a redis-server of our own");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Thaws a paused server (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("a redis-server of our own").id();
        let status = Command::new("kill")
            .args([format!("-{name}"), pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        assert!(self.launch(), "redis-server could not get its port back");
    }

    /// Runs one command and returns the reply as text (integers as digits, nil as
    /// `(nil)`); panics if the server does not answer.
    pub fn command(&self, args: &[&str]) -> String {
        self.try_command(args).expect("redis answers")
    }

    fn try_command(&self, args: &[&str]) -> Option<String> {
        self.try_command_list(args).map(|items| items.join("\n"))
    }

    /// Runs one command and returns every item of the reply, nested arrays flattened
    /// (`KEYS`, `HGETALL`, `LRANGE` …); panics if the server does not answer.
    pub fn command_list(&self, args: &[&str]) -> Vec<String> {
        self.try_command_list(args).expect("redis answers")
    }

    fn try_command_list(&self, args: &[&str]) -> Option<Vec<String>> {
        // No AUTH: the harness's servers (and a REDIS_URL for tests) have no password.
        let rest = self.url.split_once("://")?.1;
        let authority = rest.split(['/', '?']).next()?;
        let addr = authority.rsplit('@').next()?.to_owned();
        let mut stream = TcpStream::connect(addr).ok()?;
        stream.set_read_timeout(Some(DEADLINE)).ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).ok()?;
        let mut reader = BufReader::new(stream);
        let mut items = Vec::new();
        read_reply(&mut reader, &mut items)?;
        Some(items)
    }

    /// Every key matching `pattern` with every value it holds, whatever its type
    /// (string, hash fields and values, list, set or sorted-set members): what a dump
    /// of the server would give away.
    pub fn dump(&self, pattern: &str) -> Vec<(String, Vec<String>)> {
        let mut keys = self.command_list(&["KEYS", pattern]);
        keys.sort();
        keys.into_iter()
            .map(|key| {
                let values = match self.command(&["TYPE", &key]).as_str() {
                    "string" => vec![self.command(&["GET", &key])],
                    "hash" => self.command_list(&["HGETALL", &key]),
                    "list" => self.command_list(&["LRANGE", &key, "0", "-1"]),
                    "set" => self.command_list(&["SMEMBERS", &key]),
                    "zset" => self.command_list(&["ZRANGE", &key, "0", "-1"]),
                    "none" => Vec::new(),
                    other => panic!("{key}: a {other} the dump check cannot read"),
                };
                (key, values)
            })
            .collect()
    }
}

/// Reads one RESP2 reply into `out` (integers as digits, nil as `(nil)`, errors as
/// `ERR …`, arrays flattened).
fn read_reply(reader: &mut BufReader<TcpStream>, out: &mut Vec<String>) -> Option<()> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let line = line.trim_end();
    if line.is_empty() {
        return None;
    }
    let (kind, rest) = line.split_at(1);
    match kind {
        "+" | ":" => out.push(rest.to_owned()),
        "-" => out.push(format!("ERR {rest}")),
        "$" | "*" if rest == "-1" => out.push("(nil)".to_owned()),
        "$" => {
            let len: usize = rest.parse().ok()?;
            let mut body = vec![0u8; len + 2];
            std::io::Read::read_exact(reader, &mut body).ok()?;
            body.truncate(len);
            out.push(String::from_utf8_lossy(&body).into_owned());
        }
        "*" => {
            let count: usize = rest.parse().ok()?;
            for _ in 0..count {
                read_reply(reader, out)?;
            }
        }
        _ => return None,
    }
    Some(())
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A fresh folder under the system temp dir for a test's Redis files.
fn scratch_dir(kind: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "wdgate-{kind}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create a scratch dir");
    dir
}

impl Redis {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A Sentinel (`redis-server --sentinel`) watching `master` as `service`; `None`
    /// when the test must skip.
    pub fn start_sentinel(master: &Redis, service: &str) -> Option<Self> {
        if !available() {
            return None;
        }
        let dir = scratch_dir("sentinel");
        for _ in 0..5 {
            let port = free_port();
            let conf = dir.join(format!("sentinel-{port}.conf"));
            // Sentinel rewrites its file as it learns, so it gets one of its own.
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\n\
                     sentinel monitor {service} 127.0.0.1 {} 1\n\
                     sentinel down-after-milliseconds {service} 60000\n",
                    master.port
                ),
            )
            .expect("write sentinel.conf");
            let mut sentinel = Self {
                url: format!("redis://127.0.0.1:{port}"),
                port,
                args: vec![
                    conf.to_str().expect("path").to_owned(),
                    "--sentinel".to_owned(),
                ],
                child: None,
                plain: true,
                scratch: None,
            };
            if sentinel.launch() {
                sentinel.scratch = Some(dir);
                return Some(sentinel);
            }
        }
        panic!("could not start a Sentinel on a free port");
    }
}

/// A Redis Cluster of real `redis-server` nodes (masters only), made with
/// `redis-cli --cluster create`.
pub struct RedisCluster {
    /// The nodes; any of them takes a command for a key it owns.
    pub nodes: Vec<Redis>,
    /// Their cluster config files.
    dir: PathBuf,
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl RedisCluster {
    /// `count` masters sharing the 16,384 slots, up and agreeing; `None` to skip.
    pub fn start(count: usize) -> Option<Self> {
        let dir = scratch_dir("cluster");
        let mut nodes = Vec::new();
        for i in 0..count {
            let file = dir.join(format!("nodes-{i}.conf"));
            let node = Redis::spawn_with(
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    file.to_str().expect("path"),
                    "--dir",
                    dir.to_str().expect("path"),
                ],
                true,
            )?;
            nodes.push(node);
        }
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let status = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run redis-cli --cluster create");
        assert!(status.success(), "redis-cli --cluster create failed");
        let start = Instant::now();
        while !nodes
            .iter()
            .all(|n| n.command(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        {
            assert!(start.elapsed() < DEADLINE, "the cluster never agreed");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self { nodes, dir })
    }

    /// The gateway's URL for it: the first node, the others as `node=` seeds.
    pub fn url(&self) -> String {
        let seeds: Vec<String> = self.nodes[1..]
            .iter()
            .map(|n| format!("node=127.0.0.1:{}", n.port))
            .collect();
        format!(
            "redis-cluster://127.0.0.1:{}?{}",
            self.nodes[0].port,
            seeds.join("&")
        )
    }

    /// Runs a one-key command on the node that owns the key.
    pub fn command(&self, args: &[&str]) -> String {
        self.nodes
            .iter()
            .map(|n| n.command(args))
            .find(|reply| !reply.starts_with("ERR MOVED"))
            .expect("a node owns the key")
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A gateway on `upstream` whose sessions live in `redis`, with extra settings.
pub fn redis_gateway(upstream: &str, redis: &Redis, env: &[(&str, &str)]) -> Gateway {
    gateway_on(upstream, &redis.url, env)
}

/// A gateway on `upstream` whose sessions live at `redis_url` (any topology), sealed
/// under [`ENCRYPTION_KEY`] unless `env` lists other keys.
pub fn gateway_on(upstream: &str, redis_url: &str, env: &[(&str, &str)]) -> Gateway {
    let mut all = vec![
        ("WDGATE_SESSION_STORE", "redis"),
        ("WDGATE_SESSION_REDIS_URL", redis_url),
        ("WDGATE_SESSION_ENCRYPTION_KEYS", ENCRYPTION_KEY),
    ];
    all.extend_from_slice(env);
    Gateway::start(upstream, &all)
}

/// The key that seals what the tests' gateways keep in Redis (32 random bytes, base64).
pub const ENCRYPTION_KEY: &str = "x8Q9GHOiZ7tE7uI35QTi7d0/VVBAOsWlJusXCltOZns=";

/// A second key, for rotation tests.
pub const OTHER_ENCRYPTION_KEY: &str = "nwiO7BUbuJMP+jojxNGQ7vIIOXCifPkT/6jadhUsxzQ=";

/// The session record stored under `key` (sealed with [`ENCRYPTION_KEY`]), opened, as
/// JSON; panics if it is not a well-formed sealed session.
pub fn open_session(redis: &Redis, key: &str) -> Value {
    let stored = redis.command(&["GET", key]);
    let (end, sealed) = stored.split_once('.').expect("`{end}.{sealed}`");
    let plain = sealer().open(key, sealed).expect("the record opens");
    let record: Value = serde_json::from_slice(&plain).expect("JSON inside");
    assert_eq!(
        end,
        record["expires_at"].to_string(),
        "the clear end is the sealed one"
    );
    record
}

/// Stores `record` under `key` as the gateway would (sealed, its end in clear), for
/// `ttl_ms`.
pub fn put_session(redis: &Redis, key: &str, record: &Value, ttl_ms: u64) {
    let sealed = sealer()
        .seal(key, record.to_string().as_bytes())
        .expect("seal");
    let stored = format!("{}.{sealed}", record["expires_at"]);
    let ttl = ttl_ms.to_string();
    assert_eq!(redis.command(&["SET", key, &stored, "PX", &ttl]), "OK");
}

fn sealer() -> Sealer {
    Sealer::new(&[ENCRYPTION_KEY]).expect("a good key")
}

/// The device-id key every replica in a test shares (replicas must agree on ids).
pub const ID_KEY: &str = "replicas-share-this-device-id-key";

/// Two ready replicas on `upstream` whose sessions live at `redis_url`, with `env`.
pub async fn replicas_on(
    upstream: &str,
    redis_url: &str,
    env: &[(&str, &str)],
) -> (Gateway, Gateway) {
    let a = gateway_on(upstream, redis_url, env);
    let b = gateway_on(upstream, redis_url, env);
    wait_ready(&a).await;
    wait_ready(&b).await;
    (a, b)
}

/// The Redis key of `token`'s session.
pub fn session_key(token: &str) -> String {
    let hash = TokenHash::from_presented(token).expect("a token");
    format!("wdgate:session:{}", hash.to_hex())
}

/// Polls `GET /me` every 5 ms until it answers 401; returns how long after `since`.
pub async fn time_to_401(gw: &Gateway, token: &str, since: Instant) -> Duration {
    loop {
        let r = gw.get("/me", Some(token)).await;
        if r.status == 401 {
            r.assert_problem(401, "invalid_token");
            return since.elapsed();
        }
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(since.elapsed() < DEADLINE, "the session never ended here");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How long [`wait_ready`] waits. A fresh Redis Cluster took 2.4 to 11.6 s to become
/// usable to a gateway on a loaded two-core machine (fred's first topology sync retries
/// with backoff), close enough to [`DEADLINE`] to fail now and then; this is a bound, not
/// a wait: a gateway that is ready sooner returns at once.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// Waits until `GET /readyz` answers 200 (Redis connected, invalidations subscribed);
/// past [`READY_DEADLINE`], fails with the last answer and the gateway's log, so a slow start
/// says why.
pub async fn wait_ready(gw: &Gateway) {
    let start = Instant::now();
    loop {
        let r = gw.get("/readyz", None).await;
        if r.status == 200 {
            return;
        }
        assert!(
            start.elapsed() < READY_DEADLINE,
            "not ready within {READY_DEADLINE:?}: {} {}\nlog:\n{}",
            r.status,
            r.text,
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
