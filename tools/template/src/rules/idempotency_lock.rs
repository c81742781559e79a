//! Rule 10, `idempotency-lock`: an idempotency key's lock lasts longer than its function can run
//! and no longer than the consumed queue hides a message.
//!
//! The lock (`IDEMPOTENCY_LOCK_SECONDS`) is how long a claimed key stays in progress before
//! another delivery may take it over. Both bounds come from what SQS and Lambda do:
//!
//! - **above the function's `Timeout`**: Lambda stops an invocation at its `Timeout`, so a
//!   holder is certainly dead only then. A shorter lock lets a second delivery (a duplicate
//!   from EventBridge or the event source mapping) take over a key whose holder is still
//!   working, and both perform the effect: two charges, two notifications.
//! - **at most the queue's `VisibilityTimeout`**: a message whose holder died comes back when
//!   its visibility timeout ends. If the lock is still held then, the redelivery finds the key
//!   in progress, fails, and waits another visibility timeout: each such receive counts toward
//!   `maxReceiveCount`, so a lock longer than the visibility timeout burns receives and can send
//!   a healthy message to the DLQ. The key is claimed a little after the receive (batching
//!   window, start-up), so a lock of `VisibilityTimeout − Timeout` or less never meets the
//!   redelivery; the template chooses such a value, the rule enforces the plain bound.

use super::{consumers, read, Rule, Violation};
use crate::model::{Function, Template};
use crate::value::Value;

/// The lock's variable, in whole seconds.
pub const LOCK_VARIABLE: &str = "IDEMPOTENCY_LOCK_SECONDS";

pub fn idempotency_locks(template: &Template) -> Vec<Violation> {
    let rule = Rule::IdempotencyLock;
    let functions = match read(rule, template.functions()) {
        Ok(f) => f,
        Err(v) => return v,
    };
    let consumed = match consumers(rule, template) {
        Ok(c) => c,
        Err(v) => return v,
    };
    let mut violations = Vec::new();
    for function in &functions {
        let lock = match seconds(rule, function, LOCK_VARIABLE) {
            Ok(Some(lock)) => lock,
            Ok(None) => continue,
            Err(v) => {
                violations.push(v);
                continue;
            }
        };
        let id = &function.logical_id;
        if lock <= function.timeout_seconds {
            violations.push(Violation::new(
                rule,
                id,
                format!(
                    "{LOCK_VARIABLE} is {lock} s but Timeout is {} s: the lock must outlast the \
                     function, or a duplicate delivery takes over a key whose holder still runs",
                    function.timeout_seconds
                ),
            ));
        }
        for (_, queue, _) in consumed.iter().filter(|(f, _, _)| &f.logical_id == id) {
            if lock > queue.visibility_timeout_seconds {
                violations.push(Violation::new(
                    rule,
                    id,
                    format!(
                        "{LOCK_VARIABLE} is {lock} s but {} hides a message for only {} s: a \
                         redelivery would meet the lock and burn a receive toward the DLQ",
                        queue.logical_id, queue.visibility_timeout_seconds
                    ),
                ));
            }
        }
    }
    violations
}

/// A function's whole-seconds variable: `None` when it does not set it, a violation when it is
/// not a literal positive number.
pub(crate) fn seconds(
    rule: Rule,
    function: &Function,
    name: &str,
) -> Result<Option<u64>, Violation> {
    let Some(value) = function.environment.get(name) else {
        return Ok(None);
    };
    match value.as_u64() {
        Some(n) if n > 0 => Ok(Some(n)),
        _ => Err(Violation::new(
            rule,
            &function.logical_id,
            format!(
                "{name} must be a literal positive number of seconds, found {}",
                describe(value)
            ),
        )),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => format!("{other:?}"),
    }
}
