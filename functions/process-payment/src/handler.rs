//! Payment: `InventoryReserved` → charge once → ledger entry → `PaymentSucceeded` (order
//! `CONFIRMED`) or `PaymentFailed` (order `PAYMENT_FAILED`); `ReservationExpired` → settled as a
//! decline ("reservation expired") unless the order was charged. A charge whose outcome is
//! unknown (a provider or store failure after the charge was attempted) is reconciled, never
//! charged again blindly (`charge`); a transient failure fails the record so SQS redelivers it.
//!
//! The charge key `charge#<orderId>` (Idempotency table) goes through these states:
//!
//! ```text
//! (none) ──claim, Attempt──► IN_PROGRESS, attempt noted ──settle──► COMPLETED(outcome)
//!   │                            │  ▲
//!   │                 failure:   │  │ retry claims it: earlier attempt → ledger entry? →
//!   │                 unlock     ▼  │ provider.find(key)? → else charge only within the window
//!   │                        unlocked (note kept) ──past the window, nothing found──► permanent
//!   └──claim, Settle (ReservationExpired)──► IN_PROGRESS, no note ──settle──► COMPLETED(declined)
//! ```

mod charge;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use orderflow_shared::clock::Clock;
use orderflow_shared::domain::{CustomerId, Email, Money, OrderId, OrderStatus};
use orderflow_shared::events::{
    DomainEvent, Envelope, InventoryReserved, PaymentFailed, PaymentSucceeded, ReservationExpired,
};
use orderflow_shared::idempotency::{AttemptStore, Policy};
use orderflow_shared::ports::{
    ChargeOutcome, EventPublisher, OrderRepository, OrderWriteError, PaymentGateway, PaymentLedger,
};
use orderflow_shared::sqs_batch::{BatchRunner, RecordError};
use orderflow_shared::telemetry::metrics;
use tracing::info;

/// The reason a reservation that expired unpaid is declined with.
pub const RESERVATION_EXPIRED: &str = "reservation expired";

/// The ports this function uses, lent to every invocation.
pub struct ProcessPayment<O, L, K, G, E> {
    /// Orders: the order's move after a charge settled step by step.
    pub orders: O,
    /// The payments ledger, and the settlement of a charge in one write.
    pub ledger: L,
    /// The charge's idempotency key (`charge#<orderId>`), which notes charge attempts.
    pub keys: K,
    pub gateway: G,
    pub events: E,
    /// How long the charge key is locked while the provider is called, and remembered after.
    pub policy: Policy,
    pub runner: BatchRunner,
    /// The time (the system's; tests move it to let a provider's key retention pass).
    pub clock: Clock,
}

/// What a charge, or its settlement, is about: the fields both events carry.
struct Payment<'a> {
    order_id: &'a OrderId,
    customer_id: &'a CustomerId,
    email: &'a Email,
    total: Money,
}

impl Payment<'_> {
    fn key(&self) -> String {
        format!("charge#{}", self.order_id)
    }

    /// What the key is claimed for: a redelivery with another amount is refused.
    fn payload(&self) -> String {
        format!(
            "{}|{}|{}",
            self.order_id, self.total.amount, self.total.currency
        )
    }

    /// The event that follows from the charge's outcome.
    fn event_after(&self, outcome: ChargeOutcome) -> DomainEvent {
        match outcome {
            ChargeOutcome::Approved { charge_id } => {
                DomainEvent::PaymentSucceeded(PaymentSucceeded {
                    order_id: self.order_id.clone(),
                    customer_id: self.customer_id.clone(),
                    email: self.email.clone(),
                    total: self.total,
                    charge_id,
                })
            }
            ChargeOutcome::Declined { reason } => DomainEvent::PaymentFailed(PaymentFailed {
                order_id: self.order_id.clone(),
                customer_id: self.customer_id.clone(),
                email: self.email.clone(),
                total: self.total,
                reason,
            }),
        }
    }
}

impl<'a> From<&'a InventoryReserved> for Payment<'a> {
    fn from(e: &'a InventoryReserved) -> Self {
        Payment {
            order_id: &e.order_id,
            customer_id: &e.customer_id,
            email: &e.email,
            total: e.total,
        }
    }
}

impl<'a> From<&'a ReservationExpired> for Payment<'a> {
    fn from(e: &'a ReservationExpired) -> Self {
        Payment {
            order_id: &e.order_id,
            customer_id: &e.customer_id,
            email: &e.email,
            total: e.total,
        }
    }
}

impl<O, L, K, G, E> ProcessPayment<O, L, K, G, E>
where
    O: OrderRepository,
    L: PaymentLedger,
    K: AttemptStore,
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
        let (payment, settled) = match &envelope.event {
            DomainEvent::InventoryReserved(e) => (Payment::from(e), self.pay(e).await?),
            DomainEvent::ReservationExpired(e) => (Payment::from(e), self.expire(e).await?),
            other => {
                return Err(RecordError::Permanent(format!(
                    "process-payment does not handle {}; check the payment rule's event pattern",
                    other.event_type()
                )))
            }
        };
        let (outcome, moved) = settled;
        let target = target_of(&outcome);
        if moved {
            info!(status = %target, "order moved after payment");
        }
        if moved || self.move_order(payment.order_id, target).await? {
            metrics::charge(charge_metric(&outcome));
            metrics::stage_latency("charge", envelope.metadata.placed_at);
        }
        Ok(vec![envelope.caused(payment.event_after(outcome))])
    }

    /// The order's move after a charge settled earlier or step by step (a redelivery);
    /// `true` when this call moved it.
    async fn move_order(
        &self,
        order_id: &OrderId,
        target: OrderStatus,
    ) -> Result<bool, RecordError> {
        match self
            .orders
            .transition(order_id, OrderStatus::Reserved, target, self.clock.now())
            .await
        {
            Ok(()) => info!(status = %target, "order moved after payment"),
            Err(OrderWriteError::Conflict { actual, .. }) if actual.has_reached(target) => {
                info!(status = %actual, "order had already moved; re-publishing");
                return Ok(false);
            }
            Err(OrderWriteError::Store(err)) => return Err(RecordError::transient(err)),
            Err(other) => return Err(RecordError::permanent(other)),
        }
        Ok(true)
    }
}

/// The `Charges` outcome of a settled charge.
fn charge_metric(outcome: &ChargeOutcome) -> metrics::Charge {
    match outcome {
        ChargeOutcome::Approved { .. } => metrics::Charge::Approved,
        ChargeOutcome::Declined { .. } => metrics::Charge::Declined,
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
mod tests;
