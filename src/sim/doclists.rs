//! Document lists: the server-side lists FINDFILES (and SORTFILES over them) answer
//! from, each bound to the SID that made it and living until CLOSELIST, the end of the
//! session, or eviction when the SID holds too many.
//!
//! A list keeps its rows in storage order (a row's `RN` is its place there, 1-based)
//! and a display order (`LN`, after sorting), as the reference's example shows (`LN`
//! 1, 2, 3 with `RN` 3, 2, 1). Re-sorting renumbers `LN` and keeps `RN`. Unlike 2FGET
//! lists, document lists are not invalidated by writes (DOCUMENTS.md T2). With
//! `sim.list_ttl_secs`, a list expires that long after it was issued and is then as
//! stale as a closed one (8375).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::envelope::WdError;
use super::random;
use super::store::Record;
use crate::upstream::fields::{msg, rc};

/// Sort keys of the SORTFILES page: what `Wd_File_Sort_Key1` names.
pub(crate) mod sort_key {
    /// `wd_File_Updated_Value`.
    pub(crate) const UPDATED: u32 = 5374;
    /// `wd_File_Version_Value`.
    pub(crate) const VERSION: u32 = 5376;
    /// `wd_File_Size_Value`.
    pub(crate) const SIZE: u32 = 5368;
    /// `wd_File_Xname_Value` (the description).
    pub(crate) const DESCRIPTION: u32 = 5380;
    /// `wd_File_FileName_Value` (the DOCID file name).
    pub(crate) const FILE_NAME: u32 = 5348;
}

/// How a list is sorted: a key of [`sort_key`] and whether it descends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sort {
    pub(crate) key: u32,
    pub(crate) descending: bool,
}

impl Default for Sort {
    /// Newest first, as a search answers unless told otherwise.
    fn default() -> Self {
        Self {
            key: sort_key::UPDATED,
            descending: true,
        }
    }
}

/// One row of a list: a record, and for a version list the version it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Item {
    /// Index into the store's records.
    pub(crate) doc: usize,
    /// `None`: the record as it is now (a search row); `Some(n)`: version `n`.
    pub(crate) version: Option<u32>,
}

/// One list.
#[derive(Debug, Clone)]
pub(crate) struct DocList {
    sid: String,
    /// When it was issued (`sim.list_ttl_secs` counts from here).
    issued: Instant,
    /// Its rows, in storage order (`RN` - 1).
    pub(crate) rows: Vec<Item>,
    /// Places in `rows`, in display order (`LN` - 1).
    pub(crate) order: Vec<usize>,
    /// The query's echo, for the answer's location fields.
    pub(crate) echo: String,
    /// The query's terms, highlighted in descriptions.
    pub(crate) highlights: Vec<String>,
    /// The cabinets searched, for the echo.
    pub(crate) cabinets: Vec<u32>,
}

impl DocList {
    /// A search list of `docs` (record indices in storage order), not yet sorted or
    /// opened.
    pub(crate) fn new(
        docs: Vec<usize>,
        echo: String,
        highlights: Vec<String>,
        cabinets: Vec<u32>,
    ) -> Self {
        let rows: Vec<Item> = docs
            .into_iter()
            .map(|doc| Item { doc, version: None })
            .collect();
        Self {
            sid: String::new(),
            issued: Instant::now(),
            order: (0..rows.len()).collect(),
            rows,
            echo,
            highlights,
            cabinets,
        }
    }

    /// A version list of `record`'s versions, the newest stored first (`RN` 1), shown
    /// oldest first, as the reference's VERLIST example does.
    pub(crate) fn versions(record: usize, newest_first: Vec<u32>, echo: String) -> Self {
        let rows: Vec<Item> = newest_first
            .into_iter()
            .map(|v| Item {
                doc: record,
                version: Some(v),
            })
            .collect();
        Self {
            sid: String::new(),
            issued: Instant::now(),
            order: (0..rows.len()).rev().collect(),
            rows,
            echo,
            highlights: Vec::new(),
            cabinets: Vec::new(),
        }
    }

    /// The display line (1-based) of record number `rn` (1-based).
    pub(crate) fn line_of(&self, rn: usize) -> Option<usize> {
        let place = rn.checked_sub(1)?;
        self.order.iter().position(|&p| p == place).map(|i| i + 1)
    }

    /// The item at display line `ln` (1-based).
    pub(crate) fn at_line(&self, ln: usize) -> Option<Item> {
        let place = *self.order.get(ln.checked_sub(1)?)?;
        self.rows.get(place).copied()
    }
}

/// Every SID's document lists.
#[derive(Debug)]
pub(crate) struct DocLists {
    lists: HashMap<String, DocList>,
    /// Each SID's List_IDs, oldest first.
    by_sid: HashMap<String, VecDeque<String>>,
    /// Lists a SID may hold; beyond it the oldest is evicted.
    cap: usize,
    /// The `stale_doc_lists` fault: every list is stale the moment it is issued.
    pub(crate) always_stale: bool,
    /// How long a list lives after it was issued (`sim.list_ttl_secs`); `None`: until
    /// closed.
    ttl: Option<Duration>,
}

impl DocLists {
    /// No lists; each SID holds at most `cap`, and each lives `ttl_secs` (0: until
    /// closed).
    pub(crate) fn new(cap: usize, ttl_secs: u64) -> Self {
        Self {
            lists: HashMap::new(),
            by_sid: HashMap::new(),
            cap: cap.max(1),
            always_stale: false,
            ttl: (ttl_secs > 0).then(|| Duration::from_secs(ttl_secs)),
        }
    }

    /// Whether `list` is `sid`'s and still usable: not stale by fault, not expired.
    fn usable(&self, list: &DocList, sid: &str) -> bool {
        list.sid == sid
            && !self.always_stale
            && self.ttl.is_none_or(|ttl| list.issued.elapsed() < ttl)
    }

    /// Opens a list for `sid`; returns its List_ID.
    pub(crate) fn open(&mut self, sid: &str, list: DocList) -> String {
        let id = loop {
            let id = format!("x{:07X}", random::u64() & 0x0FFF_FFFF);
            if !self.lists.contains_key(&id) {
                break id;
            }
        };
        let owned = self.by_sid.entry(sid.to_owned()).or_default();
        owned.push_back(id.clone());
        if owned.len() > self.cap {
            if let Some(oldest) = owned.pop_front() {
                self.lists.remove(&oldest);
            }
        }
        self.lists.insert(
            id.clone(),
            DocList {
                sid: sid.to_owned(),
                issued: Instant::now(),
                ..list
            },
        );
        id
    }

    /// `sid`'s list `id`: 8380 without an id, 8375 for one that is unknown, closed,
    /// evicted or another SID's.
    pub(crate) fn get_mut(&mut self, sid: &str, id: &str) -> Result<&mut DocList, WdError> {
        if id.trim().is_empty() {
            return Err(WdError::new(rc::LISTID_UNDEFINED, msg::LISTID_UNDEFINED));
        }
        match self.lists.get(id.trim()) {
            Some(list) if self.usable(list, sid) => {}
            _ => return Err(WdError::new(rc::LISTID_INVALID, msg::LISTID_INVALID)),
        }
        self.lists
            .get_mut(id.trim())
            .ok_or_else(|| WdError::new(rc::LISTID_INVALID, msg::LISTID_INVALID))
    }

    /// Closes `sid`'s list `id` (CLOSELIST); later uses of it are 8375.
    pub(crate) fn close(&mut self, sid: &str, id: &str) -> Result<(), WdError> {
        self.get_mut(sid, id)?;
        let id = id.trim();
        self.lists.remove(id);
        if let Some(owned) = self.by_sid.get_mut(sid) {
            owned.retain(|l| l != id);
        }
        Ok(())
    }

    /// Drops every list of `sid` (its session ended).
    pub(crate) fn end_session(&mut self, sid: &str) {
        for id in self.by_sid.remove(sid).unwrap_or_default() {
            self.lists.remove(&id);
        }
    }

    /// `sid`'s list `id`, read-only (the same errors as [`Self::get_mut`]).
    pub(crate) fn get(&self, sid: &str, id: &str) -> Result<&DocList, WdError> {
        if id.trim().is_empty() {
            return Err(WdError::new(rc::LISTID_UNDEFINED, msg::LISTID_UNDEFINED));
        }
        match self.lists.get(id.trim()) {
            Some(list) if self.usable(list, sid) => Ok(list),
            _ => Err(WdError::new(rc::LISTID_INVALID, msg::LISTID_INVALID)),
        }
    }

    /// Drops every list (all sessions ended, or lists made stale on purpose).
    pub(crate) fn clear(&mut self) {
        self.lists.clear();
        self.by_sid.clear();
    }

    /// How many lists each SID holds, for `GET /_sim/lists`.
    pub(crate) fn open_counts(&self) -> impl Iterator<Item = (&str, usize)> {
        self.by_sid
            .iter()
            .map(|(sid, ids)| (sid.as_str(), ids.len()))
    }
}

/// Puts `list`'s rows in display order by `sort` (ties by `RN`, in the same direction).
pub(crate) fn sort(list: &mut DocList, records: &[Record], sort: Sort) {
    let mut order: Vec<usize> = (0..list.rows.len()).collect();
    // What a row shows: its version's, or the record's current version's.
    let shown = |item: Item| {
        let record = &records[item.doc];
        let version = item
            .version
            .and_then(|n| record.version(n))
            .unwrap_or_else(|| record.current());
        (record, version)
    };
    order.sort_by(|&a, &b| {
        let ((ra, va), (rb, vb)) = (shown(list.rows[a]), shown(list.rows[b]));
        let by_key = match sort.key {
            sort_key::SIZE => va.blob.len().cmp(&vb.blob.len()),
            sort_key::DESCRIPTION => ra
                .seed
                .description
                .to_lowercase()
                .cmp(&rb.seed.description.to_lowercase()),
            sort_key::VERSION => va
                .number
                .cmp(&vb.number)
                .then(ra.seed.file_name.cmp(rb.seed.file_name)),
            sort_key::FILE_NAME => ra.seed.file_name.cmp(rb.seed.file_name),
            _ => va.updated.cmp(&vb.updated),
        };
        let ordered = by_key.then(a.cmp(&b));
        if sort.descending {
            ordered.reverse()
        } else {
            ordered
        }
    });
    list.order = order;
}
