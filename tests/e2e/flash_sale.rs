//! End to end: a flash sale under the contention AWS brings. Two hundred buyers of one SKU with
//! twenty units, the harsh cloud on (DynamoDB cancels overlapping transactions on the SKU's item
//! and throttles it past its write rate), four batches in flight per queue: exactly the stock is
//! sold, nothing is dead-lettered, and every order is final within a minute of its placement.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use orderflow::harness::Placed;
use serde_json::{json, Value};

use crate::support::{Cloud, CloudOptions};

const BUYERS: usize = 200;
const STOCK: u64 = 20;
const SKU: &str = "SKU-FLASH-SNEAKER";

/// Transactions in flight for DynamoDB's window, and a per-item write rate of 20 units a
/// second (ten reservations, each a transactional write of two units): the SKU's item meets
/// it whenever the buyers' reservations bunch up.
const CONTENTION: &str = "conflict_ms=25,item_wcu=20,seed=5";
const BATCHES_IN_FLIGHT: usize = 4;
/// From an order's placement to its final state, by its own history.
const FINAL_WITHIN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_buyers_of_twenty_units_under_contention_get_exactly_twenty_confirmed() {
    let seed = std::env::temp_dir().join(format!("orderflow-flash-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(
        &seed,
        json!([{"sku": SKU, "name": "Flash sneaker", "price": {"amount": 12900, "currency": "EUR"}, "stock": STOCK}]).to_string(),
    )
    .unwrap();
    let cloud = Cloud::start_with(CloudOptions {
        seed: Some(seed.clone()),
        harsh: Some(CONTENTION.into()),
        batches_in_flight: Some(BATCHES_IN_FLIGHT),
        ..CloudOptions::default()
    })
    .await;

    let ids = buy(&cloud).await;
    let orders = wait_until_final(&cloud, &ids).await;
    let statuses: Vec<&str> = orders
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    let confirmed = statuses.iter().filter(|s| **s == "CONFIRMED").count();
    let rejected = statuses.iter().filter(|s| **s == "REJECTED").count();
    assert_eq!(confirmed, STOCK as usize, "exactly the stock is sold");
    assert_eq!(rejected, BUYERS - STOCK as usize, "{statuses:?}");
    assert_eq!(
        cloud.stock(SKU).await,
        0,
        "never negative, nothing left over"
    );
    let slow: Vec<String> = orders.iter().filter_map(too_slow).collect();
    assert!(
        slow.is_empty(),
        "final later than {FINAL_WITHIN:?} after placement: {slow:#?}"
    );
    let dead = cloud.dead_letters().await;
    assert!(dead.is_empty(), "dead-lettered: {dead:#?}");
    let conflicts = cloud
        .moto_log()
        .matches("orderflow-harsh: transaction_conflict")
        .count();
    let throttles = cloud
        .moto_log()
        .matches("orderflow-harsh: throttle")
        .count();
    eprintln!("contention met: {conflicts} transaction conflicts, {throttles} throttled writes");
    let _ = std::fs::remove_file(seed);
}

/// Every buyer at once, each with a key of their own, retried as a storefront retries.
async fn buy(cloud: &Cloud) -> Vec<(String, String)> {
    let mut posts = tokio::task::JoinSet::new();
    for i in 0..BUYERS {
        let buyer = format!("buyer-{i}");
        let token = cloud.token_for(&buyer);
        let body = json!({"customerId": buyer, "email": format!("buyer{i}@example.com"),
                          "items": [{"sku": SKU, "quantity": 1}], "paymentToken": "tok_visa"});
        let placing = cloud.placing();
        posts.spawn(async move {
            let placed = placing
                .place(
                    &body.to_string(),
                    &format!("flash-{i}"),
                    Some(&token),
                    orderflow::chaos::place::RETRY,
                )
                .await;
            match placed {
                Placed::Accepted(id) => (id.to_string(), token),
                Placed::Refused(why) => panic!("buyer {i} refused: {why}"),
            }
        });
    }
    let ids = posts.join_all().await;
    assert_eq!(ids.len(), BUYERS);
    ids
}

/// Every order once none is in flight any more (or fails after three minutes).
async fn wait_until_final(cloud: &Cloud, ids: &[(String, String)]) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let mut orders = Vec::new();
        for (id, token) in ids {
            orders.push(cloud.order_as(id, token).await);
        }
        let open: Vec<&str> = orders
            .iter()
            .map(|o| {
                o["status"]
                    .as_str()
                    .unwrap_or_else(|| panic!("GET /orders: {o}"))
            })
            .filter(|s| !matches!(*s, "CONFIRMED" | "REJECTED" | "CANCELLED"))
            .collect();
        assert!(
            !orders.iter().any(|o| o["status"] == "CANCELLED"),
            "an approved card was cancelled"
        );
        if open.is_empty() {
            return orders;
        }
        assert!(
            Instant::now() < deadline,
            "{} orders still in flight after 180 s: {open:?}",
            open.len()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `orderId: took` when an order went from its first history entry (placed) to its last
/// (final) in longer than [`FINAL_WITHIN`], or has no readable history.
fn too_slow(order: &Value) -> Option<String> {
    let at = |h: Option<&Value>| {
        h.and_then(|h| h["at"].as_str())
            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
    };
    let history = order["history"].as_array();
    let (Some(placed), Some(last)) = (
        at(history.and_then(|h| h.first())),
        at(history.and_then(|h| h.last())),
    ) else {
        return Some(format!(
            "{}: no readable history: {order}",
            order["orderId"]
        ));
    };
    let took = (last - placed).to_std().unwrap_or_default();
    (took > FINAL_WITHIN).then(|| format!("{}: {took:?}", order["orderId"]))
}
