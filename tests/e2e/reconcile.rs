//! End to end: reconcile-orders finishes what the chain left unfinished (DESIGN §6, "No order
//! left behind"). The cloud runs it every 2 s with bounds of seconds (template parameters, as
//! `sam deploy --parameter-overrides` would set them); without it, each order here would stay
//! open for good.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use orderflow_shared::domain::{Order, OrderId, Sku};
use orderflow_shared::ports::{Catalog, ChargeOutcome, PaymentLedger};
use serde_json::Value;

use crate::support::events::stored_order;
use crate::support::{order_body, statuses, Cloud, CloudOptions};

/// A cloud whose reconciler runs every 2 s with these parameters.
fn reconciling(parameters: &[(&str, &str)]) -> CloudOptions {
    CloudOptions {
        parameters: parameters
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        schedule_period: Some(2),
        ..CloudOptions::default()
    }
}

fn moved_at(order: &Value, status: &str) -> DateTime<Utc> {
    let entry = order["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["status"] == status)
        .unwrap_or_else(|| panic!("no {status} in {order}"));
    entry["at"].as_str().unwrap().parse().unwrap()
}

/// What `POST /orders` without an `Idempotency-Key` leaves behind when its `OrderPlaced` is
/// lost after the order was stored (the publish failed, timed out or its answer was lost, and
/// the client got a 503): the order `PENDING` under a random id, and no event. Stored with the
/// production adapter, priced from the catalog, as validate-order stores it.
async fn stored_without_its_event(cloud: &Cloud, sku: &str, quantity: u32) -> Order {
    let store = cloud.store().await;
    let sku = Sku::parse(sku).unwrap();
    let product = store.products(std::slice::from_ref(&sku)).await.unwrap()[0].clone();
    stored_order(&store, sku, quantity, product.price).await
}

/// The reconciler's lines about an order it republished for.
fn republished_for(cloud: &Cloud, order_id: &str) -> Vec<String> {
    cloud
        .function_logs("reconcile-orders")
        .iter()
        .filter(|l| l["order_id"] == order_id)
        .filter_map(|l| l["event"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_keyless_order_whose_order_placed_was_lost_is_finished_and_its_customer_told() {
    let cloud = Cloud::start_with(reconciling(&[("PendingAfterSeconds", "3")])).await;
    let before = cloud.stock("SKU-MUG-350").await;
    let order = stored_without_its_event(&cloud, "SKU-MUG-350", 1).await;
    let id = order.order_id.to_string();

    let done = cloud
        .wait_for_status(&id, "CONFIRMED", Duration::from_secs(90))
        .await;
    assert_eq!(statuses(&done), ["PENDING", "RESERVED", "CONFIRMED"]);
    assert_eq!(cloud.stock("SKU-MUG-350").await, before - 1);
    let told = cloud
        .notifications_for(&id, 1, Duration::from_secs(30))
        .await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["kind"], "OrderConfirmed");
    let republished = republished_for(&cloud, &id);
    assert!(
        !republished.is_empty() && republished.iter().all(|e| e == "OrderPlaced"),
        "{republished:?}"
    );
}

/// Waits until the queue holds at least one message (visible or not).
async fn wait_for_message_in(cloud: &Cloud, queue: &str, within: Duration) {
    let sqs = cloud.sqs().await;
    let url = cloud.queue_url(queue).await;
    let deadline = Instant::now() + within;
    loop {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .unwrap();
        let depth = attributes
            .attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            })
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if depth > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nothing reached {queue} in {within:?}\n{}",
            cloud.output().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn a_reservation_whose_payment_was_dead_lettered_expires_its_stock_comes_back_and_its_customer_is_told(
) {
    const TTL_SECONDS: i64 = 20;
    let ttl = TTL_SECONDS.to_string();
    let cloud = Cloud::start_with(reconciling(&[("ReservationTtlSeconds", &ttl)])).await;
    let before = cloud.stock("SKU-HOODIE-M").await;
    let (status, accepted) = cloud
        .place(&order_body("SKU-HOODIE-M", 2, "tok_gateway_error"))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["orderId"].as_str().unwrap().to_owned();
    cloud
        .wait_for_status(&id, "RESERVED", Duration::from_secs(30))
        .await;
    assert_eq!(cloud.stock("SKU-HOODIE-M").await, before - 2);

    // The provider keeps failing: the payment message is tried 5 times (2 s apart here) and
    // dead-lettered. Nothing else would ever move the order, nor give the stock back.
    wait_for_message_in(&cloud, "PaymentDLQ", Duration::from_secs(90)).await;

    let done = cloud
        .wait_for_status(&id, "CANCELLED", Duration::from_secs(120))
        .await;
    assert_eq!(
        statuses(&done),
        ["PENDING", "RESERVED", "PAYMENT_FAILED", "CANCELLED"]
    );
    let held = moved_at(&done, "PAYMENT_FAILED") - moved_at(&done, "RESERVED");
    assert!(
        held >= chrono::Duration::seconds(TTL_SECONDS),
        "expired after {held}, before its TTL"
    );
    assert_eq!(cloud.stock("SKU-HOODIE-M").await, before);
    let told = cloud
        .notifications_for(&id, 1, Duration::from_secs(30))
        .await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["kind"], "OrderCancelled");
    // Declined, never charged.
    let entry = cloud
        .store()
        .await
        .charge_for(&OrderId::parse(&id).unwrap())
        .await
        .unwrap()
        .expect("a ledger entry");
    assert!(
        matches!(entry.outcome, ChargeOutcome::Declined { .. }),
        "{entry:?}"
    );
    assert!(republished_for(&cloud, &id).contains(&"ReservationExpired".to_owned()));
}
