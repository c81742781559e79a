//! Rule 3, `batch-item-failures`: every SQS event source reports partial batch failures.

use super::{read, Rule, Violation};
use crate::model::{EventSource, Template};

/// Rule 3: every SQS event source sets `FunctionResponseTypes: [ReportBatchItemFailures]`, so
/// one bad message fails alone instead of returning its whole batch to the queue.
pub fn batch_item_failures(template: &Template) -> Vec<Violation> {
    let rule = Rule::BatchItemFailures;
    let functions = match read(rule, template.functions()) {
        Ok(f) => f,
        Err(v) => return v,
    };
    let mut violations = Vec::new();
    for function in &functions {
        for event in &function.events {
            if let EventSource::Sqs(sqs) = &event.source {
                if !sqs.reports_batch_item_failures() {
                    violations.push(Violation::new(
                        rule,
                        &function.logical_id,
                        format!(
                            "SQS event {} (queue {}) must set FunctionResponseTypes: \
                            [ReportBatchItemFailures]",
                            event.name, sqs.queue
                        ),
                    ));
                }
            }
        }
    }
    violations
}
