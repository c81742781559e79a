//! `ReservationExpired`: a reservation held past its bound is settled as a decline ("reservation
//! expired": the stock is released and the customer told by the steps after `PaymentFailed`)
//! unless the order was charged; a charged order is confirmed; nothing is ever charged here.

use super::*;
use orderflow_shared::idempotency::{claim_attempt, Intent};

const EXPIRED: &str = "sqs-reservation-expired.json";
const RESERVED: &str = "sqs-inventory-reserved.json";

fn ledger_outcome(f: &Fixture) -> ChargeOutcome {
    let entries = f.store.ledger_entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0].outcome.clone()
}

fn failed_reasons(f: &Fixture) -> Vec<String> {
    f.events
        .published()
        .iter()
        .filter_map(|e| match &e.event {
            DomainEvent::PaymentFailed(p) => Some(p.reason.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn an_expired_reservation_never_charged_is_declined_and_publishes_payment_failed() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    let response = f.handle_batch(fixture(EXPIRED)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(status(&f, ORDER_ID), OrderStatus::PaymentFailed);
    assert_eq!(
        ledger_outcome(&f),
        ChargeOutcome::Declined {
            reason: RESERVATION_EXPIRED.into()
        }
    );
    assert_eq!(failed_reasons(&f), [RESERVATION_EXPIRED]);
    assert_eq!(f.gateway.charge_calls(), 0);
}

#[tokio::test]
async fn a_late_reservation_after_the_expiry_charges_nothing_and_republishes_payment_failed() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    f.handle_batch(fixture(EXPIRED)).await;
    let late = f.handle_batch(fixture(RESERVED)).await;
    assert!(late.batch_item_failures.is_empty());
    assert_eq!(f.gateway.charge_calls(), 0);
    assert_eq!(
        failed_reasons(&f),
        [RESERVATION_EXPIRED, RESERVATION_EXPIRED]
    );
    assert_eq!(status(&f, ORDER_ID), OrderStatus::PaymentFailed);
}

#[tokio::test]
async fn an_expired_reservation_whose_lost_charge_is_found_at_the_provider_is_confirmed() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    f.gateway.lose_next_answers(1);
    let first = f.handle_batch(fixture(RESERVED)).await;
    assert_eq!(first.batch_item_failures.len(), 1);

    let response = f.handle_batch(fixture(EXPIRED)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(status(&f, ORDER_ID), OrderStatus::Confirmed);
    assert!(matches!(ledger_outcome(&f), ChargeOutcome::Approved { .. }));
    assert_eq!(published_types(&f), [EventType::PaymentSucceeded]);
    assert_eq!(f.gateway.charge_calls(), 1);
}

#[tokio::test]
async fn an_expired_reservation_whose_attempt_charged_nothing_is_declined() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    f.gateway.fail_next(1);
    f.handle_batch(fixture(RESERVED)).await;
    f.clock.advance(Duration::minutes(30));

    let response = f.handle_batch(fixture(EXPIRED)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(status(&f, ORDER_ID), OrderStatus::PaymentFailed);
    assert_eq!(failed_reasons(&f), [RESERVATION_EXPIRED]);
    // The reservation's own message, redelivered later, finds the key completed.
    f.handle_batch(fixture(RESERVED)).await;
    assert_eq!(f.gateway.charge_calls(), 1, "only the attempt that failed");
}

#[tokio::test]
async fn an_expired_reservation_of_a_paid_order_republishes_payment_succeeded() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    f.handle_batch(fixture(RESERVED)).await;
    let response = f.handle_batch(fixture(EXPIRED)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(status(&f, ORDER_ID), OrderStatus::Confirmed);
    assert_eq!(
        published_types(&f),
        [EventType::PaymentSucceeded, EventType::PaymentSucceeded]
    );
    assert_eq!(f.gateway.charge_calls(), 1);
}

#[tokio::test]
async fn an_expired_reservation_while_a_charge_is_in_progress_is_retried() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    // A delivery of the reservation holds the key now, charging.
    let key = format!("charge#{ORDER_ID}");
    let payload = format!("{ORDER_ID}|5198|EUR");
    claim_attempt(
        &f.store,
        &key,
        payload.as_bytes(),
        f.policy,
        Utc::now(),
        Intent::Attempt,
    )
    .await
    .unwrap();
    let answer = f.handle(envelope(EXPIRED)).await;
    assert!(
        matches!(answer, Err(RecordError::Transient(_))),
        "{answer:?}"
    );
    assert_eq!(status(&f, ORDER_ID), OrderStatus::Reserved);
}

#[tokio::test]
async fn an_expired_reservation_with_an_unknown_attempt_past_the_window_fails_permanently() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    f.ledger.fail_next_settlements(1);
    f.handle_batch(fixture(RESERVED)).await;
    f.clock.advance(Duration::days(2));

    let answer = f.handle(envelope(EXPIRED)).await;
    assert!(
        matches!(answer, Err(RecordError::Permanent(_))),
        "{answer:?}"
    );
    assert_eq!(status(&f, ORDER_ID), OrderStatus::Reserved);
    assert!(f.store.ledger_entries().is_empty());
}
