//! Payment: `InventoryReserved` → charge once → ledger entry → `PaymentSucceeded` (order
//! `CONFIRMED`) or `PaymentFailed` (order `PAYMENT_FAILED`). A transient provider error fails
//! the record so SQS redelivers it; it is never acknowledged.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use orderflow_shared::domain::OrderStatus;
use orderflow_shared::events::{
    DomainEvent, Envelope, InventoryReserved, PaymentFailed, PaymentSucceeded,
};
use orderflow_shared::idempotency::{
    claim, Claim, ClaimError, IdempotencyError, IdempotencyStore, Policy,
};
use orderflow_shared::ports::{
    ChargeOutcome, ChargeRecord, ChargeRequest, EventPublisher, OrderRepository, OrderWriteError,
    PaymentGateway, PaymentLedger, Recorded, SettleError, Settlement,
};
use orderflow_shared::sqs_batch::{BatchRunner, RecordError};
use tracing::{info, warn};

/// The ports this function uses, lent to every invocation.
pub struct ProcessPayment<O, L, K, G, E> {
    /// Orders: the order's move after a charge settled step by step.
    pub orders: O,
    /// The payments ledger, and the settlement of a charge in one write.
    pub ledger: L,
    /// The charge's idempotency key (`charge#<orderId>`).
    pub keys: K,
    pub gateway: G,
    pub events: E,
    /// How long the charge key is locked while the provider is called, and remembered after.
    pub policy: Policy,
    pub runner: BatchRunner,
}

impl<O, L, K, G, E> ProcessPayment<O, L, K, G, E>
where
    O: OrderRepository,
    L: PaymentLedger,
    K: IdempotencyStore,
    G: PaymentGateway,
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
            DomainEvent::InventoryReserved(e) => self.pay(&envelope, e).await,
            other => Err(RecordError::Permanent(format!(
                "process-payment does not handle {}; check the payment rule's event pattern",
                other.event_type()
            ))),
        }
    }

    async fn pay(
        &self,
        cause: &Envelope,
        e: &InventoryReserved,
    ) -> Result<Vec<Envelope>, RecordError> {
        let (outcome, settled) = self.charge_once(e).await?;
        let target = target_of(&outcome);
        let next = match outcome {
            ChargeOutcome::Approved { charge_id } => {
                DomainEvent::PaymentSucceeded(PaymentSucceeded {
                    order_id: e.order_id.clone(),
                    customer_id: e.customer_id.clone(),
                    email: e.email.clone(),
                    total: e.total,
                    charge_id,
                })
            }
            ChargeOutcome::Declined { reason } => DomainEvent::PaymentFailed(PaymentFailed {
                order_id: e.order_id.clone(),
                customer_id: e.customer_id.clone(),
                email: e.email.clone(),
                total: e.total,
                reason,
            }),
        };
        if settled {
            info!(status = %target, "order moved after payment");
        } else {
            self.move_order(e, target).await?;
        }
        Ok(vec![cause.caused(next)])
    }

    /// The order's move after a charge settled earlier or step by step (a redelivery).
    async fn move_order(
        &self,
        e: &InventoryReserved,
        target: OrderStatus,
    ) -> Result<(), RecordError> {
        match self
            .orders
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
        Ok(())
    }

    /// Charges the order at most once and returns the outcome, and whether the order was moved
    /// here too. The charge's idempotency key is claimed first: a completed key holds the
    /// outcome, and nothing is charged. Otherwise the provider is called (with the order id as
    /// its own idempotency key), and the ledger entry, the key's completion and the order's move
    /// are written in one transaction, so no entry exists without its completed key. If that
    /// transaction is refused (an earlier delivery got part of the way), the ledger decides.
    async fn charge_once(
        &self,
        e: &InventoryReserved,
    ) -> Result<(ChargeOutcome, bool), RecordError> {
        let key = format!("charge#{}", e.order_id);
        if let Some(earlier) = self.claim_charge(e, &key).await? {
            return Ok((earlier, false));
        }
        let request = ChargeRequest {
            order_id: e.order_id.clone(),
            amount: e.total,
            token: e.payment_token.clone(),
            idempotency_key: e.order_id.to_string(),
        };
        let outcome = match self.gateway.charge(&request).await {
            Ok(outcome) => outcome,
            Err(err) => {
                self.give_up(&key).await;
                return Err(RecordError::transient(err));
            }
        };
        self.settle(e, key, outcome).await
    }

    /// Claims the charge's key: `None` when this delivery holds it now, the earlier outcome
    /// when the order was charged before.
    async fn claim_charge(
        &self,
        e: &InventoryReserved,
        key: &str,
    ) -> Result<Option<ChargeOutcome>, RecordError> {
        let payload = format!("{}|{}|{}", e.order_id, e.total.amount, e.total.currency);
        match claim(&self.keys, key, payload.as_bytes(), self.policy).await {
            Ok(Claim::Acquired) => Ok(None),
            Ok(Claim::Completed(result)) => {
                info!("order was charged before; not charging again");
                serde_json::from_str(&result)
                    .map(Some)
                    .map_err(RecordError::permanent)
            }
            Ok(Claim::InProgress) => {
                warn!("another delivery is charging this order; will retry");
                Err(RecordError::Transient(
                    "charge in progress elsewhere".into(),
                ))
            }
            Err(ClaimError::PayloadMismatch) => Err(RecordError::Permanent(format!(
                "order {} was charged before with a different amount",
                e.order_id
            ))),
            Err(ClaimError::Store(err)) => Err(RecordError::transient(err)),
        }
    }

    /// Writes what follows from the charge at once (the ledger entry, the key's completion,
    /// the order's move); step by step when that is refused.
    async fn settle(
        &self,
        e: &InventoryReserved,
        key: String,
        outcome: ChargeOutcome,
    ) -> Result<(ChargeOutcome, bool), RecordError> {
        let settlement = Settlement {
            record: ChargeRecord {
                order_id: e.order_id.clone(),
                amount: e.total,
                outcome: outcome.clone(),
                at: Utc::now(),
            },
            result: serde_json::to_string(&outcome).map_err(RecordError::permanent)?,
            key,
            to: target_of(&outcome),
        };
        match self.ledger.settle(&settlement, Utc::now()).await {
            Ok(()) => Ok((outcome, true)),
            Err(SettleError::Refused(why)) => {
                info!(%why, "settling step by step");
                self.settle_step_by_step(settlement)
                    .await
                    .map(|o| (o, false))
            }
            Err(SettleError::Store(err)) => {
                // Nothing was written. The provider keeps the charge under the order id, so the
                // retry that claims the key again gets the same charge, not a second one.
                self.give_up(&settlement.key).await;
                Err(RecordError::transient(err))
            }
        }
    }

    /// The ledger is the truth: its entry (ours, or an earlier delivery's) is the outcome.
    async fn settle_step_by_step(
        &self,
        settlement: Settlement,
    ) -> Result<ChargeOutcome, RecordError> {
        let stored = match self
            .ledger
            .record(&settlement.record)
            .await
            .map_err(RecordError::transient)?
        {
            Recorded::New => settlement.record,
            Recorded::Existing(existing) => {
                info!("order already has a ledger entry; keeping it");
                existing
            }
        };
        let result = serde_json::to_string(&stored.outcome).map_err(RecordError::permanent)?;
        match self.keys.complete(&settlement.key, &result).await {
            Ok(()) | Err(IdempotencyError::NotHeld) => Ok(stored.outcome),
            Err(err) => Err(RecordError::transient(err)),
        }
    }

    /// Releases the charge's key after a failure, so a retry can claim it at once.
    async fn give_up(&self, key: &str) {
        if let Err(err) = self.keys.release(key).await {
            warn!(key, error = %err, "lock not released; it expires on its own");
        }
    }
}

/// Where the order goes after a charge.
fn target_of(outcome: &ChargeOutcome) -> OrderStatus {
    match outcome {
        ChargeOutcome::Approved { .. } => OrderStatus::Confirmed,
        ChargeOutcome::Declined { .. } => OrderStatus::PaymentFailed,
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
    use orderflow_shared::ports::{GatewayError, Inventory, PaymentLedger};
    use orderflow_shared::testing::WithStore;
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

    type Function = WithStore<
        ProcessPayment<MemoryStore, MemoryStore, MemoryStore, CountingGateway, MemoryEvents>,
    >;

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
        WithStore {
            function: ProcessPayment {
                orders: store.clone(),
                ledger: store.clone(),
                keys: store.clone(),
                gateway: CountingGateway::default(),
                events: MemoryEvents::new(),
                policy: Policy::new(Duration::seconds(30), Duration::days(7)),
                runner: BatchRunner::default(),
            },
            store,
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
    async fn an_earlier_ledger_entry_decides_the_outcome_when_the_settlement_is_refused() {
        let f = function_with_reserved(&[ORDER_ID]).await;
        // An earlier delivery wrote the entry and then lost its key (settled step by step).
        let earlier = ChargeRecord {
            order_id: OrderId::parse(ORDER_ID).unwrap(),
            amount: Money::new(5248, Currency::EUR),
            outcome: ChargeOutcome::Declined {
                reason: "card declined".into(),
            },
            at: Utc::now(),
        };
        f.store.record(&earlier).await.unwrap();

        let response = f.handle_batch(fixture("sqs-inventory-reserved.json")).await;

        assert!(response.batch_item_failures.is_empty());
        assert_eq!(f.store.ledger_entries(), vec![earlier]);
        assert_eq!(status(&f, ORDER_ID), OrderStatus::PaymentFailed);
        assert_eq!(published_types(&f), [EventType::PaymentFailed]);
        let again = f.handle_batch(fixture("sqs-inventory-reserved.json")).await;
        assert!(again.batch_item_failures.is_empty());
        assert_eq!(
            f.gateway.0.load(Ordering::SeqCst),
            1,
            "the key was completed with the ledger's outcome"
        );
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
