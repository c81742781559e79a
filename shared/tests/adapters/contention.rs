//! Contention against a moto with the harsh cloud on (transaction conflicts and a per-item
//! write rate, DESIGN §8): the stores retry it inside the call, so a flash sale on one SKU ends
//! every buyer reserved or short of stock, none `Unavailable`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use chrono::Utc;
use orderflow_shared::adapters::dynamodb::DynamoStore;
use orderflow_shared::ports::{Catalog, Inventory, OrderRepository, ReserveError};
use tokio::sync::Barrier;

use crate::dynamodb::{line, new_order, product, sku};
use crate::support;

const BUYERS: usize = 50;
const STOCK: u32 = 20;
/// Transactions hold their items 10–30 ms, so buyers that overlap conflict; the hot item takes
/// 40 write units a second and a transactional write costs 2, so its bucket (one second deep)
/// admits 20 reservations at once and then 20 a second (moto under load may stay below that).
const SPEC: &str = "conflict_ms=20,item_wcu=40,seed=11";

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_reservations_of_one_hot_sku_all_end_reserved_or_short_of_stock() {
    let moto = support::harsh_moto(SPEC);
    let client = Client::new(&moto.sdk_config().await);
    let tables = support::dynamodb::create_tables(&client).await;
    let store = Arc::new(DynamoStore::new(client, tables));
    store.put_product(&product("SKU-HOT", STOCK)).await.unwrap();
    let mut orders = Vec::new();
    for _ in 0..BUYERS {
        let order = new_order(vec![line("SKU-HOT", 1)]);
        store.create(&order).await.unwrap();
        orders.push(order);
    }

    let start = Arc::new(Barrier::new(BUYERS));
    let mut buyers = tokio::task::JoinSet::new();
    for order in orders {
        let (store, start) = (store.clone(), start.clone());
        buyers.spawn(async move {
            start.wait().await;
            let began = Instant::now();
            let answer = store
                .reserve_stock(&order.order_id, &order.lines, Utc::now())
                .await;
            (answer, began.elapsed())
        });
    }
    let answers = buyers.join_all().await;

    let reserved = answers.iter().filter(|(a, _)| a.is_ok()).count();
    let short = answers
        .iter()
        .filter(|(a, _)| matches!(a, Err(ReserveError::InsufficientStock(_))))
        .count();
    let other: Vec<_> = answers
        .iter()
        .filter_map(|(a, _)| a.as_ref().err())
        .filter(|e| !matches!(e, ReserveError::InsufficientStock(_)))
        .collect();
    assert!(other.is_empty(), "neither reserved nor short: {other:?}");
    assert_eq!((reserved, short), (STOCK as usize, BUYERS - STOCK as usize));
    let left = store.products(&[sku("SKU-HOT")]).await.unwrap();
    assert_eq!(left[0].stock, 0);

    let conflicts = moto.injected("transaction_conflict");
    let throttles = moto.injected("throttle");
    assert!(
        conflicts > 0,
        "the buyers met no conflict: this test would prove nothing"
    );
    let mut took: Vec<Duration> = answers.iter().map(|(_, t)| *t).collect();
    took.sort();
    eprintln!(
        "{BUYERS} buyers, stock {STOCK}, spec {SPEC}: {conflicts} conflicts and {throttles} \
         throttles met and retried; time per reservation median {:?}, max {:?}",
        took[took.len() / 2],
        took[took.len() - 1]
    );
}
