//! Partial batch failures for SQS-triggered functions: every record is handled on its own, in
//! its own span, and only the failed ones are reported back, so SQS redelivers just those and
//! its redrive policy moves a poison message to the DLQ after `maxReceiveCount` receives.
//!
//! A batch goes through four steps, in order: each record is read into its envelope at the
//! edge (`record`); the handler runs (record by record, or on the whole batch at once); the
//! events the batch leads to are published together; each record ends with the log line that
//! says how (and, with the `local-cloud` feature, the faults injected around the effect), and
//! the batch's metrics are flushed.

#[cfg(feature = "local-cloud")]
mod inject;
mod record;

use std::future::Future;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::StreamExt;
use tracing::{error, warn, Instrument, Span};

use crate::events::Envelope;
#[cfg(feature = "local-cloud")]
use crate::faults::Faults;
use crate::ports::EventPublisher;
use crate::telemetry::metrics;

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

/// How a consumer runs its batches. A deployed build has nothing to set; with the
/// `local-cloud` feature it may inject the faults of `ORDERFLOW_FAULTS` around each record's
/// effect ([`BatchRunner::with_faults`]).
#[derive(Debug, Clone, Default)]
pub struct BatchRunner {
    #[cfg(feature = "local-cloud")]
    faults: Faults,
    /// How many records of a batch [`then_publish`](Self::then_publish) handles at once
    /// (0 and 1: one after another).
    at_once: usize,
}

/// One record on its way through the batch.
struct Handled {
    message_id: String,
    span: Span,
    /// Which delivery this is, for the faults after the effect (`None`: a malformed record).
    #[cfg(feature = "local-cloud")]
    fault_key: Option<String>,
    result: Result<Vec<Envelope>, RecordError>,
}

impl BatchRunner {
    /// A runner that injects `faults` around each record's effect.
    #[cfg(feature = "local-cloud")]
    pub fn with_faults(faults: Faults) -> Self {
        BatchRunner {
            faults,
            ..BatchRunner::default()
        }
    }

    /// Handles up to `n` records of a batch at once, for a handler whose records each wait on
    /// remote calls (process-payment: a claim, the provider, a settlement): a batch of ten then
    /// takes about as long as its slowest record instead of all ten in a row. Records of one
    /// batch are different orders (a duplicate of one meets the other's claim and is retried),
    /// and the response, the events and their order are the same as one after another.
    pub fn handling_at_once(self, n: usize) -> Self {
        BatchRunner { at_once: n, ..self }
    }

    /// For a handler whose records lead to events: `handle` does a record's state change and
    /// returns the events that follow from it, and the whole batch's events are published
    /// together, in as few `PutEvents` calls as the bus allows (10 entries each), after every
    /// record was handled. If publishing fails, every record that produced an event fails (its
    /// redelivery finds its step done and produces the event again); records that produced
    /// none are unaffected. Returns exactly the failed message ids.
    pub async fn then_publish<F, Fut, P>(
        &self,
        event: SqsEvent,
        events: &P,
        handle: F,
    ) -> SqsBatchResponse
    where
        F: Fn(Envelope) -> Fut,
        Fut: Future<Output = Result<Vec<Envelope>, RecordError>>,
        P: EventPublisher,
    {
        let handle = &handle;
        let mut handled: Vec<Handled> = futures_util::stream::iter(event.records)
            .map(|record| async move {
                let (mut entry, prepared) = self.prepare(record).await;
                entry.result = match prepared {
                    Ok(envelope) => handle(envelope).instrument(entry.span.clone()).await,
                    Err(e) => Err(e),
                };
                entry
            })
            .buffered(self.at_once.max(1))
            .collect()
            .await;
        publish_all(events, &mut handled).await;
        self.finish(handled)
    }

    /// For a handler that does one thing for a whole batch (send-notification: its keys claimed
    /// at once, one publish, its keys completed at once): every record is read and put through
    /// the faults before the effect, then `handle_all` gets the surviving envelopes at once and
    /// answers one result per envelope, in order; then each record ends as in
    /// [`then_publish`](Self::then_publish).
    pub async fn together<F, Fut>(&self, event: SqsEvent, handle_all: F) -> SqsBatchResponse
    where
        F: FnOnce(Vec<Envelope>) -> Fut,
        Fut: Future<Output = Vec<Result<(), RecordError>>>,
    {
        let mut handled = Vec::with_capacity(event.records.len());
        let mut envelopes = Vec::new();
        let mut owners = Vec::new();
        for record in event.records {
            let (mut entry, prepared) = self.prepare(record).await;
            match prepared {
                Ok(envelope) => {
                    owners.push(handled.len());
                    envelopes.push(envelope);
                }
                Err(e) => entry.result = Err(e),
            }
            handled.push(entry);
        }
        let expected = owners.len();
        let mut results = handle_all(envelopes).await.into_iter();
        for owner in owners {
            let result = results.next().unwrap_or_else(|| {
                Err(RecordError::Transient(format!(
                    "the batch handler answered fewer than its {expected} records"
                )))
            });
            if let Some(h) = handled.get_mut(owner) {
                h.result = result.map(|()| Vec::new());
            }
        }
        self.finish(handled)
    }

    /// Reads a record at the edge, in its own span, and injects the faults before the effect.
    async fn prepare(&self, record: SqsMessage) -> (Handled, Result<Envelope, RecordError>) {
        let message_id = record.message_id.clone().unwrap_or_default();
        let receive_count = record
            .attributes
            .get("ApproximateReceiveCount")
            .map_or("1", String::as_str);
        let span = record::span(&message_id, receive_count);
        let prepared = span.in_scope(|| record::envelope(&record));
        #[cfg(feature = "local-cloud")]
        let (fault_key, prepared) = match prepared {
            Ok(envelope) => {
                let key = inject::fault_key(&envelope, &record);
                let before = inject::before_effect(&self.faults, &key)
                    .instrument(span.clone())
                    .await;
                (Some(key), before.map(|()| envelope))
            }
            Err(e) => (None, Err(e)),
        };
        let handled = Handled {
            message_id,
            span,
            #[cfg(feature = "local-cloud")]
            fault_key,
            result: Ok(Vec::new()),
        };
        (handled, prepared)
    }

    /// Ends every record (the faults after the effect, the log line) and reports the failed ones.
    fn finish(&self, handled: Vec<Handled>) -> SqsBatchResponse {
        let mut failures = Vec::new();
        for record in handled {
            let _entered = record.span.enter();
            let result = record.result.map(|_| ());
            #[cfg(feature = "local-cloud")]
            let result = inject::after_effect(&self.faults, record.fault_key.as_deref(), result);
            if log_outcome(result).is_err() {
                // A record without an id cannot be reported; AWS always sets one.
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id;
                failures.push(failure);
            }
        }
        // Before the response: the batch's counts reach the log even if Lambda freezes next.
        metrics::flush();
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failures;
        response
    }
}

/// The line that says how a record ended. A failure's line carries `reason` (the local cloud
/// keeps it, with the span's `message_id`, to show next to the message in its DLQ).
fn log_outcome(result: Result<(), RecordError>) -> Result<(), RecordError> {
    match &result {
        Ok(()) => tracing::info!("record processed"),
        Err(RecordError::Permanent(reason)) => {
            metrics::record_failed("permanent");
            error!(%reason, "record failed permanently")
        }
        Err(RecordError::Transient(reason)) => {
            metrics::record_failed("transient");
            warn!(%reason, "record failed; will be retried")
        }
    }
    result
}

/// Publishes the events of every handled record at once; on failure, fails those records.
async fn publish_all(events: &dyn EventPublisher, handled: &mut [Handled]) {
    let batch: Vec<Envelope> = handled
        .iter()
        .filter_map(|h| h.result.as_ref().ok())
        .flatten()
        .cloned()
        .collect();
    if batch.is_empty() {
        return;
    }
    if let Err(e) = events.publish(&batch).await {
        for h in handled.iter_mut() {
            if h.result.as_ref().is_ok_and(|produced| !produced.is_empty()) {
                h.result = Err(RecordError::Transient(format!(
                    "the batch's events were not published: {e}"
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests;
