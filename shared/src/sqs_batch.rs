//! Partial batch failures for SQS-triggered functions: every record is handled on its own, in
//! its own span, and only the failed ones are reported back, so SQS redelivers just those and
//! its redrive policy moves a poison message to the DLQ after `maxReceiveCount` receives.

use std::future::Future;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use tracing::{error, info_span, warn, Instrument};

use crate::events::{envelope_from_eventbridge_json, Envelope};

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
pub async fn process_batch<F, Fut>(event: SqsEvent, handle: F) -> SqsBatchResponse
where
    F: Fn(Envelope) -> Fut,
    Fut: Future<Output = Result<(), RecordError>>,
{
    let mut failures = Vec::new();
    for record in event.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let span = info_span!("record", message_id = %message_id, correlation_id = tracing::field::Empty, event_type = tracing::field::Empty);
        let outcome = process_record(record, &handle).instrument(span).await;
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

async fn process_record<F, Fut>(record: SqsMessage, handle: &F) -> Result<(), RecordError>
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
    let result = handle(envelope).await;
    match &result {
        Ok(()) => tracing::info!("record processed"),
        Err(RecordError::Permanent(reason)) => error!(%reason, "record failed permanently"),
        Err(RecordError::Transient(reason)) => warn!(%reason, "record failed; will be retried"),
    }
    result
}
