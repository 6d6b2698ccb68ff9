//! Document lists: the server-side lists FINDFILES (and SORTFILES over them) answer
//! from, each bound to the SID that made it and living until CLOSELIST, the end of the
//! session, or eviction when the SID holds too many.
//!
//! A list keeps its rows in storage order (a row's `RN` is its place there, 1-based)
//! and a display order (`LN`, after sorting), as the reference's example shows (`LN`
//! 1, 2, 3 with `RN` 3, 2, 1). Re-sorting renumbers `LN` and keeps `RN`. Unlike 2FGET
//! lists, document lists are not invalidated by writes (DOCUMENTS.md T2).

use std::collections::{HashMap, VecDeque};

use super::documents::Document;
use super::envelope::WdError;
use super::random;
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

/// One list.
#[derive(Debug, Clone)]
pub(crate) struct DocList {
    sid: String,
    /// Indices into the document set, in storage order (`RN` - 1).
    pub(crate) rows: Vec<usize>,
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
    /// A list of `rows` (document indices in storage order), not yet sorted or opened.
    pub(crate) fn new(
        rows: Vec<usize>,
        echo: String,
        highlights: Vec<String>,
        cabinets: Vec<u32>,
    ) -> Self {
        Self {
            sid: String::new(),
            order: (0..rows.len()).collect(),
            rows,
            echo,
            highlights,
            cabinets,
        }
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
}

impl DocLists {
    /// No lists; each SID holds at most `cap`.
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            lists: HashMap::new(),
            by_sid: HashMap::new(),
            cap: cap.max(1),
        }
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
        match self.lists.get_mut(id.trim()) {
            Some(list) if list.sid == sid => Ok(list),
            _ => Err(WdError::new(rc::LISTID_INVALID, msg::LISTID_INVALID)),
        }
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
pub(crate) fn sort(list: &mut DocList, documents: &[Document], sort: Sort) {
    let mut order: Vec<usize> = (0..list.rows.len()).collect();
    order.sort_by(|&a, &b| {
        let (da, db) = (&documents[list.rows[a]], &documents[list.rows[b]]);
        let by_key = match sort.key {
            sort_key::SIZE => da.size.cmp(&db.size),
            sort_key::DESCRIPTION => da
                .description
                .to_lowercase()
                .cmp(&db.description.to_lowercase()),
            sort_key::FILE_NAME | sort_key::VERSION => da.file_name.cmp(db.file_name),
            _ => da.updated.cmp(&db.updated),
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
