//! `SnsNotifier` against moto: a topic with SQS subscribers, as the customer channels would be.

use std::time::Duration;

use orderflow_shared::adapters::sns::SnsNotifier;
use orderflow_shared::adapters::sqs::{Queues, ReceiveOptions};
use orderflow_shared::domain::{Email, OrderId};
use orderflow_shared::events::{Notification, NotificationKind};
use orderflow_shared::ports::Notifier;
use serde_json::{json, Value};

use crate::support;

fn notification(kind: NotificationKind, subject: &str) -> Notification {
    Notification {
        kind,
        order_id: OrderId::new(),
        email: Email::parse("ana@example.com").unwrap(),
        subject: subject.into(),
        text: "Thank you for your order.".into(),
    }
}

#[tokio::test]
async fn a_notification_reaches_sqs_subscribers_with_its_kind_channel_and_id_attributes() {
    let moto = support::moto();
    let config = moto.sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let topic_arn = sns
        .create_topic()
        .name(support::unique("customer-notifications"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let subscribe = |queue_arn: String, attributes: Vec<(&'static str, String)>| {
        let mut request = sns
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn);
        for (k, v) in attributes {
            request = request.attributes(k, v);
        }
        request.send()
    };
    // One subscriber gets the SNS envelope, one the raw message, one filters on `kind`.
    let (wrapped_url, wrapped_arn) =
        support::sqs::create_queue(&sqs, &support::unique("wrapped"), &[]).await;
    let (raw_url, raw_arn) = support::sqs::create_queue(&sqs, &support::unique("raw"), &[]).await;
    let (cancelled_url, cancelled_arn) =
        support::sqs::create_queue(&sqs, &support::unique("cancelled-only"), &[]).await;
    subscribe(wrapped_arn, vec![]).await.unwrap();
    subscribe(raw_arn, vec![("RawMessageDelivery", "true".into())])
        .await
        .unwrap();
    subscribe(
        cancelled_arn,
        vec![(
            "FilterPolicy",
            json!({"kind": ["OrderCancelled"]}).to_string(),
        )],
    )
    .await
    .unwrap();

    let notifier = SnsNotifier::new(sns.clone(), &topic_arn);
    let long_subject = format!("Your order is confirmed — {}", "é".repeat(120));
    let sent = notification(NotificationKind::OrderConfirmed, &long_subject);
    let message_id = notifier.notify(&sent).await.unwrap();
    assert!(!message_id.is_empty());

    let bodies = support::sqs::receive_bodies(&sqs, &wrapped_url, 1, Duration::from_secs(10)).await;
    assert_eq!(bodies.len(), 1);
    let envelope: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(envelope["MessageId"], message_id.as_str());
    let subject = envelope["Subject"].as_str().unwrap();
    assert_eq!(subject.chars().count(), 99);
    assert!(long_subject.starts_with(subject));
    let received: Notification =
        serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    assert_eq!(received, sent);
    assert_eq!(
        envelope["MessageAttributes"],
        json!({
            "kind": {"Type": "String", "Value": "OrderConfirmed"},
            "channel": {"Type": "String", "Value": "email"},
            "notificationId": {"Type": "String", "Value": format!("{}:OrderConfirmed", sent.order_id)}
        })
    );

    // Raw delivery turns SNS message attributes into SQS message attributes.
    let queues = Queues::new(sqs.clone());
    let raw = queues
        .receive(
            &raw_url,
            ReceiveOptions {
                max_messages: 10,
                wait_seconds: 5,
                visibility_timeout: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(raw.len(), 1);
    assert_eq!(
        serde_json::from_str::<Notification>(&raw[0].body).unwrap(),
        sent
    );
    assert_eq!(raw[0].attributes["kind"], "OrderConfirmed");
    assert_eq!(raw[0].attributes["channel"], "email");
    assert_eq!(raw[0].attributes["notificationId"], sent.id());

    // The filtered subscriber sees only what its policy names.
    let cancelled = notification(NotificationKind::OrderCancelled, "Your order is cancelled");
    notifier.notify(&cancelled).await.unwrap();
    let bodies =
        support::sqs::receive_bodies(&sqs, &cancelled_url, 2, Duration::from_secs(3)).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let envelope: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(envelope["Subject"], "Your order is cancelled");
    assert_eq!(
        serde_json::from_str::<Notification>(envelope["Message"].as_str().unwrap()).unwrap(),
        cancelled
    );
}

#[tokio::test]
async fn publishing_to_a_missing_topic_is_unavailable_with_the_cause() {
    let moto = support::moto();
    let config = moto.sdk_config().await;
    let notifier = SnsNotifier::new(
        aws_sdk_sns::Client::new(&config),
        "arn:aws:sns:us-east-1:123456789012:no-such-topic",
    );
    let err = notifier
        .notify(&notification(NotificationKind::OrderRejected, "Rejected"))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("no-such-topic"), "{message}");
    assert!(message.contains("NotFound"), "the cause is kept: {message}");
}

#[tokio::test]
async fn many_notifications_go_out_in_batches_of_ten_each_with_its_own_message_id_and_attributes() {
    let moto = support::moto();
    let config = moto.sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let topic_arn = sns
        .create_topic()
        .name(support::unique("customer-notifications"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let (url, arn) = support::sqs::create_queue(&sqs, &support::unique("all"), &[]).await;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(arn)
        .send()
        .await
        .unwrap();
    let notifier = SnsNotifier::new(sns.clone(), &topic_arn);
    let sent: Vec<Notification> = (0..12)
        .map(|i| {
            let kind = if i % 2 == 0 {
                NotificationKind::OrderConfirmed
            } else {
                NotificationKind::OrderRejected
            };
            notification(kind, &format!("Order {i}"))
        })
        .collect();

    let answers = notifier.notify_many(&sent).await;

    let ids: Vec<String> = answers.into_iter().map(Result::unwrap).collect();
    assert_eq!(ids.len(), 12);
    assert_eq!(
        ids.iter().collect::<std::collections::HashSet<_>>().len(),
        12
    );
    let bodies = support::sqs::receive_bodies(&sqs, &url, 12, Duration::from_secs(10)).await;
    assert_eq!(bodies.len(), 12);
    for body in bodies {
        let envelope: Value = serde_json::from_str(&body).unwrap();
        let received: Notification =
            serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
        let i = sent.iter().position(|n| *n == received).unwrap();
        assert_eq!(
            envelope["MessageId"],
            ids[i].as_str(),
            "ids answer in order"
        );
        assert_eq!(envelope["Subject"], format!("Order {i}"));
        assert_eq!(
            envelope["MessageAttributes"]["kind"]["Value"],
            sent[i].kind.as_str()
        );
        assert_eq!(
            envelope["MessageAttributes"]["notificationId"]["Value"],
            sent[i].id()
        );
    }
}

#[tokio::test]
async fn a_batch_to_a_missing_topic_fails_every_entry() {
    let moto = support::moto();
    let config = moto.sdk_config().await;
    let notifier = SnsNotifier::new(
        aws_sdk_sns::Client::new(&config),
        "arn:aws:sns:us-east-1:123456789012:missing",
    );
    let sent = vec![
        notification(NotificationKind::OrderConfirmed, "a"),
        notification(NotificationKind::OrderConfirmed, "b"),
    ];
    let answers = notifier.notify_many(&sent).await;
    assert_eq!(answers.len(), 2);
    assert!(answers.iter().all(Result::is_err), "{answers:?}");
}
