//! The `wdgate` command line: config loading, errors, and demo mode.

mod common;

use std::process::Command;

use common::Gateway;
use serde_json::json;

fn wdgate(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wdgate"));
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, _) in std::env::vars() {
        if k.starts_with("WDGATE_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run wdgate")
}

#[test]
fn check_config_prints_the_effective_config_with_secrets_redacted() {
    let out = wdgate(
        &["check-config"],
        &[(
            "WDGATE_UPSTREAM_URL",
            "https://svc:hunter2@worldox.example.com",
        )],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("url = \"https://***@worldox.example.com\""),
        "{text}"
    );
    assert!(!text.contains("hunter2"));
    assert!(
        text.contains("[session]") && text.contains("idle_timeout_secs = 1800"),
        "{text}"
    );
}

#[test]
fn the_shipped_config_files_are_valid() {
    let out = wdgate(&["--config", "config/wdgate.toml", "check-config"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_config_exits_non_zero_naming_the_key() {
    let dir = std::env::temp_dir().join(format!("wdgate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let bad_file = dir.join("bad.toml");
    std::fs::write(&bad_file, "[session]\nidel_timeout_secs = 5\n").expect("write");
    let bad_file = bad_file.to_string_lossy().into_owned();
    /// Arguments, environment, and the key the error must name.
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            vec!["serve"],
            vec![("WDGATE_SESSION_IDLE_TIMEOUT_SECS", "0")],
            "session.idle_timeout_secs",
        ),
        (
            vec!["serve", "--upstream", "ftp://x"],
            vec![],
            "upstream.url",
        ),
        (
            vec!["--config", &bad_file, "serve"],
            vec![],
            "idel_timeout_secs",
        ),
        (
            vec!["--config", "/nonexistent/wdgate.toml", "check-config"],
            vec![],
            "/nonexistent/wdgate.toml",
        ),
        (
            vec!["check-config"],
            vec![("WDGATE_BOGUS", "1")],
            "WDGATE_BOGUS",
        ),
    ];
    for (args, env, key) in cases {
        let out = wdgate(&args, &env);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(key), "{args:?}: {err:?} should name {key}");
        assert!(
            out.stdout.is_empty(),
            "nothing is served: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = wdgate(
        &[
            "serve",
            "--listen",
            &addr,
            "--upstream",
            "http://127.0.0.1:9",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("cannot listen on {addr}")));
}

#[tokio::test]
async fn serve_without_upstream_runs_the_demo_simulator_and_says_so() {
    let gw = Gateway::start_demo(&[]);
    gw.wait_for_log("DEMO MODE").await;
    let log = gw.log();
    assert!(log.contains("demo_users=demo, qc1, tricky"), "{log}");
    let r = gw.login_attempt("demo", "demo").await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn sim_subcommand_serves_a_simulator() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wdgate"))
        .args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--users",
            "config/sim-users.toml",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn sim");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("first line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("announce")
        .to_owned();
    let gw = Gateway::start(&format!("http://{addr}"), &[]);
    let r = gw
        .post_json(
            "/sessions",
            &json!({"username": "alice", "password": "alice-password"}),
            None,
        )
        .await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["user"]["name"], "Alice Example");
}
