//! The template as data: resources by logical id, and typed views of the kinds orderflow uses,
//! one module per kind.

/// CloudFormation / SAM resource type names.
pub mod types {
    pub const FUNCTION: &str = "AWS::Serverless::Function";
    pub const HTTP_API: &str = "AWS::Serverless::HttpApi";
    pub const QUEUE: &str = "AWS::SQS::Queue";
    pub const QUEUE_POLICY: &str = "AWS::SQS::QueuePolicy";
    pub const TABLE: &str = "AWS::DynamoDB::Table";
    pub const EVENT_BUS: &str = "AWS::Events::EventBus";
    pub const EVENT_RULE: &str = "AWS::Events::Rule";
    pub const TOPIC: &str = "AWS::SNS::Topic";
    pub const ALARM: &str = "AWS::CloudWatch::Alarm";
    pub const ROLE: &str = "AWS::IAM::Role";
    pub const LOG_GROUP: &str = "AWS::Logs::LogGroup";
}

/// Lambda's defaults when a function sets neither the value nor a global.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 3;
pub const DEFAULT_MEMORY_MB: u64 = 128;
/// SQS's defaults when a queue does not set them.
pub const DEFAULT_VISIBILITY_TIMEOUT_SECONDS: u64 = 30;
pub const DEFAULT_MESSAGE_RETENTION_SECONDS: u64 = 345_600;
/// Lambda's SQS event source defaults.
pub const DEFAULT_SQS_BATCH_SIZE: u64 = 10;

mod alarm;
mod eventbridge;
mod function;
mod http_api;
mod iam;
mod parse;
mod queue;
mod read;
mod table;
mod template;
mod topic;

pub use alarm::{Alarm, MetricStat};
pub use eventbridge::{EventBus, EventRule, RetryPolicy, RuleTarget};
pub use function::{Event, EventSource, Function, HttpApiEvent, ScheduleEvent, SqsEvent};
pub use http_api::{ApiDefinition, HttpApi, Operation};
pub use iam::{PolicyStatement, Role};
pub use queue::{Queue, QueuePolicy, Redrive};
pub use table::{KeyAttribute, SecondaryIndex, Table};
pub use template::{Output, Parameter, Resource, Template};
pub use topic::Topic;
