//! `serve` on a real socket: the caller's address reaches `RMT`, and a drop fault
//! breaks the connection for a real client.

use super::*;
use crate::sim::{Faults, serve};

async fn start(config: &SimConfig) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let sim = Simulator::new(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (base, tokio::spawn(serve(listener, sim)))
}

#[tokio::test]
async fn serve_answers_over_tcp_with_the_callers_address() {
    let (base, server) = start(&SimConfig::default()).await;
    let client = reqwest::Client::new();
    let logon: Value = client
        .post(format!("{base}{CGI_PATH}?LOGON"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(logon_form("tricky", "p+a&s=s%w#rd 1\u{e9}").to_form())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = logon["root"]["data"]["session"].as_str().unwrap();
    assert!(!session.is_empty(), "{logon}");
    // `session` is already URL-encoded: it goes into the URL as it is.
    let set: Value = client
        .post(format!("{base}{CGI_PATH}?2FSET+wd_SID={session}"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(send_form("tricky@example.com").to_form())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(set["root"]["data"]["RMT"], "127.0.0.1");
    assert_eq!(set["root"]["data"]["AC"], "1");
    server.abort();
}

#[tokio::test]
async fn a_drop_fault_breaks_the_response() {
    let config = SimConfig {
        faults: Faults {
            drop_ratio: 1.0,
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let (base, server) = start(&config).await;
    let result = async {
        reqwest::get(format!("{base}{CGI_PATH}?LOGOFF"))
            .await?
            .bytes()
            .await
    }
    .await;
    assert!(result.is_err(), "{result:?}");
    server.abort();
}
