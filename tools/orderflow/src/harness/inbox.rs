//! The customer inbox: the queue the local cloud subscribes to the customer notifications
//! topic, so a run can read what every customer was told.

use orderflow_shared::adapters::sqs::Queues;
use serde_json::Value;

/// The topic whose inbox holds the customer notifications.
pub const CUSTOMER_TOPIC: &str = "CustomerNotificationsTopic";

#[derive(Debug, thiserror::Error)]
#[error("customer inbox {url}: {message}")]
pub struct InboxError {
    pub url: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Inbox {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl Inbox {
    pub fn new(sqs: aws_sdk_sqs::Client, url: &str) -> Inbox {
        Inbox {
            sqs,
            url: url.to_owned(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Receives and deletes every notification waiting (each receive waits up to
    /// `wait_seconds` for one), appending them to `out` as it goes: on an error, `out` keeps
    /// what was consumed before it.
    pub async fn drain_into(
        &self,
        out: &mut Vec<Value>,
        wait_seconds: i32,
    ) -> Result<(), InboxError> {
        let mut delivered = Vec::new();
        let result = self
            .drain_deliveries_into(&mut delivered, wait_seconds)
            .await;
        out.extend(delivered.into_iter().map(|d| d.notification));
        result
    }

    /// [`Inbox::drain_into`], keeping each notification's `notificationId` attribute.
    pub async fn drain_deliveries_into(
        &self,
        out: &mut Vec<Delivery>,
        wait_seconds: i32,
    ) -> Result<(), InboxError> {
        loop {
            let batch = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(wait_seconds)
                .message_attribute_names(NOTIFICATION_ID)
                .send()
                .await
                .map_err(|e| self.error("ReceiveMessage", e))?;
            if batch.messages().is_empty() {
                return Ok(());
            }
            let mut received = Vec::new();
            for m in batch.messages() {
                let raw_id = m
                    .message_attributes()
                    .and_then(|a| a.get(NOTIFICATION_ID))
                    .and_then(|v| v.string_value());
                out.push(delivery(m.body().unwrap_or("null"), raw_id));
                if let (Some(id), Some(handle)) = (m.message_id(), m.receipt_handle()) {
                    received.push((id.to_owned(), handle.to_owned()));
                }
            }
            // One call for the batch: a busy inbox holds thousands of notifications.
            let not_deleted = Queues::new(self.sqs.clone())
                .delete_batch(&self.url, &received)
                .await
                .map_err(|e| InboxError {
                    url: self.url.clone(),
                    message: e.to_string(),
                })?;
            if !not_deleted.is_empty() {
                return Err(InboxError {
                    url: self.url.clone(),
                    message: format!("DeleteMessageBatch refused {}", not_deleted.join(", ")),
                });
            }
        }
    }

    /// [`Inbox::drain_into`] a new list.
    pub async fn drain(&self, wait_seconds: i32) -> Result<Vec<Value>, InboxError> {
        let mut out = Vec::new();
        self.drain_into(&mut out, wait_seconds).await?;
        Ok(out)
    }

    fn error<E: std::error::Error + 'static, R: std::fmt::Debug>(
        &self,
        call: &str,
        e: aws_sdk_sqs::error::SdkError<E, R>,
    ) -> InboxError {
        InboxError {
            url: self.url.clone(),
            message: format!("{call}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)),
        }
    }
}

/// The SNS message attribute that names a notification (`<orderId>:<kind>`).
pub const NOTIFICATION_ID: &str = "notificationId";

/// One message of the inbox: the notification and the `notificationId` it was published with.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub notification: Value,
    pub notification_id: Option<String>,
}

/// Reads an inbox message: with raw delivery the body is the notification and its attributes
/// are the SQS message's (`raw_id`); otherwise both are inside SNS's envelope.
pub fn delivery(body: &str, raw_id: Option<&str>) -> Delivery {
    let enveloped_id = serde_json::from_str::<Value>(body).ok().and_then(|b| {
        b.pointer(&format!("/MessageAttributes/{NOTIFICATION_ID}/Value"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    Delivery {
        notification: notification(body),
        notification_id: raw_id.map(str::to_owned).or(enveloped_id),
    }
}

/// The notification in an inbox message: raw delivery gives it as is; otherwise it is inside
/// SNS's envelope (`Message`).
pub fn notification(body: &str) -> Value {
    let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    match body.get("Message").and_then(Value::as_str) {
        Some(inner) => serde_json::from_str(inner).unwrap_or(Value::Null),
        None => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_notification_is_read_as_is_and_an_enveloped_one_is_unwrapped() {
        let raw = r#"{"orderId":"o-1","kind":"OrderConfirmed"}"#;
        assert_eq!(notification(raw)["orderId"], "o-1");
        let enveloped = serde_json::json!({"Type": "Notification", "Message": raw}).to_string();
        assert_eq!(notification(&enveloped)["kind"], "OrderConfirmed");
        assert_eq!(notification("not json"), Value::Null);
    }

    #[test]
    fn the_notification_id_comes_from_the_sqs_attribute_or_from_the_sns_envelope() {
        let raw = r#"{"orderId":"o-1","kind":"OrderConfirmed"}"#;
        assert_eq!(
            delivery(raw, Some("o-1:OrderConfirmed"))
                .notification_id
                .as_deref(),
            Some("o-1:OrderConfirmed")
        );
        assert_eq!(delivery(raw, None).notification_id, None);
        let enveloped = serde_json::json!({
            "Type": "Notification", "Message": raw,
            "MessageAttributes": {"notificationId": {"Type": "String", "Value": "o-1:OrderConfirmed"}}
        })
        .to_string();
        let d = delivery(&enveloped, None);
        assert_eq!(d.notification_id.as_deref(), Some("o-1:OrderConfirmed"));
        assert_eq!(d.notification["orderId"], "o-1");
    }
}
