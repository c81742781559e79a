//! A charge whose outcome is unknown (the provider's answer lost, the provider down, the
//! settlement failed after the charge) is reconciled by the next delivery, never charged again
//! blindly: the ledger first, then the provider by idempotency key, and only within the
//! provider's key retention a new charge; past it, a permanent failure.

use super::*;
use crate::handler::charge::charge_window;
use orderflow_shared::ports::ChargeRequest;

const RESERVED: &str = "sqs-inventory-reserved.json";

/// Handles the fixture's record on its own, to see how it failed.
async fn deliver(f: &Fixture) -> Result<Vec<EventType>, RecordError> {
    f.handle(envelope(RESERVED))
        .await
        .map(|events| events.iter().map(|e| e.metadata.event_type).collect())
}

fn window(f: &Fixture) -> Duration {
    charge_window(f.gateway.key_retention(), f.policy.lock_for)
}

#[tokio::test]
async fn a_lost_charge_answer_is_found_at_the_provider_and_settled_without_a_second_charge() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    f.gateway.lose_next_answers(1);
    assert!(matches!(deliver(&f).await, Err(RecordError::Transient(_))));
    assert_eq!(status(&f, ORDER_ID), OrderStatus::Reserved);

    assert_eq!(deliver(&f).await, Ok(vec![EventType::PaymentSucceeded]));
    assert_eq!(status(&f, ORDER_ID), OrderStatus::Confirmed);
    assert_eq!(
        f.gateway.charge_calls(),
        1,
        "the retry asked, it did not charge"
    );
    assert_eq!(approved_charges(&f, ORDER_ID), 1);
    assert_eq!(f.store.ledger_entries().len(), 1);
}

#[tokio::test]
async fn a_failed_settlement_after_the_charge_is_settled_from_the_provider_on_retry() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    f.ledger.fail_next_settlements(1);
    assert!(matches!(deliver(&f).await, Err(RecordError::Transient(_))));
    assert!(f.store.ledger_entries().is_empty());

    assert_eq!(deliver(&f).await, Ok(vec![EventType::PaymentSucceeded]));
    assert_eq!(f.gateway.charge_calls(), 1);
    let ChargeOutcome::Approved { charge_id } = &f.store.ledger_entries()[0].outcome else {
        panic!("approved")
    };
    assert_eq!(
        charge_id,
        &f.gateway.approved_for(&order_id(ORDER_ID))[0].charge_id
    );
}

#[tokio::test]
async fn a_redrive_after_the_providers_key_retention_does_not_charge_again() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    f.ledger.fail_next_settlements(1);
    assert!(matches!(deliver(&f).await, Err(RecordError::Transient(_))));
    // The message dead-letters; an operator redrives it two days later: the provider has
    // forgotten the key, so charging now would charge the customer a second time.
    f.clock.advance(Duration::days(2));

    let Err(RecordError::Permanent(reason)) = deliver(&f).await else {
        panic!("a permanent failure")
    };
    assert!(
        reason.contains(
            "charge outcome unknown past the provider's idempotency window; reconcile by hand"
        ),
        "{reason}"
    );
    assert_eq!(approved_charges(&f, ORDER_ID), 1, "never charged twice");
    assert_eq!(f.gateway.charge_calls(), 1);
    assert_eq!(status(&f, ORDER_ID), OrderStatus::Reserved);
    // Redriven again, it fails the same way: the key was unlocked, not left in progress.
    assert!(matches!(deliver(&f).await, Err(RecordError::Permanent(_))));
}

#[tokio::test]
async fn a_retry_just_past_the_window_does_not_charge_and_one_just_inside_it_does() {
    for (after, inside) in [(Duration::seconds(1), false), (Duration::seconds(-1), true)] {
        let f = function_with_reserved(&[ORDER_ID]).await;
        f.gateway.fail_next(1);
        assert!(matches!(deliver(&f).await, Err(RecordError::Transient(_))));
        f.clock.advance(window(&f) + after);
        let answer = deliver(&f).await;
        assert_eq!(answer.is_ok(), inside, "{after}: {answer:?}");
        assert_eq!(approved_charges(&f, ORDER_ID), usize::from(inside));
    }
}

#[tokio::test]
async fn a_retry_within_the_window_that_finds_no_charge_charges_once() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    f.gateway.fail_next(1);
    assert!(matches!(deliver(&f).await, Err(RecordError::Transient(_))));
    f.clock.advance(Duration::hours(1));
    assert_eq!(deliver(&f).await, Ok(vec![EventType::PaymentSucceeded]));
    assert_eq!(approved_charges(&f, ORDER_ID), 1);
    assert_eq!(f.gateway.charge_calls(), 2, "the outage charged nothing");
}

#[tokio::test]
async fn an_earlier_ledger_entry_settles_a_retry_even_after_the_provider_forgot_the_key() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    f.ledger.fail_next_settlements(1);
    deliver(&f).await.unwrap_err();
    // Between the two deliveries the charge reached the ledger (settled step by step), but
    // the key was never completed.
    let charge = f.gateway.approved_for(&order_id(ORDER_ID)).remove(0);
    f.store.record(&charge.record).await.unwrap();
    f.clock.advance(Duration::days(2));

    assert_eq!(deliver(&f).await, Ok(vec![EventType::PaymentSucceeded]));
    assert_eq!(status(&f, ORDER_ID), OrderStatus::Confirmed);
    assert_eq!(f.gateway.charge_calls(), 1);
}

#[tokio::test]
async fn a_provider_outage_while_reconciling_is_transient_and_the_next_retry_settles() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    f.gateway.lose_next_answers(1);
    deliver(&f).await.unwrap_err();
    f.gateway.fail_next(1);
    assert!(matches!(deliver(&f).await, Err(RecordError::Transient(_))));
    assert_eq!(deliver(&f).await, Ok(vec![EventType::PaymentSucceeded]));
    assert_eq!(approved_charges(&f, ORDER_ID), 1);
}

#[tokio::test]
async fn a_key_reused_for_another_amount_is_refused_by_the_provider_and_fails_permanently() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    // Someone charged this order's key for another amount (not through this function).
    let other = ChargeRequest {
        order_id: order_id(ORDER_ID),
        amount: Money::new(1, Currency::EUR),
        token: PaymentToken::parse("tok_visa").unwrap(),
        idempotency_key: ORDER_ID.into(),
    };
    f.gateway.charge(&other).await.unwrap();
    assert!(matches!(deliver(&f).await, Err(RecordError::Permanent(_))));
    assert_eq!(status(&f, ORDER_ID), OrderStatus::Reserved);
}

#[test]
fn the_window_is_the_retention_less_a_tenth_and_the_lock() {
    assert_eq!(
        charge_window(Duration::days(1), Duration::seconds(60)),
        Duration::days(1) - Duration::seconds(8_640 + 60)
    );
}
