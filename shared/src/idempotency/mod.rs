//! Idempotency: an effect outside DynamoDB (a charge, a notification) runs at most once per key.
//!
//! The caller [`claim`]s the key for a payload under a [`Policy`] (an in-progress lock with a
//! deadline, a record that expires), runs the effect, then completes the key with the effect's
//! result (alone, or inside the write that records the effect, as process-payment's settlement
//! does) or releases it after a failure. A duplicate finds the stored result; a concurrent
//! duplicate is told the key is in progress; a holder that ran past its deadline is taken over;
//! the same key with another payload is refused.
//!
//! - `store`: the port ([`IdempotencyStore`], [`Claim`], [`ClaimTimes`]);
//! - `attempt`: keys of effects whose outcome can be unknown (a charge): the record notes that
//!   the effect was attempted, and a retry learns it ([`AttemptStore`], [`claim_attempt`]);
//! - `key`: the `Idempotency-Key` of `POST /orders` ([`IdempotencyKey`]) and the order it names
//!   (there the order item itself is the key's record: no store is involved).

mod attempt;
mod key;
mod store;

pub use attempt::{claim_attempt, AttemptClaim, AttemptStore, Intent};
pub use key::IdempotencyKey;
pub use store::{Claim, ClaimTimes, IdempotencyError, IdempotencyStore};

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::ports::StoreError;

/// How long a claim's lock and its record last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// At least the function's timeout: past it, the holder is presumed dead.
    pub lock_for: Duration,
    /// How long a completed result is remembered.
    pub keep_for: Duration,
}

impl Policy {
    pub fn new(lock_for: Duration, keep_for: Duration) -> Self {
        Policy { lock_for, keep_for }
    }

    /// The times of a claim made at `now`.
    pub fn times_at(&self, now: DateTime<Utc>) -> ClaimTimes {
        ClaimTimes {
            now,
            lock_until: now + self.lock_for,
            expires_at: now + self.keep_for,
        }
    }
}

/// Why a key cannot be claimed at all (a key held elsewhere is [`Claim::InProgress`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("the key was used before with a different payload")]
    PayloadMismatch,
    #[error("idempotency store: {0}")]
    Store(StoreError),
}

/// Hex SHA-256 of a payload, to tell a true duplicate from a reused key.
pub fn payload_hash(payload: &[u8]) -> String {
    Sha256::digest(payload)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Claims `key` for `payload` under `policy`, now.
pub async fn claim<S>(
    store: &S,
    key: &str,
    payload: &[u8],
    policy: Policy,
) -> Result<Claim, ClaimError>
where
    S: IdempotencyStore + ?Sized,
{
    let answer = store
        .claim(key, &payload_hash(payload), policy.times_at(Utc::now()))
        .await;
    claimed(answer)
}

/// Claims several `(key, payload)` at once, in as few calls as the store allows; one answer per
/// key, in order, each as [`claim`] would give it.
pub async fn claim_many<S>(
    store: &S,
    claims: &[(String, Vec<u8>)],
    policy: Policy,
) -> Vec<Result<Claim, ClaimError>>
where
    S: IdempotencyStore + ?Sized,
{
    let hashed: Vec<(String, String)> = claims
        .iter()
        .map(|(key, payload)| (key.clone(), payload_hash(payload)))
        .collect();
    store
        .claim_many(&hashed, policy.times_at(Utc::now()))
        .await
        .into_iter()
        .map(claimed)
        .collect()
}

/// A claim's answer as callers see it: a key no longer held (taken over while being read) is a
/// key in progress elsewhere.
fn claimed(answer: Result<Claim, IdempotencyError>) -> Result<Claim, ClaimError> {
    match answer {
        Ok(claim) => Ok(claim),
        Err(IdempotencyError::NotHeld) => Ok(Claim::InProgress),
        Err(IdempotencyError::PayloadMismatch) => Err(ClaimError::PayloadMismatch),
        Err(IdempotencyError::Store(e)) => Err(ClaimError::Store(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryStore;

    fn policy() -> Policy {
        Policy::new(Duration::seconds(30), Duration::hours(1))
    }

    #[test]
    fn a_policy_makes_the_lock_and_the_expiry_of_a_claim() {
        let now = Utc::now();
        assert_eq!(
            policy().times_at(now),
            ClaimTimes {
                now,
                lock_until: now + Duration::seconds(30),
                expires_at: now + Duration::hours(1),
            }
        );
    }

    #[tokio::test]
    async fn a_key_is_claimed_once_and_a_duplicate_gets_the_stored_result() {
        let store = MemoryStore::new();
        assert_eq!(
            claim(&store, "k", b"p", policy()).await,
            Ok(Claim::Acquired)
        );
        store.complete("k", "charged").await.unwrap();
        assert_eq!(
            claim(&store, "k", b"p", policy()).await,
            Ok(Claim::Completed("charged".into()))
        );
    }

    #[tokio::test]
    async fn a_released_key_is_claimed_again_at_once() {
        let store = MemoryStore::new();
        claim(&store, "k", b"p", policy()).await.unwrap();
        store.release("k").await.unwrap();
        assert_eq!(
            claim(&store, "k", b"p", policy()).await,
            Ok(Claim::Acquired)
        );
    }

    #[tokio::test]
    async fn a_concurrent_duplicate_finds_the_key_in_progress() {
        let store = MemoryStore::new();
        claim(&store, "k", b"p", policy()).await.unwrap();
        assert_eq!(
            claim(&store, "k", b"p", policy()).await,
            Ok(Claim::InProgress)
        );
    }

    #[tokio::test]
    async fn a_reused_key_with_another_payload_is_refused() {
        let store = MemoryStore::new();
        claim(&store, "k", b"p", policy()).await.unwrap();
        assert_eq!(
            claim(&store, "k", b"q", policy()).await,
            Err(ClaimError::PayloadMismatch)
        );
    }

    #[tokio::test]
    async fn a_store_outage_is_a_claim_error() {
        let store = MemoryStore::new();
        store.fail_next(1);
        assert!(matches!(
            claim(&store, "k", b"p", policy()).await,
            Err(ClaimError::Store(StoreError::Unavailable(_)))
        ));
    }

    #[tokio::test]
    async fn several_keys_are_claimed_together_one_answer_each() {
        let store = MemoryStore::new();
        claim(&store, "done", b"p", policy()).await.unwrap();
        store.complete("done", "r").await.unwrap();
        let answers = claim_many(
            &store,
            &[
                ("new".to_owned(), b"p".to_vec()),
                ("done".to_owned(), b"p".to_vec()),
                ("done".to_owned(), b"other".to_vec()),
            ],
            policy(),
        )
        .await;
        assert_eq!(
            answers,
            vec![
                Ok(Claim::Acquired),
                Ok(Claim::Completed("r".into())),
                Err(ClaimError::PayloadMismatch),
            ]
        );
    }

    #[test]
    fn payload_hashes_are_stable_hex_sha256() {
        assert_eq!(
            payload_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
