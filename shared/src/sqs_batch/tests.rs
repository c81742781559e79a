//! The batch runner over the fixture batch with one malformed record (`msg-0002`).

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
    let response = BatchRunner::default()
        .then_publish(batch(), &Bus::default(), |_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
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
    let response = BatchRunner::default()
        .then_publish(batch(), &bus, follow)
        .await;
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
    let response = BatchRunner::default()
        .then_publish(batch(), &bus, |e| {
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
    let response = BatchRunner::default()
        .then_publish(batch(), &bus, |_| async { Ok(Vec::new()) })
        .await;
    assert_eq!(failed(&response), ["msg-0002"]);
    assert_eq!(bus.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_batch_handled_together_gets_every_valid_record_at_once_and_answers_each() {
    let seen = AtomicUsize::new(0);
    let response = BatchRunner::default()
        .together(batch(), |envelopes| {
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
    let response = BatchRunner::default()
        .together(batch(), |_| async { vec![Ok(())] })
        .await;
    assert_eq!(failed(&response), ["msg-0002", "msg-0003"]);
}

#[cfg(feature = "local-cloud")]
#[tokio::test]
async fn a_fault_before_the_effect_keeps_the_record_from_the_batch_handler() {
    let faults = crate::faults::Faults::parse("error_before=1000", "1").unwrap();
    let seen = AtomicUsize::new(0);
    let response = BatchRunner::with_faults(faults)
        .together(batch(), |envelopes| {
            seen.store(envelopes.len(), Ordering::SeqCst);
            async { Vec::new() }
        })
        .await;
    assert_eq!(seen.load(Ordering::SeqCst), 0);
    assert_eq!(failed(&response), ["msg-0001", "msg-0002", "msg-0003"]);
}

#[cfg(feature = "local-cloud")]
#[tokio::test]
async fn a_fault_before_the_effect_fails_the_record_without_running_it() {
    let calls = AtomicUsize::new(0);
    let faults = crate::faults::Faults::parse("error_before=1000", "1").unwrap();
    let response = BatchRunner::with_faults(faults)
        .then_publish(batch(), &Bus::default(), |_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        })
        .await;
    assert_eq!(failed(&response), ["msg-0001", "msg-0002", "msg-0003"]);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[cfg(feature = "local-cloud")]
#[tokio::test]
async fn a_fault_after_the_effect_runs_it_and_still_fails_the_record() {
    let calls = AtomicUsize::new(0);
    let faults = crate::faults::Faults::parse("error_after=1000", "1").unwrap();
    let response = BatchRunner::with_faults(faults)
        .then_publish(batch(), &Bus::default(), |_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        })
        .await;
    assert_eq!(failed(&response), ["msg-0001", "msg-0002", "msg-0003"]);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_record_is_logged_with_its_reason_inside_its_message_span() {
    use crate::telemetry::messages::{MESSAGE_ID, REASON};
    let logs = crate::testing::CapturedLogs::start();
    BatchRunner::default()
        .then_publish(batch(), &Bus::default(), |_| async {
            Err(RecordError::Transient("store down".into()))
        })
        .await;
    let lines = logs.lines();
    let failures: Vec<(&str, &str)> = lines
        .iter()
        .filter_map(|l| {
            let reason = l[REASON].as_str()?;
            let message_id = l["spans"][0][MESSAGE_ID].as_str()?;
            Some((message_id, reason))
        })
        .collect();
    assert!(
        failures.contains(&("msg-0001", "store down")),
        "{failures:?}"
    );
    assert!(
        failures.iter().any(|(id, _)| *id == "msg-0002"),
        "the malformed record's line names it: {failures:?}"
    );
}

#[tokio::test]
async fn failed_records_are_counted_by_reason_and_the_batch_flushes_its_metrics() {
    let captured = crate::telemetry::metrics::capture();
    let response = BatchRunner::default()
        .then_publish(batch(), &Bus::default(), |_| async {
            Err::<Vec<Envelope>, _>(RecordError::Transient("busy".into()))
        })
        .await;
    assert_eq!(response.batch_item_failures.len(), 3);
    use crate::telemetry::metrics::{dim, name};
    let lines = captured.lines(name::RECORDS_FAILED);
    let of = |reason: &str| {
        lines
            .iter()
            .find(|l| l[dim::REASON] == reason)
            .map(|l| l[name::RECORDS_FAILED].clone())
    };
    assert_eq!(of("permanent"), Some(1.into()), "the malformed record");
    assert_eq!(of("transient"), Some(2.into()));
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const XRAY_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

/// The fixture batch with a trace in the first record's envelope and X-Ray's header (only) on
/// the third message.
fn traced_batch() -> SqsEvent {
    let mut event = batch();
    let first = &mut event.records[0];
    let mut body: serde_json::Value = serde_json::from_str(first.body.as_deref().unwrap()).unwrap();
    body["detail"]["metadata"]["traceparent"] = TRACEPARENT.into();
    first.body = Some(body.to_string());
    event.records[2]
        .attributes
        .insert(record::AWS_TRACE_HEADER.to_owned(), XRAY_HEADER.to_owned());
    event
}

#[tokio::test]
async fn the_events_a_record_leads_to_stay_in_its_trace_from_the_envelope_or_the_sqs_attribute() {
    let bus = Bus::default();
    BatchRunner::default()
        .then_publish(traced_batch(), &bus, follow)
        .await;
    let published = bus.published.lock().unwrap();
    let traces: Vec<&str> = published
        .iter()
        .map(|e| e.trace().unwrap().trace_id())
        .collect();
    assert_eq!(
        traces,
        [
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "5759e988bd862e3fe1be46a994272793"
        ]
    );
    assert_ne!(
        published[0].trace().unwrap().parent_id(),
        "00f067aa0ba902b7",
        "the consumer's span is a new one"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn every_line_about_a_record_names_its_trace() {
    let logs = crate::testing::CapturedLogs::start();
    BatchRunner::default()
        .then_publish(traced_batch(), &Bus::default(), |_| async {
            tracing::info!("inside the handler");
            Ok(Vec::new())
        })
        .await;
    let traced: Vec<(String, String)> = logs
        .lines()
        .iter()
        .filter(|l| l["message"] == "inside the handler")
        .map(|l| {
            let span = &l["spans"][0];
            (
                span["message_id"].as_str().unwrap_or_default().to_owned(),
                span["trace_id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        traced,
        [
            (
                "msg-0001".to_owned(),
                "4bf92f3577b34da6a3ce929d0e0e4736".to_owned()
            ),
            (
                "msg-0003".to_owned(),
                "5759e988bd862e3fe1be46a994272793".to_owned()
            )
        ]
    );
}

/// A batch of `n` well-formed records, each a different order.
fn orders(n: usize) -> SqsEvent {
    let mut event = batch();
    let good = event
        .records
        .iter()
        .find(|r| r.message_id.as_deref() != Some("msg-0002"))
        .cloned()
        .unwrap();
    event.records = (0..n)
        .map(|i| {
            let mut record = good.clone();
            record.message_id = Some(format!("msg-{i}"));
            record
        })
        .collect();
    event
}

#[tokio::test]
async fn records_handled_at_once_overlap_up_to_the_limit_and_publish_once() {
    let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let seen = std::sync::Mutex::new(Vec::new());
    let bus = Bus::default();
    let response = BatchRunner::default()
        .handling_at_once(4)
        .then_publish(orders(8), &bus, |envelope| {
            let (running, most, seen) = (&running, &most, &seen);
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // Later records finish first.
                let n = seen.lock().unwrap().len();
                seen.lock().unwrap().push(n);
                tokio::time::sleep(std::time::Duration::from_millis(40 - 4 * n as u64)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(vec![envelope.caused(envelope.event.clone())])
            }
        })
        .await;
    assert!(failed(&response).is_empty());
    assert_eq!(most.load(Ordering::SeqCst), 4, "four at a time, never more");
    assert_eq!(
        bus.calls.load(Ordering::SeqCst),
        1,
        "one publish for the batch"
    );
    assert_eq!(bus.published.lock().unwrap().len(), 8);
}

#[tokio::test]
async fn by_default_records_are_handled_one_after_another() {
    let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
    BatchRunner::default()
        .then_publish(orders(5), &Bus::default(), |_| {
            let (running, most) = (&running, &most);
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(Vec::new())
            }
        })
        .await;
    assert_eq!(most.load(Ordering::SeqCst), 1);
}
