//! Rule 11, `idempotency-retention`: a completed idempotency key is remembered as long as the
//! message that could ask for its effect again can exist.
//!
//! A redelivery — or an operator's redrive from the DLQ — that finds the key forgotten performs
//! the effect again: a second charge, a second notification. For a standard queue a message's
//! expiry always counts from its original enqueue time, also after it moves to the DLQ (SQS
//! Developer Guide, "Setting-up dead-letter queue retention": a move to the DLQ leaves the
//! enqueue timestamp as it was; FIFO queues reset it). So a message lives at most the
//! longer of the queue's and its DLQ's `MessageRetentionPeriod` (14 days at most) after it was
//! sent, and its key is written after that: a key kept (`IDEMPOTENCY_KEEP_SECONDS`) at least
//! that long outlives every delivery of the message and every copy waiting in the DLQ for a
//! redrive. (A redriven message starts anew in its queue; it is covered when it is processed
//! while its key lives, which a redrive shortly before the DLQ drops it may miss.)

use super::idempotency_lock::{seconds, LOCK_VARIABLE};
use super::{consumers, read, Rule, Violation};
use crate::model::Template;

/// The retention's variable, in whole seconds.
pub const KEEP_VARIABLE: &str = "IDEMPOTENCY_KEEP_SECONDS";

pub fn idempotency_retention(template: &Template) -> Vec<Violation> {
    let rule = Rule::IdempotencyRetention;
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
        let id = &function.logical_id;
        let keep = match seconds(rule, function, KEEP_VARIABLE) {
            Ok(Some(keep)) => keep,
            Ok(None) => {
                if function.environment.contains_key(LOCK_VARIABLE) {
                    violations.push(Violation::new(
                        rule,
                        id,
                        format!(
                            "sets {LOCK_VARIABLE} but not {KEEP_VARIABLE}: say how long a \
                             completed key is remembered"
                        ),
                    ));
                }
                continue;
            }
            Err(v) => {
                violations.push(v);
                continue;
            }
        };
        if !function.environment.contains_key(LOCK_VARIABLE) {
            violations.push(Violation::new(
                rule,
                id,
                format!("sets {KEEP_VARIABLE} but not {LOCK_VARIABLE}"),
            ));
        }
        for (_, queue, _) in consumed.iter().filter(|(f, _, _)| &f.logical_id == id) {
            let dlq = queue
                .redrive
                .as_ref()
                .and_then(|r| r.dead_letter_queue.as_deref())
                .and_then(|dlq| template.queue(dlq).ok());
            let (longest, holder) = match &dlq {
                Some(d) if d.message_retention_seconds >= queue.message_retention_seconds => {
                    (d.message_retention_seconds, d.logical_id.as_str())
                }
                _ => (queue.message_retention_seconds, queue.logical_id.as_str()),
            };
            if keep < longest {
                violations.push(Violation::new(
                    rule,
                    id,
                    format!(
                        "{KEEP_VARIABLE} is {keep} s but a message of {} can live {longest} s \
                         (MessageRetentionPeriod of {holder}, counted from its first enqueue): \
                         a later redelivery or redrive would find the key forgotten and repeat \
                         the effect",
                        queue.logical_id
                    ),
                ));
            }
        }
    }
    violations
}
