//! `AWS::Events::EventBus` and `AWS::Events::Rule` with its pattern and targets.

use super::read::{arn_target, strings};
use super::Resource;
use crate::error::TemplateError;
use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct EventBus {
    pub logical_id: String,
    /// `Name` as written (often a `!Sub`).
    pub name: Option<Value>,
}

impl EventBus {
    pub(crate) fn read(resource: &Resource) -> EventBus {
        EventBus {
            logical_id: resource.logical_id.clone(),
            name: resource.properties.get("Name").cloned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRule {
    pub logical_id: String,
    /// Logical id of the bus (`EventBusName: !Ref Bus`); `None` means the default bus.
    pub bus: Option<String>,
    /// The pattern as data (`source`, `detail-type`, ...), ready to turn into JSON.
    pub event_pattern: Value,
    pub targets: Vec<RuleTarget>,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleTarget {
    pub id: String,
    pub arn: Value,
    /// Logical id of the target (`Arn: !GetAtt Queue.Arn`).
    pub resource: Option<String>,
    /// `DeadLetterConfig/Arn` as written: where EventBridge puts an event it could not deliver.
    pub dead_letter_arn: Option<Value>,
    /// Logical id of that dead-letter queue.
    pub dead_letter_queue: Option<String>,
    /// `RetryPolicy`, when set.
    pub retry_policy: Option<RetryPolicy>,
}

/// A target's `RetryPolicy`; a field left out is `None` (EventBridge then uses its default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub maximum_retry_attempts: Option<u64>,
    pub maximum_event_age_seconds: Option<u64>,
}

impl EventRule {
    pub(crate) fn read(resource: &Resource) -> Result<EventRule, TemplateError> {
        let id = resource.logical_id.as_str();
        let p = &resource.properties;
        let mut targets = Vec::new();
        for target in p.get("Targets").map(Value::one_or_many).unwrap_or_default() {
            let arn = target.get("Arn").cloned().unwrap_or(Value::Null);
            let dead_letter_arn = target.pointer("DeadLetterConfig/Arn").cloned();
            targets.push(RuleTarget {
                id: target
                    .get("Id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| TemplateError::resource(id, "a target has no Id"))?
                    .to_owned(),
                resource: arn_target(&arn),
                arn,
                dead_letter_queue: dead_letter_arn.as_ref().and_then(arn_target),
                dead_letter_arn,
                retry_policy: target.get("RetryPolicy").map(|p| RetryPolicy {
                    maximum_retry_attempts: p.get("MaximumRetryAttempts").and_then(Value::as_u64),
                    maximum_event_age_seconds: p
                        .get("MaximumEventAgeInSeconds")
                        .and_then(Value::as_u64),
                }),
            });
        }
        Ok(EventRule {
            logical_id: id.to_owned(),
            bus: p
                .get("EventBusName")
                .and_then(Value::ref_target)
                .map(str::to_owned),
            event_pattern: p.get("EventPattern").cloned().unwrap_or(Value::Null),
            targets,
            enabled: p
                .get("State")
                .and_then(Value::as_str)
                .is_none_or(|s| s == "ENABLED"),
        })
    }

    /// The `detail-type` values the rule matches.
    pub fn detail_types(&self) -> Vec<String> {
        strings(self.event_pattern.get("detail-type"))
    }

    /// The `source` values the rule matches.
    pub fn sources(&self) -> Vec<String> {
        strings(self.event_pattern.get("source"))
    }
}
