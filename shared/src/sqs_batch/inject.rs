//! The faults of `ORDERFLOW_FAULTS` around a record's effect (see [`crate::faults`]): compiled
//! in only with the `local-cloud` feature.

use aws_lambda_events::sqs::SqsMessage;
use tracing::{error, warn};

use super::RecordError;
use crate::events::Envelope;
use crate::faults::{Fault, Faults};
use crate::telemetry::messages::{fault, INJECTED_FAULT};

/// Which delivery a record is: its order, its event type and its receive count, so the same
/// delivery meets the same faults and a redelivery rolls again.
pub(super) fn fault_key(envelope: &Envelope, record: &SqsMessage) -> String {
    format!(
        "{}:{}:{}",
        envelope.metadata.correlation_id,
        envelope.metadata.event_type,
        record
            .attributes
            .get("ApproximateReceiveCount")
            .map_or("1", String::as_str)
    )
}

/// Before the effect: a delay past the timeout, or an error (a plain retry).
pub(super) async fn before_effect(faults: &Faults, key: &str) -> Result<(), RecordError> {
    if !faults.is_active() {
        return Ok(());
    }
    if faults.hits(Fault::Delay, key) {
        let delay_ms = u64::try_from(faults.delay().as_millis()).unwrap_or(u64::MAX);
        warn!(fault = fault::DELAY, delay_ms, "{INJECTED_FAULT}");
        tokio::time::sleep(faults.delay()).await;
    }
    if faults.hits(Fault::ErrorBefore, key) {
        let reason = "injected fault before the effect";
        warn!(fault = fault::ERROR_BEFORE, %reason, "{INJECTED_FAULT}");
        return Err(RecordError::Transient(reason.into()));
    }
    Ok(())
}

/// After a successful effect (and the batch's publish): a process exit mid-batch, or an error
/// (a redelivery of done work).
pub(super) fn after_effect(
    faults: &Faults,
    key: Option<&str>,
    result: Result<(), RecordError>,
) -> Result<(), RecordError> {
    let (Ok(()), Some(key)) = (&result, key) else {
        return result;
    };
    if !faults.is_active() {
        return result;
    }
    if faults.hits(Fault::Crash, key) {
        error!(
            fault = fault::CRASH,
            "{INJECTED_FAULT}: the process exits mid-batch, after the effect"
        );
        std::process::exit(70);
    }
    if faults.hits(Fault::ErrorAfter, key) {
        let reason = "injected fault after the effect";
        warn!(fault = fault::ERROR_AFTER, %reason, "{INJECTED_FAULT}");
        return Err(RecordError::Transient(reason.into()));
    }
    result
}
