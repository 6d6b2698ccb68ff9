//! 2FGET and 2FSET: the user's two-factor devices.
//!
//! 2FSET is one command for five operations, told apart by the fields sent: send a
//! code (`wd_2FA_SendToAddr`), verify it (`wd_2FA_WORLDOXREF` + `wd_2FA_ACCESSCODE`),
//! store a new record (`wd_2FA_RecAddress` …), edit one or delete one (`wd_List_ID` +
//! `wd_List_RecNum`, `wd_2FA_RecEnabled=DELETE`).

use std::borrow::Cow;
use std::sync::LazyLock;

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cgi::{FixedParams, Params};
use super::client::{Call, Client, Error, Parsed};
use super::envelope::{ShapeError, Success};
use super::fields::{REC_DELETE, command, filter, param, template};
use super::sid::Sid;

/// What the code is for, as the reference's example sends it.
const SEND_OBJECT: &str = "Worldox";
/// Why the code is sent, as the reference's example sends it.
const SEND_ACTION: &str = "Worldox Web Authentication";

/// 2FGET's parameters after the SID: the same on every call, so encoded once.
static LIST_FIXED: LazyLock<FixedParams> = LazyLock::new(|| {
    FixedParams::new(
        Params::new()
            .with(param::HTML_ON_OK, template::TWO_FA_LIST)
            .with(param::HTML_ON_FAIL, template::TWO_FA_LIST)
            .with(param::LIST_FILTER, filter::SHOW),
    )
});

/// The 2FGET call for `sid`.
fn list_call(sid: &Sid) -> Call<'static> {
    Call {
        command: command::TWO_FA_GET,
        method: Method::GET,
        query: Params::new().with(param::SID, sid.expose()),
        fixed: Some(&*LIST_FIXED),
        form: Params::new(),
    }
}

/// One 2FGET listing: its id and its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// `errorStatus.List_ID`: names this listing for edits and deletes.
    pub list_id: String,
    /// The devices, in `Rec` order.
    pub rows: Vec<DeviceRow>,
}

/// One 2FGET row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRow {
    /// `Rec`: the row's number in this listing (1-based).
    pub rec: u32,
    /// `ADDR`: the address as displayed.
    pub addr: String,
    /// `ADDR.ASIS`: the address as stored (E.164 for phones).
    pub addr_asis: String,
    /// `NAME`: the description.
    pub name: String,
    /// `FLAG`: `Yes` when enabled.
    pub enabled: bool,
}

/// The answer to "send a code".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSent {
    /// `Ref`, e.g. `Worldox 5FFC-B161`: names the code for the verify step.
    pub reference: String,
    /// `Send`: where the code went, masked by the server.
    pub sent_to: String,
}

/// The fields of a record written by 2FSET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// `wd_2FA_RecAddress`.
    pub address: &'a str,
    /// The description.
    pub name: &'a str,
    /// `wd_2FA_RecEnabled`.
    pub enabled: bool,
}

impl Client {
    /// 2FGET, with addresses in clear (`Redact>0`).
    pub async fn list_devices(&self, sid: &Sid) -> Result<Listing, Error> {
        let call = list_call(sid);
        let envelope = match self.call_parsed(&call, fast_listing).await? {
            Parsed::Fast(listing) => return Ok(listing),
            Parsed::Envelope(envelope) => envelope,
        };
        let list_id = envelope
            .list_id
            .ok_or(ShapeError::WrongShape("2FGET answered without a List_ID"))?;
        let rows = parse_rows(&envelope.data)?;
        Ok(Listing { list_id, rows })
    }

    /// 2FSET step 1: sends an access code to `address`.
    pub async fn send_code(&self, sid: &Sid, address: &str) -> Result<CodeSent, Error> {
        let form = Params::new()
            .with(param::SEND_TO_ADDR, address)
            .with(param::SEND_OBJECT, SEND_OBJECT)
            .with(param::SEND_ACTION, SEND_ACTION);
        let envelope = self.call(&set_call(sid, form)).await?;
        let field = |name| {
            envelope
                .data
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let reference = field("Ref");
        if reference.is_empty() {
            return Err(ShapeError::WrongShape("2FSET sent a code without a Ref").into());
        }
        Ok(CodeSent {
            reference: reference.to_owned(),
            sent_to: field("Send").to_owned(),
        })
    }

    /// 2FSET step 2: proves the user received the code.
    pub async fn verify_code(&self, sid: &Sid, reference: &str, code: &str) -> Result<(), Error> {
        let form = Params::new()
            .with(param::WORLDOX_REF, reference)
            .with(param::ACCESS_CODE, code);
        self.call(&set_call(sid, form)).await.map(drop)
    }

    /// 2FSET step 3: stores a new, verified device.
    pub async fn add_device(&self, sid: &Sid, record: &Record<'_>) -> Result<(), Error> {
        let form = Params::new()
            .with(param::REC_ADDRESS, record.address)
            .with(param::REC_CONTACT, record.name)
            .with(param::REC_ENABLED, enabled_flag(record.enabled));
        self.call(&set_call(sid, form)).await.map(drop)
    }

    /// 2FSET edit of row `rec` of listing `list_id`.
    pub async fn edit_device(
        &self,
        sid: &Sid,
        list_id: &str,
        rec: u32,
        record: &Record<'_>,
    ) -> Result<(), Error> {
        let form = listed(list_id, rec, record.address, record.name)
            .with(param::REC_ENABLED, enabled_flag(record.enabled));
        self.call(&set_call(sid, form)).await.map(drop)
    }

    /// 2FSET delete of row `rec` of listing `list_id`.
    pub async fn delete_device(
        &self,
        sid: &Sid,
        list_id: &str,
        rec: u32,
        address: &str,
        name: &str,
    ) -> Result<(), Error> {
        let form = listed(list_id, rec, address, name).with(param::REC_ENABLED, REC_DELETE);
        self.call(&set_call(sid, form)).await.map(drop)
    }
}

/// A 2FSET POST: the SID in the query as the reference shows, the fields in the body.
fn set_call(sid: &Sid, form: Params) -> Call<'static> {
    Call {
        command: command::TWO_FA_SET,
        method: Method::POST,
        query: Params::new()
            .with(param::SID, sid.expose())
            .with(param::HTML_ON_OK, template::TWO_FA_SET)
            .with(param::HTML_ON_FAIL, template::TWO_FA_SET),
        fixed: None,
        form,
    }
}

/// The fields that name an existing row. The reference spells the description
/// `wd_2FA_RecContract` for edits and deletes and `wd_2FA_RecContact` for adds; both
/// are sent so either reading works.
fn listed(list_id: &str, rec: u32, address: &str, name: &str) -> Params {
    Params::new()
        .with(param::LIST_REC_NUM, rec.to_string())
        .with(param::LIST_ID, list_id)
        .with(param::REC_CONTRACT, name)
        .with(param::REC_CONTACT, name)
        .with(param::REC_ADDRESS, address)
}

fn enabled_flag(enabled: bool) -> &'static str {
    if enabled { "1" } else { "0" }
}

/// Reads 2FGET rows, skipping unfilled template rows (`"Rec": "%:R#%"`).
fn parse_rows(data: &Value) -> Result<Vec<DeviceRow>, ShapeError> {
    let rows = match data {
        Value::Array(rows) => rows,
        Value::Null => return Ok(Vec::new()),
        _ => return Err(ShapeError::WrongShape("2FGET data is not an array")),
    };
    fn field<'a>(row: &'a Value, name: &str) -> &'a str {
        row.get(name).and_then(Value::as_str).unwrap_or_default()
    }
    Ok(sorted_rows(rows.iter().filter_map(|row| {
        device_row(RawRow {
            rec: field(row, "Rec").into(),
            addr: field(row, "ADDR").into(),
            addr_asis: field(row, "ADDR.ASIS").into(),
            name: field(row, "NAME").into(),
            flag: field(row, "FLAG").into(),
        })
    })))
}

/// A 2FGET answer that reports no error, read straight from the body: the common
/// case, without the JSON tree [`Envelope::parse`] builds. `None` for anything else
/// (an error, a number where the seeds have a string, an `Error` array, no List_ID),
/// which then takes the general path.
fn fast_listing(body: &[u8]) -> Option<Listing> {
    let Success { data, list_id } = Success::<Vec<RawRow<'_>>>::parse(body)?;
    if list_id.is_empty() {
        return None;
    }
    Some(Listing {
        list_id: list_id.into_owned(),
        rows: sorted_rows(data.into_iter().filter_map(device_row)),
    })
}

/// A row as 2FGET sends it, borrowed from the body where no escape is in the way.
#[derive(Deserialize)]
struct RawRow<'a> {
    #[serde(rename = "Rec", borrow, default)]
    rec: Cow<'a, str>,
    #[serde(rename = "ADDR", borrow, default)]
    addr: Cow<'a, str>,
    #[serde(rename = "ADDR.ASIS", borrow, default)]
    addr_asis: Cow<'a, str>,
    #[serde(rename = "NAME", borrow, default)]
    name: Cow<'a, str>,
    #[serde(rename = "FLAG", borrow, default)]
    flag: Cow<'a, str>,
}

/// The row, unless it is an unfilled template row (its `Rec` not a number).
fn device_row(row: RawRow<'_>) -> Option<DeviceRow> {
    let rec = row.rec.parse::<u32>().ok()?;
    let addr_asis = if row.addr_asis.is_empty() {
        row.addr.clone()
    } else {
        row.addr_asis
    };
    Some(DeviceRow {
        rec,
        addr: row.addr.into_owned(),
        addr_asis: addr_asis.into_owned(),
        name: row.name.into_owned(),
        enabled: row.flag.eq_ignore_ascii_case("yes"),
    })
}

fn sorted_rows(rows: impl Iterator<Item = DeviceRow>) -> Vec<DeviceRow> {
    let mut rows: Vec<DeviceRow> = rows.collect();
    rows.sort_by_key(|d| d.rec);
    rows
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The 2FGET query with its fixed parameters encoded once is the query of all of
    /// them encoded together, and still a read.
    #[test]
    fn the_listing_query_is_the_one_of_all_its_parameters() {
        let sid = Sid::new("mK2JN75CKK2NN643$2Ff2XB$2B/=+&x".to_owned());
        let call = list_call(&sid);
        let mut written = String::new();
        call.push_query(&mut written);
        let whole = Params::new()
            .with(param::SID, sid.expose())
            .with(param::HTML_ON_OK, template::TWO_FA_LIST)
            .with(param::HTML_ON_FAIL, template::TWO_FA_LIST)
            .with(param::LIST_FILTER, filter::SHOW)
            .to_query(command::TWO_FA_GET);
        assert_eq!(written, whole);
        assert!(call.is_read());
        let decoded = crate::upstream::cgi::parse_query(&written);
        assert_eq!(decoded.params.get(param::SID), Some(sid.expose()));
        assert_eq!(decoded.params.get(param::LIST_FILTER), Some(filter::SHOW));
    }

    #[test]
    fn seed_rows_parse_and_placeholders_are_skipped() {
        let data = json!([
            {"Rec": "1", "L": "1", "ADDR": "(551) 655-5721", "ADDR.ASIS": "+15516555721",
             "ADDR.VIEW": "(551) 655-5721", "FLAG": "Yes"},
            {"Rec": "2", "L": "2", "ADDR": "dsnyder@worldox.com", "ADDR.ASIS": "dsnyder@worldox.com",
             "ADDR.VIEW": "dsnyder@worldox.com", "NAME": "John’s Cell", "FLAG": "No"},
            {"Rec": "%:R#%", "L": "%:L#%", "ADDR": "%:ADDR%", "FLAG": "%:FLAG%"}
        ]);
        let rows = parse_rows(&data).expect("rows");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].addr_asis, "+15516555721");
        assert!(rows[0].enabled);
        assert_eq!(rows[0].name, "", "the seed's success rows have no NAME");
        assert_eq!(rows[1].name, "John’s Cell");
        assert!(!rows[1].enabled);
    }

    /// The general path: the envelope's rows, as `list_devices` reads them without
    /// the fast parser.
    fn general(body: &str) -> Option<Listing> {
        let envelope = crate::upstream::envelope::Envelope::parse(body.as_bytes()).ok()?;
        if !envelope.is_ok() {
            return None;
        }
        Some(Listing {
            list_id: envelope.list_id?,
            rows: parse_rows(&envelope.data).ok()?,
        })
    }

    #[test]
    fn the_fast_parser_reads_the_seed_as_the_general_path_does() {
        let seed = include_str!("../../tests/fixtures/seeds/2fget_ok.json");
        let fast = fast_listing(seed.as_bytes()).expect("the seed takes the fast path");
        assert_eq!(Some(&fast), general(seed).as_ref());
        assert_eq!(fast.list_id, "x211D3D8");
        assert_eq!(fast.rows.len(), 2);
    }

    #[test]
    fn escapes_unsorted_rows_and_template_rows_read_alike_on_both_paths() {
        let body = r#"{"root": {"errorStatus": {"List_ID": "x1", "ErrorCount": "0", "Error": ""},
            "data": [
              {"Rec": "2", "ADDR": "a@b.co", "NAME": "John\u2019s \"Cell\"", "FLAG": "No"},
              {"Rec": "1", "ADDR": "(551) 655-5721", "ADDR.ASIS": "+15516555721", "FLAG": "YES"},
              {"Rec": "%:R#%", "ADDR": "%:ADDR%"}
            ]}}"#;
        let fast = fast_listing(body.as_bytes()).expect("fast path");
        assert_eq!(Some(&fast), general(body).as_ref());
        assert_eq!(fast.rows[0].rec, 1);
        assert_eq!(fast.rows[1].name, "John\u{2019}s \"Cell\"");
        assert_eq!(fast.rows[1].addr_asis, "a@b.co");
    }

    #[test]
    fn anything_but_a_plain_success_takes_the_general_path() {
        let failed = include_str!("../../tests/fixtures/seeds/2fget_failed.json");
        let numeric_count =
            r#"{"root": {"errorStatus": {"List_ID": "x1", "ErrorCount": 0}, "data": []}}"#;
        let error_array = r#"{"root": {"errorStatus": {"List_ID": "x1", "ErrorCount": "1",
            "Error": [{"wd_Error_RCID": "8740", "wd_Error_RCTX": "WDRC_SID_INVALID"}]}, "data": []}}"#;
        let no_list_id = r#"{"root": {"errorStatus": {"ErrorCount": ""}, "data": []}}"#;
        let numeric_field = r#"{"root": {"errorStatus": {"List_ID": "x1"}, "data": [{"Rec": 1}]}}"#;
        for body in [
            failed,
            numeric_count,
            error_array,
            no_list_id,
            numeric_field,
            "not json",
        ] {
            assert_eq!(fast_listing(body.as_bytes()), None, "{body}");
        }
    }

    #[test]
    fn edit_sends_both_spellings_of_the_description() {
        let p = listed("x1", 2, "a@b.co", "Desk");
        assert_eq!(p.get("wd_2FA_RecContract"), Some("Desk"));
        assert_eq!(p.get("wd_2FA_RecContact"), Some("Desk"));
        assert_eq!(p.get("wd_List_RecNum"), Some("2"));
    }
}
