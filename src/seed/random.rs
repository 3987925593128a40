//! A small, seedable pseudo-random generator (SplitMix64), so that a seed run with the same
//! `--seed` draws the same accounts, amounts and dates. Not for anything secret.

use rust_decimal::Decimal;

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for one stream (an account, the reference data) of a seed run.
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut rng = Rng(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.next_u64();
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < per_mille as u64
    }

    /// True with probability `num` / `den`.
    pub fn chance_of(&mut self, num: u64, den: u64) -> bool {
        self.below(den.max(1)) < num
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A whole number of cents between `lo` and `hi` (both in cents), as an amount.
    pub fn cents(&mut self, lo: i64, hi: i64) -> Decimal {
        Decimal::new(self.range(lo, hi), 2)
    }

    /// How many of something happen when `num` / `den` happen on average: the whole part
    /// always, one more with the remainder's probability.
    pub fn count(&mut self, num: u64, den: u64) -> usize {
        let den = den.max(1);
        (num / den) as usize + usize::from(self.chance_of(num % den, den))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_draws() {
        let mut a = Rng::new(7, 3);
        let mut b = Rng::new(7, 3);
        let draws: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        assert_eq!(draws, (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(Rng::new(7, 4).next_u64(), Rng::new(7, 3).next_u64());
    }

    #[test]
    fn ranges_stay_in_bounds_and_cover_them() {
        let mut r = Rng::new(1, 1);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let v = r.range(10, 14);
            assert!((10..=14).contains(&v));
            seen[(v - 10) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn counts_average_to_the_rate() {
        let mut r = Rng::new(2, 9);
        let total: usize = (0..10_000).map(|_| r.count(9, 4)).sum();
        assert!((21_500..23_500).contains(&total), "{total}");
    }
}
