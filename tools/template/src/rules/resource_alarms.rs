//! Rule 13, `resource-alarms`: every queue a function consumes has an alarm on the age of its
//! oldest message, and every function an alarm on its errors, each notifying someone. (A DLQ's
//! depth alarm is `dlq-alarm`'s.)

use super::{read, Rule, Violation};
use crate::model::{Alarm, Template};
use crate::value::Value;

/// Rule 13: for each consumed queue, an alarm on `AWS/SQS ApproximateAgeOfOldestMessage` with
/// `QueueName: !GetAtt <queue>.QueueName`; for each function, an alarm on `AWS/Lambda Errors`
/// with `FunctionName: !Ref <function>`, alone or in metric math (an error rate). Each with
/// `AlarmActions`.
pub fn resource_alarms(template: &Template) -> Vec<Violation> {
    let rule = Rule::ResourceAlarms;
    let (functions, alarms) = match (
        read(rule, template.functions()),
        read(rule, template.alarms()),
    ) {
        (Ok(f), Ok(a)) => (f, a),
        (Err(v), _) | (_, Err(v)) => return v,
    };
    let mut violations = Vec::new();
    for function in &functions {
        let id = function.logical_id.as_str();
        let watched = alarming(&alarms, "AWS/Lambda", "Errors", |d| {
            d.get("FunctionName").and_then(Value::ref_target) == Some(id)
        });
        if let Some(problem) = watched {
            violations.push(Violation::new(
                rule,
                id,
                format!(
                    "{problem} on its errors (AWS/Lambda Errors, FunctionName: !Ref {id}, \
                     alone or in an error-rate expression)"
                ),
            ));
        }
        for event in function.sqs_events() {
            let queue = event.queue.as_str();
            let watched = alarming(&alarms, "AWS/SQS", "ApproximateAgeOfOldestMessage", |d| {
                d.get("QueueName").and_then(Value::get_att_target) == Some((queue, "QueueName"))
            });
            if let Some(problem) = watched {
                violations.push(Violation::new(
                    rule,
                    queue,
                    format!(
                        "{problem} on the age of its oldest message (AWS/SQS \
                         ApproximateAgeOfOldestMessage, QueueName: !GetAtt {queue}.QueueName)"
                    ),
                ));
            }
        }
    }
    violations
}

/// `None` when an alarm with `AlarmActions` watches the metric with dimensions that `matches`;
/// else what is missing.
fn alarming(
    alarms: &[Alarm],
    namespace: &str,
    metric: &str,
    matches: impl Fn(&std::collections::BTreeMap<String, Value>) -> bool,
) -> Option<&'static str> {
    let watching: Vec<&Alarm> = alarms
        .iter()
        .filter(|a| a.watches(namespace, metric).into_iter().any(&matches))
        .collect();
    if watching.is_empty() {
        Some("has no alarm")
    } else if watching.iter().all(|a| a.alarm_actions.is_empty()) {
        Some("has an alarm without AlarmActions")
    } else {
        None
    }
}
