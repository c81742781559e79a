//! The typed model read from the real `infra/template.yaml`: what the local cloud relies on.

// Test helpers live outside #[test] functions; a failed unwrap there is a failed assertion too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use orderflow_template::{EventSource, HttpApiEvent, Resolver, Template, Value};

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml");

fn template() -> Template {
    Template::from_path(TEMPLATE).unwrap()
}

#[test]
fn the_template_is_a_sam_template_with_its_parameters() {
    let t = template();
    assert_eq!(t.transforms, vec!["AWS::Serverless-2016-10-31"]);
    let arch = &t.parameters["Architecture"];
    assert_eq!(arch.default, Some(Value::String("arm64".into())));
    assert_eq!(
        arch.allowed_values,
        vec![
            Value::String("arm64".into()),
            Value::String("x86_64".into())
        ]
    );
    assert_eq!(
        t.parameters["LogLevel"].default,
        Some(Value::String("INFO".into()))
    );
}

#[test]
fn functions_have_their_binary_and_timeouts_with_globals_merged() {
    let t = template();
    let found: BTreeMap<String, (String, u64, u64)> = t
        .functions()
        .unwrap()
        .into_iter()
        .map(|f| (f.logical_id, (f.binary, f.timeout_seconds, f.memory_mb)))
        .collect();
    let expected: BTreeMap<String, (String, u64, u64)> = [
        ("ValidateOrderFunction", "validate-order", 10),
        ("QueryApiFunction", "query-api", 10),
        ("UpdateInventoryFunction", "update-inventory", 20),
        ("ProcessPaymentFunction", "process-payment", 20),
        ("SendNotificationFunction", "send-notification", 20),
        ("ReconcileOrdersFunction", "reconcile-orders", 60),
    ]
    .into_iter()
    .map(|(id, bin, timeout)| (id.to_owned(), (bin.to_owned(), timeout, 128)))
    .collect();
    assert_eq!(found, expected);

    let f = t.function("UpdateInventoryFunction").unwrap();
    assert_eq!(f.runtime.as_deref(), Some("provided.al2023"));
    assert_eq!(f.handler.as_deref(), Some("bootstrap"));
    assert_eq!(f.build_method.as_deref(), Some("rust-cargolambda"));
    assert_eq!(f.code_uri.as_deref(), Some(".."));
    // Globals' LoggingConfig merged with the function's own log group.
    assert_eq!(
        f.properties.pointer("LoggingConfig/LogFormat"),
        Some(&Value::String("JSON".into()))
    );
    assert_eq!(f.log_group_logical_id(), Some("UpdateInventoryLogGroup"));
    assert_eq!(f.role_logical_id().as_deref(), Some("UpdateInventoryRole"));
}

#[test]
fn function_environments_name_the_resources_the_code_reads() {
    let t = template();
    let env = |id: &str| -> BTreeMap<String, Option<String>> {
        t.function(id)
            .unwrap()
            .environment
            .into_iter()
            .map(|(k, v)| (k, v.ref_target().map(str::to_owned)))
            .collect()
    };
    let expect = |pairs: &[(&str, &str)]| -> BTreeMap<String, Option<String>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned())))
            .collect()
    };
    // The HTTP functions also refuse a request without the authorizer's claims (a plain value).
    let with_auth = |mut vars: BTreeMap<String, Option<String>>| {
        vars.insert("REQUIRE_AUTH".to_owned(), None);
        vars
    };
    // The functions with an idempotency key also read its lock and retention (plain values).
    let with_key_times = |mut vars: BTreeMap<String, Option<String>>| {
        vars.insert("IDEMPOTENCY_LOCK_SECONDS".to_owned(), None);
        vars.insert("IDEMPOTENCY_KEEP_SECONDS".to_owned(), None);
        vars
    };
    assert_eq!(
        env("ValidateOrderFunction"),
        with_auth(expect(&[
            ("ORDERS_TABLE", "OrdersTable"),
            ("INVENTORY_TABLE", "InventoryTable"),
            ("EVENT_BUS_NAME", "OrderEventBus"),
        ]))
    );
    assert_eq!(
        env("QueryApiFunction"),
        with_auth(expect(&[
            ("ORDERS_TABLE", "OrdersTable"),
            ("INVENTORY_TABLE", "InventoryTable")
        ]))
    );
    assert_eq!(
        env("UpdateInventoryFunction"),
        expect(&[
            ("ORDERS_TABLE", "OrdersTable"),
            ("INVENTORY_TABLE", "InventoryTable"),
            ("EVENT_BUS_NAME", "OrderEventBus"),
        ])
    );
    assert_eq!(
        env("ProcessPaymentFunction"),
        with_key_times(expect(&[
            ("ORDERS_TABLE", "OrdersTable"),
            ("PAYMENTS_TABLE", "PaymentsTable"),
            ("IDEMPOTENCY_TABLE", "IdempotencyTable"),
            ("EVENT_BUS_NAME", "OrderEventBus"),
            ("PROVIDER_TABLE", "ProviderTable"),
            ("PROVIDER_KEY_TTL_SECONDS", "ProviderKeyTtlSeconds"),
        ]))
    );
    // The reconciler's bounds are the template's parameters; the index and budget are plain.
    let mut reconcile = expect(&[
        ("ORDERS_TABLE", "OrdersTable"),
        ("PAYMENTS_TABLE", "PaymentsTable"),
        ("EVENT_BUS_NAME", "OrderEventBus"),
        ("PENDING_AFTER_SECONDS", "PendingAfterSeconds"),
        ("RESERVATION_TTL_SECONDS", "ReservationTtlSeconds"),
        ("STRANDED_AFTER_SECONDS", "StrandedAfterSeconds"),
    ]);
    reconcile.insert("OPEN_ORDERS_INDEX".to_owned(), None);
    reconcile.insert("MAX_ORDERS_PER_RUN".to_owned(), None);
    assert_eq!(env("ReconcileOrdersFunction"), reconcile);
    assert_eq!(
        env("SendNotificationFunction"),
        with_key_times(expect(&[
            ("IDEMPOTENCY_TABLE", "IdempotencyTable"),
            ("NOTIFICATION_TOPIC_ARN", "CustomerNotificationsTopic")
        ]))
    );
}

#[test]
fn http_api_routes_are_read_from_the_events() {
    let t = template();
    let routes: Vec<(String, HttpApiEvent)> = t
        .functions()
        .unwrap()
        .into_iter()
        .flat_map(|f| {
            let id = f.binary.clone();
            f.http_api_events()
                .cloned()
                .map(move |e| (id.clone(), e))
                .collect::<Vec<_>>()
        })
        .collect();
    let route = |method: &str, path: &str| HttpApiEvent {
        api: Some("OrdersApi".into()),
        method: method.into(),
        path: path.into(),
        // The catalog is public; the order routes take the API's default (JWT) authorizer.
        authorizer: (path == "/products").then(|| "NONE".to_owned()),
    };
    assert_eq!(
        routes,
        vec![
            ("query-api".to_owned(), route("GET", "/orders/{orderId}")),
            ("query-api".to_owned(), route("GET", "/products")),
            ("validate-order".to_owned(), route("POST", "/orders")),
        ]
    );
}

#[test]
fn sqs_events_carry_the_queue_and_the_batching_settings() {
    let t = template();
    let f = t.function("ProcessPaymentFunction").unwrap();
    let [event] = f.events.as_slice() else {
        panic!("expected one event, got {:?}", f.events)
    };
    assert_eq!(event.name, "PaymentMessages");
    let EventSource::Sqs(sqs) = &event.source else {
        panic!("not an SQS event: {event:?}")
    };
    assert_eq!(sqs.queue, "PaymentQueue");
    assert_eq!(sqs.batch_size, 10);
    assert_eq!(sqs.maximum_batching_window_seconds, 1);
    assert!(sqs.reports_batch_item_failures());
    assert!(sqs.enabled);
}

#[test]
fn the_reconciler_runs_on_the_schedule_its_parameter_names() {
    let t = template();
    let f = t.function("ReconcileOrdersFunction").unwrap();
    let schedules: Vec<_> = f.schedule_events().collect();
    let [schedule] = schedules.as_slice() else {
        panic!("expected one schedule, got {:?}", f.events)
    };
    assert!(schedule.enabled);
    assert_eq!(schedule.schedule.ref_target(), Some("ReconcileSchedule"));
    assert_eq!(
        t.parameters["ReconcileSchedule"].default,
        Some(Value::String("rate(1 minute)".into()))
    );
    assert_eq!(f.sqs_events().count() + f.http_api_events().count(), 0);
}

#[test]
fn the_orders_table_has_its_sparse_open_orders_index() {
    let t = template();
    let orders = t
        .tables()
        .unwrap()
        .into_iter()
        .find(|table| table.logical_id == "OrdersTable")
        .unwrap();
    let [index] = orders.global_secondary_indexes.as_slice() else {
        panic!("expected one index: {:?}", orders.global_secondary_indexes)
    };
    assert_eq!(index.name, "OpenOrders");
    assert_eq!(
        (index.hash_key.name.as_str(), index.hash_key.kind.as_str()),
        ("openShard", "S")
    );
    let range = index.range_key.as_ref().unwrap();
    assert_eq!(
        (range.name.as_str(), range.kind.as_str()),
        ("updatedAt", "S")
    );
    assert_eq!(index.projection, "ALL");
}

#[test]
fn queues_have_visibility_timeouts_and_their_own_dlq() {
    let t = template();
    for (queue, dlq) in [
        ("InventoryQueue", "InventoryDLQ"),
        ("PaymentQueue", "PaymentDLQ"),
        ("NotificationQueue", "NotificationDLQ"),
    ] {
        let q = t.queue(queue).unwrap();
        assert_eq!(q.visibility_timeout_seconds, 120, "{queue}");
        let redrive = q.redrive.unwrap();
        assert_eq!(redrive.dead_letter_queue.as_deref(), Some(dlq));
        assert_eq!(redrive.max_receive_count, Some(10));
        let d = t.queue(dlq).unwrap();
        assert_eq!(d.message_retention_seconds, 14 * 24 * 3600);
        assert!(d.redrive.is_none());
    }
}

#[test]
fn tables_have_their_keys_and_the_idempotency_ttl() {
    let t = template();
    let tables: BTreeMap<String, (String, Option<String>)> = t
        .tables()
        .unwrap()
        .into_iter()
        .map(|table| {
            assert_eq!(table.hash_key.kind, "S");
            assert!(table.range_key.is_none());
            assert_eq!(table.billing_mode.as_deref(), Some("PAY_PER_REQUEST"));
            (table.logical_id, (table.hash_key.name, table.ttl_attribute))
        })
        .collect();
    let expected: BTreeMap<String, (String, Option<String>)> = [
        ("IdempotencyTable", "id", Some("expiresAt")),
        ("InventoryTable", "pk", None),
        ("OrdersTable", "orderId", None),
        ("PaymentsTable", "orderId", None),
        ("ProviderTable", "pk", Some("expiresAt")),
    ]
    .into_iter()
    .map(|(id, key, ttl)| (id.to_owned(), (key.to_owned(), ttl.map(str::to_owned))))
    .collect();
    assert_eq!(tables, expected);
}

#[test]
fn the_inventory_table_has_a_sparse_catalog_index_that_holds_no_stock() {
    let t = template();
    let tables = t.tables().unwrap();
    let inventory = tables
        .iter()
        .find(|table| table.logical_id == "InventoryTable")
        .unwrap();
    let [index] = inventory.global_secondary_indexes.as_slice() else {
        panic!("one index: {:?}", inventory.global_secondary_indexes)
    };
    assert_eq!(
        (index.name.as_str(), index.hash_key.name.as_str()),
        ("catalog", "sku")
    );
    assert_eq!(index.hash_key.kind, "S");
    assert!(index.range_key.is_none());
    assert_eq!(index.projection, "INCLUDE");
    assert_eq!(index.non_key_attributes, ["name", "price", "shards"]);
}

#[test]
fn event_rules_route_detail_types_from_the_bus_to_their_queue() {
    let t = template();
    let routes: BTreeMap<String, (Vec<String>, Vec<String>)> = t
        .event_rules()
        .unwrap()
        .into_iter()
        .map(|r| {
            assert_eq!(r.bus.as_deref(), Some("OrderEventBus"));
            assert_eq!(r.sources(), vec!["orderflow"]);
            assert!(r.enabled);
            let targets = r
                .targets
                .iter()
                .filter_map(|t| t.resource.clone())
                .collect();
            (r.logical_id.clone(), (r.detail_types(), targets))
        })
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        routes["InventoryRule"],
        (s(&["OrderPlaced", "PaymentFailed"]), s(&["InventoryQueue"]))
    );
    assert_eq!(
        routes["PaymentRule"],
        (
            s(&["InventoryReserved", "ReservationExpired"]),
            s(&["PaymentQueue"])
        )
    );
    assert_eq!(
        routes["NotificationRule"],
        (
            s(&["PaymentSucceeded", "InventoryRejected", "InventoryReleased"]),
            s(&["NotificationQueue"])
        )
    );
    assert_eq!(t.event_buses().len(), 1);
}

#[test]
fn topics_and_alarms_are_read() {
    let t = template();
    let topics: Vec<String> = t
        .topics()
        .into_iter()
        .map(|topic| topic.logical_id)
        .collect();
    assert_eq!(topics, vec!["CustomerNotificationsTopic", "OpsTopic"]);
    let (dlq_alarms, others): (Vec<_>, Vec<_>) = t
        .alarms()
        .unwrap()
        .into_iter()
        .partition(|a| a.metric_name.as_deref() == Some("ApproximateNumberOfMessagesVisible"));
    let rate = others
        .iter()
        .find(|a| a.logical_id == "ProcessPaymentErrorRateAlarm")
        .unwrap();
    assert_eq!(rate.metric_name, None, "metric math");
    let read: Vec<_> = rate
        .metric_stats
        .iter()
        .map(|m| {
            (
                m.namespace.as_deref().unwrap(),
                m.metric_name.as_deref().unwrap(),
                m.dimensions["FunctionName"].ref_target().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            ("AWS/Lambda", "Errors", "ProcessPaymentFunction"),
            ("AWS/Lambda", "Invocations", "ProcessPaymentFunction")
        ]
    );
    assert_eq!(rate.watches("AWS/Lambda", "Errors").len(), 1);
    let others: Vec<_> = others.iter().map(|a| a.logical_id.as_str()).collect();
    assert!(others.contains(&"ReconcileOrdersErrorsAlarm"), "{others:?}");
    assert!(others.contains(&"StrandedOrdersAlarm"), "{others:?}");
    assert!(others.contains(&"InventoryQueueAgeAlarm"), "{others:?}");
    for alarm in dlq_alarms {
        assert_eq!(
            alarm.metric_name.as_deref(),
            Some("ApproximateNumberOfMessagesVisible")
        );
        assert_eq!(alarm.period_seconds, Some(60));
        assert_eq!(alarm.evaluation_periods, Some(1));
        assert!(alarm.fires_on_first_unit(), "{alarm:?}");
        assert_eq!(
            alarm
                .alarm_actions
                .iter()
                .filter_map(Value::ref_target)
                .collect::<Vec<_>>(),
            vec!["OpsTopic"]
        );
    }
}

#[test]
fn the_event_pattern_resolves_to_the_json_eventbridge_expects() {
    let t = template();
    let rule = t
        .event_rules()
        .unwrap()
        .into_iter()
        .find(|r| r.logical_id == "PaymentRule")
        .unwrap();
    let json = rule.event_pattern.resolve(&NoValues).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "source": ["orderflow"],
            "detail-type": ["InventoryReserved", "ReservationExpired"]
        })
    );
}

struct NoValues;
impl Resolver for NoValues {
    fn reference(&self, _: &str) -> Option<String> {
        None
    }
    fn attribute(&self, _: &str, _: &str) -> Option<String> {
        None
    }
}

/// What the local cloud does: map logical ids to the names it created.
struct LocalNames;
impl Resolver for LocalNames {
    fn reference(&self, name: &str) -> Option<String> {
        Some(format!("local-{name}"))
    }
    fn attribute(&self, resource: &str, attribute: &str) -> Option<String> {
        Some(format!("arn:local:{resource}:{attribute}"))
    }
}

#[test]
fn function_environments_resolve_to_local_names() {
    let t = template();
    let f = t.function("SendNotificationFunction").unwrap();
    let env: BTreeMap<String, String> = f
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.resolve_string(&LocalNames).unwrap()))
        .collect();
    assert_eq!(env["IDEMPOTENCY_TABLE"], "local-IdempotencyTable");
    assert_eq!(
        env["NOTIFICATION_TOPIC_ARN"],
        "local-CustomerNotificationsTopic"
    );
    assert!(NoValues.reference("x").is_none());
}

#[test]
fn the_api_url_output_is_a_sub_of_the_api_and_pseudo_parameters() {
    let t = template();
    let names: Vec<String> = t.outputs["ApiUrl"]
        .value
        .references()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, vec!["AWS::Region", "AWS::URLSuffix", "OrdersApi"]);
}

#[test]
fn a_template_that_is_not_yaml_is_an_error_not_a_panic() {
    assert!(Template::from_yaml_str("Resources: [unclosed").is_err());
    assert!(Template::from_yaml_str("Resources:\n  X:\n    Properties: {}\n").is_err());
    assert!(Template::from_path("/nonexistent/template.yaml").is_err());
}
