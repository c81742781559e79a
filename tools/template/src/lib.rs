//! orderflow's SAM template as data.
//!
//! [`Template`] parses `infra/template.yaml` (short-form `!Ref`/`!GetAtt`/`!Sub` tags and
//! long-form `Ref:`/`Fn::GetAtt:` maps alike) into resources by logical id, with typed views of
//! what orderflow declares: functions (binary, timeout with `Globals` merged, environment,
//! HTTP API and SQS events), queues, tables, event rules, topics, alarms and roles. The local
//! cloud creates resources and runs functions from this model; [`rules`] checks the template
//! against the project's own rules (docs/DESIGN.md §4), one module per rule.
//!
//! - [`value`]: YAML values with CloudFormation intrinsics, and their resolution;
//! - [`model`]: the template and one typed view per resource kind;
//! - [`rules`]: the rules and their violations;
//! - [`error`]: why a template or a resource could not be read.

pub mod error;
pub mod model;
pub mod rules;
pub mod value;

pub use error::TemplateError;
pub use model::{
    types, Alarm, ApiDefinition, Event, EventBus, EventRule, EventSource, Function, HttpApi,
    HttpApiEvent, KeyAttribute, Operation, Output, Parameter, PolicyStatement, Queue, QueuePolicy,
    Redrive, Resource, RetryPolicy, Role, RuleTarget, ScheduleEvent, SecondaryIndex, SqsEvent,
    Table, Template, Topic,
};
pub use rules::{Rule, Violation};
pub use value::{parse_sub, Intrinsic, Reference, ResolveError, Resolver, SubPart, Value};
