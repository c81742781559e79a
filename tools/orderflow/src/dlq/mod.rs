//! `orderflow dlq list` and `orderflow dlq redrive`: see what failed, and send it back.
//! Works against the local cloud and against AWS with the standard AWS configuration.
//! [`command`] is the subcommand; this module reads queues, lists and moves messages back to
//! their source queues; [`events`] handles the dead-letter queues of EventBridge rule targets,
//! whose messages go back onto their bus.

pub mod command;
pub mod events;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;
use chrono::{TimeZone, Utc};

#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error("SQS {0}")]
    Sqs(String),
    #[error("{0} is not a queue on this endpoint")]
    NoSuchQueue(String),
    #[error(
        "neither a queue nor an EventBridge rule target has {0} as its dead-letter queue, so \
         there is nowhere to redrive to"
    )]
    NoSource(String),
    #[error("EventBridge {0}")]
    EventBridge(String),
    #[error("{0}")]
    Left(String),
}

fn sqs<E: std::error::Error + 'static, R: std::fmt::Debug>(
    op: &str,
    e: aws_sdk_sqs::error::SdkError<E, R>,
) -> DlqError {
    DlqError::Sqs(format!(
        "{op}: {}",
        aws_sdk_sqs::error::DisplayErrorContext(e)
    ))
}

/// A queue with its ARN and, when it has one, its dead-letter queue's ARN.
#[derive(Debug, Clone)]
pub struct QueueInfo {
    pub url: String,
    pub name: String,
    pub arn: String,
    pub dead_letter_arn: Option<String>,
}

pub async fn all_queues(client: &Client) -> Result<Vec<QueueInfo>, DlqError> {
    let urls: Vec<String> = client
        .list_queues()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| sqs("ListQueues", e))?;
    let mut out = Vec::new();
    for url in urls {
        out.push(queue_info(client, &url).await?);
    }
    Ok(out)
}

async fn queue_info(client: &Client, url: &str) -> Result<QueueInfo, DlqError> {
    let attrs = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .map_err(|e| sqs("GetQueueAttributes", e))?;
    let get = |k: QueueAttributeName| attrs.attributes().and_then(|a| a.get(&k).cloned());
    let redrive: Option<serde_json::Value> =
        get(QueueAttributeName::RedrivePolicy).and_then(|p| serde_json::from_str(&p).ok());
    let arn = get(QueueAttributeName::QueueArn).unwrap_or_default();
    Ok(QueueInfo {
        url: url.to_owned(),
        name: arn.rsplit(':').next().unwrap_or(url).to_owned(),
        arn,
        dead_letter_arn: redrive
            .as_ref()
            .and_then(|r| r.get("deadLetterTargetArn"))
            .and_then(|v| v.as_str())
            .map(str::to_owned),
    })
}

/// Finds a queue by name, URL or ARN.
fn find<'a>(queues: &'a [QueueInfo], wanted: &str) -> Option<&'a QueueInfo> {
    queues
        .iter()
        .find(|q| q.name == wanted || q.url == wanted || q.arn == wanted)
        .or_else(|| {
            queues
                .iter()
                .find(|q| q.name.ends_with(&format!("-{wanted}")))
        })
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DlqMessage {
    pub queue: String,
    #[serde(rename = "messageId")]
    pub message_id: String,
    #[serde(rename = "ageSeconds")]
    pub age_seconds: i64,
    #[serde(rename = "receiveCount")]
    pub receive_count: u64,
    pub reason: Option<String>,
    pub body: String,
}

/// Reads every message of the DLQs (the queues' and `event_dlqs`, the ARNs EventBridge rule
/// targets name) or of `only`, without removing it: messages are received with a visibility
/// timeout and made visible again at once.
pub async fn list(
    client: &Client,
    only: Option<&str>,
    event_dlqs: &[String],
    reasons: &HashMap<String, String>,
) -> Result<Vec<DlqMessage>, DlqError> {
    let queues = all_queues(client).await?;
    let dlq_arns: Vec<&str> = queues
        .iter()
        .filter_map(|q| q.dead_letter_arn.as_deref())
        .chain(event_dlqs.iter().map(String::as_str))
        .collect();
    let targets: Vec<&QueueInfo> = match only {
        Some(name) => {
            vec![find(&queues, name).ok_or_else(|| DlqError::NoSuchQueue(name.to_owned()))?]
        }
        None => queues
            .iter()
            .filter(|q| dlq_arns.contains(&q.arn.as_str()))
            .collect(),
    };
    let mut out = Vec::new();
    for q in targets {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for _ in 0..100 {
            let batch = client
                .receive_message()
                .queue_url(&q.url)
                .max_number_of_messages(10)
                .visibility_timeout(30)
                .wait_time_seconds(0)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .map_err(|e| sqs("ReceiveMessage", e))?;
            let messages = batch.messages();
            if messages.is_empty() {
                break;
            }
            for m in messages {
                let id = m.message_id().unwrap_or_default().to_owned();
                if let Some(handle) = m.receipt_handle() {
                    seen.insert(id.clone(), handle.to_owned());
                }
                let attr =
                    |k: MessageSystemAttributeName| m.attributes().and_then(|a| a.get(&k).cloned());
                let sent_ms: i64 = attr(MessageSystemAttributeName::SentTimestamp)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let age = Utc
                    .timestamp_millis_opt(sent_ms)
                    .single()
                    .map_or(0, |t| (Utc::now() - t).num_seconds());
                let attribute = |k: &str| {
                    m.message_attributes()
                        .and_then(|a| a.get(k))
                        .and_then(|v| v.string_value())
                        .map(str::to_owned)
                };
                // EventBridge says why it could not deliver in ERROR_CODE and ERROR_MESSAGE.
                let attribute_reason = attribute("failureReason").or_else(|| {
                    attribute("ERROR_CODE").map(|code| {
                        format!(
                            "EventBridge {code}: {}",
                            attribute("ERROR_MESSAGE").unwrap_or_default()
                        )
                    })
                });
                out.push(DlqMessage {
                    queue: q.name.clone(),
                    message_id: id.clone(),
                    age_seconds: age,
                    receive_count: attr(MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0),
                    reason: attribute_reason.or_else(|| reasons.get(&id).cloned()),
                    body: m.body().unwrap_or_default().to_owned(),
                });
            }
        }
        // Put them back on view straight away.
        for handle in seen.values() {
            let _ = client
                .change_message_visibility()
                .queue_url(&q.url)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await;
        }
    }
    Ok(out)
}

/// Moves every message of a DLQ back to the queue that feeds it. Uses the SQS message-move task
/// where the endpoint supports it, else receives, sends and deletes (send first: a crash in
/// between duplicates a message rather than losing it, and the handlers absorb duplicates).
pub async fn redrive(client: &Client, dlq: &str) -> Result<(String, u64), DlqError> {
    let queues = all_queues(client).await?;
    let dead = find(&queues, dlq).ok_or_else(|| DlqError::NoSuchQueue(dlq.to_owned()))?;
    let source = queues
        .iter()
        .find(|q| q.dead_letter_arn.as_deref() == Some(dead.arn.as_str()))
        .ok_or_else(|| DlqError::NoSource(dead.name.clone()))?;
    if let Ok(task) = client
        .start_message_move_task()
        .source_arn(&dead.arn)
        .destination_arn(&source.arn)
        .send()
        .await
    {
        let _ = task;
        // The task runs on the service side; report what was waiting when it started.
        let waiting = approximate_count(client, &dead.url).await.unwrap_or(0);
        return Ok((source.name.clone(), waiting));
    }
    let mut moved = 0u64;
    loop {
        let batch = client
            .receive_message()
            .queue_url(&dead.url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| sqs("ReceiveMessage", e))?;
        if batch.messages().is_empty() {
            break;
        }
        for m in batch.messages() {
            let mut send = client
                .send_message()
                .queue_url(&source.url)
                .message_body(m.body().unwrap_or_default());
            for (k, v) in m.message_attributes().cloned().unwrap_or_default() {
                if let Ok(value) = MessageAttributeValue::builder()
                    .data_type(v.data_type())
                    .set_string_value(v.string_value().map(str::to_owned))
                    .set_binary_value(v.binary_value().cloned())
                    .build()
                {
                    send = send.message_attributes(k, value);
                }
            }
            send.send().await.map_err(|e| sqs("SendMessage", e))?;
            if let Some(handle) = m.receipt_handle() {
                client
                    .delete_message()
                    .queue_url(&dead.url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| sqs("DeleteMessage", e))?;
            }
            moved += 1;
        }
    }
    Ok((source.name.clone(), moved))
}

/// Messages in every dead-letter queue (the queues some redrive policy names), approximately;
/// `None` when SQS cannot be read (the live summary of `local up`).
pub async fn depth(client: &Client) -> Option<u64> {
    let queues = all_queues(client).await.ok()?;
    let mut total = 0;
    for dead in queues.iter().filter(|q| {
        queues
            .iter()
            .any(|s| s.dead_letter_arn.as_deref() == Some(&q.arn))
    }) {
        total += approximate_count(client, &dead.url).await?;
    }
    Some(total)
}

async fn approximate_count(client: &Client, url: &str) -> Option<u64> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .ok()?;
    out.attributes()?
        .get(&QueueAttributeName::ApproximateNumberOfMessages)?
        .parse()
        .ok()
}
