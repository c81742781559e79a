//! Rule 7, `event-target-delivery`: every queue an EventBridge rule targets lets that rule send.

use super::{read, Rule, Violation};
use crate::model::{types, PolicyStatement, Template};

/// Rule 7: every SQS queue an EventBridge rule targets has a queue policy that allows
/// `events.amazonaws.com` to `sqs:SendMessage` with `aws:SourceArn` equal to that rule's ARN;
/// without it EventBridge drops the events and nothing fails loudly.
pub fn event_target_delivery(template: &Template) -> Vec<Violation> {
    let rule = Rule::EventTargetDelivery;
    let rules = match read(rule, template.event_rules()) {
        Ok(r) => r,
        Err(v) => return v,
    };
    let policies = match read(rule, template.queue_policies()) {
        Ok(p) => p,
        Err(v) => return v,
    };
    let mut violations = Vec::new();
    for event_rule in &rules {
        for target in &event_rule.targets {
            let Some(queue) = target.resource.as_deref() else {
                continue;
            };
            if template.resource(queue).map(|r| r.kind.as_str()) != Some(types::QUEUE) {
                continue;
            }
            let allowed = policies
                .iter()
                .filter(|p| p.queues.iter().any(|q| q == queue))
                .any(|p| {
                    p.statements
                        .iter()
                        .any(|s| allows_rule_to_send(s, queue, &event_rule.logical_id))
                });
            if !allowed {
                violations.push(Violation::new(
                    rule,
                    queue,
                    format!(
                        "is a target of {rule_id} but no AWS::SQS::QueuePolicy lets \
                         events.amazonaws.com sqs:SendMessage to it with \
                         aws:SourceArn = !GetAtt {rule_id}.Arn",
                        rule_id = event_rule.logical_id
                    ),
                ));
            }
        }
    }
    violations
}

/// A queue policy statement that lets `events.amazonaws.com` send to `queue` from `rule` (its
/// `aws:SourceArn` condition names the rule, alone or in a list).
pub(crate) fn allows_rule_to_send(statement: &PolicyStatement, queue: &str, rule: &str) -> bool {
    let from_events = statement
        .principal
        .as_ref()
        .and_then(|p| p.get("Service"))
        .is_some_and(|s| {
            s.one_or_many()
                .iter()
                .any(|v| v.as_str() == Some("events.amazonaws.com"))
        });
    let sends = statement
        .actions
        .iter()
        .any(|a| a.eq_ignore_ascii_case("sqs:SendMessage"));
    let on_queue = statement
        .resources
        .iter()
        .any(|r| r.get_att_target() == Some((queue, "Arn")));
    let source_is_rule = statement.condition.as_ref().is_some_and(|c| {
        ["ArnEquals", "ArnLike"].iter().any(|op| {
            c.get(op)
                .and_then(|m| m.get("aws:SourceArn"))
                .is_some_and(|arns| {
                    arns.one_or_many()
                        .iter()
                        .any(|a| a.get_att_target() == Some((rule, "Arn")))
                })
        })
    });
    statement.effect == "Allow"
        && !statement.not_action
        && from_events
        && sends
        && on_queue
        && source_is_rule
}
