//! The Idempotency table as [`AttemptStore`] against moto: a claim that attempts notes its time
//! in its own write, the note keeps the first attempt through unlocks and takeovers, a
//! settling claim notes nothing, and a claim whose answer was lost reads its own note as its
//! own (no earlier attempt).

use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, DurationRound, Utc};
use orderflow_shared::adapters::dynamodb::DynamoStore;
use orderflow_shared::idempotency::{
    AttemptClaim, AttemptStore, Claim, ClaimTimes, IdempotencyError, IdempotencyStore, Intent,
};

use crate::dynamodb::fixture;
use crate::support::lossy::LosingResponses;
use crate::support::{self};

/// Times at whole milliseconds, as the record keeps them.
fn times(now: DateTime<Utc>) -> ClaimTimes {
    let now = now.duration_trunc(Duration::milliseconds(1)).unwrap();
    ClaimTimes {
        now,
        lock_until: now + Duration::seconds(30),
        expires_at: now + Duration::hours(24),
    }
}

fn acquired(earlier: Option<DateTime<Utc>>) -> AttemptClaim {
    AttemptClaim::new(Claim::Acquired, earlier)
}

#[tokio::test]
async fn the_first_attempt_is_noted_and_every_later_claim_learns_its_time() {
    let f = fixture().await;
    let s = &f.store;
    let first = times(Utc::now());
    assert_eq!(
        s.claim_attempt("k", "h", first, Intent::Attempt).await,
        Ok(acquired(None))
    );
    assert_eq!(
        s.claim_attempt("k", "h", first, Intent::Attempt).await,
        Ok(AttemptClaim::new(Claim::InProgress, None))
    );
    for minutes in 1..3 {
        s.unlock("k").await.unwrap();
        let later = times(first.now + Duration::minutes(minutes));
        assert_eq!(
            s.claim_attempt("k", "h", later, Intent::Attempt).await,
            Ok(acquired(Some(first.now)))
        );
    }
}

#[tokio::test]
async fn a_holder_past_its_lock_is_taken_over_and_the_note_is_kept() {
    let f = fixture().await;
    let s = &f.store;
    let first = times(Utc::now());
    s.claim_attempt("k", "h", first, Intent::Attempt)
        .await
        .unwrap();
    let after_lock = times(first.lock_until + Duration::seconds(1));
    assert_eq!(
        s.claim_attempt("k", "h", after_lock, Intent::Attempt).await,
        Ok(acquired(Some(first.now)))
    );
}

#[tokio::test]
async fn a_settling_claim_notes_nothing_but_learns_of_an_attempt() {
    let f = fixture().await;
    let s = &f.store;
    let now = times(Utc::now());
    assert_eq!(
        s.claim_attempt("k", "h", now, Intent::Settle).await,
        Ok(acquired(None))
    );
    s.unlock("k").await.unwrap();
    assert_eq!(
        s.claim_attempt("k", "h", now, Intent::Attempt).await,
        Ok(acquired(None)),
        "the settling claim left no note"
    );
    s.unlock("k").await.unwrap();
    assert_eq!(
        s.claim_attempt("k", "h", now, Intent::Settle).await,
        Ok(acquired(Some(now.now)))
    );
}

#[tokio::test]
async fn a_completed_key_answers_its_result_refuses_another_payload_and_cannot_be_unlocked() {
    let f = fixture().await;
    let s = &f.store;
    let now = times(Utc::now());
    s.claim_attempt("k", "h", now, Intent::Attempt)
        .await
        .unwrap();
    s.complete("k", "charged").await.unwrap();
    assert_eq!(
        s.claim_attempt("k", "h", now, Intent::Attempt).await,
        Ok(AttemptClaim::new(Claim::Completed("charged".into()), None))
    );
    assert_eq!(
        s.claim_attempt("k", "other", now, Intent::Attempt).await,
        Err(IdempotencyError::PayloadMismatch)
    );
    assert_eq!(s.unlock("k").await, Err(IdempotencyError::NotHeld));
    assert_eq!(
        s.unlock("never-claimed").await,
        Err(IdempotencyError::NotHeld)
    );
}

#[tokio::test]
async fn an_attempting_claim_whose_answer_was_lost_is_acquired_as_the_first_attempt() {
    let moto = support::moto();
    let lossy = LosingResponses::new("UpdateItem", 1);
    let client = Client::new(&moto.sdk_config_with(lossy.shared()).await);
    let tables = support::dynamodb::create_tables(&client).await;
    let s = DynamoStore::new(client, tables);
    let now = times(Utc::now());
    assert_eq!(
        s.claim_attempt("k", "h", now, Intent::Attempt).await,
        Ok(acquired(None)),
        "its own note is not an earlier attempt"
    );
    assert_eq!(lossy.lost(), 1);
    s.unlock("k").await.unwrap();
    assert_eq!(
        s.claim_attempt("k", "h", now, Intent::Attempt).await,
        Ok(acquired(Some(now.now)))
    );
}
