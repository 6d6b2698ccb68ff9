//! Documents with bytes: SERVE rereadrecord and its siblings, DOWNLOAD's answers and
//! the IIS file path it points at (ranges, conditionals, 404s), VERLIST, the document
//! faults and the admin routes that watch them.

use axum::http::HeaderMap;
use serde_json::Value;

use super::*;
use crate::sim::Faults;
use crate::upstream::cgi::decode as url_decode;

fn params(sid: &str, extra: &[(&str, &str)]) -> Params {
    let mut params = Params::new().with(param::SID, sid);
    for (name, value) in extra {
        params.push(name, *value);
    }
    params
}

/// A search; its List_ID and rows.
async fn search(sim: &Sim, sid: &str, query: &str) -> (String, Vec<Value>) {
    let v = sim
        .get(
            command::FINDFILES,
            &params(
                sid,
                &[
                    (param::HTML, crate::upstream::fields::template::FILE_LIST),
                    (param::FIND_QUERY, query),
                ],
            ),
        )
        .await;
    let id = list_id(&v);
    (
        id,
        v["root"]["data"].as_array().cloned().unwrap_or_default(),
    )
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

async fn reread(sim: &Sim, sid: &str, list: &str, rn: &str, ln: &str) -> Value {
    sim.get(
        command::SERVE,
        &params(
            sid,
            &[
                (param::HTML, "/v4/filelist/rereadrecord.json"),
                (param::LIST_ID, list),
                (param::LIST_REC_NUM, rn),
                (param::SKIP, ln),
                (param::TAKE, "1"),
            ],
        ),
    )
    .await
}

async fn download(sim: &Sim, sid: &str, list: &str, rn: &str, ln: Option<&str>) -> Value {
    let mut p = params(
        sid,
        &[
            (param::HTML, "v4/fileActions/download.json"),
            (param::LIST_ID, list),
            (param::LIST_REC_NUM, rn),
        ],
    );
    if let Some(ln) = ln {
        p.push(param::LIST_OFFSET, ln);
    }
    sim.get(command::DOWNLOAD, &p).await
}

/// A file GET: status, headers, body bytes.
async fn fetch(
    sim: &Sim,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut builder = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let response = sim
        .router
        .clone()
        .oneshot(builder.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, headers, bytes.to_vec())
}

/// Searches `query`, downloads its first row; the row and the `fileLoc`.
async fn downloaded(sim: &Sim, sid: &str, query: &str) -> (Value, String) {
    let (id, rows) = search(sim, sid, query).await;
    let row = rows[0].clone();
    let v = download(sim, sid, &id, s(&row, "RN"), Some(s(&row, "LN"))).await;
    assert_eq!(v["root"]["errorStatus"]["ErrorCount"], "", "{v}");
    let loc = s(&v["root"]["data"], "fileLoc").to_owned();
    (row, loc)
}

#[tokio::test]
async fn rereadrecord_answers_the_rich_row_with_fields_and_version() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let (id, rows) = search(&sim, &sid, "Settlement").await;
    let row = &rows[0];
    assert_eq!(s(row, "FN"), "00014410.docx");
    let v = reread(&sim, &sid, &id, s(row, "RN"), s(row, "LN")).await;
    let status = &v["root"]["errorStatus"];
    assert_eq!(status["ErrorCount"], "");
    assert_eq!(status["List_ID"], id.as_str());
    assert_eq!(status["wd_List_Count_ALL"], "1");
    assert!(
        status.get("Error").is_none(),
        "serve.md's status has no Error"
    );
    let rich = &v["root"]["data"][0];
    // Keys in the template's order, read from the bytes (a parsed Value sorts them).
    let text = sim
        .raw(
            &params(
                &sid,
                &[
                    (param::HTML, "/v4/filelist/rereadrecord.json"),
                    (param::LIST_ID, &id),
                    (param::LIST_REC_NUM, s(row, "RN")),
                    (param::SKIP, s(row, "LN")),
                    (param::TAKE, "1"),
                ],
            )
            .to_query(command::SERVE),
            None,
            None,
        )
        .await
        .body;
    let row_text = &text[text.find(r#""data":[{"#).unwrap()..];
    let mut keys: Vec<(usize, &str)> = rich
        .as_object()
        .unwrap()
        .keys()
        .map(|k| (row_text.find(&format!("\"{k}\":")).unwrap(), k.as_str()))
        .collect();
    keys.sort();
    let keys: Vec<&str> = keys.into_iter().map(|(_, k)| k).collect();
    assert_eq!(
        keys,
        [
            "XN", "FN", "UPD", "SZ", "CM", "VER", "I", "stFl", "stIc", "HASH", "FPR", "LN", "RN",
            "LID", "F1C", "F1D", "F1N", "F2C", "F2D", "F2N", "F3C", "F3D", "F3N", "F4C", "F4D",
            "F4N", "ACC", "CRTD", "CBID", "CBNM", "LOC", "EXT", "OW", "GT", "Name", "PSD"
        ]
    );
    assert_eq!(rich["VER"], "3");
    assert_eq!(rich["Name"], "Settlement agreement (00014410-3x51615).DOCX");
    assert_eq!(rich["CBNM"], "Litigation");
    assert_eq!(rich["F4N"], "Author");
    assert_eq!(rich["LOC"], "Litigation\\00001\\0010");
    assert_eq!(rich["LID"], id.as_str());
    assert_eq!(rich["HASH"], row["HASH"], "one hash in every kind of row");
    assert_eq!(rich["PSD"], "<undefined>");
    // The row answered is the one at `skip`: a stale line gives another record.
    let (all, rows) = search(&sim, &sid, "").await;
    let other = reread(&sim, &sid, &all, s(&rows[0], "RN"), s(&rows[1], "LN")).await;
    assert_eq!(other["root"]["data"][0]["RN"], rows[1]["RN"]);
    // Without `skip`, the record named is the row answered.
    let named = sim
        .get(
            command::SERVE,
            &params(
                &sid,
                &[
                    (param::HTML, "\\v4\\filelist\\rereadrecord.json"),
                    (param::LIST_ID, &all),
                    (param::LIST_REC_NUM, s(&rows[4], "RN")),
                ],
            ),
        )
        .await;
    assert_eq!(named["root"]["data"][0]["FN"], rows[4]["FN"]);
    assert_eq!(named["root"]["data"][0]["LN"], "5");
    // A record the list lacks, an unknown list, an expired session.
    for (list, rn) in [(id.as_str(), "9"), ("x1234567", "1")] {
        let failed = sim
            .raw(
                &params(
                    &sid,
                    &[
                        (param::HTML, "/v4/filelist/rereadrecord.json"),
                        (param::LIST_ID, list),
                        (param::LIST_REC_NUM, rn),
                    ],
                )
                .to_query(command::SERVE),
                None,
                None,
            )
            .await;
        assert!(
            failed.body.contains("WDRC_LISTID_INVALID"),
            "{}",
            failed.body
        );
    }
    let raw = sim
        .raw(
            &params("nope", &[(param::HTML, "/v4/filelist/rereadrecord.json")])
                .to_query(command::SERVE),
            None,
            None,
        )
        .await;
    assert!(raw.body.contains(r#""CAT_ID":%CATS_JSON%"#), "{}", raw.body);
}

#[tokio::test]
async fn the_checked_out_document_shows_its_holder_to_everyone() {
    let sim = Sim::demo();
    for (user, status) in [("qc1", "48"), ("demo", "49")] {
        let sid = sim.logon(user, user).await;
        let (_, rows) = search(&sim, &sid, "Deposition").await;
        assert_eq!(rows[0]["I"], status, "{user}");
        assert_eq!(rows[0]["CHKOUT_TO_NAME"], "QC User1 (QC1)");
    }
}

#[tokio::test]
async fn serve_pages_lists_probes_sessions_and_answers_missing_templates() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let (id, rows) = search(&sim, &sid, "").await;
    let page = sim
        .get(
            command::SERVE,
            &params(
                &sid,
                &[
                    (param::HTML, "/v4/filelist/fileList.json"),
                    (param::LIST_ID, &id),
                    (param::SKIP, "3"),
                    (param::TAKE, "2"),
                ],
            ),
        )
        .await;
    let paged: Vec<&Value> = page["root"]["data"].as_array().unwrap().iter().collect();
    assert_eq!(paged.len(), 2);
    assert_eq!(paged[0]["FN"], rows[2]["FN"]);
    assert_eq!(paged[0]["LN"], "3");

    let probe = |sid: String| {
        let sim = &sim;
        async move {
            sim.get(
                command::SERVE,
                &params(&sid, &[(param::HTML, "/api/authentication/authCheck.json")]),
            )
            .await
        }
    };
    let alive = probe(sid.clone()).await;
    assert_eq!(alive["user"], "Demo User");
    assert_eq!(alive["ErrorCount"], "");
    let gone = probe("stale$2Fsid".to_owned()).await;
    assert_eq!(gone["user"], "");

    let text = sim
        .get(
            command::SERVE,
            &params(
                &sid,
                &[
                    (param::HTML, "/v4/errorLog/getVar.json"),
                    (param::SZ_VAR, "WDRC_LISTID_INVALID"),
                    ("wd_USER_CODE_ISO2", "us"),
                ],
            ),
        )
        .await;
    assert_eq!(text["root"]["Dialog"][1], "Invalid list ID issue");

    let missing = sim
        .get(
            command::SERVE,
            &params(&sid, &[(param::HTML, "/v4/no/such.json")]),
        )
        .await;
    assert_eq!(missing["error"], 404);
    assert_eq!(missing["wd_Error_RCTX"], "WDRC_FILE_NOT_FOUND");
    assert_eq!(
        missing["wd_Error_MSG"],
        "C:\\WorldoxWeb3\\JSON\\20201120\\v4\\no\\such.jso"
    );
}

#[tokio::test]
async fn download_failures_have_the_documented_shapes() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    // No list: 8525 then 8380, ErrorCount "2".
    let none = download(&sim, &sid, "", "1", Some("1")).await;
    let status = &none["root"]["errorStatus"];
    assert_eq!(status["ErrorCount"], "2");
    assert_eq!(status["Error"][0]["wd_Error_RCID"], "8525");
    assert_eq!(status["Error"][1]["wd_Error_RCID"], "8380");
    assert_eq!(none["root"]["data"]["fileLoc"], "");
    // Offset 0 or missing: a message and no error count.
    let (id, rows) = search(&sim, &sid, "Excel").await;
    for offset in [None, Some("0")] {
        let v = download(&sim, &sid, &id, "2", offset).await;
        assert_eq!(v["root"]["data"]["message"], "0=wd_List_Offset(2)");
        assert!(v["root"]["data"].get("fileLoc").is_none());
        assert_eq!(v["root"]["errorStatus"]["ErrorCount"], "");
    }
    let bad = download(&sim, &sid, &id, "9", Some("1")).await;
    assert_eq!(bad["root"]["data"]["message"], "8275=WDAPI_ReReadRecord(9)");
    // A wrong offset names another row's file, as the template indexes it.
    let v = download(&sim, &sid, &id, s(&rows[0], "RN"), Some("2")).await;
    let name = url_decode(s(&v["root"]["data"], "FileNme"));
    assert!(
        name.contains(s(&rows[1], "FN").split('.').next().unwrap()),
        "{name}"
    );
    assert!(
        s(&v["root"]["data"], "fileLoc").contains(s(&rows[0], "FN").split('.').next().unwrap())
    );
}

#[tokio::test]
async fn download_leaves_a_copy_that_serves_with_ranges_and_updates_access() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let (row, loc) = downloaded(&sim, &sid, "Articles").await;
    assert_eq!(s(&row, "FN"), "00016801.pdf");
    let encoded_sid = crate::upstream::cgi::encode(&sid).replace("%2F", "/");
    let expected_prefix = format!(
        "/cgi-bin/WDSIDS/{}/OPEN/003/00031/0001/",
        sid.replace('$', "%24")
    );
    assert!(loc.starts_with(&expected_prefix), "{loc} vs {encoded_sid}");
    assert!(
        loc.ends_with("Articles%20of%20incorporation%20%2800016801x51615%29.PDF"),
        "{loc}"
    );

    let (status, headers, body) = fetch(&sim, Method::GET, &loc, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.len(), 310_774);
    assert!(body.starts_with(b"%PDF-1.4\n") && body.ends_with(b"%%EOF\n"));
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["content-length"], "310774");
    assert_eq!(headers["accept-ranges"], "bytes");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with(":0\""), "{etag}");
    assert!(headers.contains_key("last-modified"));

    let (status, headers, part) =
        fetch(&sim, Method::GET, &loc, &[("range", "bytes=100-199")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(headers["content-range"], "bytes 100-199/310774");
    assert_eq!(part, body[100..200]);
    let (_, _, tail) = fetch(&sim, Method::GET, &loc, &[("range", "bytes=-6")]).await;
    assert_eq!(tail, b"%%EOF\n");

    let (status, headers, multi) =
        fetch(&sim, Method::GET, &loc, &[("range", "bytes=0-3,10-19")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    let ct = headers["content-type"].to_str().unwrap();
    assert!(ct.starts_with("multipart/byteranges; boundary="), "{ct}");
    assert_eq!(headers["content-length"], multi.len().to_string().as_str());
    let text = String::from_utf8_lossy(&multi);
    assert!(
        text.contains("Content-Range: bytes 0-3/310774\r\n\r\n%PDF"),
        "{text}"
    );
    assert!(text.contains("Content-Range: bytes 10-19/310774"), "{text}");

    let (status, headers, _) = fetch(&sim, Method::GET, &loc, &[("range", "bytes=400000-")]).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(headers["content-range"], "bytes */310774");
    let (status, _, whole) = fetch(&sim, Method::GET, &loc, &[("range", "bytes=x-y")]).await;
    assert_eq!(
        (status, whole.len()),
        (StatusCode::OK, 310_774),
        "a malformed range is ignored"
    );
    let (status, _, _) = fetch(&sim, Method::GET, &loc, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, _) = fetch(
        &sim,
        Method::GET,
        &loc,
        &[("range", "bytes=0-1"), ("if-range", "\"other:0\"")],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "If-Range that does not match: the whole file"
    );
    let (status, headers, head) = fetch(&sim, Method::HEAD, &loc, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-length"], "310774");
    assert!(head.is_empty());

    // ACC and OW changed; the store says so.
    let state = sim.admin(Method::GET, "/_sim/documents", None).await.json();
    let doc = state["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["file_name"] == "00016801.pdf")
        .unwrap();
    assert_eq!(doc["owner"], "Demo User (DEMO)");
    assert_ne!(doc["accessed"], 1_606_140_000);
    assert_eq!(state["copies"], 1);
    assert!(!state.to_string().contains(&sid));
}

#[tokio::test]
async fn copies_are_per_session_and_vanish_with_it() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let other = sim.logon("demo", "demo").await;
    let (_, loc) = downloaded(&sim, &sid, "budget").await;
    let (status, headers, body) = fetch(&sim, Method::GET, &loc, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.len(), 22_871);
    assert!(body.starts_with(b"PK\x03\x04"));
    assert_eq!(
        headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    // Another SID in the path, an unknown one, a path never copied: IIS's 404.
    let theirs = loc.replace(&sid.replace('$', "%24"), &other.replace('$', "%24"));
    for path in [
        theirs.as_str(),
        "/cgi-bin/WDSIDS/nope/OPEN/x.pdf",
        &format!("{loc}x"),
    ] {
        let (status, headers, body) = fetch(&sim, Method::GET, path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(headers["content-type"], "text/html");
        assert!(String::from_utf8_lossy(&body).contains("404 - File or directory not found."));
    }
    // Expired downloads, then LOGOFF.
    sim.admin(Method::POST, "/_sim/expire-downloads", None)
        .await;
    assert_eq!(
        fetch(&sim, Method::GET, &loc, &[]).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, loc) = downloaded(&sim, &sid, "budget").await;
    assert_eq!(fetch(&sim, Method::GET, &loc, &[]).await.0, StatusCode::OK);
    sim.get(command::LOGOFF, &params(&sid, &[])).await;
    assert_eq!(
        fetch(&sim, Method::GET, &loc, &[]).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn verlist_opens_a_list_of_versions_that_download_serves() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let (id, rows) = search(&sim, &sid, "Settlement").await;
    let v = sim
        .get(
            command::VERLIST,
            &params(
                &sid,
                &[
                    (param::LIST_ID, &id),
                    (param::LIST_REC_NUM, s(&rows[0], "RN")),
                    (param::HTML, "/v4/filelist/fileList.json"),
                    (param::SKIP, "0"),
                    (param::TAKE, "100"),
                ],
            ),
        )
        .await;
    let status = &v["root"]["errorStatus"];
    let versions_id = s(status, "List_ID").to_owned();
    assert_ne!(versions_id, id, "a new list");
    assert_eq!(status["List_Count"], "3");
    assert!(
        s(status, "wd_Tab").starts_with("12201:Litigation\\"),
        "{status}"
    );
    let data = v["root"]["data"].as_array().unwrap();
    let column = |k: &str| data.iter().map(|r| s(r, k).to_owned()).collect::<Vec<_>>();
    assert_eq!(column("VER"), ["1", "2", "3"]);
    assert_eq!(column("LN"), ["1", "2", "3"]);
    assert_eq!(column("RN"), ["3", "2", "1"]);
    assert_eq!(column("LID"), [versions_id.as_str(); 3]);
    assert_eq!(column("SZ"), ["29.4 KB", "31.1 KB", "32.6 KB"]);
    assert_eq!(
        s(&data[0], "FPR"),
        "\\\\#\\005\\00001\\0010\\~VER\\1\\00014410.docx"
    );
    assert_eq!(s(&data[2], "FPR"), "\\\\#\\005\\00001\\0010\\00014410.docx");
    assert_eq!(
        s(&data[0], "Name"),
        "Settlement agreement (00014410-1x51615).DOCX"
    );
    assert!(data[0].get("FP").is_some() && data[0].get("CHKOUT_TO_LINE").is_some());

    // Version 1 downloads with its own bytes.
    let d = download(&sim, &sid, &versions_id, "3", Some("1")).await;
    let loc = s(&d["root"]["data"], "fileLoc").to_owned();
    assert!(loc.contains("/~VER/1/"), "{loc}");
    let (_, _, one) = fetch(&sim, Method::GET, &loc, &[]).await;
    assert_eq!(one.len(), 30_100);
    let d = download(&sim, &sid, &versions_id, "1", Some("3")).await;
    let (_, _, three) = fetch(&sim, Method::GET, s(&d["root"]["data"], "fileLoc"), &[]).await;
    assert_eq!(three.len(), 33_412);
    assert_ne!(one[..1000], three[..1000]);
    // Reread works on a version row too.
    let r = reread(&sim, &sid, &versions_id, "3", "1").await;
    assert_eq!(r["root"]["data"][0]["VER"], "1");

    let bad = sim
        .raw(
            &params(
                &sid,
                &[(param::LIST_ID, "x0000001"), (param::LIST_REC_NUM, "1")],
            )
            .to_query(command::VERLIST),
            None,
            None,
        )
        .await;
    assert!(bad.body.contains(r#""CAT_ID":%CATS_JSON%"#));
    assert!(bad.body.contains("WDRC_LISTID_INVALID"));
}

#[tokio::test]
async fn odd_names_are_encoded_as_the_server_does() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let (id, rows) = search(&sim, &sid, "Müller").await;
    assert_eq!(s(&rows[0], "FN"), "00014711.pdf");
    let v = download(&sim, &sid, &id, "1", Some("1")).await;
    let data = &v["root"]["data"];
    assert_eq!(
        data["FileNme"],
        "R%E9sum%E9%20%u2013%20M%FCller%20%2800014711x51615%29.PDF"
    );
    let loc = s(data, "fileLoc");
    assert!(
        loc.ends_with("/R%C3%A9sum%C3%A9%20%E2%80%93%20M%C3%BCller%20%2800014711x51615%29.PDF"),
        "{loc}"
    );
    assert_eq!(fetch(&sim, Method::GET, loc, &[]).await.0, StatusCode::OK);

    let (_, rows) = search(&sim, &sid, "Memo").await;
    assert_eq!(
        s(&rows[0], "XN"),
        r#"<span class='selectedTxt'>Memo</span> "Q4" C:\temp & <draft> 100% + #7"#
    );
}

#[tokio::test]
async fn the_windows_1252_seed_goes_out_as_raw_bytes_unless_switched_off() {
    for (on, expect_utf8) in [(true, false), (false, true)] {
        let sim = Sim::with(&SimConfig {
            faults: Faults {
                cp1252_bytes: on,
                ..Faults::default()
            },
            ..SimConfig::default()
        });
        let sid = sim.logon("demo", "demo").await;
        let query = params(&sid, &[(param::FIND_QUERY, "Correo")]).to_query(command::FINDFILES);
        let request = Request::builder()
            .uri(format!("{CGI_PATH}?{query}"))
            .body(Body::empty())
            .unwrap();
        let response = sim.router.clone().oneshot(request).await.unwrap();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(std::str::from_utf8(&bytes).is_ok(), expect_utf8);
        let needle: &[u8] = if on {
            b"electr\xf3nico"
        } else {
            "electrónico".as_bytes()
        };
        assert!(bytes.windows(needle.len()).any(|w| w == needle));
    }
}

#[tokio::test]
async fn file_faults_and_the_write_fault_apply() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let (_, loc) = downloaded(&sim, &sid, "budget").await;
    let faults = r#"{"download_copy_missing_ratio": 1.0}"#;
    assert_eq!(
        sim.admin(Method::PUT, "/_sim/faults", Some(faults))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        fetch(&sim, Method::GET, &loc, &[]).await.0,
        StatusCode::NOT_FOUND
    );
    sim.admin(Method::PUT, "/_sim/faults", Some("{}")).await;
    assert_eq!(
        fetch(&sim, Method::GET, &loc, &[]).await.0,
        StatusCode::NOT_FOUND,
        "the copy is gone"
    );

    // A reset half-way: the body fails after about half its bytes.
    let (_, loc) = downloaded(&sim, &sid, "budget").await;
    sim.admin(
        Method::PUT,
        "/_sim/faults",
        Some(r#"{"reset_mid_body_ratio": 1.0}"#),
    )
    .await;
    let response = sim
        .router
        .clone()
        .oneshot(Request::builder().uri(&loc).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.headers()["content-length"], "22871");
    assert!(to_bytes(response.into_body(), usize::MAX).await.is_err());

    // Lists stale after a write, when asked for.
    sim.admin(
        Method::PUT,
        "/_sim/faults",
        Some(r#"{"stale_doc_lists_after_write": true}"#),
    )
    .await;
    let (id, rows) = search(&sim, &sid, "budget").await;
    download(&sim, &sid, &id, s(&rows[0], "RN"), Some("1")).await;
    let stale = download(&sim, &sid, &id, "1", Some("1")).await;
    assert_eq!(
        stale["root"]["errorStatus"]["Error"][1]["wd_Error_RCTX"],
        "WDRC_LISTID_INVALID"
    );
    let bad = sim
        .admin(
            Method::PUT,
            "/_sim/faults",
            Some(r#"{"reset_mid_body_ratio": 2}"#),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(start_paused = true)]
async fn copies_end_with_an_idle_session_and_odd_paths_are_404() {
    let sim = Sim::with(&SimConfig {
        sid_idle_secs: 60,
        ..SimConfig::default()
    });
    let sid = sim.logon("demo", "demo").await;
    let (_, loc) = downloaded(&sim, &sid, "budget").await;
    // A file GET does not keep the Worldox session alive.
    tokio::time::advance(std::time::Duration::from_secs(40)).await;
    assert_eq!(fetch(&sim, Method::GET, &loc, &[]).await.0, StatusCode::OK);
    tokio::time::advance(std::time::Duration::from_secs(30)).await;
    assert_eq!(
        fetch(&sim, Method::GET, &loc, &[]).await.0,
        StatusCode::NOT_FOUND
    );
    let state = sim.admin(Method::GET, "/_sim/documents", None).await.json();
    assert_eq!(state["copies"], 0);

    let sid = sim.logon("demo", "demo").await;
    let (_, loc) = downloaded(&sim, &sid, "budget").await;
    let (prefix, name) = loc.rsplit_once('/').unwrap();
    for odd in [
        format!("{prefix}/../{name}"),
        format!("{prefix}/%2e%2e/{name}"),
        loc.replace("/OPEN/", "/SAVE/"),
        format!("{loc}%00"),
        "/cgi-bin/WDSIDS/".to_owned(),
    ] {
        let (status, _, _) = fetch(&sim, Method::GET, &odd, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{odd}");
    }
    // IIS decodes the path: the same copy under another spelling of it.
    for respelled in [
        loc.replace("%24", "$"),
        loc.replace("Quarterly", "%51uarterly"),
    ] {
        assert_eq!(
            fetch(&sim, Method::GET, &respelled, &[]).await.0,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn a_slow_body_trickles() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let (_, loc) = downloaded(&sim, &sid, "Memo").await;
    sim.admin(
        Method::PUT,
        "/_sim/faults",
        Some(r#"{"slow_body_bytes_per_sec": 10000}"#),
    )
    .await;
    let started = std::time::Instant::now();
    let (status, _, body) = fetch(&sim, Method::GET, &loc, &[]).await;
    assert_eq!((status, body.len()), (StatusCode::OK, 2_345));
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn requests_are_recorded_decoded_with_the_sid_redacted() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    search(&sim, &sid, "a+b&c").await;
    let log = sim
        .admin(Method::GET, "/_sim/requests?command=findfiles", None)
        .await
        .json();
    let calls = log["FINDFILES"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    let pairs = calls[0].as_array().unwrap();
    assert!(
        pairs.contains(&serde_json::json!(["wd_SID", "<redacted>"])),
        "{log}"
    );
    assert!(
        pairs.contains(&serde_json::json!(["wd_FIND_QUERY", "a+b&c"])),
        "{log}"
    );
    assert!(!log.to_string().contains(&sid));
    assert!(log.get("LOGON").is_none(), "filtered by command");
    let logons = sim
        .admin(Method::GET, "/_sim/requests?command=LOGON", None)
        .await
        .json();
    let text = logons.to_string();
    assert!(text.contains("wd_User_Code_Value") && !text.contains("\"demo\",\"demo\""));
    assert!(
        logons["LOGON"][0]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(["wd_User_Password_Value", "<redacted>"]))
    );
}
