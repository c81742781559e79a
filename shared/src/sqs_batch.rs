//! Partial batch failures for SQS-triggered functions: every record is handled on its own, in
//! its own span, and only the failed ones are reported back, so SQS redelivers just those and
//! its redrive policy moves a poison message to the DLQ after `maxReceiveCount` receives.

use std::future::Future;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use tracing::{error, info_span, warn, Instrument};

use crate::events::{envelope_from_eventbridge_json, Envelope};
use crate::faults::{Fault, Faults};

/// Why one record failed. Both kinds are reported as batch item failures; the kind decides
/// how loudly it is logged (a permanent failure will end in the DLQ).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("permanent: {0}")]
    Permanent(String),
    #[error("transient, will be retried: {0}")]
    Transient(String),
}

impl RecordError {
    pub fn permanent(e: impl std::fmt::Display) -> Self {
        RecordError::Permanent(e.to_string())
    }

    pub fn transient(e: impl std::fmt::Display) -> Self {
        RecordError::Transient(e.to_string())
    }
}

/// Runs `handle` on each record's envelope and returns exactly the failed message ids.
/// `faults` injects failures around the effect when switched on (see [`crate::faults`]).
pub async fn process_batch<F, Fut>(event: SqsEvent, faults: &Faults, handle: F) -> SqsBatchResponse
where
    F: Fn(Envelope) -> Fut,
    Fut: Future<Output = Result<(), RecordError>>,
{
    let mut failures = Vec::new();
    for record in event.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let span = info_span!("record", message_id = %message_id, correlation_id = tracing::field::Empty, event_type = tracing::field::Empty);
        let outcome = process_record(record, faults, &handle)
            .instrument(span)
            .await;
        if outcome.is_err() {
            // A record without an id cannot be reported; AWS always sets one.
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            failures.push(failure);
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

async fn process_record<F, Fut>(
    record: SqsMessage,
    faults: &Faults,
    handle: &F,
) -> Result<(), RecordError>
where
    F: Fn(Envelope) -> Fut,
    Fut: Future<Output = Result<(), RecordError>>,
{
    let span = tracing::Span::current();
    let body = record.body.as_deref().unwrap_or_default();
    let envelope = match envelope_from_eventbridge_json(body) {
        Ok(envelope) => envelope,
        Err(e) => {
            error!(reason = %e, "malformed message; it will reach the DLQ after maxReceiveCount");
            return Err(RecordError::permanent(e));
        }
    };
    span.record("correlation_id", envelope.metadata.correlation_id.as_str());
    span.record("event_type", envelope.metadata.event_type.as_str());
    let fault_key = format!(
        "{}:{}:{}",
        envelope.metadata.correlation_id,
        envelope.metadata.event_type,
        record
            .attributes
            .get("ApproximateReceiveCount")
            .map_or("1", String::as_str)
    );
    if faults.is_active() {
        if faults.hits(Fault::Delay, &fault_key) {
            warn!(
                fault = "delay",
                delay_ms = faults.delay().as_millis() as u64,
                "injected fault"
            );
            tokio::time::sleep(faults.delay()).await;
        }
        if faults.hits(Fault::ErrorBefore, &fault_key) {
            let reason = "injected fault before the effect";
            warn!(fault = "error_before", %reason, "injected fault");
            return Err(RecordError::Transient(reason.into()));
        }
    }
    let result = handle(envelope).await;
    if result.is_ok() && faults.is_active() {
        if faults.hits(Fault::Crash, &fault_key) {
            error!(
                fault = "crash",
                "injected fault: the process exits mid-batch, after the effect"
            );
            std::process::exit(70);
        }
        if faults.hits(Fault::ErrorAfter, &fault_key) {
            let reason = "injected fault after the effect";
            warn!(fault = "error_after", %reason, "injected fault");
            return Err(RecordError::Transient(reason.into()));
        }
    }
    match &result {
        Ok(()) => tracing::info!("record processed"),
        Err(RecordError::Permanent(reason)) => error!(%reason, "record failed permanently"),
        Err(RecordError::Transient(reason)) => warn!(%reason, "record failed; will be retried"),
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn batch() -> SqsEvent {
        crate::testing::sqs_fixture("sqs-batch-with-malformed-record.json").unwrap()
    }

    fn failed(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn only_the_records_that_fail_are_reported() {
        let calls = AtomicUsize::new(0);
        let response = process_batch(batch(), &Faults::none(), |_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await;
        assert_eq!(failed(&response), ["msg-0002"], "the malformed one");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_fault_before_the_effect_fails_the_record_without_running_it() {
        let calls = AtomicUsize::new(0);
        let faults = Faults::parse("error_before=1000", "1").unwrap();
        let response = process_batch(batch(), &faults, |_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await;
        assert_eq!(failed(&response), ["msg-0001", "msg-0002", "msg-0003"]);
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_fault_after_the_effect_runs_it_and_still_fails_the_record() {
        let calls = AtomicUsize::new(0);
        let faults = Faults::parse("error_after=1000", "1").unwrap();
        let response = process_batch(batch(), &faults, |_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await;
        assert_eq!(failed(&response), ["msg-0001", "msg-0002", "msg-0003"]);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
