//! Rule 8, `api-contract`: the HTTP API's routes are its OpenAPI file's operations.

use std::collections::BTreeMap;

use super::{read, Rule, Violation};
use crate::error::TemplateError;
use crate::model::{EventSource, Function, Operation, Template};

/// Rule 8: every `AWS::Serverless::HttpApi` is defined from an OpenAPI document
/// (`DefinitionBody` with `AWS::Include` of `openapi.yaml`, or inline), and its operations are
/// exactly the functions' `HttpApi` events on it: an event the document lacks would be an
/// undocumented route (SAM adds it silently), an operation no event serves would be a route
/// API Gateway sends nowhere. An `HttpApi` event without `ApiId` lands on SAM's implicit API,
/// outside the contract.
pub fn api_contract(template: &Template) -> Vec<Violation> {
    let rule = Rule::ApiContract;
    let functions = match read(rule, template.functions()) {
        Ok(f) => f,
        Err(v) => return v,
    };
    let mut violations = Vec::new();
    let mut served = served_routes(rule, &functions, &mut violations);

    for api in template.http_apis() {
        let id = api.logical_id.as_str();
        let events = served.remove(id).unwrap_or_default();
        let operations = match api.operations(template) {
            Ok(ops) => ops,
            Err(e) => {
                let why = match e {
                    TemplateError::Resource { message, .. } => message,
                    other => other.to_string(),
                };
                violations.push(Violation::new(
                    rule,
                    id,
                    format!(
                        "its routes must come from the API contract: DefinitionBody: \
                         {{Fn::Transform: {{Name: AWS::Include, Parameters: {{Location: \
                         openapi.yaml}}}}}} ({why})"
                    ),
                ));
                continue;
            }
        };
        for ((method, path), servers) in &events {
            if !operations.contains(&(method.clone(), path.clone())) {
                for (function, event) in servers {
                    violations.push(Violation::new(
                        rule,
                        function,
                        format!(
                            "HttpApi event {event} ({method} {path}) on {id} is not an \
                             operation of its OpenAPI definition; declare it there with its \
                             request and responses"
                        ),
                    ));
                }
            }
        }
        for (method, path) in &operations {
            if !events.contains_key(&(method.clone(), path.clone())) {
                violations.push(Violation::new(
                    rule,
                    id,
                    format!(
                        "its OpenAPI definition declares {method} {path}, but no function has \
                         an HttpApi event for it, so API Gateway would route it nowhere"
                    ),
                ));
            }
        }
    }
    for (api, events) in served {
        for (function, event) in events.into_values().flatten() {
            violations.push(Violation::new(
                rule,
                &function,
                format!("HttpApi event {event} names ApiId {api}, which is not an AWS::Serverless::HttpApi of the template"),
            ));
        }
    }
    violations
}

/// API logical id -> route -> the (function, event) pairs serving it; an `HttpApi` event
/// without `ApiId` is reported instead.
type Served = BTreeMap<String, BTreeMap<Operation, Vec<(String, String)>>>;

fn served_routes(rule: Rule, functions: &[Function], violations: &mut Vec<Violation>) -> Served {
    let mut served = Served::new();
    for function in functions {
        for event in &function.events {
            let EventSource::HttpApi(http) = &event.source else {
                continue;
            };
            match &http.api {
                Some(api) => served
                    .entry(api.clone())
                    .or_default()
                    .entry((http.method.clone(), http.path.clone()))
                    .or_default()
                    .push((function.logical_id.clone(), event.name.clone())),
                None => violations.push(Violation::new(
                    rule,
                    &function.logical_id,
                    format!(
                        "HttpApi event {} ({} {}) has no ApiId, so SAM puts it on an implicit \
                         API outside the contract; set ApiId: !Ref <the HttpApi>",
                        event.name, http.method, http.path
                    ),
                )),
            }
        }
    }
    served
}
