//! Randomness for SIDs, List_IDs, Refs, access codes and fault rolls, from the OS.
//!
//! If the OS source ever fails, a time-seeded SplitMix64 takes over: the simulator is
//! a test double, and a weaker SID there beats a panicking handler.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Fills `buf` with random bytes.
pub(crate) fn fill(buf: &mut [u8]) {
    if getrandom::fill(buf).is_err() {
        for chunk in buf.chunks_mut(8) {
            let bytes = fallback().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// A random `u64`.
pub(crate) fn u64() -> u64 {
    getrandom::u64().unwrap_or_else(|_| fallback())
}

/// A random number in `0.0..1.0`.
pub(crate) fn unit() -> f64 {
    // The top 53 bits fill an f64 mantissa exactly.
    (u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// True with probability `ratio` (0 never, 1 always).
pub(crate) fn chance(ratio: f64) -> bool {
    ratio > 0.0 && unit() < ratio
}

/// `n` random bytes as lowercase hex.
pub(crate) fn hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn fallback() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = STATE
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(nanos);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chance_is_exact_at_the_ends() {
        assert!((0..100).all(|_| chance(1.0)));
        assert!((0..100).all(|_| !chance(0.0)));
    }

    #[test]
    fn hex_has_two_digits_per_byte() {
        let h = hex(32);
        assert_eq!(h.len(), 64);
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn fallback_varies() {
        assert_ne!(fallback(), fallback());
    }
}
