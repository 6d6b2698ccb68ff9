//! One session's document state: the locator cache (document id → its place in a
//! server-side list, and the row that list showed) and the list registry (which lists
//! the session holds open, and for what).
//!
//! The registry bounds the lists a session holds (`documents.max_open_lists_per_session`):
//! beyond it the least recently used is closed and its locators dropped. A search's list
//! is closed when it has not been used for `documents.search_ttl_secs`, a lookup's after
//! `documents.locator_ttl_secs`, and a search's old list when the search is run again.
//! A List_ID never leaves this module except into an upstream call.
//!
//! It also keeps the session's download copies (`fileLoc`, DOCUMENTS.md §2.8 step 3):
//! (document, version, `UPD`) → the per-session path DOWNLOAD answered, for
//! `documents.fileloc_ttl_secs`, so range follow-ups and repeated downloads skip the
//! DOWNLOAD (which copies the file again on the server). Concurrent misses for one
//! key share one DOWNLOAD. The paths hold the SID: their `Debug` shows nothing, and
//! they die with the session's state.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::sync::Cache;

use super::closer::Closer;
use crate::upstream::Sid;
use crate::upstream::documents::DocumentRow;
use crate::upstream::files::WdsidsPath;

/// What names a download copy: the document's canonical id, the version asked for
/// (`None`: the current one, keyed apart from the same version asked by number) and
/// the row's `UPD`, so an update or a new version is a new key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileKey {
    id: String,
    version: Option<u32>,
    updated: String,
}

impl FileKey {
    /// The key of `version` (or the current file) of document `id` as last updated at
    /// `updated` (the row's `UPD` text).
    pub fn new(id: String, version: Option<u32>, updated: &str) -> Self {
        Self {
            id,
            version,
            updated: updated.to_owned(),
        }
    }
}

/// A download copy: where DOWNLOAD put it (holding the SID) and the name it gave.
#[derive(Debug, Clone)]
pub struct FileLoc {
    /// The per-session path (never logged: its `Debug` is redacted).
    pub path: WdsidsPath,
    /// DOWNLOAD's `FileNme`, unescaped.
    pub name: Option<String>,
}

/// Where a locator points and how old it is.
#[derive(Debug, Clone)]
pub struct Located {
    /// The list the row is in.
    pub list_id: Arc<str>,
    /// The row as last seen.
    pub row: Arc<DocumentRow>,
    /// How long ago it was seen (or last reread).
    pub age: Duration,
}

/// A page of a search, as the session's callers share it.
#[derive(Debug, Clone)]
pub struct Page {
    /// The rows.
    pub rows: Vec<Arc<DocumentRow>>,
    /// Documents found in all.
    pub total: u64,
    /// Whether the search was run again for this page.
    pub restarted: bool,
}

/// What names a page: the search's fingerprint, the offset, the page size, and
/// whether it came from a cursor.
pub type PageKey = ([u8; 32], u64, u32, bool);

/// What a list is held for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// The list of a search, by the search's fingerprint.
    Search([u8; 32]),
    /// A targeted search that found one document.
    Lookup,
    /// A document's version list (VERLIST), by the document's fingerprint: a newer one
    /// replaces it.
    Versions([u8; 32]),
}

/// Where a document was last seen: its list, record and line, and the row.
#[derive(Debug, Clone)]
struct Locator {
    list_id: Arc<str>,
    row: Arc<DocumentRow>,
    seen_at: Instant,
}

#[derive(Debug)]
struct Entry {
    list_id: Arc<str>,
    kind: ListKind,
    last_used: Instant,
}

/// Settings shared by every session.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Lists one session holds open.
    pub max_open: usize,
    /// Idle life of a search's list.
    pub search_ttl: Duration,
    /// Life of a locator (and idle life of a lookup's list).
    pub locator_ttl: Duration,
    /// Life of a download copy's path (`documents.fileloc_ttl_secs`).
    pub fileloc_ttl: Duration,
}

/// One session's locators and lists.
#[derive(Debug)]
pub struct SessionDocs {
    sid: Sid,
    locators: Cache<String, Locator>,
    lists: Mutex<Vec<Entry>>,
    /// Pages being loaded, so identical concurrent searches share one upstream call.
    pages: moka::future::Cache<PageKey, Arc<Page>>,
    /// Download copies by document, version and update time.
    file_locs: moka::future::Cache<FileKey, FileLoc>,
    limits: Limits,
    closer: Closer,
    /// Lists open in all sessions of this replica (the gauge).
    open: Arc<AtomicI64>,
}

impl SessionDocs {
    pub(super) fn new(sid: Sid, limits: Limits, closer: Closer, open: Arc<AtomicI64>) -> Self {
        Self {
            sid,
            locators: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(limits.locator_ttl)
                .build(),
            lists: Mutex::new(Vec::new()),
            pages: moka::future::Cache::builder().max_capacity(64).build(),
            file_locs: moka::future::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(limits.fileloc_ttl)
                .build(),
            limits,
            closer,
            open,
        }
    }

    /// The list of the search with fingerprint `fp`, if the session holds one; using it
    /// makes it the most recently used.
    pub fn search_list(&self, fp: [u8; 32]) -> Option<Arc<str>> {
        let expired = self.sweep();
        let found = self.with_lists(|lists| {
            lists
                .iter_mut()
                .find(|e| e.kind == ListKind::Search(fp))
                .map(|e| {
                    e.last_used = Instant::now();
                    e.list_id.clone()
                })
        });
        self.retire(expired);
        found
    }

    /// Registers a list the session just opened, and seeds a locator from each row.
    /// A search's earlier list, expired lists and the least recently used beyond the
    /// bound are closed in the background.
    pub fn register(
        &self,
        list_id: &str,
        kind: ListKind,
        rows: &[Arc<DocumentRow>],
        id_of: impl Fn(&DocumentRow) -> Option<String>,
    ) {
        let list_id: Arc<str> = Arc::from(list_id);
        let mut retired = self.sweep();
        let evicted = self.with_lists(|lists| {
            let mut out = Vec::new();
            if let Some(known) = lists.iter_mut().find(|e| e.list_id == list_id) {
                known.last_used = Instant::now();
                return out;
            }
            if let ListKind::Search(_) | ListKind::Versions(_) = kind {
                if let Some(at) = lists.iter().position(|e| e.kind == kind) {
                    out.push(lists.remove(at).list_id);
                }
            }
            lists.push(Entry {
                list_id: list_id.clone(),
                kind,
                last_used: Instant::now(),
            });
            self.open.fetch_add(1, Ordering::Relaxed);
            while lists.len() > self.limits.max_open {
                let lru = lists
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, e)| e.last_used)
                    .map_or(0, |(i, _)| i);
                out.push(lists.remove(lru).list_id);
            }
            out
        });
        retired.extend(evicted);
        self.retire(retired);
        crate::metrics::open_lists(self.open.load(Ordering::Relaxed));
        for row in rows {
            if let Some(id) = id_of(row) {
                let locator = Locator {
                    list_id: list_id.clone(),
                    row: row.clone(),
                    seen_at: Instant::now(),
                };
                self.locators.insert(id, locator);
            }
        }
    }

    /// Forgets a list the upstream called stale: no CLOSELIST (it is gone already).
    pub fn forget(&self, list_id: &str) {
        let gone = self.with_lists(|lists| {
            let before = lists.len();
            lists.retain(|e| &*e.list_id != list_id);
            before - lists.len()
        });
        if gone > 0 {
            self.open
                .fetch_sub(i64::try_from(gone).unwrap_or(0), Ordering::Relaxed);
            crate::metrics::open_lists(self.open.load(Ordering::Relaxed));
        }
        self.drop_locators(list_id);
    }

    /// As [`Self::locator`], for a locator seen at most `max_age` ago: the list the
    /// row is in and the row (for commands on the row: DOWNLOAD, VERLIST).
    pub fn locate(&self, id: &str, max_age: Duration) -> Option<(Arc<str>, Arc<DocumentRow>)> {
        self.locator(id)
            .filter(|l| l.age <= max_age)
            .map(|l| (l.list_id, l.row))
    }

    /// Where the locator of `id` points and how old it is, if its list is still held;
    /// using it makes the list the most recently used.
    pub fn locator(&self, id: &str) -> Option<Located> {
        let locator = self.locators.get(id)?;
        let held = self.with_lists(|lists| {
            lists
                .iter_mut()
                .find(|e| e.list_id == locator.list_id)
                .map(|e| e.last_used = Instant::now())
                .is_some()
        });
        if !held {
            self.locators.invalidate(id);
            return None;
        }
        Some(Located {
            age: locator.seen_at.elapsed(),
            list_id: locator.list_id,
            row: locator.row,
        })
    }

    /// Seats (or re-seats) the locator of `id` on `row` of list `list_id`, seen now:
    /// after a reread confirmed it, or under a second id (the one a moved document was
    /// asked for by). The list must be one the session holds.
    pub fn seat(&self, id: &str, list_id: &Arc<str>, row: Arc<DocumentRow>) {
        let locator = Locator {
            list_id: list_id.clone(),
            row,
            seen_at: Instant::now(),
        };
        self.locators.insert(id.to_owned(), locator);
    }

    /// Drops the locator of `id` (its row is no longer where it pointed); the list
    /// stays.
    pub fn unseat(&self, id: &str) {
        self.locators.invalidate(id);
    }

    /// The download copy `key`, made by `download` unless the session holds it or an
    /// identical DOWNLOAD is in flight, whose answer is then shared. Failures are not
    /// kept.
    pub async fn file_loc<E, F>(&self, key: FileKey, download: F) -> Result<FileLoc, Arc<E>>
    where
        E: Send + Sync + 'static,
        F: Future<Output = Result<FileLoc, E>>,
    {
        self.file_locs.try_get_with(key, download).await
    }

    /// Forgets the download copy `key` (the file server no longer serves it).
    pub async fn evict_file_loc(&self, key: &FileKey) {
        self.file_locs.invalidate(key).await;
    }

    /// The page `key`, loaded by `load` unless an identical load is in flight, whose
    /// answer is then shared. Nothing is kept once the load is done.
    pub async fn page<E, F>(&self, key: PageKey, load: F) -> Result<Arc<Page>, Arc<E>>
    where
        E: Send + Sync + 'static,
        F: Future<Output = Result<Page, E>>,
    {
        let page = self
            .pages
            .try_get_with(key, async { load.await.map(Arc::new) })
            .await;
        self.pages.invalidate(&key).await;
        page
    }

    /// Closes, in the background, a list the session opened but does not keep (a
    /// lookup that found nothing).
    pub fn discard(&self, list_id: &str) {
        self.closer.close(&self.sid, list_id.to_owned());
    }

    /// Lists the session holds open.
    pub fn open_lists(&self) -> usize {
        self.with_lists(|lists| lists.len())
    }

    /// Closes (in the background) every list the session holds: its state is going.
    pub(super) fn close_all(&self) {
        self.file_locs.invalidate_all();
        let all = self.with_lists(|lists| lists.drain(..).map(|e| e.list_id).collect());
        self.retire(all);
        crate::metrics::open_lists(self.open.load(Ordering::Relaxed));
    }

    /// Forgets every list the session holds without closing them: the session ended
    /// upstream, and its lists with it.
    pub(super) fn forget_all(&self) {
        self.file_locs.invalidate_all();
        let gone = self.with_lists(|lists| lists.drain(..).count());
        self.open
            .fetch_sub(i64::try_from(gone).unwrap_or(0), Ordering::Relaxed);
        crate::metrics::open_lists(self.open.load(Ordering::Relaxed));
    }

    fn with_lists<T>(&self, f: impl FnOnce(&mut Vec<Entry>) -> T) -> T {
        // A poisoned lock only means another request panicked mid-update; the list
        // of entries is still a list.
        let mut lists = self
            .lists
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut lists)
    }

    /// Takes out the lists idle past their life.
    fn sweep(&self) -> Vec<Arc<str>> {
        let now = Instant::now();
        self.with_lists(|lists| {
            let mut expired = Vec::new();
            lists.retain(|e| {
                let ttl = match e.kind {
                    ListKind::Search(_) => self.limits.search_ttl,
                    ListKind::Lookup | ListKind::Versions(_) => self.limits.locator_ttl,
                };
                let keep = now.duration_since(e.last_used) < ttl;
                if !keep {
                    expired.push(e.list_id.clone());
                }
                keep
            });
            expired
        })
    }

    /// Closes lists taken out of the registry and drops their locators.
    fn retire(&self, lists: Vec<Arc<str>>) {
        for list_id in lists {
            self.open.fetch_sub(1, Ordering::Relaxed);
            self.drop_locators(&list_id);
            self.closer.close(&self.sid, list_id.to_string());
        }
    }

    fn drop_locators(&self, list_id: &str) {
        let stale: Vec<Arc<String>> = self
            .locators
            .iter()
            .filter(|(_, l)| &*l.list_id == list_id)
            .map(|(k, _)| k)
            .collect();
        for key in stale {
            self.locators.invalidate(key.as_str());
        }
    }
}
