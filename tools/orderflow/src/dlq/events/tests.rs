use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use aws_sdk_sqs::types::MessageAttributeValue;
use orderflow_template::Resolver;
use serde_json::json;

use super::*;
use crate::dlq::all_queues;
use crate::local::{self, moto, resources};

fn buses(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn the_bus_comes_from_the_rule_arn_or_from_the_only_bus_naming_the_queue() {
    let two = buses(&["a", "b"]);
    assert_eq!(
        bus_of(
            Some("arn:aws:events:us-east-1:123456789012:rule/orders-bus/PaymentRule"),
            &two
        )
        .as_deref(),
        Some("orders-bus")
    );
    assert_eq!(
        bus_of(
            Some("arn:aws:events:us-east-1:123456789012:rule/Nightly"),
            &two
        )
        .as_deref(),
        Some("default")
    );
    assert_eq!(bus_of(None, &buses(&["only"])).as_deref(), Some("only"));
    assert_eq!(bus_of(None, &two), None);
    assert_eq!(bus_of(Some("not an arn"), &two), None);
}

#[test]
fn a_dead_lettered_event_becomes_the_same_event_on_its_bus() {
    let body = json!({
        "version": "0", "id": "e-1", "detail-type": "PaymentSucceeded", "source": "orderflow",
        "account": "123456789012", "time": "2025-03-01T10:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {"metadata": {"type": "PaymentSucceeded"}, "data": {}}
    })
    .to_string();
    let entry = entry_of(&body, "orders-bus").unwrap();
    assert_eq!(entry.event_bus_name(), Some("orders-bus"));
    assert_eq!(entry.source(), Some("orderflow"));
    assert_eq!(entry.detail_type(), Some("PaymentSucceeded"));
    let detail: serde_json::Value = serde_json::from_str(entry.detail().unwrap()).unwrap();
    assert_eq!(detail["metadata"]["type"], "PaymentSucceeded");
    assert_eq!(entry.time().map(|t| t.secs()), Some(1_740_823_200));
    assert_eq!(entry.resources(), &[] as &[String]);
    for bad in [
        "not json",
        r#"{"source":"orderflow","detail":{}}"#,
        r#"{"source":"o","detail-type":"X","detail":"text"}"#,
    ] {
        assert!(entry_of(bad, "b").is_err(), "{bad}");
    }
}

/// A moto with the template's resources created as `local up` creates them.
async fn stack(dir: &Path) -> (moto::Moto, resources::Deployment, resources::Clients) {
    let moto = moto::start(local::free_port().unwrap(), dir, None)
        .await
        .unwrap();
    let sdk = local::sdk_config(&moto.endpoint).await;
    let clients = resources::Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        sns: aws_sdk_sns::Client::new(&sdk),
        events: aws_sdk_eventbridge::Client::new(&sdk),
    };
    let template_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml");
    let template = orderflow_template::Template::from_path(template_path).unwrap();
    let deployment = resources::create_all(
        &template,
        &clients,
        "dlqtest",
        local::REGION,
        &BTreeMap::new(),
    )
    .await
    .unwrap();
    (moto, deployment, clients)
}

#[tokio::test]
async fn an_event_in_the_event_delivery_dlq_is_found_and_redriven_onto_its_bus_to_its_queue() {
    let dir = std::env::temp_dir().join(format!("orderflow-event-dlq-{}", uuid::Uuid::new_v4()));
    let (moto, d, clients) = stack(&dir).await;
    let dlq_arn = d.queue_arn("EventDeliveryDLQ").unwrap().to_owned();

    // The local cloud gives every rule target its dead-letter queue, so it is found.
    let found = dead_letter_queues(&clients.events).await.unwrap();
    let bus = d.reference("OrderEventBus").unwrap();
    assert_eq!(
        found.get(&dlq_arn),
        Some(&buses(&[bus.as_str()])),
        "{found:?}"
    );

    // What EventBridge leaves there when it cannot deliver a PaymentSucceeded.
    let body = json!({
        "version": "0", "id": "e-1", "detail-type": "PaymentSucceeded", "source": "orderflow",
        "account": "123456789012", "time": "2025-03-01T10:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {"metadata": {"type": "PaymentSucceeded"}, "data": {"n": 1}}
    })
    .to_string();
    let rule_arn =
        format!("arn:aws:events:us-east-1:123456789012:rule/{bus}/dlqtest-NotificationRule");
    let attribute = |v: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
            .unwrap()
    };
    let dlq_url = d.queue_url("EventDeliveryDLQ").unwrap();
    for message in [body.as_str(), "not an event"] {
        clients
            .sqs
            .send_message()
            .queue_url(dlq_url)
            .message_body(message)
            .message_attributes(RULE_ARN, attribute(&rule_arn))
            .message_attributes("ERROR_CODE", attribute("SQS_PERMISSION_DENIED"))
            .send()
            .await
            .unwrap();
    }

    let queues = all_queues(&clients.sqs).await.unwrap();
    let dead = queues.iter().find(|q| q.arn == dlq_arn).unwrap();
    let done = redrive(&clients.sqs, &clients.events, dead, &found[&dlq_arn])
        .await
        .unwrap();

    assert_eq!(done.moved, 1);
    assert_eq!(done.left.len(), 1, "{done:?}");
    assert!(
        done.left[0].1.contains("not an EventBridge event"),
        "{done:?}"
    );
    let arrived = clients
        .sqs
        .receive_message()
        .queue_url(d.queue_url("NotificationQueue").unwrap())
        .wait_time_seconds(5)
        .send()
        .await
        .unwrap();
    let delivered: serde_json::Value =
        serde_json::from_str(arrived.messages()[0].body().unwrap()).unwrap();
    assert_eq!(delivered["detail-type"], "PaymentSucceeded");
    assert_eq!(delivered["detail"]["data"]["n"], 1);
    drop(moto);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = std::fs::remove_dir_all(dir);
}
