//! Customer notifications: each terminal outcome (`PaymentSucceeded`, `InventoryRejected`,
//! `InventoryReleased`) is rendered into one `Notification` and published once, however often
//! the event is delivered.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use orderflow_shared::events::{DomainEvent, Envelope, Notification, NotificationKind};
use orderflow_shared::faults::Faults;
use orderflow_shared::idempotency::{run_once, Once, OnceError, Policy};
use orderflow_shared::ports::{IdempotencyStore, Notifier};
use orderflow_shared::sqs_batch::{process_batch, RecordError};
use tracing::info;

pub struct SendNotification<S, N> {
    pub store: S,
    pub notifier: N,
    pub idempotency: Policy,
    /// Injected failures (off unless `ORDERFLOW_FAULTS` is set).
    pub faults: Faults,
}

/// Renders what the customer is told about an outcome; `None` for events that tell nothing.
pub fn render(event: &DomainEvent) -> Option<Notification> {
    let short =
        |id: &orderflow_shared::domain::OrderId| id.as_str().chars().take(8).collect::<String>();
    let n = match event {
        DomainEvent::PaymentSucceeded(e) => Notification {
            kind: NotificationKind::OrderConfirmed,
            order_id: e.order_id.clone(),
            email: e.email.clone(),
            subject: format!("Order {} confirmed", short(&e.order_id)),
            text: format!(
                "Thank you! Your order {} is confirmed and {} has been charged (charge {}).",
                e.order_id, e.total, e.charge_id
            ),
        },
        DomainEvent::InventoryRejected(e) => {
            let missing: Vec<String> = e
                .shortages
                .iter()
                .map(|s| format!("{} (asked {}, {} left)", s.sku, s.requested.get(), s.available))
                .collect();
            let detail = if missing.is_empty() {
                "some items are out of stock".to_owned()
            } else {
                format!("not enough stock for {}", missing.join(", "))
            };
            Notification {
                kind: NotificationKind::OrderRejected,
                order_id: e.order_id.clone(),
                email: e.email.clone(),
                subject: format!("Order {} could not be fulfilled", short(&e.order_id)),
                text: format!("Sorry, your order {} was not placed: {detail}. Nothing was charged.", e.order_id),
            }
        }
        DomainEvent::InventoryReleased(e) => Notification {
            kind: NotificationKind::OrderCancelled,
            order_id: e.order_id.clone(),
            email: e.email.clone(),
            subject: format!("Order {} cancelled", short(&e.order_id)),
            text: format!(
                "Your payment for order {} was not accepted, so the order is cancelled and nothing was charged.",
                e.order_id
            ),
        },
        _ => return None,
    };
    Some(n)
}

impl<S, N> SendNotification<S, N>
where
    S: IdempotencyStore,
    N: Notifier,
{
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        process_batch(event, &self.faults, |envelope| self.handle(envelope)).await
    }

    pub async fn handle(&self, envelope: Envelope) -> Result<(), RecordError> {
        let Some(notification) = render(&envelope.event) else {
            return Err(RecordError::Permanent(format!(
                "send-notification does not handle {}; check the notification rule's event pattern",
                envelope.metadata.event_type
            )));
        };
        // One notification per order and outcome, whatever the number of deliveries.
        let key = format!(
            "notify#{}#{}",
            notification.order_id,
            notification.kind.as_str()
        );
        let payload = format!("{}|{}", notification.order_id, notification.kind.as_str());
        let once = run_once(
            &self.store,
            &key,
            payload.as_bytes(),
            self.idempotency,
            || async {
                self.notifier
                    .notify(&notification)
                    .await
                    .map_err(RecordError::transient)
            },
        )
        .await;
        match once {
            Ok(Once::Ran(message_id)) => {
                info!(kind = notification.kind.as_str(), sns_message_id = %message_id, "customer notified");
                Ok(())
            }
            Ok(Once::AlreadyDone(message_id)) => {
                info!(kind = notification.kind.as_str(), sns_message_id = %message_id, "customer was already notified");
                Ok(())
            }
            Err(OnceError::Effect(e)) => Err(e),
            Err(OnceError::InProgress) => Err(RecordError::Transient(
                "another delivery is sending this notification".into(),
            )),
            Err(OnceError::PayloadMismatch) => Err(RecordError::Permanent(format!(
                "idempotency key {key} reused"
            ))),
            Err(OnceError::Store(e)) => Err(RecordError::transient(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use orderflow_shared::adapters::memory::{MemoryNotifier, MemoryStore};

    type Function = SendNotification<MemoryStore, MemoryNotifier>;

    fn fixture(name: &str) -> SqsEvent {
        orderflow_shared::testing::sqs_fixture(name).unwrap()
    }

    fn function() -> Function {
        SendNotification {
            store: MemoryStore::new(),
            notifier: MemoryNotifier::new(),
            idempotency: Policy::new(Duration::seconds(30), Duration::days(7)),
            faults: Faults::none(),
        }
    }

    #[tokio::test]
    async fn a_successful_payment_tells_the_customer_the_order_is_confirmed() {
        let f = function();
        let response = f.handle_batch(fixture("sqs-payment-succeeded.json")).await;
        assert!(response.batch_item_failures.is_empty());
        let sent = f.notifier.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].kind, NotificationKind::OrderConfirmed);
        assert_eq!(sent[0].email.as_str(), "ana@example.com");
        assert!(sent[0].text.contains("52.48 EUR"), "{}", sent[0].text);
    }

    #[tokio::test]
    async fn a_rejection_names_the_missing_stock() {
        let f = function();
        f.handle_batch(fixture("sqs-inventory-rejected.json")).await;
        let sent = f.notifier.sent();
        assert_eq!(sent[0].kind, NotificationKind::OrderRejected);
        assert!(
            sent[0].text.contains("SKU-MUG (asked 1, 0 left)"),
            "{}",
            sent[0].text
        );
    }

    #[tokio::test]
    async fn a_release_tells_the_customer_the_order_is_cancelled() {
        let f = function();
        f.handle_batch(fixture("sqs-inventory-released.json")).await;
        assert_eq!(f.notifier.sent()[0].kind, NotificationKind::OrderCancelled);
    }

    #[tokio::test]
    async fn a_redelivered_outcome_notifies_once() {
        let f = function();
        f.handle_batch(fixture("sqs-payment-succeeded.json")).await;
        let again = f.handle_batch(fixture("sqs-payment-succeeded.json")).await;
        assert!(again.batch_item_failures.is_empty());
        assert_eq!(f.notifier.sent().len(), 1);
    }

    #[tokio::test]
    async fn a_failed_publish_is_retried_and_then_sent_once() {
        let f = function();
        f.notifier.fail_next(1);
        let first = f.handle_batch(fixture("sqs-payment-succeeded.json")).await;
        assert_eq!(first.batch_item_failures.len(), 1);
        let retry = f.handle_batch(fixture("sqs-payment-succeeded.json")).await;
        assert!(retry.batch_item_failures.is_empty());
        assert_eq!(f.notifier.sent().len(), 1);
    }

    #[tokio::test]
    async fn events_that_tell_the_customer_nothing_fail_their_record() {
        let f = function();
        let response = f.handle_batch(fixture("sqs-inventory-reserved.json")).await;
        assert_eq!(response.batch_item_failures.len(), 1);
        assert!(f.notifier.sent().is_empty());
    }
}
