//! What a cloud's resources are called. The local cloud names them `<stack>-<LogicalId>`; a
//! stack deployed with `sam deploy` (MiniStack, AWS) is named by CloudFormation
//! (`<stack>-<LogicalId>-<suffix>`), so its names are read from the stack itself. The inboxes
//! are neither: the local cloud and `orderflow deploy local` both call them
//! `<stack>-<Topic>-inbox`.

use orderflow_shared::adapters::dynamodb::TableNames;

use crate::deploy::{StackDescription, StackError};
use crate::local::resources;

#[derive(Debug, Clone)]
pub struct StackNames {
    stack: String,
    tables: TableNames,
    /// The stack as CloudFormation describes it, when it was deployed.
    deployed: Option<Box<StackDescription>>,
}

impl StackNames {
    /// The local cloud's convention.
    pub fn local(stack: &str) -> StackNames {
        StackNames {
            stack: stack.to_owned(),
            tables: resources::stack_tables(stack),
            deployed: None,
        }
    }

    /// A deployed stack's names; an error when it lacks one of the tables.
    pub fn deployed(described: StackDescription) -> Result<StackNames, StackError> {
        Ok(StackNames {
            stack: described.name.clone(),
            tables: resources::tables_named(|id| described.name_of(id))?,
            deployed: Some(Box::new(described)),
        })
    }

    /// The stack `stack` as the endpoint's CloudFormation describes it, when it has one with
    /// our tables; else (the local cloud creates no stack) the local cloud's convention.
    pub async fn find(sdk: &aws_config::SdkConfig, stack: &str) -> StackNames {
        let cfn = aws_sdk_cloudformation::Client::new(sdk);
        match StackDescription::read(&cfn, stack).await {
            Ok(Some(described)) => {
                StackNames::deployed(described).unwrap_or_else(|_| StackNames::local(stack))
            }
            _ => StackNames::local(stack),
        }
    }

    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// The deployed stack, when the names come from one.
    pub fn deployed_stack(&self) -> Option<&StackDescription> {
        self.deployed.as_deref()
    }

    /// The name of the resource `logical_id` (a queue's, a table's, a topic's).
    pub fn name(&self, logical_id: &str) -> Result<String, StackError> {
        match &self.deployed {
            None => Ok(format!("{}-{logical_id}", self.stack)),
            Some(d) => d.name_of(logical_id),
        }
    }

    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// The queue subscribed to the topic `topic` (its logical id).
    pub fn inbox(&self, topic: &str) -> String {
        resources::inbox_queue_name(&self.stack, topic)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::deploy::stack::StackResource;

    #[test]
    fn a_local_stack_is_named_by_convention_and_a_deployed_one_by_its_resources() {
        let local = StackNames::local("orderflow-local");
        assert_eq!(local.tables().orders, "orderflow-local-OrdersTable");
        assert_eq!(
            local.name("InventoryDLQ").unwrap(),
            "orderflow-local-InventoryDLQ"
        );
        let resource = |kind: &str, physical_id: &str| StackResource {
            kind: kind.into(),
            physical_id: physical_id.into(),
        };
        let table = "AWS::DynamoDB::Table";
        let described = StackDescription {
            name: "orderflow-local".into(),
            status: "CREATE_COMPLETE".into(),
            parameters: BTreeMap::new(),
            outputs: BTreeMap::new(),
            resources: BTreeMap::from([
                ("OrdersTable".into(), resource(table, "o-OrdersTable-1")),
                (
                    "InventoryTable".into(),
                    resource(table, "o-InventoryTable-2"),
                ),
                ("PaymentsTable".into(), resource(table, "o-PaymentsTable-3")),
                (
                    "IdempotencyTable".into(),
                    resource(table, "o-IdempotencyTable-4"),
                ),
                (
                    "InventoryDLQ".into(),
                    resource("AWS::SQS::Queue", "http://h/000000000000/o-InventoryDLQ-5"),
                ),
            ]),
        };
        let without_payments = StackDescription {
            resources: described
                .resources
                .iter()
                .filter(|(id, _)| *id != "PaymentsTable")
                .map(|(id, r)| (id.clone(), r.clone()))
                .collect(),
            ..described.clone()
        };
        assert!(StackNames::deployed(without_payments).is_err());
        let deployed = StackNames::deployed(described).unwrap();
        let tables = deployed.tables();
        assert_eq!(tables.orders, "o-OrdersTable-1");
        assert_eq!(tables.idempotency, "o-IdempotencyTable-4");
        assert_eq!(deployed.name("InventoryDLQ").unwrap(), "o-InventoryDLQ-5");
        assert!(deployed.name("PaymentDLQ").is_err());
        assert_eq!(
            deployed.inbox("CustomerNotificationsTopic"),
            local.inbox("CustomerNotificationsTopic")
        );
    }
}
