//! The pieces of a document's REST representation that are more than a copy: the
//! description without its highlight markup (and where the matches were), the status
//! from `I`, dates from Unix times (T13), and the strong ETag (§2.7).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::upstream::documents::DocumentRow;

/// The markup FINDFILES wraps matches in (T12): exactly this is removed.
const OPEN: &str = "<span class='selectedTxt'>";
/// Its end.
const CLOSE: &str = "</span>";

/// `XN` without the highlight markup, and the `[start, end)` character ranges the
/// markup wrapped. Nothing else is decoded.
pub fn strip_highlights(text: &str) -> (String, Vec<[usize; 2]>) {
    let mut out = String::with_capacity(text.len());
    let mut ranges = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(OPEN) {
        let after = &rest[at + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else {
            break;
        };
        out.push_str(&rest[..at]);
        let start = out.chars().count();
        out.push_str(&after[..end]);
        ranges.push([start, out.chars().count()]);
        rest = &after[end + CLOSE.len()..];
    }
    out.push_str(rest);
    (out, ranges)
}

/// `status` and `security` from `I` (a guess from the client's code; unknown values
/// give `unknown`).
pub fn status(status_id: Option<u32>) -> (&'static str, Option<&'static str>) {
    match status_id {
        Some(0) => ("available", Some("none")),
        Some(48) => ("checked_out_to_me", None),
        Some(49) => ("checked_out_to_other", None),
        Some(51) => ("available", Some("hidden")),
        Some(52) => ("available", Some("protected")),
        Some(54) => ("read_only", None),
        Some(55) => ("unavailable", None),
        _ => ("unknown", None),
    }
}

/// Unix seconds as an RFC 3339 timestamp (UTC).
pub fn timestamp(unix: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

/// Unix seconds as the RFC 3339 full date (UTC) they fall on: `CRTD` and `ACC` are
/// day-granular (T13).
pub fn date(unix: i64) -> Option<String> {
    let at = OffsetDateTime::from_unix_timestamp(unix).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02}",
        at.year(),
        u8::from(at.month()),
        at.day()
    ))
}

/// The strong ETag of a document's profile and content state: a hash over the fields
/// that change with an edit or a new version and the upstream `HASH`, leaving out who
/// last accessed it and when (a download by anyone changes those).
///
/// Only fields every kind of row carries count, the description without search
/// highlights: a search row (no `VER`) and the reread of the same record give the same
/// tag, so an `If-None-Match` taken from one holds against the other. A new version
/// still changes it, through `UPD` and `HASH`.
pub fn etag(row: &DocumentRow) -> String {
    let mut hash = Sha256::new();
    let description = strip_highlights(row.description.text().unwrap_or_default()).0;
    for part in [
        row.file_name.as_str(),
        &row.cabinet.to_string(),
        row.updated.text().unwrap_or_default(),
        &description,
        row.comments.text().unwrap_or_default(),
        row.status_id.text().unwrap_or_default(),
        row.checked_out_by.text().unwrap_or_default(),
        row.hash.text().unwrap_or_default(),
    ] {
        hash.update(part.as_bytes());
        hash.update([0x1f]);
    }
    let digest = hash.finalize();
    format!("\"d-{}\"", &URL_SAFE_NO_PAD.encode(digest)[..22])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_highlight_markup_is_removed_and_its_ranges_reported() {
        let (text, ranges) = strip_highlights("<span class='selectedTxt'>Excel</span> test.");
        assert_eq!(text, "Excel test.");
        assert_eq!(ranges, vec![[0, 5]]);
        let (text, ranges) = strip_highlights(
            "Caf\u{e9} <span class='selectedTxt'>ex</span>cel & <b>x</b> <span class='selectedTxt'>ex</span>",
        );
        assert_eq!(text, "Caf\u{e9} excel & <b>x</b> ex");
        assert_eq!(ranges, vec![[5, 7], [22, 24]]);
        let (text, _) = strip_highlights("<span class='selectedTxt'>open");
        assert_eq!(
            text, "<span class='selectedTxt'>open",
            "unclosed markup stays"
        );
    }

    #[test]
    fn a_search_row_and_the_reread_of_its_record_have_one_etag() {
        use crate::upstream::documents::Cell;
        let text = |t: &str| Cell::Text(t.to_owned());
        let searched = DocumentRow {
            ln: 1,
            rn: 3,
            file_name: "00015655.xlsx".into(),
            cabinet: 5,
            description: text("<span class='selectedTxt'>Excel</span> test."),
            updated: text("1587490528"),
            status_id: text("0"),
            hash: text("x3357286E"),
            ..DocumentRow::default()
        };
        let reread = DocumentRow {
            ln: 2,
            description: text("Excel test."),
            version: text("1"),
            name: text("Excel test. (00015655x51615).XLSX"),
            accessed: text("1587492000"),
            ..searched.clone()
        };
        assert_eq!(etag(&searched), etag(&reread));
        let updated = DocumentRow {
            updated: text("1587490529"),
            ..reread.clone()
        };
        assert_ne!(etag(&reread), etag(&updated));
        let moved = DocumentRow {
            cabinet: 14,
            ..reread.clone()
        };
        assert_ne!(etag(&reread), etag(&moved));
    }

    #[test]
    fn dates_are_utc_and_day_granular_ones_are_dates() {
        assert_eq!(
            timestamp(1_587_490_528).as_deref(),
            Some("2020-04-21T17:35:28Z")
        );
        assert_eq!(date(1_587_492_000).as_deref(), Some("2020-04-21"));
        assert_eq!(status(Some(48)).0, "checked_out_to_me");
        assert_eq!(status(Some(7)).0, "unknown");
    }
}
