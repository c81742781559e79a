//! Rule 2, `visibility-timeout`: a consumed queue outlasts six of its consumer's timeouts.

use super::{consumers, Rule, Violation};
use crate::model::Template;

/// Rule 2: a consumed queue's `VisibilityTimeout` is at least six times its consumer's
/// `Timeout` (AWS's guidance for Lambda SQS event sources, so throttled retries don't make a
/// message visible again while a batch is still being processed).
pub fn visibility_timeouts(template: &Template) -> Vec<Violation> {
    let rule = Rule::VisibilityTimeout;
    let consumed = match consumers(rule, template) {
        Ok(c) => c,
        Err(v) => return v,
    };
    consumed
        .into_iter()
        .filter_map(|(function, queue, _)| {
            let needed = function.timeout_seconds.saturating_mul(6);
            (queue.visibility_timeout_seconds < needed).then(|| {
                Violation::new(
                    rule,
                    &queue.logical_id,
                    format!(
                        "VisibilityTimeout is {} s but its consumer {} has Timeout {} s: it \
                            must be at least 6 x {} = {} s",
                        queue.visibility_timeout_seconds,
                        function.logical_id,
                        function.timeout_seconds,
                        function.timeout_seconds,
                        needed
                    ),
                )
            })
        })
        .collect()
}
