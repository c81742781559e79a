//! Tells the customer through the customer-notifications SNS topic: one publish, fanned out to
//! every channel subscribed; the message attributes `kind` and `channel` let subscriptions filter,
//! and `notificationId` (`<orderId>:<kind>`) lets a subscriber drop a repeat.
//!
//! Repeats happen: SNS standard topics have no deduplication, and a publish whose response is
//! lost (a timeout, a 5xx, a reset after SNS took it) is sent again by the SDK's retry or by the
//! record's redelivery — a *redundant publish*, the same id with the same content. Without the
//! SDK retry the record would fail and its redelivery would publish again all the same, only a
//! visibility timeout later, so the retry stays on. A FIFO topic would drop a repeat of one
//! deduplication id, but only within five minutes and only for SQS subscribers (no e-mail, SMS
//! or HTTP endpoints: SNS Developer Guide, "Message delivery for FIFO topics"); the customer's
//! channels are those, so the id travels to them instead.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::operation::publish_batch::PublishBatchOutput;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use aws_sdk_sns::Client;

use crate::events::Notification;
use crate::ports::{Notifier, NotifyError};

/// The SNS API reference: subjects must be "less than 100 characters long".
pub const MAX_SUBJECT_CHARS: usize = 99;
/// The channel this notifier's messages are meant for (a subscription filter key).
pub const CHANNEL: &str = "email";
/// The message attribute carrying [`Notification::id`].
pub const NOTIFICATION_ID: &str = "notificationId";

#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        SnsNotifier {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

/// A subject SNS accepts: no line breaks or control characters, fewer than 100 characters (cut
/// on a character boundary), and none at all when nothing printable is left.
pub fn sns_subject(subject: &str) -> Option<String> {
    let cleaned: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cut: String = cleaned.trim().chars().take(MAX_SUBJECT_CHARS).collect();
    let cut = cut.trim_end().to_owned();
    (!cut.is_empty()).then_some(cut)
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, NotifyError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| NotifyError::Unavailable(format!("invalid SNS message attribute: {e}")))
}

/// The message attributes of a notification, the same in `Publish` and `PublishBatch`.
fn attributes_of(
    notification: &Notification,
) -> Result<HashMap<String, MessageAttributeValue>, NotifyError> {
    Ok(HashMap::from([
        (
            "kind".to_owned(),
            string_attribute(notification.kind.as_str())?,
        ),
        ("channel".to_owned(), string_attribute(CHANNEL)?),
        (
            NOTIFICATION_ID.to_owned(),
            string_attribute(&notification.id())?,
        ),
    ]))
}

/// SNS's limit on the entries of one `PublishBatch`.
pub const MAX_BATCH_ENTRIES: usize = 10;

fn message_of(notification: &Notification) -> Result<String, NotifyError> {
    serde_json::to_string(notification)
        .map_err(|e| NotifyError::Unavailable(format!("notification cannot be serialised: {e}")))
}

impl SnsNotifier {
    /// One `PublishBatch` of at most ten; one answer per notification, in order.
    async fn publish_batch(&self, chunk: &[Notification]) -> Vec<Result<String, NotifyError>> {
        let entries = match chunk.iter().enumerate().map(batch_entry).collect() {
            Ok(entries) => entries,
            // Only a bug gets here; the whole chunk is retried one by one.
            Err(e) => return chunk.iter().map(|_| Err(e.clone())).collect(),
        };
        let out = match self
            .client
            .publish_batch()
            .topic_arn(&self.topic_arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let reason = format!(
                    "SNS PublishBatch to {}: {}",
                    self.topic_arn,
                    DisplayErrorContext(&e)
                );
                return chunk
                    .iter()
                    .map(|_| Err(NotifyError::Unavailable(reason.clone())))
                    .collect();
            }
        };
        answers_of(chunk.len(), &out)
    }
}

/// The batch entry of the `i`th notification (its id is `i`, to match the answers back).
fn batch_entry(
    (i, notification): (usize, &Notification),
) -> Result<PublishBatchRequestEntry, NotifyError> {
    PublishBatchRequestEntry::builder()
        .id(i.to_string())
        .set_subject(sns_subject(&notification.subject))
        .message(message_of(notification)?)
        .set_message_attributes(Some(attributes_of(notification)?))
        .build()
        .map_err(|e| NotifyError::Unavailable(format!("invalid SNS batch entry: {e}")))
}

/// One answer per entry of a batch of `count`, from what SNS said of each (an entry it did
/// not mention failed).
fn answers_of(count: usize, out: &PublishBatchOutput) -> Vec<Result<String, NotifyError>> {
    let mut answers: Vec<Result<String, NotifyError>> = (0..count)
        .map(|_| {
            Err(NotifyError::Unavailable(
                "SNS PublishBatch did not answer for this entry".into(),
            ))
        })
        .collect();
    for ok in out.successful() {
        let Some(slot) = ok.id().and_then(|id| id.parse::<usize>().ok()) else {
            continue;
        };
        if let (Some(answer), Some(message_id)) = (answers.get_mut(slot), ok.message_id()) {
            *answer = Ok(message_id.to_owned());
        }
    }
    for failed in out.failed() {
        if let Some(answer) = failed
            .id()
            .parse::<usize>()
            .ok()
            .and_then(|slot| answers.get_mut(slot))
        {
            *answer = Err(NotifyError::Unavailable(format!(
                "SNS PublishBatch refused the entry: {} {}",
                failed.code(),
                failed.message().unwrap_or_default()
            )));
        }
    }
    answers
}

#[async_trait]
impl Notifier for SnsNotifier {
    /// `PublishBatch` in chunks of ten (one call for a whole SQS batch of notifications).
    async fn notify_many(
        &self,
        notifications: &[Notification],
    ) -> Vec<Result<String, NotifyError>> {
        if let [single] = notifications {
            return vec![self.notify(single).await];
        }
        let mut answers = Vec::with_capacity(notifications.len());
        for chunk in notifications.chunks(MAX_BATCH_ENTRIES) {
            answers.extend(self.publish_batch(chunk).await);
        }
        answers
    }

    async fn notify(&self, notification: &Notification) -> Result<String, NotifyError> {
        let message = message_of(notification)?;
        let out = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .set_subject(sns_subject(&notification.subject))
            .message(message)
            .set_message_attributes(Some(attributes_of(notification)?))
            .send()
            .await
            .map_err(|e| {
                NotifyError::Unavailable(format!(
                    "SNS Publish to {}: {}",
                    self.topic_arn,
                    DisplayErrorContext(&e)
                ))
            })?;
        out.message_id.ok_or_else(|| {
            NotifyError::Unavailable("SNS Publish answered without a MessageId".into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_cut_below_one_hundred_characters_on_a_character_boundary() {
        let long = "é".repeat(150);
        let cut = sns_subject(&long).unwrap();
        assert_eq!(cut.chars().count(), 99);
        assert!(cut.len() > 99, "multi-byte characters are kept whole");
        assert_eq!(
            sns_subject("Your order is confirmed").as_deref(),
            Some("Your order is confirmed")
        );
    }

    #[test]
    fn every_notification_carries_its_kind_channel_and_stable_id() {
        let n = Notification {
            kind: crate::events::NotificationKind::OrderRejected,
            order_id: crate::domain::OrderId::new(),
            email: crate::domain::Email::parse("ana@example.com").unwrap(),
            subject: "s".into(),
            text: "t".into(),
        };
        let attributes = attributes_of(&n).unwrap();
        let value = |k: &str| attributes[k].string_value().unwrap().to_owned();
        assert_eq!(value("kind"), "OrderRejected");
        assert_eq!(value("channel"), CHANNEL);
        assert_eq!(
            value(NOTIFICATION_ID),
            format!("{}:OrderRejected", n.order_id)
        );
        let entry = batch_entry((3, &n)).unwrap();
        assert_eq!(entry.id(), "3", "the entry id stays positional");
        assert_eq!(entry.message_attributes(), Some(&attributes));
    }

    #[test]
    fn a_subject_loses_line_breaks_and_an_empty_one_is_left_out() {
        assert_eq!(
            sns_subject("  Order\r\nconfirmed\t ").as_deref(),
            Some("Order  confirmed")
        );
        assert_eq!(sns_subject(" \n "), None);
        assert_eq!(sns_subject(""), None);
    }
}
