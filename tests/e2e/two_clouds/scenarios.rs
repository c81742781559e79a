//! The scenarios both clouds must pass, one code for both: what a customer and an operator see
//! through the API, the tables, the queues and `orderflow dlq`. No check depends on timing a
//! cloud does not share (MiniStack ignores the batching window: DESIGN §5 "Two clouds").

use std::sync::Arc;
use std::time::{Duration, Instant};

use orderflow_shared::domain::{Currency, Money, Sku};
use orderflow_shared::ports::Product;
use serde_json::{json, Value};

use super::subject::Subject;
use crate::support::events::stored_order_placed;
use crate::support::{cli, order_body, send, statuses};

const WITHIN: Duration = Duration::from_secs(60);

/// Places an order as the end-to-end customer; its id.
async fn placed(s: &Subject, sku: &str, quantity: u64, token: &str) -> String {
    let (status, accepted) = s.place(&order_body(sku, quantity as u32, token)).await;
    assert_eq!(status, 202, "{}: {accepted}", s.which);
    assert_eq!(accepted["status"], "PENDING", "{}", s.which);
    accepted["orderId"].as_str().unwrap().to_owned()
}

/// Milliseconds between the order's history entries.
fn steps(order: &Value) -> Vec<i64> {
    let at: Vec<chrono::DateTime<chrono::FixedOffset>> = order["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| chrono::DateTime::parse_from_rfc3339(e["at"].as_str()?).ok())
        .collect();
    at.windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds())
        .collect()
}

/// Approved: confirmed, the stock taken, charged, the customer told once. Run alone (before
/// the others): where the cloud honours the queues' batching window (1 s), as Lambda does, a
/// lone message waits it out at each hop.
pub async fn approved(s: Arc<Subject>) {
    let before = s.stock("SKU-TSHIRT-M").await;
    let id = placed(&s, "SKU-TSHIRT-M", 2, "tok_visa").await;
    let order = s.wait_for_status(&id, "CONFIRMED", WITHIN).await;
    assert_eq!(
        statuses(&order),
        ["PENDING", "RESERVED", "CONFIRMED"],
        "{}",
        s.which
    );
    let steps = steps(&order);
    eprintln!(
        "{}: PENDING → RESERVED → CONFIRMED took {steps:?} ms",
        s.which
    );
    if s.honours_batching_window() {
        assert!(
            steps.iter().all(|&step| step >= 1000),
            "{}: {steps:?}",
            s.which
        );
    }
    assert_eq!(order["total"]["amount"], 3998, "{}", s.which);
    assert_eq!(s.stock("SKU-TSHIRT-M").await, before - 2, "{}", s.which);
    let told = s.notifications_for(&id, 1, WITHIN).await;
    assert_eq!(told.len(), 1, "{}: {told:?}", s.which);
    assert_eq!(told[0]["kind"], "OrderConfirmed", "{}", s.which);
}

/// Declined: cancelled, the stock put back, the customer told once.
pub async fn declined(s: Arc<Subject>) {
    let before = s.stock("SKU-HOODIE-M").await;
    let id = placed(&s, "SKU-HOODIE-M", 3, "tok_declined").await;
    let order = s.wait_for_status(&id, "CANCELLED", WITHIN).await;
    assert_eq!(
        statuses(&order),
        ["PENDING", "RESERVED", "PAYMENT_FAILED", "CANCELLED"],
        "{}",
        s.which
    );
    assert_eq!(s.stock("SKU-HOODIE-M").await, before, "{}", s.which);
    let told = s.notifications_for(&id, 1, WITHIN).await;
    assert_eq!(told.len(), 1, "{}: {told:?}", s.which);
    assert_eq!(told[0]["kind"], "OrderCancelled", "{}", s.which);
}

/// Sold out: rejected, nothing taken, the customer told once.
pub async fn sold_out(s: Arc<Subject>) {
    let before = s.stock("SKU-BACKPACK-20L").await;
    let id = placed(&s, "SKU-BACKPACK-20L", before + 1, "tok_visa").await;
    let order = s.wait_for_status(&id, "REJECTED", WITHIN).await;
    assert_eq!(statuses(&order), ["PENDING", "REJECTED"], "{}", s.which);
    assert_eq!(s.stock("SKU-BACKPACK-20L").await, before, "{}", s.which);
    let told = s.notifications_for(&id, 1, WITHIN).await;
    assert_eq!(told.len(), 1, "{}: {told:?}", s.which);
    assert_eq!(told[0]["kind"], "OrderRejected", "{}", s.which);
}

/// The DLQ's messages with `body`, as `orderflow dlq list --json` shows them.
fn dead_lettered(s: &Subject, dlq: &str, body: &str) -> Vec<Value> {
    let out = cli(&s.cloud, &["dlq", "list", dlq, "--json"]);
    assert!(
        out.status.success(),
        "{}: {}",
        s.which,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["body"] == body)
        .collect()
}

async fn until_dead_lettered(s: &Subject, dlq: &str, body: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(m) = dead_lettered(s, dlq, body).pop() {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "{}: not in {dlq} after 120 s",
            s.which
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A poison message: received maxReceiveCount times, then in the DLQ; `orderflow dlq
/// redrive` sends it back to its queue, where it fails again and is dead-lettered again.
pub async fn poison_message(s: Arc<Subject>) {
    let poison = format!(
        r#"{{"detail-type": "OrderPlaced", "poison": "{}", "detail": {{"metadata": "#,
        uuid::Uuid::new_v4()
    );
    send(&s.cloud, "InventoryQueue", &[&poison]).await;
    let dlq = s.name("InventoryDLQ");
    let entry = until_dead_lettered(&s, &dlq, &poison).await;
    let queues = orderflow_shared::adapters::sqs::Queues::new(s.cloud.sqs());
    let source = s.cloud.queue_url("InventoryQueue").await.unwrap();
    let receives = queues
        .attributes(&source)
        .await
        .unwrap()
        .redrive_policy
        .map(|p| p.max_receive_count)
        .unwrap_or_default();
    assert!(
        receives >= 5 && entry["receiveCount"].as_u64().unwrap_or(0) >= u64::from(receives),
        "{}: moved before maxReceiveCount ({receives}): {entry}",
        s.which
    );
    if s.records_failure_reasons() {
        let reason = entry["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("not an EventBridge event"),
            "{}: {entry}",
            s.which
        );
    }
    eprintln!("{}: dead-lettered: {entry}", s.which);
    let redrive = cli(&s.cloud, &["dlq", "redrive", &dlq]);
    let said = String::from_utf8_lossy(&redrive.stdout);
    eprintln!("{}: {}", s.which, said.trim());
    assert!(
        redrive.status.success() && said.contains("redrove"),
        "{}: {said}",
        s.which
    );
    assert!(
        dead_lettered(&s, &dlq, &poison).is_empty(),
        "{}: still in the DLQ",
        s.which
    );
    until_dead_lettered(&s, &dlq, &poison).await;
}

/// The same `OrderPlaced` delivered twice: reserved once, charged once, told once.
pub async fn duplicate_delivery(s: Arc<Subject>) {
    let before = s.stock("SKU-SOCKS-3P").await;
    let (id, placed) = stored_order_placed(&s.cloud.store(), "SKU-SOCKS-3P", 2).await;
    send(&s.cloud, "InventoryQueue", &[&placed]).await;
    send(&s.cloud, "InventoryQueue", &[&placed]).await;
    s.wait_for_status(id.as_str(), "CONFIRMED", WITHIN).await;
    let told = s.notifications_for(id.as_str(), 1, WITHIN).await;
    assert_eq!(
        s.stock("SKU-SOCKS-3P").await,
        before - 2,
        "{}: reserved once",
        s.which
    );
    assert_eq!(told.len(), 1, "{}: told once: {told:?}", s.which);
}

const BUYERS: usize = 40;
const FLASH_STOCK: u32 = 10;

/// A small flash sale: 40 buyers at once for 10 units of a SKU seeded for it.
pub async fn flash_sale(s: Arc<Subject>) {
    let sku = format!(
        "SKU-TWO-CLOUDS-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
    .to_uppercase();
    let product = Product {
        sku: Sku::parse(&sku).unwrap(),
        name: "Two-cloud sneaker".into(),
        price: Money::new(12900, Currency::EUR),
        stock: FLASH_STOCK,
    };
    s.cloud.store().put_product(&product).await.unwrap();
    let mut posts = tokio::task::JoinSet::new();
    for i in 0..BUYERS {
        let s = s.clone();
        let sku = sku.clone();
        posts.spawn(async move {
            let customer = format!("buyer-{i}");
            let token = s.token_for(&customer);
            let body = json!({"customerId": customer, "email": format!("buyer{i}@example.com"),
                              "items": [{"sku": sku, "quantity": 1}], "paymentToken": "tok_visa"});
            let (status, accepted) = s.place_as(&body, &token).await;
            assert_eq!(status, 202, "{}: {accepted}", s.which);
            (accepted["orderId"].as_str().unwrap().to_owned(), token)
        });
    }
    let orders = posts.join_all().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let (confirmed, rejected) = loop {
        let mut counts = (0, 0, 0);
        for (id, token) in &orders {
            match s.order_as(id, token).await["status"]
                .as_str()
                .unwrap_or("?")
            {
                "CONFIRMED" => counts.0 += 1,
                "REJECTED" => counts.1 += 1,
                _ => counts.2 += 1,
            }
        }
        if counts.2 == 0 {
            break (counts.0, counts.1);
        }
        assert!(
            Instant::now() < deadline,
            "{}: {} orders unfinished",
            s.which,
            counts.2
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(
        confirmed, FLASH_STOCK as usize,
        "{}: exactly the stock is sold",
        s.which
    );
    assert_eq!(rejected, BUYERS - FLASH_STOCK as usize, "{}", s.which);
    assert_eq!(s.stock(&sku).await, 0, "{}", s.which);
}
