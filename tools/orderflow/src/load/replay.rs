//! The backend's own capacity for the pipeline's mix of AWS calls.
//!
//! What the replay does: it takes the calls the functions made during the pipeline run, as
//! counted from the cloud log ("DynamoDB.PutItem" × n, ...), deals them out round-robin to as
//! many "orders" as the run placed, and plays each order's calls one after the other (as a
//! function does), `concurrency` orders at a time, directly against the same moto endpoint, no
//! HTTP API, queues, event source mappings or function processes in between. Each call is the
//! same operation on the same table, bus or topic as in the pipeline, with a payload of the same
//! shape, on items of their own (`load-replay-…` keys) so the orders and stock of the run are
//! untouched: a TransactWriteItems is a conditional stock decrement plus a reservation put, a
//! PutEvents carries a source no rule matches, a Publish goes to the notification topic.
//! Operations without a replay here are replaced by a GetItem and counted as `substituted`.
//! The time it takes gives the backend's throughput in orders per second.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use orderflow_shared::adapters::dynamodb::TableNames;
use tokio::sync::Semaphore;

/// Where the replayed calls go.
#[derive(Debug, Clone)]
pub struct Targets {
    pub tables: TableNames,
    pub bus: Option<String>,
    pub topic_arn: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Replayed {
    pub calls: u64,
    pub failed: u64,
    pub substituted: u64,
    pub seconds: f64,
}

#[derive(Clone)]
struct Clients {
    dynamodb: aws_sdk_dynamodb::Client,
    events: aws_sdk_eventbridge::Client,
    sns: aws_sdk_sns::Client,
    targets: Arc<Targets>,
}

/// Deals `calls` (operation → count) out to `orders` orders, round-robin, in a fixed order.
pub fn deal(calls: &BTreeMap<String, u64>, orders: usize) -> Vec<Vec<String>> {
    let slots = orders.max(1);
    let mut per_order = vec![Vec::new(); slots];
    let mut k = 0usize;
    for (op, n) in calls {
        for _ in 0..*n {
            if let Some(list) = per_order.get_mut(k % slots) {
                list.push(op.clone());
            }
            k += 1;
        }
    }
    per_order
}

pub async fn replay(
    sdk: &aws_config::SdkConfig,
    targets: Targets,
    calls: &BTreeMap<String, u64>,
    orders: usize,
    concurrency: usize,
) -> Replayed {
    let clients = Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(sdk),
        events: aws_sdk_eventbridge::Client::new(sdk),
        sns: aws_sdk_sns::Client::new(sdk),
        targets: Arc::new(targets),
    };
    let plan = deal(calls, orders);
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (order, ops) in plan.into_iter().enumerate() {
        let (clients, gate) = (clients.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.ok();
            let mut out = Replayed::default();
            for (j, op) in ops.iter().enumerate() {
                let (ok, substituted) = call(&clients, op, order, j).await;
                out.calls += 1;
                out.failed += u64::from(!ok);
                out.substituted += u64::from(substituted);
            }
            out
        });
    }
    let mut total = Replayed::default();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(r) = joined {
            total.calls += r.calls;
            total.failed += r.failed;
            total.substituted += r.substituted;
        }
    }
    total.seconds = started.elapsed().as_secs_f64();
    total
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// One call; (succeeded, substituted).
async fn call(c: &Clients, op: &str, order: usize, j: usize) -> (bool, bool) {
    let t = &c.targets.tables;
    let key = format!("load-replay-{order}-{j}");
    let expires = chrono::Utc::now().timestamp() + 3600;
    let ok = match op {
        "DynamoDB.PutItem" => c
            .dynamodb
            .put_item()
            .table_name(&t.idempotency)
            .item("id", s(&key))
            .item("status", s("IN_PROGRESS"))
            .item("expiresAt", n(expires))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
            .is_ok(),
        "DynamoDB.UpdateItem" => c
            .dynamodb
            .update_item()
            .table_name(&t.orders)
            .key("orderId", s(format!("load-replay-{order}")))
            .update_expression("SET #s = :s, updatedAt = :t")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", s("PENDING"))
            .expression_attribute_values(":t", n(expires))
            .send()
            .await
            .is_ok(),
        "DynamoDB.DeleteItem" => c
            .dynamodb
            .delete_item()
            .table_name(&t.idempotency)
            .key("id", s(&key))
            .send()
            .await
            .is_ok(),
        "DynamoDB.TransactWriteItems" => transact(c, order, j).await,
        "DynamoDB.BatchGetItem" => {
            let keys = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .keys(std::collections::HashMap::from([(
                    "pk".to_owned(),
                    s(format!("load-replay-sku-{}", order % 4)),
                )]))
                .build();
            match keys {
                Ok(keys) => c
                    .dynamodb
                    .batch_get_item()
                    .request_items(&t.inventory, keys)
                    .send()
                    .await
                    .is_ok(),
                Err(_) => false,
            }
        }
        "EventBridge.PutEvents" => match &c.targets.bus {
            Some(bus) => c
                .events
                .put_events()
                .entries(
                    PutEventsRequestEntry::builder()
                        .event_bus_name(bus)
                        .source("orderflow.load-replay")
                        .detail_type("Replay")
                        .detail(format!("{{\"order\":{order}}}"))
                        .build(),
                )
                .send()
                .await
                .is_ok(),
            None => return (get(c, order).await, true),
        },
        "SNS.Publish" => match &c.targets.topic_arn {
            Some(arn) => c
                .sns
                .publish()
                .topic_arn(arn)
                .subject("load replay")
                .message(format!("{{\"replay\":{order}}}"))
                .send()
                .await
                .is_ok(),
            None => return (get(c, order).await, true),
        },
        "DynamoDB.GetItem" => get(c, order).await,
        _ => return (get(c, order).await, true),
    };
    (ok, false)
}

async fn get(c: &Clients, order: usize) -> bool {
    c.dynamodb
        .get_item()
        .table_name(&c.targets.tables.orders)
        .key("orderId", s(format!("load-replay-{order}")))
        .consistent_read(true)
        .send()
        .await
        .is_ok()
}

/// A conditional decrement of a (replay) product's stock and a reservation, in one transaction,
/// as update-inventory reserves.
async fn transact(c: &Clients, order: usize, j: usize) -> bool {
    let t = &c.targets.tables;
    let update = Update::builder()
        .table_name(&t.inventory)
        .key("pk", s(format!("load-replay-sku-{}", order % 4)))
        .update_expression("SET stock = if_not_exists(stock, :big) - :one")
        .condition_expression("attribute_not_exists(stock) OR stock >= :one")
        .expression_attribute_values(":big", n(1_000_000_000u64))
        .expression_attribute_values(":one", n(1))
        .build();
    let put = Put::builder()
        .table_name(&t.inventory)
        .item("pk", s(format!("load-replay-reservation-{order}-{j}")))
        .item("quantity", n(1))
        .build();
    let (Ok(update), Ok(put)) = (update, put) else {
        return false;
    };
    c.dynamodb
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().update(update).build())
        .transact_items(TransactWriteItem::builder().put(put).build())
        .send()
        .await
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counted_call_is_dealt_to_exactly_one_order() {
        let calls = BTreeMap::from([
            ("DynamoDB.PutItem".to_owned(), 5u64),
            ("EventBridge.PutEvents".to_owned(), 3u64),
        ]);
        let plan = deal(&calls, 4);
        assert_eq!(plan.len(), 4);
        assert_eq!(plan.iter().map(Vec::len).sum::<usize>(), 8);
        assert_eq!(plan[0], vec!["DynamoDB.PutItem", "DynamoDB.PutItem"]);
        assert_eq!(deal(&BTreeMap::new(), 0).len(), 1);
    }
}
