//! Per-event cost of the codecs every function runs (`make bench` reports it): parsing and
//! validating a `POST /orders` body, and encoding/decoding the event envelope.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use orderflow_shared::api::parse_place_order;
use orderflow_shared::events::{envelope_from_eventbridge_json, Envelope};

type Error = Box<dyn std::error::Error>;

/// `events/<name>`, read directly: the shared crate's benches build without its `testing` code.
fn fixture(name: &str) -> Result<serde_json::Value, Error> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

/// The request body of `events/apigw-post-order.json`.
fn post_order_body() -> Result<String, Error> {
    let request = fixture("apigw-post-order.json")?;
    request["body"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "apigw-post-order.json has no body".into())
}

/// The SQS body of `events/sqs-order-placed.json`: an EventBridge event around an envelope.
fn order_placed_body() -> Result<String, Error> {
    fixture("sqs-order-placed.json")?["Records"][0]["body"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "sqs-order-placed.json has no record body".into())
}

fn main() -> Result<(), Error> {
    let body = post_order_body()?;
    parse_place_order(body.as_bytes()).map_err(|e| format!("the fixture is refused: {e:?}"))?;
    let sqs_body = order_placed_body()?;
    let envelope = envelope_from_eventbridge_json(&sqs_body)?;
    let encoded = envelope.to_json()?;
    Envelope::from_json(&encoded)?;

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("validate-order");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_place_order", |b| {
        b.iter(|| parse_place_order(black_box(body.as_bytes())))
    });
    group.finish();

    let mut group = c.benchmark_group("events");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode_envelope", |b| {
        b.iter(|| black_box(&envelope).to_json())
    });
    group.bench_function("decode_envelope", |b| {
        b.iter(|| Envelope::from_json(black_box(&encoded)))
    });
    group.bench_function("decode_sqs_body", |b| {
        b.iter(|| envelope_from_eventbridge_json(black_box(&sqs_body)))
    });
    group.finish();

    c.final_summary();
    Ok(())
}
