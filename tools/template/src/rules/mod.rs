//! The rules orderflow enforces on its own template (docs/DESIGN.md §4), beside cfn-lint.
//!
//! Each rule is a function from the template to the violations it finds; [`check`] runs them
//! all. A resource the model cannot read is reported as a violation of the rule that needed it.

use std::fmt;

use crate::error::TemplateError;
use crate::model::{Function, Queue, SqsEvent, Template};

mod api_contract;
mod batch_failures;
mod dead_letter;
mod dlq_alarm;
mod environment;
mod event_target_dead_letter;
mod event_targets;
mod idempotency_lock;
mod idempotency_retention;
mod least_privilege;
mod local_only;
mod resource_alarms;
mod visibility;

pub use api_contract::api_contract;
pub use batch_failures::batch_item_failures;
pub use dead_letter::dead_letter_queues;
pub use dlq_alarm::dlq_alarms;
pub use environment::environment_references;
pub use event_target_dead_letter::event_target_dead_letters;
pub use event_targets::event_target_delivery;
pub use idempotency_lock::{idempotency_locks, LOCK_VARIABLE};
pub use idempotency_retention::{idempotency_retention, KEEP_VARIABLE};
pub use least_privilege::least_privilege;
pub use local_only::{local_only_variables, LOCAL_ONLY_PREFIX};
pub use resource_alarms::resource_alarms;
pub use visibility::visibility_timeouts;

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
    /// No function sets an `ORDERFLOW_*` variable: those switch on fault injection and call
    /// counting, which only the local cloud may do.
    LocalOnlyVariables,
    /// An idempotency key's lock outlasts its function's `Timeout` and is at most the consumed
    /// queue's `VisibilityTimeout`.
    IdempotencyLock,
    /// A completed idempotency key is kept at least as long as a message of the consumed queue
    /// (and its DLQ) can live.
    IdempotencyRetention,
    /// Every EventBridge target has a `RetryPolicy` and a `DeadLetterConfig` whose queue lets
    /// the rule send.
    EventTargetDeadLetter,
    /// Every consumed queue has an alarm on the age of its oldest message, and every function
    /// one on its errors.
    ResourceAlarms,
}

impl Rule {
    pub const ALL: [Rule; 13] = [
        Rule::DeadLetterQueue,
        Rule::VisibilityTimeout,
        Rule::BatchItemFailures,
        Rule::LeastPrivilege,
        Rule::DlqAlarm,
        Rule::EnvironmentReferences,
        Rule::EventTargetDelivery,
        Rule::ApiContract,
        Rule::LocalOnlyVariables,
        Rule::IdempotencyLock,
        Rule::IdempotencyRetention,
        Rule::EventTargetDeadLetter,
        Rule::ResourceAlarms,
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
            Rule::LocalOnlyVariables => "local-only-variables",
            Rule::IdempotencyLock => "idempotency-lock",
            Rule::IdempotencyRetention => "idempotency-retention",
            Rule::EventTargetDeadLetter => "event-target-dead-letter",
            Rule::ResourceAlarms => "resource-alarms",
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
            Rule::LocalOnlyVariables => local_only_variables(template),
            Rule::IdempotencyLock => idempotency_locks(template),
            Rule::IdempotencyRetention => idempotency_retention(template),
            Rule::EventTargetDeadLetter => event_target_dead_letters(template),
            Rule::ResourceAlarms => resource_alarms(template),
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
    pub(crate) fn new(rule: Rule, resource: &str, message: impl Into<String>) -> Self {
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
pub(crate) fn read<T>(rule: Rule, result: Result<T, TemplateError>) -> Result<T, Vec<Violation>> {
    result.map_err(|e| vec![Violation::unreadable(rule, &e)])
}

/// Each (function, SQS event) pair with the consumed queue read, or the reason it can't be.
pub(crate) fn consumers(
    rule: Rule,
    template: &Template,
) -> Result<Vec<(Function, Queue, SqsEvent)>, Vec<Violation>> {
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
