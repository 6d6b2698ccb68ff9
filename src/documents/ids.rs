//! Document ids: `doc_{cabinet}_{docnum}`, from a row's `CBID` and the stem of its
//! `FN` (DOCUMENTS.md §2.2). Unlike `RN` and `LN`, they mean the same thing in every
//! list, session and replica.

use std::fmt;

/// The OpenAPI pattern of a document id.
pub const PATTERN: &str = "^doc_[0-9]{1,9}_[0-9A-Za-z]{1,32}$";

/// A document id: its cabinet and DOCID number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocId {
    /// `CBID`.
    pub cabinet: u32,
    /// The stem of `FN` (`00015655` of `00015655.xlsx`).
    pub docnum: String,
}

impl DocId {
    /// The id of a row with cabinet `cabinet` and file name `file_name`; `None` when
    /// the stem is not 1 to 32 ASCII letters and digits.
    pub fn of_row(cabinet: u32, file_name: &str) -> Option<Self> {
        let stem = file_name
            .split_once('.')
            .map_or(file_name, |(stem, _)| stem);
        valid_docnum(stem).then(|| Self {
            cabinet,
            docnum: stem.to_owned(),
        })
    }

    /// Parses an id of [`PATTERN`]; anything else is `None` (ids are opaque, so a
    /// malformed one is simply not found).
    pub fn parse(id: &str) -> Option<Self> {
        let rest = id.strip_prefix("doc_")?;
        let (cabinet, docnum) = rest.split_once('_')?;
        let digits = !cabinet.is_empty()
            && cabinet.len() <= 9
            && cabinet.bytes().all(|b| b.is_ascii_digit());
        if !digits || !valid_docnum(docnum) {
            return None;
        }
        Some(Self {
            cabinet: cabinet.parse().ok()?,
            docnum: docnum.to_owned(),
        })
    }

    /// Whether `file_name` (a row's `FN`) is this document's.
    pub fn is_file(&self, file_name: &str) -> bool {
        let stem = file_name
            .split_once('.')
            .map_or(file_name, |(stem, _)| stem);
        stem == self.docnum
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "doc_{}_{}", self.cabinet, self.docnum)
    }
}

fn valid_docnum(docnum: &str) -> bool {
    (1..=32).contains(&docnum.len()) && docnum.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_leave_the_extension_out() {
        let id = DocId::of_row(5, "00015655.xlsx").expect("an id");
        assert_eq!(id.to_string(), "doc_5_00015655");
        assert_eq!(DocId::parse("doc_5_00015655"), Some(id.clone()));
        assert!(id.is_file("00015655.docx"));
        assert!(!id.is_file("00015656.xlsx"));
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "doc_",
            "doc_5",
            "doc__1",
            "doc_x_1",
            "doc_1234567890_1",
            "doc_5_",
            "doc_5_a-b",
            "doc_5_a.b",
            "doc_-5_1",
            "doc_+5_1",
            "doc_5_\u{e9}",
            &format!("doc_5_{}", "a".repeat(33)),
        ] {
            assert_eq!(DocId::parse(bad), None, "{bad}");
        }
        assert_eq!(DocId::of_row(5, "%:DOCID%"), None);
    }
}
