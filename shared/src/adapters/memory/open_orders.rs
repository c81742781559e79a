//! [`OpenOrders`] over the in-memory orders, with the DynamoDB index's semantics: only open
//! orders, one shard, last transition strictly before the bound, oldest first (ties by order
//! id, as the index orders its entries), a page of at most `limit` and a cursor when it is full.

use async_trait::async_trait;

use super::MemoryStore;
use crate::ports::{
    index_time, OpenOrders, OpenOrdersCursor, OpenOrdersPage, OpenOrdersQuery, OpenShard,
    StoreError,
};

#[async_trait]
impl OpenOrders for MemoryStore {
    async fn open_orders(&self, query: &OpenOrdersQuery) -> Result<OpenOrdersPage, StoreError> {
        let state = self.begin()?;
        let before = index_time(query.changed_before);
        let after = query
            .after
            .as_ref()
            .map(|c| (c.updated_at.clone(), c.order_id.to_string()));
        let mut open: Vec<_> = state
            .orders
            .values()
            .filter(|o| !o.status.is_terminal() && OpenShard::of(&o.order_id) == query.shard)
            .map(|o| ((index_time(o.updated_at()), o.order_id.to_string()), o))
            .filter(|(position, _)| position.0 < before)
            .filter(|(position, _)| after.as_ref().is_none_or(|a| position > a))
            .collect();
        open.sort_by(|a, b| a.0.cmp(&b.0));
        let limit = usize::try_from(query.limit.max(1)).unwrap_or(usize::MAX);
        let full = open.len() >= limit;
        let orders: Vec<_> = open
            .into_iter()
            .take(limit)
            .map(|(_, o)| o.clone())
            .collect();
        // Like DynamoDB, a full page says more may follow even when none does.
        let next = full
            .then(|| orders.last())
            .flatten()
            .map(|o| OpenOrdersCursor {
                updated_at: index_time(o.updated_at()),
                order_id: o.order_id.clone(),
            });
        Ok(OpenOrdersPage { orders, next })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};

    use super::*;
    use crate::domain::{
        Currency, CustomerId, Email, Money, Order, OrderId, OrderLine, OrderStatus, PaymentToken,
        Quantity, Sku,
    };
    use crate::ports::OrderRepository;

    fn order_at(at: DateTime<Utc>) -> Order {
        Order::place(
            OrderId::new(),
            CustomerId::parse("c-1").unwrap(),
            Email::parse("a@example.com").unwrap(),
            PaymentToken::parse("tok_visa").unwrap(),
            vec![OrderLine {
                sku: Sku::parse("SKU-A").unwrap(),
                quantity: Quantity::new(1).unwrap(),
                unit_price: Money::new(100, Currency::EUR),
            }],
            at,
        )
        .unwrap()
    }

    /// Orders all in one shard, placed `ages` minutes ago.
    async fn store_with(ages: &[i64], now: DateTime<Utc>) -> (MemoryStore, OpenShard) {
        let store = MemoryStore::new();
        let shard = OpenShard::of(&OrderId::new());
        for age in ages {
            let order = loop {
                let o = order_at(now - Duration::minutes(*age));
                if OpenShard::of(&o.order_id) == shard {
                    break o;
                }
            };
            store.create(&order).await.unwrap();
        }
        (store, shard)
    }

    fn query(shard: OpenShard, before: DateTime<Utc>, limit: u32) -> OpenOrdersQuery {
        OpenOrdersQuery {
            shard,
            changed_before: before,
            limit,
            after: None,
        }
    }

    #[tokio::test]
    async fn only_the_shards_open_orders_older_than_the_bound_come_back_oldest_first() {
        let now = Utc::now();
        let (store, shard) = store_with(&[1, 30, 10, 20], now).await;
        let elsewhere = loop {
            let o = order_at(now - Duration::minutes(50));
            if OpenShard::of(&o.order_id) != shard {
                break o;
            }
        };
        store.create(&elsewhere).await.unwrap();
        let page = store
            .open_orders(&query(shard, now - Duration::minutes(5), 10))
            .await
            .unwrap();
        let ages: Vec<i64> = page
            .orders
            .iter()
            .map(|o| (now - o.created_at).num_minutes())
            .collect();
        assert_eq!(ages, vec![30, 20, 10]);
        assert_eq!(page.next, None);
    }

    #[tokio::test]
    async fn a_final_order_leaves_the_open_orders() {
        let now = Utc::now();
        let (store, shard) = store_with(&[30, 20], now).await;
        let oldest = store
            .open_orders(&query(shard, now, 10))
            .await
            .unwrap()
            .orders[0]
            .clone();
        let at = now - Duration::minutes(15);
        store
            .transition(
                &oldest.order_id,
                OrderStatus::Pending,
                OrderStatus::Rejected,
                at,
            )
            .await
            .unwrap();
        let page = store.open_orders(&query(shard, now, 10)).await.unwrap();
        assert_eq!(page.orders.len(), 1);
        assert_ne!(page.orders[0].order_id, oldest.order_id);
    }

    #[tokio::test]
    async fn a_transition_moves_the_order_to_its_new_time() {
        let now = Utc::now();
        let (store, shard) = store_with(&[30], now).await;
        let order = store.orders()[0].clone();
        store
            .transition(
                &order.order_id,
                OrderStatus::Pending,
                OrderStatus::Reserved,
                now - Duration::minutes(2),
            )
            .await
            .unwrap();
        let bound = now - Duration::minutes(5);
        assert!(store
            .open_orders(&query(shard, bound, 10))
            .await
            .unwrap()
            .orders
            .is_empty());
        let page = store.open_orders(&query(shard, now, 10)).await.unwrap();
        assert_eq!(page.orders[0].status, OrderStatus::Reserved);
    }

    #[tokio::test]
    async fn pages_resume_after_their_cursor_until_the_last_one() {
        let now = Utc::now();
        let (store, shard) = store_with(&[50, 40, 30, 20, 10], now).await;
        let mut q = query(shard, now, 2);
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = store.open_orders(&q).await.unwrap();
            pages += 1;
            seen.extend(
                page.orders
                    .iter()
                    .map(|o| (now - o.created_at).num_minutes()),
            );
            match page.next {
                Some(next) => q.after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, vec![50, 40, 30, 20, 10]);
        // 2 + 2 + 1: the last page is not full.
        assert_eq!(pages, 3);
    }

    #[tokio::test]
    async fn an_injected_failure_fails_the_query() {
        let (store, shard) = store_with(&[10], Utc::now()).await;
        store.fail_next(1);
        assert!(matches!(
            store.open_orders(&query(shard, Utc::now(), 10)).await,
            Err(StoreError::Unavailable(_))
        ));
    }
}
