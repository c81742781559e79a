//! End to end: processes that die between two steps — right after a write call answered and
//! before the code acted on it (`ORDERFLOW_FAULTS=crash_between_steps`, an interceptor in the
//! real binaries' SDK clients) — in every function: after the order is stored and before
//! `OrderPlaced` is published, after the reservation and before its event, after a charge's
//! writes and before its settlement, after `PublishBatch` and before the keys are completed.
//! Every order still ends as it must, its ledger entry and its stock right, its customer told
//! one thing.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use orderflow::harness::Placed;
use orderflow_shared::domain::OrderId;
use orderflow_shared::telemetry::messages::{fault, AWS_OPERATION, FAULT};

use crate::support::{order_body, Cloud, CloudOptions};

/// Each kind of step a process must have died after, at least once: the function and the
/// write calls that end such a step.
const STEPS: [(&str, &[&str]); 4] = [
    ("validate-order", &["PutItem"]),
    ("update-inventory", &["TransactWriteItems"]),
    (
        "process-payment",
        &["PutItem", "UpdateItem", "TransactWriteItems"],
    ),
    ("send-notification", &["PublishBatch", "Publish"]),
];
const SKU: &str = "SKU-SOCKS-3P";
/// Orders are placed in rounds until every kind of step has seen a crash, at most this many.
const ROUNDS: usize = 12;
const PER_ROUND: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_survive_processes_dying_between_any_two_steps() {
    let cloud = Cloud::start_with(CloudOptions {
        function_env: vec![
            ("ORDERFLOW_FAULTS".into(), "crash_between_steps=150".into()),
            ("ORDERFLOW_FAULT_SEED".into(), "3".into()),
        ],
        ..CloudOptions::default()
    })
    .await;
    let before = cloud.stock(SKU).await;

    let mut expected: HashMap<OrderId, &'static str> = HashMap::new();
    for round in 0..ROUNDS {
        expected.extend(place_round(&cloud, round).await);
        tokio::time::sleep(Duration::from_secs(5)).await;
        if missing_steps(&cloud).is_empty() {
            break;
        }
    }
    let missing = missing_steps(&cloud);
    assert!(missing.is_empty(), "no crash after: {missing:?}");

    cloud
        .wait_until_each_ends_as_expected(
            &expected,
            Duration::from_secs(240),
            Duration::from_secs(120),
        )
        .await;
    let confirmed = expected.values().filter(|w| **w == "CONFIRMED").count() as u64;
    assert_eq!(
        cloud.stock(SKU).await,
        before - confirmed,
        "stock taken once"
    );
    cloud.check_each_charge(&expected).await;
    check_each_customer_was_told_one_thing(&cloud, &expected).await;
}

/// [`PER_ROUND`] orders at once, each with its key, one declined; returns what each must end as.
async fn place_round(cloud: &Cloud, round: usize) -> Vec<(OrderId, &'static str)> {
    let mut placing = tokio::task::JoinSet::new();
    for i in 0..PER_ROUND {
        let (api, token) = (cloud.placing(), cloud.token.clone());
        let declined = i == 0;
        let body = order_body(SKU, 1, if declined { "tok_declined" } else { "tok_visa" });
        placing.spawn(async move {
            let key = format!("crash-{round}-{i}");
            let retry = orderflow::chaos::place::RETRY;
            match api
                .place(&body.to_string(), &key, token.as_deref(), retry)
                .await
            {
                Placed::Accepted(id) => (id, if declined { "CANCELLED" } else { "CONFIRMED" }),
                Placed::Refused(why) => panic!("{key} refused: {why}"),
            }
        });
    }
    placing.join_all().await
}

/// The kinds of step no process has died after yet, by the functions' own fault lines.
fn missing_steps(cloud: &Cloud) -> Vec<String> {
    STEPS
        .iter()
        .filter(|(function, operations)| {
            !cloud.function_logs(function).iter().any(|line| {
                line[FAULT] == fault::CRASH_BETWEEN_STEPS
                    && operations.iter().any(|op| line[AWS_OPERATION] == *op)
            })
        })
        .map(|(function, operations)| format!("{function} {operations:?}"))
        .collect()
}

/// Every order told, and never two different outcomes (a redundant publish of the same one, by
/// a crash after `PublishBatch`, is allowed: no broker gives exactly-once to an inbox).
async fn check_each_customer_was_told_one_thing(cloud: &Cloud, expected: &HashMap<OrderId, &str>) {
    let mut told: HashMap<String, BTreeSet<String>> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while told.len() < expected.len() && Instant::now() < deadline {
        for n in cloud.drain_inbox().await {
            let order = n["orderId"].as_str().unwrap_or("?").to_owned();
            told.entry(order).or_default().insert(n["kind"].to_string());
        }
    }
    for id in expected.keys() {
        let kinds = told.get(id.as_str()).cloned().unwrap_or_default();
        assert_eq!(kinds.len(), 1, "{id} was told {kinds:?}");
    }
}
