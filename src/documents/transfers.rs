//! Bounds on content transfers: in all (`documents.max_concurrent_transfers`) and per
//! session (`documents.max_transfers_per_session`). A [`Permit`] is held for the whole
//! transfer, body included, and given back when the body ends or is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::session::{TokenHash, TokenHashState};

/// Why a transfer may not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The session has its share in flight (429).
    Session,
    /// Every transfer place is taken (503).
    Full,
}

/// The transfers in flight, in all and by session; cheap to clone.
#[derive(Debug, Clone)]
pub struct Transfers {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    max_total: usize,
    max_per_session: usize,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_session: HashMap<TokenHash, usize, TokenHashState>,
}

impl Transfers {
    /// At most `max_total` transfers, `max_per_session` of them for one session.
    pub fn new(max_total: usize, max_per_session: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                max_total,
                max_per_session,
                counts: Mutex::new(Counts::default()),
            }),
        }
    }

    /// A place for a transfer of session `key`, or why not.
    pub fn start(&self, key: TokenHash) -> Result<Permit, Refused> {
        let mut counts = self.lock();
        let mine = counts.by_session.get(&key).copied().unwrap_or(0);
        if mine >= self.inner.max_per_session {
            return Err(Refused::Session);
        }
        if counts.total >= self.inner.max_total {
            return Err(Refused::Full);
        }
        counts.total += 1;
        counts.by_session.insert(key, mine + 1);
        Ok(Permit {
            transfers: self.clone(),
            key,
        })
    }

    /// Transfers in flight, in all.
    pub fn in_flight(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The counts stay consistent under a panic (each change is one step).
        self.inner
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One transfer's place, given back on drop.
#[derive(Debug)]
pub struct Permit {
    transfers: Transfers,
    key: TokenHash,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.transfers.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(mine) = counts.by_session.get_mut(&self.key) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                counts.by_session.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> TokenHash {
        TokenHash::from_hex(&format!("{n:02x}").repeat(32)).expect("a hex key")
    }

    #[test]
    fn places_are_bounded_per_session_and_in_all_and_given_back() {
        let transfers = Transfers::new(3, 2);
        let a1 = transfers.start(key(1)).expect("a first");
        let _a2 = transfers.start(key(1)).expect("a second");
        assert_eq!(transfers.start(key(1)).err(), Some(Refused::Session));
        let _b1 = transfers.start(key(2)).expect("b first");
        assert_eq!(transfers.start(key(3)).err(), Some(Refused::Full));
        drop(a1);
        assert_eq!(transfers.in_flight(), 2);
        let _c1 = transfers.start(key(3)).expect("a place was given back");
        assert_eq!(transfers.start(key(2)).err(), Some(Refused::Full));
    }
}
