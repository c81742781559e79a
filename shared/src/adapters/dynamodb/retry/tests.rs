use std::sync::atomic::AtomicU32;

use aws_sdk_dynamodb::error::ErrorMetadata;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::error::{ConditionalCheckFailedException, InternalServerError};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;

use super::*;

fn service_error(err: PutItemError) -> SdkError<PutItemError, Response> {
    let status = StatusCode::try_from(400).unwrap();
    SdkError::service_error(err, Response::new(status, SdkBody::empty()))
}

/// A service error as the SDK reads it: an unmodelled error carries its code in its metadata.
fn coded(code: &str) -> SdkError<PutItemError, Response> {
    service_error(PutItemError::generic(
        ErrorMetadata::builder().code(code).build(),
    ))
}

fn reasons(codes: &[&str]) -> Vec<CancellationReason> {
    codes
        .iter()
        .map(|c| CancellationReason::builder().code(*c).build())
        .collect()
}

#[test]
fn each_wait_is_at_most_the_doubling_ceiling_and_never_past_the_cap() {
    let almost_one = u64::MAX;
    let no_time = Duration::ZERO;
    for attempt in 0..40 {
        let ceiling = (BASE * 2u32.saturating_pow(attempt.min(20))).min(CAP);
        let longest = POLICY.delay(attempt, no_time, almost_one).unwrap();
        assert!(longest <= ceiling, "attempt {attempt}: {longest:?}");
        assert!(longest <= CAP);
        assert_eq!(POLICY.delay(attempt, no_time, 0), Some(Duration::ZERO));
    }
    assert!(POLICY.delay(0, no_time, almost_one).unwrap() > BASE * 9 / 10);
    assert!(POLICY.delay(10, no_time, almost_one).unwrap() > CAP * 9 / 10);
}

#[test]
fn no_wait_is_given_that_would_end_past_the_budget() {
    let mut elapsed = Duration::ZERO;
    let mut attempt = 0;
    while let Some(wait) = POLICY.delay(attempt, elapsed, u64::MAX / 100 * 99) {
        elapsed += wait;
        attempt += 1;
        assert!(elapsed < BUDGET);
    }
    assert!(attempt >= 5, "only {attempt} retries fit the budget");
    assert_eq!(
        POLICY.delay(0, BUDGET, 0),
        None,
        "a spent budget allows nothing"
    );
}

#[test]
fn the_budget_is_well_under_the_consumers_timeout() {
    // The consumers' `Timeout` in infra/template.yaml is 20 s, validate-order's 10 s.
    assert!(BUDGET * 2 <= Duration::from_secs(10));
    assert!(BASE < CAP && CAP < BUDGET);
}

#[test]
fn jitter_draws_spread_over_the_range_and_differ() {
    let draws: Vec<u64> = (0..1000).map(|_| draw()).collect();
    let low = draws.iter().filter(|d| **d < u64::MAX / 2).count();
    assert!((400..600).contains(&low), "{low} of 1000 in the lower half");
    let mut distinct = draws.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), draws.len());
    let half = POLICY.delay(3, Duration::ZERO, u64::MAX / 2).unwrap();
    let ceiling = BASE * 8;
    assert!(
        ceiling / 2 - half <= Duration::from_nanos(1),
        "a middle draw waits half the ceiling: {half:?}"
    );
}

#[test]
fn conflicts_throttles_and_our_own_transaction_in_flight_are_contention() {
    for code in [
        "TransactionConflictException",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
    ] {
        assert!(contended(&coded(code)), "{code}");
    }
}

#[test]
fn a_failed_condition_or_a_server_error_is_not_contention() {
    let failed = PutItemError::ConditionalCheckFailedException(
        ConditionalCheckFailedException::builder()
            .meta(
                ErrorMetadata::builder()
                    .code("ConditionalCheckFailedException")
                    .build(),
            )
            .build(),
    );
    assert!(!contended(&service_error(failed)));
    let internal = PutItemError::InternalServerError(InternalServerError::builder().build());
    assert!(!contended(&service_error(internal)));
    assert!(!contended(&coded("ValidationException")));
    assert!(!contended(&coded("IdempotentParameterMismatchException")));
    let timeout: SdkError<PutItemError, Response> = SdkError::timeout_error("slow");
    assert!(!contended(&timeout));
}

#[test]
fn a_cancellation_is_contention_only_when_no_condition_failed() {
    assert!(cancelled_for_contention(&reasons(&[
        "None",
        "TransactionConflict"
    ])));
    assert!(cancelled_for_contention(&reasons(&[
        "ThrottlingError",
        "None",
        "TransactionConflict"
    ])));
    assert!(cancelled_for_contention(&reasons(&[
        "ProvisionedThroughputExceeded"
    ])));
    assert!(!cancelled_for_contention(&reasons(&[
        "TransactionConflict",
        "ConditionalCheckFailed"
    ])));
    assert!(!cancelled_for_contention(&reasons(&["ValidationError"])));
    assert!(!cancelled_for_contention(&reasons(&["None", "None"])));
    assert!(!cancelled_for_contention(&[]));
}

const QUICK: Policy = Policy {
    base: Duration::from_millis(1),
    cap: Duration::from_millis(4),
    budget: Duration::from_millis(60),
};

/// [`retrying`] under [`QUICK`] a call that conflicts `conflicts` times, then writes: its answer
/// and how many calls were made.
async fn written_after(conflicts: u32) -> (Result<&'static str, &'static str>, u32) {
    let calls = AtomicU32::new(0);
    let answer = retrying(
        "test",
        QUICK,
        |e: &&str| (*e == "conflict").then_some("TransactionConflict"),
        || async {
            if calls.fetch_add(1, Ordering::SeqCst) < conflicts {
                Err("conflict")
            } else {
                Ok("written")
            }
        },
    )
    .await;
    (answer, calls.load(Ordering::SeqCst))
}

#[tokio::test]
async fn contention_is_retried_until_the_call_succeeds() {
    let (answer, calls) = written_after(3).await;
    assert_eq!(answer, Ok("written"));
    assert_eq!(calls, 4);
}

#[tokio::test]
async fn any_other_answer_ends_the_retries_at_once() {
    let calls = AtomicU32::new(0);
    let answer: Result<(), &str> = retrying(
        "test",
        QUICK,
        |e: &&str| (*e == "conflict").then_some("TransactionConflict"),
        || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err("condition failed") }
        },
    )
    .await;
    assert_eq!(answer, Err("condition failed"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn endless_contention_fails_once_the_budget_is_spent() {
    let calls = AtomicU32::new(0);
    let started = Instant::now();
    let answer: Result<(), &str> = retrying(
        "test",
        QUICK,
        |_: &&str| Some("ThrottlingException"),
        || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err("conflict") }
        },
    )
    .await;
    assert_eq!(answer, Err("conflict"));
    assert!(calls.load(Ordering::SeqCst) > 3);
    // The waits stay within the budget; the sleeps' own lateness is the only overrun.
    assert!(started.elapsed() < QUICK.budget + Duration::from_millis(200));
}

#[tokio::test]
async fn every_retry_is_counted_by_its_reason() {
    let captured = crate::telemetry::metrics::capture();
    let (answer, _) = written_after(2).await;
    assert_eq!(answer, Ok("written"));
    use crate::telemetry::metrics::{dim, name};
    assert_eq!(
        captured.sum(name::CONTENTION_RETRIES, &[(dim::REASON, "conflict")]),
        2.0
    );
}
