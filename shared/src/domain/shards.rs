//! Sharded stock. One DynamoDB item takes about 1,000 write units a second, so a hot SKU's
//! stock can be spread over N items (shards): a line is served whole from one shard, and units
//! move between shards only when no single shard can serve a line the total could. The rules
//! here — which shard a line tries first, which serves it, how units move — are the same for
//! every store, so the in-memory store and DynamoDB sell out alike.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{DomainError, OrderId, Sku};

/// How many items hold a SKU's stock: 1 (one item, the default) to [`ShardCount::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardCount(u16);

impl ShardCount {
    pub const ONE: ShardCount = ShardCount(1);
    /// Every shard of a SKU fits one transaction (DynamoDB: 100 items), so a consistent read of
    /// all of them, or a move from all of them, is one call.
    pub const MAX: u16 = 100;

    pub fn new(n: u32) -> Result<Self, DomainError> {
        match u16::try_from(n) {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(ShardCount(n)),
            _ => Err(DomainError::invalid(
                "shards",
                "must be an integer from 1 to 100",
            )),
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }

    /// The shards' indexes, `0..N`; shard 0 is the product's own item.
    pub fn indexes(self) -> std::ops::Range<u16> {
        0..self.0
    }
}

impl Default for ShardCount {
    fn default() -> Self {
        ShardCount::ONE
    }
}

impl fmt::Display for ShardCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for ShardCount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.0)
    }
}

impl<'de> Deserialize<'de> for ShardCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(d)?;
        ShardCount::new(n).map_err(serde::de::Error::custom)
    }
}

/// The shard a line tries first: a hash of the order and the SKU. Order ids are random, so
/// buyers spread evenly over the shards; the same order picks the same shard again, so a
/// reservation sent again builds the same transaction.
pub fn first_shard(order: &OrderId, sku: &Sku, shards: ShardCount) -> u16 {
    // FNV-1a: stable across processes and builds, unlike the standard library's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in order
        .as_str()
        .bytes()
        .chain([b'/'])
        .chain(sku.as_str().bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let index = hash % u64::from(shards.get());
    u16::try_from(index).unwrap_or(0)
}

/// `total` spread as evenly as possible: the first `total % N` shards hold one unit more.
pub fn split(total: u32, shards: ShardCount) -> Vec<u32> {
    let n = u32::from(shards.get());
    (0..n)
        .map(|i| total / n + u32::from(i < total % n))
        .collect()
}

/// Units moved into one shard from others, in one transaction, so that it can serve a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebalance {
    /// The shard that receives the units, and then serves the line.
    pub target: u16,
    /// `(shard, units)` taken from each donor; never the target, never more than it holds.
    pub donors: Vec<(u16, u32)>,
}

impl Rebalance {
    pub fn units(&self) -> u32 {
        self.donors.iter().map(|(_, units)| units).sum()
    }
}

/// What serves a line of `quantity` units, given every shard's stock read at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// This shard holds enough.
    Take(u16),
    /// No shard holds enough but together they do: move units first, then take from the target.
    Rebalance(Rebalance),
    /// The shards together hold less than the line: the buyer is refused.
    Short { available: u32 },
}

/// The rule for one line: scanning from `start` (wrapping), the first shard holding
/// `quantity`; else, when the total does, a rebalance into the shard holding the most (the
/// fewest units to move; ties go to the first in scan order), from the others by most units
/// first, exactly the units missing; else short. A buyer is refused only when the total cannot
/// serve the line, so no unit is stranded in a shard while buyers are turned away.
pub fn pick(stocks: &[u32], start: u16, quantity: u32) -> Pick {
    let n = stocks.len();
    if n == 0 {
        return Pick::Short { available: 0 };
    }
    let scan: Vec<usize> = (0..n).map(|k| (usize::from(start) + k) % n).collect();
    if let Some(&i) = scan.iter().find(|&&i| stocks[i] >= quantity) {
        return Pick::Take(index(i));
    }
    let total: u64 = stocks.iter().map(|&s| u64::from(s)).sum();
    if total < u64::from(quantity) {
        return Pick::Short {
            available: u32::try_from(total).unwrap_or(u32::MAX),
        };
    }
    // Stable sorts keep scan order among equals.
    let mut by_most = scan;
    by_most.sort_by(|a, b| stocks[*b].cmp(&stocks[*a]));
    let target = by_most[0];
    let mut missing = quantity - stocks[target];
    let mut donors = Vec::new();
    for &i in &by_most[1..] {
        if missing == 0 {
            break;
        }
        let units = stocks[i].min(missing);
        if units > 0 {
            donors.push((index(i), units));
            missing -= units;
        }
    }
    Pick::Rebalance(Rebalance {
        target: index(target),
        donors,
    })
}

/// A shard index back to its type; the slice it indexes has at most `ShardCount::MAX` items.
fn index(i: usize) -> u16 {
    u16::try_from(i).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn count(n: u32) -> ShardCount {
        ShardCount::new(n).unwrap()
    }

    #[test]
    fn a_shard_count_is_one_to_a_hundred_and_reads_from_json_through_the_check() {
        assert_eq!(ShardCount::default(), ShardCount::ONE);
        assert!(ShardCount::new(0).is_err());
        assert_eq!(ShardCount::new(100).unwrap().get(), 100);
        assert!(ShardCount::new(101).is_err());
        assert!(ShardCount::new(70_000).is_err());
        assert_eq!(serde_json::from_str::<ShardCount>("8").unwrap(), count(8));
        assert!(serde_json::from_str::<ShardCount>("0").is_err());
        assert_eq!(serde_json::to_string(&count(8)).unwrap(), "8");
        assert_eq!(count(3).indexes().collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn a_total_splits_evenly_with_the_remainder_on_the_first_shards() {
        assert_eq!(split(20, count(8)), [3, 3, 3, 3, 2, 2, 2, 2]);
        assert_eq!(split(7, ShardCount::ONE), [7]);
        assert_eq!(split(2, count(4)), [1, 1, 0, 0]);
    }

    #[test]
    fn the_first_shard_serving_the_line_is_taken_scanning_from_the_start() {
        assert_eq!(pick(&[5], 0, 5), Pick::Take(0));
        assert_eq!(pick(&[0, 2, 0, 9], 2, 2), Pick::Take(3));
        assert_eq!(pick(&[4, 0, 0, 0], 1, 2), Pick::Take(0), "the scan wraps");
    }

    #[test]
    fn a_line_no_shard_serves_but_the_total_does_rebalances_into_the_fullest_shard() {
        assert_eq!(
            pick(&[1, 2, 0, 1], 0, 3),
            Pick::Rebalance(Rebalance {
                target: 1,
                donors: vec![(0, 1)],
            })
        );
        // Ties go to scan order: from 3, shard 3 then 0 hold 1 each.
        assert_eq!(
            pick(&[1, 0, 0, 1, 1], 3, 3),
            Pick::Rebalance(Rebalance {
                target: 3,
                donors: vec![(4, 1), (0, 1)],
            })
        );
    }

    #[test]
    fn a_line_the_total_cannot_serve_is_short_by_the_total() {
        assert_eq!(pick(&[1, 0, 1], 0, 3), Pick::Short { available: 2 });
        assert_eq!(pick(&[], 0, 1), Pick::Short { available: 0 });
        assert_eq!(
            pick(&[u32::MAX, u32::MAX], 0, 100),
            Pick::Take(0),
            "large stocks do not overflow"
        );
    }

    #[test]
    fn the_first_shard_is_stable_for_an_order_and_spreads_over_orders() {
        let sku = Sku::parse("SKU-HOT").unwrap();
        let order = OrderId::new();
        assert_eq!(
            first_shard(&order, &sku, count(8)),
            first_shard(&order, &sku, count(8))
        );
        assert_eq!(first_shard(&order, &sku, ShardCount::ONE), 0);
        let mut hits = [0u32; 8];
        for _ in 0..8_000 {
            hits[usize::from(first_shard(&OrderId::new(), &sku, count(8)))] += 1;
        }
        // 1,000 expected per shard; 800 is far outside the binomial spread (sd ≈ 30).
        assert!(hits.iter().all(|&h| h > 800), "{hits:?}");
    }

    proptest! {
        #[test]
        fn a_split_keeps_the_total_and_differs_by_at_most_one(total in any::<u32>(), n in 1u32..=100) {
            let parts = split(total, count(n));
            prop_assert_eq!(parts.len(), n as usize);
            prop_assert_eq!(parts.iter().map(|&p| u64::from(p)).sum::<u64>(), u64::from(total));
            let (min, max) = (parts.iter().min().unwrap(), parts.iter().max().unwrap());
            prop_assert!(max - min <= 1);
        }

        #[test]
        fn a_pick_is_refused_only_when_the_total_is_short_and_a_rebalance_moves_exactly_enough(
            stocks in proptest::collection::vec(0u32..20, 1..=12),
            start in 0u16..12,
            quantity in 1u32..=100,
        ) {
            let total: u32 = stocks.iter().sum();
            match pick(&stocks, start, quantity) {
                Pick::Take(i) => {
                    prop_assert!(stocks[usize::from(i)] >= quantity);
                    // No shard before it in scan order could serve the line.
                    let n = stocks.len();
                    let mut k = usize::from(start) % n;
                    while k != usize::from(i) {
                        prop_assert!(stocks[k] < quantity);
                        k = (k + 1) % n;
                    }
                }
                Pick::Rebalance(r) => {
                    prop_assert!(stocks.iter().all(|&s| s < quantity));
                    prop_assert!(total >= quantity);
                    let target = stocks[usize::from(r.target)];
                    prop_assert_eq!(target + r.units(), quantity);
                    for (donor, units) in &r.donors {
                        prop_assert_ne!(*donor, r.target);
                        prop_assert!(*units >= 1 && *units <= stocks[usize::from(*donor)]);
                    }
                }
                Pick::Short { available } => {
                    prop_assert!(total < quantity);
                    prop_assert_eq!(available, total);
                }
            }
        }
    }
}
