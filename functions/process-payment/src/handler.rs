//! Payment: `InventoryReserved` → charge once → ledger entry → `PaymentSucceeded` (order
//! `CONFIRMED`) or `PaymentFailed` (order `PAYMENT_FAILED`). A transient provider error fails
//! the record so SQS redelivers it; it is never acknowledged.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use orderflow_shared::domain::OrderStatus;
use orderflow_shared::events::{
    DomainEvent, Envelope, InventoryReserved, PaymentFailed, PaymentSucceeded,
};
use orderflow_shared::faults::Faults;
use orderflow_shared::idempotency::{run_once, OnceError, Policy};
use orderflow_shared::ports::{
    ChargeOutcome, ChargeRecord, ChargeRequest, EventPublisher, IdempotencyStore, OrderRepository,
    OrderWriteError, PaymentGateway, PaymentLedger, Recorded,
};
use orderflow_shared::sqs_batch::{process_batch, RecordError};
use tracing::{info, warn};

pub struct ProcessPayment<S, G, E> {
    pub store: S,
    pub gateway: G,
    pub events: E,
    pub idempotency: Policy,
    /// Injected failures (off unless `ORDERFLOW_FAULTS` is set).
    pub faults: Faults,
}

impl<S, G, E> ProcessPayment<S, G, E>
where
    S: OrderRepository + PaymentLedger + IdempotencyStore,
    G: PaymentGateway,
    E: EventPublisher,
{
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        process_batch(event, &self.faults, |envelope| self.handle(envelope)).await
    }

    pub async fn handle(&self, envelope: Envelope) -> Result<(), RecordError> {
        match &envelope.event {
            DomainEvent::InventoryReserved(e) => self.pay(&envelope, e).await,
            other => Err(RecordError::Permanent(format!(
                "process-payment does not handle {}; check the payment rule's event pattern",
                other.event_type()
            ))),
        }
    }

    async fn pay(&self, cause: &Envelope, e: &InventoryReserved) -> Result<(), RecordError> {
        let outcome = self.charge_once(e).await?;
        let (target, next) = match &outcome {
            ChargeOutcome::Approved { charge_id } => (
                OrderStatus::Confirmed,
                DomainEvent::PaymentSucceeded(PaymentSucceeded {
                    order_id: e.order_id.clone(),
                    customer_id: e.customer_id.clone(),
                    email: e.email.clone(),
                    total: e.total,
                    charge_id: charge_id.clone(),
                }),
            ),
            ChargeOutcome::Declined { reason } => (
                OrderStatus::PaymentFailed,
                DomainEvent::PaymentFailed(PaymentFailed {
                    order_id: e.order_id.clone(),
                    customer_id: e.customer_id.clone(),
                    email: e.email.clone(),
                    total: e.total,
                    reason: reason.clone(),
                }),
            ),
        };
        match self
            .store
            .transition(&e.order_id, OrderStatus::Reserved, target, Utc::now())
            .await
        {
            Ok(()) => info!(status = %target, "order moved after payment"),
            Err(OrderWriteError::Conflict { actual, .. }) if actual.has_reached(target) => {
                info!(status = %actual, "order had already moved; re-publishing")
            }
            Err(OrderWriteError::Store(err)) => return Err(RecordError::transient(err)),
            Err(other) => return Err(RecordError::permanent(other)),
        }
        self.events
            .publish(&[cause.caused(next)])
            .await
            .map_err(RecordError::transient)
    }

    /// The ledger is the truth: if the order has an entry, that is the outcome. Otherwise the
    /// provider is called under an idempotency lock and the entry written before the lock is
    /// completed, so two deliveries can never both charge.
    async fn charge_once(&self, e: &InventoryReserved) -> Result<ChargeOutcome, RecordError> {
        if let Some(existing) = self
            .store
            .charge_for(&e.order_id)
            .await
            .map_err(RecordError::transient)?
        {
            info!("order already has a ledger entry; not charging again");
            return Ok(existing.outcome);
        }
        let key = format!("charge#{}", e.order_id);
        let payload = format!("{}|{}|{}", e.order_id, e.total.amount, e.total.currency);
        let request = ChargeRequest {
            order_id: e.order_id.clone(),
            amount: e.total,
            token: e.payment_token.clone(),
            idempotency_key: e.order_id.to_string(),
        };
        let once = run_once(
            &self.store,
            &key,
            payload.as_bytes(),
            self.idempotency,
            || async {
                let outcome = self
                    .gateway
                    .charge(&request)
                    .await
                    .map_err(RecordError::transient)?;
                let record = ChargeRecord {
                    order_id: e.order_id.clone(),
                    amount: e.total,
                    outcome,
                    at: Utc::now(),
                };
                let stored = match self
                    .store
                    .record(&record)
                    .await
                    .map_err(RecordError::transient)?
                {
                    Recorded::New => record,
                    Recorded::Existing(existing) => existing,
                };
                serde_json::to_string(&stored.outcome).map_err(RecordError::permanent)
            },
        )
        .await;
        let result = match once {
            Ok(once) => once.result().to_owned(),
            Err(OnceError::Effect(err)) => return Err(err),
            Err(OnceError::InProgress) => {
                warn!("another delivery is charging this order; will retry");
                return Err(RecordError::Transient(
                    "charge in progress elsewhere".into(),
                ));
            }
            Err(OnceError::PayloadMismatch) => {
                return Err(RecordError::Permanent(format!(
                    "order {} was charged before with a different amount",
                    e.order_id
                )))
            }
            Err(OnceError::Store(err)) => return Err(RecordError::transient(err)),
        };
        serde_json::from_str(&result).map_err(RecordError::permanent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use orderflow_shared::adapters::memory::{MemoryEvents, MemoryStore};
    use orderflow_shared::adapters::simulated_gateway::SimulatedGateway;
    use orderflow_shared::domain::{
        Currency, CustomerId, Email, Money, Order, OrderId, OrderLine, PaymentToken, Quantity, Sku,
    };
    use orderflow_shared::events::EventType;
    use orderflow_shared::ports::{GatewayError, Inventory};
    use std::sync::atomic::{AtomicUsize, Ordering};

    const ORDER_ID: &str = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b";
    const DECLINED_ORDER_ID: &str = "7a2b3c4d-5e6f-4a70-9b8c-0d1e2f3a4b5c";
    const GATEWAY_ERROR_ORDER_ID: &str = "8b3c4d5e-6f70-4b81-8c9d-1e2f3a4b5c6d";

    /// The simulated gateway, counting calls.
    #[derive(Default)]
    struct CountingGateway(AtomicUsize);

    #[async_trait::async_trait]
    impl PaymentGateway for CountingGateway {
        async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, GatewayError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            SimulatedGateway.charge(request).await
        }
    }

    type Function = ProcessPayment<MemoryStore, CountingGateway, MemoryEvents>;

    fn fixture(name: &str) -> SqsEvent {
        orderflow_shared::testing::sqs_fixture(name).unwrap()
    }

    fn lines() -> Vec<OrderLine> {
        vec![
            OrderLine {
                sku: Sku::parse("SKU-TSHIRT-M").unwrap(),
                quantity: Quantity::new(2).unwrap(),
                unit_price: Money::new(1999, Currency::EUR),
            },
            OrderLine {
                sku: Sku::parse("SKU-MUG").unwrap(),
                quantity: Quantity::new(1).unwrap(),
                unit_price: Money::new(1250, Currency::EUR),
            },
        ]
    }

    async fn function_with_reserved(ids: &[&str]) -> Function {
        let store = MemoryStore::with_products([
            orderflow_shared::ports::Product {
                sku: Sku::parse("SKU-TSHIRT-M").unwrap(),
                name: "T-shirt M".into(),
                price: Money::new(1999, Currency::EUR),
                stock: 100,
            },
            orderflow_shared::ports::Product {
                sku: Sku::parse("SKU-MUG").unwrap(),
                name: "Mug".into(),
                price: Money::new(1250, Currency::EUR),
                stock: 100,
            },
        ]);
        for id in ids {
            let order = Order::place(
                OrderId::parse(id).unwrap(),
                CustomerId::parse("cust-42").unwrap(),
                Email::parse("ana@example.com").unwrap(),
                PaymentToken::parse("tok_visa").unwrap(),
                lines(),
                Utc::now(),
            )
            .unwrap();
            store.create(&order).await.unwrap();
            store
                .reserve_stock(&order.order_id, &lines(), Utc::now())
                .await
                .unwrap();
        }
        ProcessPayment {
            store,
            gateway: CountingGateway::default(),
            events: MemoryEvents::new(),
            idempotency: Policy::new(Duration::seconds(30), Duration::days(7)),
            faults: Faults::none(),
        }
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

    #[tokio::test]
    async fn an_approved_charge_is_recorded_confirms_the_order_and_publishes_payment_succeeded() {
        let f = function_with_reserved(&[ORDER_ID]).await;
        let response = f.handle_batch(fixture("sqs-inventory-reserved.json")).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(status(&f, ORDER_ID), OrderStatus::Confirmed);
        let ledger = f.store.ledger_entries();
        assert_eq!(ledger.len(), 1);
        assert_eq!(ledger[0].amount, Money::new(5248, Currency::EUR));
        assert!(matches!(ledger[0].outcome, ChargeOutcome::Approved { .. }));
        assert_eq!(published_types(&f), [EventType::PaymentSucceeded]);
    }

    #[tokio::test]
    async fn a_declined_card_fails_the_payment_and_publishes_payment_failed() {
        let f = function_with_reserved(&[DECLINED_ORDER_ID]).await;
        let response = f
            .handle_batch(fixture("sqs-inventory-reserved-declined.json"))
            .await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(status(&f, DECLINED_ORDER_ID), OrderStatus::PaymentFailed);
        assert!(matches!(
            f.store.ledger_entries()[0].outcome,
            ChargeOutcome::Declined { .. }
        ));
        assert_eq!(published_types(&f), [EventType::PaymentFailed]);
    }

    #[tokio::test]
    async fn a_gateway_error_fails_only_its_record_and_is_never_acknowledged() {
        let f = function_with_reserved(&[GATEWAY_ERROR_ORDER_ID, ORDER_ID]).await;
        let response = f
            .handle_batch(fixture("sqs-inventory-reserved-gateway-error.json"))
            .await;
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|x| x.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["msg-0001"]);
        assert_eq!(status(&f, GATEWAY_ERROR_ORDER_ID), OrderStatus::Reserved);
        assert_eq!(status(&f, ORDER_ID), OrderStatus::Confirmed);
        assert_eq!(
            f.store.ledger_entries().len(),
            1,
            "no ledger entry for the failed charge"
        );
    }

    #[tokio::test]
    async fn a_redelivered_reservation_never_charges_twice() {
        let f = function_with_reserved(&[ORDER_ID]).await;
        f.handle_batch(fixture("sqs-inventory-reserved.json")).await;
        let again = f.handle_batch(fixture("sqs-inventory-reserved.json")).await;
        assert!(again.batch_item_failures.is_empty());
        assert_eq!(f.gateway.0.load(Ordering::SeqCst), 1);
        assert_eq!(f.store.ledger_entries().len(), 1);
        assert_eq!(status(&f, ORDER_ID), OrderStatus::Confirmed);
        assert_eq!(
            published_types(&f),
            [EventType::PaymentSucceeded, EventType::PaymentSucceeded]
        );
    }

    #[tokio::test]
    async fn a_crash_after_the_charge_resumes_from_the_ledger_without_charging_again() {
        let f = function_with_reserved(&[ORDER_ID]).await;
        f.events.fail_next(1);
        let first = f.handle_batch(fixture("sqs-inventory-reserved.json")).await;
        assert_eq!(
            first.batch_item_failures.len(),
            1,
            "publish failed, so the record is retried"
        );
        let retry = f.handle_batch(fixture("sqs-inventory-reserved.json")).await;
        assert!(retry.batch_item_failures.is_empty());
        assert_eq!(f.gateway.0.load(Ordering::SeqCst), 1);
        assert_eq!(published_types(&f), [EventType::PaymentSucceeded]);
    }

    #[tokio::test]
    async fn concurrent_duplicates_charge_once() {
        let f = function_with_reserved(&[ORDER_ID]).await;
        let (a, b) = tokio::join!(
            f.handle_batch(fixture("sqs-inventory-reserved.json")),
            f.handle_batch(fixture("sqs-inventory-reserved.json"))
        );
        assert!(a.batch_item_failures.len() + b.batch_item_failures.len() <= 1);
        assert_eq!(f.gateway.0.load(Ordering::SeqCst), 1);
        assert_eq!(f.store.ledger_entries().len(), 1);
    }

    #[tokio::test]
    async fn an_event_this_function_does_not_handle_fails_its_record() {
        let f = function_with_reserved(&[]).await;
        let response = f.handle_batch(fixture("sqs-order-placed.json")).await;
        assert_eq!(response.batch_item_failures.len(), 1);
        assert_eq!(f.gateway.0.load(Ordering::SeqCst), 0);
    }
}
