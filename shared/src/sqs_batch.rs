//! Partial batch failures for SQS-triggered functions: every record is handled on its own, in
//! its own span, and only the failed ones are reported back, so SQS redelivers just those and
//! its redrive policy moves a poison message to the DLQ after `maxReceiveCount` receives.

use std::future::Future;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use tracing::{error, info_span, warn, Instrument, Span};

use crate::events::{envelope_from_eventbridge_json, Envelope};
use crate::faults::{Fault, Faults};
use crate::ports::EventPublisher;

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
    run_batch(event, faults, None, |envelope| {
        let done = handle(envelope);
        async move { done.await.map(|()| Vec::new()) }
    })
    .await
}

/// Like [`process_batch`] for a handler whose records lead to events: `handle` does a record's
/// state change and returns the events that follow from it, and the whole batch's events are
/// published together, in as few `PutEvents` calls as the bus allows (10 entries each), after
/// every record was handled. If publishing fails, every record that produced an event fails
/// (its redelivery finds its step done and produces the event again); records that produced
/// none are unaffected.
pub async fn process_batch_then_publish<F, Fut, P>(
    event: SqsEvent,
    faults: &Faults,
    events: &P,
    handle: F,
) -> SqsBatchResponse
where
    F: Fn(Envelope) -> Fut,
    Fut: Future<Output = Result<Vec<Envelope>, RecordError>>,
    P: EventPublisher,
{
    run_batch(event, faults, Some(events), handle).await
}

/// For a handler that does one thing for a whole batch (send-notification: one claim, one
/// publish and one completion for all its records): every record is parsed and put through the
/// faults before the effect, then `handle_all` gets the surviving envelopes at once and answers
/// one result per envelope, in order; then each record ends as in [`process_batch`].
pub async fn process_batch_together<F, Fut>(
    event: SqsEvent,
    faults: &Faults,
    handle_all: F,
) -> SqsBatchResponse
where
    F: FnOnce(Vec<Envelope>) -> Fut,
    Fut: Future<Output = Vec<Result<(), RecordError>>>,
{
    let mut handled = Vec::with_capacity(event.records.len());
    let mut envelopes = Vec::new();
    let mut owners = Vec::new();
    for record in event.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let span = info_span!("record", message_id = %message_id, correlation_id = tracing::field::Empty, event_type = tracing::field::Empty);
        let (fault_key, prepared) = prepare_record(record, faults)
            .instrument(span.clone())
            .await;
        let result = match prepared {
            Ok(envelope) => {
                owners.push(handled.len());
                envelopes.push(envelope);
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        };
        handled.push(Handled {
            message_id,
            span,
            fault_key,
            result,
        });
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
    finish_batch(handled, faults)
}

/// One record on its way through the batch.
struct Handled {
    message_id: String,
    span: Span,
    fault_key: Option<String>,
    result: Result<Vec<Envelope>, RecordError>,
}

async fn run_batch<F, Fut>(
    event: SqsEvent,
    faults: &Faults,
    events: Option<&dyn EventPublisher>,
    handle: F,
) -> SqsBatchResponse
where
    F: Fn(Envelope) -> Fut,
    Fut: Future<Output = Result<Vec<Envelope>, RecordError>>,
{
    let mut handled = Vec::with_capacity(event.records.len());
    for record in event.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let span = info_span!("record", message_id = %message_id, correlation_id = tracing::field::Empty, event_type = tracing::field::Empty);
        let (fault_key, result) = async {
            match prepare_record(record, faults).await {
                (key, Ok(envelope)) => (key, handle(envelope).await),
                (key, Err(e)) => (key, Err(e)),
            }
        }
        .instrument(span.clone())
        .await;
        handled.push(Handled {
            message_id,
            span,
            fault_key,
            result,
        });
    }
    if let Some(events) = events {
        publish_all(events, &mut handled).await;
    }
    finish_batch(handled, faults)
}

/// Ends every record (the faults after the effect, the log line) and reports the failed ones.
fn finish_batch(handled: Vec<Handled>, faults: &Faults) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for record in handled {
        let outcome = {
            let _entered = record.span.enter();
            finish_record(
                record.result.map(|_| ()),
                faults,
                record.fault_key.as_deref(),
            )
        };
        if outcome.is_err() {
            // A record without an id cannot be reported; AWS always sets one.
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id;
            failures.push(failure);
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
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

/// Parses the record and injects the faults before the effect. Returns the record's fault key
/// (`None` for a malformed record) with its envelope, or why it failed already.
async fn prepare_record(
    record: SqsMessage,
    faults: &Faults,
) -> (Option<String>, Result<Envelope, RecordError>) {
    let span = Span::current();
    let body = record.body.as_deref().unwrap_or_default();
    let envelope = match envelope_from_eventbridge_json(body) {
        Ok(envelope) => envelope,
        Err(e) => {
            error!(reason = %e, "malformed message; it will reach the DLQ after maxReceiveCount");
            return (None, Err(RecordError::permanent(e)));
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
            return (Some(fault_key), Err(RecordError::Transient(reason.into())));
        }
    }
    (Some(fault_key), Ok(envelope))
}

/// After the effect (and the batch's publish): the faults that strike after it, and the log
/// line that says how the record ended.
fn finish_record(
    result: Result<(), RecordError>,
    faults: &Faults,
    fault_key: Option<&str>,
) -> Result<(), RecordError> {
    if let (Ok(()), Some(fault_key)) = (&result, fault_key) {
        if faults.is_active() {
            if faults.hits(Fault::Crash, fault_key) {
                error!(
                    fault = "crash",
                    "injected fault: the process exits mid-batch, after the effect"
                );
                std::process::exit(70);
            }
            if faults.hits(Fault::ErrorAfter, fault_key) {
                let reason = "injected fault after the effect";
                warn!(fault = "error_after", %reason, "injected fault");
                return Err(RecordError::Transient(reason.into()));
            }
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

    /// A publisher that counts its calls and can refuse them.
    #[derive(Default)]
    struct Bus {
        calls: AtomicUsize,
        published: std::sync::Mutex<Vec<Envelope>>,
        refuse: bool,
    }

    #[async_trait::async_trait]
    impl EventPublisher for Bus {
        async fn publish(&self, events: &[Envelope]) -> Result<(), crate::ports::PublishError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.refuse {
                return Err(crate::ports::PublishError::Unavailable("refused".into()));
            }
            self.published
                .lock()
                .unwrap()
                .extend(events.iter().cloned());
            Ok(())
        }
    }

    /// Each record leads to one event.
    async fn follow(envelope: Envelope) -> Result<Vec<Envelope>, RecordError> {
        Ok(vec![envelope.caused(envelope.event.clone())])
    }

    #[tokio::test]
    async fn the_events_of_a_whole_batch_are_published_in_one_call() {
        let bus = Bus::default();
        let response = process_batch_then_publish(batch(), &Faults::none(), &bus, follow).await;
        assert_eq!(failed(&response), ["msg-0002"], "only the malformed one");
        assert_eq!(bus.calls.load(Ordering::SeqCst), 1);
        assert_eq!(bus.published.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_refused_publish_fails_exactly_the_records_that_produced_events() {
        let bus = Bus {
            refuse: true,
            ..Bus::default()
        };
        // The first valid record leads to an event, the second to none.
        let handled = AtomicUsize::new(0);
        let response = process_batch_then_publish(batch(), &Faults::none(), &bus, |e| {
            let first = handled.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    follow(e).await
                } else {
                    Ok(Vec::new())
                }
            }
        })
        .await;
        assert_eq!(failed(&response), ["msg-0001", "msg-0002"]);
        assert_eq!(bus.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_batch_whose_records_lead_to_no_event_publishes_nothing() {
        let bus = Bus::default();
        let response = process_batch_then_publish(batch(), &Faults::none(), &bus, |_| async {
            Ok(Vec::new())
        })
        .await;
        assert_eq!(failed(&response), ["msg-0002"]);
        assert_eq!(bus.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_batch_handled_together_gets_every_valid_record_at_once_and_answers_each() {
        let seen = AtomicUsize::new(0);
        let response = process_batch_together(batch(), &Faults::none(), |envelopes| {
            seen.store(envelopes.len(), Ordering::SeqCst);
            async { vec![Ok(()), Err(RecordError::Transient("second".into()))] }
        })
        .await;
        assert_eq!(
            seen.load(Ordering::SeqCst),
            2,
            "the malformed one is left out"
        );
        assert_eq!(failed(&response), ["msg-0002", "msg-0003"]);
    }

    #[tokio::test]
    async fn a_record_the_batch_handler_did_not_answer_fails() {
        let response =
            process_batch_together(batch(), &Faults::none(), |_| async { vec![Ok(())] }).await;
        assert_eq!(failed(&response), ["msg-0002", "msg-0003"]);
    }

    #[tokio::test]
    async fn a_fault_before_the_effect_keeps_the_record_from_the_batch_handler() {
        let faults = Faults::parse("error_before=1000", "1").unwrap();
        let seen = AtomicUsize::new(0);
        let response = process_batch_together(batch(), &faults, |envelopes| {
            seen.store(envelopes.len(), Ordering::SeqCst);
            async { Vec::new() }
        })
        .await;
        assert_eq!(seen.load(Ordering::SeqCst), 0);
        assert_eq!(failed(&response), ["msg-0001", "msg-0002", "msg-0003"]);
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
