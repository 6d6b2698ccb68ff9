//! Worldox answers the reference shows that the simple reading gets wrong, through the
//! passthrough over real sockets: Windows-1252 bytes inside "JSON", several errors in
//! one answer, the "empty result" codes, and commands with budgets of their own.

mod common;

use std::time::Duration;

use common::front::{Misbehave, front};
use common::{Gateway, Reply, Sim, client};

/// A FINDFILES success whose description is CATLIST's example text in Windows-1252
/// (`ó` is byte 0xF3, `é` 0xE9): not UTF-8, so not JSON as sent.
const CP1252_ANSWER: &[u8] = b"{\"root\":{\"errorStatus\":{\"List_ID\":\"x2304DA0\",\"ErrorCount\":\"\",\"Error\":\"\"},\"data\":[{\"LN\":\"1\",\"RN\":\"1\",\"XN\":\"electr\xf3nico, s\xf3lo del men\xfa Kepl\xe9w\",\"FN\":\"00015655.xlsx\"}]}}";

/// DOWNLOAD without a list, as the reference shows it: 8525 first, 8380 second.
const TWO_ERRORS: &[u8] = br#"{"root":{"data":{"message":""},"errorStatus":{"ErrorCount":"2","wd_Error_RCID":"8525","wd_Error_RCTX":"WDRC_PATH_INVALID","wd_Error_MSG":"WDRC_PATH_INVALID","Error":[{"wd_Error_RCID":"8525","wd_Error_RCTX":"WDRC_PATH_INVALID","wd_Error_MSG":"WDRC_PATH_INVALID","wd_Error_VAR":"","wd_Error_VAL":""},{"wd_Error_RCID":"8380","wd_Error_RCTX":"WDRC_LISTID_UNDEFINED","wd_Error_MSG":"Undefined list ID issue","wd_Error_VAR":"wd_List_ID","wd_Error_VAL":""}]}}}"#;

/// A search that found nothing, said the way the real client treats as "no results".
const NOTHING_FOUND: &[u8] = br#"{"root":{"data":"","errorStatus":{"List_ID":"x2304DA1","ErrorCount":"1","Error":[{"wd_Error_RCID":"9110","wd_Error_RCTX":"WDRC_ZERO_FOUND_FILTER","wd_Error_MSG":"No files found","wd_Error_VAR":"","wd_Error_VAL":""}]}}}"#;

async fn wd_get(gw: &Gateway, token: &str, command: &str) -> Reply {
    let url = gw.url(&format!("/wd/{command}?wd_List_ID=x1&wd_List_RecNum=1"));
    Reply::read(
        client()
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn an_answer_in_windows_1252_is_decoded_not_refused() {
    let sim = Sim::start().await;
    let (front, _) = front(&sim.url(), "FINDFILES", Misbehave::Answer(CP1252_ANSWER)).await;
    let gw = Gateway::start(&front, &[]);
    let token = gw.login("demo", "demo").await;
    let r = wd_get(&gw, &token, "FINDFILES").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["root"]["data"][0]["XN"],
        "electrónico, sólo del menú Kepléw"
    );
    let metrics = gw.get("/metrics", None).await.text;
    assert!(
        metrics.contains("wdgate_upstream_charset_fallback_total{command=\"FINDFILES\"} 1"),
        "{metrics}"
    );
}

/// A FINDFILES success with one record stored as UTF-8 and one in Windows-1252, as
/// Worldox keeps each description in the bytes it was saved in.
const MIXED_ANSWER: &[u8] = b"{\"root\":{\"errorStatus\":{\"List_ID\":\"x2304DA2\",\"ErrorCount\":\"\",\"Error\":\"\"},\"data\":[{\"LN\":\"1\",\"RN\":\"1\",\"XN\":\"R\xc3\xa9sum\xc3\xa9 \xe2\x80\x93 M\xc3\xbcller\",\"FN\":\"00014711.pdf\"},{\"LN\":\"2\",\"RN\":\"2\",\"XN\":\"Correo electr\xf3nico\",\"FN\":\"00014805.txt\"}]}}";

#[tokio::test]
async fn an_answer_mixing_utf8_and_windows_1252_keeps_both_readable() {
    let sim = Sim::start().await;
    let (front, _) = front(&sim.url(), "FINDFILES", Misbehave::Answer(MIXED_ANSWER)).await;
    let gw = Gateway::start(&front, &[]);
    let token = gw.login("demo", "demo").await;
    let r = wd_get(&gw, &token, "FINDFILES").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["root"]["data"][0]["XN"],
        "R\u{e9}sum\u{e9} \u{2013} M\u{fc}ller"
    );
    assert_eq!(r.json["root"]["data"][1]["XN"], "Correo electr\u{f3}nico");
}

#[tokio::test]
async fn without_a_fallback_such_an_answer_is_502() {
    let sim = Sim::start().await;
    let (front, _) = front(&sim.url(), "FINDFILES", Misbehave::Answer(CP1252_ANSWER)).await;
    let gw = Gateway::start(&front, &[("WDGATE_UPSTREAM_CHARSET_FALLBACK", "none")]);
    let token = gw.login("demo", "demo").await;
    wd_get(&gw, &token, "FINDFILES")
        .await
        .assert_problem(502, "upstream_bad_answer");
}

#[tokio::test]
async fn the_list_error_decides_a_two_error_answer() {
    let sim = Sim::start().await;
    let (front, _) = front(&sim.url(), "DOWNLOAD", Misbehave::Answer(TWO_ERRORS)).await;
    let gw = Gateway::start(&front, &[]);
    let token = gw.login("demo", "demo").await;
    let r = wd_get(&gw, &token, "DOWNLOAD").await;
    // WDRC_PATH_INVALID alone would be 422; the missing list is the cause: 409.
    r.assert_problem(409, "upstream_error");
    assert_eq!(r.json["upstream"]["rctx"], "WDRC_LISTID_UNDEFINED");
}

#[tokio::test]
async fn an_empty_result_code_is_a_200() {
    let sim = Sim::start().await;
    let (front, _) = front(&sim.url(), "FINDFILES", Misbehave::Answer(NOTHING_FOUND)).await;
    let gw = Gateway::start(&front, &[]);
    let token = gw.login("demo", "demo").await;
    let r = wd_get(&gw, &token, "FINDFILES").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["root"]["errorStatus"]["List_ID"], "x2304DA1");
    // An operator who wants only 9105 read so gets the code back as an error.
    let gw = Gateway::start(
        &front,
        &[(
            "WDGATE_UPSTREAM_EMPTY_RESULT_CODES",
            "WDRC_ZERO_PROJECT_CLEAN",
        )],
    );
    let token = gw.login("demo", "demo").await;
    let r = wd_get(&gw, &token, "FINDFILES").await;
    r.assert_problem(502, "upstream_error");
    assert_eq!(r.json["upstream"]["rctx"], "WDRC_ZERO_FOUND_FILTER");
}

#[tokio::test]
async fn a_command_with_its_own_budget_may_take_longer() {
    let sim = Sim::start().await;
    let hold = Duration::from_millis(600);
    let (slow_find, _) = front(&sim.url(), "FINDFILES", Misbehave::Delay(hold)).await;
    let (slow_cabinets, _) = front(&sim.url(), "CABINETS", Misbehave::Delay(hold)).await;
    let dir = std::env::temp_dir().join(format!("wdgate-budgets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("wdgate.toml");
    std::fs::write(
        &config,
        "[upstream]\ntimeout_ms = 200\n[upstream.command_timeouts_ms]\nFINDFILES = 5000\n",
    )
    .expect("config");
    let config = config.to_string_lossy().into_owned();
    let start = |upstream: &str| {
        Gateway::start_with_args(&["--config", &config, "--upstream", upstream], &[])
    };
    let gw = start(&slow_find);
    let token = gw.login("demo", "demo").await;
    let r = wd_get(&gw, &token, "FINDFILES").await;
    assert_eq!(r.status, 200, "FINDFILES has 5 s: {}", r.text);
    let gw = start(&slow_cabinets);
    let token = gw.login("demo", "demo").await;
    wd_get(&gw, &token, "CABINETS")
        .await
        .assert_problem(504, "upstream_timeout");
}
