//! The document store: one record per seeded document with its versions (each with
//! deterministic bytes, see `content.rs`), what changes at run time (access date,
//! owner initials, favorite, checkout holder), and the per-session download copies
//! that DOWNLOAD makes and the `/cgi-bin/WDSIDS/…` file handler serves.
//!
//! The store sits behind the state mutex; bytes do not. A copy holds an `Arc` of its
//! version's [`Blob`], a description of the bytes, which the file handler clones out
//! and reads from after the lock is released.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use super::content::Blob;
use super::documents::{CABINETS, Cabinet, DOCUMENTS, Document, Kind};

/// The server id Worldox appends to long names (`(00001079-2x51615)`).
const SERVER_TAG: &str = "x51615";
/// Characters `write.URL(…, "/.")` leaves as they are besides letters and digits.
const URL_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'~');

/// The store.
#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) records: Vec<Record>,
    /// Download copies by raw SID, then by path below `/cgi-bin/WDSIDS/<sid>/`
    /// (decoded: `OPEN/005/00001/0010/Excel test. (00015655x51615).XLSX`).
    copies: HashMap<String, HashMap<String, Copy>>,
}

/// One document and its state.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) seed: &'static Document,
    /// `CBID`: the seed's cabinet until the document is moved
    /// (`POST /_sim/documents/{docnum}/move`).
    pub(crate) cabinet: u32,
    /// Oldest first; the last is current.
    pub(crate) versions: Vec<Version>,
    /// `ACC`.
    pub(crate) accessed: u64,
    /// `OW`.
    pub(crate) owner: String,
    /// `FF` (favorites category), set by DOWNLOAD's `FavCatInput`.
    pub(crate) favorite: Option<String>,
    /// Who it is checked out to: their user code and display name.
    pub(crate) checked_out_to: Option<(String, String)>,
}

/// One version of a document.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    /// `VER`, from 1.
    pub(crate) number: u32,
    /// `UPD`.
    pub(crate) updated: u64,
    /// The bytes.
    pub(crate) blob: Arc<Blob>,
}

/// A per-session copy of one version, as DOWNLOAD leaves it for IIS to serve.
#[derive(Debug, Clone)]
pub(crate) struct Copy {
    pub(crate) blob: Arc<Blob>,
    /// IIS-style `"<FILETIME hex>:0"`.
    pub(crate) etag: String,
    pub(crate) modified: SystemTime,
    /// From the long name's extension.
    pub(crate) content_type: String,
}

impl Store {
    /// The seeded documents; the large one is `large_bytes` long.
    pub(crate) fn new(large_bytes: u64) -> Self {
        let records = DOCUMENTS
            .iter()
            .map(|seed| Record::new(seed, large_bytes))
            .collect();
        Self {
            records,
            copies: HashMap::new(),
        }
    }

    /// Leaves a copy of `record`'s version `version` for `sid`; returns its path below
    /// `/cgi-bin/WDSIDS/<sid>/`, decoded.
    pub(crate) fn make_copy(&mut self, sid: &str, record: usize, version: u32) -> Option<String> {
        let r = self.records.get(record)?;
        let v = r.version(version)?;
        let path = r.copy_path(version);
        let name = r.long_name(version);
        let content_type = mime_guess::from_path(&name)
            .first_or_octet_stream()
            .essence_str()
            .to_owned();
        let modified = UNIX_EPOCH + Duration::from_secs(v.updated);
        let copy = Copy {
            blob: Arc::clone(&v.blob),
            etag: format!("\"{:x}:0\"", filetime(v.updated)),
            modified,
            content_type,
        };
        self.copies
            .entry(sid.to_owned())
            .or_default()
            .insert(path.clone(), copy);
        Some(path)
    }

    /// `sid`'s copy at `path`.
    pub(crate) fn copy(&self, sid: &str, path: &str) -> Option<&Copy> {
        self.copies.get(sid)?.get(path)
    }

    /// Removes `sid`'s copy at `path` (a vanishing-copy fault).
    pub(crate) fn remove_copy(&mut self, sid: &str, path: &str) {
        if let Some(copies) = self.copies.get_mut(sid) {
            copies.remove(path);
        }
    }

    /// Drops every copy of `sid` (its session ended).
    pub(crate) fn end_session(&mut self, sid: &str) {
        self.copies.remove(sid);
    }

    /// Drops every copy of every session.
    pub(crate) fn expire_copies(&mut self) {
        self.copies.clear();
    }

    /// Drops the copies of every SID `live` rejects.
    pub(crate) fn retain_sessions(&mut self, live: impl Fn(&str) -> bool) {
        self.copies.retain(|sid, _| live(sid));
    }

    /// The record whose DOCID number is `docnum` (`00015655`).
    pub(crate) fn find(&mut self, docnum: &str) -> Option<&mut Record> {
        self.records.iter_mut().find(|r| r.docnum() == docnum)
    }

    /// The state for `GET /_sim/documents`: records and copies, no bytes, no SIDs.
    pub(crate) fn summary(&self) -> StoreSummary {
        StoreSummary {
            documents: self.records.iter().map(Record::summary).collect(),
            copies: self.copies.values().map(HashMap::len).sum(),
        }
    }
}

impl Record {
    fn new(seed: &'static Document, large_bytes: u64) -> Self {
        let docnum = seed.file_name.split('.').next().unwrap_or_default();
        let mut sizes: Vec<(u64, u64)> = seed.earlier.to_vec();
        let current = if seed.kind == Kind::Large {
            large_bytes
        } else {
            seed.size
        };
        sizes.push((seed.updated, current));
        let versions = sizes
            .iter()
            .zip(1u32..)
            .map(|(&(updated, size), number)| {
                let tag = format!("{docnum} v{number}");
                let seed_n = docnum.parse::<u64>().unwrap_or(0) << 8 | u64::from(number);
                let blob = match seed.kind {
                    Kind::Pdf => Blob::pdf(seed.description, &tag, size),
                    Kind::Zip => Blob::zipish(seed_n, size),
                    Kind::Text => Blob::text(seed.description, &tag, size),
                    Kind::Large => Blob::lines("large v1", size),
                };
                Version {
                    number,
                    updated,
                    blob: Arc::new(blob),
                }
            })
            .collect();
        Self {
            seed,
            cabinet: seed.cabinet,
            versions,
            accessed: seed.accessed,
            owner: seed.owner.to_owned(),
            favorite: None,
            checked_out_to: seed
                .checked_out_to
                .map(|(code, name)| (code.to_owned(), name.to_owned())),
        }
    }

    /// The document is saved again: its current version's `UPD` becomes `now` (at
    /// least a second after the last), so its `HASH` and both ETags change.
    pub(crate) fn touch(&mut self, now: SystemTime) {
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if let Some(current) = self.versions.last_mut() {
            current.updated = now.max(current.updated + 1);
        }
    }

    /// The current version.
    pub(crate) fn current(&self) -> &Version {
        // A record always has at least its current version.
        &self.versions[self.versions.len() - 1]
    }

    /// Version `number`.
    pub(crate) fn version(&self, number: u32) -> Option<&Version> {
        self.versions.iter().find(|v| v.number == number)
    }

    /// The size of the current version.
    pub(crate) fn size(&self) -> u64 {
        self.current().blob.len()
    }

    /// `UPD` of the current version.
    pub(crate) fn updated(&self) -> u64 {
        self.current().updated
    }

    /// The DOCID number (`00015655`).
    pub(crate) fn docnum(&self) -> &'static str {
        self.seed.file_name.split('.').next().unwrap_or_default()
    }

    /// `EXT`: the extension, uppercase.
    pub(crate) fn ext(&self) -> String {
        self.seed
            .file_name
            .rsplit_once('.')
            .map_or(String::new(), |(_, e)| e.to_ascii_uppercase())
    }

    /// The cabinet.
    pub(crate) fn cabinet(&self) -> Option<&'static Cabinet> {
        CABINETS.iter().find(|c| c.id == self.cabinet)
    }

    /// `Name`, the long name of a version: the description with the characters
    /// Windows refuses in file names replaced by `_`, the DOCID (with `-n` when the
    /// document has several versions) and the server tag, and the extension:
    /// `Excel test. (00015655x51615).XLSX`.
    pub(crate) fn long_name(&self, version: u32) -> String {
        let description: String = self
            .seed
            .description
            .chars()
            .map(|c| {
                if matches!(c, '\\' | '/' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let ver = if self.versions.len() > 1 {
            format!("-{version}")
        } else {
            String::new()
        };
        format!(
            "{description} ({}{ver}{SERVER_TAG}).{}",
            self.docnum(),
            self.ext()
        )
    }

    /// The folder levels after the hidden root: `["005", "00001", "0010"]`.
    pub(crate) fn folder_levels(&self) -> Vec<&'static str> {
        self.seed
            .folder
            .trim_start_matches('\\')
            .trim_start_matches('#')
            .split('\\')
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// `FP` of a version: the folder, or its `~VER\n` folder for an earlier one.
    pub(crate) fn folder_of(&self, version: u32) -> String {
        if version == self.current().number {
            self.seed.folder.to_owned()
        } else {
            format!("{}\\~VER\\{version}", self.seed.folder)
        }
    }

    /// `LOC` of a version: the cabinet's name and the folder levels after it.
    pub(crate) fn location_of(&self, version: u32) -> String {
        let levels = self.folder_levels();
        let mut loc = self.cabinet().map_or("", |c| c.name).to_owned();
        for level in levels.iter().skip(1) {
            loc.push('\\');
            loc.push_str(level);
        }
        if version != self.current().number {
            loc.push_str(&format!("\\~VER\\{version}"));
        }
        loc
    }

    /// The path of a version's copy below `/cgi-bin/WDSIDS/<sid>/`, decoded:
    /// `OPEN/005/00001/0010[/~VER/n]/<long name>`.
    pub(crate) fn copy_path(&self, version: u32) -> String {
        let mut path = String::from("OPEN");
        for level in self.folder_levels() {
            path.push('/');
            path.push_str(level);
        }
        if version != self.current().number {
            path.push_str(&format!("/~VER/{version}"));
        }
        path.push('/');
        path.push_str(&self.long_name(version));
        path
    }

    /// `FileZMS`: `\WORLDOX\ZMS\005\00001\0010\00015655.XLSX`.
    pub(crate) fn zms_path(&self) -> String {
        let stem = self.docnum();
        format!(
            "\\WORLDOX\\ZMS\\{}\\{stem}.{}",
            self.folder_levels().join("\\"),
            self.ext()
        )
    }

    /// `I` as `viewer` sees it: 0, 48 checked out to them, 49 to someone else.
    pub(crate) fn status_id(&self, viewer: &str) -> &'static str {
        match &self.checked_out_to {
            None => "0",
            Some((holder, _)) if holder.eq_ignore_ascii_case(viewer) => "48",
            Some(_) => "49",
        }
    }

    fn summary(&self) -> DocumentSummary {
        DocumentSummary {
            cabinet: self.cabinet,
            file_name: self.seed.file_name,
            description: self.seed.description,
            name: self.long_name(self.current().number),
            versions: self
                .versions
                .iter()
                .map(|v| VersionSummary {
                    version: v.number,
                    updated: v.updated,
                    size: v.blob.len(),
                })
                .collect(),
            accessed: self.accessed,
            owner: self.owner.clone(),
            favorite: self.favorite.clone(),
            checked_out_to: self.checked_out_to.as_ref().map(|(code, _)| code.clone()),
            cp1252: self.seed.cp1252,
        }
    }
}

/// `GET /_sim/documents`.
#[derive(Debug, Serialize)]
pub(crate) struct StoreSummary {
    documents: Vec<DocumentSummary>,
    /// Download copies that exist, over all sessions.
    copies: usize,
}

#[derive(Debug, Serialize)]
struct DocumentSummary {
    cabinet: u32,
    file_name: &'static str,
    description: &'static str,
    name: String,
    versions: Vec<VersionSummary>,
    accessed: u64,
    owner: String,
    favorite: Option<String>,
    checked_out_to: Option<String>,
    cp1252: bool,
}

#[derive(Debug, Serialize)]
struct VersionSummary {
    version: u32,
    updated: u64,
    size: u64,
}

/// `body` with the words of the Windows-1252 seeds' descriptions that are not ASCII
/// (`electrónico`) turned into Windows-1252 bytes, as a server storing ANSI text writes
/// them into its "JSON". The seeds are static: no lock is needed.
pub(crate) fn to_cp1252(body: Vec<u8>) -> Vec<u8> {
    let mut body = body;
    for seed in DOCUMENTS.iter().filter(|d| d.cp1252) {
        for word in seed.description.split_whitespace() {
            if word.is_ascii() {
                continue;
            }
            let (ansi, _, _) = encoding_rs::WINDOWS_1252.encode(word);
            body = replace_all(&body, word.as_bytes(), &ansi);
        }
    }
    body
}

/// `haystack` with every `needle` replaced by `with`.
fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// `text` percent-encoded as `write.URL(…, "/.")` does: everything but letters, digits
/// and `/ . - _ ~`, non-ASCII as UTF-8.
pub(crate) fn url_path(text: &str) -> String {
    utf8_percent_encode(text, URL_KEEP).to_string()
}

/// JavaScript's `escape()`: letters, digits and `@*_+-./` stay; other characters below
/// 256 become `%XX` (Latin-1), the rest `%uXXXX` (UTF-16 units).
pub(crate) fn js_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || "@*_+-./".contains(c) {
            out.push(c);
        } else if (c as u32) < 256 {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("%u{unit:04X}"));
            }
        }
    }
    out
}

/// `"{name} ({CODE})"`, as `OW` names a user.
pub(crate) fn owner_of(name: &str, code: &str) -> String {
    format!("{name} ({})", code.to_ascii_uppercase())
}

/// Today at 18:00 UTC, as every `ACC` and `CRTD` in the reference falls.
pub(crate) fn access_date(now: SystemTime) -> u64 {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    secs - secs % 86_400 + 18 * 3_600
}

/// A Unix time as a Windows FILETIME (100 ns since 1601), as IIS builds its ETags.
fn filetime(unix: u64) -> u64 {
    (unix + 11_644_473_600) * 10_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_is_javascripts() {
        assert_eq!(
            js_escape("Terms and Conditions of QC (00001079-2x51615).DOC"),
            "Terms%20and%20Conditions%20of%20QC%20%2800001079-2x51615%29.DOC"
        );
        assert_eq!(
            js_escape("R\u{e9}sum\u{e9} \u{2013} x"),
            "R%E9sum%E9%20%u2013%20x"
        );
        assert_eq!(js_escape("a+b@c*d_e/f"), "a+b@c*d_e/f");
    }

    #[test]
    fn url_paths_are_encoded_as_the_reference_shows() {
        assert_eq!(
            url_path("OPEN/005/20000/200/Terms and Conditions of QC (00001079-2x51615).DOC"),
            "OPEN/005/20000/200/Terms%20and%20Conditions%20of%20QC%20%2800001079-2x51615%29.DOC"
        );
        assert_eq!(url_path("1FZ$3D"), "1FZ%243D");
    }

    #[test]
    fn long_names_carry_the_version_only_when_there_are_several() {
        let store = Store::new(1024);
        let by = |name: &str| {
            store
                .records
                .iter()
                .find(|r| r.seed.file_name == name)
                .unwrap()
        };
        assert_eq!(
            by("00015655.xlsx").long_name(1),
            "Excel test. (00015655x51615).XLSX"
        );
        let three = by("00014410.docx");
        assert_eq!(three.versions.len(), 3);
        assert_eq!(
            three.long_name(2),
            "Settlement agreement (00014410-2x51615).DOCX"
        );
        assert_eq!(
            three.copy_path(1),
            "OPEN/005/00001/0010/~VER/1/Settlement agreement (00014410-1x51615).DOCX"
        );
        assert_eq!(
            by("00014603.txt").long_name(1),
            "Memo _Q4_ C__temp & _draft_ 100% + #7 (00014603x51615).TXT"
        );
        assert_eq!(by("00014999.csv").size(), 1024);
        assert_eq!(
            by("00015655.xlsx").zms_path(),
            "\\WORLDOX\\ZMS\\005\\00001\\0010\\00015655.XLSX"
        );
    }
}
