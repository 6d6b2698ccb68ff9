//! The upstream connection pool over real sockets: CGI calls reuse keep-alive
//! connections, a connection the server closed while idle costs no failed call and
//! repeats no write, idle connections close after `upstream.pool_idle_timeout_secs`,
//! and `upstream.pool_max_idle = 0` keeps none. A TCP relay in front of the simulator
//! counts the connections and can close them all, as an IIS server closes idle
//! keep-alive connections.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{Gateway, Sim, wait_until};
use reqwest::Method;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

const DEVICES: &str = "/me/2fa-devices";

/// Connections relayed to the simulator, byte for byte.
struct Relay {
    url: String,
    opened: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

/// Counts a relayed connection as open until its task ends or is aborted.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Relay {
    async fn start(sim: &Sim) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (opened, open) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let target = sim.addr;
        let (counted, now, handles) = (opened.clone(), open.clone(), tasks.clone());
        tokio::spawn(async move {
            while let Ok((mut downstream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                now.fetch_add(1, Ordering::SeqCst);
                let guard = Open(now.clone());
                let task = tokio::spawn(async move {
                    let _guard = guard;
                    let mut upstream = TcpStream::connect(target).await.expect("the simulator");
                    let _ = tokio::io::copy_bidirectional(&mut downstream, &mut upstream).await;
                });
                handles.lock().expect("tasks").push(task.abort_handle());
            }
        });
        Self {
            url,
            opened,
            open,
            tasks,
        }
    }

    fn opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Closes every relayed connection, as a server closes its idle ones.
    async fn close_all(&self) {
        for task in self.tasks.lock().expect("tasks").drain(..) {
            task.abort();
        }
        wait_until(|| async { self.open() == 0 }).await;
    }
}

/// A gateway on the relay, its listing cache off so that every read is a 2FGET.
async fn setup(extra: &[(&str, &str)]) -> (Sim, Relay, Gateway, String) {
    let sim = Sim::start().await;
    let relay = Relay::start(&sim).await;
    let mut env = vec![("WDGATE_DEVICES_CACHE_TTL_SECS", "0")];
    env.extend_from_slice(extra);
    let gw = Gateway::start(&relay.url, &env);
    let token = gw.login("demo", "demo").await;
    (sim, relay, gw, token)
}

async fn read_devices(gw: &Gateway, token: &str) -> serde_json::Value {
    let r = gw
        .get(&format!("{DEVICES}?redact=false"), Some(token))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

#[tokio::test]
async fn calls_one_after_another_reuse_one_upstream_connection() {
    let (sim, relay, gw, token) = setup(&[]).await;
    read_devices(&gw, &token).await;
    let (opened, gets) = (relay.opened(), sim.calls("2FGET").await);
    for _ in 0..20 {
        read_devices(&gw, &token).await;
    }
    assert_eq!(
        sim.calls("2FGET").await,
        gets + 20,
        "each read reached Worldox"
    );
    assert_eq!(
        relay.opened(),
        opened,
        "no new upstream connection was made"
    );
}

#[tokio::test]
async fn a_connection_the_server_closed_while_idle_fails_no_call_and_repeats_no_write() {
    // The listing cache on, so that the rename's 2FSET is the first call after the close:
    // a read would be retried after a broken exchange anyway, a write never.
    let sim = Sim::start().await;
    let relay = Relay::start(&sim).await;
    let gw = Gateway::start(&relay.url, &[]);
    for round in 0..5 {
        // A fresh session each round: its first read caches a List_ID no write spent.
        let token = gw.login("demo", "demo").await;
        let listing = read_devices(&gw, &token).await;
        let id = listing["devices"]
            .as_array()
            .and_then(|devices| devices.iter().find(|d| d["name"] != "").cloned())
            .and_then(|d| d["id"].as_str().map(str::to_owned))
            .expect("a device of the demo user");
        relay.close_all().await;
        let (gets, sets) = (sim.calls("2FGET").await, sim.calls("2FSET").await);
        let name = format!("Renamed {round}");
        let r = gw
            .send(
                Method::PATCH,
                &format!("{DEVICES}/{id}"),
                &json!({"name": name}),
                Some(&token),
            )
            .await;
        assert_eq!(r.status, 200, "round {round}: {}", r.text);
        assert_eq!(
            sim.calls("2FGET").await,
            gets,
            "round {round}: the 2FSET came first"
        );
        assert_eq!(
            sim.calls("2FSET").await,
            sets + 1,
            "round {round}: the rename reached Worldox once"
        );
        let listing = read_devices(&gw, &token).await;
        assert!(
            listing["devices"]
                .as_array()
                .is_some_and(|devices| devices.iter().any(|d| d["name"] == name.as_str())),
            "round {round}: {listing}"
        );
    }
}

#[tokio::test]
async fn idle_upstream_connections_close_after_the_idle_timeout() {
    let (_sim, relay, gw, token) = setup(&[("WDGATE_UPSTREAM_POOL_IDLE_TIMEOUT_SECS", "1")]).await;
    read_devices(&gw, &token).await;
    // The gateway closes its idle connections: the relay sees every one end.
    wait_until(|| async { relay.open() == 0 }).await;
    // And the next call opens a fresh one.
    let opened = relay.opened();
    read_devices(&gw, &token).await;
    assert_eq!(relay.opened(), opened + 1);
}

#[tokio::test]
async fn with_no_idle_connections_kept_each_call_has_its_own() {
    let (sim, relay, gw, token) = setup(&[("WDGATE_UPSTREAM_POOL_MAX_IDLE", "0")]).await;
    let (opened, gets) = (relay.opened(), sim.calls("2FGET").await);
    for _ in 0..5 {
        read_devices(&gw, &token).await;
    }
    assert_eq!(sim.calls("2FGET").await, gets + 5);
    assert_eq!(relay.opened(), opened + 5);
    // None is left open for long: each closes once its answer was read.
    wait_until(|| async { relay.open() == 0 }).await;
}
