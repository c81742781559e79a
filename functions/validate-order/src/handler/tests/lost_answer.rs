//! `POST /orders` without `Idempotency-Key` when the answer to the order's write was lost: the
//! SDK's retry finds the order stored, and the handler knows it for its own (DynamoDB against
//! moto: shared/tests/adapters/lost_responses.rs shows the store answers exactly so).

use async_trait::async_trait;
use orderflow_shared::ports::{OrderRepository, StoreError};

use super::*;

/// Orders whose `create` is applied and then answered as its retry would be: the write took
/// effect, and the second attempt finds the order under its id. With `other_first`, another
/// request's order (created a moment later) took the id first.
struct LostAnswer {
    store: MemoryStore,
    other_first: bool,
}

impl LostAnswer {
    fn new(store: MemoryStore) -> Self {
        LostAnswer {
            store,
            other_first: false,
        }
    }
}

#[async_trait]
impl OrderRepository for LostAnswer {
    async fn create(&self, order: &Order) -> Result<(), OrderWriteError> {
        if self.other_first {
            let mut other = order.clone();
            other.created_at += chrono::Duration::milliseconds(1);
            self.store.create(&other).await?;
        } else {
            self.store.create(order).await?;
        }
        self.store.create(order).await
    }

    async fn get(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        self.store.get(id).await
    }

    async fn transition(
        &self,
        id: &OrderId,
        from: OrderStatus,
        to: OrderStatus,
        at: chrono::DateTime<Utc>,
    ) -> Result<(), OrderWriteError> {
        self.store.transition(id, from, to, at).await
    }
}

fn losing() -> (
    ValidateOrder<LostAnswer, MemoryStore, MemoryEvents>,
    MemoryStore,
) {
    let store = catalog();
    let function = ValidateOrder {
        orders: LostAnswer::new(store.clone()),
        catalog: store.clone(),
        events: MemoryEvents::new(),
        access: Access::Token,
    };
    (function, store)
}

#[tokio::test]
async fn the_fake_stores_the_order_and_answers_as_a_retry_after_a_lost_answer() {
    let store = catalog();
    let mut orders = LostAnswer::new(store.clone());
    let order = Order::place(
        OrderId::new(),
        orderflow_shared::domain::CustomerId::parse("cust-1").unwrap(),
        orderflow_shared::domain::Email::parse("ana@example.com").unwrap(),
        orderflow_shared::domain::PaymentToken::parse("tok_visa").unwrap(),
        vec![OrderLine {
            sku: Sku::parse("SKU-MUG-350").unwrap(),
            quantity: orderflow_shared::domain::Quantity::new(1).unwrap(),
            unit_price: Money::new(1200, Currency::EUR),
        }],
        Utc::now(),
    )
    .unwrap();
    assert_eq!(
        orders.create(&order).await,
        Err(OrderWriteError::AlreadyExists(Box::new(order.clone())))
    );
    assert_eq!(store.orders(), vec![order.clone()]);

    orders.other_first = true;
    let mut again = order.clone();
    again.order_id = OrderId::new();
    let Err(OrderWriteError::AlreadyExists(found)) = orders.create(&again).await else {
        panic!("the id is taken");
    };
    assert_eq!(found.order_id, again.order_id);
    assert_ne!(
        found.created_at, again.created_at,
        "another request's order"
    );
}

#[tokio::test]
async fn a_keyless_order_whose_write_answer_was_lost_is_accepted_once_and_published() {
    let (function, store) = losing();
    let response = function.handle(fixture("apigw-post-order.json")).await;
    assert_eq!(response.status(), 202, "{:?}", response.body());
    let body = body_json(&response);
    let stored = store.orders();
    assert_eq!(stored.len(), 1);
    assert_eq!(body["orderId"], stored[0].order_id.as_str());
    let published = function.events.published();
    assert_eq!(published.len(), 1);
    assert!(
        matches!(&published[0].event, DomainEvent::OrderPlaced(e) if e.order_id == stored[0].order_id)
    );
}

#[tokio::test]
async fn a_keyless_order_whose_id_holds_another_request_is_still_a_503() {
    let (mut function, store) = losing();
    function.orders.other_first = true;
    let response = function.handle(fixture("apigw-post-order.json")).await;
    assert_problem(&response, 503, "unavailable");
    assert!(function.events.published().is_empty());
    assert_eq!(store.orders().len(), 1, "only the other request's order");
}
