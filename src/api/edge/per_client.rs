//! Requests in flight per client IP, so one client cannot take every request slot
//! (`server.max_concurrent_requests_per_ip`).
//!
//! An IPv6 client is counted by its /64, the block one host or one customer line
//! usually holds, so rotating addresses inside it does not multiply the cap. Memory
//! is bounded by the requests in flight: a client's entry goes when its count drops
//! to zero.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use foldhash::fast::RandomState;

/// The counts of the clients with requests in flight.
#[derive(Debug)]
pub(super) struct PerClient {
    limit: usize,
    /// Hashed with foldhash (seeded at random, as std's SipHash is): every request
    /// that takes a slot looks its client up twice, and SipHash cost about 180
    /// instructions each time. The map holds only clients with requests in flight.
    counts: Mutex<HashMap<IpAddr, usize, RandomState>>,
}

impl PerClient {
    /// At most `limit` requests in flight per client.
    pub(super) fn new(limit: usize) -> Self {
        Self {
            limit,
            counts: Mutex::new(HashMap::with_hasher(RandomState::default())),
        }
    }

    /// Counts a request of `client` in; `false` (nothing counted) when it already has
    /// `limit` in flight.
    pub(super) fn enter(&self, client: IpAddr) -> bool {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key(client)).or_insert(0);
        if *count >= self.limit {
            // Never left at 0: an entry exists only while it counts something.
            if *count == 0 {
                counts.remove(&key(client));
            }
            return false;
        }
        *count += 1;
        true
    }

    /// Counts a request of `client` out (one that [`Self::enter`] let in).
    pub(super) fn leave(&self, client: IpAddr) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        // One lookup (this runs on every request that took a slot).
        if let Entry::Occupied(mut count) = counts.entry(key(client)) {
            *count.get_mut() = count.get().saturating_sub(1);
            if *count.get() == 0 {
                count.remove();
            }
        }
    }

    /// How many clients have an entry.
    #[cfg(test)]
    pub(super) fn tracked(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// What a client is counted by: its IPv4 address (also when written as IPv6), or its
/// IPv6 /64.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an IP")
    }

    #[test]
    fn a_client_gets_its_cap_and_others_are_untouched() {
        let limits = PerClient::new(2);
        assert!(limits.enter(ip("192.0.2.1")));
        assert!(limits.enter(ip("192.0.2.1")));
        assert!(!limits.enter(ip("192.0.2.1")), "the third is refused");
        assert!(limits.enter(ip("192.0.2.2")), "another client is not");
        limits.leave(ip("192.0.2.1"));
        assert!(
            limits.enter(ip("192.0.2.1")),
            "a place given back is free again"
        );
    }

    #[test]
    fn entries_go_when_their_count_drops_to_zero() {
        let limits = PerClient::new(3);
        for n in 0..200u8 {
            assert!(limits.enter(IpAddr::from([198, 51, 100, n])));
        }
        assert_eq!(limits.tracked(), 200);
        for n in 0..200u8 {
            limits.leave(IpAddr::from([198, 51, 100, n]));
        }
        assert_eq!(limits.tracked(), 0, "nothing is kept for idle clients");
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_and_mapped_ipv4_as_ipv4() {
        let limits = PerClient::new(1);
        assert!(limits.enter(ip("2001:db8:1:2::1")));
        assert!(
            !limits.enter(ip("2001:db8:1:2:ffff::9")),
            "the same /64 is the same client"
        );
        assert!(limits.enter(ip("2001:db8:1:3::1")), "another /64 is not");
        assert!(limits.enter(ip("192.0.2.7")));
        assert!(!limits.enter(ip("::ffff:192.0.2.7")));
    }
}
