//! Randomness: one SplitMix64 drives every choice, and the attributes of an entity (a user,
//! an app) are hashes of (seed, entity), so nothing about them needs storing.

use crate::hash::mix64;

/// SplitMix64: tiny, fast, and the same sequence everywhere.
#[derive(Debug, Clone)]
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }
    /// Uniform in `lo..=hi`.
    pub(super) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    pub(super) fn pick<'a, T>(&mut self, s: &'a [T]) -> &'a T {
        &s[self.below(s.len() as u64) as usize]
    }
    /// An index drawn with the given weights.
    pub(super) fn weighted(&mut self, w: &[u32]) -> usize {
        let total: u64 = w.iter().map(|&x| u64::from(x)).sum();
        let mut r = self.below(total);
        for (i, &x) in w.iter().enumerate() {
            if r < u64::from(x) {
                return i;
            }
            r -= u64::from(x);
        }
        w.len() - 1
    }
    pub(super) fn secs(&mut self, lo: u64, hi: u64) -> i64 {
        self.range(lo * 1000, hi * 1000) as i64 * 1_000_000 + self.below(1_000_000) as i64
    }
}

/// Per-entity attributes are a pure function of (seed, entity), so users need no storage.
pub(super) fn h2(a: u64, b: u64) -> u64 {
    mix64(a ^ mix64(b.wrapping_add(0x632b_e59b_d9b4_e019)))
}

pub(super) fn hex24(h: u64, h2v: u64) -> String {
    format!("{:016x}{:08x}", h, h2v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_splitmix64() {
        // Reference values of SplitMix64 seeded with 0.
        let mut r = Rng(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }
}
