//! Stock: `OrderPlaced` → reserve every line at once → `InventoryReserved` (order `RESERVED`) or
//! `InventoryRejected` (order `REJECTED`); `PaymentFailed` → release → `InventoryReleased`
//! (order `CANCELLED`). Every step is safe to repeat: a redelivered event finds the work done
//! and only re-publishes what follows from it.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use orderflow_shared::domain::OrderStatus;
use orderflow_shared::events::{
    DomainEvent, Envelope, InventoryRejected, InventoryReleased, InventoryReserved, OrderPlaced,
    PaymentFailed, Shortage,
};
use orderflow_shared::ports::{
    Catalog, EventPublisher, Inventory, OrderRepository, OrderWriteError, ReleaseError,
    ReserveError,
};
use orderflow_shared::sqs_batch::{BatchRunner, RecordError};
use orderflow_shared::telemetry::metrics;
use tracing::info;

/// The ports this function uses, lent to every invocation.
pub struct UpdateInventory<O, S, E> {
    /// Orders: a rejection, and the order behind a release that was done before.
    pub orders: O,
    /// Stock: reservations and releases, and what is left for a rejection.
    pub stock: S,
    pub events: E,
    pub runner: BatchRunner,
}

impl<O, S, E> UpdateInventory<O, S, E>
where
    O: OrderRepository,
    S: Inventory + Catalog,
    E: EventPublisher,
{
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        self.runner
            .then_publish(event, &self.events, |envelope| self.handle(envelope))
            .await
    }

    /// Handles one record; returns the event that follows from it, for the batch to publish.
    pub async fn handle(&self, envelope: Envelope) -> Result<Vec<Envelope>, RecordError> {
        match &envelope.event {
            DomainEvent::OrderPlaced(e) => self.reserve(&envelope, e).await,
            DomainEvent::PaymentFailed(e) => self.release(&envelope, e).await,
            other => Err(RecordError::Permanent(format!(
                "update-inventory does not handle {}; check the inventory rule's event pattern",
                other.event_type()
            ))),
        }
    }

    async fn reserve(
        &self,
        cause: &Envelope,
        e: &OrderPlaced,
    ) -> Result<Vec<Envelope>, RecordError> {
        let outcome = self
            .stock
            .reserve_stock(&e.order_id, &e.lines, Utc::now())
            .await;
        match outcome {
            Ok(()) => {
                metrics::reservation(true);
                metrics::stage_latency("reserve", cause.metadata.placed_at);
                info!("stock reserved")
            }
            Err(ReserveError::AlreadyReserved) => {
                info!("stock was already reserved; re-publishing")
            }
            Err(ReserveError::InsufficientStock(shortages)) => {
                return self.reject(cause, e, shortages).await
            }
            Err(ReserveError::OrderNotPending {
                actual: Some(OrderStatus::Rejected),
            }) => {
                // Rejected by an earlier delivery that may have stopped before publishing.
                let shortages = self.current_shortages(e).await?;
                return Self::rejection(cause, e, shortages);
            }
            Err(ReserveError::OrderNotPending { actual }) => {
                return Err(RecordError::Permanent(format!(
                    "order {} cannot be reserved: it is {}",
                    e.order_id,
                    actual.map_or("missing".to_owned(), |s| s.to_string())
                )))
            }
            Err(ReserveError::Store(err)) => return Err(RecordError::transient(err)),
        }
        Ok(vec![cause.caused(DomainEvent::InventoryReserved(
            InventoryReserved {
                order_id: e.order_id.clone(),
                customer_id: e.customer_id.clone(),
                email: e.email.clone(),
                lines: e.lines.clone(),
                total: e.total,
                payment_token: e.payment_token.clone(),
            },
        ))])
    }

    async fn reject(
        &self,
        cause: &Envelope,
        e: &OrderPlaced,
        shortages: Vec<Shortage>,
    ) -> Result<Vec<Envelope>, RecordError> {
        match self
            .orders
            .transition(
                &e.order_id,
                OrderStatus::Pending,
                OrderStatus::Rejected,
                Utc::now(),
            )
            .await
        {
            Ok(()) => {
                metrics::reservation(false);
                metrics::stage_latency("reserve", cause.metadata.placed_at);
                info!(
                    short_skus = shortages.len(),
                    "order rejected: insufficient stock"
                )
            }
            Err(OrderWriteError::Conflict {
                actual: OrderStatus::Rejected,
                ..
            }) => info!("order was already rejected; re-publishing"),
            Err(OrderWriteError::Store(err)) => return Err(RecordError::transient(err)),
            Err(other) => return Err(RecordError::permanent(other)),
        }
        Self::rejection(cause, e, shortages)
    }

    /// The `InventoryRejected` that follows from a rejection, for the batch to publish.
    fn rejection(
        cause: &Envelope,
        e: &OrderPlaced,
        shortages: Vec<Shortage>,
    ) -> Result<Vec<Envelope>, RecordError> {
        Ok(vec![cause.caused(DomainEvent::InventoryRejected(
            InventoryRejected {
                order_id: e.order_id.clone(),
                customer_id: e.customer_id.clone(),
                email: e.email.clone(),
                shortages,
            },
        ))])
    }

    /// The lines that stock cannot cover now (for re-publishing a rejection).
    async fn current_shortages(&self, e: &OrderPlaced) -> Result<Vec<Shortage>, RecordError> {
        let skus: Vec<_> = e.lines.iter().map(|l| l.sku.clone()).collect();
        let products = self
            .stock
            .products(&skus)
            .await
            .map_err(RecordError::transient)?;
        Ok(Shortage::of(&e.lines, |sku| {
            products.iter().find(|p| &p.sku == sku).map(|p| p.stock)
        }))
    }

    async fn release(
        &self,
        cause: &Envelope,
        e: &PaymentFailed,
    ) -> Result<Vec<Envelope>, RecordError> {
        let lines = match self.stock.release_stock(&e.order_id, Utc::now()).await {
            Ok(lines) => {
                metrics::stock_released();
                metrics::stage_latency("release", cause.metadata.placed_at);
                let units: u32 = lines.iter().map(|l| l.quantity.get()).sum();
                info!(units, "stock released after failed payment");
                lines
            }
            Err(ReleaseError::NotHeld) => {
                let order = self
                    .orders
                    .get(&e.order_id)
                    .await
                    .map_err(RecordError::transient)?
                    .ok_or_else(|| {
                        RecordError::Permanent(format!("order {} not found", e.order_id))
                    })?;
                if order.status != OrderStatus::Cancelled {
                    return Err(RecordError::Permanent(format!(
                        "order {} is {} and holds no reservation to release",
                        e.order_id, order.status
                    )));
                }
                info!("stock was already released; re-publishing");
                order.lines
            }
            Err(ReleaseError::OrderNotPaymentFailed { actual }) => {
                return Err(RecordError::Permanent(format!(
                    "order {} cannot be cancelled: it is {}",
                    e.order_id,
                    actual.map_or("missing".to_owned(), |s| s.to_string())
                )))
            }
            Err(ReleaseError::Store(err)) => return Err(RecordError::transient(err)),
        };
        Ok(vec![cause.caused(DomainEvent::InventoryReleased(
            InventoryReleased {
                order_id: e.order_id.clone(),
                customer_id: e.customer_id.clone(),
                email: e.email.clone(),
                lines,
            },
        ))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_shared::adapters::memory::{MemoryEvents, MemoryStore};
    use orderflow_shared::domain::{
        Currency, CustomerId, Email, Money, Order, OrderId, OrderLine, PaymentToken, Quantity, Sku,
    };
    use orderflow_shared::events::EventType;
    use orderflow_shared::ports::Product;
    use orderflow_shared::testing::WithStore;

    const ORDER_ID: &str = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b";
    const SECOND_ORDER_ID: &str = "9c4d5e6f-7081-4c92-9dae-2f3a4b5c6d7e";
    const DECLINED_ORDER_ID: &str = "7a2b3c4d-5e6f-4a70-9b8c-0d1e2f3a4b5c";

    fn fixture(name: &str) -> SqsEvent {
        orderflow_shared::testing::sqs_fixture(name).unwrap()
    }

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap()
    }

    fn line(s: &str, qty: u32, cents: i64) -> OrderLine {
        OrderLine {
            sku: sku(s),
            quantity: Quantity::new(qty).unwrap(),
            unit_price: Money::new(cents, Currency::EUR),
        }
    }

    fn fixture_lines() -> Vec<OrderLine> {
        vec![line("SKU-TSHIRT-M", 2, 1999), line("SKU-MUG-350", 1, 1200)]
    }

    type Function = WithStore<UpdateInventory<MemoryStore, MemoryStore, MemoryEvents>>;

    fn function(tshirts: u32, mugs: u32) -> Function {
        let store = MemoryStore::with_products([
            Product {
                sku: sku("SKU-TSHIRT-M"),
                name: "T-shirt M".into(),
                price: Money::new(1999, Currency::EUR),
                stock: tshirts,
            },
            Product {
                sku: sku("SKU-MUG-350"),
                name: "Mug".into(),
                price: Money::new(1200, Currency::EUR),
                stock: mugs,
            },
        ]);
        WithStore {
            function: UpdateInventory {
                orders: store.clone(),
                stock: store.clone(),
                events: MemoryEvents::new(),
                runner: BatchRunner::default(),
            },
            store,
        }
    }

    async fn pending(f: &Function, id: &str, lines: Vec<OrderLine>) {
        let order = Order::place(
            OrderId::parse(id).unwrap(),
            CustomerId::parse("cust-42").unwrap(),
            Email::parse("ana@example.com").unwrap(),
            PaymentToken::parse("tok_visa").unwrap(),
            lines,
            Utc::now(),
        )
        .unwrap();
        f.store.create(&order).await.unwrap();
    }

    fn status(f: &Function, id: &str) -> OrderStatus {
        f.store.order(&OrderId::parse(id).unwrap()).unwrap().status
    }

    fn published_types(f: &Function) -> Vec<EventType> {
        f.events
            .published()
            .iter()
            .map(|e| e.metadata.event_type)
            .collect()
    }

    fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn order_placed_reserves_every_line_and_publishes_inventory_reserved() {
        let f = function(10, 5);
        pending(&f, ORDER_ID, fixture_lines()).await;
        let response = f.handle_batch(fixture("sqs-order-placed.json")).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(status(&f, ORDER_ID), OrderStatus::Reserved);
        assert_eq!(f.store.stock_of(&sku("SKU-TSHIRT-M")), Some(8));
        assert_eq!(f.store.stock_of(&sku("SKU-MUG-350")), Some(4));
        let published = f.events.published();
        assert_eq!(published_types(&f), [EventType::InventoryReserved]);
        assert_eq!(published[0].metadata.correlation_id.as_str(), ORDER_ID);
        assert_eq!(
            published[0].metadata.causation_id.as_deref(),
            Some("00000000-0000-4000-8000-000000000001")
        );
    }

    #[tokio::test]
    async fn the_same_order_placed_delivered_twice_reserves_once() {
        let f = function(10, 5);
        pending(&f, ORDER_ID, fixture_lines()).await;
        f.handle_batch(fixture("sqs-order-placed.json")).await;
        let again = f.handle_batch(fixture("sqs-order-placed.json")).await;
        assert!(again.batch_item_failures.is_empty());
        assert_eq!(f.store.stock_of(&sku("SKU-TSHIRT-M")), Some(8));
        // Re-published, because the first delivery might have died before publishing.
        assert_eq!(
            published_types(&f),
            [EventType::InventoryReserved, EventType::InventoryReserved]
        );
    }

    #[tokio::test]
    async fn insufficient_stock_rejects_the_order_and_takes_nothing() {
        let f = function(10, 0);
        pending(&f, ORDER_ID, fixture_lines()).await;
        let response = f.handle_batch(fixture("sqs-order-placed.json")).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(status(&f, ORDER_ID), OrderStatus::Rejected);
        assert_eq!(f.store.stock_of(&sku("SKU-TSHIRT-M")), Some(10));
        let published = f.events.published();
        let DomainEvent::InventoryRejected(rejected) = &published[0].event else {
            panic!("expected InventoryRejected, got {published:?}")
        };
        assert_eq!(rejected.shortages.len(), 1);
        assert_eq!(rejected.shortages[0].sku, sku("SKU-MUG-350"));
        assert_eq!(rejected.shortages[0].available, 0);
    }

    #[tokio::test]
    async fn a_redelivered_rejection_republishes_without_moving_the_order() {
        let f = function(10, 0);
        pending(&f, ORDER_ID, fixture_lines()).await;
        f.handle_batch(fixture("sqs-order-placed.json")).await;
        // Stock arrives after the rejection: the late duplicate must not reserve it.
        f.store.put_products([Product {
            sku: sku("SKU-MUG-350"),
            name: "Mug".into(),
            price: Money::new(1200, Currency::EUR),
            stock: 3,
        }]);
        let again = f.handle_batch(fixture("sqs-order-placed.json")).await;
        assert!(again.batch_item_failures.is_empty());
        assert_eq!(status(&f, ORDER_ID), OrderStatus::Rejected);
        assert_eq!(f.store.stock_of(&sku("SKU-MUG-350")), Some(3));
        assert_eq!(
            published_types(&f),
            [EventType::InventoryRejected, EventType::InventoryRejected]
        );
    }

    #[tokio::test]
    async fn a_batch_with_one_malformed_record_reports_exactly_that_record() {
        let f = function(10, 5);
        pending(&f, ORDER_ID, fixture_lines()).await;
        pending(&f, SECOND_ORDER_ID, vec![line("SKU-MUG-350", 1, 1200)]).await;
        let response = f
            .handle_batch(fixture("sqs-batch-with-malformed-record.json"))
            .await;
        assert_eq!(failed_ids(&response), ["msg-0002"]);
        assert_eq!(status(&f, ORDER_ID), OrderStatus::Reserved);
        assert_eq!(status(&f, SECOND_ORDER_ID), OrderStatus::Reserved);
        assert_eq!(f.store.stock_of(&sku("SKU-MUG-350")), Some(3));
    }

    #[tokio::test]
    async fn unknown_event_types_and_newer_versions_fail_without_panicking() {
        let f = function(10, 5);
        pending(&f, ORDER_ID, fixture_lines()).await;
        let response = f.handle_batch(fixture("sqs-unsupported-events.json")).await;
        assert_eq!(failed_ids(&response), ["msg-0001", "msg-0002"]);
        assert_eq!(status(&f, ORDER_ID), OrderStatus::Pending);
        assert!(f.events.published().is_empty());
    }

    #[tokio::test]
    async fn an_event_this_function_does_not_handle_fails_its_record() {
        let f = function(10, 5);
        let response = f.handle_batch(fixture("sqs-payment-succeeded.json")).await;
        assert_eq!(failed_ids(&response), ["msg-0001"]);
    }

    #[tokio::test]
    async fn a_store_outage_fails_the_record_for_a_retry() {
        let f = function(10, 5);
        pending(&f, ORDER_ID, fixture_lines()).await;
        f.store.fail_next(1);
        let response = f.handle_batch(fixture("sqs-order-placed.json")).await;
        assert_eq!(failed_ids(&response), ["msg-0001"]);
        assert_eq!(status(&f, ORDER_ID), OrderStatus::Pending);
        let retry = f.handle_batch(fixture("sqs-order-placed.json")).await;
        assert!(retry.batch_item_failures.is_empty());
        assert_eq!(status(&f, ORDER_ID), OrderStatus::Reserved);
    }

    #[tokio::test]
    async fn a_publish_failure_fails_the_record_and_the_retry_publishes_once_more() {
        let f = function(10, 5);
        pending(&f, ORDER_ID, fixture_lines()).await;
        f.events.fail_next(1);
        let response = f.handle_batch(fixture("sqs-order-placed.json")).await;
        assert_eq!(failed_ids(&response), ["msg-0001"]);
        let retry = f.handle_batch(fixture("sqs-order-placed.json")).await;
        assert!(retry.batch_item_failures.is_empty());
        assert_eq!(
            f.store.stock_of(&sku("SKU-MUG-350")),
            Some(4),
            "reserved once"
        );
        assert_eq!(published_types(&f), [EventType::InventoryReserved]);
    }

    async fn reserved_then_payment_failed(f: &Function) {
        pending(f, DECLINED_ORDER_ID, fixture_lines()).await;
        let id = OrderId::parse(DECLINED_ORDER_ID).unwrap();
        f.store
            .reserve_stock(&id, &fixture_lines(), Utc::now())
            .await
            .unwrap();
        f.store
            .transition(
                &id,
                OrderStatus::Reserved,
                OrderStatus::PaymentFailed,
                Utc::now(),
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn payment_failed_releases_the_stock_and_cancels_the_order() {
        let f = function(10, 5);
        reserved_then_payment_failed(&f).await;
        assert_eq!(f.store.stock_of(&sku("SKU-TSHIRT-M")), Some(8));
        let response = f.handle_batch(fixture("sqs-payment-failed.json")).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(status(&f, DECLINED_ORDER_ID), OrderStatus::Cancelled);
        assert_eq!(f.store.stock_of(&sku("SKU-TSHIRT-M")), Some(10));
        assert_eq!(f.store.stock_of(&sku("SKU-MUG-350")), Some(5));
        assert_eq!(published_types(&f), [EventType::InventoryReleased]);
    }

    #[tokio::test]
    async fn payment_failed_delivered_twice_releases_once() {
        let f = function(10, 5);
        reserved_then_payment_failed(&f).await;
        f.handle_batch(fixture("sqs-payment-failed.json")).await;
        let again = f.handle_batch(fixture("sqs-payment-failed.json")).await;
        assert!(again.batch_item_failures.is_empty());
        assert_eq!(f.store.stock_of(&sku("SKU-TSHIRT-M")), Some(10));
        assert_eq!(
            published_types(&f),
            [EventType::InventoryReleased, EventType::InventoryReleased]
        );
    }

    #[tokio::test]
    async fn payment_failed_for_an_order_without_a_reservation_is_a_permanent_failure() {
        let f = function(10, 5);
        pending(&f, DECLINED_ORDER_ID, fixture_lines()).await;
        let response = f.handle_batch(fixture("sqs-payment-failed.json")).await;
        assert_eq!(failed_ids(&response), ["msg-0001"]);
        assert_eq!(status(&f, DECLINED_ORDER_ID), OrderStatus::Pending);
    }
}
