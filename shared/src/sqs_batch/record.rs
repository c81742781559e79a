//! The edge of an SQS consumer: one record read into the envelope its handler takes, or the
//! reason it cannot be handled (logged once, here; the record ends in the DLQ after
//! `maxReceiveCount` receives).

use aws_lambda_events::sqs::SqsMessage;
use tracing::{error, field, info_span, Span};

use super::RecordError;
use crate::events::{envelope_from_eventbridge_json, Envelope};

/// The span every line about one record is written in: the message, and once read, the order
/// (`correlation_id`) and the event type.
pub(super) fn span(message_id: &str) -> Span {
    info_span!(
        "record",
        message_id = %message_id,
        correlation_id = field::Empty,
        event_type = field::Empty
    )
}

/// The record's envelope (an EventBridge event in the body, its detail the envelope); records
/// the order and event type in the current span.
pub(super) fn envelope(record: &SqsMessage) -> Result<Envelope, RecordError> {
    let body = record.body.as_deref().unwrap_or_default();
    let envelope = envelope_from_eventbridge_json(body).map_err(|e| {
        error!(reason = %e, "malformed message; it will reach the DLQ after maxReceiveCount");
        RecordError::permanent(e)
    })?;
    let span = Span::current();
    span.record("correlation_id", envelope.metadata.correlation_id.as_str());
    span.record("event_type", envelope.metadata.event_type.as_str());
    Ok(envelope)
}
