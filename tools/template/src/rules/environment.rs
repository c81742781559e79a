//! Rule 6, `environment-references`: what a function's environment names exists.

use super::{read, Rule, Violation};
use crate::model::Template;

/// Rule 6: every `!Ref`, `!GetAtt` and `${...}` in a function's environment names a resource,
/// parameter or pseudo parameter of the template (`GetAtt` only resources).
pub fn environment_references(template: &Template) -> Vec<Violation> {
    let rule = Rule::EnvironmentReferences;
    let functions = match read(rule, template.functions()) {
        Ok(f) => f,
        Err(v) => return v,
    };
    let mut violations = Vec::new();
    for function in &functions {
        for (name, value) in &function.environment {
            for reference in value.references() {
                let exists = match &reference.attribute {
                    None => template.can_ref(&reference.name),
                    Some(_) => template.resources.contains_key(&reference.name),
                };
                if !exists {
                    let what = match &reference.attribute {
                        Some(attribute) => format!("{}.{attribute}", reference.name),
                        None => reference.name.clone(),
                    };
                    violations.push(Violation::new(
                        rule,
                        &function.logical_id,
                        format!(
                            "environment variable {name} refers to {what}, which the \
                            template does not declare"
                        ),
                    ));
                }
            }
        }
    }
    violations
}
