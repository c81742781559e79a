//! The stores' one retry policy for contention. DynamoDB refuses a write it could do a moment
//! later: a transaction conflict (another transaction holds the item), a throttle that outlived
//! the SDK's own retries (a hot item past its partition's write rate), our own transaction
//! still in flight under its `ClientRequestToken`. Each costs milliseconds, so it is retried
//! here, inside the function, with capped exponential backoff and full jitter, within a budget
//! well under the function's timeout; only when the budget is spent does the record fail (and
//! wait out the queue's visibility timeout). A failed condition is an answer, never retried.

use std::future::Future;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::CancellationReason;
use tracing::{debug, warn};

use crate::telemetry::metrics;

/// The first backoff's ceiling: about one transaction's time in flight (10–30 ms, DESIGN §8),
/// so a conflict is usually over by the first retry.
pub(super) const BASE: Duration = Duration::from_millis(20);
/// The longest single wait: a throttled item's bucket refills within a second (1,000 write
/// units a second), and a conflict lasts tens of milliseconds, so waiting longer gains nothing.
pub(super) const CAP: Duration = Duration::from_millis(800);
/// Time one write may spend retrying: a quarter of the consumers' 20 s `Timeout` and half of
/// validate-order's 10 s, so the function still answers (or fails the record) in time.
pub(super) const BUDGET: Duration = Duration::from_secs(5);

/// Error codes of a single write (or a whole transaction) refused for contention.
const CONTENTION_CODES: [&str; 5] = [
    "TransactionConflictException",
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    // Our own transaction (same `ClientRequestToken`) is still in flight: its outcome follows.
    "TransactionInProgressException",
];
/// Cancellation reasons that say "not now" rather than "no".
const CONTENTION_REASONS: [&str; 3] = [
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
];

/// Capped exponential backoff with full jitter, bounded by a total budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Policy {
    pub(super) base: Duration,
    pub(super) cap: Duration,
    pub(super) budget: Duration,
}

pub(super) const POLICY: Policy = Policy {
    base: BASE,
    cap: CAP,
    budget: BUDGET,
};

impl Policy {
    /// The wait before retry number `attempt + 1` (0-based), drawn with `draw` (uniform over
    /// `u64`): uniform in [0, min(cap, base × 2^attempt)]; `None` once it would overrun the budget.
    pub(super) fn delay(&self, attempt: u32, elapsed: Duration, draw: u64) -> Option<Duration> {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .min(self.cap);
        // ceiling × draw / 2^64, in integers.
        let nanos = (ceiling.as_nanos() * u128::from(draw)) >> 64;
        let delay = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        (elapsed.saturating_add(delay) < self.budget).then_some(delay)
    }
}

/// Runs `call` until it succeeds, fails for a reason other than contention, or `policy`'s
/// budget is spent (then the last error is returned). `op` names the call in the logs;
/// `contention` names an error's contention (its code), `None` for any other error. Every
/// retry is counted (the `ContentionRetries` metric).
pub(super) async fn retrying<T, E, F, Fut>(
    op: &str,
    policy: Policy,
    contention: impl Fn(&E) -> Option<&'static str>,
    mut call: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        let (error, code) = match call().await {
            Err(e) => match contention(&e) {
                Some(code) => (e, code),
                None => return Err(e),
            },
            done => return done,
        };
        match policy.delay(attempt, started.elapsed(), draw()) {
            Some(wait) => {
                metrics::contention_retried(code);
                debug!(
                    op,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "contention: retrying"
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            None => {
                warn!(
                    op,
                    attempts = attempt + 1,
                    "contention outlasted the retry budget"
                );
                return Err(error);
            }
        }
    }
}

/// Sends a single write (`call` sends it once), retrying contention under [`POLICY`].
pub(super) async fn send<T, E, R, F, Fut>(op: &str, call: F) -> Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
{
    retrying(op, POLICY, contention, call).await
}

/// Whether a single write (or any call) was refused for contention.
#[cfg(test)]
pub(super) fn contended<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    contention(err).is_some()
}

/// The contention code a single write (or any call) was refused with, if it was.
pub(super) fn contention<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&'static str> {
    match err {
        SdkError::ServiceError(context) => {
            let code = context.err().code()?;
            CONTENTION_CODES.into_iter().find(|c| *c == code)
        }
        _ => None,
    }
}

/// Whether a cancelled transaction was refused for contention only: some item conflicted or
/// was throttled, and no condition failed (nor anything else went wrong).
#[cfg(test)]
pub(super) fn cancelled_for_contention(reasons: &[CancellationReason]) -> bool {
    cancellation_contention(reasons).is_some()
}

/// The contention reason of a transaction cancelled for contention only (the first one).
pub(super) fn cancellation_contention(reasons: &[CancellationReason]) -> Option<&'static str> {
    let mut contention = None;
    for code in reasons.iter().map(CancellationReason::code) {
        match code {
            None | Some("None") => {}
            Some(code) => match CONTENTION_REASONS.into_iter().find(|c| *c == code) {
                Some(reason) => contention = contention.or(Some(reason)),
                None => return None,
            },
        }
    }
    contention
}

/// A draw uniform over `u64` from a cheap per-process generator (SplitMix64 over a counter
/// seeded from the process's random hasher keys): jitter only has to differ between processes
/// and calls.
fn draw() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u8));
    let mut z = COUNTER
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(seed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests;
