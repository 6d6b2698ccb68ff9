//! The simulator's large document over a real socket: a 100 MiB range of its 200 MiB
//! streams byte-exact (checked against the documented line formula) while the
//! process's resident memory stays flat. Alone in its binary, so no other test's
//! allocations blur the measurement.

mod common;

use common::{Sim, client};
use serde_json::Value;
use wdgate::upstream::cgi::{Params, decode};

const MIB: u64 = 1024 * 1024;

/// Resident memory of this process in KiB (Linux).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Line `n` of the large document, as `src/sim/content.rs` documents it.
fn line(n: u64) -> Vec<u8> {
    let digits = format!("{n:015}");
    format!("large v1        {digits}|{digits}|{digits}\n").into_bytes()
}

async fn cgi(sim: &Sim, command: &str, params: &Params) -> Value {
    let url = format!(
        "{}/cgi-bin/wdwebcgi.exe?{}",
        sim.url(),
        params.to_query(command)
    );
    client()
        .get(url)
        .send()
        .await
        .expect("CGI call")
        .json()
        .await
        .expect("CGI JSON")
}

#[tokio::test]
async fn a_100_mib_range_of_the_large_document_streams_exact_in_flat_memory() {
    let sim = Sim::start().await;
    let logon = sim.direct_logon("demo", "demo").await;
    let sid = decode(logon["root"]["data"]["session"].as_str().unwrap());
    let found = cgi(
        &sim,
        "FINDFILES",
        &Params::new()
            .with("wd_SID", &sid)
            .with("wd_FIND_QUERY", "Ledger"),
    )
    .await;
    let row = &found["root"]["data"][0];
    assert_eq!(row["FN"], "00014999.csv");
    assert_eq!(row["LSZ"], "200.0 MB");
    let list = found["root"]["errorStatus"]["List_ID"].as_str().unwrap();
    let prepared = cgi(
        &sim,
        "DOWNLOAD",
        &Params::new()
            .with("wd_SID", &sid)
            .with("wd_List_ID", list)
            .with("wd_List_RecNum", row["RN"].as_str().unwrap())
            .with("wd_List_Offset", row["LN"].as_str().unwrap()),
    )
    .await;
    let loc = prepared["root"]["data"]["fileLoc"].as_str().unwrap();
    let url = format!("{}{loc}", sim.url());

    let head = client().head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        (200 * MIB).to_string().as_str()
    );
    assert_eq!(head.headers()["content-type"], "text/csv");

    let before = rss_kib();
    let (start, end) = (50 * MIB, 150 * MIB);
    let response = client()
        .get(&url)
        .header("range", format!("bytes={start}-{}", end - 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(
        response.headers()["content-range"],
        format!("bytes {start}-{}/{}", end - 1, 200 * MIB).as_str()
    );
    let mut response = response;
    let mut pending: Vec<u8> = Vec::with_capacity(128 * 1024);
    let mut next_line = start / 64;
    let mut received = 0u64;
    let mut peak = before;
    while let Some(chunk) = response.chunk().await.unwrap() {
        received += chunk.len() as u64;
        pending.extend_from_slice(&chunk);
        let whole = pending.len() / 64 * 64;
        for got in pending[..whole].chunks(64) {
            assert_eq!(got, line(next_line).as_slice(), "line {next_line}");
            next_line += 1;
        }
        pending.drain(..whole);
        if received % (8 * MIB) < chunk.len() as u64 {
            peak = peak.max(rss_kib());
        }
    }
    assert!(pending.is_empty());
    assert_eq!(received, end - start);
    let after = rss_kib();
    peak = peak.max(after);
    let growth_mib = peak.saturating_sub(before) as f64 / 1024.0;
    eprintln!("RSS before {before} KiB, peak {peak} KiB, after {after} KiB: +{growth_mib:.1} MiB");
    assert!(
        growth_mib < 24.0,
        "memory grew {growth_mib:.1} MiB for a 100 MiB body"
    );
}
