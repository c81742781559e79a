//! Rule 1, `dead-letter-queue`: every consumed queue redrives into a DLQ of its own.

use std::collections::{BTreeMap, BTreeSet};

use super::{consumers, read, Rule, Violation};
use crate::model::{types, Queue, Template};

/// Rule 1: every queue a function consumes has a redrive policy (with `maxReceiveCount`) to a
/// DLQ declared in the template that is its own: not the queue itself, not shared with another
/// source queue.
pub fn dead_letter_queues(template: &Template) -> Vec<Violation> {
    let rule = Rule::DeadLetterQueue;
    let consumed = match consumers(rule, template) {
        Ok(c) => c,
        Err(v) => return v,
    };
    let queues = match read(rule, template.queues()) {
        Ok(q) => q,
        Err(v) => return v,
    };
    // DLQ -> every queue that redrives into it.
    let mut sources: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for queue in &queues {
        if let Some(dlq) = queue
            .redrive
            .as_ref()
            .and_then(|r| r.dead_letter_queue.clone())
        {
            sources
                .entry(dlq)
                .or_default()
                .insert(queue.logical_id.clone());
        }
    }

    let mut violations = Vec::new();
    let mut seen = BTreeSet::new();
    for (function, queue, _) in consumed {
        if seen.insert(queue.logical_id.clone()) {
            let problems = redrive_problems(template, &queue, &function.logical_id, &sources);
            violations.extend(
                problems
                    .into_iter()
                    .map(|m| Violation::new(rule, &queue.logical_id, m)),
            );
        }
    }
    violations
}

fn redrive_problems(
    template: &Template,
    queue: &Queue,
    consumer: &str,
    sources: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let id = queue.logical_id.as_str();
    let Some(redrive) = &queue.redrive else {
        return vec![format!(
            "is consumed by {consumer} but has no RedrivePolicy: a poison message would be \
             retried forever; add one to a DLQ of its own"
        )];
    };
    let mut problems = Vec::new();
    match &redrive.dead_letter_queue {
        None => problems.push(
            "RedrivePolicy deadLetterTargetArn must be !GetAtt <DLQ>.Arn of a queue in the template"
                .to_owned(),
        ),
        Some(dlq) if dlq == id => {
            problems.push("RedrivePolicy sends failed messages back to the queue itself".to_owned())
        }
        Some(dlq) if template.resource(dlq).map(|r| r.kind.as_str()) != Some(types::QUEUE) => {
            problems.push(format!("dead-letter target {dlq} is not an SQS queue of the template"))
        }
        Some(dlq) => {
            let others: Vec<&str> = sources
                .get(dlq)
                .into_iter()
                .flatten()
                .filter(|s| s.as_str() != id)
                .map(String::as_str)
                .collect();
            if !others.is_empty() {
                problems.push(format!(
                    "shares its DLQ {dlq} with {}: each queue needs its own, so a redrive \
                     returns messages to the right consumer",
                    others.join(", ")
                ));
            }
        }
    }
    if redrive.max_receive_count.is_none_or(|n| n < 1) {
        problems.push("RedrivePolicy needs a maxReceiveCount of at least 1".to_owned());
    }
    problems
}
