//! A small SQS client for the parts of Lambda the local cloud plays (the event source mapping)
//! and for the DLQ tooling: receive, delete in batches, change visibility, send, inspect.

use std::collections::HashMap;

use aws_sdk_sqs::error::{DisplayErrorContext, SdkError};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageAttributeValue, MessageSystemAttributeName,
    QueueAttributeName,
};
use aws_sdk_sqs::Client;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// SQS batch calls take at most this many entries.
pub const MAX_BATCH: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("queue {0} does not exist")]
    NotFound(String),
    #[error("SQS unavailable, retry later: {0}")]
    Unavailable(String),
    #[error("SQS answered something unexpected: {0}")]
    Unexpected(String),
}

fn unavailable<E, R>(op: &str, err: SdkError<E, R>) -> QueueError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    QueueError::Unavailable(format!("SQS {op}: {}", DisplayErrorContext(&err)))
}

/// How to receive: like an event source mapping's `BatchSize` and long poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveOptions {
    /// 1 to 10.
    pub max_messages: i32,
    /// Long-poll wait, 0 to 20 seconds.
    pub wait_seconds: i32,
    /// Overrides the queue's visibility timeout for these messages, when set.
    pub visibility_timeout: Option<i32>,
}

impl Default for ReceiveOptions {
    fn default() -> Self {
        ReceiveOptions {
            max_messages: 10,
            wait_seconds: 20,
            visibility_timeout: None,
        }
    }
}

/// One received message, with what a Lambda SQS event record carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub md5_of_body: Option<String>,
    /// How often the message has been received, this time included.
    pub receive_count: u32,
    pub sent_at: Option<DateTime<Utc>>,
    /// Every system attribute SQS returned (`ApproximateReceiveCount`, `SentTimestamp`, ...).
    pub system_attributes: HashMap<String, String>,
    /// String (and Number) message attributes; binary ones are left out.
    pub attributes: HashMap<String, String>,
}

/// A queue's redrive policy: where poison messages go, after how many receives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: String,
    #[serde(deserialize_with = "number_or_string")]
    pub max_receive_count: u32,
}

/// AWS writes `maxReceiveCount` as a number or as a string, depending on who set it.
fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(u32),
        S(String),
    }
    match Raw::deserialize(d)? {
        Raw::N(n) => Ok(n),
        Raw::S(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

impl RedrivePolicy {
    pub fn parse(json: &str) -> Result<RedrivePolicy, QueueError> {
        serde_json::from_str(json)
            .map_err(|e| QueueError::Unexpected(format!("RedrivePolicy {json:?}: {e}")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueAttributes {
    pub arn: Option<String>,
    pub redrive_policy: Option<RedrivePolicy>,
    /// Messages available for receipt.
    pub approximate_messages: u64,
    /// Messages received and not yet deleted or returned (in flight).
    pub approximate_messages_not_visible: u64,
    pub visibility_timeout_seconds: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Queues {
    client: Client,
}

impl Queues {
    pub fn new(client: Client) -> Self {
        Queues { client }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn queue_url(&self, name: &str) -> Result<String, QueueError> {
        let out = self
            .client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s) if s.is_queue_does_not_exist() => QueueError::NotFound(name.to_owned()),
                _ => unavailable("GetQueueUrl", e),
            })?;
        out.queue_url
            .ok_or_else(|| QueueError::Unexpected(format!("GetQueueUrl({name}) gave no URL")))
    }

    pub async fn receive(
        &self,
        queue_url: &str,
        options: ReceiveOptions,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(options.max_messages)
            .wait_time_seconds(options.wait_seconds)
            .set_visibility_timeout(options.visibility_timeout)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| unavailable("ReceiveMessage", e))?;
        out.messages
            .unwrap_or_default()
            .into_iter()
            .map(received)
            .collect()
    }

    /// Deletes `(message id, receipt handle)` pairs, ten per call; returns the ids not deleted.
    pub async fn delete_batch(
        &self,
        queue_url: &str,
        messages: &[(String, String)],
    ) -> Result<Vec<String>, QueueError> {
        let mut failed = Vec::new();
        for chunk in messages.chunks(MAX_BATCH) {
            // Batch entry ids must be unique and short: use the position, map back after.
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, (_, receipt))| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .build()
                        .map_err(|e| QueueError::Unexpected(format!("delete entry: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| unavailable("DeleteMessageBatch", e))?;
            let deleted: Vec<usize> = out
                .successful()
                .iter()
                .filter_map(|s| s.id().parse().ok())
                .collect();
            for (i, (message_id, _)) in chunk.iter().enumerate() {
                if !deleted.contains(&i) {
                    failed.push(message_id.clone());
                }
            }
        }
        Ok(failed)
    }

    pub async fn change_visibility(
        &self,
        queue_url: &str,
        receipt_handle: &str,
        timeout_seconds: i32,
    ) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(timeout_seconds)
            .send()
            .await
            .map_err(|e| unavailable("ChangeMessageVisibility", e))?;
        Ok(())
    }

    /// Sends one message with string attributes; returns its message id.
    pub async fn send(
        &self,
        queue_url: &str,
        body: &str,
        attributes: &[(&str, &str)],
    ) -> Result<String, QueueError> {
        let mut request = self
            .client
            .send_message()
            .queue_url(queue_url)
            .message_body(body);
        for (name, value) in attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(*value)
                .build()
                .map_err(|e| QueueError::Unexpected(format!("message attribute {name}: {e}")))?;
            request = request.message_attributes(*name, value);
        }
        let out = request
            .send()
            .await
            .map_err(|e| unavailable("SendMessage", e))?;
        out.message_id
            .ok_or_else(|| QueueError::Unexpected("SendMessage gave no MessageId".into()))
    }

    pub async fn attributes(&self, queue_url: &str) -> Result<QueueAttributes, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| unavailable("GetQueueAttributes", e))?;
        queue_attributes(&out.attributes.unwrap_or_default())
    }
}

fn queue_attributes(
    attrs: &HashMap<QueueAttributeName, String>,
) -> Result<QueueAttributes, QueueError> {
    let count = |name: QueueAttributeName| -> Result<u64, QueueError> {
        attrs.get(&name).map_or(Ok(0), |v| {
            v.parse()
                .map_err(|_| QueueError::Unexpected(format!("{name}: not a count: {v}")))
        })
    };
    Ok(QueueAttributes {
        arn: attrs.get(&QueueAttributeName::QueueArn).cloned(),
        redrive_policy: attrs
            .get(&QueueAttributeName::RedrivePolicy)
            .filter(|p| !p.trim().is_empty())
            .map(|p| RedrivePolicy::parse(p))
            .transpose()?,
        approximate_messages: count(QueueAttributeName::ApproximateNumberOfMessages)?,
        approximate_messages_not_visible: count(
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        )?,
        visibility_timeout_seconds: attrs
            .get(&QueueAttributeName::VisibilityTimeout)
            .and_then(|v| v.parse().ok()),
    })
}

fn received(message: Message) -> Result<ReceivedMessage, QueueError> {
    let missing = |what: &str| QueueError::Unexpected(format!("received message without {what}"));
    let system_attributes: HashMap<String, String> = message
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.as_str().to_owned(), v))
        .collect();
    let receive_count = system_attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let sent_at = system_attributes
        .get("SentTimestamp")
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(DateTime::<Utc>::from_timestamp_millis);
    let attributes = message
        .message_attributes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| v.string_value.map(|s| (k, s)))
        .collect();
    Ok(ReceivedMessage {
        message_id: message.message_id.ok_or_else(|| missing("MessageId"))?,
        receipt_handle: message
            .receipt_handle
            .ok_or_else(|| missing("ReceiptHandle"))?,
        body: message.body.unwrap_or_default(),
        md5_of_body: message.md5_of_body,
        receive_count,
        sent_at,
        system_attributes,
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redrive_policy_parses_with_a_numeric_or_string_receive_count() {
        let arn = "arn:aws:sqs:us-east-1:123456789012:orderflow-inventory-dlq";
        for json in [
            format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":5}}"#),
            format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"5"}}"#),
        ] {
            assert_eq!(
                RedrivePolicy::parse(&json).unwrap(),
                RedrivePolicy {
                    dead_letter_target_arn: arn.into(),
                    max_receive_count: 5
                }
            );
        }
        assert!(RedrivePolicy::parse(r#"{"maxReceiveCount":5}"#).is_err());
        assert!(RedrivePolicy::parse("not json").is_err());
    }

    #[test]
    fn queue_attributes_read_counts_and_leave_out_an_absent_redrive_policy() {
        let attrs = HashMap::from([
            (QueueAttributeName::ApproximateNumberOfMessages, "3".into()),
            (
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                "1".into(),
            ),
            (QueueAttributeName::VisibilityTimeout, "180".into()),
        ]);
        let parsed = queue_attributes(&attrs).unwrap();
        assert_eq!(parsed.approximate_messages, 3);
        assert_eq!(parsed.approximate_messages_not_visible, 1);
        assert_eq!(parsed.visibility_timeout_seconds, Some(180));
        assert_eq!(parsed.redrive_policy, None);
        let bad = HashMap::from([(QueueAttributeName::ApproximateNumberOfMessages, "x".into())]);
        assert!(queue_attributes(&bad).is_err());
    }
}
