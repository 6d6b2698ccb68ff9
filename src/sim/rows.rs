//! List rows, as each template writes them: FINDFILES' short row (findfiles.md) and the
//! rich row of SERVE `rereadrecord.json` (serve.md) and VERLIST (verlist.md), with the
//! profile fields, the cabinet's name, the long name and the version.
//!
//! Keys are omitted when empty, as the reference's rows do (DOCUMENTS.md T5); `PSD` is
//! `"<undefined>"`. `HASH` is over the values above it (the description, file name,
//! date, size, comments, version and status), so it changes with any write to them and
//! is the same in every kind of row.
#![allow(non_snake_case)]

use serde::Serialize;

use super::documents::size_text;
use super::store::Record;
use crate::upstream::fields::ROW_FIELD_KEYS;

/// A FINDFILES row.
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    XN: String,
    FN: &'static str,
    UPD: String,
    LSZ: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    CM: &'static str,
    I: &'static str,
    stFl: &'static str,
    stIc: &'static str,
    HASH: String,
    EXT: String,
    LN: String,
    RN: String,
    CBID: String,
    FP: &'static str,
    CRTD: String,
    ACC: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    CHKOUT_TO_NAME: Option<String>,
    FPR: String,
    PSD: &'static str,
}

/// Any row a list answers.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum AnyRow {
    /// A search row.
    Search(Box<Row>),
    /// A rich row (a version list's).
    Rich(Ordered<String>),
}

/// Where a row sits: its line, its record number and its list.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place<'a> {
    pub(crate) ln: usize,
    pub(crate) rn: usize,
    pub(crate) list_id: &'a str,
}

/// Which template's rich row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// SERVE `rereadrecord.json`: no `FP`, `PSD` last.
    Reread,
    /// VERLIST: `FP` and `CHKOUT_TO_LINE`, no `PSD`.
    VersionList,
}

/// An object whose keys keep the order given (serde_json's maps would sort them).
#[derive(Debug)]
pub(crate) struct Ordered<V>(pub(crate) Vec<(&'static str, V)>);

impl<V: Serialize> Serialize for Ordered<V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// The FINDFILES row of `record` at line `ln`, record number `rn`, as `viewer` sees it.
pub(crate) fn search_row(
    record: &Record,
    ln: usize,
    rn: usize,
    highlights: &[&str],
    viewer: &str,
) -> Row {
    let doc = record.seed;
    let version = record.current().number;
    Row {
        XN: highlight(doc.description, highlights),
        FN: doc.file_name,
        UPD: record.updated().to_string(),
        LSZ: size_text(record.size()),
        CM: doc.comments,
        I: record.status_id(viewer),
        stFl: "5",
        stIc: "0",
        HASH: hash(record, version, viewer),
        EXT: record.ext(),
        LN: ln.to_string(),
        RN: rn.to_string(),
        CBID: record.cabinet.to_string(),
        FP: doc.folder,
        CRTD: doc.created.to_string(),
        ACC: record.accessed.to_string(),
        CHKOUT_TO_NAME: record.checked_out_to.as_ref().map(|(_, name)| name.clone()),
        FPR: format!("{}\\{}", doc.folder, doc.file_name),
        PSD: "<undefined>",
    }
}

/// The rich row of `record`'s version `version` (the current one when absent from
/// the record), as `viewer` sees it.
pub(crate) fn rich_row(
    record: &Record,
    version: u32,
    place: Place<'_>,
    viewer: &str,
    style: Style,
) -> Ordered<String> {
    let doc = record.seed;
    let v = record.version(version).unwrap_or_else(|| record.current());
    let mut row: Vec<(&'static str, String)> = vec![
        ("XN", doc.description.to_owned()),
        ("FN", doc.file_name.to_owned()),
        ("UPD", v.updated.to_string()),
        ("SZ", size_text(v.blob.len())),
    ];
    if !doc.comments.is_empty() {
        row.push(("CM", doc.comments.to_owned()));
    }
    row.push(("VER", v.number.to_string()));
    row.extend([
        ("I", record.status_id(viewer).to_owned()),
        ("stFl", "5".to_owned()),
        ("stIc", "0".to_owned()),
        ("HASH", hash(record, v.number, viewer)),
    ]);
    let folder = record.folder_of(v.number);
    if style == Style::VersionList {
        row.push(("FP", folder.clone()));
    }
    row.extend([
        ("FPR", format!("{folder}\\{}", doc.file_name)),
        ("LN", place.ln.to_string()),
        ("RN", place.rn.to_string()),
        ("LID", place.list_id.to_owned()),
    ]);
    if let Some(cabinet) = record.cabinet() {
        for (n, field) in cabinet.fields.iter().enumerate() {
            let Some(&(code, desc)) = doc.codes.get(n) else {
                continue;
            };
            if !field.active || code.is_empty() {
                continue;
            }
            let (c, d, name) = ROW_FIELD_KEYS[n];
            row.extend([
                (c, code.to_owned()),
                (d, desc.to_owned()),
                (name, field.name.to_owned()),
            ]);
        }
    }
    row.extend([
        ("ACC", record.accessed.to_string()),
        ("CRTD", doc.created.to_string()),
        ("CBID", record.cabinet.to_string()),
        ("CBNM", record.cabinet().map_or("", |c| c.name).to_owned()),
        ("LOC", record.location_of(v.number)),
        ("EXT", record.ext()),
        ("OW", record.owner.clone()),
    ]);
    if let Some(favorite) = &record.favorite {
        row.push(("FF", favorite.clone()));
    }
    row.extend([("GT", record.ext()), ("Name", record.long_name(v.number))]);
    if let Some((_, name)) = &record.checked_out_to {
        row.push(("CHKOUT_TO_NAME", name.clone()));
    }
    match style {
        Style::Reread => row.push(("PSD", "<undefined>".to_owned())),
        Style::VersionList => row.push(("CHKOUT_TO_LINE", String::new())),
    }
    Ordered(row)
}

/// `HASH`: FNV-1a over the values above it in a row, `x` and 8 hex digits.
pub(crate) fn hash(record: &Record, version: u32, viewer: &str) -> String {
    let v = record.version(version).unwrap_or_else(|| record.current());
    let size = size_text(v.blob.len());
    let (upd, ver) = (v.updated.to_string(), v.number.to_string());
    let hashed = [
        record.seed.description,
        record.seed.file_name,
        &upd,
        &size,
        record.seed.comments,
        &ver,
        record.status_id(viewer),
        "5",
        "0",
    ];
    format!("x{:08X}", fnv1a(&hashed.join("\u{1f}")))
}

/// The description with each match of the query's terms wrapped as the web client
/// shows it.
fn highlight(text: &str, terms: &[&str]) -> String {
    terms
        .iter()
        .fold(text.to_owned(), |text, term| highlight_one(&text, term))
}

fn highlight_one(text: &str, term: &str) -> String {
    if term.is_empty() || text.contains("<span") {
        return text.to_owned();
    }
    let (lower, needle) = (text.to_ascii_lowercase(), term.to_ascii_lowercase());
    let mut out = String::with_capacity(text.len() + 40);
    let mut at = 0;
    while let Some(found) = lower[at..].find(&needle) {
        let start = at + found;
        let end = start + needle.len();
        out.push_str(&text[at..start]);
        out.push_str("<span class='selectedTxt'>");
        out.push_str(&text[start..end]);
        out.push_str("</span>");
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
