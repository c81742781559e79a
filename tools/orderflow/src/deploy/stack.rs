//! A deployed stack read back from CloudFormation: its status, its outputs, and the physical id
//! of each of its resources. Physical names are what CloudFormation made them
//! (`<stack>-<LogicalId>-<suffix>` on MiniStack and AWS), so everything that reaches a deployed
//! stack takes its names from here, never from the local cloud's `<stack>-<LogicalId>`.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_cloudformation::Client;
use orderflow_template::Resolver;

/// The statuses of a stack whose last deployment succeeded.
pub const COMPLETE: [&str; 2] = ["CREATE_COMPLETE", "UPDATE_COMPLETE"];

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("CloudFormation {call} of stack {stack}: {message}")]
    Call {
        call: &'static str,
        stack: String,
        message: String,
    },
    #[error("stack {stack} is {status}, not CREATE_COMPLETE or UPDATE_COMPLETE")]
    NotComplete { stack: String, status: String },
    #[error("stack {stack} has no {what} {name}")]
    Missing {
        stack: String,
        what: &'static str,
        name: String,
    },
}

/// One resource of the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackResource {
    /// `AWS::SQS::Queue`, `AWS::Lambda::Function`, ...
    pub kind: String,
    /// Its physical id: a queue's URL, a topic's ARN, a table's, bus's or function's name.
    pub physical_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackDescription {
    pub name: String,
    pub status: String,
    /// The values the stack was deployed with.
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
    /// By logical id.
    pub resources: BTreeMap<String, StackResource>,
}

impl StackDescription {
    /// Reads `stack`; `None` when the endpoint has no such stack.
    pub async fn read(cfn: &Client, stack: &str) -> Result<Option<StackDescription>, StackError> {
        let call = |call: &'static str, message: String| StackError::Call {
            call,
            stack: stack.to_owned(),
            message,
        };
        let described = match cfn.describe_stacks().stack_name(stack).send().await {
            Ok(out) => out,
            // CloudFormation's answer for a stack that does not exist.
            Err(e) if e.code() == Some("ValidationError") => return Ok(None),
            Err(e) => return Err(call("DescribeStacks", DisplayErrorContext(e).to_string())),
        };
        let Some(s) = described.stacks().first() else {
            return Ok(None);
        };
        let parameters = s
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_owned(),
                    p.parameter_value()?.to_owned(),
                ))
            })
            .collect();
        let outputs = s
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
            .collect();
        let summaries = cfn
            .list_stack_resources()
            .stack_name(stack)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| call("ListStackResources", DisplayErrorContext(e).to_string()))?;
        let mut resources = BTreeMap::new();
        for r in summaries {
            if let (Some(id), Some(physical)) = (r.logical_resource_id(), r.physical_resource_id())
            {
                let resource = StackResource {
                    kind: r.resource_type().unwrap_or_default().to_owned(),
                    physical_id: physical.to_owned(),
                };
                resources.insert(id.to_owned(), resource);
            }
        }
        Ok(Some(StackDescription {
            name: stack.to_owned(),
            status: s
                .stack_status()
                .map(|st| st.as_str().to_owned())
                .unwrap_or_default(),
            parameters,
            outputs,
            resources,
        }))
    }

    /// Fails unless the last deployment succeeded.
    pub fn complete(self) -> Result<StackDescription, StackError> {
        if COMPLETE.contains(&self.status.as_str()) {
            Ok(self)
        } else {
            Err(StackError::NotComplete {
                stack: self.name,
                status: self.status,
            })
        }
    }

    pub fn output(&self, key: &str) -> Result<&str, StackError> {
        self.outputs
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| self.missing("output", key))
    }

    /// The physical id of the resource `logical_id`.
    pub fn physical_id(&self, logical_id: &str) -> Result<&str, StackError> {
        self.resources
            .get(logical_id)
            .map(|r| r.physical_id.as_str())
            .ok_or_else(|| self.missing("resource", logical_id))
    }

    /// The resource's name: a queue's from its URL, a topic's from its ARN, else the id.
    pub fn name_of(&self, logical_id: &str) -> Result<String, StackError> {
        Ok(resource_name(self.physical_id(logical_id)?))
    }

    fn missing(&self, what: &'static str, name: &str) -> StackError {
        StackError::Missing {
            stack: self.name.clone(),
            what,
            name: name.to_owned(),
        }
    }
}

/// The template's `!Ref`s as the stack resolved them: its parameters, then its resources'
/// physical ids (what the local API's authorizers are read with, `local::auth::start`).
impl Resolver for StackDescription {
    fn reference(&self, name: &str) -> Option<String> {
        if name == "AWS::StackName" {
            return Some(self.name.clone());
        }
        self.parameters
            .get(name)
            .or_else(|| self.resources.get(name).map(|r| &r.physical_id))
            .cloned()
    }

    fn attribute(&self, _resource: &str, _attribute: &str) -> Option<String> {
        None
    }

    fn condition(&self, _name: &str) -> Option<bool> {
        None
    }
}

/// A resource's name from its physical id: the last segment of a queue URL or of an ARN.
pub fn resource_name(physical_id: &str) -> String {
    let tail = if physical_id.contains("://") {
        physical_id.rsplit('/').next()
    } else if physical_id.starts_with("arn:") {
        physical_id.rsplit(':').next()
    } else {
        None
    };
    tail.unwrap_or(physical_id).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(status: &str) -> StackDescription {
        StackDescription {
            name: "s".into(),
            status: status.into(),
            parameters: BTreeMap::from([("JwtAudience".into(), "orderflow-api".into())]),
            outputs: BTreeMap::from([("OrdersTableName".into(), "s-OrdersTable-1A".into())]),
            resources: BTreeMap::from([(
                "InventoryQueue".into(),
                StackResource {
                    kind: "AWS::SQS::Queue".into(),
                    physical_id: "http://127.0.0.1:1/000000000000/s-InventoryQueue-2B".into(),
                },
            )]),
        }
    }

    #[test]
    fn names_come_from_queue_urls_topic_arns_and_plain_ids() {
        assert_eq!(
            resource_name("http://127.0.0.1:4566/000000000000/s-InventoryDLQ-D9"),
            "s-InventoryDLQ-D9"
        );
        assert_eq!(
            resource_name("arn:aws:sns:us-east-1:000000000000:s-OpsTopic-05"),
            "s-OpsTopic-05"
        );
        assert_eq!(resource_name("s-OrdersTable-40D"), "s-OrdersTable-40D");
        assert_eq!(
            described("CREATE_COMPLETE")
                .name_of("InventoryQueue")
                .unwrap(),
            "s-InventoryQueue-2B"
        );
    }

    #[test]
    fn only_a_created_or_updated_stack_is_complete_and_a_missing_name_says_which() {
        assert!(described("CREATE_COMPLETE").complete().is_ok());
        assert!(described("UPDATE_COMPLETE").complete().is_ok());
        let failed = described("ROLLBACK_COMPLETE").complete().unwrap_err();
        assert!(failed.to_string().contains("ROLLBACK_COMPLETE"), "{failed}");
        let d = described("CREATE_COMPLETE");
        assert_eq!(d.output("OrdersTableName").unwrap(), "s-OrdersTable-1A");
        let missing = d.output("ApiUrl").unwrap_err().to_string();
        assert!(missing.contains("output ApiUrl"), "{missing}");
        assert!(d.physical_id("Nope").is_err());
    }

    #[test]
    fn a_reference_resolves_to_the_deployed_parameter_or_the_resources_physical_id() {
        let d = described("CREATE_COMPLETE");
        assert_eq!(d.reference("JwtAudience").as_deref(), Some("orderflow-api"));
        assert_eq!(
            d.reference("InventoryQueue").as_deref(),
            Some("http://127.0.0.1:1/000000000000/s-InventoryQueue-2B")
        );
        assert_eq!(d.reference("AWS::StackName").as_deref(), Some("s"));
        assert_eq!(d.reference("Nope"), None);
    }
}
