//! `AWS::SQS::Queue` (with its redrive policy) and `AWS::SQS::QueuePolicy`.

use super::iam::PolicyStatement;
use super::read::{arn_target, u64_property};
use super::{Resource, DEFAULT_MESSAGE_RETENTION_SECONDS, DEFAULT_VISIBILITY_TIMEOUT_SECONDS};
use crate::error::TemplateError;
use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    pub logical_id: String,
    pub visibility_timeout_seconds: u64,
    pub message_retention_seconds: u64,
    pub fifo: bool,
    pub redrive: Option<Redrive>,
    pub properties: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Redrive {
    /// Logical id of the dead-letter queue, when `deadLetterTargetArn` names one in the template.
    pub dead_letter_queue: Option<String>,
    /// `deadLetterTargetArn` as written.
    pub target: Value,
    pub max_receive_count: Option<u64>,
}

impl Queue {
    pub(crate) fn read(resource: &Resource) -> Result<Queue, TemplateError> {
        let id = resource.logical_id.as_str();
        let p = &resource.properties;
        let redrive = match p.get("RedrivePolicy") {
            None | Some(Value::Null) => None,
            Some(policy @ Value::Map(_)) => {
                let target = policy
                    .get("deadLetterTargetArn")
                    .cloned()
                    .unwrap_or(Value::Null);
                Some(Redrive {
                    dead_letter_queue: arn_target(&target),
                    target,
                    max_receive_count: policy.get("maxReceiveCount").and_then(Value::as_u64),
                })
            }
            Some(other) => {
                return Err(TemplateError::resource(
                    id,
                    format!("RedrivePolicy must be a map, found {other:?}"),
                ))
            }
        };
        Ok(Queue {
            logical_id: id.to_owned(),
            visibility_timeout_seconds: u64_property(
                id,
                p,
                "VisibilityTimeout",
                DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
            )?,
            message_retention_seconds: u64_property(
                id,
                p,
                "MessageRetentionPeriod",
                DEFAULT_MESSAGE_RETENTION_SECONDS,
            )?,
            fifo: p.get("FifoQueue").and_then(Value::as_bool).unwrap_or(false),
            redrive,
            properties: p.clone(),
        })
    }
}

/// An `AWS::SQS::QueuePolicy`: who may do what to which queues.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuePolicy {
    pub logical_id: String,
    /// Logical ids of the queues it applies to (`Queues: [!Ref X]`).
    pub queues: Vec<String>,
    pub statements: Vec<PolicyStatement>,
}

impl QueuePolicy {
    pub(crate) fn read(resource: &Resource) -> Result<QueuePolicy, TemplateError> {
        let p = &resource.properties;
        Ok(QueuePolicy {
            logical_id: resource.logical_id.clone(),
            queues: p
                .get("Queues")
                .map(|q| {
                    q.one_or_many()
                        .iter()
                        .filter_map(Value::ref_target)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            statements: PolicyStatement::read_document(
                &resource.logical_id,
                p.get("PolicyDocument"),
            )?,
        })
    }
}
