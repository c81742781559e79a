//! Event parsing at the SQS consumers: an SQS message body holding an EventBridge event whose
//! detail is an orderflow envelope (`envelope_from_eventbridge_json`) and, when the input is a
//! whole SQS batch, the `BatchRunner` every consumer's handler runs its batches through. The properties: a body
//! parses or fails with an error whose text (the reason logged for the DLQ) is not empty; a parsed
//! envelope written back as JSON reads as the same envelope; a batch reports exactly the records
//! whose bodies do not parse. Never a panic.
#![no_main]
// A panic is how a fuzz target reports a broken property.
#![allow(clippy::panic)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use aws_lambda_events::sqs::SqsEvent;
use libfuzzer_sys::fuzz_target;
use orderflow_shared::events::{envelope_from_eventbridge_json, Envelope};
use orderflow_shared::sqs_batch::BatchRunner;

fuzz_target!(|data: &[u8]| {
    // SQS bodies are text; the lossy view lets every input reach the parser.
    check_body(&String::from_utf8_lossy(data));
    if let Ok(batch) = serde_json::from_slice::<SqsEvent>(data) {
        check_batch(batch);
    }
});

fn check_body(body: &str) -> bool {
    match envelope_from_eventbridge_json(body) {
        Ok(envelope) => {
            check_round_trip(&envelope);
            true
        }
        Err(e) => {
            if e.to_string().trim().is_empty() {
                panic!("an event error without a reason: {e:?}");
            }
            false
        }
    }
}

fn check_round_trip(envelope: &Envelope) {
    let json = match envelope.to_json() {
        Ok(json) => json,
        Err(e) => panic!("a parsed envelope does not serialize: {e}"),
    };
    match Envelope::from_json(&json) {
        Ok(again) if &again == envelope => {}
        other => panic!("an envelope does not read back as itself: {json} -> {other:?}"),
    }
}

fn check_batch(batch: SqsEvent) {
    let expected: Vec<String> = batch
        .records
        .iter()
        .filter(|r| !check_body(r.body.as_deref().unwrap_or_default()))
        .map(|r| r.message_id.clone().unwrap_or_default())
        .collect();
    let runner = BatchRunner::default();
    let response = run(runner.together(batch, |envelopes| async move {
        envelopes.iter().map(|_| Ok(())).collect()
    }));
    let failed: Vec<String> = response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    if failed != expected {
        panic!("the batch reported {failed:?}, but the unreadable records are {expected:?}");
    }
}

/// Without faults the batch never waits, so one poll finishes it; no runtime needed.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the batch waited although no fault is active"),
    }
}
