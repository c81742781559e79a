//! Creates what `infra/template.yaml` declares on the local AWS endpoint: tables, queues with
//! their redrive policies, topics, the event bus and its rules, plus an "inbox" queue
//! subscribed to each topic so a person can read what was published. Re-running against an
//! endpoint that already has them is fine: every step accepts an existing resource.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use orderflow_shared::adapters::dynamodb::TableNames;
use orderflow_template::{Resolver, Template, Value};

pub const ACCOUNT: &str = "123456789012";

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("template: {0}")]
    Template(String),
    #[error("creating {resource}: {message}")]
    Aws { resource: String, message: String },
}

fn aws_err(resource: &str, e: impl std::fmt::Display) -> SetupError {
    SetupError::Aws {
        resource: resource.to_owned(),
        message: e.to_string(),
    }
}

fn template_err(e: impl std::fmt::Display) -> SetupError {
    SetupError::Template(e.to_string())
}

/// What a created resource is called and reached by.
#[derive(Debug, Clone)]
pub enum Physical {
    Table {
        name: String,
        arn: String,
    },
    Queue {
        name: String,
        url: String,
        arn: String,
    },
    Topic {
        name: String,
        arn: String,
    },
    Bus {
        name: String,
        arn: String,
    },
    Function {
        name: String,
    },
    Api,
}

/// Local names for everything in the template; resolves `!Ref`, `!GetAtt` and `!Sub`.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub stack: String,
    pub region: String,
    pub parameters: BTreeMap<String, String>,
    pub resources: BTreeMap<String, Physical>,
    /// Topic logical id → inbox queue URL.
    pub inboxes: BTreeMap<String, String>,
}

impl Resolver for Deployment {
    fn reference(&self, name: &str) -> Option<String> {
        match name {
            "AWS::Region" => return Some(self.region.clone()),
            "AWS::AccountId" => return Some(ACCOUNT.to_owned()),
            "AWS::StackName" => return Some(self.stack.clone()),
            "AWS::Partition" => return Some("aws".into()),
            "AWS::URLSuffix" => return Some("amazonaws.com".into()),
            "AWS::NoValue" => return None,
            _ => {}
        }
        if let Some(p) = self.parameters.get(name) {
            return Some(p.clone());
        }
        Some(match self.resources.get(name)? {
            Physical::Table { name, .. }
            | Physical::Bus { name, .. }
            | Physical::Function { name } => name.clone(),
            Physical::Queue { url, .. } => url.clone(),
            Physical::Topic { arn, .. } => arn.clone(),
            Physical::Api => "local".into(),
        })
    }

    fn attribute(&self, resource: &str, attribute: &str) -> Option<String> {
        let r = self.resources.get(resource)?;
        Some(match (r, attribute) {
            (Physical::Table { arn, .. }, "Arn") => arn.clone(),
            (Physical::Table { arn, .. }, "StreamArn") => format!("{arn}/stream/local"),
            (Physical::Queue { arn, .. }, "Arn") => arn.clone(),
            (Physical::Queue { name, .. }, "QueueName") => name.clone(),
            (Physical::Queue { url, .. }, "QueueUrl") => url.clone(),
            (Physical::Topic { arn, .. }, "TopicArn") => arn.clone(),
            (Physical::Topic { name, .. }, "TopicName") => name.clone(),
            (Physical::Bus { arn, .. }, "Arn") => arn.clone(),
            (Physical::Bus { name, .. }, "Name") => name.clone(),
            (Physical::Function { name }, "Arn") => {
                format!("arn:aws:lambda:{}:{ACCOUNT}:function:{name}", self.region)
            }
            _ => return None,
        })
    }

    fn condition(&self, _name: &str) -> Option<bool> {
        Some(false)
    }
}

impl Deployment {
    pub fn queue_url(&self, logical_id: &str) -> Option<&str> {
        match self.resources.get(logical_id)? {
            Physical::Queue { url, .. } => Some(url),
            _ => None,
        }
    }

    pub fn queue_arn(&self, logical_id: &str) -> Option<&str> {
        match self.resources.get(logical_id)? {
            Physical::Queue { arn, .. } => Some(arn),
            _ => None,
        }
    }

    pub fn physical_name(&self, logical_id: &str) -> String {
        format!("{}-{logical_id}", self.stack)
    }
}

/// The tables of a local stack: physical names are `<stack>-<LogicalId>`.
pub fn stack_tables(stack: &str) -> TableNames {
    let named: Result<TableNames, std::convert::Infallible> =
        tables_named(|id| Ok(format!("{stack}-{id}")));
    match named {
        Ok(tables) => tables,
        Err(never) => match never {},
    }
}

/// The stack's tables, each named by `name` from its logical id (a deployed stack's names
/// come from CloudFormation, `harness::names`).
pub fn tables_named<E>(name: impl Fn(&str) -> Result<String, E>) -> Result<TableNames, E> {
    Ok(TableNames {
        orders: name("OrdersTable")?,
        inventory: name("InventoryTable")?,
        payments: name("PaymentsTable")?,
        idempotency: name("IdempotencyTable")?,
    })
}

/// The queue subscribed to a topic so that what it published can be read back.
pub fn inbox_queue_name(stack: &str, topic: &str) -> String {
    format!("{stack}-{topic}-inbox")
}

pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub events: aws_sdk_eventbridge::Client,
}

/// Parameter values: the template's defaults, then the overrides.
fn parameters(
    template: &Template,
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, p) in &template.parameters {
        if let Some(v) = p.default.as_ref().and_then(scalar) {
            out.insert(name.clone(), v);
        }
    }
    out.extend(overrides.clone());
    out
}

fn scalar(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::to_owned)
        .or_else(|| v.as_u64().map(|n| n.to_string()))
        .or_else(|| v.as_bool().map(|b| b.to_string()))
}

pub async fn create_all(
    template: &Template,
    clients: &Clients,
    stack: &str,
    region: &str,
    parameter_overrides: &BTreeMap<String, String>,
) -> Result<Deployment, SetupError> {
    let mut d = Deployment {
        stack: stack.to_owned(),
        region: region.to_owned(),
        parameters: parameters(template, parameter_overrides),
        resources: BTreeMap::new(),
        inboxes: BTreeMap::new(),
    };
    for f in template.functions().map_err(template_err)? {
        d.resources.insert(
            f.logical_id.clone(),
            Physical::Function {
                name: f.binary.clone(),
            },
        );
    }
    for (id, r) in &template.resources {
        if r.kind == "AWS::Serverless::HttpApi" || r.kind == "AWS::ApiGatewayV2::Api" {
            d.resources.insert(id.clone(), Physical::Api);
        }
    }
    for table in template.tables().map_err(template_err)? {
        let physical = create_table(
            &clients.dynamodb,
            &d.physical_name(&table.logical_id),
            &table,
        )
        .await?;
        d.resources.insert(table.logical_id.clone(), physical);
    }
    // Dead-letter queues first, so redrive policies can name their ARNs.
    let queues = template.queues().map_err(template_err)?;
    let (plain, redriven): (Vec<_>, Vec<_>) = queues.into_iter().partition(|q| q.redrive.is_none());
    for q in plain.iter().chain(redriven.iter()) {
        let physical = create_queue(&clients.sqs, &d, q).await?;
        d.resources.insert(q.logical_id.clone(), physical);
    }
    for topic in template.topics() {
        let physical = create_topic(
            &clients.sns,
            &d.physical_name(&topic.logical_id),
            &topic.logical_id,
        )
        .await?;
        d.resources.insert(topic.logical_id.clone(), physical);
    }
    for bus in template.event_buses() {
        let physical = create_bus(&clients.events, &d, &bus).await?;
        d.resources.insert(bus.logical_id.clone(), physical);
    }
    for rule in template.event_rules().map_err(template_err)? {
        create_rule(&clients.events, &d, &rule).await?;
    }
    // An inbox per topic: what customers (and operators) were told, readable with the AWS CLI.
    let topics: Vec<(String, String)> = d
        .resources
        .iter()
        .filter_map(|(id, p)| match p {
            Physical::Topic { arn, .. } => Some((id.clone(), arn.clone())),
            _ => None,
        })
        .collect();
    for (topic_id, topic_arn) in topics {
        let url = create_inbox(clients, &d, &topic_id, &topic_arn).await?;
        d.inboxes.insert(topic_id, url);
    }
    Ok(d)
}

async fn create_topic(
    sns: &aws_sdk_sns::Client,
    name: &str,
    logical_id: &str,
) -> Result<Physical, SetupError> {
    let out = sns
        .create_topic()
        .name(name)
        .send()
        .await
        .map_err(|e| aws_err(logical_id, aws_sdk_sns::error::DisplayErrorContext(e)))?;
    Ok(Physical::Topic {
        name: name.to_owned(),
        arn: out.topic_arn().unwrap_or_default().to_owned(),
    })
}

/// A bus that already exists is fine.
async fn create_bus(
    events: &aws_sdk_eventbridge::Client,
    d: &Deployment,
    bus: &orderflow_template::model::EventBus,
) -> Result<Physical, SetupError> {
    let name = match &bus.name {
        Some(v) => v.resolve_string(d).map_err(template_err)?,
        None => d.physical_name(&bus.logical_id),
    };
    let arn = format!("arn:aws:events:{}:{ACCOUNT}:event-bus/{name}", d.region);
    if let Err(e) = events.create_event_bus().name(&name).send().await {
        let already = e
            .as_service_error()
            .is_some_and(|s| s.is_resource_already_exists_exception());
        if !already {
            return Err(aws_err(
                &bus.logical_id,
                aws_sdk_eventbridge::error::DisplayErrorContext(e),
            ));
        }
    }
    Ok(Physical::Bus { name, arn })
}

/// A queue subscribed to the topic (raw delivery); returns its URL.
async fn create_inbox(
    clients: &Clients,
    d: &Deployment,
    topic_id: &str,
    topic_arn: &str,
) -> Result<String, SetupError> {
    let name = inbox_queue_name(&d.stack, topic_id);
    subscribe_inbox(&clients.sqs, &clients.sns, &name, topic_arn).await
}

/// Creates the queue `name` (or finds it) and subscribes it to the topic with raw delivery;
/// returns its URL. The queue's ARN is the endpoint's own (accounts differ between emulators).
pub async fn subscribe_inbox(
    sqs: &aws_sdk_sqs::Client,
    sns: &aws_sdk_sns::Client,
    name: &str,
    topic_arn: &str,
) -> Result<String, SetupError> {
    let sqs_err = |e| aws_err(name, aws_sdk_sqs::error::DisplayErrorContext(e));
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| aws_err(name, aws_sdk_sqs::error::DisplayErrorContext(e)))?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(sqs_err)?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap_or_default();
    sns.subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(&arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .map_err(|e| aws_err(name, aws_sdk_sns::error::DisplayErrorContext(e)))?;
    Ok(url)
}

async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    table: &orderflow_template::model::Table,
) -> Result<Physical, SetupError> {
    let id = &table.logical_id;
    let attr = |k: &orderflow_template::model::KeyAttribute| {
        AttributeDefinition::builder()
            .attribute_name(&k.name)
            .attribute_type(ScalarAttributeType::from(k.kind.as_str()))
            .build()
            .map_err(|e| aws_err(id, e))
    };
    let key = |k: &orderflow_template::model::KeyAttribute, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(&k.name)
            .key_type(t)
            .build()
            .map_err(|e| aws_err(id, e))
    };
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(&table.hash_key)?)
        .key_schema(key(&table.hash_key, KeyType::Hash)?);
    if let Some(range) = &table.range_key {
        request = request
            .attribute_definitions(attr(range)?)
            .key_schema(key(range, KeyType::Range)?);
    }
    let (index_attributes, indexes) = secondary_indexes(table)?;
    for definition in index_attributes {
        request = request.attribute_definitions(definition);
    }
    request = request.set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes));
    let arn = match request.send().await {
        Ok(out) => out
            .table_description()
            .and_then(|t| t.table_arn())
            .unwrap_or_default()
            .to_owned(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            let described = client
                .describe_table()
                .table_name(name)
                .send()
                .await
                .map_err(|e| aws_err(id, aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
            described
                .table()
                .and_then(|t| t.table_arn())
                .unwrap_or_default()
                .to_owned()
        }
        Err(e) => return Err(aws_err(id, aws_sdk_dynamodb::error::DisplayErrorContext(e))),
    };
    if let Some(ttl) = &table.ttl_attribute {
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(ttl)
            .enabled(true)
            .build()
            .map_err(|e| aws_err(id, e))?;
        // An endpoint without TTL support still runs the chain; expiry is then checked in code.
        let _ = client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(spec)
            .send()
            .await;
    }
    Ok(Physical::Table {
        name: name.to_owned(),
        arn,
    })
}

/// The table's global secondary indexes, and the definitions of their key attributes that the
/// table's own keys do not already define.
fn secondary_indexes(
    table: &orderflow_template::model::Table,
) -> Result<(Vec<AttributeDefinition>, Vec<GlobalSecondaryIndex>), SetupError> {
    let id = &table.logical_id;
    let mut defined: Vec<&str> = std::iter::once(&table.hash_key)
        .chain(&table.range_key)
        .map(|k| k.name.as_str())
        .collect();
    let (mut attributes, mut indexes) = (Vec::new(), Vec::new());
    for index in &table.global_secondary_indexes {
        let keys = std::iter::once((&index.hash_key, KeyType::Hash))
            .chain(index.range_key.as_ref().map(|k| (k, KeyType::Range)));
        let mut built = GlobalSecondaryIndex::builder().index_name(&index.name);
        for (k, key_type) in keys {
            if !defined.contains(&k.name.as_str()) {
                defined.push(&k.name);
                let definition = AttributeDefinition::builder()
                    .attribute_name(&k.name)
                    .attribute_type(ScalarAttributeType::from(k.kind.as_str()))
                    .build()
                    .map_err(|e| aws_err(id, e))?;
                attributes.push(definition);
            }
            let element = KeySchemaElement::builder()
                .attribute_name(&k.name)
                .key_type(key_type)
                .build()
                .map_err(|e| aws_err(id, e))?;
            built = built.key_schema(element);
        }
        let projection = Projection::builder()
            .projection_type(ProjectionType::from(index.projection.as_str()))
            .set_non_key_attributes(
                (!index.non_key_attributes.is_empty()).then(|| index.non_key_attributes.clone()),
            )
            .build();
        indexes.push(
            built
                .projection(projection)
                .build()
                .map_err(|e| aws_err(id, e))?,
        );
    }
    Ok((attributes, indexes))
}

async fn create_queue(
    client: &aws_sdk_sqs::Client,
    d: &Deployment,
    q: &orderflow_template::model::Queue,
) -> Result<Physical, SetupError> {
    let id = &q.logical_id;
    let name = match q.properties.get("QueueName") {
        Some(v) => v.resolve_string(d).map_err(template_err)?,
        None => d.physical_name(id),
    };
    let mut attributes: HashMap<QueueAttributeName, String> = HashMap::new();
    attributes.insert(
        QueueAttributeName::VisibilityTimeout,
        q.visibility_timeout_seconds.to_string(),
    );
    attributes.insert(
        QueueAttributeName::MessageRetentionPeriod,
        q.message_retention_seconds.to_string(),
    );
    for (key, attribute) in [
        ("DelaySeconds", QueueAttributeName::DelaySeconds),
        ("MaximumMessageSize", QueueAttributeName::MaximumMessageSize),
        (
            "ReceiveMessageWaitTimeSeconds",
            QueueAttributeName::ReceiveMessageWaitTimeSeconds,
        ),
    ] {
        if let Some(v) = q.properties.get(key).and_then(scalar) {
            attributes.insert(attribute, v);
        }
    }
    if let Some(policy) = q.properties.get("RedrivePolicy") {
        let json = policy.resolve(d).map_err(template_err)?;
        attributes.insert(QueueAttributeName::RedrivePolicy, json.to_string());
    }
    let url = client
        .create_queue()
        .queue_name(&name)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map_err(|e| aws_err(id, aws_sdk_sqs::error::DisplayErrorContext(e)))?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let arn = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .ok()
        .and_then(|o| {
            o.attributes()
                .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        })
        .unwrap_or_else(|| format!("arn:aws:sqs:{}:{ACCOUNT}:{name}", d.region));
    Ok(Physical::Queue { name, url, arn })
}

async fn create_rule(
    client: &aws_sdk_eventbridge::Client,
    d: &Deployment,
    rule: &orderflow_template::model::EventRule,
) -> Result<(), SetupError> {
    let id = &rule.logical_id;
    let name = d.physical_name(id);
    let bus = rule
        .bus
        .as_ref()
        .and_then(|b| d.reference(b))
        .unwrap_or_else(|| "default".into());
    let pattern = rule.event_pattern.resolve(d).map_err(template_err)?;
    client
        .put_rule()
        .name(&name)
        .event_bus_name(&bus)
        .event_pattern(pattern.to_string())
        .state(if rule.enabled {
            aws_sdk_eventbridge::types::RuleState::Enabled
        } else {
            aws_sdk_eventbridge::types::RuleState::Disabled
        })
        .send()
        .await
        .map_err(|e| aws_err(id, aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
    let mut targets = Vec::new();
    for t in &rule.targets {
        targets.push(target(d, id, t)?);
    }
    client
        .put_targets()
        .rule(&name)
        .event_bus_name(&bus)
        .set_targets(Some(targets))
        .send()
        .await
        .map_err(|e| aws_err(id, aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// A rule's target as the template declares it, its dead-letter queue and retry policy
/// included (moto keeps them; `orderflow dlq` finds the dead-letter queue through them).
fn target(
    d: &Deployment,
    rule: &str,
    t: &orderflow_template::model::RuleTarget,
) -> Result<aws_sdk_eventbridge::types::Target, SetupError> {
    use aws_sdk_eventbridge::types::{DeadLetterConfig, RetryPolicy, Target};
    let as_i32 = |n: Option<u64>| n.and_then(|n| i32::try_from(n).ok());
    let dead_letter = match &t.dead_letter_arn {
        Some(arn) => Some(
            DeadLetterConfig::builder()
                .arn(arn.resolve_string(d).map_err(template_err)?)
                .build(),
        ),
        None => None,
    };
    Target::builder()
        .id(&t.id)
        .arn(t.arn.resolve_string(d).map_err(template_err)?)
        .set_dead_letter_config(dead_letter)
        .set_retry_policy(t.retry_policy.map(|p| {
            RetryPolicy::builder()
                .set_maximum_retry_attempts(as_i32(p.maximum_retry_attempts))
                .set_maximum_event_age_in_seconds(as_i32(p.maximum_event_age_seconds))
                .build()
        }))
        .build()
        .map_err(|e| aws_err(rule, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_orders_table_gets_its_open_orders_index_with_the_keys_defined_once() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml");
        let template = Template::from_path(path).unwrap();
        let tables = template.tables().unwrap();
        let orders = tables
            .iter()
            .find(|t| t.logical_id == "OrdersTable")
            .unwrap();
        let (attributes, indexes) = secondary_indexes(orders).unwrap();
        let names: Vec<_> = attributes.iter().map(|a| a.attribute_name()).collect();
        assert_eq!(names, ["openShard", "updatedAt"]);
        let [index] = indexes.as_slice() else {
            panic!("one index: {indexes:?}")
        };
        assert_eq!(index.index_name(), "OpenOrders");
        let keys: Vec<_> = index
            .key_schema()
            .iter()
            .map(|k| (k.attribute_name(), k.key_type().clone()))
            .collect();
        assert_eq!(
            keys,
            [("openShard", KeyType::Hash), ("updatedAt", KeyType::Range)]
        );
        assert_eq!(
            index.projection().and_then(|p| p.projection_type()),
            Some(&ProjectionType::All)
        );
        let payments = tables
            .iter()
            .find(|t| t.logical_id == "PaymentsTable")
            .unwrap();
        assert_eq!(secondary_indexes(payments).unwrap().1.len(), 0);
    }
}
