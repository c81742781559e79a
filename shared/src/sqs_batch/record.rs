//! The edge of an SQS consumer: one record read into the envelope its handler takes, or the
//! reason it cannot be handled (logged once, here; the record ends in the DLQ after
//! `maxReceiveCount` receives).

use aws_lambda_events::sqs::SqsMessage;
use tracing::{error, field, info_span, Span};

use super::RecordError;
use crate::events::{envelope_from_eventbridge_json, Envelope, TraceContext};

/// The SQS system attribute that carries X-Ray's trace header.
pub const AWS_TRACE_HEADER: &str = "AWSTraceHeader";

/// The span every line about one record is written in: the message and which receive of it
/// this is, and once read, the order (`correlation_id`), the event type and the order's trace
/// (`trace_id`).
pub(super) fn span(message_id: &str, receive_count: &str) -> Span {
    info_span!(
        "record",
        message_id = %message_id,
        receive_count = %receive_count,
        correlation_id = field::Empty,
        event_type = field::Empty,
        trace_id = field::Empty
    )
}

/// The record's envelope (an EventBridge event in the body, its detail the envelope); records
/// the order, event type and trace in the current span. An envelope without a trace joins the
/// one of the message's `AWSTraceHeader` (set by EventBridge from the publisher's header), so
/// the events it causes stay in that trace.
pub(super) fn envelope(record: &SqsMessage) -> Result<Envelope, RecordError> {
    let body = record.body.as_deref().unwrap_or_default();
    let mut envelope = envelope_from_eventbridge_json(body).map_err(|e| {
        error!(reason = %e, "malformed message; it will reach the DLQ after maxReceiveCount");
        RecordError::permanent(e)
    })?;
    let span = Span::current();
    span.record("correlation_id", envelope.metadata.correlation_id.as_str());
    span.record("event_type", envelope.metadata.event_type.as_str());
    if envelope.trace().is_none() {
        if let Some(trace) = record
            .attributes
            .get(AWS_TRACE_HEADER)
            .and_then(|h| TraceContext::from_xray_header(h))
        {
            envelope = envelope.in_trace(&trace);
        }
    }
    if let Some(trace) = envelope.trace() {
        span.record("trace_id", trace.trace_id());
    }
    Ok(envelope)
}
