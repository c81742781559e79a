//! End to end: the metrics the functions emitted add up against the run's own orders. A small
//! sale — more buyers than stock, some declined cards, a bad request — on a local cloud of its
//! own; once every order is final and told, the EMF lines the local cloud kept
//! (`<state dir>/metrics.jsonl`) count exactly the orders the API shows: placed = confirmed +
//! rejected + cancelled, reserved = approved + declined, every finished order notified.

use std::time::{Duration, Instant};

use orderflow::local::metrics::{self, OrderMetrics};
use orderflow_shared::telemetry::metrics::{dim, name};
use serde_json::json;

use crate::support::{order_body, Cloud, CloudOptions};

const SCARCE: &str = "SKU-METRICS-SCARCE";
const PLENTY: &str = "SKU-METRICS-PLENTY";
const SCARCE_STOCK: u64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_metrics_the_functions_emitted_add_up_to_the_runs_own_orders() {
    let seed =
        std::env::temp_dir().join(format!("orderflow-metrics-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(
        &seed,
        json!([
            {"sku": SCARCE, "name": "Scarce", "price": {"amount": 1000, "currency": "EUR"}, "stock": SCARCE_STOCK},
            {"sku": PLENTY, "name": "Plenty", "price": {"amount": 500, "currency": "EUR"}, "stock": 100}
        ])
        .to_string(),
    )
    .unwrap();
    let cloud = Cloud::start_with(CloudOptions {
        seed: Some(seed.clone()),
        ..CloudOptions::default()
    })
    .await;

    let mut ids = Vec::new();
    let orders = [(SCARCE, "tok_visa"); 6]
        .into_iter()
        .chain([(PLENTY, "tok_declined"); 2])
        .chain([(PLENTY, "tok_visa"); 2]);
    for (sku, token) in orders {
        let (status, body) = cloud.place(&order_body(sku, 1, token)).await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["orderId"].as_str().unwrap().to_owned());
    }
    let (status, _) = cloud.place(&json!({"items": []})).await;
    assert_eq!(status, 400);

    let mut counts = OrderMetrics::default();
    for id in &ids {
        let order = wait_until_final(&cloud, id).await;
        match order["status"].as_str().unwrap() {
            "CONFIRMED" => counts.approved += 1,
            "REJECTED" => counts.rejected += 1,
            "CANCELLED" => counts.cancelled += 1,
            other => panic!("order {id} ended {other}"),
        }
    }
    assert_eq!(counts.rejected, 6 - SCARCE_STOCK, "the scarce SKU sold out");
    assert_eq!(counts.cancelled, 2);

    // The last batches' lines arrive when their invocations end: wait for the notifications.
    let kept = wait_for_metrics(&cloud, ids.len() as u64).await;
    let emitted = kept.orders();
    assert_eq!(emitted.placed, ids.len() as u64, "{emitted:#?}");
    assert_eq!(emitted.approved, counts.approved, "{emitted:#?}");
    assert_eq!(emitted.rejected, counts.rejected, "{emitted:#?}");
    assert_eq!(emitted.cancelled, counts.cancelled, "{emitted:#?}");
    assert_eq!(emitted.declined, counts.cancelled, "{emitted:#?}");
    assert_eq!(emitted.imbalances(), Vec::<String>::new(), "{emitted:#?}");
    assert_eq!(
        kept.sum(name::REQUESTS_REFUSED, &[(dim::REASON, "invalid-request")]),
        1.0,
        "{kept:#?}"
    );
    assert_eq!(
        kept.sum(name::RESERVATIONS, &[(dim::FUNCTION, "update-inventory")]),
        ids.len() as f64
    );
    for stage in ["reserve", "charge", "release", "notify"] {
        let samples: u64 = kept
            .series
            .values()
            .filter(|s| s.name == name::STAGE_LATENCY && s.dimensions[dim::STAGE] == stage)
            .map(|s| s.samples)
            .sum();
        assert!(samples > 0, "no {stage} latency: {kept:#?}");
    }
    let _ = std::fs::remove_file(seed);
}

async fn wait_until_final(cloud: &Cloud, id: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let order = cloud.order(id).await;
        if ["CONFIRMED", "REJECTED", "CANCELLED"].contains(&order["status"].as_str().unwrap_or(""))
        {
            return order;
        }
        assert!(Instant::now() < deadline, "order {id} not final: {order}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_for_metrics(cloud: &Cloud, orders: u64) -> metrics::Totals {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let kept = metrics::read(&cloud.state_dir);
        if kept.orders().notified >= orders || Instant::now() > deadline {
            return kept;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
