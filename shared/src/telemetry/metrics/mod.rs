//! Business metrics in CloudWatch Embedded Metric Format (EMF): one JSON line per dimension set
//! on stdout, which CloudWatch Logs turns into metrics (no API call, no agent) and the local cloud
//! reads back. Written through the `metrics` facade with `metrics_cloudwatch_embedded` as its
//! recorder (chosen by measurement: docs/PERFORMANCE.md, "what was tried").
//!
//! Every metric is in the namespace [`NAMESPACE`] with the dimension `Function` and at most one
//! more ([`dim`]), whose values are fixed sets, so CloudWatch keeps few series. Counts are taken
//! where an outcome is decided for the first time (a redelivery that finds the work done counts
//! nothing), so at rest they add up: placed = reserved + refused, reserved = approved + declined,
//! declined = released, notified = confirmed + rejected + cancelled. The catalogue is [`name`];
//! docs/DESIGN.md §6 "Metrics" documents it.
//!
//! A function calls [`init`] once and [`flush`] after every invocation; the counters in between
//! are one line each at the decision points. What a process records after its last flush is lost
//! if it crashes (as its log lines would be).

use chrono::{DateTime, Utc};

#[cfg(any(test, feature = "testing"))]
mod capture;
#[cfg(any(test, feature = "testing"))]
pub use capture::{capture, Captured};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "orderflow";

/// Metric names (EMF `Name`). Units: `Count` except [`STAGE_LATENCY`] (`Milliseconds`).
pub mod name {
    /// validate-order: a new order stored `PENDING` (a repeat of the same request is not).
    pub const ORDERS_PLACED: &str = "OrdersPlaced";
    /// validate-order and query-api: a request answered with a problem (`Reason`: its slug).
    pub const REQUESTS_REFUSED: &str = "RequestsRefused";
    /// update-inventory: an order's stock reserved or refused (`Outcome`: reserved, refused).
    pub const RESERVATIONS: &str = "Reservations";
    /// update-inventory: a failed payment's stock put back, the order `CANCELLED`.
    pub const STOCK_RELEASED: &str = "StockReleased";
    /// process-payment: an order's charge settled (`Outcome`: approved, declined), or a charge
    /// whose outcome is not known yet (`Outcome`: unknown; retried, so counted per attempt).
    pub const CHARGES: &str = "Charges";
    /// send-notification: a customer told (`Outcome`: confirmed, rejected, cancelled).
    pub const NOTIFICATIONS_SENT: &str = "NotificationsSent";
    /// Any function: a DynamoDB write retried for contention (`Reason`: conflict, throttle,
    /// in_progress).
    pub const CONTENTION_RETRIES: &str = "ContentionRetries";
    /// The SQS consumers: a record reported failed (`Reason`: permanent (a malformed record
    /// too), transient).
    pub const RECORDS_FAILED: &str = "RecordsFailed";
    /// The SQS consumers: now − the order's placed time when a stage decides (`Stage`).
    pub const STAGE_LATENCY: &str = "StageLatency";
    /// reconcile-orders: unfinished orders past their bound in this run (a gauge, 0 included).
    pub const STRANDED_ORDERS: &str = "StrandedOrders";
}

/// Dimension names. `Function` is on every metric; one of the others at most.
pub mod dim {
    pub const FUNCTION: &str = "Function";
    pub const OUTCOME: &str = "Outcome";
    pub const REASON: &str = "Reason";
    pub const STAGE: &str = "Stage";
}

/// Installs the EMF recorder for `function` (the `Function` dimension). Called once at the start
/// of `main`; a second call changes nothing.
pub fn init(function: &'static str) {
    let installed = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .with_dimension(dim::FUNCTION, function)
        .init();
    if let Ok(collector) = installed {
        let _ = COLLECTOR.set(collector);
        describe();
    }
}

static COLLECTOR: std::sync::OnceLock<&'static metrics_cloudwatch_embedded::Collector> =
    std::sync::OnceLock::new();

/// Writes what was recorded since the last flush to stdout, one EMF line per dimension set.
/// Called at the end of every invocation, so the lines reach CloudWatch before Lambda freezes
/// the process.
pub fn flush() {
    if let Some(collector) = COLLECTOR.get() {
        #[cfg(any(test, feature = "testing"))]
        if capture::keep(collector) {
            return;
        }
        if let Err(e) = collector.flush(std::io::stdout().lock()) {
            tracing::warn!(error = %e, "metrics could not be written");
        }
    }
}

/// Units, read by the recorder when it writes the EMF `Metrics` entries.
fn describe() {
    metrics::describe_histogram!(
        name::STAGE_LATENCY,
        metrics::Unit::Milliseconds,
        "now - placedAt"
    );
    for counter in [
        name::ORDERS_PLACED,
        name::REQUESTS_REFUSED,
        name::RESERVATIONS,
        name::STOCK_RELEASED,
        name::CHARGES,
        name::NOTIFICATIONS_SENT,
        name::CONTENTION_RETRIES,
        name::RECORDS_FAILED,
    ] {
        metrics::describe_counter!(counter, metrics::Unit::Count, "");
    }
    metrics::describe_gauge!(name::STRANDED_ORDERS, metrics::Unit::Count, "");
}

/// A new order stored.
pub fn order_placed() {
    metrics::counter!(name::ORDERS_PLACED).increment(1);
}

/// A request refused with the problem type `slug`.
pub fn request_refused(slug: &str) {
    metrics::counter!(name::REQUESTS_REFUSED, dim::REASON => slug.to_owned()).increment(1);
}

/// An order's reservation decided: `reserved` or refused for insufficient stock.
pub fn reservation(reserved: bool) {
    let outcome = if reserved { "reserved" } else { "refused" };
    metrics::counter!(name::RESERVATIONS, dim::OUTCOME => outcome).increment(1);
}

/// A failed payment's stock released (the order cancelled).
pub fn stock_released() {
    metrics::counter!(name::STOCK_RELEASED).increment(1);
}

/// How a charge ended, for [`charge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    Approved,
    Declined,
    /// Attempted, outcome not known (a provider or store failure after the attempt).
    Unknown,
}

pub fn charge(outcome: Charge) {
    let outcome = match outcome {
        Charge::Approved => "approved",
        Charge::Declined => "declined",
        Charge::Unknown => "unknown",
    };
    metrics::counter!(name::CHARGES, dim::OUTCOME => outcome).increment(1);
}

/// A customer told; `outcome` is the order's end (confirmed, rejected, cancelled).
pub fn notification_sent(outcome: &'static str) {
    metrics::counter!(name::NOTIFICATIONS_SENT, dim::OUTCOME => outcome).increment(1);
}

/// A DynamoDB write retried for contention; `code` is DynamoDB's error code or cancellation
/// reason, folded into three reasons.
pub fn contention_retried(code: &str) {
    let reason = if code.contains("Conflict") {
        "conflict"
    } else if code.contains("InProgress") {
        "in_progress"
    } else {
        "throttle"
    };
    metrics::counter!(name::CONTENTION_RETRIES, dim::REASON => reason).increment(1);
}

/// A record reported failed: `permanent` or `transient`.
pub fn record_failed(reason: &'static str) {
    metrics::counter!(name::RECORDS_FAILED, dim::REASON => reason).increment(1);
}

/// A stage decided about an order placed at `placed_at` (none on events from before the
/// envelope carried it: nothing is recorded).
pub fn stage_latency(stage: &'static str, placed_at: Option<DateTime<Utc>>) {
    let Some(placed_at) = placed_at else { return };
    let ms = (Utc::now() - placed_at).num_milliseconds().max(0);
    #[allow(clippy::cast_precision_loss)] // milliseconds stay far below 2^52
    metrics::histogram!(name::STAGE_LATENCY, dim::STAGE => stage).record(ms as f64);
}

/// The reconciler's run found `count` stranded orders (recorded even when 0, so the alarm sees
/// a value every run).
pub fn stranded_orders(count: u32) {
    metrics::gauge!(name::STRANDED_ORDERS).set(count);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_count_is_one_emf_line_per_dimension_set_in_the_namespace() {
        let captured = capture();
        reservation(true);
        reservation(true);
        reservation(false);
        let lines = captured.lines(name::RESERVATIONS);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let reserved = lines
            .iter()
            .find(|l| l[dim::OUTCOME] == "reserved")
            .unwrap();
        assert_eq!(reserved[name::RESERVATIONS], 2);
        assert_eq!(reserved[dim::FUNCTION], "test");
        let directive = &reserved["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(
            directive["Dimensions"][0],
            serde_json::json!([dim::FUNCTION, dim::OUTCOME])
        );
        assert_eq!(directive["Metrics"][0]["Name"], name::RESERVATIONS);
        assert_eq!(directive["Metrics"][0]["Unit"], "Count");
    }

    #[test]
    fn a_flush_empties_the_counts_so_each_invocation_reports_its_own() {
        let captured = capture();
        order_placed();
        assert_eq!(captured.sum(name::ORDERS_PLACED, &[]), 1.0);
        assert_eq!(captured.sum(name::ORDERS_PLACED, &[]), 0.0);
    }

    #[test]
    fn stage_latency_is_now_minus_placed_in_milliseconds_and_skipped_without_a_placed_time() {
        let captured = capture();
        stage_latency("reserve", Some(Utc::now() - chrono::Duration::seconds(2)));
        stage_latency("reserve", None);
        let lines = captured.lines(name::STAGE_LATENCY);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0][dim::STAGE], "reserve");
        let values = lines[0][name::STAGE_LATENCY].as_array().unwrap();
        assert_eq!(values.len(), 1);
        let ms = values[0].as_f64().unwrap();
        assert!((2000.0..3000.0).contains(&ms), "{ms}");
        assert_eq!(
            lines[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "Milliseconds"
        );
    }

    #[test]
    fn contention_codes_fold_into_three_reasons() {
        let captured = capture();
        for code in [
            "TransactionConflictException",
            "TransactionConflict",
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "ThrottlingError",
            "TransactionInProgressException",
        ] {
            contention_retried(code);
        }
        let lines = captured.lines(name::CONTENTION_RETRIES);
        let of = |reason: &str| {
            lines
                .iter()
                .find(|l| l[dim::REASON] == reason)
                .map(|l| l[name::CONTENTION_RETRIES].clone())
        };
        assert_eq!(of("conflict"), Some(2.into()));
        assert_eq!(of("throttle"), Some(3.into()));
        assert_eq!(of("in_progress"), Some(1.into()));
    }

    #[test]
    fn the_stranded_gauge_is_written_even_at_zero() {
        let captured = capture();
        stranded_orders(0);
        let lines = captured.lines(name::STRANDED_ORDERS);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0][name::STRANDED_ORDERS], 0.0);
    }
}
