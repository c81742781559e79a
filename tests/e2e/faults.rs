//! End to end under injected faults (errors before and after the effect, crashes mid-batch,
//! throttling and 503s from the AWS endpoint, duplicate delivery by the event source mapping):
//! every order still ends in its right state, charged at most once, its customer told once,
//! and the stock adds up.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::support::{order_body, Cloud, CloudOptions};
use orderflow_shared::domain::OrderId;

const ORDERS: usize = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_survive_errors_and_crashes_in_the_consumers_with_nothing_lost_or_doubled() {
    let cloud = Cloud::start_with(CloudOptions {
        function_env: vec![
            (
                "ORDERFLOW_FAULTS".into(),
                "error_before=60,error_after=60,crash=25".into(),
            ),
            ("ORDERFLOW_FAULT_SEED".into(), "7".into()),
        ],
        aws_faults: Some("throttle=40,unavailable=20".into()),
        esm_faults: Some("duplicate=80".into()),
        fault_seed: Some(7),
        ..CloudOptions::default()
    })
    .await;
    let sku = "SKU-SOCKS-3P";
    let before = cloud.stock(sku).await;

    let expected = place_orders(&cloud, sku).await;
    cloud
        .wait_until_each_ends_as_expected(
            &expected,
            Duration::from_secs(150),
            Duration::from_secs(90),
        )
        .await;
    check_faults_were_injected(&cloud);

    let confirmed = expected.values().filter(|w| **w == "CONFIRMED").count() as u64;
    assert_eq!(
        cloud.stock(sku).await,
        before - confirmed,
        "confirmed orders took stock once; cancelled ones gave it back"
    );
    cloud.check_each_charge(&expected).await;

    let told = notifications_per_order(&cloud).await;
    for id in expected.keys() {
        assert_eq!(
            told.get(id.as_str()).copied().unwrap_or(0),
            1,
            "{id} told exactly once"
        );
    }
}

/// Places [`ORDERS`] orders, one in four with a declined card; returns each order's id and the
/// status it must end in.
async fn place_orders(cloud: &Cloud, sku: &str) -> HashMap<OrderId, &'static str> {
    let mut expected = HashMap::new();
    for i in 0..ORDERS {
        let token = if i % 4 == 0 {
            "tok_declined"
        } else {
            "tok_visa"
        };
        // The proxy's faults reach validate-order too: a 503 is its right answer, retried.
        let (status, accepted) = cloud.place_retrying(&order_body(sku, 1, token)).await;
        assert_eq!(status, 202, "{accepted}");
        let want = if token == "tok_declined" {
            "CANCELLED"
        } else {
            "CONFIRMED"
        };
        expected.insert(
            OrderId::parse(accepted["orderId"].as_str().unwrap()).unwrap(),
            want,
        );
    }

    expected
}

/// Asserts that the run injected faults, and prints what it injected.
fn check_faults_were_injected(cloud: &Cloud) {
    let injected = cloud
        .output()
        .iter()
        .filter(|l| l.contains("injected fault"))
        .count();
    let crashes = cloud
        .output()
        .iter()
        .filter(|l| l.contains("process exited"))
        .count();
    assert!(injected > 0, "the run injected faults");
    let aws = cloud
        .output()
        .iter()
        .filter(|l| l.contains("aws-faults |"))
        .count();
    let duplicates = cloud
        .output()
        .iter()
        .filter(|l| l.contains("duplicate delivery"))
        .count();
    eprintln!(
        "faults injected: {injected} (process crashes: {crashes}, AWS errors: {aws}, duplicate deliveries: {duplicates})"
    );
}

/// Notifications per order id: until every order was told, then 3 s more for duplicates.
async fn notifications_per_order(cloud: &Cloud) -> HashMap<String, usize> {
    let mut told: HashMap<String, usize> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while told.len() < ORDERS && Instant::now() < deadline {
        for n in cloud.drain_inbox().await {
            *told
                .entry(n["orderId"].as_str().unwrap_or("?").to_owned())
                .or_default() += 1;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    for n in cloud.drain_inbox().await {
        *told
            .entry(n["orderId"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    told
}
