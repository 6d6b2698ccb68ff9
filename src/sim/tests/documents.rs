//! CABINETS and FINDFILES against the reference's answers, key for key and in order,
//! and value for value where the document set reproduces its examples.

use serde_json::Value;

use super::shape::Json;
use super::*;
use crate::upstream::envelope::Envelope;
use crate::upstream::passthrough::{parse_lenient, quote_bare_placeholders};

const CABINETS_OK: &str = include_str!("../../../tests/fixtures/seeds/cabinets_ok.json");
const CABINETS_FAILED: &str = include_str!("../../../tests/fixtures/seeds/cabinets_failed.json");
const FIND_OK: &str = include_str!("../../../tests/fixtures/seeds/findfiles_ok.json");
const FIND_EMPTY: &str = include_str!("../../../tests/fixtures/seeds/findfiles_empty.json");
const FIND_FAILED: &str = include_str!("../../../tests/fixtures/seeds/findfiles_failed.json");

/// The SIDs whose `wd_Error_VAL` echoes the reference's failed answers show.
const CABINETS_SID: &str = "GZtxRsXj2$2B8MnPlwt8pRFspAvTvLfEtgw0nQWOFs$2BIUTozTGBsr1WTxc6oY$3Dn";
const FIND_SID: &str = "YBWCWEmb24t19GDpPWf9VZwfrTxOBgbaG7JK5H8culn6nD$2Fk1hSqwabPijk$3Dn";

/// Quotes the bare placeholders of a reference or simulator answer so it parses.
fn repaired(text: &str) -> String {
    let fixed = quote_bare_placeholders(text.as_bytes()).unwrap_or_else(|| text.into());
    String::from_utf8(fixed).unwrap()
}

fn skeleton(text: &str) -> String {
    Json::parse(&repaired(text)).skeleton()
}

fn value(text: &str) -> Value {
    serde_json::from_str(&repaired(text)).unwrap()
}

async fn cabinets(sim: &Sim, sid: &str, ids: Option<&str>) -> Answer {
    let mut params = Params::new()
        .with(param::SID, sid)
        .with(param::HTML, crate::upstream::fields::template::CABINETS);
    if let Some(ids) = ids {
        params.push(param::CABINET_ID_VALUE, ids);
    }
    sim.raw(&params.to_query(command::CABINETS), None, None)
        .await
}

async fn find(sim: &Sim, sid: &str, extra: &[(&str, &str)]) -> Answer {
    let mut params = Params::new()
        .with(param::SID, sid)
        .with(param::HTML, crate::upstream::fields::template::FILE_LIST);
    for (name, v) in extra {
        params.push(name, *v);
    }
    sim.raw(&params.to_query(command::FINDFILES), None, None)
        .await
}

fn ids(answer: &Answer) -> Vec<u64> {
    answer.json()["root"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["PGID"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn cabinet_14_equals_the_reference_answer() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let answer = cabinets(&sim, &sid, Some("14")).await;
    assert_eq!(
        skeleton(&answer.body),
        skeleton(CABINETS_OK),
        "{}",
        answer.body
    );
    assert_eq!(answer.json(), value(CABINETS_OK));
}

#[tokio::test]
async fn a_failed_cabinets_answer_is_the_references_bytes_bare_placeholders_and_all() {
    let sim = Sim::demo();
    let answer = cabinets(&sim, CABINETS_SID, None).await;
    assert!(
        answer.body.contains(r#""PGID":%Cabinet_ID%,"#),
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains(r#""Fields":%Cabinet_FIELDS%}"#),
        "{}",
        answer.body
    );
    assert!(serde_json::from_str::<Value>(&answer.body).is_err());
    assert_eq!(skeleton(&answer.body), skeleton(CABINETS_FAILED));
    let mut ours = value(&answer.body);
    // The simulator appends the server's junk to the echoed SID, as 2FGET's seed shows.
    for path in [
        "/root/errorStatus/wd_Error_VAL",
        "/root/errorStatus/Error/0/wd_Error_VAL",
    ] {
        let val = ours.pointer_mut(path).unwrap();
        assert_eq!(*val, format!("{CABINETS_SID}[wy").as_str());
        *val = CABINETS_SID.into();
    }
    assert_eq!(ours, value(CABINETS_FAILED));
    // Quoted, the gateway reads the error inside.
    let envelope = Envelope::from_value(parse_lenient(answer.body.as_bytes()).unwrap()).unwrap();
    assert!(envelope.cause().unwrap().is_sid_invalid());
}

#[tokio::test]
async fn users_see_their_cabinets_and_ids_select_them() {
    let sim = Sim::demo();
    let demo = sim.logon("demo", "demo").await;
    let qc1 = sim.logon("qc1", "qc1").await;
    assert_eq!(ids(&cabinets(&sim, &demo, None).await), [14, 5, 3, 6]);
    assert_eq!(
        ids(&cabinets(&sim, &qc1, Some("0")).await),
        [14, 5, 3, 18, 6]
    );
    assert_eq!(ids(&cabinets(&sim, &demo, Some("5;3, 5")).await), [5, 3]);
    let all = cabinets(&sim, &demo, None).await.json();
    assert_eq!(all["root"]["errorStatus"]["List_Count"], "4");
    assert_eq!(all["root"]["data"][2]["RO"], "1", "Corporate is read-only");
    assert_eq!(all["root"]["data"][3]["L#"], "4");

    for bad in ["18", "99", "x"] {
        let answer = cabinets(&sim, &demo, Some(bad)).await;
        assert_eq!(skeleton(&answer.body), skeleton(CABINETS_FAILED));
        let v = value(&answer.body);
        let status = &v["root"]["errorStatus"];
        assert_eq!(status["wd_Error_RCID"], "8120");
        assert_eq!(status["wd_Error_RCTX"], "WDRC_CABINET_INVALID");
        assert_eq!(status["wd_Error_VAR"], "wd_CABINET_ID_VALUE");
        assert_eq!(status["wd_Error_VAL"], bad);
    }
}

#[tokio::test]
async fn a_search_for_excel_equals_the_reference_answer_but_for_ids_and_hashes() {
    let sim = Sim::demo();
    // qc1 sees every cabinet, as the reference's `?G 14;5;3;18;6` does.
    let sid = sim.logon("qc1", "qc1").await;
    let answer = find(&sim, &sid, &[(param::FIND_QUERY, "Excel")]).await;
    assert_eq!(skeleton(&answer.body), skeleton(FIND_OK), "{}", answer.body);
    let mut ours = answer.json();
    let id = list_id(&ours);
    assert!(id.len() == 8 && id.starts_with('x'), "{id}");
    let mut expected = value(FIND_OK);
    expected["root"]["errorStatus"]["List_ID"] = id.as_str().into();
    let rows = ours["root"]["data"].as_array_mut().unwrap();
    let mut hashes = Vec::new();
    for (row, theirs) in rows
        .iter_mut()
        .zip(expected["root"]["data"].as_array().unwrap())
    {
        let hash = row["HASH"].as_str().unwrap().to_owned();
        assert!(hash.len() == 9 && hash.starts_with('x'), "{hash}");
        hashes.push(hash);
        row["HASH"] = theirs["HASH"].clone();
    }
    assert_eq!(ours, expected);
    // The same rows hash the same; different rows differently.
    let again = find(&sim, &sid, &[(param::FIND_QUERY, "excel")])
        .await
        .json();
    assert_eq!(again["root"]["data"][0]["HASH"], hashes[0].as_str());
    assert_ne!(hashes[0], hashes[1]);
}

#[tokio::test]
async fn a_search_without_matches_is_9105_as_the_reference_shows() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    // qc1's cabinet 18 holds "Salary review"; demo does not see it.
    let answer = find(&sim, &sid, &[(param::FIND_QUERY, "salary")]).await;
    assert_eq!(
        skeleton(&answer.body),
        skeleton(FIND_EMPTY),
        "{}",
        answer.body
    );
    let v = answer.json();
    let (ours, theirs) = (
        &v["root"]["errorStatus"],
        &value(FIND_EMPTY)["root"]["errorStatus"],
    );
    for key in [
        "List_Count",
        "ErrorCount",
        "wd_Error_RCID",
        "wd_Error_RCTX",
        "wd_Error_MSG",
    ] {
        assert_eq!(ours[key], theirs[key], "{key}");
    }
    assert_eq!(ours["Error"], theirs["Error"]);
    assert_eq!(
        ours["wd_Desc"],
        "Find: Name=salary; using Quick Access <Active>"
    );
    assert_eq!(v["root"]["data"], "");
    let envelope = Envelope::parse(answer.body.as_bytes()).unwrap();
    assert!(envelope.is_ok(), "9105 is a success");
}

#[tokio::test]
async fn a_failed_search_equals_the_reference_but_for_the_echo_junk() {
    let sim = Sim::demo();
    let answer = find(&sim, FIND_SID, &[(param::FIND_QUERY, "Excel")]).await;
    assert_eq!(
        skeleton(&answer.body),
        skeleton(FIND_FAILED),
        "{}",
        answer.body
    );
    let mut ours = answer.json();
    let val = &mut ours["root"]["errorStatus"]["wd_Error_VAL"];
    assert_eq!(*val, format!("{FIND_SID}[wy").as_str());
    *val = FIND_SID.into();
    assert_eq!(ours, value(FIND_FAILED));
}

#[tokio::test]
async fn skip_and_take_page_the_newest_first_list() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let all = find(&sim, &sid, &[]).await.json();
    let names: Vec<&str> = all["root"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["FN"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.len(),
        14,
        "every file but cabinet 18's and the one qc1 hid"
    );
    assert_eq!(names[0], "00016801.pdf");
    // `skip` names the first line, 1-based (0 means 1).
    let page = find(&sim, &sid, &[(param::SKIP, "3"), (param::TAKE, "2")])
        .await
        .json();
    assert_eq!(page["root"]["errorStatus"]["List_Count"], "14");
    let rows = page["root"]["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["LN"], "3");
    assert_eq!(rows[0]["FN"], names[2]);
    assert_eq!(rows[1]["FN"], names[3]);
    let first = find(&sim, &sid, &[(param::SKIP, "0"), (param::TAKE, "1")]).await;
    assert_eq!(first.json()["root"]["data"][0]["LN"], "1");
    let past = find(&sim, &sid, &[(param::SKIP, "50")]).await.json();
    assert_eq!(past["root"]["data"], Value::Array(Vec::new()));
    assert_eq!(past["root"]["errorStatus"]["ErrorCount"], "");
}

#[tokio::test]
async fn a_query_with_every_separator_matches_and_is_echoed_intact() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let query = "& Jones: 50% + fees #";
    let v = find(&sim, &sid, &[(param::FIND_QUERY, query)]).await.json();
    let row = &v["root"]["data"][0];
    assert_eq!(row["FN"], "00016702.pdf");
    assert_eq!(
        row["XN"],
        "Smith <span class='selectedTxt'>& Jones: 50% + fees #</span>2"
    );
    assert_eq!(
        v["root"]["errorStatus"]["wd_Raw_Loc"],
        format!("?E {query} | ?G 14;5;3;6 ?R D ?@Quick Access").as_str()
    );
}

/// The file names a search answers, in line order.
async fn found(sim: &Sim, sid: &str, query: &str) -> Vec<String> {
    let v = find(sim, sid, &[(param::FIND_QUERY, query)]).await.json();
    match &v["root"]["data"] {
        Value::Array(rows) => rows
            .iter()
            .map(|r| r["FN"].as_str().unwrap().to_owned())
            .collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn the_query_language_of_the_real_client_is_understood() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let plain = found(&sim, &sid, "Excel").await;
    assert_eq!(plain.len(), 3);
    // The web client sends its quick search as `?D <text>`.
    assert_eq!(found(&sim, &sid, "?D Excel").await, plain);
    assert_eq!(found(&sim, &sid, "?E Excel").await, plain);
    assert_eq!(found(&sim, &sid, "?t excel").await, plain);
    // `?D` also finds a DOCID, leading zeros or not.
    assert_eq!(found(&sim, &sid, "?D 15655").await, ["00015655.xlsx"]);
    assert_eq!(found(&sim, &sid, "?D 00015655").await, ["00015655.xlsx"]);
    // OR widens, AND narrows; `?G` picks cabinets.
    let either = found(&sim, &sid, "?D 15655 OR ?E Engagement").await;
    assert_eq!(either.len(), 2, "{either:?}");
    assert_eq!(
        found(&sim, &sid, "?E Excel AND ?E Sutter").await,
        ["00015577.xlsx"]
    );
    let cabinet_14 = found(&sim, &sid, "?G 14").await;
    assert!(!cabinet_14.is_empty());
    let v = find(&sim, &sid, &[(param::FIND_QUERY, "?G 14")])
        .await
        .json();
    for row in v["root"]["data"].as_array().unwrap() {
        assert_eq!(row["CBID"], "14");
    }
    // The reference's own echo reads back as its query.
    assert_eq!(
        found(&sim, &sid, "?E Excel | ?G 14;5;3;18;6 ?R D ?@Quick Access").await,
        plain
    );
}

#[tokio::test]
async fn an_unknown_project_is_8275() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let v = find(
        &sim,
        &sid,
        &[(param::FIND_QUERY, "Project: %WDTEMPPATH%\\$WD1.WDL")],
    )
    .await
    .json();
    assert_eq!(
        v["root"]["errorStatus"]["wd_Error_RCTX"],
        "WDRC_FILE_NOT_FOUND"
    );
}
