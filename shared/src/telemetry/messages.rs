//! The log messages, field names and field values that the tools read back from the functions'
//! JSON logs (`orderflow chaos`, `orderflow load`, the local cloud's DLQ reasons). The code that
//! writes a line and the code that reads it both use these constants, so a reworded message
//! breaks a test instead of silently zeroing a count.
//!
//! `tracing` takes field names as identifiers: where a line is written the name is spelled out
//! (`reason = ...`), and a test next to the writer reads the line back with the constant.

/// The simulated payment provider approved a charge (fields [`ORDER_ID`], [`CHARGE_ID`]): its
/// own record of what it did, from which `orderflow chaos` counts charges per order.
pub const PROVIDER_CHARGE_APPROVED: &str = "payment provider: charge approved";
/// The simulated payment provider declined a charge (field [`ORDER_ID`]).
pub const PROVIDER_CHARGE_DECLINED: &str = "payment provider: charge declined";

/// A fault injected into a function (field [`FAULT`]); the crash line extends it with what
/// happens next.
pub const INJECTED_FAULT: &str = "injected fault";

/// One completed AWS call, when the function counts them (fields [`AWS_SERVICE`],
/// [`AWS_OPERATION`], [`DURATION_MS`], [`ATTEMPTS`], [`ERROR`]); `orderflow load` adds them up,
/// `orderflow trace` shows them.
pub const AWS_CALL: &str = "aws call";

/// One run of reconcile-orders (fields `examined`, `order_placed`, `reservation_expired`,
/// `payment_failed`, `stranded`, `oldest_stranded` (comma-separated order ids), `failures`,
/// `truncated`); WARN when `stranded` > 0. The template's metric filter reads `stranded` from
/// it (the `StrandedOrders` metric and its alarm).
pub const RECONCILE_RUN: &str = "reconcile run";
/// Field: the AWS service of a call (`DynamoDB`, `EventBridge`, `SNS`).
pub const AWS_SERVICE: &str = "aws_service";
/// Field: the AWS operation of a call (`TransactWriteItems`, `PutEvents`, `PublishBatch`).
pub const AWS_OPERATION: &str = "aws_operation";

/// Field: why a record failed, on the ERROR or WARN line that reports it. The local cloud keeps
/// it (with the record span's [`MESSAGE_ID`]) to show next to the message in its DLQ.
pub const REASON: &str = "reason";
/// Span field: the SQS message a record line is about.
pub const MESSAGE_ID: &str = "message_id";
/// Span field: which receive of that message (SQS's `ApproximateReceiveCount`).
pub const RECEIVE_COUNT: &str = "receive_count";
/// Span field: the order a record is about.
pub const CORRELATION_ID: &str = "correlation_id";
/// Span field (and a field of validate-order's `order accepted`): the order's trace id, 32 hex
/// digits (W3C; X-Ray's `1-<8>-<24>` without the dashes).
pub const TRACE_ID: &str = "trace_id";
/// Span field of the Lambda runtime's invocation span: the invocation's request id.
pub const REQUEST_ID: &str = "requestId";
/// Fields of an [`AWS_CALL`] line: how long the call took with its retries, how many attempts
/// it made, and why it failed (absent when it succeeded).
pub const DURATION_MS: &str = "duration_ms";
pub const ATTEMPTS: &str = "attempts";
pub const ERROR: &str = "error";
/// Field: which fault was injected; its values are in [`fault`].
pub const FAULT: &str = "fault";
/// Field: the order a provider line is about.
pub const ORDER_ID: &str = "order_id";
/// Field: the provider's charge id.
pub const CHARGE_ID: &str = "charge_id";

/// The values of the [`FAULT`] field (and the kinds of `ORDERFLOW_FAULTS`).
pub mod fault {
    pub const ERROR_BEFORE: &str = "error_before";
    pub const ERROR_AFTER: &str = "error_after";
    pub const CRASH: &str = "crash";
    pub const DELAY: &str = "delay";
    pub const DUPLICATE: &str = "duplicate";
    pub const THROTTLE: &str = "throttle";
    pub const UNAVAILABLE: &str = "unavailable";
    pub const LOST_RESPONSE: &str = "lost_response";
    pub const CRASH_BETWEEN_STEPS: &str = "crash_between_steps";
}
