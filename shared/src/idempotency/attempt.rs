//! Effects whose outcome can be unknown (a charge: the provider may have charged and its answer
//! been lost). Such a key's record notes *that the effect was attempted*, and when it was first
//! attempted, in the claim's own write: a claim with [`Intent::Attempt`] adds the note unless
//! one is there, and the note is never removed or moved by a later claim. A later claim that
//! acquires the key learns of the earlier attempt ([`AttemptClaim::earlier_attempt`]) and must
//! find out what it did before attempting again. A failed attempt [`unlock`](AttemptStore::unlock)s
//! the key instead of releasing it, so the note survives for the retry.
//!
//! The note outlives the record's expiry until the record itself is deleted: an attempt is
//! never forgotten by a claim.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{claimed, payload_hash, Claim, ClaimError, ClaimTimes, IdempotencyError};
use super::{IdempotencyStore, Policy};

/// Whether a claim attempts the effect itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// This claim attempts the effect: its write notes the attempt unless an earlier one is noted.
    Attempt,
    /// This claim only settles what earlier attempts did; it never attempts the effect, and
    /// notes nothing.
    Settle,
}

/// What a claim of a key whose attempts are noted found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptClaim {
    pub claim: Claim,
    /// When the claim is [`Claim::Acquired`]: when an earlier claim first attempted the effect
    /// (`None`: no earlier claim did, as far as the record says). `None` otherwise.
    pub earlier_attempt: Option<DateTime<Utc>>,
}

impl AttemptClaim {
    pub fn new(claim: Claim, earlier_attempt: Option<DateTime<Utc>>) -> Self {
        let earlier_attempt = earlier_attempt.filter(|_| claim == Claim::Acquired);
        AttemptClaim {
            claim,
            earlier_attempt,
        }
    }
}

/// A store whose records can note attempts (the DynamoDB adapter and the in-memory store).
#[async_trait]
pub trait AttemptStore: IdempotencyStore {
    /// Claims `key` as [`IdempotencyStore::claim`] does, but keeps the record's attempt note
    /// and, with [`Intent::Attempt`], adds one (time `times.now`) in the same write when there
    /// is none.
    async fn claim_attempt(
        &self,
        key: &str,
        payload_hash: &str,
        times: ClaimTimes,
        intent: Intent,
    ) -> Result<AttemptClaim, IdempotencyError>;

    /// Ends the lock of a held key at once but keeps its record and its attempt note, so a
    /// retry can claim it now and learn that the effect was attempted.
    async fn unlock(&self, key: &str) -> Result<(), IdempotencyError>;
}

/// Claims `key` for `payload` under `policy` at `now`, with `intent`.
pub async fn claim_attempt<S>(
    store: &S,
    key: &str,
    payload: &[u8],
    policy: Policy,
    now: DateTime<Utc>,
    intent: Intent,
) -> Result<AttemptClaim, ClaimError>
where
    S: AttemptStore + ?Sized,
{
    let answer = store
        .claim_attempt(key, &payload_hash(payload), policy.times_at(now), intent)
        .await;
    match answer {
        Ok(found) => Ok(found),
        Err(e) => claimed(Err(e)).map(|claim| AttemptClaim::new(claim, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryStore;
    use chrono::Duration;

    fn policy() -> Policy {
        Policy::new(Duration::seconds(30), Duration::hours(1))
    }

    async fn attempt(store: &MemoryStore, now: DateTime<Utc>) -> AttemptClaim {
        claim_attempt(store, "k", b"p", policy(), now, Intent::Attempt)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_first_attempt_has_no_earlier_one_and_a_retry_learns_when_it_was() {
        let store = MemoryStore::new();
        let first = Utc::now();
        assert_eq!(
            attempt(&store, first).await,
            AttemptClaim::new(Claim::Acquired, None)
        );
        store.unlock("k").await.unwrap();
        let retry = attempt(&store, first + Duration::seconds(5)).await;
        assert_eq!(retry, AttemptClaim::new(Claim::Acquired, Some(first)));
    }

    #[tokio::test]
    async fn the_note_keeps_the_first_attempt_through_every_later_claim() {
        let store = MemoryStore::new();
        let first = Utc::now();
        attempt(&store, first).await;
        for later in 1..4 {
            store.unlock("k").await.unwrap();
            let now = first + Duration::minutes(later);
            assert_eq!(attempt(&store, now).await.earlier_attempt, Some(first));
        }
    }

    #[tokio::test]
    async fn a_settling_claim_notes_nothing_but_learns_of_an_attempt() {
        let store = MemoryStore::new();
        let now = Utc::now();
        let settle = claim_attempt(&store, "k", b"p", policy(), now, Intent::Settle)
            .await
            .unwrap();
        assert_eq!(settle, AttemptClaim::new(Claim::Acquired, None));
        store.unlock("k").await.unwrap();
        assert_eq!(attempt(&store, now).await.earlier_attempt, None);
        store.unlock("k").await.unwrap();
        let settle = claim_attempt(&store, "k", b"p", policy(), now, Intent::Settle)
            .await
            .unwrap();
        assert_eq!(settle.earlier_attempt, Some(now));
    }

    #[tokio::test]
    async fn an_unlocked_key_is_claimed_at_once_and_a_locked_one_is_in_progress() {
        let store = MemoryStore::new();
        let now = Utc::now();
        attempt(&store, now).await;
        assert_eq!(attempt(&store, now).await.claim, Claim::InProgress);
        store.unlock("k").await.unwrap();
        assert_eq!(attempt(&store, now).await.claim, Claim::Acquired);
    }

    #[tokio::test]
    async fn a_completed_key_answers_its_result_and_cannot_be_unlocked() {
        let store = MemoryStore::new();
        let now = Utc::now();
        attempt(&store, now).await;
        store.complete("k", "charged").await.unwrap();
        assert_eq!(
            attempt(&store, now).await,
            AttemptClaim::new(Claim::Completed("charged".into()), None)
        );
        assert_eq!(store.unlock("k").await, Err(IdempotencyError::NotHeld));
    }

    #[tokio::test]
    async fn another_payload_is_refused() {
        let store = MemoryStore::new();
        let now = Utc::now();
        attempt(&store, now).await;
        store.unlock("k").await.unwrap();
        let other = claim_attempt(&store, "k", b"q", policy(), now, Intent::Attempt).await;
        assert_eq!(other, Err(ClaimError::PayloadMismatch));
    }
}
