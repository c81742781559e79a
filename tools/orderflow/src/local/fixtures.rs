//! `orderflow local fixtures load FIXTURE…`: the orders an event fixture names, put into a
//! running local cloud in the state its event finds them in (an `OrderPlaced` finds its order
//! `PENDING`, an `InventoryReserved` finds it `RESERVED` with its stock held, …), so that
//! invoking a consumer with the fixture (`cargo lambda invoke update-inventory --data-file
//! events/sqs-order-placed.json`) does what the fixture's name says.
//!
//! What each order holds (customer, lines, token) is in `fixture-orders.json` beside the
//! fixtures (`events/generate.py` writes it). Loading again starts the order over: the stock
//! it held is put back and every record about it (its reservation, charge, idempotency
//! records, notifications sent) is forgotten, then it is moved to the wanted state through the
//! production adapters, the way the functions move it.

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use orderflow_shared::adapters::dynamodb::{DynamoStore, TableNames};
use orderflow_shared::domain::{
    CustomerId, Email, Order, OrderId, OrderLine, OrderStatus, PaymentToken,
};
use orderflow_shared::events::{envelope_from_eventbridge_json, DomainEvent};
use orderflow_shared::ports::{Inventory, OrderRepository};
use serde::Deserialize;
use serde_json::Value;

/// The file beside the fixtures that says what each of their orders holds.
pub const FIXTURE_ORDERS: &str = "fixture-orders.json";

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("order {0} is named by the fixture but not in {FIXTURE_ORDERS}; run python3 events/generate.py")]
    UnknownOrder(String),
    #[error("order {order}: {message}")]
    Store { order: String, message: String },
    #[error("table {table}: {message}")]
    Table { table: String, message: String },
}

/// An order the fixtures name, as `fixture-orders.json` holds it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureOrder {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub email: Email,
    pub payment_token: PaymentToken,
    pub lines: Vec<OrderLine>,
}

#[derive(Deserialize)]
struct OrdersFile {
    orders: Vec<FixtureOrder>,
}

fn read_json(path: &Path) -> Result<Value, FixtureError> {
    let file_err = |message: String| FixtureError::File {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| file_err(e.to_string()))
}

/// The orders of `fixture-orders.json` in `dir`, by id.
pub fn fixture_orders(dir: &Path) -> Result<BTreeMap<String, FixtureOrder>, FixtureError> {
    let path = dir.join(FIXTURE_ORDERS);
    let file: OrdersFile =
        serde_json::from_value(read_json(&path)?).map_err(|e| FixtureError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
    Ok(file
        .orders
        .into_iter()
        .map(|o| (o.order_id.as_str().to_owned(), o))
        .collect())
}

/// The state an event finds its order in, as the chain sends it.
pub fn state_before(event: &DomainEvent) -> OrderStatus {
    match event {
        DomainEvent::OrderPlaced(_) => OrderStatus::Pending,
        DomainEvent::InventoryReserved(_) | DomainEvent::ReservationExpired(_) => {
            OrderStatus::Reserved
        }
        DomainEvent::InventoryRejected(_) => OrderStatus::Rejected,
        DomainEvent::PaymentSucceeded(_) => OrderStatus::Confirmed,
        DomainEvent::PaymentFailed(_) => OrderStatus::PaymentFailed,
        DomainEvent::InventoryReleased(_) => OrderStatus::Cancelled,
    }
}

/// Each order an SQS fixture names and the state its record wants it in (a record that does not
/// parse, or is of no known type, names none).
pub fn wanted(fixture: &Value) -> Vec<(String, OrderStatus)> {
    let mut wanted: Vec<(String, OrderStatus)> = Vec::new();
    let mut want = |id: String, status| {
        if !wanted.iter().any(|(w, _)| *w == id) {
            wanted.push((id, status));
        }
    };
    if let Some(records) = fixture.get("Records").and_then(Value::as_array) {
        for body in records.iter().filter_map(|r| r.get("body")?.as_str()) {
            if let Ok(envelope) = envelope_from_eventbridge_json(body) {
                let event = &envelope.event;
                want(event.order_id().as_str().to_owned(), state_before(event));
            }
        }
    }
    wanted
}

/// The order an API request fixture reads (`GET /orders/{orderId}`), to be there `CONFIRMED`
/// when the fixtures hold it (the unknown order's fixture must stay unknown).
fn read_by_api(fixture: &Value, orders: &BTreeMap<String, FixtureOrder>) -> Option<String> {
    let id = fixture.pointer("/pathParameters/orderId")?.as_str()?;
    orders.contains_key(id).then(|| id.to_owned())
}

/// Where the orders go: the cloud's store and its tables (every one the functions name).
pub struct Target {
    pub store: DynamoStore,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub tables: Vec<String>,
}

impl Target {
    pub fn new(dynamodb: aws_sdk_dynamodb::Client, names: TableNames, tables: Vec<String>) -> Self {
        Target {
            store: DynamoStore::new(dynamodb.clone(), names),
            dynamodb,
            tables,
        }
    }
}

/// Loads `fixture`'s orders into the cloud; returns each order and the state it was put in.
pub async fn load(
    target: &Target,
    fixture: &Path,
) -> Result<Vec<(String, OrderStatus)>, FixtureError> {
    let dir = fixture.parent().unwrap_or(Path::new("."));
    let orders = fixture_orders(dir)?;
    let fixture = read_json(fixture)?;
    let mut wanted = wanted(&fixture);
    wanted.extend(read_by_api(&fixture, &orders).map(|id| (id, OrderStatus::Confirmed)));
    for (id, status) in &wanted {
        let order = orders
            .get(id)
            .ok_or_else(|| FixtureError::UnknownOrder(id.clone()))?;
        forget(target, &order.order_id).await?;
        put_in(&target.store, order, *status).await?;
    }
    Ok(wanted)
}

fn store_err(order: &OrderId, e: impl std::fmt::Display) -> FixtureError {
    FixtureError::Store {
        order: order.to_string(),
        message: e.to_string(),
    }
}

/// Puts back the stock the order holds, then deletes every item whose key names it.
async fn forget(target: &Target, id: &OrderId) -> Result<(), FixtureError> {
    let store = &target.store;
    let now = Utc::now();
    let status = store
        .get(id)
        .await
        .map_err(|e| store_err(id, e))?
        .map(|o| o.status);
    if status == Some(OrderStatus::Reserved) {
        store
            .transition(id, OrderStatus::Reserved, OrderStatus::PaymentFailed, now)
            .await
            .map_err(|e| store_err(id, e))?;
    }
    if matches!(
        status,
        Some(OrderStatus::Reserved | OrderStatus::PaymentFailed)
    ) {
        store
            .release_stock(id, now)
            .await
            .map_err(|e| store_err(id, e))?;
    }
    // Charge ids carry the order id without its dashes.
    let names = [id.as_str().to_owned(), id.as_str().replace('-', "")];
    for table in &target.tables {
        delete_items_naming(&target.dynamodb, table, &names).await?;
    }
    Ok(())
}

/// Deletes the items of `table` whose key attributes contain one of `names`.
async fn delete_items_naming(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    names: &[String],
) -> Result<(), FixtureError> {
    let table_err = |e: &dyn std::fmt::Display| FixtureError::Table {
        table: table.to_owned(),
        message: e.to_string(),
    };
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| table_err(&aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
    let keys: Vec<String> = described
        .table()
        .map(|t| {
            t.key_schema()
                .iter()
                .map(|k| k.attribute_name().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut items = client
        .scan()
        .table_name(table)
        .into_paginator()
        .items()
        .send();
    while let Some(item) = items
        .try_next()
        .await
        .map_err(|e| table_err(&aws_sdk_dynamodb::error::DisplayErrorContext(e)))?
    {
        let key: BTreeMap<String, AttributeValue> = keys
            .iter()
            .filter_map(|k| Some((k.clone(), item.get(k)?.clone())))
            .collect();
        let names_it = key.values().any(|v| {
            v.as_s()
                .is_ok_and(|s| names.iter().any(|n| s.contains(n.as_str())))
        });
        if names_it {
            client
                .delete_item()
                .table_name(table)
                .set_key(Some(key.into_iter().collect()))
                .send()
                .await
                .map_err(|e| table_err(&aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        }
    }
    Ok(())
}

/// Places the order and moves it to `status` the way the chain does.
async fn put_in(
    store: &DynamoStore,
    o: &FixtureOrder,
    status: OrderStatus,
) -> Result<(), FixtureError> {
    use OrderStatus::*;
    let id = &o.order_id;
    let now = Utc::now();
    let order = Order::place(
        id.clone(),
        o.customer_id.clone(),
        o.email.clone(),
        o.payment_token.clone(),
        o.lines.clone(),
        now,
    )
    .map_err(|e| store_err(id, e))?;
    store.create(&order).await.map_err(|e| store_err(id, e))?;
    if status == Rejected {
        return store
            .transition(id, Pending, Rejected, now)
            .await
            .map_err(|e| store_err(id, e));
    }
    if status == Pending {
        return Ok(());
    }
    store
        .reserve_stock(id, &o.lines, now)
        .await
        .map_err(|e| store_err(id, e))?;
    let next = match status {
        Confirmed => Confirmed,
        PaymentFailed | Cancelled => PaymentFailed,
        _ => return Ok(()),
    };
    store
        .transition(id, Reserved, next, now)
        .await
        .map_err(|e| store_err(id, e))?;
    if status == Cancelled {
        store
            .release_stock(id, now)
            .await
            .map_err(|e| store_err(id, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events")
            .join(name);
        read_json(&path).unwrap()
    }

    #[test]
    fn each_sqs_fixture_wants_its_orders_in_the_state_its_event_finds_them_in() {
        use OrderStatus::*;
        let order = order_id();
        let declined = "7a2b3c4d-5e6f-4a70-9b8c-0d1e2f3a4b5c";
        let second = "9c4d5e6f-7081-4c92-9dae-2f3a4b5c6d7e";
        let cases = [
            ("sqs-order-placed.json", vec![(order, Pending)]),
            ("sqs-inventory-reserved.json", vec![(order, Reserved)]),
            (
                "sqs-inventory-reserved-declined.json",
                vec![(declined, Reserved)],
            ),
            ("sqs-payment-failed.json", vec![(declined, PaymentFailed)]),
            ("sqs-payment-succeeded.json", vec![(order, Confirmed)]),
            ("sqs-inventory-rejected.json", vec![(second, Rejected)]),
            ("sqs-inventory-released.json", vec![(declined, Cancelled)]),
            ("sqs-reservation-expired.json", vec![(order, Reserved)]),
            // The malformed record names nothing; the same order twice is loaded once.
            (
                "sqs-batch-with-malformed-record.json",
                vec![(order, Pending), (second, Pending)],
            ),
            ("apigw-post-order.json", vec![]),
        ];
        for (name, want) in cases {
            let want: Vec<(String, OrderStatus)> =
                want.into_iter().map(|(id, s)| (id.to_owned(), s)).collect();
            assert_eq!(wanted(&fixture(name)), want, "{name}");
        }
    }

    fn order_id() -> &'static str {
        "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
    }

    #[test]
    fn every_order_the_fixtures_name_is_in_the_fixture_orders_and_priced_from_the_seed() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
        let orders = fixture_orders(&dir).unwrap();
        let seed = super::super::read_seed(&dir.join("../infra/seed/catalog.json")).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".json") || name == FIXTURE_ORDERS {
                continue;
            }
            for (id, _) in wanted(&fixture(&name)) {
                assert!(orders.contains_key(&id), "{name} names {id}");
            }
        }
        let read = |name: &str| read_by_api(&fixture(name), &orders);
        assert_eq!(read("apigw-get-order.json").as_deref(), Some(order_id()));
        assert_eq!(read("apigw-get-order-unknown.json"), None, "stays unknown");
        assert_eq!(read("apigw-get-order-invalid-id.json"), None);
        for line in orders.values().flat_map(|o| &o.lines) {
            let product = seed.iter().find(|p| p.product.sku == line.sku);
            assert_eq!(
                product.map(|p| p.product.price),
                Some(line.unit_price),
                "{}",
                line.sku
            );
        }
    }
}
