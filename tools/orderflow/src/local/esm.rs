//! The SQS event source mapping, played the way Lambda plays it: long-poll the queue, gather up
//! to `BatchSize` messages within `MaximumBatchingWindowInSeconds`, invoke the function with an
//! SQS event, then delete only the successes. With `ReportBatchItemFailures` the function names
//! the failures; a function error (or a response that cannot be read) fails the whole batch.
//! Failures are left to the queue's visibility timeout, so its redrive policy moves a message
//! that keeps failing to the DLQ after `maxReceiveCount` receives.
//!
//! Concurrency as Lambda's: a mapping keeps [`BATCHES_IN_FLIGHT`] batches in flight (one
//! poller each), and a poller takes one of the function's process slots before it receives, so
//! the pollers never invoke more at once than there are processes and no received batch waits
//! for a process while its visibility timeout runs.

use std::collections::HashMap;
use std::time::Duration;

use std::sync::Arc;

use aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry;
use axum::body::Bytes;
use orderflow_shared::adapters::sqs::{Queues, ReceiveOptions, ReceivedMessage};
use orderflow_shared::faults::Fault;
use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};

use super::logs::LogSink;
use super::messages::INJECTED_DUPLICATE_DELIVERY;
use super::runtime::FunctionHandle;
use super::FaultSwitch;
use crate::trace::record::{DeliveryOutcome, TraceRecord};

/// Batches an SQS event source mapping has in flight at once: "When messages are available,
/// Lambda starts processing five batches at a time with five concurrent invocations of your
/// function" (AWS Lambda Developer Guide, "Configuring scaling behavior for SQS event source
/// mappings"). Lambda scales up from there under a backlog; the local cloud stays at its start.
pub const BATCHES_IN_FLIGHT: usize = 5;

#[derive(Debug, Clone)]
pub struct Mapping {
    pub queue_url: String,
    pub queue_arn: String,
    pub batch_size: usize,
    pub batching_window: Duration,
    pub report_batch_item_failures: bool,
    /// Overrides the queue's visibility timeout (local speed-up for tests), when set.
    pub visibility_timeout: Option<i32>,
    /// With the timeout overridden: how long a batch whose invocation failed (a crash, a
    /// timeout) stays hidden, so it comes back after the locks its dead process held.
    pub after_failed_invocation: Option<i32>,
    pub region: String,
    /// `duplicate=N`: leave N per mille of processed messages undeleted, so SQS delivers them again.
    pub faults: FaultSwitch,
    /// The function's processes, shared by all its pollers: one permit per invocation in flight.
    pub slots: Arc<Semaphore>,
}

/// What one batch came to: for the logs and the tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    pub received: usize,
    pub deleted: usize,
    pub failed: Vec<String>,
}

/// The Lambda SQS event for a batch of received messages.
pub fn sqs_event(messages: &[ReceivedMessage], mapping: &Mapping) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: HashMap<&str, &str> = m
                .system_attributes
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let message_attributes: serde_json::Map<String, Value> = m
                .attributes
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        json!({"stringValue": v, "stringListValues": [], "binaryListValues": [], "dataType": "String"}),
                    )
                })
                .collect();
            json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": m.md5_of_body.clone().unwrap_or_default(),
                "eventSource": "aws:sqs",
                "eventSourceARN": mapping.queue_arn,
                "awsRegion": mapping.region,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The message ids a function reported as failed, or `None` when the response is not a valid
/// batch response (which fails the whole batch, as in Lambda).
pub fn reported_failures(response: &[u8], batch: &[ReceivedMessage]) -> Option<Vec<String>> {
    let v: Value = serde_json::from_slice(response).ok()?;
    let Some(items) = v.get("batchItemFailures") else {
        // A response without the list means every record succeeded.
        return v.is_object().then(Vec::new);
    };
    if items.is_null() {
        return Some(Vec::new());
    }
    let mut failed = Vec::new();
    for item in items.as_array()? {
        let id = item.get("itemIdentifier")?.as_str()?;
        // An empty or unknown identifier fails the whole batch in Lambda.
        if !batch.iter().any(|m| m.message_id == id) {
            return None;
        }
        failed.push(id.to_owned());
    }
    Some(failed)
}

pub async fn run(
    function: FunctionHandle,
    queues: Queues,
    mapping: Mapping,
    logs: LogSink,
    mut shutdown: watch::Receiver<bool>,
) {
    let who = format!("esm:{}", function.name);
    loop {
        if *shutdown.borrow() {
            return;
        }
        // A process for the batch first, then the batch: received messages never wait.
        let slot = tokio::select! {
            slot = mapping.slots.clone().acquire_owned() => slot,
            _ = super::stopped(&mut shutdown) => return,
        };
        let Ok(_slot) = slot else {
            return;
        };
        let batch = tokio::select! {
            b = gather(&queues, &mapping) => b,
            _ = super::stopped(&mut shutdown) => return,
        };
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                logs.line(&who, &format!("receive failed: {e}; retrying"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if batch.is_empty() {
            continue;
        }
        let outcome = deliver(&function, &queues, &mapping, &logs, &who, batch).await;
        if !outcome.failed.is_empty() {
            logs.line(
                &who,
                &format!(
                    "{} of {} message(s) failed and stay on the queue for a retry: {}",
                    outcome.failed.len(),
                    outcome.received,
                    outcome.failed.join(", ")
                ),
            );
        }
    }
}

/// Runs `invocation`, keeping the batch hidden while it runs when the visibility timeout is
/// overridden. On AWS the template makes the queue's visibility timeout at least six times the
/// function's timeout, so no message of a running batch comes back before its answer; a
/// shortened timeout (the local speed-up for retries) would let a slow invocation's messages be
/// received again and burn receives toward the DLQ. So the override shortens only the wait after
/// a failure: every half timeout the batch's visibility is set to the timeout again, and a failed
/// record comes back at most one timeout after its answer.
async fn hidden_while<F: std::future::Future>(
    queues: &Queues,
    mapping: &Mapping,
    batch: &[ReceivedMessage],
    invocation: F,
) -> F::Output {
    let Some(seconds) = mapping.visibility_timeout.filter(|s| *s > 0) else {
        return invocation.await;
    };
    // Renewed beside the invocation, never in its way: its answer is acted on the moment it comes.
    let renewing = tokio::spawn(keep_hidden(
        queues.clone(),
        mapping.queue_url.clone(),
        batch.iter().map(|m| m.receipt_handle.clone()).collect(),
        seconds,
    ));
    let answer = invocation.await;
    renewing.abort();
    answer
}

/// Every half of `seconds`, sets the visibility of the batch's messages to `seconds` again. A
/// failed renewal only lets a message come back early: at-least-once.
async fn keep_hidden(queues: Queues, queue_url: String, handles: Vec<String>, seconds: i32) {
    let period = Duration::from_millis(u64::try_from(seconds).unwrap_or(1) * 500);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        ticks.tick().await;
        hide(&queues, &queue_url, &handles, seconds).await;
    }
}

/// Sets the visibility of a batch's messages to `seconds` from now, with one call per batch (ten
/// entries at most, as a batch is); a failed call is let go (the message comes back sooner).
async fn hide(queues: &Queues, queue_url: &str, handles: &[String], seconds: i32) {
    let entries = handles.iter().enumerate().filter_map(|(i, handle)| {
        ChangeMessageVisibilityBatchRequestEntry::builder()
            .id(i.to_string())
            .receipt_handle(handle)
            .visibility_timeout(seconds)
            .build()
            .ok()
    });
    let _ = queues
        .client()
        .change_message_visibility_batch()
        .queue_url(queue_url)
        .set_entries(Some(entries.collect()))
        .send()
        .await;
}

/// Long-polls until at least one message arrives, then keeps receiving until the batch is full
/// or the batching window has passed.
async fn gather(queues: &Queues, mapping: &Mapping) -> Result<Vec<ReceivedMessage>, String> {
    let max = mapping.batch_size.clamp(1, 10);
    let first = queues
        .receive(
            &mapping.queue_url,
            ReceiveOptions {
                max_messages: i32::try_from(max).unwrap_or(10),
                wait_seconds: 2,
                visibility_timeout: mapping.visibility_timeout,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut batch = first;
    if batch.is_empty() || mapping.batching_window.is_zero() {
        return Ok(batch);
    }
    let until = tokio::time::Instant::now() + mapping.batching_window;
    while batch.len() < max && tokio::time::Instant::now() < until {
        let more = queues
            .receive(
                &mapping.queue_url,
                ReceiveOptions {
                    max_messages: i32::try_from(max - batch.len()).unwrap_or(1),
                    wait_seconds: 0,
                    visibility_timeout: mapping.visibility_timeout,
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        if more.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        batch.extend(more);
    }
    Ok(batch)
}

pub async fn deliver(
    function: &FunctionHandle,
    queues: &Queues,
    mapping: &Mapping,
    logs: &LogSink,
    who: &str,
    batch: Vec<ReceivedMessage>,
) -> BatchOutcome {
    let event = sqs_event(&batch, mapping);
    let payload = Bytes::from(event.to_string());
    let at = chrono::Utc::now();
    let started = tokio::time::Instant::now();
    let mut batch_reason = None;
    let answer = hidden_while(queues, mapping, &batch, function.invoke(payload)).await;
    let failed: Vec<String> = match answer {
        Ok(response) if mapping.report_batch_item_failures => {
            match reported_failures(&response, &batch) {
                Some(failed) => failed,
                None => {
                    let text = String::from_utf8_lossy(&response).into_owned();
                    batch_reason = Some(format!("invalid batch response: {text}"));
                    for m in &batch {
                        logs.remember(
                            &function.name,
                            &m.message_id,
                            &format!("invalid batch response: {text}"),
                        );
                    }
                    batch.iter().map(|m| m.message_id.clone()).collect()
                }
            }
        }
        Ok(_) => Vec::new(),
        Err(e) => {
            if let Some(seconds) = mapping.after_failed_invocation {
                let handles: Vec<String> = batch.iter().map(|m| m.receipt_handle.clone()).collect();
                hide(queues, &mapping.queue_url, &handles, seconds).await;
            }
            let reason = e.to_string();
            batch_reason = Some(reason.clone());
            for m in &batch {
                logs.remember(&function.name, &m.message_id, &reason);
            }
            logs.line(
                who,
                &format!("invocation failed, the whole batch will be retried: {reason}"),
            );
            batch.iter().map(|m| m.message_id.clone()).collect()
        }
    };
    let duplicated: Vec<&str> = batch
        .iter()
        .filter(|m| !failed.contains(&m.message_id))
        .filter(|m| {
            mapping.faults.hits(
                Fault::Duplicate,
                &format!("{}:{}", m.message_id, m.receive_count),
            )
        })
        .map(|m| m.message_id.as_str())
        .collect();
    if !duplicated.is_empty() {
        logs.line(
            who,
            &format!("{INJECTED_DUPLICATE_DELIVERY}{}", duplicated.join(", ")),
        );
    }
    let delivered = Delivered {
        at,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        failed: &failed,
        duplicated: &duplicated,
        reason: batch_reason.as_deref(),
    };
    record_deliveries(logs, &function.name, mapping, &batch, &delivered);
    let successes: Vec<(String, String)> = batch
        .iter()
        .filter(|m| !failed.contains(&m.message_id) && !duplicated.contains(&m.message_id.as_str()))
        .map(|m| (m.message_id.clone(), m.receipt_handle.clone()))
        .collect();
    let mut deleted = successes.len();
    if !successes.is_empty() {
        match queues.delete_batch(&mapping.queue_url, &successes).await {
            Ok(not_deleted) => deleted -= not_deleted.len(),
            Err(e) => {
                // Not deleted means delivered again: at-least-once, which the handlers absorb.
                logs.line(
                    who,
                    &format!("delete failed, the batch will be delivered again: {e}"),
                );
                deleted = 0;
            }
        }
    }
    BatchOutcome {
        received: batch.len(),
        deleted,
        failed,
    }
}

/// What became of one invoked batch, for the trace.
struct Delivered<'a> {
    at: chrono::DateTime<chrono::Utc>,
    duration_ms: u64,
    failed: &'a [String],
    duplicated: &'a [&'a str],
    reason: Option<&'a str>,
}

/// One trace record per message of the batch: which receive it was, which order and event it
/// holds, how long the invocation took and what became of it.
fn record_deliveries(
    logs: &LogSink,
    function: &str,
    mapping: &Mapping,
    batch: &[ReceivedMessage],
    delivered: &Delivered<'_>,
) {
    let queue = mapping.queue_url.rsplit('/').next().unwrap_or_default();
    for m in batch {
        let envelope = orderflow_shared::events::envelope_from_eventbridge_json(&m.body).ok();
        let outcome = if delivered.failed.contains(&m.message_id) {
            DeliveryOutcome::Failed
        } else if delivered.duplicated.contains(&m.message_id.as_str()) {
            DeliveryOutcome::Duplicated
        } else {
            DeliveryOutcome::Processed
        };
        logs.record(&TraceRecord::Delivery {
            at: delivered.at,
            function: function.split('#').next().unwrap_or_default().to_owned(),
            queue: queue.to_owned(),
            message_id: m.message_id.clone(),
            receive_count: m.receive_count,
            order_id: envelope
                .as_ref()
                .map(|e| e.metadata.correlation_id.to_string()),
            event_type: envelope
                .as_ref()
                .map(|e| e.metadata.event_type.as_str().to_owned()),
            duration_ms: delivered.duration_ms,
            outcome,
            reason: delivered.reason.map(str::to_owned),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str) -> ReceivedMessage {
        ReceivedMessage {
            message_id: id.into(),
            receipt_handle: format!("rh-{id}"),
            body: "{}".into(),
            md5_of_body: None,
            receive_count: 1,
            sent_at: None,
            system_attributes: HashMap::from([(
                "ApproximateReceiveCount".to_owned(),
                "1".to_owned(),
            )]),
            attributes: HashMap::new(),
        }
    }

    fn mapping() -> Mapping {
        Mapping {
            queue_url: "http://q".into(),
            queue_arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
            batch_size: 10,
            batching_window: Duration::ZERO,
            report_batch_item_failures: true,
            visibility_timeout: None,
            after_failed_invocation: None,
            region: "us-east-1".into(),
            faults: FaultSwitch::new(orderflow_shared::faults::Faults::none()),
            slots: Arc::new(Semaphore::new(1)),
        }
    }

    #[test]
    fn the_event_has_the_shape_lambda_gives_an_sqs_handler() {
        let event = sqs_event(&[message("a"), message("b")], &mapping());
        let parsed: aws_lambda_events_shape::SqsEventShape =
            serde_json::from_value(event.clone()).unwrap();
        assert_eq!(parsed.records.len(), 2);
        assert_eq!(event["Records"][0]["eventSource"], "aws:sqs");
        assert_eq!(event["Records"][1]["messageId"], "b");
        assert_eq!(
            event["Records"][0]["attributes"]["ApproximateReceiveCount"],
            "1"
        );
    }

    /// A minimal mirror of the fields the functions' `SqsEvent` requires.
    mod aws_lambda_events_shape {
        #[derive(serde::Deserialize)]
        pub struct SqsEventShape {
            #[serde(rename = "Records")]
            pub records: Vec<Record>,
        }
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        pub struct Record {
            #[serde(rename = "messageId")]
            pub message_id: String,
            pub body: String,
        }
    }

    /// Runs `pollers` pollers sharing `slots` process slots over a moto queue of `messages`
    /// messages (a batch is one message); returns the most invocations seen at once.
    async fn most_at_once(pollers: usize, slots: usize, messages: usize) -> usize {
        use std::sync::atomic::{AtomicUsize, Ordering};

        let dir = std::env::temp_dir().join(format!("orderflow-esm-{}", uuid::Uuid::new_v4()));
        let port = super::super::free_port().unwrap();
        let mut moto = super::super::moto::start(port, &dir, None).await.unwrap();
        let sqs = aws_sdk_sqs::Client::new(&super::super::sdk_config(&moto.endpoint).await);
        let created = sqs.create_queue().queue_name("q").send().await.unwrap();
        let url = created.queue_url().unwrap().to_owned();
        let queues = Queues::new(sqs.clone());
        for i in 0..messages {
            queues.send(&url, &format!("m{i}"), &[]).await.unwrap();
        }
        let (now, most, done) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let (n, m, d) = (now.clone(), most.clone(), done.clone());
        let function = FunctionHandle::served_by("f", move |_| {
            let (n, m, d) = (n.clone(), m.clone(), d.clone());
            async move {
                m.fetch_max(n.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                // Long enough that, even on a loaded machine, the next batch arrives meanwhile.
                tokio::time::sleep(Duration::from_millis(1500)).await;
                n.fetch_sub(1, Ordering::SeqCst);
                d.fetch_add(1, Ordering::SeqCst);
                Ok(Bytes::from_static(b"{}"))
            }
        });
        let (stop, shutdown) = watch::channel(false);
        let mapping = Mapping {
            queue_url: url,
            batch_size: 1,
            slots: Arc::new(Semaphore::new(slots)),
            ..mapping()
        };
        for _ in 0..pollers {
            let logs = LogSink::new(None);
            let run = run(
                function.clone(),
                queues.clone(),
                mapping.clone(),
                logs,
                shutdown.clone(),
            );
            tokio::spawn(run);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while done.load(Ordering::SeqCst) < messages && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = stop.send(true);
        moto.child.kill().await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
        assert_eq!(
            done.load(Ordering::SeqCst),
            messages,
            "every message delivered"
        );
        most.load(Ordering::SeqCst)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pollers_run_batches_at_once_but_never_more_than_the_function_has_processes() {
        assert_eq!(most_at_once(5, 2, 8).await, 2, "two processes, two at once");
        assert!(
            most_at_once(5, 5, 8).await > 2,
            "five pollers, five processes: several at once"
        );
    }

    /// Two pollers, a shortened visibility timeout of 1 s, one message whose invocation takes
    /// `invocation` and then reports the answer `answer`; returns how many invocations it had
    /// within `watch`.
    async fn invocations_of_one_slow_message(
        invocation: Duration,
        answer: &'static [u8],
        watch_for: Duration,
    ) -> usize {
        use std::sync::atomic::{AtomicUsize, Ordering};

        let dir = std::env::temp_dir().join(format!("orderflow-esm-{}", uuid::Uuid::new_v4()));
        let port = super::super::free_port().unwrap();
        let mut moto = super::super::moto::start(port, &dir, None).await.unwrap();
        let sqs = aws_sdk_sqs::Client::new(&super::super::sdk_config(&moto.endpoint).await);
        let created = sqs.create_queue().queue_name("q").send().await.unwrap();
        let url = created.queue_url().unwrap().to_owned();
        let queues = Queues::new(sqs.clone());
        queues.send(&url, "slow", &[]).await.unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        let function = FunctionHandle::served_by("f", move |payload| {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(invocation).await;
                let id = serde_json::from_slice::<Value>(&payload).unwrap()["Records"][0]
                    ["messageId"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                let text = String::from_utf8_lossy(answer).replace("ID", &id);
                Ok(Bytes::from(text))
            }
        });
        let (stop, shutdown) = watch::channel(false);
        let mapping = Mapping {
            queue_url: url,
            batch_size: 1,
            visibility_timeout: Some(1),
            after_failed_invocation: None,
            slots: Arc::new(Semaphore::new(2)),
            ..mapping()
        };
        for _ in 0..2 {
            tokio::spawn(run(
                function.clone(),
                queues.clone(),
                mapping.clone(),
                LogSink::new(None),
                shutdown.clone(),
            ));
        }
        tokio::time::sleep(watch_for).await;
        let _ = stop.send(true);
        moto.child.kill().await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
        count.load(Ordering::SeqCst)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_stays_hidden_while_its_invocation_outlives_a_shortened_visibility_timeout() {
        let succeeded = invocations_of_one_slow_message(
            Duration::from_secs(4),
            br#"{"batchItemFailures":[]}"#,
            Duration::from_secs(7),
        )
        .await;
        assert_eq!(
            succeeded, 1,
            "a 4 s invocation under a 1 s timeout runs once"
        );
        let failing = invocations_of_one_slow_message(
            Duration::from_secs(2),
            br#"{"batchItemFailures":[{"itemIdentifier":"ID"}]}"#,
            Duration::from_secs(9),
        )
        .await;
        assert!(
            failing >= 2,
            "a failed record still comes back soon after its answer ({failing} invocations)"
        );
    }

    #[test]
    fn reported_failures_are_exactly_the_named_messages() {
        let batch = [message("a"), message("b")];
        assert_eq!(
            reported_failures(br#"{"batchItemFailures":[]}"#, &batch),
            Some(vec![])
        );
        assert_eq!(
            reported_failures(br#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#, &batch),
            Some(vec!["b".to_owned()])
        );
        assert_eq!(reported_failures(b"{}", &batch), Some(vec![]));
    }

    #[test]
    fn an_unreadable_response_or_unknown_identifier_fails_the_whole_batch() {
        let batch = [message("a")];
        assert_eq!(reported_failures(b"not json", &batch), None);
        assert_eq!(
            reported_failures(
                br#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#,
                &batch
            ),
            None
        );
        assert_eq!(
            reported_failures(br#"{"batchItemFailures":[{"itemIdentifier":""}]}"#, &batch),
            None
        );
        assert_eq!(
            reported_failures(br#"{"batchItemFailures":"x"}"#, &batch),
            None
        );
    }
}
