//! The template as data: resources by logical id, and typed views of the kinds orderflow uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::error::TemplateError;
use crate::value::{Intrinsic, Value};

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

/// A parsed SAM / CloudFormation template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub description: Option<String>,
    /// `Transform`, as a list (`AWS::Serverless-2016-10-31`).
    pub transforms: Vec<String>,
    pub parameters: BTreeMap<String, Parameter>,
    /// Condition name -> its (intrinsic) expression.
    pub conditions: BTreeMap<String, Value>,
    /// The `Globals` section, e.g. `Globals/Function/Timeout`.
    pub globals: Value,
    pub resources: BTreeMap<String, Resource>,
    pub outputs: BTreeMap<String, Output>,
    /// The file it was read from, to resolve the relative paths inside it (`AWS::Include`).
    pub source: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: String,
    /// `String`, `Number`, `List<Number>`, ...
    pub kind: String,
    pub default: Option<Value>,
    pub allowed_values: Vec<Value>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub logical_id: String,
    /// The resource type, e.g. `AWS::SQS::Queue`.
    pub kind: String,
    /// `Properties` (an empty map when the template has none).
    pub properties: Value,
    pub metadata: Value,
    pub condition: Option<String>,
    pub depends_on: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub name: String,
    pub value: Value,
    pub description: Option<String>,
}

impl Template {
    pub fn from_path(path: impl AsRef<Path>) -> Result<Template, TemplateError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut template = Template::from_yaml_str(&text)?;
        template.source = Some(path.to_owned());
        Ok(template)
    }

    pub fn from_yaml_str(text: &str) -> Result<Template, TemplateError> {
        let yaml: serde_yaml::Value = serde_yaml::from_str(text)?;
        Template::from_value(&Value::from_yaml(&yaml)?)
    }

    fn from_value(root: &Value) -> Result<Template, TemplateError> {
        let root_map = root
            .as_map()
            .ok_or_else(|| TemplateError::Structure("the template is not a map".into()))?;
        let section = |name: &str| -> Result<BTreeMap<String, Value>, TemplateError> {
            match root_map.get(name) {
                None | Some(Value::Null) => Ok(BTreeMap::new()),
                Some(Value::Map(map)) => Ok(map.clone()),
                Some(other) => Err(TemplateError::Structure(format!(
                    "{name} must be a map, found {other:?}"
                ))),
            }
        };

        let mut resources = BTreeMap::new();
        for (id, body) in section("Resources")? {
            let kind = body
                .get("Type")
                .and_then(Value::as_str)
                .ok_or_else(|| TemplateError::resource(&id, "has no Type"))?
                .to_owned();
            let depends_on = body
                .get("DependsOn")
                .map(|d| {
                    d.one_or_many()
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let properties = match body.get("Properties") {
                None | Some(Value::Null) => Value::Map(BTreeMap::new()),
                Some(p) => p.clone(),
            };
            resources.insert(
                id.clone(),
                Resource {
                    logical_id: id.clone(),
                    kind,
                    properties,
                    metadata: body.get("Metadata").cloned().unwrap_or(Value::Null),
                    condition: body
                        .get("Condition")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    depends_on,
                },
            );
        }

        let parameters = section("Parameters")?
            .into_iter()
            .map(|(name, body)| {
                let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
                let parameter = Parameter {
                    name: name.clone(),
                    kind: text("Type").unwrap_or_else(|| "String".to_owned()),
                    default: body.get("Default").cloned(),
                    allowed_values: body
                        .get("AllowedValues")
                        .map(|v| v.one_or_many().to_vec())
                        .unwrap_or_default(),
                    description: text("Description"),
                };
                (name, parameter)
            })
            .collect();

        let outputs = section("Outputs")?
            .into_iter()
            .map(|(name, body)| {
                let output = Output {
                    name: name.clone(),
                    value: body.get("Value").cloned().unwrap_or(Value::Null),
                    description: body
                        .get("Description")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                };
                (name, output)
            })
            .collect();

        Ok(Template {
            description: root_map
                .get("Description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            transforms: root_map
                .get("Transform")
                .map(|t| {
                    t.one_or_many()
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            parameters,
            conditions: section("Conditions")?,
            globals: root_map.get("Globals").cloned().unwrap_or(Value::Null),
            resources,
            outputs,
            source: None,
        })
    }

    /// A path written in the template (`Location: openapi.yaml`), relative to the template's
    /// folder the way `sam build` and `sam package` read it.
    pub fn local_path(&self, written: &str) -> PathBuf {
        match self.source.as_deref().and_then(Path::parent) {
            Some(folder) => folder.join(written),
            None => PathBuf::from(written),
        }
    }

    pub fn resource(&self, logical_id: &str) -> Option<&Resource> {
        self.resources.get(logical_id)
    }

    pub fn resource_mut(&mut self, logical_id: &str) -> Option<&mut Resource> {
        self.resources.get_mut(logical_id)
    }

    /// Resources of one type, in logical-id order.
    pub fn resources_of_kind<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources.values().filter(move |r| r.kind == kind)
    }

    /// Whether `name` can be the target of a `Ref`: a resource, a parameter or a pseudo parameter.
    pub fn can_ref(&self, name: &str) -> bool {
        self.resources.contains_key(name)
            || self.parameters.contains_key(name)
            || name.starts_with("AWS::")
    }

    /// A function's properties with `Globals/Function` merged in, the way SAM merges them:
    /// maps merge key by key, lists are concatenated (globals first), anything else the
    /// function sets wins.
    pub fn function_properties(&self, function: &Resource) -> Value {
        match self.globals.get("Function") {
            Some(globals) => merge_globals(globals, &function.properties),
            None => function.properties.clone(),
        }
    }

    pub fn functions(&self) -> Result<Vec<Function>, TemplateError> {
        self.resources_of_kind(types::FUNCTION)
            .map(|r| Function::read(self, r))
            .collect()
    }

    pub fn function(&self, logical_id: &str) -> Result<Function, TemplateError> {
        let resource = self.expect_kind(logical_id, types::FUNCTION)?;
        Function::read(self, resource)
    }

    pub fn http_apis(&self) -> Vec<HttpApi> {
        self.resources_of_kind(types::HTTP_API)
            .map(HttpApi::read)
            .collect()
    }

    pub fn queues(&self) -> Result<Vec<Queue>, TemplateError> {
        self.resources_of_kind(types::QUEUE)
            .map(Queue::read)
            .collect()
    }

    pub fn queue(&self, logical_id: &str) -> Result<Queue, TemplateError> {
        Queue::read(self.expect_kind(logical_id, types::QUEUE)?)
    }

    pub fn queue_policies(&self) -> Result<Vec<QueuePolicy>, TemplateError> {
        self.resources_of_kind(types::QUEUE_POLICY)
            .map(QueuePolicy::read)
            .collect()
    }

    pub fn tables(&self) -> Result<Vec<Table>, TemplateError> {
        self.resources_of_kind(types::TABLE)
            .map(Table::read)
            .collect()
    }

    pub fn event_buses(&self) -> Vec<EventBus> {
        self.resources_of_kind(types::EVENT_BUS)
            .map(EventBus::read)
            .collect()
    }

    pub fn event_rules(&self) -> Result<Vec<EventRule>, TemplateError> {
        self.resources_of_kind(types::EVENT_RULE)
            .map(EventRule::read)
            .collect()
    }

    pub fn topics(&self) -> Vec<Topic> {
        self.resources_of_kind(types::TOPIC)
            .map(Topic::read)
            .collect()
    }

    pub fn alarms(&self) -> Result<Vec<Alarm>, TemplateError> {
        self.resources_of_kind(types::ALARM)
            .map(Alarm::read)
            .collect()
    }

    pub fn roles(&self) -> Result<Vec<Role>, TemplateError> {
        self.resources_of_kind(types::ROLE)
            .map(Role::read)
            .collect()
    }

    pub fn role(&self, logical_id: &str) -> Result<Role, TemplateError> {
        Role::read(self.expect_kind(logical_id, types::ROLE)?)
    }

    fn expect_kind(&self, logical_id: &str, kind: &str) -> Result<&Resource, TemplateError> {
        match self.resource(logical_id) {
            Some(r) if r.kind == kind => Ok(r),
            Some(r) => Err(TemplateError::resource(
                logical_id,
                format!("is a {}, not a {kind}", r.kind),
            )),
            None => Err(TemplateError::resource(
                logical_id,
                "is not declared in the template",
            )),
        }
    }
}

fn merge_globals(global: &Value, local: &Value) -> Value {
    match (global, local) {
        (Value::Map(g), Value::Map(l)) => {
            let mut merged = g.clone();
            for (key, value) in l {
                let next = match g.get(key) {
                    Some(gv) => merge_globals(gv, value),
                    None => value.clone(),
                };
                merged.insert(key.clone(), next);
            }
            Value::Map(merged)
        }
        (Value::List(g), Value::List(l)) => Value::List(g.iter().chain(l).cloned().collect()),
        (_, local) => local.clone(),
    }
}

/// The logical id an ARN-valued property names: `!GetAtt X.Arn`, `!Ref X` or `!Sub ${X.Arn}`.
fn arn_target(value: &Value) -> Option<String> {
    if let Some((resource, "Arn")) = value.get_att_target() {
        return Some(resource.to_owned());
    }
    if let Some(name) = value.ref_target() {
        return Some(name.to_owned());
    }
    let references = value.references();
    let mut resources = references.iter().filter(|r| !r.is_pseudo_parameter());
    match (resources.next(), resources.next()) {
        (Some(only), None) => Some(only.name.clone()),
        _ => None,
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .map(|v| {
            v.one_or_many()
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn u64_property(
    resource: &str,
    properties: &Value,
    key: &str,
    default: u64,
) -> Result<u64, TemplateError> {
    match properties.get(key) {
        None => Ok(default),
        Some(v) => v.as_u64().ok_or_else(|| {
            TemplateError::resource(
                resource,
                format!("{key} must be a whole number, found {v:?}"),
            )
        }),
    }
}

// ------------------------------------------------------------------ functions

/// An `AWS::Serverless::Function`, with `Globals` merged in.
/// An `AWS::Serverless::HttpApi` and where its OpenAPI definition comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpApi {
    pub logical_id: String,
    /// `None` when SAM generates the definition from the function events alone.
    pub definition: Option<ApiDefinition>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ApiDefinition {
    /// `DefinitionBody: {Fn::Transform: {Name: AWS::Include, Parameters: {Location: X}}}`.
    Include(String),
    /// `DefinitionUri: X` (a local path, or an S3 location as a string or a map).
    Uri(Value),
    /// A `DefinitionBody` written inline.
    Inline(Value),
}

/// One operation of an OpenAPI document: upper-case method (`ANY` for API Gateway's
/// `x-amazon-apigateway-any-method`) and path template.
pub type Operation = (String, String);

const OPENAPI_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl HttpApi {
    fn read(resource: &Resource) -> HttpApi {
        let properties = &resource.properties;
        let include = |body: &Value| match body.as_intrinsic() {
            Some(Intrinsic::Other { function, args }) if function == "Fn::Transform" => {
                (args.get("Name").and_then(Value::as_str) == Some("AWS::Include"))
                    .then(|| args.pointer("Parameters/Location"))
                    .flatten()
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }
            _ => None,
        };
        let definition = match (
            properties.get("DefinitionBody"),
            properties.get("DefinitionUri"),
        ) {
            (Some(body), _) => Some(match include(body) {
                Some(location) => ApiDefinition::Include(location),
                None => ApiDefinition::Inline(body.clone()),
            }),
            (None, Some(uri)) => Some(ApiDefinition::Uri(uri.clone())),
            (None, None) => None,
        };
        HttpApi {
            logical_id: resource.logical_id.clone(),
            definition,
        }
    }

    /// The operations of its OpenAPI definition, read from the file when it is a local one.
    pub fn operations(&self, template: &Template) -> Result<BTreeSet<Operation>, TemplateError> {
        let id = self.logical_id.as_str();
        let document = match &self.definition {
            None => {
                return Err(TemplateError::resource(
                    id,
                    "has no DefinitionBody or DefinitionUri",
                ))
            }
            Some(ApiDefinition::Inline(body)) => body.clone(),
            Some(ApiDefinition::Include(location)) => read_local_document(template, id, location)?,
            Some(ApiDefinition::Uri(Value::String(location))) if !location.starts_with("s3://") => {
                read_local_document(template, id, location)?
            }
            Some(ApiDefinition::Uri(other)) => {
                return Err(TemplateError::resource(
                    id,
                    format!("DefinitionUri {other:?} is not a local file that can be read"),
                ))
            }
        };
        operations_of(id, &document)
    }
}

fn read_local_document(
    template: &Template,
    api: &str,
    location: &str,
) -> Result<Value, TemplateError> {
    let path = template.local_path(location);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        TemplateError::resource(api, format!("cannot read {}: {e}", path.display()))
    })?;
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| {
        TemplateError::resource(api, format!("{} is not valid YAML: {e}", path.display()))
    })?;
    Value::from_yaml(&yaml)
}

fn operations_of(api: &str, document: &Value) -> Result<BTreeSet<Operation>, TemplateError> {
    let paths = document
        .get("paths")
        .and_then(Value::as_map)
        .ok_or_else(|| TemplateError::resource(api, "its OpenAPI definition has no paths map"))?;
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_map().ok_or_else(|| {
            TemplateError::resource(api, format!("OpenAPI path {path} is not a map"))
        })?;
        for key in item.keys() {
            if OPENAPI_METHODS.contains(&key.as_str()) {
                operations.insert((key.to_ascii_uppercase(), path.clone()));
            } else if key == "x-amazon-apigateway-any-method" {
                operations.insert(("ANY".to_owned(), path.clone()));
            }
        }
    }
    Ok(operations)
}

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

impl SqsEvent {
    pub fn reports_batch_item_failures(&self) -> bool {
        self.function_response_types
            .iter()
            .any(|t| t == "ReportBatchItemFailures")
    }
}

impl Function {
    fn read(template: &Template, resource: &Resource) -> Result<Function, TemplateError> {
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
    fn read(function: &str, name: &str, event: &Value) -> Result<EventSource, TemplateError> {
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
            other => EventSource::Other {
                kind: other.to_owned(),
                properties,
            },
        })
    }
}

impl From<SqsEvent> for EventSource {
    fn from(event: SqsEvent) -> Self {
        EventSource::Sqs(event)
    }
}

// ------------------------------------------------------------------ queues

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
    fn read(resource: &Resource) -> Result<Queue, TemplateError> {
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
    fn read(resource: &Resource) -> Result<QueuePolicy, TemplateError> {
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

// ------------------------------------------------------------------ tables

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttribute {
    pub name: String,
    /// `S`, `N` or `B`.
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub logical_id: String,
    pub hash_key: KeyAttribute,
    pub range_key: Option<KeyAttribute>,
    /// `TimeToLiveSpecification/AttributeName` when TTL is enabled.
    pub ttl_attribute: Option<String>,
    pub billing_mode: Option<String>,
    pub properties: Value,
}

impl Table {
    fn read(resource: &Resource) -> Result<Table, TemplateError> {
        let id = resource.logical_id.as_str();
        let p = &resource.properties;
        let attribute_kind = |name: &str| {
            p.get("AttributeDefinitions")
                .map(Value::one_or_many)
                .unwrap_or_default()
                .iter()
                .find(|d| d.get("AttributeName").and_then(Value::as_str) == Some(name))
                .and_then(|d| d.get("AttributeType"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    TemplateError::resource(
                        id,
                        format!("key attribute {name} has no AttributeDefinitions entry"),
                    )
                })
        };
        let key = |key_type: &str| -> Result<Option<KeyAttribute>, TemplateError> {
            let entry = p
                .get("KeySchema")
                .map(Value::one_or_many)
                .unwrap_or_default()
                .iter()
                .find(|k| k.get("KeyType").and_then(Value::as_str) == Some(key_type));
            match entry
                .and_then(|k| k.get("AttributeName"))
                .and_then(Value::as_str)
            {
                Some(name) => Ok(Some(KeyAttribute {
                    name: name.to_owned(),
                    kind: attribute_kind(name)?,
                })),
                None => Ok(None),
            }
        };
        let hash_key = key("HASH")?
            .ok_or_else(|| TemplateError::resource(id, "has no HASH key in KeySchema"))?;
        let ttl = p.get("TimeToLiveSpecification");
        let ttl_attribute = ttl
            .filter(|t| t.get("Enabled").and_then(Value::as_bool).unwrap_or(false))
            .and_then(|t| t.get("AttributeName"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Table {
            logical_id: id.to_owned(),
            hash_key,
            range_key: key("RANGE")?,
            ttl_attribute,
            billing_mode: p
                .get("BillingMode")
                .and_then(Value::as_str)
                .map(str::to_owned),
            properties: p.clone(),
        })
    }
}

// ------------------------------------------------------------------ events

#[derive(Debug, Clone, PartialEq)]
pub struct EventBus {
    pub logical_id: String,
    /// `Name` as written (often a `!Sub`).
    pub name: Option<Value>,
}

impl EventBus {
    fn read(resource: &Resource) -> EventBus {
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
}

impl EventRule {
    fn read(resource: &Resource) -> Result<EventRule, TemplateError> {
        let id = resource.logical_id.as_str();
        let p = &resource.properties;
        let mut targets = Vec::new();
        for target in p.get("Targets").map(Value::one_or_many).unwrap_or_default() {
            let arn = target.get("Arn").cloned().unwrap_or(Value::Null);
            targets.push(RuleTarget {
                id: target
                    .get("Id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| TemplateError::resource(id, "a target has no Id"))?
                    .to_owned(),
                resource: arn_target(&arn),
                arn,
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

// ------------------------------------------------------------------ topics and alarms

#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    pub logical_id: String,
    pub kms_master_key_id: Option<Value>,
    pub properties: Value,
}

impl Topic {
    fn read(resource: &Resource) -> Topic {
        Topic {
            logical_id: resource.logical_id.clone(),
            kms_master_key_id: resource.properties.get("KmsMasterKeyId").cloned(),
            properties: resource.properties.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub logical_id: String,
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    /// Dimension name -> value (e.g. `QueueName` -> `!GetAtt DLQ.QueueName`).
    pub dimensions: BTreeMap<String, Value>,
    pub statistic: Option<String>,
    pub period_seconds: Option<u64>,
    pub evaluation_periods: Option<u64>,
    pub threshold: Option<f64>,
    pub comparison_operator: Option<String>,
    pub alarm_actions: Vec<Value>,
}

impl Alarm {
    fn read(resource: &Resource) -> Result<Alarm, TemplateError> {
        let p = &resource.properties;
        let text = |key: &str| p.get(key).and_then(Value::as_str).map(str::to_owned);
        let mut dimensions = BTreeMap::new();
        for d in p
            .get("Dimensions")
            .map(Value::one_or_many)
            .unwrap_or_default()
        {
            let name = d.get("Name").and_then(Value::as_str).ok_or_else(|| {
                TemplateError::resource(&resource.logical_id, "a dimension has no Name")
            })?;
            dimensions.insert(
                name.to_owned(),
                d.get("Value").cloned().unwrap_or(Value::Null),
            );
        }
        Ok(Alarm {
            logical_id: resource.logical_id.clone(),
            namespace: text("Namespace"),
            metric_name: text("MetricName"),
            dimensions,
            statistic: text("Statistic"),
            period_seconds: p.get("Period").and_then(Value::as_u64),
            evaluation_periods: p.get("EvaluationPeriods").and_then(Value::as_u64),
            threshold: p.get("Threshold").and_then(Value::as_f64),
            comparison_operator: text("ComparisonOperator"),
            alarm_actions: p
                .get("AlarmActions")
                .map(|a| a.one_or_many().to_vec())
                .unwrap_or_default(),
        })
    }

    /// Whether the alarm goes off as soon as the metric is 1 or more (e.g. one message in a DLQ).
    pub fn fires_on_first_unit(&self) -> bool {
        match (self.comparison_operator.as_deref(), self.threshold) {
            (Some("GreaterThanThreshold"), Some(t)) => t < 1.0,
            (Some("GreaterThanOrEqualToThreshold"), Some(t)) => t <= 1.0,
            _ => false,
        }
    }
}

// ------------------------------------------------------------------ IAM

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub logical_id: String,
    /// Service principals allowed to assume it (`lambda.amazonaws.com`).
    pub assumed_by: Vec<String>,
    pub managed_policy_arns: Vec<Value>,
    /// Statements of all inline `Policies`.
    pub statements: Vec<PolicyStatement>,
}

impl Role {
    fn read(resource: &Resource) -> Result<Role, TemplateError> {
        let id = resource.logical_id.as_str();
        let p = &resource.properties;
        let trust = PolicyStatement::read_document(id, p.get("AssumeRolePolicyDocument"))?;
        let mut statements = Vec::new();
        for policy in p
            .get("Policies")
            .map(Value::one_or_many)
            .unwrap_or_default()
        {
            statements.extend(PolicyStatement::read_document(
                id,
                policy.get("PolicyDocument"),
            )?);
        }
        Ok(Role {
            logical_id: id.to_owned(),
            assumed_by: trust
                .iter()
                .flat_map(|s| strings(s.principal.as_ref().and_then(|p| p.get("Service"))))
                .collect(),
            managed_policy_arns: p
                .get("ManagedPolicyArns")
                .map(|a| a.one_or_many().to_vec())
                .unwrap_or_default(),
            statements,
        })
    }
}

/// One IAM policy statement.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyStatement {
    pub sid: Option<String>,
    pub effect: String,
    /// `Action` (or `NotAction` when [`Self::not_action`] is set).
    pub actions: Vec<String>,
    pub not_action: bool,
    /// `Resource` values as written (or `NotResource` when [`Self::not_resource`] is set).
    pub resources: Vec<Value>,
    pub not_resource: bool,
    pub principal: Option<Value>,
    pub condition: Option<Value>,
}

impl PolicyStatement {
    /// Reads `Statement` from a policy document.
    pub fn read_document(
        owner: &str,
        document: Option<&Value>,
    ) -> Result<Vec<PolicyStatement>, TemplateError> {
        let Some(document) = document else {
            return Ok(Vec::new());
        };
        document
            .get("Statement")
            .map(Value::one_or_many)
            .unwrap_or_default()
            .iter()
            .map(|s| PolicyStatement::read(owner, s))
            .collect()
    }

    fn read(owner: &str, s: &Value) -> Result<PolicyStatement, TemplateError> {
        let (actions, not_action) = match (s.get("Action"), s.get("NotAction")) {
            (Some(a), _) => (a, false),
            (None, Some(a)) => (a, true),
            (None, None) => {
                return Err(TemplateError::resource(
                    owner,
                    "a policy statement has no Action",
                ))
            }
        };
        let (resources, not_resource) = match (s.get("Resource"), s.get("NotResource")) {
            (Some(r), _) => (r.one_or_many().to_vec(), false),
            (None, Some(r)) => (r.one_or_many().to_vec(), true),
            (None, None) => (Vec::new(), false),
        };
        Ok(PolicyStatement {
            sid: s.get("Sid").and_then(Value::as_str).map(str::to_owned),
            effect: s
                .get("Effect")
                .and_then(Value::as_str)
                .unwrap_or("Allow")
                .to_owned(),
            actions: actions
                .one_or_many()
                .iter()
                .map(|a| {
                    a.as_str().map(str::to_owned).ok_or_else(|| {
                        TemplateError::resource(
                            owner,
                            format!("a policy action must be a string, found {a:?}"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            not_action,
            resources,
            not_resource,
            principal: s.get("Principal").cloned(),
            condition: s.get("Condition").cloned(),
        })
    }
}
