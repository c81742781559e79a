//! The open-orders port: the orders that are not final yet, found by how long they have stayed
//! in their state, for the reconciler (DESIGN §6, "No order left behind").
//!
//! While an order is open its item carries a shard (`open#0`..`open#7`, from its id) and the
//! time of its last transition; a final transition removes the shard. The DynamoDB adapter
//! reads them through a sparse index keyed by both; the in-memory fake filters its orders.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};

use super::StoreError;
use crate::domain::{Order, OrderId};

/// How many partitions the open orders are spread over: an index partition takes about 1,000
/// writes a second, and every transition of every open order writes the index once or twice.
pub const OPEN_SHARDS: u8 = 8;

/// One partition of the open orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpenShard(u8);

impl OpenShard {
    /// The order's shard: a stable hash of its id (FNV-1a, the same in every build and
    /// language, unlike the standard library's hasher).
    pub fn of(order_id: &OrderId) -> OpenShard {
        let hash = order_id.as_str().bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        OpenShard((hash % u32::from(OPEN_SHARDS)) as u8)
    }

    /// Every shard, in order.
    pub fn all() -> impl Iterator<Item = OpenShard> {
        (0..OPEN_SHARDS).map(OpenShard)
    }

    pub fn index(self) -> u8 {
        self.0
    }
}

/// As stored: `open#<n>`.
impl fmt::Display for OpenShard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "open#{}", self.0)
    }
}

/// The time of an order's last transition as the index sorts it: RFC 3339 in UTC with exactly
/// three decimals, so that text order is time order.
pub fn index_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Where a sweep resumes: the index position of the last order a page returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOrdersCursor {
    /// The order's last transition, as [`index_time`] writes it.
    pub updated_at: String,
    pub order_id: OrderId,
}

/// One page of a shard's open orders that have not changed since `changed_before`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOrdersQuery {
    pub shard: OpenShard,
    pub changed_before: DateTime<Utc>,
    /// At most this many orders (at least one).
    pub limit: u32,
    /// Resume after this position (the previous page's `next`).
    pub after: Option<OpenOrdersCursor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpenOrdersPage {
    /// Oldest last transition first.
    pub orders: Vec<Order>,
    /// Set when more may follow: pass it as the next query's `after`.
    pub next: Option<OpenOrdersCursor>,
}

#[async_trait]
pub trait OpenOrders: Send + Sync {
    /// One page of the shard's open orders whose last transition is before
    /// `query.changed_before`, oldest first. Eventually consistent: an order that changed a
    /// moment ago may still show its previous state.
    async fn open_orders(&self, query: &OpenOrdersQuery) -> Result<OpenOrdersPage, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_falls_in_one_of_the_shards_and_they_are_all_used() {
        let mut seen = [0u32; OPEN_SHARDS as usize];
        for _ in 0..800 {
            let shard = OpenShard::of(&OrderId::new());
            assert!(shard.index() < OPEN_SHARDS);
            seen[shard.index() as usize] += 1;
        }
        // 800 random ids: each shard gets about 100; none is empty or takes half.
        assert!(seen.iter().all(|n| (30..400).contains(n)), "{seen:?}");
    }

    #[test]
    fn an_orders_shard_is_stable_and_written_as_open_hash_n() {
        let id = OrderId::parse("7b770a60-3c1e-4d8e-9a55-0f0c2b1e9a11").unwrap();
        assert_eq!(OpenShard::of(&id), OpenShard::of(&id.clone()));
        assert_eq!(
            OpenShard::of(&id).to_string(),
            format!("open#{}", OpenShard::of(&id).index())
        );
        assert_eq!(OpenShard::all().count(), usize::from(OPEN_SHARDS));
    }

    #[test]
    fn index_times_sort_as_text_in_time_order() {
        let whole = DateTime::parse_from_rfc3339("2025-01-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let later = whole + chrono::Duration::milliseconds(500);
        assert_eq!(index_time(whole), "2025-01-01T10:00:00.000Z");
        assert!(index_time(whole) < index_time(later));
        assert!(index_time(later) < index_time(whole + chrono::Duration::seconds(1)));
    }
}
