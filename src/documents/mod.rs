//! Documents on the gateway's side: stable ids, signed search cursors, each session's
//! locators and list registry, the CLOSELIST queue, and the pieces of a document's
//! representation. No HTTP and no CGI here.

pub mod closer;
pub mod cursor;
pub mod ids;
pub mod representation;
pub mod session;
pub mod transfers;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use moka::future::Cache;
use moka::notification::RemovalCause;

pub use closer::Closer;
pub use cursor::{Cursor, CursorError, CursorKey, Search};
pub use ids::DocId;
pub use session::{FileKey, FileLoc, Limits, ListKind, Located, Page, PageKey, SessionDocs};
pub use transfers::Transfers;

use crate::session::{TokenHash, TokenHashState};
use crate::upstream::documents::Cabinet;
use crate::upstream::{self, Sid};

/// Every session's document state, the cursor key and the close queue; cheap to clone.
#[derive(Debug, Clone)]
pub struct Documents {
    sessions: Cache<TokenHash, Arc<SessionDocs>, TokenHashState>,
    cabinets: Cache<TokenHash, Arc<Vec<Cabinet>>, TokenHashState>,
    cursors: CursorKey,
    closer: Closer,
    limits: Limits,
    open: Arc<AtomicI64>,
    /// Whether the upstream counts `skip` from 0, as learned (`documents.skip_base`).
    zero_based: Arc<AtomicBool>,
    /// Content transfers in flight.
    transfers: Transfers,
}

impl Documents {
    /// State for at most `max_sessions` sessions; a session's state goes when it has
    /// not been used for the longer of the search and locator lives (its lists are then
    /// closed in the background).
    pub fn new(
        cursors: CursorKey,
        closer: Closer,
        limits: Limits,
        cabinets_ttl: Duration,
        max_sessions: u64,
    ) -> Self {
        let idle = limits.search_ttl.max(limits.locator_ttl);
        let sessions = Cache::builder()
            .max_capacity(max_sessions)
            .time_to_idle(idle)
            // Idle or crowded out: its lists are closed. Ended (logout, Worldox ended
            // it): nothing is sent, as LOGOFF frees them.
            .eviction_listener(|_, docs: Arc<SessionDocs>, cause| {
                if matches!(cause, RemovalCause::Expired | RemovalCause::Size) {
                    docs.close_all();
                } else {
                    docs.forget_all();
                }
            })
            .build_with_hasher(TokenHashState);
        let cabinets = Cache::builder()
            .max_capacity(max_sessions)
            .time_to_live(cabinets_ttl)
            .build_with_hasher(TokenHashState);
        Self {
            sessions,
            cabinets,
            cursors,
            closer,
            limits,
            open: Arc::new(AtomicI64::new(0)),
            zero_based: Arc::new(AtomicBool::new(false)),
            transfers: Transfers::new(64, 4),
        }
    }

    /// These bounds on content transfers instead of the defaults (64 in all, 4 per
    /// session).
    #[must_use]
    pub fn with_transfers(mut self, transfers: Transfers) -> Self {
        self.transfers = transfers;
        self
    }

    /// The content transfers in flight.
    pub fn transfers(&self) -> &Transfers {
        &self.transfers
    }

    /// Whether the upstream counts `skip` from 0 (else the first line, 1-based).
    pub fn zero_based(&self) -> bool {
        self.zero_based.load(Ordering::Relaxed)
    }

    /// Records how the upstream counts `skip`.
    pub fn set_zero_based(&self, zero: bool) {
        self.zero_based.store(zero, Ordering::Relaxed);
    }

    /// The cursor key.
    pub fn cursors(&self) -> &CursorKey {
        &self.cursors
    }

    /// Session `key`'s state, made on first use.
    pub async fn session(&self, key: TokenHash, sid: &Sid) -> Arc<SessionDocs> {
        self.closer.start();
        let make = || {
            Arc::new(SessionDocs::new(
                sid.clone(),
                self.limits.clone(),
                self.closer.clone(),
                self.open.clone(),
            ))
        };
        self.sessions.get_with(key, async { make() }).await
    }

    /// Session `key`'s cabinets: cached, or loaded once for concurrent callers.
    pub async fn cabinets<F>(
        &self,
        key: TokenHash,
        load: F,
    ) -> Result<Arc<Vec<Cabinet>>, upstream::Error>
    where
        F: Future<Output = Result<Vec<Cabinet>, upstream::Error>>,
    {
        self.cabinets
            .try_get_with(key, async { load.await.map(Arc::new) })
            .await
            .map_err(|e| (*e).clone())
    }

    /// Drops session `key`'s state without closing its lists (the session ended, and
    /// its lists with it).
    pub async fn end_session(&self, key: TokenHash) {
        self.sessions.invalidate(&key).await;
        self.cabinets.invalidate(&key).await;
    }

    /// Session `key`'s cabinets if cached.
    pub async fn cached_cabinets(&self, key: TokenHash) -> Option<Arc<Vec<Cabinet>>> {
        self.cabinets.get(&key).await
    }
}
