//! The Orders table's open-orders index through `DynamoOpenOrders`, against moto: what it
//! lists and in which order, that every final transition (alone or inside a transaction) takes
//! an order out of it, and a counted sweep beside a Scan (DESIGN §6, "No order left behind").

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use orderflow_shared::adapters::dynamodb::{DynamoOpenOrders, DynamoStore};
use orderflow_shared::domain::{
    Currency, CustomerId, Email, Money, Order, OrderId, OrderLine, OrderStatus, PaymentToken,
    Quantity, Sku,
};
use orderflow_shared::idempotency::{ClaimTimes, IdempotencyStore};
use orderflow_shared::ports::{
    ChargeOutcome, ChargeRecord, Inventory, OpenOrders, OpenOrdersQuery, OpenShard,
    OrderRepository, PaymentLedger, Product, Settlement,
};

use crate::support::dynamodb::{create_tables, OPEN_ORDERS_INDEX};
use crate::support::{self, Moto};

struct Fixture {
    store: DynamoStore,
    open: DynamoOpenOrders,
    client: Client,
    _moto: Arc<Moto>,
}

async fn fixture() -> Fixture {
    let moto = support::moto();
    let client = Client::new(&moto.sdk_config().await);
    let tables = create_tables(&client).await;
    Fixture {
        open: DynamoOpenOrders::new(client.clone(), &tables.orders, OPEN_ORDERS_INDEX),
        store: DynamoStore::new(client.clone(), tables),
        client,
        _moto: moto,
    }
}

fn line() -> OrderLine {
    OrderLine {
        sku: Sku::parse("SKU-A").unwrap(),
        quantity: Quantity::new(1).unwrap(),
        unit_price: Money::new(1000, Currency::EUR),
    }
}

fn order_at(at: DateTime<Utc>) -> Order {
    Order::place(
        OrderId::new(),
        CustomerId::parse("cust-1").unwrap(),
        Email::parse("ana@example.com").unwrap(),
        PaymentToken::parse("tok_visa").unwrap(),
        vec![line()],
        at,
    )
    .unwrap()
}

/// An order placed at `at` whose id falls in `shard` (or in any other shard with `elsewhere`).
fn order_in(shard: OpenShard, at: DateTime<Utc>, elsewhere: bool) -> Order {
    loop {
        let order = order_at(at);
        if (OpenShard::of(&order.order_id) == shard) != elsewhere {
            return order;
        }
    }
}

fn query(shard: OpenShard, before: DateTime<Utc>, limit: u32) -> OpenOrdersQuery {
    OpenOrdersQuery {
        shard,
        changed_before: before,
        limit,
        after: None,
    }
}

impl Fixture {
    /// Every page of the shard's open orders changed before `before`, and how many queries.
    async fn sweep(
        &self,
        shard: OpenShard,
        before: DateTime<Utc>,
        limit: u32,
    ) -> (Vec<Order>, u32) {
        let mut q = query(shard, before, limit);
        let (mut orders, mut calls) = (Vec::new(), 0);
        loop {
            let page = self.open.open_orders(&q).await.unwrap();
            calls += 1;
            orders.extend(page.orders);
            match page.next {
                Some(next) => q.after = Some(next),
                None => return (orders, calls),
            }
        }
    }

    async fn in_index(&self, order: &Order) -> bool {
        let shard = OpenShard::of(&order.order_id);
        let (orders, _) = self.sweep(shard, Utc::now() + Duration::days(1), 100).await;
        orders.iter().any(|o| o.order_id == order.order_id)
    }

    async fn raw(&self, id: &OrderId) -> HashMap<String, AttributeValue> {
        self.client
            .get_item()
            .table_name(&self.store.tables().orders)
            .key("orderId", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    }

    /// Settles a reserved order as `to`, holding its charge key first as process-payment does.
    async fn settle(&self, id: &OrderId, to: OrderStatus, outcome: ChargeOutcome) {
        let key = format!("charge#{id}");
        let now = Utc::now();
        let times = ClaimTimes {
            now,
            lock_until: now + Duration::seconds(30),
            expires_at: now + Duration::hours(1),
        };
        self.store.claim(&key, "h", times).await.unwrap();
        let record = ChargeRecord {
            order_id: id.clone(),
            amount: Money::new(1000, Currency::EUR),
            outcome,
            at: now,
        };
        let settlement = Settlement {
            record,
            key,
            result: "{}".into(),
            to,
        };
        self.store.settle(&settlement, now).await.unwrap();
    }
}

#[tokio::test]
async fn the_index_lists_a_shards_open_orders_older_than_the_bound_oldest_first_in_pages() {
    let f = fixture().await;
    let now = Utc::now();
    let shard = OpenShard::of(&OrderId::new());
    let mut expected = Vec::new();
    for minutes in [50, 10, 40, 20, 30, 45, 15] {
        let order = order_in(shard, now - Duration::minutes(minutes), false);
        f.store.create(&order).await.unwrap();
        expected.push(order);
    }
    let young = order_in(shard, now - Duration::minutes(1), false);
    let elsewhere = order_in(shard, now - Duration::minutes(60), true);
    for order in [&young, &elsewhere] {
        f.store.create(order).await.unwrap();
    }
    expected.sort_by_key(|o| o.created_at);

    let (orders, calls) = f.sweep(shard, now - Duration::minutes(5), 3).await;
    assert_eq!(orders, expected);
    // 3 + 3 + 1 orders: the last page is not full.
    assert_eq!(calls, 3);
}

#[tokio::test]
async fn a_final_transition_alone_takes_the_order_out_of_the_index() {
    let f = fixture().await;
    let order = order_at(Utc::now() - Duration::minutes(10));
    f.store.create(&order).await.unwrap();
    assert!(f.in_index(&order).await);
    let at = Utc::now();
    f.store
        .transition(
            &order.order_id,
            OrderStatus::Pending,
            OrderStatus::Rejected,
            at,
        )
        .await
        .unwrap();
    assert!(!f.in_index(&order).await);
    let item = f.raw(&order.order_id).await;
    assert!(!item.contains_key("openShard"));
    assert_eq!(
        item["updatedAt"],
        AttributeValue::S(orderflow_shared::ports::index_time(at))
    );
}

#[tokio::test]
async fn the_reservation_moves_the_order_in_the_index_and_each_final_settlement_removes_it() {
    let f = fixture().await;
    f.store
        .put_product(&Product {
            sku: Sku::parse("SKU-A").unwrap(),
            name: "A".into(),
            price: Money::new(1000, Currency::EUR),
            stock: 10,
        })
        .await
        .unwrap();
    let placed = Utc::now() - Duration::minutes(30);
    let (confirmed, failed) = (order_at(placed), order_at(placed));
    for order in [&confirmed, &failed] {
        f.store.create(order).await.unwrap();
        f.store
            .reserve_stock(&order.order_id, &order.lines, Utc::now())
            .await
            .unwrap();
        // Reserved just now: in the index, but no longer among the orders older than a minute.
        assert!(f.in_index(order).await);
        let shard = OpenShard::of(&order.order_id);
        let (old, _) = f.sweep(shard, Utc::now() - Duration::minutes(1), 100).await;
        assert!(old.iter().all(|o| o.order_id != order.order_id));
    }

    let approved = ChargeOutcome::Approved {
        charge_id: "ch_1".into(),
    };
    f.settle(&confirmed.order_id, OrderStatus::Confirmed, approved)
        .await;
    assert!(!f.in_index(&confirmed).await);

    let declined = ChargeOutcome::Declined {
        reason: "card declined".into(),
    };
    f.settle(&failed.order_id, OrderStatus::PaymentFailed, declined)
        .await;
    assert!(f.in_index(&failed).await, "PAYMENT_FAILED is still open");
    f.store
        .release_stock(&failed.order_id, Utc::now())
        .await
        .unwrap();
    assert!(!f.in_index(&failed).await);
    assert!(!f.raw(&failed.order_id).await.contains_key("openShard"));
}

/// `ORDERFLOW_OPEN_ORDERS_COUNT` orders (default 1,000; DESIGN's figures are from 10,000), 1 %
/// of them open and due, 1 % open and recent, the rest final: one sweep through the index (as
/// reconcile-orders runs it: every shard, pages of 100) beside one Scan of the table for the
/// same orders. Counted, not timed: calls and items read from moto, and read units from the
/// items' sizes by DynamoDB's rules (moto reports no real consumed capacity, nor stops a Scan
/// page at 1 MB as DynamoDB does).
#[tokio::test]
async fn a_sweep_of_the_index_reads_only_the_due_orders_where_a_scan_reads_every_order() {
    let total: usize = std::env::var("ORDERFLOW_OPEN_ORDERS_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let f = fixture().await;
    let now = Utc::now();
    let (due, recent) = (total / 100, total / 100);
    for i in 0..total {
        let mut order = order_at(now - Duration::minutes(30));
        if i >= due + recent {
            order
                .apply(OrderStatus::Rejected, now - Duration::minutes(29))
                .unwrap();
        } else if i >= due {
            order.created_at = now;
            order.history[0].at = now;
        }
        f.store.create(&order).await.unwrap();
    }
    let before = now - Duration::minutes(2);

    let (mut index_calls, mut index_items) = (0, 0);
    for shard in OpenShard::all() {
        let (orders, calls) = f.sweep(shard, before, 100).await;
        index_calls += calls;
        index_items += orders.len();
    }
    let index_units = f.index_read_units(before).await;
    let scanned = f.scan_all().await;
    let scan = pages_of(&scanned, MAX_PAGE_BYTES);
    let scan_units: usize = scan.iter().map(|bytes| half_read_units(*bytes)).sum();
    let found = scanned
        .iter()
        .filter(|i| i.contains_key("openShard") && updated_before(i, before))
        .count();

    println!(
        "open-orders sweep over {total} orders ({} open, {due} due): index {index_calls} queries, \
         {index_items} items read, {} read units; scan {} calls, {} items read ({found} due), \
         {} read units; average item {} bytes",
        due + recent,
        units(index_units),
        scan.len(),
        scanned.len(),
        units(scan_units),
        scan.iter().sum::<usize>() / scanned.len().max(1),
    );
    assert_eq!(index_items, due);
    assert_eq!(found, due);
    assert_eq!(scanned.len(), total);
    assert!(index_calls <= 2 * 8 + u32::try_from(due / 100).unwrap());
    assert!(
        index_units * 10 < scan_units,
        "the index reads a tenth or less"
    );
}

/// A Query or Scan page stops at 1 MB of items read.
const MAX_PAGE_BYTES: usize = 1024 * 1024;

/// Eventually consistent read units (GSIs have no other kind), counted in halves: half a unit
/// per 4 KB read, rounded up per call, and half a unit for a call that reads nothing.
fn half_read_units(bytes: usize) -> usize {
    bytes.div_ceil(4096).max(1)
}

/// Half units as units: `7` → `3.5`.
fn units(halves: usize) -> String {
    format!("{}.{}", halves / 2, if halves % 2 == 1 { 5 } else { 0 })
}

/// The bytes read by each page of a sweep over `items`, in order.
fn pages_of(items: &[HashMap<String, AttributeValue>], limit: usize) -> Vec<usize> {
    let mut pages = vec![0];
    for item in items {
        let size = item_size(item);
        if pages.last().is_some_and(|p| p + size > limit) {
            pages.push(0);
        }
        if let Some(page) = pages.last_mut() {
            *page += size;
        }
    }
    pages
}

fn updated_before(item: &HashMap<String, AttributeValue>, before: DateTime<Utc>) -> bool {
    matches!(item.get("updatedAt"), Some(AttributeValue::S(at)) if *at < orderflow_shared::ports::index_time(before))
}

/// An item's size by DynamoDB's rules ("Item sizes and formats"): names and values, numbers a
/// byte per two digits plus one, 3 bytes per list or map plus 1 per element.
fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, v)| name.len() + value_size(v))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => {
            let digits = n.chars().filter(char::is_ascii_digit).count();
            digits.div_ceil(2) + 1
        }
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

impl Fixture {
    /// The half read units the sweep's queries consume: per query, the items it read.
    async fn index_read_units(&self, before: DateTime<Utc>) -> usize {
        let mut halves = 0;
        for shard in OpenShard::all() {
            let mut start = None;
            loop {
                let out = self
                    .client
                    .query()
                    .table_name(&self.store.tables().orders)
                    .index_name(OPEN_ORDERS_INDEX)
                    .key_condition_expression("openShard = :s AND updatedAt < :b")
                    .expression_attribute_values(":s", AttributeValue::S(shard.to_string()))
                    .expression_attribute_values(
                        ":b",
                        AttributeValue::S(orderflow_shared::ports::index_time(before)),
                    )
                    .limit(100)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .unwrap();
                halves += half_read_units(out.items().iter().map(item_size).sum());
                start = out.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        halves
    }

    /// Every item of the Orders table, as a Scan reads them.
    async fn scan_all(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.store.tables().orders)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }
}
