//! `AWS::Serverless::Function` with `Globals` merged in: binary, timeout, memory, environment,
//! and its event sources (HTTP API routes, SQS queues, schedules).

use std::collections::BTreeMap;

use super::read::{arn_target, strings, u64_property};
use super::{
    Resource, Template, DEFAULT_MEMORY_MB, DEFAULT_SQS_BATCH_SIZE, DEFAULT_TIMEOUT_SECONDS,
};
use crate::error::TemplateError;
use crate::value::Value;

/// An `AWS::Serverless::Function`, with `Globals` merged in.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub logical_id: String,
    /// The cargo binary (`Metadata/BuildProperties/Binary`): `validate-order`, ...
    pub binary: String,
    pub build_method: Option<String>,
    pub code_uri: Option<String>,
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub architectures: Vec<Value>,
    pub timeout_seconds: u64,
    pub memory_mb: u64,
    /// Environment variables as written: literal strings or intrinsics to resolve.
    pub environment: BTreeMap<String, Value>,
    pub events: Vec<Event>,
    /// `Role`, when the function brings its own instead of SAM's generated one.
    pub role: Option<Value>,
    /// SAM `Policies` (only used with SAM's generated role).
    pub policies: Value,
    /// `LoggingConfig/LogGroup`.
    pub log_group: Option<Value>,
    /// All properties after merging `Globals`, for anything not modelled above.
    pub properties: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The key under `Events`.
    pub name: String,
    pub source: EventSource,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventSource {
    HttpApi(HttpApiEvent),
    Sqs(SqsEvent),
    Schedule(ScheduleEvent),
    /// Any other event type, kept as written.
    Other {
        kind: String,
        properties: Value,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpApiEvent {
    /// Logical id of the `AWS::Serverless::HttpApi` (`ApiId: !Ref OrdersApi`), if named.
    pub api: Option<String>,
    /// Upper-case method, `ANY` when unset.
    pub method: String,
    /// Route path with `{parameters}`, `/{proxy+}` when unset.
    pub path: String,
    /// `Auth: {Authorizer: X}` of the event: `NONE` opens a route the API's default authorizer
    /// would guard; unset means the API's default applies.
    pub authorizer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsEvent {
    /// Logical id of the consumed queue.
    pub queue: String,
    pub batch_size: u64,
    pub maximum_batching_window_seconds: u64,
    pub function_response_types: Vec<String>,
    pub enabled: bool,
}

/// A SAM `Schedule` event: EventBridge invokes the function on a schedule expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleEvent {
    /// `rate(...)` or `cron(...)`, or an intrinsic that resolves to one (`!Ref` a parameter).
    pub schedule: Value,
    /// `Enabled: false` or `State: DISABLED` turns it off.
    pub enabled: bool,
}

impl SqsEvent {
    pub fn reports_batch_item_failures(&self) -> bool {
        self.function_response_types
            .iter()
            .any(|t| t == "ReportBatchItemFailures")
    }
}

impl Function {
    pub(crate) fn read(
        template: &Template,
        resource: &Resource,
    ) -> Result<Function, TemplateError> {
        let id = resource.logical_id.as_str();
        let properties = template.function_properties(resource);
        let binary = resource
            .metadata
            .pointer("BuildProperties/Binary")
            .and_then(Value::as_str)
            .ok_or_else(|| TemplateError::resource(id, "has no Metadata/BuildProperties/Binary"))?
            .to_owned();
        let text = |key: &str| {
            properties
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };

        let environment = match properties.pointer("Environment/Variables") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Map(vars)) => vars.clone(),
            Some(other) => {
                return Err(TemplateError::resource(
                    id,
                    format!("Environment/Variables must be a map, found {other:?}"),
                ))
            }
        };

        let mut events = Vec::new();
        if let Some(map) = properties.get("Events").and_then(Value::as_map) {
            for (name, event) in map {
                events.push(Event {
                    name: name.clone(),
                    source: EventSource::read(id, name, event)?,
                });
            }
        }

        Ok(Function {
            logical_id: id.to_owned(),
            binary,
            build_method: resource
                .metadata
                .get("BuildMethod")
                .and_then(Value::as_str)
                .map(str::to_owned),
            code_uri: text("CodeUri"),
            runtime: text("Runtime"),
            handler: text("Handler"),
            architectures: properties
                .get("Architectures")
                .map(|a| a.one_or_many().to_vec())
                .unwrap_or_default(),
            timeout_seconds: u64_property(id, &properties, "Timeout", DEFAULT_TIMEOUT_SECONDS)?,
            memory_mb: u64_property(id, &properties, "MemorySize", DEFAULT_MEMORY_MB)?,
            environment,
            events,
            role: properties.get("Role").cloned(),
            policies: properties.get("Policies").cloned().unwrap_or(Value::Null),
            log_group: properties.pointer("LoggingConfig/LogGroup").cloned(),
            properties,
        })
    }

    pub fn sqs_events(&self) -> impl Iterator<Item = &SqsEvent> {
        self.events.iter().filter_map(|e| match &e.source {
            EventSource::Sqs(sqs) => Some(sqs),
            _ => None,
        })
    }

    pub fn schedule_events(&self) -> impl Iterator<Item = &ScheduleEvent> {
        self.events.iter().filter_map(|e| match &e.source {
            EventSource::Schedule(schedule) => Some(schedule),
            _ => None,
        })
    }

    pub fn http_api_events(&self) -> impl Iterator<Item = &HttpApiEvent> {
        self.events.iter().filter_map(|e| match &e.source {
            EventSource::HttpApi(http) => Some(http),
            _ => None,
        })
    }

    /// The logical id of the function's own `AWS::IAM::Role` (`Role: !GetAtt XRole.Arn`).
    pub fn role_logical_id(&self) -> Option<String> {
        self.role.as_ref().and_then(arn_target)
    }

    /// The logical id of the log group in `LoggingConfig/LogGroup: !Ref X`.
    pub fn log_group_logical_id(&self) -> Option<&str> {
        self.log_group.as_ref().and_then(Value::ref_target)
    }
}

impl EventSource {
    pub(crate) fn read(
        function: &str,
        name: &str,
        event: &Value,
    ) -> Result<EventSource, TemplateError> {
        let kind = event.get("Type").and_then(Value::as_str).ok_or_else(|| {
            TemplateError::resource(function, format!("event {name} has no Type"))
        })?;
        let properties = event
            .get("Properties")
            .cloned()
            .unwrap_or(Value::Map(BTreeMap::new()));
        let text = |key: &str| {
            properties
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let context = format!("{function} (event {name})");
        Ok(match kind {
            "HttpApi" => EventSource::HttpApi(HttpApiEvent {
                api: properties
                    .get("ApiId")
                    .and_then(Value::ref_target)
                    .map(str::to_owned),
                method: text("Method")
                    .unwrap_or_else(|| "ANY".to_owned())
                    .to_ascii_uppercase(),
                path: text("Path").unwrap_or_else(|| "/{proxy+}".to_owned()),
                authorizer: properties
                    .get("Auth")
                    .and_then(|a| a.get("Authorizer"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }),
            "SQS" => {
                let queue = properties
                    .get("Queue")
                    .and_then(arn_target)
                    .ok_or_else(|| {
                        TemplateError::resource(
                            &context,
                            "Queue must be !GetAtt <queue>.Arn of a queue in the template",
                        )
                    })?;
                SqsEvent {
                    queue,
                    batch_size: u64_property(
                        &context,
                        &properties,
                        "BatchSize",
                        DEFAULT_SQS_BATCH_SIZE,
                    )?,
                    maximum_batching_window_seconds: u64_property(
                        &context,
                        &properties,
                        "MaximumBatchingWindowInSeconds",
                        0,
                    )?,
                    function_response_types: strings(properties.get("FunctionResponseTypes")),
                    enabled: properties
                        .get("Enabled")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                }
                .into()
            }
            "Schedule" => EventSource::Schedule(ScheduleEvent::read(&context, &properties)?),
            other => EventSource::Other {
                kind: other.to_owned(),
                properties,
            },
        })
    }
}

impl ScheduleEvent {
    fn read(context: &str, properties: &Value) -> Result<ScheduleEvent, TemplateError> {
        let schedule = properties
            .get("Schedule")
            .cloned()
            .ok_or_else(|| TemplateError::resource(context, "a Schedule event needs Schedule"))?;
        let state = properties.get("State").and_then(Value::as_str);
        let enabled = properties.get("Enabled").and_then(Value::as_bool);
        Ok(ScheduleEvent {
            schedule,
            enabled: enabled.unwrap_or(true) && state != Some("DISABLED"),
        })
    }
}

impl From<SqsEvent> for EventSource {
    fn from(event: SqsEvent) -> Self {
        EventSource::Sqs(event)
    }
}
