//! Small readers the typed views share: an ARN-valued property's target, a string list, a
//! whole-number property with its default.

use crate::error::TemplateError;
use crate::value::Value;

/// The logical id an ARN-valued property names: `!GetAtt X.Arn`, `!Ref X` or `!Sub ${X.Arn}`.
pub(crate) fn arn_target(value: &Value) -> Option<String> {
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

pub(crate) fn strings(value: Option<&Value>) -> Vec<String> {
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

pub(crate) fn u64_property(
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
