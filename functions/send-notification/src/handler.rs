//! Customer notifications: each terminal outcome (`PaymentSucceeded`, `InventoryRejected`,
//! `InventoryReleased`) is rendered into one `Notification` and published once, however often
//! the event is delivered — except where no broker can promise it: a publish whose answer was
//! lost, or a crash between the publish and the completion of its key, publishes again. Such a
//! repeat carries the same `notificationId` and the same content (see [`render`]), so a
//! subscriber can drop it; the window is kept to the publish and one completing call.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use orderflow_shared::events::{DomainEvent, Envelope, Notification, NotificationKind};
use orderflow_shared::idempotency::{claim_many, Claim, ClaimError, IdempotencyStore, Policy};
use orderflow_shared::ports::Notifier;
use orderflow_shared::sqs_batch::{BatchRunner, RecordError};
use orderflow_shared::telemetry::metrics;
use tracing::{error, info, warn};

/// The ports this function uses, lent to every invocation.
pub struct SendNotification<K, N> {
    /// One key per order and outcome: each customer is told each outcome once.
    pub keys: K,
    pub notifier: N,
    /// How long a key is locked while its notification is sent, and remembered after.
    pub policy: Policy,
    pub runner: BatchRunner,
}

/// Renders what the customer is told about an outcome; `None` for events that tell nothing.
///
/// The content is a function of the notification's id (order and kind) alone: it reads only
/// facts written once per order — the order id, the e-mail, and for a confirmation the total
/// and the charge id of the order's one ledger entry. A rejection's shortages are left out:
/// a rejection published again computes them from the stock of that moment, so naming them
/// would tell the customer two different things under one id. Never event metadata either.
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
        DomainEvent::InventoryRejected(e) => Notification {
            kind: NotificationKind::OrderRejected,
            order_id: e.order_id.clone(),
            email: e.email.clone(),
            subject: format!("Order {} could not be fulfilled", short(&e.order_id)),
            text: format!(
                "Sorry, your order {} was not placed: some of its items are out of stock. Nothing was charged.",
                e.order_id
            ),
        },
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

impl<K, N> SendNotification<K, N>
where
    K: IdempotencyStore,
    N: Notifier,
{
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        self.runner
            .together(event, |envelopes| self.notify_all(envelopes))
            .await
    }

    /// Tells each outcome once, for a whole batch at a time: the batch's keys (one per order
    /// and outcome) are claimed together, the notifications published together, and the keys
    /// completed together — three calls for a batch where nothing was sent before. One answer
    /// per envelope, in order.
    pub async fn notify_all(&self, envelopes: Vec<Envelope>) -> Vec<Result<(), RecordError>> {
        let (mut answers, wanted) = wanted(&envelopes);
        let to_send = self.claim(wanted, &mut answers).await;
        let (done, unsent) = self.send(to_send, &mut answers).await;
        // The keys are completed first, as soon as SNS answers: a crash between the publish and
        // this call is the only way to tell a customer again (a redundant publish).
        self.complete(&done).await;
        for key in unsent {
            if let Err(release) = self.keys.release(&key).await {
                warn!(key, error = %release, "lock not released; it expires on its own");
            }
        }
        answers
    }

    /// Remembers each `(key, message id)` sent.
    async fn complete(&self, done: &[(String, String)]) {
        let completed = self.keys.complete_many(done).await;
        for ((key, _), outcome) in done.iter().zip(completed) {
            if let Err(e) = outcome {
                // Sent but not remembered. The record is still acknowledged: a redelivery would
                // find the key locked, wait out the lock and send again. Left alone, the key only
                // matters if the event is published again after the lock ends.
                error!(key, error = %e, "customer notified but the key was not completed");
            }
        }
    }

    /// Claims the keys of `wanted` at once; answers those told before, or held elsewhere, and
    /// returns the ones this delivery holds now.
    async fn claim(&self, wanted: Vec<Wanted>, answers: &mut [Answer]) -> Vec<Wanted> {
        let claims: Vec<(String, Vec<u8>)> = wanted
            .iter()
            .map(|w| {
                let n = &w.notification;
                let payload = format!("{}|{}", n.order_id, n.kind.as_str());
                (w.key.clone(), payload.into_bytes())
            })
            .collect();
        let claimed = claim_many(&self.keys, &claims, self.policy).await;
        let mut held = Vec::new();
        for (w, claim) in wanted.into_iter().zip(claimed) {
            let order_id = &w.notification.order_id;
            let kind = w.notification.kind.as_str();
            let answer = match claim {
                Ok(Claim::Acquired) => {
                    held.push(w);
                    continue;
                }
                Ok(Claim::Completed(message_id)) => {
                    info!(%order_id, kind, sns_message_id = %message_id, "customer was already notified");
                    Ok(())
                }
                Ok(Claim::InProgress) => Err(RecordError::Transient(
                    "another delivery is sending this notification".into(),
                )),
                Err(ClaimError::PayloadMismatch) => Err(RecordError::Permanent(format!(
                    "idempotency key {} reused",
                    w.key
                ))),
                Err(ClaimError::Store(e)) => Err(RecordError::transient(e)),
            };
            set(answers, w.slot, answer);
        }
        held
    }

    /// Publishes the held notifications at once; returns `(key, message id)` of each sent and
    /// the key of each that failed (to release, so its retry can claim it at once). A failure
    /// may hide a publish SNS took (its answer lost): the retry then publishes again, with the
    /// same id and content.
    async fn send(
        &self,
        held: Vec<Wanted>,
        answers: &mut [Answer],
    ) -> (Vec<(String, String)>, Vec<String>) {
        let notifications: Vec<Notification> =
            held.iter().map(|w| w.notification.clone()).collect();
        let sent = self.notifier.notify_many(&notifications).await;
        let (mut done, mut unsent) = (Vec::new(), Vec::new());
        for (w, outcome) in held.into_iter().zip(sent) {
            match outcome {
                Ok(message_id) => {
                    metrics::notification_sent(outcome_of(w.notification.kind));
                    metrics::stage_latency("notify", w.placed_at);
                    info!(order_id = %w.notification.order_id, kind = w.notification.kind.as_str(), sns_message_id = %message_id, "customer notified");
                    done.push((w.key, message_id));
                }
                Err(e) => {
                    set(answers, w.slot, Err(RecordError::transient(e)));
                    unsent.push(w.key);
                }
            }
        }
        (done, unsent)
    }
}

type Answer = Result<(), RecordError>;

/// A notification one envelope asks for, its key, and the envelope's answer slot.
struct Wanted {
    slot: usize,
    notification: Notification,
    key: String,
    /// The order's placed time, for the stage latency.
    placed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The `Outcome` of `NotificationsSent`: the order's end.
fn outcome_of(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::OrderConfirmed => "confirmed",
        NotificationKind::OrderRejected => "rejected",
        NotificationKind::OrderCancelled => "cancelled",
    }
}

/// One answer per envelope (a failure for the ones that tell nothing), and what the others
/// want told.
fn wanted(envelopes: &[Envelope]) -> (Vec<Answer>, Vec<Wanted>) {
    let mut answers = Vec::with_capacity(envelopes.len());
    let mut wanted = Vec::new();
    for envelope in envelopes {
        match render(&envelope.event) {
            Some(notification) => {
                let key = format!(
                    "notify#{}#{}",
                    notification.order_id,
                    notification.kind.as_str()
                );
                wanted.push(Wanted {
                    slot: answers.len(),
                    notification,
                    key,
                    placed_at: envelope.metadata.placed_at,
                });
                answers.push(Ok(()));
            }
            None => answers.push(Err(RecordError::Permanent(format!(
                "send-notification does not handle {}; check the notification rule's event pattern",
                envelope.metadata.event_type
            )))),
        }
    }
    (answers, wanted)
}

fn set(answers: &mut [Answer], slot: usize, answer: Answer) {
    if let Some(a) = answers.get_mut(slot) {
        *a = answer;
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
            keys: MemoryStore::new(),
            notifier: MemoryNotifier::new(),
            policy: Policy::new(Duration::seconds(30), Duration::days(7)),
            runner: BatchRunner::default(),
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
        assert!(sent[0].text.contains("51.98 EUR"), "{}", sent[0].text);
    }

    #[tokio::test]
    async fn a_rejection_tells_the_customer_nothing_was_charged() {
        let f = function();
        f.handle_batch(fixture("sqs-inventory-rejected.json")).await;
        let sent = f.notifier.sent();
        assert_eq!(sent[0].kind, NotificationKind::OrderRejected);
        assert!(sent[0].text.contains("out of stock"), "{}", sent[0].text);
        assert!(
            sent[0].text.contains("Nothing was charged"),
            "{}",
            sent[0].text
        );
    }

    /// The event of the fixture, parsed.
    fn event_of(name: &str) -> DomainEvent {
        let body = fixture(name).records[0].body.clone().unwrap();
        orderflow_shared::events::envelope_from_eventbridge_json(&body)
            .unwrap()
            .event
    }

    #[test]
    fn a_rejection_published_again_with_other_stock_renders_the_same_notification() {
        let first = event_of("sqs-inventory-rejected.json");
        let DomainEvent::InventoryRejected(rejected) = first.clone() else {
            panic!("the fixture is an InventoryRejected");
        };
        // A redelivered OrderPlaced re-publishes the rejection from the stock of its moment:
        // a few units came back, or enough for the order to have no shortage left.
        let mut some_back = rejected.clone();
        some_back.shortages[0].available = 3;
        let mut none_short = rejected;
        none_short.shortages.clear();
        for again in [some_back, none_short] {
            let again = DomainEvent::InventoryRejected(again);
            assert_ne!(first, again);
            assert_eq!(render(&first), render(&again));
        }
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
    async fn a_batch_is_told_together_and_a_duplicate_inside_it_waits_for_the_first() {
        let f = function();
        let mut batch = fixture("sqs-payment-succeeded.json");
        let rejected = fixture("sqs-inventory-rejected.json").records.remove(0);
        let mut duplicate = batch.records[0].clone();
        duplicate.message_id = Some("dup-1".into());
        batch.records.push(rejected);
        batch.records.push(duplicate.clone());

        let response = f.handle_batch(batch).await;

        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|x| x.item_identifier.as_str())
            .collect();
        assert_eq!(
            failed,
            ["dup-1"],
            "claimed by the first copy in the same batch"
        );
        let kinds: Vec<_> = f.notifier.sent().iter().map(|n| n.kind).collect();
        assert_eq!(
            kinds,
            [
                NotificationKind::OrderConfirmed,
                NotificationKind::OrderRejected
            ]
        );
        let mut again = fixture("sqs-payment-succeeded.json");
        again.records = vec![duplicate];
        let retry = f.handle_batch(again).await;
        assert!(retry.batch_item_failures.is_empty());
        assert_eq!(f.notifier.sent().len(), 2, "the duplicate was already told");
    }

    #[tokio::test]
    async fn events_that_tell_the_customer_nothing_fail_their_record() {
        let f = function();
        let response = f.handle_batch(fixture("sqs-inventory-reserved.json")).await;
        assert_eq!(response.batch_item_failures.len(), 1);
        assert!(f.notifier.sent().is_empty());
    }
}
