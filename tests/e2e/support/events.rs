//! Orders stored as validate-order stores them, and their events as EventBridge delivers them
//! to a queue: for tests that hand the chain a message themselves.

use chrono::Utc;
use orderflow_shared::adapters::dynamodb::DynamoStore;
use orderflow_shared::domain::{
    Currency, CustomerId, Email, Money, Order, OrderId, OrderLine, PaymentToken, Quantity, Sku,
};
use orderflow_shared::events::{DomainEvent, Envelope, OrderPlaced};
use orderflow_shared::ports::OrderRepository;
use serde_json::{json, Value};

use super::E2E_CUSTOMER;

/// Stores a `PENDING` order of `quantity` × `sku` at `unit_price` for the end-to-end customer
/// (paying with `tok_visa`), with the production adapter.
pub async fn stored_order(
    store: &DynamoStore,
    sku: Sku,
    quantity: u32,
    unit_price: Money,
) -> Order {
    let order = Order::place(
        OrderId::new(),
        CustomerId::parse(E2E_CUSTOMER).unwrap(),
        Email::parse("e2e@example.com").unwrap(),
        PaymentToken::parse("tok_visa").unwrap(),
        vec![OrderLine {
            sku,
            quantity: Quantity::new(quantity).unwrap(),
            unit_price,
        }],
        Utc::now(),
    )
    .unwrap();
    store.create(&order).await.unwrap();
    order
}

/// Stores a `PENDING` order of `quantity` × `sku` at 19.99 EUR and returns it with the SQS body
/// of its `OrderPlaced`, as EventBridge delivers it to the inventory queue.
pub async fn stored_order_placed(
    store: &DynamoStore,
    sku: &str,
    quantity: u32,
) -> (OrderId, String) {
    let sku = Sku::parse(sku).unwrap();
    let order = stored_order(store, sku, quantity, Money::new(1999, Currency::EUR)).await;
    (order.order_id.clone(), order_placed_body(&order))
}

/// The SQS body of `order`'s `OrderPlaced`, as EventBridge delivers it to the inventory queue.
pub fn order_placed_body(order: &Order) -> String {
    eventbridge_body(&Envelope::new(
        DomainEvent::OrderPlaced(OrderPlaced::from(order)),
        None,
    ))
}

/// The SQS body of `envelope`, as an EventBridge rule's target delivers it.
pub fn eventbridge_body(envelope: &Envelope) -> String {
    let detail: Value = serde_json::from_str(&envelope.to_json().unwrap()).unwrap();
    json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": envelope.metadata.event_type.as_str(), "source": "orderflow",
        "account": "123456789012", "time": Utc::now().to_rfc3339(), "region": "us-east-1",
        "resources": [], "detail": detail,
    })
    .to_string()
}
