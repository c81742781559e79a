//! `POST /orders` with an `Idempotency-Key`: the same order and answer again, a `409` for
//! another body, a heal after a failed publish.

use super::*;

#[tokio::test]
async fn the_same_idempotency_key_and_body_get_the_same_order_and_answer() {
    let f = function();
    let first = call(&f, with_key(fixture("apigw-post-order.json"), "key-1")).await;
    let second = call(&f, with_key(fixture("apigw-post-order.json"), "key-1")).await;
    assert_eq!(first.status(), 202);
    assert_eq!(second.status(), 202);
    assert_eq!(body_json(&first), body_json(&second));
    assert_eq!(
        first.headers()[header::LOCATION],
        second.headers()[header::LOCATION]
    );
    assert_eq!(f.store.orders().len(), 1);
    // Still PENDING: published again, in case the first publish was lost.
    let published = f.events.published();
    assert_eq!(published.len(), 2);
    assert!(published.iter().all(|e| e.event == published[0].event));
}

#[tokio::test]
async fn a_repeat_after_the_order_moved_on_is_answered_without_publishing_again() {
    use orderflow_shared::ports::OrderRepository;
    let f = function();
    let first = call(&f, with_key(fixture("apigw-post-order.json"), "key-2")).await;
    let id = f.store.orders()[0].order_id.clone();
    f.store
        .transition(&id, OrderStatus::Pending, OrderStatus::Rejected, Utc::now())
        .await
        .unwrap();
    let second = call(&f, with_key(fixture("apigw-post-order.json"), "key-2")).await;
    assert_eq!(second.status(), 202);
    assert_eq!(body_json(&first), body_json(&second));
    assert_eq!(f.events.published().len(), 1);
}

#[tokio::test]
async fn the_same_idempotency_key_with_another_body_is_a_409_problem() {
    let f = function();
    call(&f, with_key(fixture("apigw-post-order.json"), "key-1")).await;
    let other = call(
        &f,
        with_key(fixture("apigw-post-order-base64.json"), "key-1"),
    )
    .await;
    // Same JSON, but a different body on the wire (base64 decoding aside, it is equal):
    assert_eq!(other.status(), 202, "the decoded body is the same");
    let mut changed = fixture("apigw-post-order.json");
    *changed.body_mut() = Body::Text(
        r#"{"customerId":"cust-42","email":"ana@example.com","items":[{"sku":"SKU-MUG-350","quantity":3}],"paymentToken":"tok_visa"}"#.into(),
    );
    let conflict = call(&f, with_key(changed, "key-1")).await;
    assert_problem(&conflict, 409, "idempotency-key-reused");
    assert_eq!(f.store.orders().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_requests_with_one_key_make_one_order() {
    let f = std::sync::Arc::new(function());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let f = f.clone();
        tasks.spawn(async move {
            call(&f, with_key(fixture("apigw-post-order.json"), "flash-1"))
                .await
                .status()
        });
    }
    let statuses = tasks.join_all().await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    assert_eq!(f.store.orders().len(), 1);
    // Each repeat that found the order PENDING published it again: one order, many copies.
    let published = f.events.published();
    assert!(!published.is_empty());
    assert!(published.iter().all(|e| e.event == published[0].event));
}

#[tokio::test]
async fn a_retry_after_a_failed_publish_heals_the_same_order() {
    let f = function();
    f.events.fail_next(1);
    let failed = call(&f, with_key(fixture("apigw-post-order.json"), "key-9")).await;
    assert_problem(&failed, 503, "unavailable");
    assert_eq!(f.store.orders().len(), 1, "stored, not yet published");
    let retry = call(&f, with_key(fixture("apigw-post-order.json"), "key-9")).await;
    assert_eq!(retry.status(), 202);
    assert_eq!(
        f.store.orders().len(),
        1,
        "the same order, not a second one"
    );
    assert_eq!(f.events.published().len(), 1);
    assert_eq!(
        body_json(&retry)["orderId"],
        f.store.orders()[0].order_id.as_str()
    );
}

#[tokio::test]
async fn an_unusable_idempotency_key_is_a_400_problem() {
    let f = function();
    let long = "k".repeat(256);
    assert_problem(
        &call(&f, with_key(fixture("apigw-post-order.json"), &long)).await,
        400,
        "invalid-idempotency-key",
    );
}
