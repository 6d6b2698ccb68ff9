//! `GET|HEAD /documents/{id}/content` over real sockets against the simulator: the
//! DOWNLOAD + file GET streamed end to end (bounded memory, backpressure, a reset
//! upstream breaks the client's body), ranges, 304, RFC 6266 names, limits, and no
//! trace of the SID-bearing file path anywhere a client or the log can see.

mod common;

use std::time::{Duration, Instant};

use common::{Gateway, Reply, Sim, client, wait_until};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MIB: u64 = 1024 * 1024;
const LARGE: &str = "/documents/doc_14_00014999/content";
const PDF: &str = "/documents/doc_6_00014711/content";

/// Line `n` (from 0) of the large document, as `src/sim/content.rs` documents it.
fn line(n: u64) -> Vec<u8> {
    let digits = format!("{n:015}");
    format!("large v1        {digits}|{digits}|{digits}\n").into_bytes()
}

/// The gateway's resident memory in KiB.
fn rss_kib(gw: &Gateway) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", gw.pid())).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// A client without a total timeout, for the long transfers.
fn streaming_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

async fn setup(env: &[(&str, &str)]) -> (Sim, Gateway, String) {
    let sim = Sim::start().await;
    let gw = Gateway::start(&sim.url(), env);
    let token = gw.login("demo", "demo").await;
    (sim, gw, token)
}

/// Fails if `text` holds anything of the per-session copy's path or the internal
/// file locations.
fn assert_no_file_path(what: &str, text: &str) {
    for needle in [
        "WDSIDS",
        "/OPEN/",
        "fileLoc",
        "FileZMS",
        "\\WORLDOX",
        "\\\\fs01",
        "%24",
    ] {
        assert!(!text.contains(needle), "{what} holds {needle:?}: {text}");
    }
}

fn headers_text(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())))
        .collect()
}

/// `GET path` with `token`, the answer unread.
async fn get_content(gw: &Gateway, token: &str, path: &str) -> reqwest::Response {
    client()
        .get(gw.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("send")
}

#[tokio::test]
async fn a_document_streams_with_safe_headers_and_an_rfc6266_name() {
    let (sim, gw, token) = setup(&[]).await;
    let r = get_content(&gw, &token, PDF).await;
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    let body = r.bytes().await.expect("body");
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(h("content-type"), "application/pdf");
    assert_eq!(h("content-length"), body.len().to_string());
    assert!(!body.is_empty());
    assert_eq!(h("x-content-type-options"), "nosniff");
    assert!(
        h("content-security-policy").starts_with("sandbox"),
        "{headers:?}"
    );
    assert_eq!(h("cache-control"), "private, no-store");
    assert_eq!(h("accept-ranges"), "bytes");
    assert!(h("etag").starts_with("\"c-00014711-v"), "{headers:?}");
    assert!(h("last-modified").ends_with("GMT"), "{headers:?}");
    assert_eq!(
        h("content-disposition"),
        "attachment; filename=\"R_sum_ _ M_ller (00014711x51615).PDF\"; \
         filename*=UTF-8''R%C3%A9sum%C3%A9%20%E2%80%93%20M%C3%BCller%20%2800014711x51615%29.PDF"
    );
    assert_no_file_path("the headers", &headers_text(&headers));
    assert_no_file_path("the body", &String::from_utf8_lossy(&body));
    // The gateway asked for the copy without FavCatInput, with the row's place.
    let sent = sim
        .admin(reqwest::Method::GET, "requests?command=DOWNLOAD", None)
        .await;
    let params = sent["DOWNLOAD"][0]
        .as_array()
        .expect("one DOWNLOAD")
        .clone();
    let names: Vec<&str> = params.iter().filter_map(|p| p[0].as_str()).collect();
    assert!(!names.contains(&"FavCatInput"), "{names:?}");
    for wanted in ["wd_List_ID", "wd_List_RecNum", "wd_List_Offset"] {
        assert!(names.contains(&wanted), "{wanted} missing: {names:?}");
    }
    let offset = params
        .iter()
        .find(|p| p[0] == "wd_List_Offset")
        .expect("offset");
    assert_ne!(offset[1], "0");
    // HEAD: the same headers, no body.
    let head = client()
        .head(gw.url(PDF))
        .bearer_auth(&token)
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"].to_str().ok(),
        Some(body.len().to_string().as_str())
    );
    assert!(head.bytes().await.expect("body").is_empty());
    assert_no_file_path("the log", &gw.log());
}

#[tokio::test]
async fn ranges_304_and_416_follow_the_content_etag() {
    let (sim, gw, token) = setup(&[]).await;
    let whole = get_content(&gw, &token, PDF).await;
    let etag = whole.headers()["etag"].to_str().expect("etag").to_owned();
    let whole = whole.bytes().await.expect("body");
    let len = whole.len();
    let downloads = sim.calls("DOWNLOAD").await;
    // 304 without preparing a copy.
    let not_modified = client()
        .get(gw.url(PDF))
        .bearer_auth(&token)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("send");
    assert_eq!(not_modified.status(), 304);
    assert_eq!(
        not_modified.headers()["etag"].to_str().ok(),
        Some(etag.as_str())
    );
    assert_eq!(
        sim.calls("DOWNLOAD").await,
        downloads,
        "a 304 needs no copy"
    );
    // A range, with and without a matching If-Range.
    let ranged = client()
        .get(gw.url(PDF))
        .bearer_auth(&token)
        .header("range", "bytes=10-19")
        .header("if-range", &etag)
        .send()
        .await
        .expect("send");
    assert_eq!(ranged.status(), 206);
    assert_eq!(
        ranged.headers()["content-range"].to_str().ok(),
        Some(format!("bytes 10-19/{len}").as_str())
    );
    assert_eq!(ranged.bytes().await.expect("body"), whole.slice(10..20));
    let stale = client()
        .get(gw.url(PDF))
        .bearer_auth(&token)
        .header("range", "bytes=10-19")
        .header("if-range", "\"c-00014711-v9-1\"")
        .send()
        .await
        .expect("send");
    assert_eq!(stale.status(), 200, "a stale If-Range gets the whole file");
    assert_eq!(stale.bytes().await.expect("body"), whole);
    // Several ranges: multipart/byteranges passed through.
    let multi = client()
        .get(gw.url(PDF))
        .bearer_auth(&token)
        .header("range", "bytes=0-1,5-9")
        .send()
        .await
        .expect("send");
    assert_eq!(multi.status(), 206);
    assert!(
        multi.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("multipart/byteranges")
    );
    // Beyond the end: 416 as a problem with the length.
    let beyond = client()
        .get(gw.url(PDF))
        .bearer_auth(&token)
        .header("range", format!("bytes={}-", len + 10))
        .send()
        .await
        .expect("send");
    let beyond = common::Reply::read(beyond).await;
    beyond.assert_problem(416, "range_not_satisfiable");
    assert_eq!(beyond.header("content-range"), format!("bytes */{len}"));
    assert_no_file_path("the log", &gw.log());
}

#[tokio::test]
async fn a_range_of_the_large_document_is_the_generated_lines() {
    let (_sim, gw, token) = setup(&[]).await;
    let start = 150 * MIB + 64 * 7;
    let end = start + 4 * MIB;
    let r = streaming_client()
        .get(gw.url(LARGE))
        .bearer_auth(&token)
        .header("range", format!("bytes={start}-{}", end - 1))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"].to_str().ok(),
        Some(format!("bytes {start}-{}/{}", end - 1, 200 * MIB).as_str())
    );
    assert_eq!(r.headers()["content-type"].to_str().ok(), Some("text/csv"));
    let body = r.bytes().await.expect("body");
    assert_eq!(body.len() as u64, end - start);
    for (i, got) in body.chunks(64).enumerate() {
        assert_eq!(got, line(start / 64 + i as u64).as_slice(), "line {i}");
    }
}

#[tokio::test]
async fn the_whole_large_document_streams_in_bounded_memory() {
    let (_sim, gw, token) = setup(&[]).await;
    // Warm up: a first small transfer, so pools and buffers exist before measuring.
    let warm = get_content(&gw, &token, PDF).await;
    warm.bytes().await.expect("body");
    let before = rss_kib(&gw);
    let mut r = streaming_client()
        .get(gw.url(LARGE))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-length"].to_str().ok(),
        Some((200 * MIB).to_string().as_str())
    );
    let mut received = 0u64;
    let mut peak = before;
    let mut next = 0u64;
    let mut pending = Vec::with_capacity(128 * 1024);
    while let Some(chunk) = r.chunk().await.expect("chunk") {
        received += chunk.len() as u64;
        pending.extend_from_slice(&chunk);
        let whole = pending.len() / 64 * 64;
        if next % 65_536 == 0 || received == 200 * MIB {
            peak = peak.max(rss_kib(&gw));
        }
        for got in pending[..whole].chunks(64) {
            if next % 4096 == 0 {
                assert_eq!(got, line(next).as_slice(), "line {next}");
            }
            next += 1;
        }
        pending.drain(..whole);
    }
    assert_eq!(received, 200 * MIB);
    let growth = peak.saturating_sub(before);
    println!("gateway RSS before {before} KiB, peak {peak} KiB, growth {growth} KiB over 200 MiB");
    assert!(growth < 16 * 1024, "RSS grew by {growth} KiB");
}

#[tokio::test]
async fn a_slow_reader_slows_the_upstream_read() {
    let (_sim, gw, token) = setup(&[]).await;
    let mut r = streaming_client()
        .get(gw.url(LARGE))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let mut received = 0u64;
    while received < MIB {
        received += r.chunk().await.expect("chunk").expect("more").len() as u64;
    }
    let before = rss_kib(&gw);
    // The client stops reading. Without backpressure the gateway would pull the
    // simulator's 200 MiB into memory within this window; watch that it does not.
    let watch = Instant::now();
    let mut peak = before;
    while watch.elapsed() < Duration::from_secs(3) {
        peak = peak.max(rss_kib(&gw));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let growth = peak.saturating_sub(before);
    println!("gateway RSS growth while the client paused: {growth} KiB");
    assert!(growth < 16 * 1024, "the gateway buffered: +{growth} KiB");
    // And the transfer goes on when the client reads again.
    let mut more = 0u64;
    while more < 8 * MIB {
        more += r.chunk().await.expect("chunk").expect("more").len() as u64;
    }
}

#[tokio::test]
async fn an_upstream_reset_mid_body_breaks_the_clients_body() {
    let (sim, gw, token) = setup(&[]).await;
    sim.set_faults(json!({"reset_mid_body_ratio": 1.0})).await;
    let r = streaming_client()
        .get(gw.url(LARGE))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let read = r.bytes().await;
    assert!(read.is_err(), "a broken transfer must not read as complete");
    gw.wait_for_log("a content transfer broke off").await;
    let metrics = client()
        .get(gw.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    let text = metrics.text().await.expect("text");
    assert!(
        text.lines()
            .any(|l| l.starts_with("wdgate_document_transfers_total")
                && l.contains("outcome=\"aborted\"")),
        "{text}"
    );
    assert_no_file_path("the log", &gw.log());
}

#[tokio::test]
async fn a_vanished_copy_is_prepared_again_once_then_502() {
    let (sim, gw, token) = setup(&[]).await;
    sim.set_faults(json!({"download_copy_missing_ratio": 1.0}))
        .await;
    let before = sim.calls("DOWNLOAD").await;
    let r = common::Reply::read(get_content(&gw, &token, PDF).await).await;
    assert_eq!(r.status, 502, "{}", r.text);
    assert_eq!(
        sim.calls("DOWNLOAD").await - before,
        2,
        "one DOWNLOAD again"
    );
    assert_no_file_path("the problem", &r.text);
    assert_no_file_path("the headers", &headers_text(&r.headers));
    assert_no_file_path("the log", &gw.log());
}

#[tokio::test]
async fn transfers_beyond_the_session_share_are_429_with_retry_after() {
    let (_sim, gw, token) = setup(&[("WDGATE_DOCUMENTS_MAX_TRANSFERS_PER_SESSION", "1")]).await;
    let mut held = streaming_client()
        .get(gw.url(LARGE))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(held.status(), 200);
    held.chunk().await.expect("chunk");
    let second = common::Reply::read(get_content(&gw, &token, PDF).await).await;
    second.assert_problem(429, "too_many_requests");
    assert_eq!(second.header("retry-after"), "1");
    drop(held);
    // The place comes back when the transfer ends.
    wait_until(|| async {
        client()
            .get(gw.url(PDF))
            .bearer_auth(&token)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
}

#[tokio::test]
async fn unknown_or_malformed_documents_are_404() {
    let (_sim, gw, token) = setup(&[]).await;
    for path in [
        "/documents/doc_5_99999999/content",
        "/documents/nonsense/content",
        "/documents/doc_5_..%2F..%2Fx/content",
    ] {
        let r = gw.get(path, Some(&token)).await;
        r.assert_problem(404, "not_found");
    }
    let anonymous = gw.get(PDF, None).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn a_stale_list_is_found_again_and_the_download_goes_on() {
    let (sim, gw, token) = setup(&[]).await;
    // The locator's list goes stale: the document is found again and downloaded.
    let first = get_content(&gw, &token, PDF).await;
    assert_eq!(first.status(), 200);
    let whole = first.bytes().await.expect("body");
    // The copy goes too, or the session's copy would answer without any list call.
    sim.admin(reqwest::Method::POST, "invalidate-lists", None)
        .await;
    sim.admin(reqwest::Method::POST, "expire-downloads", None)
        .await;
    let finds = sim.calls("FINDFILES").await;
    let again = get_content(&gw, &token, PDF).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.bytes().await.expect("body"), whole);
    assert!(sim.calls("FINDFILES").await > finds, "found again");
    assert_no_file_path("the log", &gw.log());
}

#[tokio::test]
async fn a_list_that_stays_stale_is_409_after_one_retry() {
    let (sim, gw, token) = setup(&[]).await;
    let first = get_content(&gw, &token, PDF).await;
    assert_eq!(first.status(), 200);
    first.bytes().await.expect("body");
    // Every document list is now stale the moment it is issued: the re-found row's
    // list fails as the first did, and the gateway gives up after one retry.
    sim.set_faults(serde_json::json!({"stale_doc_lists": true}))
        .await;
    // The session's copy is gone, so a DOWNLOAD (on the stale list) is needed.
    sim.admin(reqwest::Method::POST, "expire-downloads", None)
        .await;
    let (downloads, finds) = (sim.calls("DOWNLOAD").await, sim.calls("FINDFILES").await);
    let r = Reply::read(get_content(&gw, &token, PDF).await).await;
    r.assert_problem(409, "upstream_error");
    assert_eq!(
        r.json["upstream"]["rctx"], "WDRC_LISTID_INVALID",
        "{}",
        r.text
    );
    assert_eq!(
        sim.calls("DOWNLOAD").await - downloads,
        2,
        "one retry, no more"
    );
    assert_eq!(sim.calls("FINDFILES").await - finds, 1, "found again once");
    assert_no_file_path("the answer", &r.text);
    assert_no_file_path("the log", &gw.log());
}

#[tokio::test]
async fn eight_concurrent_large_downloads_stay_in_bounded_memory() {
    let (_sim, gw, token) = setup(&[("WDGATE_DOCUMENTS_MAX_TRANSFERS_PER_SESSION", "8")]).await;
    let warm = get_content(&gw, &token, PDF).await;
    warm.bytes().await.expect("body");
    let before = rss_kib(&gw);
    let started = Instant::now();
    let downloads: Vec<_> = (0..8)
        .map(|_| {
            let url = gw.url(LARGE);
            let token = token.clone();
            tokio::spawn(async move {
                let mut r = streaming_client()
                    .get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("send");
                assert_eq!(r.status(), 200);
                let mut received = 0u64;
                while let Some(chunk) = r.chunk().await.expect("chunk") {
                    received += chunk.len() as u64;
                }
                received
            })
        })
        .collect();
    let mut peak = before;
    let mut done = Vec::new();
    for download in downloads {
        while !download.is_finished() {
            peak = peak.max(rss_kib(&gw));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        done.push(download.await.expect("join"));
    }
    let elapsed = started.elapsed();
    assert!(done.iter().all(|&n| n == 200 * MIB), "{done:?}");
    let growth = peak.saturating_sub(before);
    println!(
        "8 × 200 MiB at once: gateway RSS before {before} KiB, peak {peak} KiB, growth {growth} KiB, {:.0} MiB/s in all",
        1600.0 / elapsed.as_secs_f64()
    );
    assert!(growth < 16 * 1024, "RSS grew by {growth} KiB");
}

#[tokio::test]
async fn over_http2_a_reset_mid_body_resets_the_stream() {
    let (sim, gw, token) = setup(&[]).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let whole = h2
        .get(gw.url(PDF))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(whole.version(), reqwest::Version::HTTP_2);
    assert_eq!(whole.status(), 200);
    assert!(!whole.bytes().await.expect("a whole body").is_empty());
    sim.set_faults(json!({"reset_mid_body_ratio": 1.0})).await;
    let broken = h2
        .get(gw.url(LARGE))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(broken.status(), 200);
    assert!(
        broken.bytes().await.is_err(),
        "the HTTP/2 stream must be reset"
    );
}

#[tokio::test]
async fn odd_range_headers_never_break_the_answer() {
    let (_sim, gw, token) = setup(&[]).await;
    let whole = get_content(&gw, &token, PDF).await;
    let whole = whole.bytes().await.expect("body");
    for range in [
        "bytes=abc",
        "items=0-1",
        "bytes=5-1",
        "bytes=99999999999999999999999-",
        "bytes=0-99999999999999999999999",
        "bytes=-0",
        "bytes=,,,,",
        "bytes=0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0",
    ] {
        let r = client()
            .get(gw.url(PDF))
            .bearer_auth(&token)
            .header("range", range)
            .send()
            .await
            .expect("send");
        let status = r.status().as_u16();
        let headers = headers_text(r.headers());
        let body = r.bytes().await.expect("a whole body");
        assert!(matches!(status, 200 | 206 | 416), "{range}: {status}");
        if status == 200 {
            assert_eq!(body, whole, "{range}");
        }
        assert_no_file_path("the headers", &headers);
        assert_no_file_path("the body", &String::from_utf8_lossy(&body));
    }
    assert_no_file_path("the log", &gw.log());
}

/// `GET path` with `token` and `range`, read whole.
async fn get_range(gw: &Gateway, token: &str, path: &str, range: &str) -> (u16, bytes::Bytes) {
    let r = client()
        .get(gw.url(path))
        .bearer_auth(token)
        .header("range", range)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.bytes().await.expect("body"))
}

#[tokio::test]
async fn range_follow_ups_reuse_the_sessions_copy_until_it_is_gone() {
    let (sim, gw, token) = setup(&[]).await;
    let whole = get_content(&gw, &token, PDF).await;
    assert_eq!(whole.status(), 200);
    let whole = whole.bytes().await.expect("body");
    assert_eq!(sim.calls("DOWNLOAD").await, 1);
    for (range, from, to) in [("bytes=0-9", 0, 10), ("bytes=10-19", 10, 20)] {
        let (status, body) = get_range(&gw, &token, PDF, range).await;
        assert_eq!(status, 206);
        assert_eq!(body, whole.slice(from..to));
    }
    assert_eq!(
        sim.calls("DOWNLOAD").await,
        1,
        "range follow-ups reuse the copy"
    );
    assert_eq!(sim.calls("FINDFILES").await, 1, "and the locator");
    assert_eq!(sim.calls("SERVE").await, 0, "within the reread window");
    // The server drops its copies: the next range finds it gone, prepares it again
    // once, and answers the range.
    sim.admin(reqwest::Method::POST, "expire-downloads", None)
        .await;
    let (status, body) = get_range(&gw, &token, PDF, "bytes=20-29").await;
    assert_eq!(status, 206);
    assert_eq!(body, whole.slice(20..30));
    assert_eq!(sim.calls("DOWNLOAD").await, 2);
    let (status, _) = get_range(&gw, &token, PDF, "bytes=30-39").await;
    assert_eq!(status, 206);
    assert_eq!(sim.calls("DOWNLOAD").await, 2, "the new copy is kept");
    // The copy dies with the session.
    assert_eq!(
        gw.delete("/sessions/current", Some(&token)).await.status,
        204
    );
    let token = gw.login("demo", "demo").await;
    let (status, body) = get_range(&gw, &token, PDF, "bytes=0-9").await;
    assert_eq!(status, 206);
    assert_eq!(body, whole.slice(0..10));
    assert_eq!(sim.calls("DOWNLOAD").await, 3, "a new session, a new copy");
    assert_no_file_path("the log", &gw.log());
}

#[tokio::test]
async fn after_the_reread_window_content_costs_one_reread_and_no_download() {
    let (sim, gw, token) = setup(&[("WDGATE_DOCUMENTS_REREAD_AFTER_SECS", "0")]).await;
    let first = get_content(&gw, &token, PDF).await;
    assert_eq!(first.status(), 200);
    let first = first.bytes().await.expect("body");
    let (finds, serves, downloads) = (
        sim.calls("FINDFILES").await,
        sim.calls("SERVE").await,
        sim.calls("DOWNLOAD").await,
    );
    assert_eq!((finds, serves, downloads), (1, 0, 1), "cold: a search");
    let again = get_content(&gw, &token, PDF).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.bytes().await.expect("body"), first);
    assert_eq!(sim.calls("SERVE").await, 1, "one reread");
    assert_eq!(sim.calls("FINDFILES").await, 1);
    assert_eq!(sim.calls("DOWNLOAD").await, 1, "the session's copy");
}

#[tokio::test]
async fn concurrent_range_requests_share_one_download() {
    let (sim, gw, token) = setup(&[]).await;
    // The locator first, so only the copy is missing.
    assert_eq!(
        gw.get("/documents/doc_6_00014711", Some(&token))
            .await
            .status,
        200
    );
    sim.set_faults(json!({"latency_ms": 500})).await;
    let ranges = ["bytes=0-9", "bytes=10-19", "bytes=20-29", "bytes=30-39"];
    let all = futures_util::future::join_all(
        ranges
            .iter()
            .map(|range| get_range(&gw, &token, PDF, range)),
    )
    .await;
    assert!(
        all.iter()
            .all(|(status, body)| *status == 206 && body.len() == 10)
    );
    assert_eq!(sim.calls("DOWNLOAD").await, 1);
}

#[tokio::test]
async fn version_content_is_kept_apart_from_the_current_versions() {
    let (sim, gw, token) = setup(&[]).await;
    let doc = "/documents/doc_5_00014410";
    let paths = [
        format!("{doc}/content"),
        format!("{doc}/versions/3/content"),
        format!("{doc}/versions/1/content"),
    ];
    let mut bodies = Vec::new();
    for path in &paths {
        let r = get_content(&gw, &token, path).await;
        assert_eq!(r.status(), 200, "{path}");
        bodies.push(r.bytes().await.expect("body"));
    }
    assert_eq!(sim.calls("DOWNLOAD").await, 3, "one copy per key");
    for (path, body) in paths.iter().zip(&bodies) {
        let r = get_content(&gw, &token, path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(&r.bytes().await.expect("body"), body, "{path}");
    }
    assert_eq!(sim.calls("DOWNLOAD").await, 3, "each copy reused");
    assert_eq!(bodies[0], bodies[1], "version 3 is the current file");
    assert_ne!(bodies[0], bodies[2], "version 1 is not");
}

#[tokio::test]
async fn a_refused_copy_is_502_and_forgotten() {
    let (sim, gw, token) = setup(&[]).await;
    let first = get_content(&gw, &token, PDF).await;
    assert_eq!(first.status(), 200);
    let whole = first.bytes().await.expect("body");
    sim.set_faults(json!({"download_copy_forbidden": true}))
        .await;
    let refused = Reply::read(get_content(&gw, &token, PDF).await).await;
    refused.assert_problem(502, "upstream_bad_answer");
    assert_eq!(
        sim.calls("DOWNLOAD").await,
        1,
        "a refused path is not prepared again"
    );
    assert_no_file_path("the problem", &refused.text);
    sim.set_faults(json!({})).await;
    let again = get_content(&gw, &token, PDF).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.bytes().await.expect("body"), whole);
    assert_eq!(
        sim.calls("DOWNLOAD").await,
        2,
        "the refused copy was forgotten"
    );
    assert_no_file_path("the log", &gw.log());
}

/// The gateway's `host:port`.
fn authority(gw: &Gateway) -> String {
    gw.url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

/// A raw HTTP/1.1 GET of `path` on its own connection: the stream, the response head,
/// and the body bytes read with it.
async fn raw_get(gw: &Gateway, token: &str, path: &str) -> (TcpStream, String, Vec<u8>) {
    let host = authority(gw);
    let mut stream = TcpStream::connect(&host).await.expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let body = buf[end + 4..].to_vec();
            return (stream, head, body);
        }
        let n = stream.read(&mut chunk).await.expect("read the head");
        assert!(n > 0, "the connection closed before the head");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A header of a raw response head, lowercased name.
fn head_header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

async fn metrics_text(gw: &Gateway) -> String {
    client()
        .get(gw.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

fn transfers_counted(text: &str, outcome: &str) -> bool {
    let label = format!("outcome=\"{outcome}\"");
    text.lines().any(|l| {
        l.starts_with("wdgate_document_transfers_total")
            && l.contains("direction=\"down\"")
            && l.contains(&label)
    })
}

async fn sim_bodies_open(sim: &Sim) -> u64 {
    let stats = sim.admin(reqwest::Method::GET, "stats", None).await;
    stats["file_bodies_open"]
        .as_u64()
        .expect("file_bodies_open")
}

#[tokio::test]
async fn transfer_idle_timeout_aborts_a_stalled_download() {
    let (sim, gw, token) = setup(&[("WDGATE_DOCUMENTS_TRANSFER_IDLE_TIMEOUT_SECS", "1")]).await;
    // The file server sends half of the file, then nothing, keeping the connection.
    sim.set_faults(json!({"stall_mid_body_ratio": 1.0})).await;
    let started = Instant::now();
    let (mut stream, head, mut body) = raw_get(&gw, &token, PDF).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the gateway never gave up on the stalled transfer"
    );
    let waited = started.elapsed();
    println!(
        "stalled download aborted after {waited:?} with {} body bytes",
        body.len()
    );
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert!(waited < Duration::from_secs(15), "{waited:?}");
    // The answer must not look whole: short of its length, or without the last chunk.
    match head_header(&head, "content-length") {
        Some(len) => {
            let len: usize = len.parse().expect("a length");
            assert_eq!(len, 54_321);
            assert!(body.len() < len, "{} of {len} bytes", body.len());
            assert!(!body.is_empty(), "the first half was sent");
        }
        None => {
            assert_eq!(head_header(&head, "transfer-encoding"), Some("chunked"));
            assert!(!body.ends_with(b"0\r\n\r\n"), "a terminal chunk was sent");
        }
    }
    wait_until(|| async { transfers_counted(&metrics_text(&gw).await, "aborted") }).await;
    gw.wait_for_log("a content transfer broke off").await;
    // Both sides are let go: the file server's body is dropped too.
    wait_until(|| async { sim_bodies_open(&sim).await == 0 }).await;
    assert_no_file_path("the log", &gw.log());
}

#[tokio::test]
async fn client_disconnect_mid_download_frees_the_transfer_slot() {
    let (sim, gw, token) = setup(&[("WDGATE_DOCUMENTS_MAX_TRANSFERS_PER_SESSION", "1")]).await;
    let (mut stream, head, mut body) = raw_get(&gw, &token, LARGE).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut chunk = [0u8; 64 * 1024];
    while body.len() < MIB as usize {
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the body ended early");
        body.extend_from_slice(&chunk[..n]);
    }
    assert!(
        body.starts_with(&line(0)),
        "the large document's first line"
    );
    assert_eq!(
        sim_bodies_open(&sim).await,
        1,
        "the upstream body is being read"
    );
    // The session's one place is taken while the client holds the transfer.
    let refused = Reply::read(get_content(&gw, &token, PDF).await).await;
    refused.assert_problem(429, "too_many_requests");
    // The client goes away in the middle of the 200 MiB body.
    drop(stream);
    let dropped = Instant::now();
    wait_until(|| async {
        let r = get_content(&gw, &token, PDF).await;
        r.status() == 200 && r.bytes().await.is_ok_and(|b| b.len() == 54_321)
    })
    .await;
    println!(
        "the place came back {:?} after the disconnect",
        dropped.elapsed()
    );
    // The gateway let go of the upstream body too, and counted the transfer cancelled.
    wait_until(|| async { sim_bodies_open(&sim).await == 0 }).await;
    assert!(transfers_counted(&metrics_text(&gw).await, "cancelled"));
}

#[tokio::test]
async fn a_protected_document_is_found_but_its_content_is_403_access_denied() {
    let (sim, gw, token) = setup(&[]).await;
    const PROTECTED: &str = "/documents/doc_5_00015102";
    let profile = gw.get(PROTECTED, Some(&token)).await;
    assert_eq!(profile.status, 200, "{}", profile.text);
    let downloads = sim.calls("DOWNLOAD").await;
    let r = Reply::read(get_content(&gw, &token, &format!("{PROTECTED}/content")).await).await;
    r.assert_problem(403, "access_denied");
    assert_eq!(
        r.json["upstream"]["rctx"], "WDRC_FILE_ACCESS_DENIED",
        "{}",
        r.text
    );
    assert_eq!(
        sim.calls("DOWNLOAD").await - downloads,
        1,
        "refused, not retried"
    );
    let versions = gw.get(&format!("{PROTECTED}/versions"), Some(&token)).await;
    assert_eq!(versions.status, 200, "{}", versions.text);
    let version =
        Reply::read(get_content(&gw, &token, &format!("{PROTECTED}/versions/1/content")).await)
            .await;
    version.assert_problem(403, "access_denied");
    // The user who protected it opens it.
    let owner = gw.login("qc1", "qc1").await;
    let theirs = get_content(&gw, &owner, &format!("{PROTECTED}/content")).await;
    assert_eq!(theirs.status(), 200);
    let bytes = theirs.bytes().await.expect("body");
    assert!(bytes.starts_with(b"%PDF-"), "a PDF");
    assert_eq!(bytes.len(), 23_456);
    assert_no_file_path("the problem", &r.text);
}
