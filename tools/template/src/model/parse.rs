//! Reading a template document: the top-level sections into [`Template`], each resource's
//! `Type`, `Properties`, `Metadata`, `Condition` and `DependsOn`, parameters and outputs.

use std::collections::BTreeMap;

use super::{Output, Parameter, Resource, Template};
use crate::error::TemplateError;
use crate::value::Value;

type Section = BTreeMap<String, Value>;

pub(super) fn template(root: &Value) -> Result<Template, TemplateError> {
    let root = root
        .as_map()
        .ok_or_else(|| TemplateError::Structure("the template is not a map".into()))?;
    Ok(Template {
        description: root
            .get("Description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        transforms: root.get("Transform").map(strings).unwrap_or_default(),
        parameters: section(root, "Parameters")?
            .into_iter()
            .map(|(name, body)| (name.clone(), parameter(name, &body)))
            .collect(),
        conditions: section(root, "Conditions")?,
        globals: root.get("Globals").cloned().unwrap_or(Value::Null),
        resources: section(root, "Resources")?
            .into_iter()
            .map(|(id, body)| Ok((id.clone(), resource(id, &body)?)))
            .collect::<Result<_, TemplateError>>()?,
        outputs: section(root, "Outputs")?
            .into_iter()
            .map(|(name, body)| (name.clone(), output(name, &body)))
            .collect(),
        source: None,
    })
}

/// A top-level section; absent and empty are the same.
fn section(root: &Section, name: &str) -> Result<Section, TemplateError> {
    match root.get(name) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Map(map)) => Ok(map.clone()),
        Some(other) => Err(TemplateError::Structure(format!(
            "{name} must be a map, found {other:?}"
        ))),
    }
}

/// One string or a list of them (`Transform`, `DependsOn`).
fn strings(value: &Value) -> Vec<String> {
    value
        .one_or_many()
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn text(body: &Value, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn resource(id: String, body: &Value) -> Result<Resource, TemplateError> {
    let kind = text(body, "Type").ok_or_else(|| TemplateError::resource(&id, "has no Type"))?;
    let properties = match body.get("Properties") {
        None | Some(Value::Null) => Value::Map(BTreeMap::new()),
        Some(p) => p.clone(),
    };
    Ok(Resource {
        kind,
        properties,
        metadata: body.get("Metadata").cloned().unwrap_or(Value::Null),
        condition: text(body, "Condition"),
        depends_on: body.get("DependsOn").map(strings).unwrap_or_default(),
        logical_id: id,
    })
}

fn parameter(name: String, body: &Value) -> Parameter {
    Parameter {
        name,
        kind: text(body, "Type").unwrap_or_else(|| "String".to_owned()),
        default: body.get("Default").cloned(),
        allowed_values: body
            .get("AllowedValues")
            .map(|v| v.one_or_many().to_vec())
            .unwrap_or_default(),
        description: text(body, "Description"),
    }
}

fn output(name: String, body: &Value) -> Output {
    Output {
        name,
        value: body.get("Value").cloned().unwrap_or(Value::Null),
        description: text(body, "Description"),
    }
}
