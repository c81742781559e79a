//! Rule 12, `event-target-dead-letter`: no EventBridge target can drop an event silently.
//!
//! EventBridge retries a delivery that fails for a retriable reason — by default for 24 hours
//! and up to 185 times, with backoff and jitter — and then drops the event; one it cannot
//! deliver at all (a missing queue, a policy that refuses it) is dropped at once (EventBridge
//! User Guide, "Event retry policy and using dead-letter queues"). Only a target's
//! `DeadLetterConfig` keeps such an event, and only if the dead-letter queue's policy lets the
//! rule send to it. So every target states its `RetryPolicy` (both fields, within the API's
//! ranges: `MaximumRetryAttempts` 0–185, `MaximumEventAgeInSeconds` 60–86,400) and names a
//! standard SQS queue of the template as its dead-letter queue, whose queue policy lets
//! `events.amazonaws.com` `sqs:SendMessage` with `aws:SourceArn` = the rule. The depth alarm
//! of that queue is rule `dlq-alarm`'s.

use super::event_targets::allows_rule_to_send;
use super::{read, Rule, Violation};
use crate::model::{types, EventRule, RetryPolicy, RuleTarget, Template};

/// `MaximumRetryAttempts`' valid range (EventBridge API reference, `RetryPolicy`).
pub const RETRY_ATTEMPTS: std::ops::RangeInclusive<u64> = 0..=185;
/// `MaximumEventAgeInSeconds`' valid range.
pub const EVENT_AGE_SECONDS: std::ops::RangeInclusive<u64> = 60..=86_400;

pub fn event_target_dead_letters(template: &Template) -> Vec<Violation> {
    let rule = Rule::EventTargetDeadLetter;
    let rules = match read(rule, template.event_rules()) {
        Ok(r) => r,
        Err(v) => return v,
    };
    let mut violations = Vec::new();
    for event_rule in &rules {
        for target in &event_rule.targets {
            let problems = retry_problems(target.retry_policy)
                .into_iter()
                .chain(dead_letter_problems(template, event_rule, target));
            violations.extend(problems.map(|m| {
                Violation::new(
                    rule,
                    &event_rule.logical_id,
                    format!("target {}: {m}", target.id),
                )
            }));
        }
    }
    violations
}

fn retry_problems(policy: Option<RetryPolicy>) -> Vec<String> {
    let Some(policy) = policy else {
        return vec![
            "has no RetryPolicy: state how long EventBridge retries before the \
                     event goes to the dead-letter queue"
                .into(),
        ];
    };
    let mut problems = Vec::new();
    match policy.maximum_retry_attempts {
        Some(n) if RETRY_ATTEMPTS.contains(&n) => {}
        Some(n) => problems.push(format!("MaximumRetryAttempts {n} is outside 0-185")),
        None => problems.push("RetryPolicy has no MaximumRetryAttempts".into()),
    }
    match policy.maximum_event_age_seconds {
        Some(n) if EVENT_AGE_SECONDS.contains(&n) => {}
        Some(n) => problems.push(format!("MaximumEventAgeInSeconds {n} is outside 60-86400")),
        None => problems.push("RetryPolicy has no MaximumEventAgeInSeconds".into()),
    }
    problems
}

fn dead_letter_problems(template: &Template, rule: &EventRule, target: &RuleTarget) -> Vec<String> {
    let Some(written) = &target.dead_letter_arn else {
        return vec![
            "has no DeadLetterConfig: an event EventBridge cannot deliver would be \
                     dropped without a trace"
                .into(),
        ];
    };
    let Some(dlq) = target.dead_letter_queue.as_deref() else {
        return vec![format!(
            "DeadLetterConfig Arn must be !GetAtt <queue>.Arn of a queue in the template, \
             found {written:?}"
        )];
    };
    let queue = match template.resource(dlq).map(|r| r.kind.as_str()) {
        Some(types::QUEUE) => template.queue(dlq),
        _ => {
            return vec![format!(
                "DeadLetterConfig names {dlq}, which is not an SQS queue of the template"
            )]
        }
    };
    let mut problems = Vec::new();
    match queue {
        Ok(q) if q.fifo => problems.push(format!(
            "its dead-letter queue {dlq} is FIFO; EventBridge dead-letter queues are standard"
        )),
        Ok(_) => {}
        Err(e) => problems.push(format!("its dead-letter queue {dlq} cannot be read: {e}")),
    }
    if target.resource.as_deref() == Some(dlq) {
        problems.push(format!("{dlq} is its own dead-letter queue"));
    }
    let allowed = template.queue_policies().is_ok_and(|policies| {
        policies
            .iter()
            .filter(|p| p.queues.iter().any(|q| q == dlq))
            .flat_map(|p| p.statements.iter())
            .any(|s| allows_rule_to_send(s, dlq, &rule.logical_id))
    });
    if !allowed {
        problems.push(format!(
            "no AWS::SQS::QueuePolicy lets events.amazonaws.com sqs:SendMessage to its \
             dead-letter queue {dlq} with aws:SourceArn = !GetAtt {}.Arn: EventBridge could not \
             dead-letter the event either",
            rule.logical_id
        ));
    }
    problems
}
