//! Runs an effect outside DynamoDB (a charge, a notification) at most once per key, on top of
//! an [`IdempotencyStore`]: claim the key (an in-progress lock with a deadline), run the effect,
//! store its result. A duplicate finds the stored result; a concurrent duplicate is told to
//! retry; a holder that ran past its deadline is taken over.

use std::future::Future;

use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};

use crate::ports::{Claim, ClaimTimes, IdempotencyError, IdempotencyStore, StoreError};

/// How long a claim's lock and its record last.
#[derive(Debug, Clone, Copy)]
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Once {
    /// This call ran the effect; here is its result.
    Ran(String),
    /// An earlier call ran it; here is the stored result.
    AlreadyDone(String),
}

impl Once {
    pub fn result(&self) -> &str {
        match self {
            Once::Ran(r) | Once::AlreadyDone(r) => r,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OnceError<E> {
    #[error("another invocation is running this effect; retry later")]
    InProgress,
    #[error("the key was used before with a different payload")]
    PayloadMismatch,
    #[error("idempotency store: {0}")]
    Store(StoreError),
    #[error("the effect failed: {0}")]
    Effect(E),
}

/// The order id for a client's `Idempotency-Key`: the same customer and key always name the
/// same order, so a retry after a partial failure finds the order it started.
pub fn order_id_for_key(customer: &crate::domain::CustomerId, key: &str) -> crate::domain::OrderId {
    let digest = Sha256::digest(format!("{customer}\u{0}{key}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    crate::domain::OrderId::from_uuid(id)
}

/// Hex SHA-256 of a payload, to tell a true duplicate from a reused key.
pub fn payload_hash(payload: &[u8]) -> String {
    Sha256::digest(payload)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What [`claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// The caller holds the key: run the effect, then complete the key (alone, or inside the
    /// write that records the effect) or release it on failure.
    Acquired,
    /// An earlier call ran the effect; here is its stored result.
    Done(String),
}

/// Claims `key` for `payload` under `policy`: the first half of [`run_once`], for callers that
/// complete the key in a write of their own (process-payment's settlement).
pub async fn claim<S, E>(
    store: &S,
    key: &str,
    payload: &[u8],
    policy: Policy,
) -> Result<Claimed, OnceError<E>>
where
    S: IdempotencyStore + ?Sized,
{
    let now = Utc::now();
    let times = ClaimTimes {
        now,
        lock_until: now + policy.lock_for,
        expires_at: now + policy.keep_for,
    };
    let hash = payload_hash(payload);
    match store.claim(key, &hash, times).await {
        Ok(Claim::Acquired) => Ok(Claimed::Acquired),
        Ok(Claim::Completed(result)) => Ok(Claimed::Done(result)),
        Ok(Claim::InProgress) | Err(IdempotencyError::NotHeld) => Err(OnceError::InProgress),
        Err(IdempotencyError::PayloadMismatch) => Err(OnceError::PayloadMismatch),
        Err(IdempotencyError::Store(e)) => Err(OnceError::Store(e)),
    }
}

pub async fn run_once<S, F, Fut, E>(
    store: &S,
    key: &str,
    payload: &[u8],
    policy: Policy,
    effect: F,
) -> Result<Once, OnceError<E>>
where
    S: IdempotencyStore + ?Sized,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<String, E>>,
{
    if let Claimed::Done(result) = claim(store, key, payload, policy).await? {
        return Ok(Once::AlreadyDone(result));
    }
    match effect().await {
        Ok(result) => match store.complete(key, &result).await {
            Ok(()) => Ok(Once::Ran(result)),
            // The effect happened; the lock will expire and a retry may redo it. Say so loudly.
            Err(e) => {
                tracing::error!(key, error = %e, "effect done but its result was not stored");
                Err(OnceError::Store(match e {
                    IdempotencyError::Store(s) => s,
                    other => StoreError::Unavailable(other.to_string()),
                }))
            }
        },
        Err(effect_error) => {
            if let Err(e) = store.release(key).await {
                tracing::warn!(key, error = %e, "lock not released; it expires on its own");
            }
            Err(OnceError::Effect(effect_error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryStore;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn policy() -> Policy {
        Policy::new(Duration::seconds(30), Duration::hours(1))
    }

    #[tokio::test]
    async fn the_effect_runs_once_and_duplicates_get_its_result() {
        let store = MemoryStore::new();
        let runs = AtomicUsize::new(0);
        let effect = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>("charged".to_owned())
        };
        assert_eq!(
            run_once(&store, "k", b"p", policy(), effect).await.unwrap(),
            Once::Ran("charged".into())
        );
        let again = run_once(&store, "k", b"p", policy(), effect).await.unwrap();
        assert_eq!(again, Once::AlreadyDone("charged".into()));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_effect_releases_the_key_for_an_immediate_retry() {
        let store = MemoryStore::new();
        let failed = run_once(&store, "k", b"p", policy(), || async {
            Err::<String, _>("down")
        })
        .await;
        assert!(matches!(failed, Err(OnceError::Effect("down"))));
        let retried = run_once(&store, "k", b"p", policy(), || async {
            Ok::<_, &str>("ok".into())
        })
        .await;
        assert_eq!(retried.unwrap(), Once::Ran("ok".into()));
    }

    #[tokio::test]
    async fn a_reused_key_with_another_payload_is_refused() {
        let store = MemoryStore::new();
        run_once(&store, "k", b"p", policy(), || async {
            Ok::<_, ()>("a".into())
        })
        .await
        .unwrap();
        let other = run_once(&store, "k", b"q", policy(), || async {
            Ok::<_, ()>("b".into())
        })
        .await;
        assert!(matches!(other, Err(OnceError::PayloadMismatch)));
    }

    #[tokio::test]
    async fn a_concurrent_duplicate_is_told_to_retry_while_the_first_holds_the_lock() {
        let store = MemoryStore::new();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let first = run_once(&store, "k", b"p", policy(), || async {
            let _ = rx.await;
            Ok::<_, ()>("done".into())
        });
        let second = async {
            let r = run_once(&store, "k", b"p", policy(), || async {
                Ok::<_, ()>("twice".into())
            })
            .await;
            let _ = tx.send(());
            r
        };
        let (first, second) = tokio::join!(first, second);
        assert_eq!(first.unwrap(), Once::Ran("done".into()));
        assert!(matches!(second, Err(OnceError::InProgress)));
    }

    #[test]
    fn an_idempotency_key_names_one_order_per_customer() {
        use crate::domain::CustomerId;
        let ana = CustomerId::parse("ana").unwrap();
        let bob = CustomerId::parse("bob").unwrap();
        assert_eq!(order_id_for_key(&ana, "k1"), order_id_for_key(&ana, "k1"));
        assert_ne!(order_id_for_key(&ana, "k1"), order_id_for_key(&ana, "k2"));
        assert_ne!(order_id_for_key(&ana, "k1"), order_id_for_key(&bob, "k1"));
        let id = order_id_for_key(&ana, "k1");
        assert_eq!(crate::domain::OrderId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn payload_hashes_are_stable_hex_sha256() {
        assert_eq!(
            payload_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
