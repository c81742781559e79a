//! The template itself: its sections read into parameters, conditions, globals, resources by
//! logical id and outputs, and the accessors that hand out the typed views of the other modules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{
    types, Alarm, EventBus, EventRule, Function, HttpApi, Queue, QueuePolicy, Role, Table, Topic,
};
use crate::error::TemplateError;
use crate::value::Value;

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
        super::parse::template(&Value::from_yaml(&yaml)?)
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
