//! Rule 4, `least-privilege`: each function has a role of its own granting only the actions it
//! needs on the resources it uses.

use std::collections::{BTreeMap, BTreeSet};

use super::{read, Rule, Violation};
use crate::model::{types, Function, PolicyStatement, Template};
use crate::value::Value;

/// The actions orderflow's functions may be granted, by IAM service prefix, and the resource
/// type each service's actions must be scoped to.
const ALLOWED_ACTIONS: &[(&str, &str, &[&str])] = &[
    (
        "dynamodb",
        types::TABLE,
        &[
            "GetItem",
            "BatchGetItem",
            "Query",
            "Scan",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "ConditionCheckItem",
        ],
    ),
    (
        "sqs",
        types::QUEUE,
        &[
            "ReceiveMessage",
            "DeleteMessage",
            "GetQueueAttributes",
            "ChangeMessageVisibility",
            "SendMessage",
        ],
    ),
    ("sns", types::TOPIC, &["Publish"]),
    ("events", types::EVENT_BUS, &["PutEvents"]),
    (
        "logs",
        types::LOG_GROUP,
        &["CreateLogStream", "PutLogEvents"],
    ),
];

/// Actions IAM cannot scope to a resource, granted on `"*"` in a statement of their own: X-Ray's
/// (active tracing, the `Tracing` parameter) have no resource type at all (Service
/// Authorization Reference, "Actions defined by AWS X-Ray").
const UNSCOPED_ACTIONS: &[&str] = &["xray:PutTraceSegments", "xray:PutTelemetryRecords"];

/// Rule 4: each function runs under a role of its own, declared in the template, with no
/// managed policies (they grant on `"*"`), whose statements name only actions from
/// `ALLOWED_ACTIONS` (no wildcards, no `NotAction`/`NotResource`), each on resources of the
/// matching type that the function itself uses: the ones its environment names, the queues it
/// consumes and its log group.
pub fn least_privilege(template: &Template) -> Vec<Violation> {
    let rule = Rule::LeastPrivilege;
    let functions = match read(rule, template.functions()) {
        Ok(f) => f,
        Err(v) => return v,
    };
    let mut violations = Vec::new();
    let mut role_users: BTreeMap<String, Vec<String>> = BTreeMap::new();

    for function in &functions {
        let id = function.logical_id.as_str();
        let Some(role_id) = function.role_logical_id() else {
            let why = if function.role.is_some() {
                "its Role is not !GetAtt <role>.Arn of an AWS::IAM::Role in the template, so \
                    its permissions cannot be checked"
            } else {
                "uses the role SAM generates, which attaches AWS managed policies granting \
                 on \"*\" (AWSLambdaBasicExecutionRole, and AWSLambdaSQSQueueExecutionRole \
                 for SQS events); give it an AWS::IAM::Role of its own"
            };
            violations.push(Violation::new(rule, id, why));
            continue;
        };
        role_users
            .entry(role_id.clone())
            .or_default()
            .push(id.to_owned());
        let role = match template.role(&role_id) {
            Ok(r) => r,
            Err(e) => {
                violations.push(Violation::new(
                    rule,
                    id,
                    format!("cannot read its role: {e}"),
                ));
                continue;
            }
        };
        if role.assumed_by != ["lambda.amazonaws.com"] {
            violations.push(Violation::new(
                rule,
                &role.logical_id,
                format!(
                    "role of {id} must be assumable by lambda.amazonaws.com alone, found {:?}",
                    role.assumed_by
                ),
            ));
        }
        for arn in &role.managed_policy_arns {
            violations.push(Violation::new(
                rule,
                &role.logical_id,
                format!(
                    "role of {id} attaches managed policy {}; write the statements it \
                    needs instead",
                    describe(arn)
                ),
            ));
        }
        let own = own_resources(function);
        for statement in &role.statements {
            check_statement(
                template,
                rule,
                id,
                &role.logical_id,
                statement,
                &own,
                &mut violations,
            );
        }
    }

    for (role, users) in role_users {
        if users.len() > 1 {
            violations.push(Violation::new(
                rule,
                &role,
                format!(
                    "is shared by {}: each function needs a role of its own",
                    users.join(", ")
                ),
            ));
        }
    }
    violations
}

/// The resources a function has a reason to touch.
fn own_resources(function: &Function) -> BTreeSet<String> {
    let mut own: BTreeSet<String> = function
        .environment
        .values()
        .flat_map(|v| v.references())
        .filter(|r| !r.is_pseudo_parameter())
        .map(|r| r.name)
        .collect();
    own.extend(function.sqs_events().map(|e| e.queue.clone()));
    own.extend(function.log_group_logical_id().map(str::to_owned));
    own
}

/// Reports what is wrong with one statement of `function`'s role.
fn check_statement(
    template: &Template,
    rule: Rule,
    function: &str,
    role: &str,
    statement: &PolicyStatement,
    own: &BTreeSet<String>,
    violations: &mut Vec<Violation>,
) {
    if statement.effect != "Allow" {
        return; // Deny narrows, it never grants.
    }
    let sid = statement
        .sid
        .as_deref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let mut problems = shape_problems(statement);
    if let Some(unscoped) = unscoped_problems(statement) {
        problems.extend(unscoped);
        violations.extend(problems.into_iter().map(|message| {
            Violation::new(
                rule,
                role,
                format!("statement{sid} for {function}: {message}"),
            )
        }));
        return;
    }
    let types_needed = action_types(statement, &mut problems);
    for resource in &statement.resources {
        resource_problems(
            template,
            function,
            resource,
            &types_needed,
            own,
            &mut problems,
        );
    }
    violations.extend(problems.into_iter().map(|message| {
        Violation::new(
            rule,
            role,
            format!("statement{sid} for {function}: {message}"),
        )
    }));
}

fn is_unscoped(action: &str) -> bool {
    UNSCOPED_ACTIONS
        .iter()
        .any(|a| a.eq_ignore_ascii_case(action))
}

/// `None` for a statement without [`UNSCOPED_ACTIONS`]; else what is wrong with it: it must
/// hold only those, on `"*"` alone.
fn unscoped_problems(statement: &PolicyStatement) -> Option<Vec<String>> {
    if !statement.actions.iter().any(|a| is_unscoped(a)) {
        return None;
    }
    let mut problems = Vec::new();
    let others: Vec<&str> = statement
        .actions
        .iter()
        .filter(|a| !is_unscoped(a))
        .map(String::as_str)
        .collect();
    if !others.is_empty() {
        problems.push(format!(
            "{} take no resource and need a statement of their own on \"*\"; {} must not \
             share it",
            UNSCOPED_ACTIONS.join(", "),
            others.join(", ")
        ));
    }
    if statement.resources.len() != 1 || statement.resources[0].as_str() != Some("*") {
        problems.push(format!(
            "{} take no resource: their Resource is \"*\" alone",
            UNSCOPED_ACTIONS.join(", ")
        ));
    }
    Some(problems)
}

/// `NotAction`, `NotResource` and a missing `Resource`: grants wider than their look.
fn shape_problems(statement: &PolicyStatement) -> Vec<String> {
    let mut problems = Vec::new();
    if statement.not_action {
        problems.push("NotAction grants everything else; list the actions instead".into());
    }
    if statement.not_resource {
        problems.push("NotResource grants every other resource; list the resources instead".into());
    }
    if statement.resources.is_empty() {
        problems.push("has no Resource".into());
    }
    problems
}

/// The resource types the statement's actions may be scoped to; reports wildcards and actions
/// not in [`ALLOWED_ACTIONS`].
fn action_types(statement: &PolicyStatement, problems: &mut Vec<String>) -> BTreeSet<&'static str> {
    let mut types_needed = BTreeSet::new();
    for action in &statement.actions {
        if action.contains('*') || action.contains('?') {
            problems.push(format!("action {action} is a wildcard; name each action"));
            continue;
        }
        let Some((service, name)) = action.split_once(':') else {
            problems.push(format!("action {action} is not service:Action"));
            continue;
        };
        match ALLOWED_ACTIONS
            .iter()
            .find(|(s, _, _)| s.eq_ignore_ascii_case(service))
        {
            Some((_, kind, names)) if names.iter().any(|n| n.eq_ignore_ascii_case(name)) => {
                types_needed.insert(*kind);
            }
            _ => problems.push(format!(
                "action {action} is not one orderflow's functions use"
            )),
        }
    }
    types_needed
}

/// One `Resource` entry: it must name resources of the template, of the type the actions
/// apply to, that the function itself uses.
fn resource_problems(
    template: &Template,
    function: &str,
    resource: &Value,
    types_needed: &BTreeSet<&'static str>,
    own: &BTreeSet<String>,
    problems: &mut Vec<String>,
) {
    if resource.as_str() == Some("*") {
        problems.push("Resource \"*\" grants on every resource; name the function's own".into());
        return;
    }
    let targets: Vec<String> = match resource.as_intrinsic() {
        Some(_) => resource
            .references()
            .into_iter()
            .filter(|r| !r.is_pseudo_parameter())
            .map(|r| r.name)
            .collect(),
        None => Vec::new(),
    };
    if targets.is_empty() {
        problems.push(format!(
            "Resource {} names no resource of the template; use !GetAtt/!Ref/!Sub of one",
            describe(resource)
        ));
        return;
    }
    for target in targets {
        let Some(kind) = template.resource(&target).map(|r| r.kind.as_str()) else {
            problems.push(format!("Resource {target} is not declared in the template"));
            continue;
        };
        if let Some(expected) = types_needed.iter().find(|t| **t != kind) {
            problems.push(format!(
                "Resource {target} is a {kind}, but the statement's \
                actions apply to {expected}"
            ));
        }
        if !own.contains(&target) {
            problems.push(format!(
                "grants on {target}, which {function} neither names in its \
                    environment, consumes, nor logs to"
            ));
        }
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{s}\""),
        Value::Intrinsic(i) => format!("{} {:?}", i.function_name(), value.references()),
        other => format!("{other:?}"),
    }
}
