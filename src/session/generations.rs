//! Generation counters for in-process caches: each invalidation or replacement of an
//! entry bumps its key's counter, and a load reads the counter before and after, so a
//! load that overlapped one is not kept (it may have read what was just replaced).
//!
//! The counters are striped by key: a write to one session must not make every other
//! session's load in flight look overlapped, which one counter for the whole cache
//! does (at a few writes a second, almost every slow load would be thrown away). Two
//! keys that share a stripe only cost a reload now and then.

use std::sync::atomic::{AtomicU64, Ordering};

use super::token::TokenHash;

/// Stripes: with W writes a second and loads of L seconds, a load is thrown away for
/// another key's write with probability about W·L / STRIPES.
const STRIPES: usize = 1024;

/// Per-key (striped) generation counters.
#[derive(Debug)]
pub struct Generations(Box<[AtomicU64]>);

impl Default for Generations {
    fn default() -> Self {
        Self((0..STRIPES).map(|_| AtomicU64::new(0)).collect())
    }
}

impl Generations {
    /// The current generation of `key`.
    pub fn of(&self, key: &TokenHash) -> u64 {
        self.stripe(key).load(Ordering::SeqCst)
    }

    /// `key` was invalidated or replaced.
    pub fn bump(&self, key: &TokenHash) {
        self.stripe(key).fetch_add(1, Ordering::SeqCst);
    }

    /// Every entry was dropped.
    pub fn bump_all(&self) {
        for stripe in &self.0 {
            stripe.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn stripe(&self, key: &TokenHash) -> &AtomicU64 {
        &self.0[key.stripe() % self.0.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> TokenHash {
        TokenHash::from_hex(&format!("{byte:02x}").repeat(32)).expect("a hash")
    }

    #[test]
    fn a_bump_changes_its_key_and_not_the_others() {
        let generations = Generations::default();
        let (a, b) = (key(1), key(2));
        let (a0, b0) = (generations.of(&a), generations.of(&b));
        generations.bump(&a);
        assert_ne!(generations.of(&a), a0);
        assert_eq!(generations.of(&b), b0);
        generations.bump_all();
        assert_ne!(generations.of(&b), b0);
    }
}
