//! The project's template rules on the real `infra/template.yaml`: it keeps them all, and
//! breaking any one of them (in memory) is caught by that rule.

// Test helpers live outside #[test] functions; a failed unwrap there is a failed assertion too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orderflow_template::rules::{self, Rule, Violation};
use orderflow_template::{Template, Value};

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml");

fn template() -> Template {
    Template::from_path(TEMPLATE).unwrap()
}

fn yaml(text: &str) -> Value {
    Value::from_yaml(&serde_yaml::from_str(text).unwrap()).unwrap()
}

fn props<'a>(t: &'a mut Template, id: &str) -> &'a mut Value {
    &mut t
        .resource_mut(id)
        .unwrap_or_else(|| panic!("{id} is not in the template"))
        .properties
}

fn set(t: &mut Template, id: &str, path: &str, value: Value) {
    let (parent, key) = path.rsplit_once('/').unwrap_or(("", path));
    props(t, id)
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("{id} has no {parent}"))
        .insert(key, value);
}

fn remove(t: &mut Template, id: &str, path: &str) {
    let (parent, key) = path.rsplit_once('/').unwrap_or(("", path));
    props(t, id)
        .pointer_mut(parent)
        .unwrap()
        .remove(key)
        .unwrap_or_else(|| panic!("{id} has no {path}"));
}

/// Path (under the role's properties) of the policy statement with this `Sid`.
fn statement(t: &Template, role: &str, sid: &str) -> String {
    let statements = t
        .resource(role)
        .unwrap()
        .properties
        .pointer("Policies/0/PolicyDocument/Statement")
        .unwrap();
    let index = statements
        .as_list()
        .unwrap()
        .iter()
        .position(|s| s.get("Sid").and_then(Value::as_str) == Some(sid))
        .unwrap_or_else(|| panic!("{role} has no statement {sid}"));
    format!("Policies/0/PolicyDocument/Statement/{index}")
}

/// Asserts that `rule` reports `resource`, and returns its violations for further checks.
fn assert_reports(t: &Template, rule: Rule, resource: &str) -> Vec<Violation> {
    let violations = rule.check(t);
    assert!(
        violations
            .iter()
            .any(|v| v.rule == rule && v.resource == resource),
        "expected {rule} to report {resource}, got {violations:#?}"
    );
    violations
}

#[test]
fn the_real_template_keeps_every_rule() {
    let violations = rules::check(&template());
    assert!(
        violations.is_empty(),
        "infra/template.yaml breaks the project's template rules:\n{}",
        violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_rule_inspects_something_in_the_real_template() {
    // Guards against rules passing vacuously because the model read nothing.
    let t = template();
    let functions = t.functions().unwrap();
    assert_eq!(functions.len(), 6);
    assert_eq!(functions.iter().flat_map(|f| f.sqs_events()).count(), 3);
    // 4 DLQ depths, stranded orders, the reconciler's errors, 3 queue ages, 5 error rates, and
    // DynamoDB throttling.
    assert_eq!(t.alarms().unwrap().len(), 15);
    assert_eq!(t.event_rules().unwrap().len(), 3);
    assert_eq!(t.roles().unwrap().len(), 6);
}

// ------------------------------------------------------------------ 1. dead-letter queues

#[test]
fn a_queue_without_a_redrive_policy_breaks_the_dlq_rule() {
    let mut t = template();
    remove(&mut t, "PaymentQueue", "RedrivePolicy");
    let violations = assert_reports(&t, Rule::DeadLetterQueue, "PaymentQueue");
    assert_eq!(violations.len(), 1, "{violations:#?}");
}

#[test]
fn two_queues_sharing_one_dlq_break_the_dlq_rule() {
    let mut t = template();
    set(
        &mut t,
        "PaymentQueue",
        "RedrivePolicy/deadLetterTargetArn",
        yaml("!GetAtt InventoryDLQ.Arn"),
    );
    assert_reports(&t, Rule::DeadLetterQueue, "PaymentQueue");
    assert_reports(&t, Rule::DeadLetterQueue, "InventoryQueue");
}

#[test]
fn a_queue_that_is_its_own_dlq_breaks_the_dlq_rule() {
    let mut t = template();
    set(
        &mut t,
        "NotificationQueue",
        "RedrivePolicy/deadLetterTargetArn",
        yaml("!GetAtt NotificationQueue.Arn"),
    );
    assert_reports(&t, Rule::DeadLetterQueue, "NotificationQueue");
}

#[test]
fn a_redrive_policy_without_max_receive_count_breaks_the_dlq_rule() {
    let mut t = template();
    remove(&mut t, "InventoryQueue", "RedrivePolicy/maxReceiveCount");
    assert_reports(&t, Rule::DeadLetterQueue, "InventoryQueue");
}

// ------------------------------------------------------------------ 2. visibility timeout

#[test]
fn a_visibility_timeout_under_six_function_timeouts_breaks_the_visibility_rule() {
    let mut t = template();
    set(&mut t, "InventoryQueue", "VisibilityTimeout", yaml("119"));
    let violations = assert_reports(&t, Rule::VisibilityTimeout, "InventoryQueue");
    assert!(violations[0].message.contains("120"), "{}", violations[0]);
}

#[test]
fn raising_a_function_timeout_without_its_queue_breaks_the_visibility_rule() {
    let mut t = template();
    set(&mut t, "ProcessPaymentFunction", "Timeout", yaml("30"));
    assert_reports(&t, Rule::VisibilityTimeout, "PaymentQueue");
}

#[test]
fn a_queue_left_at_the_default_visibility_timeout_breaks_the_visibility_rule() {
    let mut t = template();
    remove(&mut t, "NotificationQueue", "VisibilityTimeout");
    assert_reports(&t, Rule::VisibilityTimeout, "NotificationQueue");
}

// ------------------------------------------------------------------ 10. idempotency lock

const LOCK: &str = "Environment/Variables/IDEMPOTENCY_LOCK_SECONDS";
const KEEP: &str = "Environment/Variables/IDEMPOTENCY_KEEP_SECONDS";

#[test]
fn the_real_template_locks_the_keys_of_both_functions_that_claim_them() {
    let t = template();
    let locking: Vec<String> = t
        .functions()
        .unwrap()
        .into_iter()
        .filter(|f| f.environment.contains_key(rules::LOCK_VARIABLE))
        .map(|f| f.logical_id)
        .collect();
    assert_eq!(
        locking,
        ["ProcessPaymentFunction", "SendNotificationFunction"],
        "the lock rules would pass vacuously"
    );
    assert!(Rule::IdempotencyLock.check(&t).is_empty());
    assert!(Rule::IdempotencyRetention.check(&t).is_empty());
}

#[test]
fn a_lock_no_longer_than_the_function_timeout_breaks_the_lock_rule() {
    let mut t = template();
    set(&mut t, "SendNotificationFunction", LOCK, yaml("'20'"));
    let violations = assert_reports(&t, Rule::IdempotencyLock, "SendNotificationFunction");
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(
        violations[0].message.contains("Timeout is 20 s"),
        "{}",
        violations[0]
    );
}

#[test]
fn raising_a_function_timeout_to_its_lock_breaks_the_lock_rule() {
    let mut t = template();
    set(&mut t, "ProcessPaymentFunction", "Timeout", yaml("90"));
    assert_reports(&t, Rule::IdempotencyLock, "ProcessPaymentFunction");
}

#[test]
fn a_lock_longer_than_the_visibility_timeout_breaks_the_lock_rule() {
    let mut t = template();
    set(&mut t, "ProcessPaymentFunction", LOCK, yaml("'121'"));
    let violations = assert_reports(&t, Rule::IdempotencyLock, "ProcessPaymentFunction");
    assert!(
        violations[0].message.contains("PaymentQueue"),
        "{}",
        violations[0]
    );
}

#[test]
fn shortening_the_visibility_timeout_below_the_lock_breaks_the_lock_rule() {
    let mut t = template();
    set(&mut t, "NotificationQueue", "VisibilityTimeout", yaml("60"));
    assert_reports(&t, Rule::IdempotencyLock, "SendNotificationFunction");
}

#[test]
fn a_lock_that_is_not_a_literal_number_breaks_the_lock_rule() {
    for bad in ["ninety", "'0'", "!Ref LogLevel"] {
        let mut t = template();
        set(&mut t, "SendNotificationFunction", LOCK, yaml(bad));
        let violations = assert_reports(&t, Rule::IdempotencyLock, "SendNotificationFunction");
        assert!(
            violations[0].message.contains("literal positive"),
            "{bad}: {}",
            violations[0]
        );
    }
}

// ------------------------------------------------------------------ 11. idempotency retention

#[test]
fn a_key_forgotten_before_the_dlq_drops_its_message_breaks_the_retention_rule() {
    let mut t = template();
    // The old value: 7 days against NotificationDLQ's 14.
    set(&mut t, "SendNotificationFunction", KEEP, yaml("'604800'"));
    let violations = assert_reports(&t, Rule::IdempotencyRetention, "SendNotificationFunction");
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(
        violations[0].message.contains("NotificationDLQ"),
        "{}",
        violations[0]
    );
}

#[test]
fn lengthening_the_dlq_retention_past_the_key_breaks_the_retention_rule() {
    let mut t = template();
    set(&mut t, "ProcessPaymentFunction", KEEP, yaml("'1209600'"));
    assert!(
        Rule::IdempotencyRetention.check(&t).is_empty(),
        "14 days = the DLQ's"
    );
    set(
        &mut t,
        "PaymentDLQ",
        "MessageRetentionPeriod",
        yaml("1209601"),
    );
    assert_reports(&t, Rule::IdempotencyRetention, "ProcessPaymentFunction");
}

#[test]
fn a_source_queue_keeping_messages_longer_than_its_dlq_bounds_the_retention() {
    let mut t = template();
    set(&mut t, "SendNotificationFunction", KEEP, yaml("'400000'"));
    set(
        &mut t,
        "NotificationDLQ",
        "MessageRetentionPeriod",
        yaml("345600"),
    );
    set(
        &mut t,
        "NotificationQueue",
        "MessageRetentionPeriod",
        yaml("500000"),
    );
    let violations = assert_reports(&t, Rule::IdempotencyRetention, "SendNotificationFunction");
    assert!(
        violations[0]
            .message
            .contains("500000 s (MessageRetentionPeriod of NotificationQueue"),
        "{}",
        violations[0]
    );
}

#[test]
fn a_lock_without_a_retention_breaks_the_retention_rule() {
    let mut t = template();
    remove(&mut t, "SendNotificationFunction", KEEP);
    let violations = assert_reports(&t, Rule::IdempotencyRetention, "SendNotificationFunction");
    assert!(
        violations[0].message.contains("IDEMPOTENCY_KEEP_SECONDS"),
        "{}",
        violations[0]
    );
}

// ------------------------------------------------------------------ 3. partial batch responses

#[test]
fn an_sqs_event_without_report_batch_item_failures_breaks_the_batch_rule() {
    let mut t = template();
    remove(
        &mut t,
        "SendNotificationFunction",
        "Events/NotificationMessages/Properties/FunctionResponseTypes",
    );
    let violations = assert_reports(&t, Rule::BatchItemFailures, "SendNotificationFunction");
    assert_eq!(violations.len(), 1, "{violations:#?}");
}

// ------------------------------------------------------------------ 4. least privilege

#[test]
fn a_wildcard_action_breaks_the_least_privilege_rule() {
    let mut t = template();
    let path = format!(
        "{}/Action",
        statement(&t, "UpdateInventoryRole", "Inventory")
    );
    set(&mut t, "UpdateInventoryRole", &path, yaml("dynamodb:*"));
    assert_reports(&t, Rule::LeastPrivilege, "UpdateInventoryRole");
}

#[test]
fn a_star_resource_breaks_the_least_privilege_rule() {
    let mut t = template();
    let path = format!(
        "{}/Resource",
        statement(&t, "SendNotificationRole", "Publish")
    );
    set(&mut t, "SendNotificationRole", &path, yaml("'*'"));
    assert_reports(&t, Rule::LeastPrivilege, "SendNotificationRole");
}

#[test]
fn x_ray_s_actions_on_star_in_a_statement_of_their_own_keep_the_least_privilege_rule() {
    let t = template();
    statement(&t, "ProcessPaymentRole", "Tracing");
    assert!(Rule::LeastPrivilege.check(&t).is_empty());
}

#[test]
fn x_ray_s_actions_sharing_a_statement_or_scoped_to_a_resource_break_the_least_privilege_rule() {
    let mut shared = template();
    let path = format!(
        "{}/Action",
        statement(&shared, "ProcessPaymentRole", "Tracing")
    );
    set(
        &mut shared,
        "ProcessPaymentRole",
        &path,
        yaml("[xray:PutTraceSegments, dynamodb:PutItem]"),
    );
    let violations = assert_reports(&shared, Rule::LeastPrivilege, "ProcessPaymentRole");
    assert!(
        violations
            .iter()
            .any(|v| v.message.contains("dynamodb:PutItem must not share")),
        "{violations:#?}"
    );

    let mut scoped = template();
    let path = format!(
        "{}/Resource",
        statement(&scoped, "ValidateOrderRole", "Tracing")
    );
    set(
        &mut scoped,
        "ValidateOrderRole",
        &path,
        yaml("!GetAtt OrdersTable.Arn"),
    );
    assert_reports(&scoped, Rule::LeastPrivilege, "ValidateOrderRole");
}

#[test]
fn another_x_ray_action_on_star_breaks_the_least_privilege_rule() {
    let mut t = template();
    let path = format!("{}/Action", statement(&t, "QueryApiRole", "Tracing"));
    set(
        &mut t,
        "QueryApiRole",
        &path,
        yaml("[xray:GetTraceSummaries]"),
    );
    assert_reports(&t, Rule::LeastPrivilege, "QueryApiRole");
}

#[test]
fn a_resource_written_as_a_literal_arn_breaks_the_least_privilege_rule() {
    let mut t = template();
    let path = format!("{}/Resource", statement(&t, "QueryApiRole", "Orders"));
    set(
        &mut t,
        "QueryApiRole",
        &path,
        yaml("arn:aws:dynamodb:us-east-1:123456789012:table/Orders"),
    );
    assert_reports(&t, Rule::LeastPrivilege, "QueryApiRole");
}

#[test]
fn granting_a_function_a_table_it_does_not_use_breaks_the_least_privilege_rule() {
    let mut t = template();
    // send-notification never touches the payments ledger.
    let path = format!(
        "{}/Resource",
        statement(&t, "SendNotificationRole", "Idempotency")
    );
    set(
        &mut t,
        "SendNotificationRole",
        &path,
        yaml("!GetAtt PaymentsTable.Arn"),
    );
    let violations = assert_reports(&t, Rule::LeastPrivilege, "SendNotificationRole");
    assert!(
        violations
            .iter()
            .any(|v| v.message.contains("PaymentsTable")),
        "{violations:#?}"
    );
}

#[test]
fn an_action_on_the_wrong_kind_of_resource_breaks_the_least_privilege_rule() {
    let mut t = template();
    let path = format!("{}/Resource", statement(&t, "ValidateOrderRole", "Events"));
    set(
        &mut t,
        "ValidateOrderRole",
        &path,
        yaml("!GetAtt OrdersTable.Arn"),
    );
    assert_reports(&t, Rule::LeastPrivilege, "ValidateOrderRole");
}

#[test]
fn an_action_no_function_needs_breaks_the_least_privilege_rule() {
    let mut t = template();
    let path = format!("{}/Action", statement(&t, "QueryApiRole", "Orders"));
    set(
        &mut t,
        "QueryApiRole",
        &path,
        yaml("[dynamodb:GetItem, dynamodb:DeleteTable]"),
    );
    assert_reports(&t, Rule::LeastPrivilege, "QueryApiRole");
}

#[test]
fn a_function_on_the_sam_generated_role_breaks_the_least_privilege_rule() {
    let mut t = template();
    remove(&mut t, "UpdateInventoryFunction", "Role");
    assert_reports(&t, Rule::LeastPrivilege, "UpdateInventoryFunction");
}

#[test]
fn a_managed_policy_on_a_function_role_breaks_the_least_privilege_rule() {
    let mut t = template();
    set(
        &mut t,
        "ProcessPaymentRole",
        "ManagedPolicyArns",
        yaml("[arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole]"),
    );
    assert_reports(&t, Rule::LeastPrivilege, "ProcessPaymentRole");
}

#[test]
fn a_function_role_that_another_service_can_assume_breaks_the_least_privilege_rule() {
    let mut t = template();
    set(
        &mut t,
        "QueryApiRole",
        "AssumeRolePolicyDocument/Statement/0/Principal/Service",
        yaml("[lambda.amazonaws.com, ec2.amazonaws.com]"),
    );
    assert_reports(&t, Rule::LeastPrivilege, "QueryApiRole");
}

#[test]
fn two_functions_sharing_a_role_break_the_least_privilege_rule() {
    let mut t = template();
    set(
        &mut t,
        "QueryApiFunction",
        "Role",
        yaml("!GetAtt ValidateOrderRole.Arn"),
    );
    assert_reports(&t, Rule::LeastPrivilege, "ValidateOrderRole");
}

// ------------------------------------------------------------------ 5. DLQ alarms

#[test]
fn a_dlq_without_a_depth_alarm_breaks_the_alarm_rule() {
    let mut t = template();
    t.resources.remove("PaymentDLQAlarm").unwrap();
    let violations = assert_reports(&t, Rule::DlqAlarm, "PaymentDLQ");
    assert_eq!(violations.len(), 1, "{violations:#?}");
}

#[test]
fn a_dlq_alarm_that_watches_another_queue_breaks_the_alarm_rule() {
    let mut t = template();
    set(
        &mut t,
        "InventoryDLQAlarm",
        "Dimensions/0/Value",
        yaml("!GetAtt InventoryQueue.QueueName"),
    );
    assert_reports(&t, Rule::DlqAlarm, "InventoryDLQ");
}

#[test]
fn a_dlq_alarm_that_notifies_nobody_breaks_the_alarm_rule() {
    let mut t = template();
    remove(&mut t, "NotificationDLQAlarm", "AlarmActions");
    assert_reports(&t, Rule::DlqAlarm, "NotificationDLQ");
}

#[test]
fn a_dlq_alarm_that_waits_for_many_messages_breaks_the_alarm_rule() {
    let mut t = template();
    set(&mut t, "NotificationDLQAlarm", "Threshold", yaml("10"));
    assert_reports(&t, Rule::DlqAlarm, "NotificationDLQ");
}

// ------------------------------------------------------------------ 6. environment references

#[test]
fn an_environment_variable_naming_a_missing_resource_breaks_the_environment_rule() {
    let mut t = template();
    set(
        &mut t,
        "ProcessPaymentFunction",
        "Environment/Variables/PAYMENTS_TABLE",
        yaml("!Ref PaymentTable"),
    );
    let violations = assert_reports(&t, Rule::EnvironmentReferences, "ProcessPaymentFunction");
    assert!(
        violations[0].message.contains("PAYMENTS_TABLE"),
        "{}",
        violations[0]
    );
}

#[test]
fn a_sub_in_the_environment_naming_a_missing_attribute_target_breaks_the_environment_rule() {
    let mut t = template();
    set(
        &mut t,
        "SendNotificationFunction",
        "Environment/Variables/NOTIFICATION_TOPIC_ARN",
        yaml("!Sub '${CustomerTopic.TopicArn}'"),
    );
    assert_reports(&t, Rule::EnvironmentReferences, "SendNotificationFunction");
}

// ------------------------------------------------------------------ 7. event targets

#[test]
fn a_rule_target_queue_without_a_queue_policy_breaks_the_delivery_rule() {
    let mut t = template();
    t.resources.remove("PaymentQueuePolicy").unwrap();
    let violations = assert_reports(&t, Rule::EventTargetDelivery, "PaymentQueue");
    assert_eq!(violations.len(), 1, "{violations:#?}");
}

#[test]
fn a_queue_policy_for_another_rule_breaks_the_delivery_rule() {
    let mut t = template();
    set(
        &mut t,
        "InventoryQueuePolicy",
        "PolicyDocument/Statement/0/Condition/ArnEquals/aws:SourceArn",
        yaml("!GetAtt PaymentRule.Arn"),
    );
    assert_reports(&t, Rule::EventTargetDelivery, "InventoryQueue");
}

// ------------------------------------------------------------------ 12. event target DLQs

/// Path (under the rule's properties) of its first target's `key`.
const TARGET: &str = "Targets/0";

#[test]
fn every_target_of_the_real_template_retries_and_dead_letters_into_one_alarmed_queue() {
    let t = template();
    let rules = t.event_rules().unwrap();
    let targets: Vec<_> = rules.iter().flat_map(|r| &r.targets).collect();
    assert_eq!(targets.len(), 3, "the rule would pass vacuously");
    for target in targets {
        assert_eq!(
            target.dead_letter_queue.as_deref(),
            Some("EventDeliveryDLQ")
        );
        let retry = target.retry_policy.unwrap();
        assert_eq!(retry.maximum_retry_attempts, Some(185));
        assert_eq!(retry.maximum_event_age_seconds, Some(86_400));
    }
    assert!(Rule::EventTargetDeadLetter.check(&t).is_empty());
    assert!(Rule::DlqAlarm.check(&t).is_empty());
}

#[test]
fn a_target_without_a_dead_letter_config_breaks_the_event_dlq_rule() {
    let mut t = template();
    remove(&mut t, "PaymentRule", &format!("{TARGET}/DeadLetterConfig"));
    let violations = assert_reports(&t, Rule::EventTargetDeadLetter, "PaymentRule");
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(
        violations[0].message.contains("payment-queue"),
        "{}",
        violations[0]
    );
}

#[test]
fn a_target_without_a_retry_policy_or_with_half_of_one_breaks_the_event_dlq_rule() {
    let mut t = template();
    remove(&mut t, "InventoryRule", &format!("{TARGET}/RetryPolicy"));
    assert_reports(&t, Rule::EventTargetDeadLetter, "InventoryRule");

    let mut half = template();
    remove(
        &mut half,
        "NotificationRule",
        &format!("{TARGET}/RetryPolicy/MaximumEventAgeInSeconds"),
    );
    let violations = assert_reports(&half, Rule::EventTargetDeadLetter, "NotificationRule");
    assert!(
        violations[0].message.contains("MaximumEventAgeInSeconds"),
        "{}",
        violations[0]
    );
}

#[test]
fn a_retry_policy_outside_eventbridges_limits_breaks_the_event_dlq_rule() {
    for (field, value) in [
        ("MaximumRetryAttempts", "186"),
        ("MaximumEventAgeInSeconds", "59"),
        ("MaximumEventAgeInSeconds", "86401"),
    ] {
        let mut t = template();
        set(
            &mut t,
            "PaymentRule",
            &format!("{TARGET}/RetryPolicy/{field}"),
            yaml(value),
        );
        let violations = assert_reports(&t, Rule::EventTargetDeadLetter, "PaymentRule");
        assert!(
            violations[0].message.contains(field),
            "{field}={value}: {}",
            violations[0]
        );
    }
}

#[test]
fn a_dead_letter_queue_that_does_not_let_the_rule_send_breaks_the_event_dlq_rule() {
    let mut t = template();
    // The policy names the two other rules only.
    set(
        &mut t,
        "EventDeliveryDLQPolicy",
        "PolicyDocument/Statement/0/Condition/ArnEquals/aws:SourceArn",
        yaml("[!GetAtt InventoryRule.Arn, !GetAtt PaymentRule.Arn]"),
    );
    let violations = Rule::EventTargetDeadLetter.check(&t);
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert_eq!(violations[0].resource, "NotificationRule");

    let mut no_policy = template();
    no_policy
        .resources
        .remove("EventDeliveryDLQPolicy")
        .unwrap();
    assert_eq!(Rule::EventTargetDeadLetter.check(&no_policy).len(), 3);
}

#[test]
fn a_dead_letter_config_naming_no_queue_of_the_template_breaks_the_event_dlq_rule() {
    for arn in [
        "!GetAtt OpsTopic.TopicArn",
        "arn:aws:sqs:us-east-1:123456789012:somewhere",
        "!GetAtt PaymentQueue.Arn",
    ] {
        let mut t = template();
        set(
            &mut t,
            "PaymentRule",
            &format!("{TARGET}/DeadLetterConfig/Arn"),
            yaml(arn),
        );
        assert_reports(&t, Rule::EventTargetDeadLetter, "PaymentRule");
    }
}

#[test]
fn an_event_dead_letter_queue_without_an_alarm_breaks_the_alarm_rule() {
    let mut t = template();
    t.resources.remove("EventDeliveryDLQAlarm").unwrap();
    let violations = assert_reports(&t, Rule::DlqAlarm, "EventDeliveryDLQ");
    assert_eq!(violations.len(), 1, "{violations:#?}");
}

// ------------------------------------------------------------------ 8. the API contract

#[test]
fn the_http_api_is_defined_from_the_openapi_file_with_every_function_route() {
    let t = template();
    let apis = t.http_apis();
    assert_eq!(apis.len(), 1);
    let operations = apis[0].operations(&t).unwrap();
    let routes: Vec<String> = operations.iter().map(|(m, p)| format!("{m} {p}")).collect();
    assert_eq!(
        routes,
        ["GET /orders/{orderId}", "GET /products", "POST /orders"]
    );
}

#[test]
fn a_function_route_missing_from_the_openapi_file_breaks_the_contract_rule() {
    let mut t = template();
    set(
        &mut t,
        "QueryApiFunction",
        "Events/GetOrder/Properties/Path",
        yaml("/orders/{orderId}/history"),
    );
    let violations = assert_reports(&t, Rule::ApiContract, "QueryApiFunction");
    // The route the file declares is now served by nobody, too.
    assert_reports(&t, Rule::ApiContract, "OrdersApi");
    assert_eq!(violations.len(), 2, "{violations:#?}");
}

#[test]
fn a_method_the_openapi_file_does_not_declare_breaks_the_contract_rule() {
    let mut t = template();
    set(
        &mut t,
        "ValidateOrderFunction",
        "Events/PlaceOrder/Properties/Method",
        yaml("PUT"),
    );
    assert_reports(&t, Rule::ApiContract, "ValidateOrderFunction");
}

#[test]
fn an_openapi_operation_no_function_serves_breaks_the_contract_rule() {
    let mut t = template();
    remove(&mut t, "QueryApiFunction", "Events/ListProducts");
    let violations = assert_reports(&t, Rule::ApiContract, "OrdersApi");
    assert!(
        violations[0].message.contains("GET /products"),
        "{}",
        violations[0]
    );
}

#[test]
fn an_http_api_without_the_openapi_definition_breaks_the_contract_rule() {
    let mut t = template();
    remove(&mut t, "OrdersApi", "DefinitionBody");
    assert_reports(&t, Rule::ApiContract, "OrdersApi");

    let mut missing = template();
    set(
        &mut missing,
        "OrdersApi",
        "DefinitionBody",
        yaml(
            "{'Fn::Transform': {Name: AWS::Include, Parameters: {Location: no-such-openapi.yaml}}}",
        ),
    );
    let violations = assert_reports(&missing, Rule::ApiContract, "OrdersApi");
    assert!(
        violations[0].message.contains("no-such-openapi.yaml"),
        "{}",
        violations[0]
    );
}

#[test]
fn an_openapi_file_with_an_extra_operation_breaks_the_contract_rule() {
    // A broken copy of the contract beside a copy of the template.
    let dir = std::env::temp_dir().join(format!("orderflow-contract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let real = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/openapi.yaml");
    let mut openapi: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(real).unwrap()).unwrap();
    openapi["paths"]["/orders/{orderId}"]["delete"] =
        serde_yaml::from_str("{responses: {'204': {description: cancelled}}}").unwrap();
    std::fs::write(
        dir.join("openapi.yaml"),
        serde_yaml::to_string(&openapi).unwrap(),
    )
    .unwrap();
    std::fs::copy(TEMPLATE, dir.join("template.yaml")).unwrap();
    let t = Template::from_path(dir.join("template.yaml")).unwrap();
    let violations = assert_reports(&t, Rule::ApiContract, "OrdersApi");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(
        violations[0].message.contains("DELETE /orders/{orderId}"),
        "{}",
        violations[0]
    );
}

#[test]
fn an_http_api_event_without_an_api_id_breaks_the_contract_rule() {
    let mut t = template();
    remove(
        &mut t,
        "ValidateOrderFunction",
        "Events/PlaceOrder/Properties/ApiId",
    );
    assert_reports(&t, Rule::ApiContract, "ValidateOrderFunction");
}

// ------------------------------------------------------------------ 9. local-only variables

#[test]
fn the_real_template_sets_no_local_only_variable_though_its_functions_have_an_environment() {
    let t = template();
    assert!(
        t.functions()
            .unwrap()
            .iter()
            .all(|f| !f.environment.is_empty()),
        "the rule would pass vacuously"
    );
    let violations = Rule::LocalOnlyVariables.check(&t);
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn a_fault_variable_in_a_function_breaks_the_local_only_rule() {
    let mut t = template();
    set(
        &mut t,
        "ProcessPaymentFunction",
        "Environment/Variables/ORDERFLOW_FAULTS",
        yaml("error_after=1000"),
    );
    let violations = assert_reports(&t, Rule::LocalOnlyVariables, "ProcessPaymentFunction");
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(
        violations[0].message.contains("ORDERFLOW_FAULTS"),
        "{}",
        violations[0]
    );
}

#[test]
fn call_counting_switched_on_in_the_globals_breaks_the_local_only_rule_for_every_function() {
    let mut t = template();
    t.globals.pointer_mut("Function").unwrap().insert(
        "Environment",
        yaml("Variables: {ORDERFLOW_COUNT_AWS_CALLS: '1'}"),
    );
    let reported: Vec<String> = Rule::LocalOnlyVariables
        .check(&t)
        .into_iter()
        .map(|v| v.resource)
        .collect();
    assert_eq!(
        reported,
        [
            "ProcessPaymentFunction",
            "QueryApiFunction",
            "ReconcileOrdersFunction",
            "SendNotificationFunction",
            "UpdateInventoryFunction",
            "ValidateOrderFunction"
        ]
    );
}

// ------------------------------------------------------------------ reporting

#[test]
fn violations_read_as_rule_resource_and_what_to_fix() {
    let mut t = template();
    remove(&mut t, "PaymentQueue", "RedrivePolicy");
    let violations = rules::check(&t);
    let line = violations
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        line.starts_with("[dead-letter-queue] PaymentQueue: "),
        "{line}"
    );
}

#[test]
fn each_breakage_is_reported_only_by_its_own_rule() {
    let mut t = template();
    remove(
        &mut t,
        "SendNotificationFunction",
        "Events/NotificationMessages/Properties/FunctionResponseTypes",
    );
    let rules: Vec<Rule> = rules::check(&t).into_iter().map(|v| v.rule).collect();
    assert_eq!(rules, vec![Rule::BatchItemFailures]);
}

// ------------------------------------------------------------------ 13. resource alarms

#[test]
fn a_consumed_queue_without_an_alarm_on_its_oldest_message_breaks_the_resource_alarms_rule() {
    let mut t = template();
    set(
        &mut t,
        "InventoryQueueAgeAlarm",
        "MetricName",
        yaml("ApproximateNumberOfMessagesVisible"),
    );
    let violations = assert_reports(&t, Rule::ResourceAlarms, "InventoryQueue");
    assert_eq!(violations.len(), 1, "{violations:#?}");
}

#[test]
fn an_age_alarm_on_another_queue_does_not_count_for_the_resource_alarms_rule() {
    let mut t = template();
    set(
        &mut t,
        "PaymentQueueAgeAlarm",
        "Dimensions/0/Value",
        yaml("!GetAtt PaymentDLQ.QueueName"),
    );
    assert_reports(&t, Rule::ResourceAlarms, "PaymentQueue");
}

#[test]
fn a_function_whose_error_rate_is_not_alarmed_breaks_the_resource_alarms_rule() {
    let mut t = template();
    set(
        &mut t,
        "ProcessPaymentErrorRateAlarm",
        "Metrics/1/MetricStat/Metric/MetricName",
        yaml("Throttles"),
    );
    let violations = assert_reports(&t, Rule::ResourceAlarms, "ProcessPaymentFunction");
    assert_eq!(violations.len(), 1, "{violations:#?}");
}

#[test]
fn an_errors_alarm_on_another_function_does_not_count_for_the_resource_alarms_rule() {
    let mut t = template();
    set(
        &mut t,
        "ValidateOrderErrorRateAlarm",
        "Metrics/1/MetricStat/Metric/Dimensions/0/Value",
        yaml("!Ref QueryApiFunction"),
    );
    assert_reports(&t, Rule::ResourceAlarms, "ValidateOrderFunction");
}

#[test]
fn an_alarm_that_tells_nobody_breaks_the_resource_alarms_rule() {
    let mut t = template();
    remove(&mut t, "NotificationQueueAgeAlarm", "AlarmActions");
    let violations = assert_reports(&t, Rule::ResourceAlarms, "NotificationQueue");
    assert!(
        violations[0].message.contains("without AlarmActions"),
        "{violations:#?}"
    );
}

#[test]
fn the_reconciler_s_own_errors_alarm_counts_for_the_resource_alarms_rule() {
    let mut t = template();
    remove(&mut t, "ReconcileOrdersErrorsAlarm", "AlarmActions");
    assert_reports(&t, Rule::ResourceAlarms, "ReconcileOrdersFunction");
}
