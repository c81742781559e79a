//! Tells the customer through the customer-notifications SNS topic: one publish, fanned out to
//! every channel subscribed; the message attributes `kind` and `channel` let subscriptions filter.

use async_trait::async_trait;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;

use crate::events::Notification;
use crate::ports::{Notifier, NotifyError};

/// The SNS API reference: subjects must be "less than 100 characters long".
pub const MAX_SUBJECT_CHARS: usize = 99;
/// The channel this notifier's messages are meant for (a subscription filter key).
pub const CHANNEL: &str = "email";

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

#[async_trait]
impl Notifier for SnsNotifier {
    async fn notify(&self, notification: &Notification) -> Result<String, NotifyError> {
        let message = serde_json::to_string(notification).map_err(|e| {
            NotifyError::Unavailable(format!("notification cannot be serialised: {e}"))
        })?;
        let out = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .set_subject(sns_subject(&notification.subject))
            .message(message)
            .message_attributes("kind", string_attribute(notification.kind.as_str())?)
            .message_attributes("channel", string_attribute(CHANNEL)?)
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
    fn a_subject_loses_line_breaks_and_an_empty_one_is_left_out() {
        assert_eq!(
            sns_subject("  Order\r\nconfirmed\t ").as_deref(),
            Some("Order  confirmed")
        );
        assert_eq!(sns_subject(" \n "), None);
        assert_eq!(sns_subject(""), None);
    }
}
