//! What `GET /products` costs, counted (not timed) against moto: the catalog list
//! (`DynamoCatalog::all_products`, through the sparse catalog index) before and after many
//! orders are reserved, beside the table scan it made before the index (every reservation
//! item read and filtered out). Prints the figures; asserts the list's cost does not grow.
//!
//! `ORDERFLOW_CATALOG_COST_ORDERS` sets how many orders (default 1,000; the figures in the
//! issue's report come from 10,000).
//!
//! Every DynamoDB answer is read by an interceptor on the client: calls, items returned,
//! items scanned, and their size. moto's `ConsumedCapacity` is a constant, so read units are
//! modelled with DynamoDB's rules for eventually consistent reads: a `Scan` costs half a unit
//! per 4 KB of the items it reads (an index scan: of their projections), a `BatchGetItem`
//! half a unit per item (each rounded up to 4 KB). Sizes follow DynamoDB's item size rule:
//! names plus values, a number about one byte per two digits plus one, a map or list three
//! bytes plus one per element plus its contents.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use chrono::Utc;
use orderflow_shared::adapters::dynamodb::{DynamoCatalog, DynamoStore, TableNames};
use orderflow_shared::domain::{Currency, Money, ShardCount, Sku};
use orderflow_shared::ports::{Catalog, CatalogEntry, Inventory, OrderRepository, Product};
use serde_json::Value;

use crate::dynamodb::{line, new_order};
use crate::support;

/// One DynamoDB answer as the interceptor read it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    op: String,
    returned: u64,
    scanned: u64,
    bytes: u64,
}

#[derive(Debug, Clone, Default)]
struct Answers(Arc<Mutex<Vec<Answer>>>);

impl Answers {
    fn take(&self) -> Vec<Answer> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for Answers {
    fn name(&self) -> &'static str {
        "Answers"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_default();
        let body: Value = context
            .response()
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        let items: Vec<&Value> = match op.as_str() {
            "Scan" | "Query" => body["Items"].as_array().into_iter().flatten().collect(),
            "BatchGetItem" => body["Responses"]
                .as_object()
                .into_iter()
                .flat_map(|tables| tables.values())
                .flat_map(|items| items.as_array().into_iter().flatten())
                .collect(),
            _ => Vec::new(),
        };
        let returned = items.len() as u64;
        self.0.lock().unwrap().push(Answer {
            scanned: body["ScannedCount"].as_u64().unwrap_or(returned),
            bytes: items.iter().map(|i| item_size(i)).sum(),
            returned,
            op,
        });
        Ok(())
    }
}

/// An item's size by DynamoDB's rule, from its JSON (`{"name": {"S": "…"}, …}`).
fn item_size(item: &Value) -> u64 {
    item.as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| name.len() as u64 + value_size(value))
        .sum()
}

fn value_size(value: &Value) -> u64 {
    let Some((kind, v)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" | "B" => v.as_str().map_or(0, |s| s.len() as u64),
        "N" => {
            let digits = v
                .as_str()
                .map_or(0, |s| s.chars().filter(char::is_ascii_digit).count());
            digits.div_ceil(2) as u64 + 1
        }
        "M" => {
            let entries = v.as_object().into_iter().flatten();
            3 + entries
                .map(|(name, inner)| 1 + name.len() as u64 + value_size(inner))
                .sum::<u64>()
        }
        "L" => {
            let entries = v.as_array().into_iter().flatten();
            3 + entries.map(|inner| 1 + value_size(inner)).sum::<u64>()
        }
        _ => 1,
    }
}

/// What one read cost: calls, items read (scanned, or fetched by key), bytes read, and read
/// units in halves (an eventually consistent read costs half a unit per 4 KB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cost {
    calls: u64,
    items_read: u64,
    bytes_read: u64,
    half_units: u64,
}

impl Cost {
    /// `scanned_bytes`: the size of everything a filtered `Scan` read (its answers show only
    /// the items that passed the filter, but it is charged for all it scanned).
    fn of(answers: &[Answer], scanned_bytes: Option<u64>) -> Cost {
        let mut cost = Cost {
            calls: answers.len() as u64,
            items_read: 0,
            bytes_read: 0,
            half_units: 0,
        };
        let mut scan_bytes = 0;
        for a in answers {
            cost.items_read += a.scanned;
            match a.op.as_str() {
                "BatchGetItem" | "GetItem" => {
                    cost.bytes_read += a.bytes;
                    cost.half_units += a.returned;
                }
                _ => scan_bytes += a.bytes,
            }
        }
        let scan_bytes = scanned_bytes.unwrap_or(scan_bytes);
        cost.bytes_read += scan_bytes;
        cost.half_units += scan_bytes.div_ceil(4096);
        cost
    }

    fn units(&self) -> String {
        format!(
            "{}.{}",
            self.half_units / 2,
            if self.half_units % 2 == 1 { 5 } else { 0 }
        )
    }
}

/// The shipped catalog, each SKU with plenty of stock so that every order reserves.
fn shipped_catalog() -> Vec<CatalogEntry> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/seed/catalog.json");
    let seed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    seed.as_array()
        .unwrap()
        .iter()
        .map(|p| CatalogEntry {
            product: Product {
                sku: Sku::parse(p["sku"].as_str().unwrap()).unwrap(),
                name: p["name"].as_str().unwrap().to_owned(),
                price: Money::new(p["price"]["amount"].as_i64().unwrap(), Currency::EUR),
                stock: 1_000_000,
            },
            shards: ShardCount::new(p["shards"].as_u64().unwrap_or(1) as u32).unwrap(),
        })
        .collect()
}

/// The catalog read `GET /products` made before the index: the whole table scanned, filtered
/// to product items.
async fn scan_the_table(client: &Client, table: &str) -> usize {
    let mut start = None;
    let mut products = 0;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .filter_expression("begins_with(pk, :prefix)")
            .expression_attribute_values(":prefix", AttributeValue::S("SKU#".into()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        products += out.items().len();
        match out.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return products,
        }
    }
}

/// The size of every item in the table (what a full scan reads), read without counting.
async fn table_bytes(client: &Client, table: &str) -> u64 {
    let mut start = None;
    let mut bytes = 0;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for item in out.items() {
            let json: serde_json::Map<String, Value> = item
                .iter()
                .map(|(k, v)| (k.clone(), attribute_json(v)))
                .collect();
            bytes += item_size(&Value::Object(json));
        }
        match out.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return bytes,
        }
    }
}

fn attribute_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => serde_json::json!({ "S": s }),
        AttributeValue::N(n) => serde_json::json!({ "N": n }),
        AttributeValue::M(m) => serde_json::json!({
            "M": m.iter().map(|(k, v)| (k.clone(), attribute_json(v))).collect::<serde_json::Map<_, _>>()
        }),
        AttributeValue::L(l) => {
            serde_json::json!({ "L": l.iter().map(attribute_json).collect::<Vec<_>>() })
        }
        _ => serde_json::json!({ "NULL": true }),
    }
}

/// Both reads, counted: the catalog list and the old table scan.
async fn measure(
    counted: &Client,
    plain: &Client,
    answers: &Answers,
    table: &str,
) -> (Cost, Cost, Vec<Product>) {
    answers.take();
    let listed = DynamoCatalog::new(counted.clone(), table)
        .all_products()
        .await
        .unwrap();
    let list = Cost::of(&answers.take(), None);
    // It matched every `SKU#` item: products, and now their further shards too.
    let found = scan_the_table(counted, table).await;
    assert!(found >= listed.len(), "the old scan finds the products");
    let scan = Cost::of(&answers.take(), Some(table_bytes(plain, table).await));
    (list, scan, listed)
}

/// Places `orders` orders of one or two lines, round the catalog, and reserves each.
async fn reserve_orders(store: &DynamoStore, skus: &[Sku], orders: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    let workers = 8;
    for w in 0..workers {
        let (store, skus) = (store.clone(), skus.to_vec());
        tasks.spawn(async move {
            for i in (w..orders).step_by(workers) {
                let first = skus[i % skus.len()].as_str();
                let mut lines = vec![line(first, 1)];
                if i % 3 == 0 {
                    lines.push(line(skus[(i + 1) % skus.len()].as_str(), 2));
                }
                let order = new_order(lines);
                store.create(&order).await.unwrap();
                store
                    .reserve_stock(&order.order_id, &order.lines, Utc::now())
                    .await
                    .unwrap();
            }
        });
    }
    tasks.join_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_catalog_list_costs_the_same_however_many_orders_were_reserved() {
    let orders: usize = std::env::var("ORDERFLOW_CATALOG_COST_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let moto = support::moto();
    let sdk = moto.sdk_config().await;
    let plain = Client::new(&sdk);
    let answers = Answers::default();
    let counted = Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(answers.clone())
            .build(),
    );
    let tables: TableNames = support::dynamodb::create_tables(&plain).await;
    let store = DynamoStore::new(plain.clone(), tables.clone());
    let catalog = shipped_catalog();
    for entry in &catalog {
        store.put_entry(entry).await.unwrap();
    }
    let skus: Vec<Sku> = catalog.iter().map(|e| e.product.sku.clone()).collect();
    let shard_items: u64 = catalog.iter().map(|e| u64::from(e.shards.get())).sum();

    let (list_before, scan_before, _) =
        measure(&counted, &plain, &answers, &tables.inventory).await;
    reserve_orders(&store, &skus, orders).await;
    let (list_after, scan_after, listed) =
        measure(&counted, &plain, &answers, &tables.inventory).await;

    let sold: u64 = listed.iter().map(|p| 1_000_000 - u64::from(p.stock)).sum();
    assert_eq!(
        sold,
        orders as u64 + 2 * orders.div_ceil(3) as u64,
        "every order reserved"
    );
    eprintln!(
        "GET /products on moto, {} SKUs ({shard_items} stock items), before and after {orders} reserved orders:",
        catalog.len()
    );
    eprintln!(
        "  read                          calls  items read       bytes  read units (modelled)"
    );
    for (name, c) in [
        ("catalog index, before", list_before),
        ("catalog index, after", list_after),
        ("table scan (old), before", scan_before),
        ("table scan (old), after", scan_after),
    ] {
        eprintln!(
            "  {name:<28} {:>6} {:>11} {:>11} {:>10}",
            c.calls,
            c.items_read,
            c.bytes_read,
            c.units()
        );
    }
    // Bytes move a little with the stock figures' digits; calls, items and units may not.
    assert_eq!(
        (
            list_after.calls,
            list_after.items_read,
            list_after.half_units
        ),
        (
            list_before.calls,
            list_before.items_read,
            list_before.half_units
        ),
        "the catalog list grew with the orders"
    );
    assert_eq!(
        (list_before.calls, list_before.items_read),
        (2, catalog.len() as u64 + shard_items),
        "one index scan of the product items, one BatchGetItem of their stock items"
    );
    assert_eq!(
        scan_after.items_read,
        scan_before.items_read + orders as u64,
        "the old scan reads one more item per reservation"
    );
}
