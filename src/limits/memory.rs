//! This process's own sliding windows: the limiter of the memory store, and the
//! fallback of the Redis one while Redis does not answer.
//!
//! Each key keeps the instants of its events inside the window (at most `max` of
//! them, as refused events are not recorded). Keys whose last event left the window
//! are swept, every [`SWEEP_EVERY`] checks and whenever the map has doubled since the
//! last sweep, so memory stays proportional to the subjects seen within one window.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::{Digest, Hit, Kind, Refusal};

/// Checks between two periodic sweeps.
pub const SWEEP_EVERY: u64 = 1024;

/// The fewest keys that trigger a sweep by growth.
const MIN_SWEEP_LEN: usize = 1024;

/// Sliding windows in this process.
#[derive(Debug)]
pub struct MemoryWindows {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    logs: HashMap<(Kind, Digest), Log>,
    checks: u64,
    /// A sweep runs when the map grows past this.
    sweep_at_len: usize,
}

/// One key's events.
#[derive(Debug)]
struct Log {
    window: Duration,
    /// Oldest first.
    events: VecDeque<Instant>,
}

impl Log {
    /// Drops events that left the window.
    fn prune(&mut self, now: Instant) {
        while self
            .events
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= self.window)
        {
            self.events.pop_front();
        }
    }
}

impl Default for MemoryWindows {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryWindows {
    /// Empty windows.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                sweep_at_len: MIN_SWEEP_LEN,
                ..State::default()
            }),
        }
    }

    /// Records an event at `now` for every hit, or for none if one is at its limit
    /// (then the refusal with the longest wait).
    pub fn admit(&self, hits: &[Hit], now: Instant) -> Result<(), Refusal> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.checks = state.checks.wrapping_add(1);
        if state.checks % SWEEP_EVERY == 0 || state.logs.len() >= state.sweep_at_len {
            state.sweep(now);
        }
        let mut refusal: Option<Refusal> = None;
        for hit in hits {
            let Some(log) = state.logs.get_mut(&(hit.rule.kind, hit.digest)) else {
                continue;
            };
            log.window = hit.rule.window;
            log.prune(now);
            let max = usize::try_from(hit.rule.max).unwrap_or(usize::MAX);
            if log.events.len() >= max {
                // The event whose leaving brings the count below the limit.
                let freeing = log.events[log.events.len() - max];
                let wait = (freeing + log.window).saturating_duration_since(now);
                if refusal.is_none_or(|r| wait > r.retry_after) {
                    refusal = Some(Refusal {
                        kind: hit.rule.kind,
                        retry_after: wait,
                    });
                }
            }
        }
        if let Some(refusal) = refusal {
            return Err(refusal);
        }
        for hit in hits {
            state
                .logs
                .entry((hit.rule.kind, hit.digest))
                .or_insert_with(|| Log {
                    window: hit.rule.window,
                    events: VecDeque::new(),
                })
                .events
                .push_back(now);
        }
        Ok(())
    }

    /// Forgets one event recorded at `at` for each of `hits`.
    pub fn refund(&self, hits: &[&Hit], at: Instant) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for hit in hits {
            let key = (hit.rule.kind, hit.digest);
            if let Some(log) = state.logs.get_mut(&key) {
                if let Some(i) = log.events.iter().rposition(|e| *e == at) {
                    log.events.remove(i);
                }
                if log.events.is_empty() {
                    state.logs.remove(&key);
                }
            }
        }
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .logs
            .len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every key.
    pub fn clear(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.logs = HashMap::new();
        state.sweep_at_len = MIN_SWEEP_LEN;
    }

    /// Forgets every key with no event left in its window.
    pub fn sweep(&self, now: Instant) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .sweep(now);
    }
}

impl State {
    fn sweep(&mut self, now: Instant) {
        self.logs.retain(|_, log| {
            log.prune(now);
            !log.events.is_empty()
        });
        self.logs.shrink_to_fit();
        self.sweep_at_len = (self.logs.len() * 2).max(MIN_SWEEP_LEN);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Rule, SubjectKey};
    use super::*;

    fn hit(kind: Kind, max: u32, window_secs: u64, subject: &str) -> Hit {
        let key = SubjectKey::from_secret(b"memory-windows-test-key");
        Hit {
            rule: Rule {
                kind,
                max,
                window: Duration::from_secs(window_secs),
            },
            digest: key.digest(kind, &[subject.as_bytes()]),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn at_most_max_events_in_any_window() {
        let windows = MemoryWindows::new();
        let h = hit(Kind::LoginIp, 3, 60, "192.0.2.1");
        for _ in 0..3 {
            windows
                .admit(std::slice::from_ref(&h), Instant::now())
                .expect("within the limit");
            tokio::time::advance(Duration::from_secs(10)).await;
        }
        // Events at 0 s, 10 s, 20 s; now 30 s: the first leaves at 60 s.
        let refused = windows
            .admit(std::slice::from_ref(&h), Instant::now())
            .expect_err("a fourth within the window");
        assert_eq!(refused.kind, Kind::LoginIp);
        assert_eq!(refused.retry_after, Duration::from_secs(30));
        assert_eq!(refused.retry_after_secs(), 30);
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(
            windows
                .admit(std::slice::from_ref(&h), Instant::now())
                .is_err()
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        windows
            .admit(std::slice::from_ref(&h), Instant::now())
            .expect("the first event left the window");
        // Now the events are at 10 s, 20 s, 60 s: the next frees at 70 s.
        let refused = windows
            .admit(std::slice::from_ref(&h), Instant::now())
            .expect_err("full again");
        assert_eq!(refused.retry_after, Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_check_counts_nowhere() {
        let windows = MemoryWindows::new();
        let tight = hit(Kind::LoginPair, 1, 60, "alice|192.0.2.1");
        let loose = hit(Kind::LoginUser, 100, 60, "alice");
        let both = [tight.clone(), loose.clone()];
        windows.admit(&both, Instant::now()).expect("first");
        for _ in 0..50 {
            let refused = windows.admit(&both, Instant::now()).expect_err("pair full");
            assert_eq!(refused.kind, Kind::LoginPair);
        }
        // The 50 refusals did not eat the per-user budget: 99 are left.
        for _ in 0..99 {
            windows
                .admit(std::slice::from_ref(&loose), Instant::now())
                .expect("user budget intact");
        }
        assert_eq!(
            windows
                .admit(std::slice::from_ref(&loose), Instant::now())
                .expect_err("now full")
                .kind,
            Kind::LoginUser
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_longest_wait_is_the_one_reported() {
        let windows = MemoryWindows::new();
        let short = hit(Kind::LoginPair, 1, 10, "pair");
        let long = hit(Kind::LoginIp, 1, 60, "ip");
        windows
            .admit(&[short.clone(), long.clone()], Instant::now())
            .expect("first");
        let refused = windows
            .admit(&[short, long], Instant::now())
            .expect_err("full");
        assert_eq!(refused.kind, Kind::LoginIp);
        assert_eq!(refused.retry_after, Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refund_gives_back_exactly_one_event() {
        let windows = MemoryWindows::new();
        let h = hit(Kind::LoginPair, 2, 60, "pair");
        let at = Instant::now();
        windows.admit(std::slice::from_ref(&h), at).expect("1");
        windows.admit(std::slice::from_ref(&h), at).expect("2");
        assert!(windows.admit(std::slice::from_ref(&h), at).is_err());
        windows.refund(&[&h], at);
        windows
            .admit(std::slice::from_ref(&h), at)
            .expect("one given back");
        assert!(windows.admit(std::slice::from_ref(&h), at).is_err());
        // Refunding everything forgets the key.
        windows.refund(&[&h], at);
        windows.refund(&[&h], at);
        windows.refund(&[&h], at);
        assert!(windows.is_empty());
        windows.admit(std::slice::from_ref(&h), at).expect("fresh");
        windows.clear();
        assert!(windows.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn keys_whose_events_left_the_window_are_swept() {
        let windows = MemoryWindows::new();
        let many: Vec<Hit> = (0..5000)
            .map(|i| hit(Kind::LoginIp, 5, 60, &format!("198.51.100.{i}")))
            .collect();
        for h in &many {
            windows
                .admit(std::slice::from_ref(h), Instant::now())
                .expect("fresh key");
        }
        // Sweeps ran while the map grew, but every key is still within its window.
        assert_eq!(windows.len(), 5000);
        tokio::time::advance(Duration::from_secs(61)).await;
        let fresh = hit(Kind::LoginIp, 5, 60, "203.0.113.9");
        // Checks go on; a periodic sweep comes within SWEEP_EVERY of them.
        for _ in 0..SWEEP_EVERY {
            let _ = windows.admit(std::slice::from_ref(&fresh), Instant::now());
        }
        assert_eq!(windows.len(), 1, "only the key still in its window is kept");
    }
}
