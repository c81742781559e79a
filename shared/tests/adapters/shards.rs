//! Sharded stock in DynamoDB against moto (DESIGN §6 "Sharded stock"): seeding over N items,
//! a line taken whole from one shard and released back into it, units moved in one
//! transaction when no shard serves a line alone, counts that change under a warm process,
//! and — with the harsh cloud's conflicts and per-item write rate on — concurrent buyers of
//! the last units across shards: exactly the stock is sold, and nobody is refused while the
//! units left would serve them.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use chrono::Utc;
use orderflow_shared::adapters::dynamodb::{DynamoStore, TableNames};
use orderflow_shared::domain::{OrderId, OrderLine, OrderStatus, ShardCount};
use orderflow_shared::events::Shortage;
use orderflow_shared::ports::{Catalog, CatalogEntry, Inventory, OrderRepository, ReserveError};
use tokio::sync::Barrier;

use crate::dynamodb::{fixture, line, new_order, product, sku};
use crate::support;

fn entry(s: &str, stock: u32, shards: u32) -> CatalogEntry {
    CatalogEntry {
        product: product(s, stock),
        shards: ShardCount::new(shards).unwrap(),
    }
}

/// Every item of the inventory table whose key starts with `SKU#<sku>`, by key.
async fn raw_items(
    client: &Client,
    table: &str,
    s: &str,
) -> HashMap<String, HashMap<String, AttributeValue>> {
    let out = client
        .scan()
        .table_name(table)
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items()
        .iter()
        .filter_map(|item| match item.get("pk") {
            Some(AttributeValue::S(pk))
                if pk == &format!("SKU#{s}") || pk.starts_with(&format!("SKU#{s}#")) =>
            {
                Some((pk.clone(), item.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Each shard's stock, shard 0 first (a missing shard item reads as `None`).
async fn shard_stocks(client: &Client, table: &str, s: &str, shards: u16) -> Vec<Option<u32>> {
    let items = raw_items(client, table, s).await;
    (0..shards)
        .map(|i| {
            let key = if i == 0 {
                format!("SKU#{s}")
            } else {
                format!("SKU#{s}#{i}")
            };
            items.get(&key).map(|item| match item.get("stock") {
                Some(AttributeValue::N(n)) => n.parse().unwrap(),
                other => panic!("{key}: stock {other:?}"),
            })
        })
        .collect()
}

async fn reserve(
    store: &DynamoStore,
    lines: Vec<OrderLine>,
) -> (OrderId, Result<(), ReserveError>) {
    let order = new_order(lines);
    store.create(&order).await.unwrap();
    let answer = store
        .reserve_stock(&order.order_id, &order.lines, Utc::now())
        .await;
    (order.order_id, answer)
}

#[tokio::test]
async fn a_sharded_sku_is_seeded_over_its_items_listed_with_its_total_and_reseeded_without_its_old_shards(
) {
    let f = fixture().await;
    let table = f.store.tables().inventory.clone();
    f.store.put_entry(&entry("SKU-HOT", 20, 8)).await.unwrap();
    f.store.put_product(&product("SKU-COLD", 5)).await.unwrap();
    assert_eq!(
        shard_stocks(&f.client, &table, "SKU-HOT", 8).await,
        [3, 3, 3, 3, 2, 2, 2, 2].map(Some)
    );
    let listed = f.store.all_products().await.unwrap();
    let stocks: Vec<(&str, u32)> = listed.iter().map(|p| (p.sku.as_str(), p.stock)).collect();
    assert_eq!(stocks, [("SKU-COLD", 5), ("SKU-HOT", 20)]);
    let asked = f
        .store
        .products(&[sku("SKU-HOT"), sku("SKU-NONE")])
        .await
        .unwrap();
    assert_eq!((asked.len(), asked[0].stock), (1, 20));

    f.store.put_entry(&entry("SKU-HOT", 7, 2)).await.unwrap();
    assert_eq!(
        shard_stocks(&f.client, &table, "SKU-HOT", 8).await,
        [Some(4), Some(3), None, None, None, None, None, None],
        "shards past the new count are deleted"
    );
    assert_eq!(
        f.store.products(&[sku("SKU-HOT")]).await.unwrap()[0].stock,
        7
    );
}

#[tokio::test]
async fn pricing_an_order_reads_the_product_items_and_none_of_the_further_shards() {
    let f = fixture().await;
    let table = f.store.tables().inventory.clone();
    f.store.put_entry(&entry("SKU-HOT", 20, 8)).await.unwrap();
    f.store.put_product(&product("SKU-COLD", 5)).await.unwrap();
    // A shard that cannot be read: the stock reads fail on it, a price lookup never meets it.
    f.client
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("SKU#SKU-HOT#3".into()))
        .item("stock", AttributeValue::S("three".into()))
        .send()
        .await
        .unwrap();
    assert!(f.store.products(&[sku("SKU-HOT")]).await.is_err());
    let listed = f
        .store
        .listings(&[sku("SKU-HOT"), sku("SKU-NONE"), sku("SKU-COLD")])
        .await
        .unwrap();
    let listed: Vec<(&str, i64)> = listed
        .iter()
        .map(|l| (l.sku.as_str(), l.price.amount))
        .collect();
    assert_eq!(listed, [("SKU-HOT", 1000), ("SKU-COLD", 1000)]);
}

#[tokio::test]
async fn a_line_is_taken_whole_from_one_shard_recorded_and_released_back_into_it() {
    let f = fixture().await;
    let table = f.store.tables().inventory.clone();
    f.store.put_entry(&entry("SKU-HOT", 40, 4)).await.unwrap();
    let (id, answer) = reserve(&f.store, vec![line("SKU-HOT", 3)]).await;
    answer.unwrap();
    let held = f.store.reservation(&id).await.unwrap().unwrap();
    let shard = usize::from(held.lines[0].shard);
    let mut expected = [Some(10); 4];
    expected[shard] = Some(7);
    assert_eq!(
        shard_stocks(&f.client, &table, "SKU-HOT", 4).await,
        expected
    );
    assert_eq!(
        f.store.products(&[sku("SKU-HOT")]).await.unwrap()[0].stock,
        37
    );

    f.store
        .transition(
            &id,
            OrderStatus::Reserved,
            OrderStatus::PaymentFailed,
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        f.store.release_stock(&id, Utc::now()).await.unwrap(),
        vec![line("SKU-HOT", 3)]
    );
    assert_eq!(
        shard_stocks(&f.client, &table, "SKU-HOT", 4).await,
        [Some(10); 4]
    );
}

#[tokio::test]
async fn a_line_no_shard_serves_alone_is_served_after_units_move_into_one_shard() {
    let f = fixture().await;
    let table = f.store.tables().inventory.clone();
    // [2, 2, 1, 1]: no shard holds 5, the total does.
    f.store.put_entry(&entry("SKU-HOT", 6, 4)).await.unwrap();
    let (id, answer) = reserve(&f.store, vec![line("SKU-HOT", 5)]).await;
    answer.unwrap();
    let stocks = shard_stocks(&f.client, &table, "SKU-HOT", 4).await;
    assert_eq!(stocks.iter().flatten().sum::<u32>(), 1);
    let shard = f.store.reservation(&id).await.unwrap().unwrap().lines[0].shard;
    assert_eq!(
        stocks[usize::from(shard)],
        Some(0),
        "served from the shard the units moved into"
    );
    let moved_into = raw_items(&f.client, &table, "SKU-HOT")
        .await
        .into_values()
        .filter(|item| item.contains_key("lastMove"))
        .count();
    assert_eq!(moved_into, 1, "one move, into one shard");

    // One unit left: a line of 2 is short by the total, a line of 1 is served.
    let (_, short) = reserve(&f.store, vec![line("SKU-HOT", 2)]).await;
    assert_eq!(
        short,
        Err(ReserveError::InsufficientStock(vec![Shortage {
            sku: sku("SKU-HOT"),
            requested: line("SKU-HOT", 2).quantity,
            available: 1
        }]))
    );
    reserve(&f.store, vec![line("SKU-HOT", 1)]).await.1.unwrap();
    assert_eq!(
        f.store.products(&[sku("SKU-HOT")]).await.unwrap()[0].stock,
        0
    );
}

#[tokio::test]
async fn an_order_with_one_short_line_moves_and_takes_nothing_from_any_shard() {
    let f = fixture().await;
    let table = f.store.tables().inventory.clone();
    f.store.put_entry(&entry("SKU-HOT", 6, 4)).await.unwrap();
    f.store.put_product(&product("SKU-B", 1)).await.unwrap();
    let (id, answer) = reserve(&f.store, vec![line("SKU-HOT", 5), line("SKU-B", 2)]).await;
    assert_eq!(
        answer,
        Err(ReserveError::InsufficientStock(vec![Shortage {
            sku: sku("SKU-B"),
            requested: line("SKU-B", 2).quantity,
            available: 1
        }]))
    );
    assert_eq!(
        shard_stocks(&f.client, &table, "SKU-HOT", 4).await,
        [2, 2, 1, 1].map(Some),
        "no units moved for an order that is refused"
    );
    assert_eq!(f.store.reservation(&id).await.unwrap(), None);
    assert_eq!(
        f.store.get(&id).await.unwrap().unwrap().status,
        OrderStatus::Pending
    );
}

#[tokio::test]
async fn a_warm_store_follows_a_sku_reseeded_to_fewer_and_to_more_shards() {
    let f = fixture().await;
    f.store.put_entry(&entry("SKU-HOT", 40, 4)).await.unwrap();
    // The store learns the count from the product item its first take returns.
    reserve(&f.store, vec![line("SKU-HOT", 1)]).await.1.unwrap();
    let (id, answer) = reserve(&f.store, vec![line("SKU-HOT", 1)]).await;
    answer.unwrap();
    assert!(f.store.reservation(&id).await.unwrap().is_some());

    // Fewer: shards 1..3 are gone, the remembered count is stale.
    f.store.put_product(&product("SKU-HOT", 10)).await.unwrap();
    for _ in 0..4 {
        reserve(&f.store, vec![line("SKU-HOT", 1)]).await.1.unwrap();
    }
    assert_eq!(
        f.store.products(&[sku("SKU-HOT")]).await.unwrap()[0].stock,
        6
    );

    // More again: a one-shard take on a product item that states shards is refused and learns.
    f.store.put_entry(&entry("SKU-HOT", 8, 8)).await.unwrap();
    for _ in 0..8 {
        reserve(&f.store, vec![line("SKU-HOT", 1)]).await.1.unwrap();
    }
    assert_eq!(
        f.store.products(&[sku("SKU-HOT")]).await.unwrap()[0].stock,
        0
    );
}

/// Transactions hold their items 10–30 ms and each item takes 40 write units a second (20
/// transactional writes): buyers that meet on a shard conflict or are throttled, and retry.
const HARSH: &str = "conflict_ms=20,item_wcu=40,seed=13";

async fn harsh_store(moto: &support::Moto) -> (Arc<DynamoStore>, Client, TableNames) {
    let client = Client::new(&moto.sdk_config().await);
    let tables = support::dynamodb::create_tables(&client).await;
    (
        Arc::new(DynamoStore::new(client.clone(), tables.clone())),
        client,
        tables,
    )
}

/// Buyers, each with their own store (their own process's memory), all released at once.
async fn buy_at_once(
    client: &Client,
    tables: &TableNames,
    quantities: &[u32],
) -> Vec<(u32, Result<(), ReserveError>)> {
    let start = Arc::new(Barrier::new(quantities.len()));
    let mut buyers = tokio::task::JoinSet::new();
    for &q in quantities {
        let store = DynamoStore::new(client.clone(), tables.clone());
        let order = new_order(vec![line("SKU-HOT", q)]);
        store.create(&order).await.unwrap();
        let start = start.clone();
        buyers.spawn(async move {
            start.wait().await;
            let answer = store
                .reserve_stock(&order.order_id, &order.lines, Utc::now())
                .await;
            (q, answer)
        });
    }
    buyers.join_all().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_buyers_of_the_last_units_across_shards_buy_exactly_the_stock() {
    let moto = support::harsh_moto(HARSH);
    let (store, client, tables) = harsh_store(&moto).await;
    store.put_entry(&entry("SKU-HOT", 20, 8)).await.unwrap();

    let answers = buy_at_once(&client, &tables, &[1; 60]).await;

    let reserved = answers.iter().filter(|(_, a)| a.is_ok()).count();
    let refusals: Vec<u32> = answers
        .iter()
        .filter_map(|(_, a)| match a {
            Err(ReserveError::InsufficientStock(s)) => Some(s[0].available),
            _ => None,
        })
        .collect();
    let other: Vec<_> = answers
        .iter()
        .filter_map(|(_, a)| a.as_ref().err())
        .filter(|e| !matches!(e, ReserveError::InsufficientStock(_)))
        .collect();
    assert!(other.is_empty(), "neither reserved nor short: {other:?}");
    assert_eq!((reserved, refusals.len()), (20, 40));
    assert!(
        refusals.iter().all(|&a| a == 0),
        "a buyer was refused while units remained: {refusals:?}"
    );
    assert_eq!(
        shard_stocks(&client, &tables.inventory, "SKU-HOT", 8).await,
        [Some(0); 8]
    );
    let conflicts = moto.injected("transaction_conflict");
    eprintln!(
        "60 buyers of 1, stock 20 over 8 shards, spec {HARSH}: {conflicts} conflicts, {} throttles met and retried",
        moto.injected("throttle")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_buyers_of_several_units_are_refused_only_when_the_units_left_cannot_serve_them()
{
    let moto = support::harsh_moto(HARSH);
    let (store, client, tables) = harsh_store(&moto).await;
    // Two units in each of 8 shards: every line of 3 needs units moved into one shard first.
    store.put_entry(&entry("SKU-HOT", 16, 8)).await.unwrap();
    let quantities: Vec<u32> = (0..24).map(|i| [3, 1][i % 2]).collect();

    let answers = buy_at_once(&client, &tables, &quantities).await;

    let sold: u32 = answers
        .iter()
        .filter(|(_, a)| a.is_ok())
        .map(|(q, _)| q)
        .sum();
    let left: u32 = shard_stocks(&client, &tables.inventory, "SKU-HOT", 8)
        .await
        .into_iter()
        .map(Option::unwrap)
        .sum();
    assert_eq!(sold + left, 16, "no unit lost or sold twice");
    for (q, answer) in &answers {
        match answer {
            Ok(()) => {}
            Err(ReserveError::InsufficientStock(s)) => {
                assert!(s[0].available < *q, "refused with enough: {s:?}");
                // Stock only went down, so what is left now was there at the refusal too.
                assert!(
                    left < *q,
                    "{left} unit(s) stranded while a buyer of {q} was refused"
                );
            }
            Err(other) => panic!("neither reserved nor short: {other:?}"),
        }
    }
    let moves = raw_items(&client, &tables.inventory, "SKU-HOT")
        .await
        .into_values()
        .filter(|item| item.contains_key("lastMove"))
        .count();
    assert!(
        moves > 0,
        "no units were moved: this test would prove nothing"
    );
    eprintln!(
        "24 buyers of 3 or 1, stock 16 over 8 shards: sold {sold}, left {left}, {moves} shard(s) received moved units, {} conflicts, {} throttles",
        moto.injected("transaction_conflict"),
        moto.injected("throttle")
    );
}
