//! The `Queues` wrapper against moto: what the local event source mapping and DLQ tools rely on.

use std::sync::Arc;

use aws_sdk_sqs::types::QueueAttributeName;
use chrono::Utc;
use orderflow_shared::adapters::sqs::{QueueError, Queues, ReceiveOptions, RedrivePolicy};

use crate::support::{self, Moto};

struct Fixture {
    queues: Queues,
    client: aws_sdk_sqs::Client,
    _moto: Arc<Moto>,
}

async fn fixture() -> Fixture {
    let moto = support::moto();
    let client = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    Fixture {
        queues: Queues::new(client.clone()),
        client,
        _moto: moto,
    }
}

fn quick(visibility_timeout: Option<i32>) -> ReceiveOptions {
    ReceiveOptions {
        max_messages: 10,
        wait_seconds: 1,
        visibility_timeout,
    }
}

#[tokio::test]
async fn a_sent_message_is_received_with_its_attributes_and_receive_count_then_deleted() {
    let f = fixture().await;
    let name = support::unique("inventory");
    let (url, _) = support::sqs::create_queue(&f.client, &name, &[]).await;
    assert_eq!(f.queues.queue_url(&name).await.unwrap(), url);

    let before = Utc::now() - chrono::Duration::seconds(1);
    let id = f
        .queues
        .send(
            &url,
            r#"{"hello":"world"}"#,
            &[("reason", "bad json"), ("source", "test")],
        )
        .await
        .unwrap();
    let first = f.queues.receive(&url, quick(Some(30))).await.unwrap();
    assert_eq!(first.len(), 1);
    let m = &first[0];
    assert_eq!(m.message_id, id);
    assert_eq!(m.body, r#"{"hello":"world"}"#);
    assert_eq!(m.receive_count, 1);
    assert!(m.sent_at.unwrap() >= before, "{:?}", m.sent_at);
    assert_eq!(m.attributes["reason"], "bad json");
    assert_eq!(m.attributes["source"], "test");
    assert_eq!(m.system_attributes["ApproximateReceiveCount"], "1");
    assert!(m.md5_of_body.is_some());

    // In flight: not received again until its visibility is given back.
    assert!(f
        .queues
        .receive(&url, quick(None))
        .await
        .unwrap()
        .is_empty());
    f.queues
        .change_visibility(&url, &m.receipt_handle, 0)
        .await
        .unwrap();
    let second = f.queues.receive(&url, quick(Some(30))).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].receive_count, 2);

    let failed = f
        .queues
        .delete_batch(
            &url,
            &[(
                second[0].message_id.clone(),
                second[0].receipt_handle.clone(),
            )],
        )
        .await
        .unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    assert!(f
        .queues
        .receive(&url, quick(None))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn deleting_more_than_ten_goes_in_batches_and_a_bad_receipt_is_reported_by_message_id() {
    let f = fixture().await;
    let (url, _) = support::sqs::create_queue(&f.client, &support::unique("payment"), &[]).await;
    for i in 0..12 {
        f.queues.send(&url, &format!("m{i}"), &[]).await.unwrap();
    }
    let mut received = Vec::new();
    while received.len() < 12 {
        let batch = f.queues.receive(&url, quick(Some(60))).await.unwrap();
        assert!(!batch.is_empty(), "only {} of 12 received", received.len());
        received.extend(batch);
    }
    let mut handles: Vec<(String, String)> = received
        .iter()
        .map(|m| (m.message_id.clone(), m.receipt_handle.clone()))
        .collect();
    handles.push(("not-a-message".into(), "not-a-receipt-handle".into()));
    let failed = f.queues.delete_batch(&url, &handles).await.unwrap();
    assert_eq!(failed, vec!["not-a-message".to_owned()]);
    let attrs = f.queues.attributes(&url).await.unwrap();
    assert_eq!(attrs.approximate_messages, 0);
    assert_eq!(attrs.approximate_messages_not_visible, 0);
}

#[tokio::test]
async fn queue_attributes_give_the_redrive_policy_and_the_message_counts() {
    let f = fixture().await;
    let (dlq_url, dlq_arn) =
        support::sqs::create_queue(&f.client, &support::unique("inventory-dlq"), &[]).await;
    let policy = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1});
    let (url, arn) = support::sqs::create_queue(
        &f.client,
        &support::unique("inventory"),
        &[
            (QueueAttributeName::RedrivePolicy, policy.to_string()),
            (QueueAttributeName::VisibilityTimeout, "180".into()),
        ],
    )
    .await;
    let attrs = f.queues.attributes(&url).await.unwrap();
    assert_eq!(attrs.arn.as_deref(), Some(arn.as_str()));
    assert_eq!(
        attrs.redrive_policy,
        Some(RedrivePolicy {
            dead_letter_target_arn: dlq_arn.clone(),
            max_receive_count: 1
        })
    );
    assert_eq!(attrs.visibility_timeout_seconds, Some(180));
    assert_eq!(
        f.queues.attributes(&dlq_url).await.unwrap().redrive_policy,
        None
    );

    f.queues.send(&url, "poison", &[]).await.unwrap();
    f.queues.send(&url, "fine", &[]).await.unwrap();
    assert_eq!(
        f.queues
            .attributes(&url)
            .await
            .unwrap()
            .approximate_messages,
        2
    );

    // Received once and given back: past maxReceiveCount, the next receive moves it to the DLQ.
    let first = f.queues.receive(&url, quick(Some(0))).await.unwrap();
    assert!(!first.is_empty());
    let _ = f.queues.receive(&url, quick(Some(0))).await.unwrap();
    let _ = f.queues.receive(&url, quick(Some(0))).await.unwrap();
    let dead = f.queues.attributes(&dlq_url).await.unwrap();
    assert_eq!(
        dead.approximate_messages, 2,
        "both messages were received once and not deleted"
    );
}

#[tokio::test]
async fn a_missing_queue_is_reported_as_not_found() {
    let f = fixture().await;
    assert_eq!(
        f.queues.queue_url("no-such-queue").await,
        Err(QueueError::NotFound("no-such-queue".into()))
    );
}
