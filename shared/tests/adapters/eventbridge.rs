//! `EventBridgePublisher`: against moto (a real bus, a rule, an SQS target), and against
//! replayed HTTP for partial failures, which moto cannot produce for well-formed entries.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_eventbridge::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_eventbridge::types::Target;
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use orderflow_shared::adapters::eventbridge::{EntryRetry, EventBridgePublisher};
use orderflow_shared::domain::{
    Currency, CustomerId, Email, Money, OrderId, PaymentToken, Quantity, Sku,
};
use orderflow_shared::events::{
    envelope_from_eventbridge_json, DomainEvent, Envelope, OrderPlaced, EVENT_SOURCE,
};
use orderflow_shared::ports::{EventPublisher, PublishError};
use serde_json::{json, Value};

use crate::support::{self, Moto};

fn order_placed() -> Envelope {
    let order_id = OrderId::new();
    Envelope::new(
        DomainEvent::OrderPlaced(OrderPlaced {
            order_id,
            customer_id: CustomerId::parse("cust-1").unwrap(),
            email: Email::parse("ana@example.com").unwrap(),
            lines: vec![orderflow_shared::domain::OrderLine {
                sku: Sku::parse("SKU-MUG").unwrap(),
                quantity: Quantity::new(2).unwrap(),
                unit_price: Money::new(1250, Currency::EUR),
            }],
            total: Money::new(2500, Currency::EUR),
            payment_token: PaymentToken::parse("tok_visa").unwrap(),
        }),
        None,
    )
}

/// A bus with a rule sending every orderflow event to a fresh queue.
struct Routed {
    bus: String,
    events: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    _moto: Arc<Moto>,
}

async fn routed() -> Routed {
    let moto = support::moto();
    let config = moto.sdk_config().await;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let bus = support::unique("orderflow");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let (queue_url, queue_arn) =
        support::sqs::create_queue(&sqs, &support::unique("inventory"), &[]).await;
    let rule = support::unique("all-orderflow");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus)
        .event_pattern(json!({"source": [EVENT_SOURCE]}).to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus)
        .targets(
            Target::builder()
                .id("queue")
                .arn(queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    Routed {
        bus,
        events,
        sqs,
        queue_url,
        _moto: moto,
    }
}

#[tokio::test]
async fn a_published_event_reaches_a_queue_through_a_rule_and_its_detail_round_trips() {
    let r = routed().await;
    let publisher = EventBridgePublisher::new(r.events.clone(), &r.bus);
    let envelope = order_placed();
    publisher
        .publish(std::slice::from_ref(&envelope))
        .await
        .unwrap();

    let bodies =
        support::sqs::receive_bodies(&r.sqs, &r.queue_url, 1, Duration::from_secs(10)).await;
    assert_eq!(bodies.len(), 1);
    let raw: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(raw["source"], EVENT_SOURCE);
    assert_eq!(raw["detail-type"], "OrderPlaced");
    assert_eq!(
        envelope_from_eventbridge_json(&bodies[0]).unwrap(),
        envelope
    );
}

#[tokio::test]
async fn more_than_ten_events_are_sent_in_calls_of_at_most_ten() {
    // moto refuses a PutEvents call of more than ten entries, as EventBridge does.
    let r = routed().await;
    let publisher = EventBridgePublisher::new(r.events.clone(), &r.bus);
    let envelopes: Vec<Envelope> = (0..23).map(|_| order_placed()).collect();
    publisher.publish(&envelopes).await.unwrap();

    let bodies =
        support::sqs::receive_bodies(&r.sqs, &r.queue_url, 23, Duration::from_secs(20)).await;
    let mut received: Vec<String> = bodies
        .iter()
        .map(|b| envelope_from_eventbridge_json(b).unwrap().metadata.event_id)
        .collect();
    let mut sent: Vec<String> = envelopes
        .iter()
        .map(|e| e.metadata.event_id.clone())
        .collect();
    received.sort();
    sent.sort();
    assert_eq!(received, sent);
}

#[tokio::test]
async fn publishing_nothing_makes_no_call_and_a_missing_bus_is_unavailable() {
    let r = routed().await;
    let missing = EventBridgePublisher::new(r.events.clone(), "no-such-bus");
    missing.publish(&[]).await.unwrap();
    let err = missing.publish(&[order_placed()]).await.unwrap_err();
    let PublishError::Unavailable(message) = err else {
        panic!("expected Unavailable, got {err:?}")
    };
    assert!(message.contains("no-such-bus"), "{message}");
    assert!(
        message.contains("ResourceNotFound"),
        "the cause is kept: {message}"
    );
}

// ----- replayed HTTP ------------------------------------------------------------------------

fn put_events_response(body: Value) -> ReplayEvent {
    let request = http::Request::builder()
        .uri("https://events.us-east-1.amazonaws.com/")
        .body(SdkBody::empty())
        .unwrap();
    let response = http::Response::builder()
        .status(200)
        .header("content-type", "application/x-amz-json-1.1")
        .body(SdkBody::from(body.to_string()))
        .unwrap();
    ReplayEvent::new(request, response)
}

fn replayed(responses: Vec<ReplayEvent>) -> (EventBridgePublisher, StaticReplayClient) {
    let http = StaticReplayClient::new(responses);
    let config = aws_sdk_eventbridge::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("akid", "secret", None, None, "test"))
        .http_client(http.clone())
        .build();
    let publisher =
        EventBridgePublisher::new(aws_sdk_eventbridge::Client::from_conf(config), "orderflow")
            .with_retry(EntryRetry {
                max_attempts: 3,
                base_delay: Duration::from_millis(1),
            });
    (publisher, http)
}

/// The `Entries` of each request the client sent, as JSON.
fn sent_entries(http: &StaticReplayClient) -> Vec<Vec<Value>> {
    http.actual_requests()
        .map(|r| {
            let body: Value = serde_json::from_slice(r.body().bytes().unwrap()).unwrap();
            body["Entries"].as_array().unwrap().clone()
        })
        .collect()
}

fn detail_event_id(entry: &Value) -> String {
    let detail: Value = serde_json::from_str(entry["Detail"].as_str().unwrap()).unwrap();
    detail["metadata"]["eventId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn after_a_partial_failure_only_the_failed_entries_are_sent_again() {
    let (publisher, http) = replayed(vec![
        put_events_response(json!({
            "FailedEntryCount": 2,
            "Entries": [
                {"EventId": "e-1"},
                {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"},
                {"EventId": "e-3"},
                {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}
            ]
        })),
        put_events_response(json!({
            "FailedEntryCount": 0,
            "Entries": [{"EventId": "e-2"}, {"EventId": "e-4"}]
        })),
    ]);
    let envelopes: Vec<Envelope> = (0..4).map(|_| order_placed()).collect();
    publisher.publish(&envelopes).await.unwrap();

    let sent = sent_entries(&http);
    assert_eq!(sent.len(), 2, "one retry call");
    assert_eq!(sent[0].len(), 4);
    let retried: Vec<String> = sent[1].iter().map(detail_event_id).collect();
    assert_eq!(
        retried,
        vec![
            envelopes[1].metadata.event_id.clone(),
            envelopes[3].metadata.event_id.clone()
        ]
    );
    let first = &sent[0][0];
    assert_eq!(first["Source"], EVENT_SOURCE);
    assert_eq!(first["DetailType"], "OrderPlaced");
    assert_eq!(first["EventBusName"], "orderflow");
    assert_eq!(
        first["Detail"].as_str().unwrap(),
        envelopes[0].to_json().unwrap()
    );
}

#[tokio::test]
async fn an_entry_still_failing_after_the_last_attempt_is_rejected_naming_its_error_code() {
    let failing = || {
        put_events_response(json!({
            "FailedEntryCount": 1,
            "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "rate exceeded"}]
        }))
    };
    let (publisher, http) = replayed(vec![
        put_events_response(json!({
            "FailedEntryCount": 1,
            "Entries": [{"EventId": "e-1"}, {"ErrorCode": "ThrottlingException", "ErrorMessage": "rate exceeded"}]
        })),
        failing(),
        failing(),
    ]);
    let err = publisher
        .publish(&[order_placed(), order_placed()])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PublishError::Rejected {
            failed: 1,
            total: 2,
            reason: "1 × ThrottlingException (rate exceeded)".into()
        }
    );
    let sent = sent_entries(&http);
    assert_eq!(
        sent.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![2, 1, 1],
        "three attempts, the last two with the failed entry only"
    );
}

#[tokio::test]
async fn an_entry_refused_as_malformed_is_not_retried() {
    let (publisher, http) = replayed(vec![put_events_response(json!({
        "FailedEntryCount": 1,
        "Entries": [{"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}]
    }))]);
    let err = publisher.publish(&[order_placed()]).await.unwrap_err();
    assert!(
        matches!(&err, PublishError::Rejected { failed: 1, total: 1, reason } if reason.contains("MalformedDetail")),
        "{err:?}"
    );
    assert_eq!(sent_entries(&http).len(), 1);
}

#[tokio::test]
async fn failures_across_calls_of_ten_are_counted_together() {
    let ok = |n: usize| {
        put_events_response(json!({
            "FailedEntryCount": 0,
            "Entries": (0..n).map(|i| json!({"EventId": format!("e-{i}")})).collect::<Vec<_>>()
        }))
    };
    let mut second: Vec<Value> = (0..2)
        .map(|i| json!({"EventId": format!("x-{i}")}))
        .collect();
    second.push(json!({"ErrorCode": "AccessDeniedException", "ErrorMessage": "denied"}));
    let (publisher, http) = replayed(vec![
        ok(10),
        put_events_response(json!({"FailedEntryCount": 1, "Entries": second})),
    ]);
    let envelopes: Vec<Envelope> = (0..13).map(|_| order_placed()).collect();
    let err = publisher.publish(&envelopes).await.unwrap_err();
    assert_eq!(
        err,
        PublishError::Rejected {
            failed: 1,
            total: 13,
            reason: "1 × AccessDeniedException (denied)".into()
        }
    );
    assert_eq!(
        sent_entries(&http).iter().map(Vec::len).collect::<Vec<_>>(),
        vec![10, 3]
    );
}
