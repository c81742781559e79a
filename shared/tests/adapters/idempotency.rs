//! `DynamoStore` as idempotency store, against moto.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use orderflow_shared::idempotency::{Claim, ClaimTimes, IdempotencyError, IdempotencyStore};

use crate::dynamodb::fixture;

fn times(now: DateTime<Utc>) -> ClaimTimes {
    ClaimTimes {
        now,
        lock_until: now + Duration::seconds(30),
        expires_at: now + Duration::hours(24),
    }
}

#[tokio::test]
async fn an_idempotency_key_is_claimed_once_then_reports_its_result() {
    let f = fixture().await;
    let s = &f.store;
    let now = Utc::now();
    assert_eq!(
        s.claim("k", "h", times(now)).await.unwrap(),
        Claim::Acquired
    );
    assert_eq!(
        s.claim("k", "h", times(now)).await.unwrap(),
        Claim::InProgress
    );
    assert_eq!(
        s.claim("k", "other", times(now)).await,
        Err(IdempotencyError::PayloadMismatch)
    );
    s.complete("k", r#"{"status":202}"#).await.unwrap();
    assert_eq!(
        s.claim("k", "h", times(now)).await.unwrap(),
        Claim::Completed(r#"{"status":202}"#.into())
    );
    assert_eq!(
        s.claim("k", "other", times(now)).await,
        Err(IdempotencyError::PayloadMismatch)
    );
    assert_eq!(
        s.complete("k", "again").await,
        Err(IdempotencyError::NotHeld)
    );
    assert_eq!(
        s.complete("never-claimed", "x").await,
        Err(IdempotencyError::NotHeld)
    );
}

#[tokio::test]
async fn an_expired_lock_is_taken_over_and_an_expired_record_is_forgotten() {
    let f = fixture().await;
    let s = &f.store;
    let now = Utc::now();
    s.claim("k", "h", times(now)).await.unwrap();
    let after_lock = now + Duration::seconds(31);
    assert_eq!(
        s.claim("k", "other", times(after_lock)).await,
        Err(IdempotencyError::PayloadMismatch),
        "an expired lock is not taken over with a different payload"
    );
    assert_eq!(
        s.claim("k", "h", times(after_lock)).await.unwrap(),
        Claim::Acquired
    );
    // The new holder's lock counts from its own claim.
    assert_eq!(
        s.claim("k", "h", times(after_lock + Duration::seconds(1)))
            .await
            .unwrap(),
        Claim::InProgress
    );
    s.complete("k", "done").await.unwrap();
    let after_expiry = after_lock + Duration::hours(25);
    assert_eq!(
        s.claim("k", "new-payload", times(after_expiry))
            .await
            .unwrap(),
        Claim::Acquired
    );
}

#[tokio::test]
async fn a_released_key_can_be_claimed_again_at_once_and_only_an_in_progress_key_is_released() {
    let f = fixture().await;
    let s = &f.store;
    let now = Utc::now();
    s.claim("k", "h", times(now)).await.unwrap();
    s.release("k").await.unwrap();
    assert_eq!(
        s.claim("k", "h", times(now)).await.unwrap(),
        Claim::Acquired
    );
    s.complete("k", "done").await.unwrap();
    assert_eq!(s.release("k").await, Err(IdempotencyError::NotHeld));
    assert_eq!(s.release("unknown").await, Err(IdempotencyError::NotHeld));
    assert_eq!(
        s.claim("k", "h", times(now)).await.unwrap(),
        Claim::Completed("done".into())
    );
}

#[tokio::test]
async fn the_record_keeps_its_lock_in_epoch_millis_and_its_ttl_in_epoch_seconds() {
    let f = fixture().await;
    let now = Utc::now();
    let t = times(now);
    f.store.claim("k", "h", t).await.unwrap();
    let item = f
        .client
        .get_item()
        .table_name(&f.store.tables().idempotency)
        .key("id", AttributeValue::S("k".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        item["expiresAt"],
        AttributeValue::N(t.expires_at.timestamp().to_string())
    );
    assert_eq!(
        item["lockUntil"],
        AttributeValue::N(t.lock_until.timestamp_millis().to_string())
    );
    assert_eq!(item["status"], AttributeValue::S("IN_PROGRESS".into()));
    assert_eq!(item["payloadHash"], AttributeValue::S("h".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_on_one_key_leave_exactly_one_acquired() {
    let f = Arc::new(fixture().await);
    for round in 0..5 {
        let key = format!("order-{round}:charge");
        let now = Utc::now();
        let claims: Vec<_> = (0..4)
            .map(|_| {
                let (f, key) = (f.clone(), key.clone());
                tokio::spawn(async move { f.store.claim(&key, "h", times(now)).await })
            })
            .collect();
        let mut results = Vec::new();
        for claim in claims {
            results.push(claim.await.unwrap().unwrap());
        }
        let acquired = results.iter().filter(|c| **c == Claim::Acquired).count();
        assert_eq!(acquired, 1, "round {round}: {results:?}");
        assert!(
            results
                .iter()
                .all(|c| matches!(c, Claim::Acquired | Claim::InProgress)),
            "round {round}: {results:?}"
        );
    }
}

fn keys(names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|k| ((*k).to_owned(), "h".to_owned()))
        .collect()
}

#[tokio::test]
async fn fresh_keys_are_claimed_together_and_completed_together() {
    let f = fixture().await;
    let s = &f.store;
    let now = Utc::now();
    let claimed = s.claim_many(&keys(&["a", "b", "c"]), times(now)).await;
    assert_eq!(
        claimed.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        [Claim::Acquired, Claim::Acquired, Claim::Acquired]
    );
    let done: Vec<(String, String)> = ["a", "b", "c"]
        .iter()
        .map(|k| ((*k).to_owned(), format!("msg-{k}")))
        .collect();
    assert!(s.complete_many(&done).await.iter().all(Result::is_ok));
    for k in ["a", "b", "c"] {
        assert_eq!(
            s.claim(k, "h", times(now)).await.unwrap(),
            Claim::Completed(format!("msg-{k}"))
        );
    }
}

#[tokio::test]
async fn a_batch_claim_with_a_taken_key_answers_each_key_on_its_own() {
    let f = fixture().await;
    let s = &f.store;
    let now = Utc::now();
    s.claim("done", "h", times(now)).await.unwrap();
    s.complete("done", "msg-1").await.unwrap();
    s.claim("busy", "h", times(now)).await.unwrap();

    let claimed = s
        .claim_many(&keys(&["new", "done", "busy", "new"]), times(now))
        .await;

    assert_eq!(
        claimed,
        vec![
            Ok(Claim::Acquired),
            Ok(Claim::Completed("msg-1".into())),
            Ok(Claim::InProgress),
            Ok(Claim::InProgress),
        ],
        "the same key twice in one batch: the second waits for the first"
    );
    let completed = s
        .complete_many(&[
            ("new".to_owned(), "msg-2".to_owned()),
            ("done".to_owned(), "again".to_owned()),
        ])
        .await;
    assert_eq!(completed, vec![Ok(()), Err(IdempotencyError::NotHeld)]);
    assert_eq!(
        s.claim("new", "h", times(now)).await.unwrap(),
        Claim::Completed("msg-2".into())
    );
}
