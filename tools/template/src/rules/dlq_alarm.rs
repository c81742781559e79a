//! Rule 5, `dlq-alarm`: every DLQ — a queue's, or an EventBridge target's — has a depth alarm
//! that fires on the first message and notifies someone.

use std::collections::BTreeSet;

use super::{read, Rule, Violation};
use crate::model::Template;
use crate::value::Value;

/// Rule 5: every DLQ (a queue some `RedrivePolicy` targets, or some EventBridge target's
/// `DeadLetterConfig` names) has a CloudWatch alarm on `AWS/SQS
/// ApproximateNumberOfMessagesVisible` for that queue which fires on the first message and has
/// an `AlarmActions` target.
pub fn dlq_alarms(template: &Template) -> Vec<Violation> {
    let rule = Rule::DlqAlarm;
    let queues = match read(rule, template.queues()) {
        Ok(q) => q,
        Err(v) => return v,
    };
    let alarms = match read(rule, template.alarms()) {
        Ok(a) => a,
        Err(v) => return v,
    };
    let rules = match read(rule, template.event_rules()) {
        Ok(r) => r,
        Err(v) => return v,
    };
    let dlqs: BTreeSet<String> = queues
        .iter()
        .filter_map(|q| q.redrive.as_ref().and_then(|r| r.dead_letter_queue.clone()))
        .chain(
            rules
                .iter()
                .flat_map(|r| &r.targets)
                .filter_map(|t| t.dead_letter_queue.clone()),
        )
        .collect();

    let mut violations = Vec::new();
    for dlq in dlqs {
        let watching: Vec<_> = alarms
            .iter()
            .filter(|a| {
                a.namespace.as_deref() == Some("AWS/SQS")
                    && a.metric_name.as_deref() == Some("ApproximateNumberOfMessagesVisible")
                    && a.dimensions
                        .get("QueueName")
                        .and_then(Value::get_att_target)
                        == Some((dlq.as_str(), "QueueName"))
            })
            .collect();
        if watching.is_empty() {
            violations.push(Violation::new(
                rule,
                &dlq,
                "is a dead-letter queue without an alarm on its depth (AWS/SQS \
                    ApproximateNumberOfMessagesVisible, QueueName: !GetAtt <DLQ>.QueueName)",
            ));
            continue;
        }
        if !watching
            .iter()
            .any(|a| a.fires_on_first_unit() && !a.alarm_actions.is_empty())
        {
            let names: Vec<&str> = watching.iter().map(|a| a.logical_id.as_str()).collect();
            violations.push(Violation::new(
                rule,
                &dlq,
                format!(
                    "its alarm ({}) must fire on the first message (> 0) and have AlarmActions",
                    names.join(", ")
                ),
            ));
        }
    }
    violations
}
