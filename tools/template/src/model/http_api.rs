//! `AWS::Serverless::HttpApi`: where its OpenAPI definition comes from, and the operations
//! that definition declares.

use std::collections::BTreeSet;

use super::{Resource, Template};
use crate::error::TemplateError;
use crate::value::{Intrinsic, Value};

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
    pub(crate) fn read(resource: &Resource) -> HttpApi {
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
