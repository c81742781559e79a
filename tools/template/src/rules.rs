//! The rules orderflow enforces on its own template (docs/DESIGN.md §4), beside cfn-lint.
//!
//! Each rule is a function from the template to the violations it finds; [`check`] runs them
//! all. A resource the model cannot read is reported as a violation of the rule that needed it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::error::TemplateError;
use crate::model::{types, Function, Operation, PolicyStatement, Queue, Template};
use crate::value::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// Every queue a function consumes has a redrive policy to a DLQ of its own.
    DeadLetterQueue,
    /// A consumed queue's `VisibilityTimeout` is at least 6 × the consumer's `Timeout`.
    VisibilityTimeout,
    /// Every SQS event source sets `FunctionResponseTypes: [ReportBatchItemFailures]`.
    BatchItemFailures,
    /// Each function has its own role granting only known actions on resources it uses.
    LeastPrivilege,
    /// Every DLQ has a CloudWatch alarm on its depth that notifies someone.
    DlqAlarm,
    /// Every resource a function's environment names exists in the template.
    EnvironmentReferences,
    /// Every queue an EventBridge rule targets lets that rule (and only it) send to it.
    EventTargetDelivery,
    /// The HTTP API is defined from its OpenAPI file, whose operations are exactly the
    /// functions' `HttpApi` events.
    ApiContract,
}

impl Rule {
    pub const ALL: [Rule; 8] = [
        Rule::DeadLetterQueue,
        Rule::VisibilityTimeout,
        Rule::BatchItemFailures,
        Rule::LeastPrivilege,
        Rule::DlqAlarm,
        Rule::EnvironmentReferences,
        Rule::EventTargetDelivery,
        Rule::ApiContract,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::DeadLetterQueue => "dead-letter-queue",
            Rule::VisibilityTimeout => "visibility-timeout",
            Rule::BatchItemFailures => "batch-item-failures",
            Rule::LeastPrivilege => "least-privilege",
            Rule::DlqAlarm => "dlq-alarm",
            Rule::EnvironmentReferences => "environment-references",
            Rule::EventTargetDelivery => "event-target-delivery",
            Rule::ApiContract => "api-contract",
        }
    }

    /// Runs this one rule.
    pub fn check(self, template: &Template) -> Vec<Violation> {
        match self {
            Rule::DeadLetterQueue => dead_letter_queues(template),
            Rule::VisibilityTimeout => visibility_timeouts(template),
            Rule::BatchItemFailures => batch_item_failures(template),
            Rule::LeastPrivilege => least_privilege(template),
            Rule::DlqAlarm => dlq_alarms(template),
            Rule::EnvironmentReferences => environment_references(template),
            Rule::EventTargetDelivery => event_target_delivery(template),
            Rule::ApiContract => api_contract(template),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken rule: which rule, on which resource (logical id), and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    pub rule: Rule,
    pub resource: String,
    pub message: String,
}

impl Violation {
    fn new(rule: Rule, resource: &str, message: impl Into<String>) -> Self {
        Violation {
            rule,
            resource: resource.to_owned(),
            message: message.into(),
        }
    }

    fn unreadable(rule: Rule, error: &TemplateError) -> Self {
        let resource = match error {
            TemplateError::Resource { resource, .. } => resource.clone(),
            _ => "(template)".to_owned(),
        };
        Violation {
            rule,
            resource,
            message: error.to_string(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {}", self.rule, self.resource, self.message)
    }
}

/// Runs every rule; an empty list means the template keeps them all.
pub fn check(template: &Template) -> Vec<Violation> {
    let mut violations: Vec<Violation> = Rule::ALL
        .iter()
        .flat_map(|rule| rule.check(template))
        .collect();
    violations.sort();
    violations.dedup();
    violations
}

/// Reads a typed view, or turns the failure into a violation of `rule`.
fn read<T>(rule: Rule, result: Result<T, TemplateError>) -> Result<T, Vec<Violation>> {
    result.map_err(|e| vec![Violation::unreadable(rule, &e)])
}

/// Each (function, SQS event) pair with the consumed queue read, or the reason it can't be.
fn consumers(
    rule: Rule,
    template: &Template,
) -> Result<Vec<(Function, Queue, crate::model::SqsEvent)>, Vec<Violation>> {
    let mut out = Vec::new();
    let mut violations = Vec::new();
    for function in read(rule, template.functions())? {
        for event in function.sqs_events() {
            match template.queue(&event.queue) {
                Ok(queue) => out.push((function.clone(), queue, event.clone())),
                Err(e) => violations.push(Violation::new(
                    rule,
                    &function.logical_id,
                    format!(
                        "consumes {}, which is not an SQS queue of the template ({e})",
                        event.queue
                    ),
                )),
            }
        }
    }
    if violations.is_empty() {
        Ok(out)
    } else {
        Err(violations)
    }
}

// ------------------------------------------------------------------ 1. dead-letter queues

/// Rule 1: every queue a function consumes has a redrive policy (with `maxReceiveCount`) to a
/// DLQ declared in the template that is its own: not the queue itself, not shared with another
/// source queue.
pub fn dead_letter_queues(template: &Template) -> Vec<Violation> {
    let rule = Rule::DeadLetterQueue;
    let consumed = match consumers(rule, template) {
        Ok(c) => c,
        Err(v) => return v,
    };
    let queues = match read(rule, template.queues()) {
        Ok(q) => q,
        Err(v) => return v,
    };
    // DLQ -> every queue that redrives into it.
    let mut sources: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for queue in &queues {
        if let Some(dlq) = queue
            .redrive
            .as_ref()
            .and_then(|r| r.dead_letter_queue.clone())
        {
            sources
                .entry(dlq)
                .or_default()
                .insert(queue.logical_id.clone());
        }
    }

    let mut violations = Vec::new();
    let mut seen = BTreeSet::new();
    for (function, queue, _) in consumed {
        if seen.insert(queue.logical_id.clone()) {
            let problems = redrive_problems(template, &queue, &function.logical_id, &sources);
            violations.extend(
                problems
                    .into_iter()
                    .map(|m| Violation::new(rule, &queue.logical_id, m)),
            );
        }
    }
    violations
}

fn redrive_problems(
    template: &Template,
    queue: &Queue,
    consumer: &str,
    sources: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let id = queue.logical_id.as_str();
    let Some(redrive) = &queue.redrive else {
        return vec![format!(
            "is consumed by {consumer} but has no RedrivePolicy: a poison message would be \
             retried forever; add one to a DLQ of its own"
        )];
    };
    let mut problems = Vec::new();
    match &redrive.dead_letter_queue {
        None => problems.push(
            "RedrivePolicy deadLetterTargetArn must be !GetAtt <DLQ>.Arn of a queue in the template"
                .to_owned(),
        ),
        Some(dlq) if dlq == id => {
            problems.push("RedrivePolicy sends failed messages back to the queue itself".to_owned())
        }
        Some(dlq) if template.resource(dlq).map(|r| r.kind.as_str()) != Some(types::QUEUE) => {
            problems.push(format!("dead-letter target {dlq} is not an SQS queue of the template"))
        }
        Some(dlq) => {
            let others: Vec<&str> = sources
                .get(dlq)
                .into_iter()
                .flatten()
                .filter(|s| s.as_str() != id)
                .map(String::as_str)
                .collect();
            if !others.is_empty() {
                problems.push(format!(
                    "shares its DLQ {dlq} with {}: each queue needs its own, so a redrive \
                     returns messages to the right consumer",
                    others.join(", ")
                ));
            }
        }
    }
    if redrive.max_receive_count.is_none_or(|n| n < 1) {
        problems.push("RedrivePolicy needs a maxReceiveCount of at least 1".to_owned());
    }
    problems
}

// ------------------------------------------------------------------ 2. visibility timeout

/// Rule 2: a consumed queue's `VisibilityTimeout` is at least six times its consumer's
/// `Timeout` (AWS's guidance for Lambda SQS event sources, so throttled retries don't make a
/// message visible again while a batch is still being processed).
pub fn visibility_timeouts(template: &Template) -> Vec<Violation> {
    let rule = Rule::VisibilityTimeout;
    let consumed = match consumers(rule, template) {
        Ok(c) => c,
        Err(v) => return v,
    };
    consumed
        .into_iter()
        .filter_map(|(function, queue, _)| {
            let needed = function.timeout_seconds.saturating_mul(6);
            (queue.visibility_timeout_seconds < needed).then(|| {
                Violation::new(
                    rule,
                    &queue.logical_id,
                    format!(
                        "VisibilityTimeout is {} s but its consumer {} has Timeout {} s: it \
                            must be at least 6 x {} = {} s",
                        queue.visibility_timeout_seconds,
                        function.logical_id,
                        function.timeout_seconds,
                        function.timeout_seconds,
                        needed
                    ),
                )
            })
        })
        .collect()
}

// ------------------------------------------------------------------ 3. partial batch responses

/// Rule 3: every SQS event source sets `FunctionResponseTypes: [ReportBatchItemFailures]`, so
/// one bad message fails alone instead of returning its whole batch to the queue.
pub fn batch_item_failures(template: &Template) -> Vec<Violation> {
    let rule = Rule::BatchItemFailures;
    let functions = match read(rule, template.functions()) {
        Ok(f) => f,
        Err(v) => return v,
    };
    let mut violations = Vec::new();
    for function in &functions {
        for event in &function.events {
            if let crate::model::EventSource::Sqs(sqs) = &event.source {
                if !sqs.reports_batch_item_failures() {
                    violations.push(Violation::new(
                        rule,
                        &function.logical_id,
                        format!(
                            "SQS event {} (queue {}) must set FunctionResponseTypes: \
                            [ReportBatchItemFailures]",
                            event.name, sqs.queue
                        ),
                    ));
                }
            }
        }
    }
    violations
}

// ------------------------------------------------------------------ 4. least privilege

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

/// Rule 4: each function runs under a role of its own, declared in the template, with no
/// managed policies (they grant on `"*"`), whose statements name only actions from
/// [`ALLOWED_ACTIONS`] (no wildcards, no `NotAction`/`NotResource`), each on resources of the
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
    let mut report = |message: String| {
        violations.push(Violation::new(
            rule,
            role,
            format!("statement{sid} for {function}: {message}"),
        ))
    };
    if statement.not_action {
        report("NotAction grants everything else; list the actions instead".into());
    }
    if statement.not_resource {
        report("NotResource grants every other resource; list the resources instead".into());
    }
    if statement.resources.is_empty() {
        report("has no Resource".into());
    }

    // The resource types this statement's actions may be scoped to.
    let mut types_needed = BTreeSet::new();
    for action in &statement.actions {
        if action.contains('*') || action.contains('?') {
            report(format!("action {action} is a wildcard; name each action"));
            continue;
        }
        let Some((service, name)) = action.split_once(':') else {
            report(format!("action {action} is not service:Action"));
            continue;
        };
        match ALLOWED_ACTIONS
            .iter()
            .find(|(s, _, _)| s.eq_ignore_ascii_case(service))
        {
            Some((_, kind, names)) if names.iter().any(|n| n.eq_ignore_ascii_case(name)) => {
                types_needed.insert(*kind);
            }
            _ => report(format!(
                "action {action} is not one orderflow's functions use"
            )),
        }
    }

    for resource in &statement.resources {
        if resource.as_str() == Some("*") {
            report("Resource \"*\" grants on every resource; name the function's own".into());
            continue;
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
            report(format!(
                "Resource {} names no resource of the template; use !GetAtt/!Ref/!Sub of one",
                describe(resource)
            ));
            continue;
        }
        for target in targets {
            let kind = template.resource(&target).map(|r| r.kind.as_str());
            match kind {
                None => report(format!("Resource {target} is not declared in the template")),
                Some(kind) => {
                    if let Some(expected) = types_needed.iter().find(|t| **t != kind) {
                        report(format!(
                            "Resource {target} is a {kind}, but the statement's \
                            actions apply to {expected}"
                        ));
                    }
                    if !own.contains(&target) {
                        report(format!(
                            "grants on {target}, which {function} neither names in its \
                                environment, consumes, nor logs to"
                        ));
                    }
                }
            }
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

// ------------------------------------------------------------------ 5. DLQ alarms

/// Rule 5: every DLQ (a queue some `RedrivePolicy` targets) has a CloudWatch alarm on
/// `AWS/SQS ApproximateNumberOfMessagesVisible` for that queue which fires on the first message
/// and has an `AlarmActions` target.
pub fn dlq_alarms(template: &Template) -> Vec<Violation> {
    let rule = Rule::DlqAlarm;
    let queues = match read(rule, template.queues()) {
        Ok(q) => q,
        Err(v) => return v,
    };
    let alarms = match read(rule, template.alarms()) {
        Ok(a) => a,
        Err(v) => return v,
    };
    let dlqs: BTreeSet<String> = queues
        .iter()
        .filter_map(|q| q.redrive.as_ref().and_then(|r| r.dead_letter_queue.clone()))
        .collect();

    let mut violations = Vec::new();
    for dlq in dlqs {
        let watching: Vec<_> = alarms
            .iter()
            .filter(|a| {
                a.namespace.as_deref() == Some("AWS/SQS")
                    && a.metric_name.as_deref() == Some("ApproximateNumberOfMessagesVisible")
                    && a.dimensions
                        .get("QueueName")
                        .and_then(Value::get_att_target)
                        == Some((dlq.as_str(), "QueueName"))
            })
            .collect();
        if watching.is_empty() {
            violations.push(Violation::new(
                rule,
                &dlq,
                "is a dead-letter queue without an alarm on its depth (AWS/SQS \
                    ApproximateNumberOfMessagesVisible, QueueName: !GetAtt <DLQ>.QueueName)",
            ));
            continue;
        }
        if !watching
            .iter()
            .any(|a| a.fires_on_first_unit() && !a.alarm_actions.is_empty())
        {
            let names: Vec<&str> = watching.iter().map(|a| a.logical_id.as_str()).collect();
            violations.push(Violation::new(
                rule,
                &dlq,
                format!(
                    "its alarm ({}) must fire on the first message (> 0) and have AlarmActions",
                    names.join(", ")
                ),
            ));
        }
    }
    violations
}

// ------------------------------------------------------------------ 6. environment references

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

// ------------------------------------------------------------------ 7. event targets

/// Rule 7: every SQS queue an EventBridge rule targets has a queue policy that allows
/// `events.amazonaws.com` to `sqs:SendMessage` with `aws:SourceArn` equal to that rule's ARN;
/// without it EventBridge drops the events and nothing fails loudly.
pub fn event_target_delivery(template: &Template) -> Vec<Violation> {
    let rule = Rule::EventTargetDelivery;
    let rules = match read(rule, template.event_rules()) {
        Ok(r) => r,
        Err(v) => return v,
    };
    let policies = match read(rule, template.queue_policies()) {
        Ok(p) => p,
        Err(v) => return v,
    };
    let mut violations = Vec::new();
    for event_rule in &rules {
        for target in &event_rule.targets {
            let Some(queue) = target.resource.as_deref() else {
                continue;
            };
            if template.resource(queue).map(|r| r.kind.as_str()) != Some(types::QUEUE) {
                continue;
            }
            let allowed = policies
                .iter()
                .filter(|p| p.queues.iter().any(|q| q == queue))
                .any(|p| {
                    p.statements
                        .iter()
                        .any(|s| allows_rule_to_send(s, queue, &event_rule.logical_id))
                });
            if !allowed {
                violations.push(Violation::new(
                    rule,
                    queue,
                    format!(
                        "is a target of {rule_id} but no AWS::SQS::QueuePolicy lets \
                         events.amazonaws.com sqs:SendMessage to it with \
                         aws:SourceArn = !GetAtt {rule_id}.Arn",
                        rule_id = event_rule.logical_id
                    ),
                ));
            }
        }
    }
    violations
}

fn allows_rule_to_send(statement: &PolicyStatement, queue: &str, rule: &str) -> bool {
    let from_events = statement
        .principal
        .as_ref()
        .and_then(|p| p.get("Service"))
        .is_some_and(|s| {
            s.one_or_many()
                .iter()
                .any(|v| v.as_str() == Some("events.amazonaws.com"))
        });
    let sends = statement
        .actions
        .iter()
        .any(|a| a.eq_ignore_ascii_case("sqs:SendMessage"));
    let on_queue = statement
        .resources
        .iter()
        .any(|r| r.get_att_target() == Some((queue, "Arn")));
    let source_is_rule = statement.condition.as_ref().is_some_and(|c| {
        ["ArnEquals", "ArnLike"].iter().any(|op| {
            c.get(op)
                .and_then(|m| m.get("aws:SourceArn"))
                .and_then(Value::get_att_target)
                == Some((rule, "Arn"))
        })
    });
    statement.effect == "Allow"
        && !statement.not_action
        && from_events
        && sends
        && on_queue
        && source_is_rule
}

// ------------------------------------------------------------------ 8. the API contract

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
    // API logical id -> route -> the (function, event) pairs serving it.
    let mut served: BTreeMap<String, BTreeMap<Operation, Vec<(String, String)>>> = BTreeMap::new();
    for function in &functions {
        for event in &function.events {
            let crate::model::EventSource::HttpApi(http) = &event.source else {
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
