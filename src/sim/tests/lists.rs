//! Document lists: FINDFILES opens one per search, SORTFILES re-sorts and pages it,
//! CLOSELIST frees it; lists belong to one SID and end with it.

use serde_json::Value;

use super::*;

fn params(sid: &str, extra: &[(&str, &str)]) -> Params {
    let mut params = Params::new()
        .with(param::SID, sid)
        .with(param::HTML, crate::upstream::fields::template::FILE_LIST);
    for (name, value) in extra {
        params.push(name, *value);
    }
    params
}

/// A search for every file; its List_ID and answer.
async fn search(sim: &Sim, sid: &str) -> (String, Value) {
    let v = sim.get(command::FINDFILES, &params(sid, &[])).await;
    let id = v["root"]["errorStatus"]["List_ID"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, v)
}

fn column(v: &Value, key: &str) -> Vec<String> {
    v["root"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[key].as_str().unwrap().to_owned())
        .collect()
}

fn rctx(v: &Value) -> &str {
    v["root"]["errorStatus"]["wd_Error_RCTX"].as_str().unwrap()
}

#[tokio::test]
async fn sortfiles_renumbers_lines_and_keeps_record_numbers() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let (id, newest) = search(&sim, &sid).await;
    let by_name = sim
        .get(
            command::SORTFILES,
            &params(
                &sid,
                &[
                    (param::LIST_ID, &id),
                    (param::SORT_KEY, "5348"),
                    (param::SORT_DIR, "0"),
                ],
            ),
        )
        .await;
    assert_eq!(by_name["root"]["errorStatus"]["List_ID"], id.as_str());
    let names = column(&by_name, "FN");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "ascending by DOCID file name");
    let lines: Vec<String> = (1..=14).map(|n| n.to_string()).collect();
    assert_eq!(column(&by_name, "LN"), lines);
    // A file keeps its RN whatever the order.
    let rn_of = |v: &Value, file: &str| {
        v["root"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["FN"] == file)
            .map(|r| r["RN"].clone())
            .unwrap()
    };
    for file in &names {
        assert_eq!(rn_of(&newest, file), rn_of(&by_name, file), "{file}");
    }
    // And it pages: lines 2 and 3 of the new order.
    let page = sim
        .get(
            command::SORTFILES,
            &params(
                &sid,
                &[
                    (param::LIST_ID, &id),
                    (param::SKIP, "2"),
                    (param::TAKE, "2"),
                ],
            ),
        )
        .await;
    assert_eq!(column(&page, "FN"), names[1..3]);
    assert_eq!(column(&page, "LN"), ["2", "3"]);
}

#[tokio::test]
async fn closelist_frees_a_list_and_later_uses_of_it_are_stale() {
    let sim = Sim::demo();
    let sid = sim.logon("demo", "demo").await;
    let (id, _) = search(&sim, &sid).await;
    let closed = sim
        .get(command::CLOSELIST, &params(&sid, &[(param::LIST_ID, &id)]))
        .await;
    assert_eq!(closed["root"]["errorStatus"]["ErrorCount"], "");
    assert_eq!(closed["root"]["data"], "");
    let again = sim
        .get(command::SORTFILES, &params(&sid, &[(param::LIST_ID, &id)]))
        .await;
    assert_eq!(rctx(&again), "WDRC_LISTID_INVALID");
    let twice = sim
        .get(command::CLOSELIST, &params(&sid, &[(param::LIST_ID, &id)]))
        .await;
    assert_eq!(rctx(&twice), "WDRC_LISTID_INVALID");
    let none = sim.get(command::CLOSELIST, &params(&sid, &[])).await;
    assert_eq!(rctx(&none), "WDRC_LISTID_UNDEFINED");
    assert_eq!(none["root"]["errorStatus"]["ErrorCount"], "1");
}

#[tokio::test]
async fn a_list_belongs_to_its_sid_and_ends_with_it() {
    let sim = Sim::demo();
    let mine = sim.logon("demo", "demo").await;
    let theirs = sim.logon("demo", "demo").await;
    let (id, _) = search(&sim, &mine).await;
    let stolen = sim
        .get(
            command::SORTFILES,
            &params(&theirs, &[(param::LIST_ID, &id)]),
        )
        .await;
    assert_eq!(rctx(&stolen), "WDRC_LISTID_INVALID");
    assert_eq!(
        sim.sim
            .with_state(|s| s.open_lists().iter().map(|(_, n)| n).sum::<usize>()),
        1
    );
    sim.sim.with_state(|s| s.end_session(&mine));
    assert!(sim.sim.with_state(|s| s.open_lists().is_empty()));
}

#[tokio::test]
async fn a_sid_holding_too_many_lists_loses_its_oldest() {
    let sim = Sim::with(&SimConfig {
        max_lists_per_session: 2,
        ..SimConfig::default()
    });
    let sid = sim.logon("demo", "demo").await;
    let (first, _) = search(&sim, &sid).await;
    let (second, _) = search(&sim, &sid).await;
    let (third, _) = search(&sim, &sid).await;
    for (id, stale) in [(first, true), (second, false), (third, false)] {
        let v = sim
            .get(command::SORTFILES, &params(&sid, &[(param::LIST_ID, &id)]))
            .await;
        assert_eq!(rctx(&v) == "WDRC_LISTID_INVALID", stale, "{id}");
    }
}

#[tokio::test]
async fn skip_can_be_zero_based_by_switch() {
    let sim = Sim::with(&SimConfig {
        skip_base: 0,
        ..SimConfig::default()
    });
    let sid = sim.logon("demo", "demo").await;
    let v = sim
        .get(
            command::FINDFILES,
            &params(&sid, &[(param::SKIP, "2"), (param::TAKE, "1")]),
        )
        .await;
    assert_eq!(column(&v, "LN"), ["3"]);
}
