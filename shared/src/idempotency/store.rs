//! The port: a store of idempotency keys, each claimed (an in-progress lock with a deadline),
//! then completed with the effect's result or released after a failed effect. The adapters
//! implement it with the same semantics (`adapters::dynamodb`, the in-memory store).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::StoreError;

/// What a claim on an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds the key now: do the effect, then complete the key (alone, or inside the
    /// write that records the effect) or release it on failure.
    Acquired,
    /// The effect was already done; here is its stored result.
    Completed(String),
    /// Another invocation holds the key and its lock has not expired: retry later.
    InProgress,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyError {
    #[error("idempotency key reused with a different payload")]
    PayloadMismatch,
    #[error("idempotency key is not held by this invocation")]
    NotHeld,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Times that govern one claim (made from a [`Policy`](super::Policy) by
/// [`Policy::times_at`](super::Policy::times_at)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimTimes {
    pub now: DateTime<Utc>,
    /// Until when the in-progress lock holds; past it another invocation may take over.
    pub lock_until: DateTime<Utc>,
    /// When the record stops counting at all (the key may then be used afresh).
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn claim(
        &self,
        key: &str,
        payload_hash: &str,
        times: ClaimTimes,
    ) -> Result<Claim, IdempotencyError>;
    async fn complete(&self, key: &str, result: &str) -> Result<(), IdempotencyError>;
    /// Gives the key up after a failed effect so a retry can claim it at once.
    async fn release(&self, key: &str) -> Result<(), IdempotencyError>;

    /// Claims several `(key, payload_hash)` at once; one answer per key, in order, each as
    /// [`claim`](Self::claim) would give it. The default claims one by one.
    async fn claim_many(
        &self,
        claims: &[(String, String)],
        times: ClaimTimes,
    ) -> Vec<Result<Claim, IdempotencyError>> {
        let mut answers = Vec::with_capacity(claims.len());
        for (key, hash) in claims {
            answers.push(self.claim(key, hash, times).await);
        }
        answers
    }

    /// Completes several held `(key, result)` at once; one answer per key, in order. The
    /// default completes one by one.
    async fn complete_many(&self, done: &[(String, String)]) -> Vec<Result<(), IdempotencyError>> {
        let mut answers = Vec::with_capacity(done.len());
        for (key, result) in done {
            answers.push(self.complete(key, result).await);
        }
        answers
    }
}
