//! The backend's own capacity for the pipeline's mix of AWS calls.
//!
//! What the replay does: it takes the calls the functions made during the pipeline run, as
//! counted from the cloud log ("DynamoDB.PutItem" × n, ...), deals them out round-robin to as
//! many "orders" as the run placed, and plays each order's calls one after the other (as a
//! function does), `concurrency` orders at a time, directly against the same moto endpoint, no
//! HTTP API, queues, event source mappings or function processes in between. Each call is the
//! same operation on the same table, bus or topic as in the pipeline, carrying as many entries
//! as the pipeline's calls of that operation did on average (a batch is one call with its
//! entries, as the functions send it), on items of their own (`load-replay-…` keys) so the
//! orders and stock of the run are untouched: a TransactWriteItems is a conditional stock
//! decrement plus a reservation put per further item, a PutEvents carries its entries with a
//! source no rule matches, a Publish or PublishBatch goes to the notification topic, a
//! BatchGetItem reads its keys. Operations without a replay here are replaced by a GetItem and
//! counted as `substituted`.
//! The time it takes gives the backend's throughput in orders per second.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sns::types::PublishBatchRequestEntry;
use orderflow_shared::adapters::dynamodb::TableNames;
use tokio::sync::Semaphore;

use super::usage::CallUsage;

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

/// One call to replay: its operation and the entries it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub op: String,
    pub entries: usize,
}

/// The entries of an average call of `u` (at least one).
fn entries_per_call(u: &CallUsage) -> usize {
    let per = u.entries.div_ceil(u.calls.max(1)).max(1);
    usize::try_from(per).unwrap_or(1)
}

/// Deals `calls` out to `orders` orders, round-robin, in a fixed order.
pub fn deal(calls: &BTreeMap<String, CallUsage>, orders: usize) -> Vec<Vec<Call>> {
    let slots = orders.max(1);
    let mut per_order = vec![Vec::new(); slots];
    let mut k = 0usize;
    for (op, u) in calls {
        let entries = entries_per_call(u);
        for _ in 0..u.calls {
            if let Some(list) = per_order.get_mut(k % slots) {
                list.push(Call {
                    op: op.clone(),
                    entries,
                });
            }
            k += 1;
        }
    }
    per_order
}

pub async fn replay(
    sdk: &aws_config::SdkConfig,
    targets: Targets,
    calls: &BTreeMap<String, CallUsage>,
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
            for (j, c) in ops.iter().enumerate() {
                let (ok, substituted) = call(&clients, c, order, j).await;
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
async fn call(c: &Clients, one: &Call, order: usize, j: usize) -> (bool, bool) {
    let (op, entries) = (one.op.as_str(), one.entries);
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
            // A string, as the OpenOrders index's sort key `updatedAt` is declared.
            .expression_attribute_values(":t", s(chrono::Utc::now().to_rfc3339()))
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
        "DynamoDB.TransactWriteItems" => transact(c, order, j, entries).await,
        "DynamoDB.BatchGetItem" => batch_get(c, order, entries).await,
        "EventBridge.PutEvents" => match &c.targets.bus {
            Some(bus) => put_events(c, bus, order, entries).await,
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
        "SNS.PublishBatch" => match &c.targets.topic_arn {
            Some(arn) => publish_batch(c, arn, order, entries).await,
            None => return (get(c, order).await, true),
        },
        "DynamoDB.GetItem" => get(c, order).await,
        _ => return (get(c, order).await, true),
    };
    (ok, false)
}

/// A `BatchGetItem` of `entries` keys of the inventory table.
async fn batch_get(c: &Clients, order: usize, entries: usize) -> bool {
    let keys = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
        .set_keys(Some(
            (0..entries)
                .map(|k| {
                    std::collections::HashMap::from([(
                        "pk".to_owned(),
                        s(format!("load-replay-sku-{order}-{k}")),
                    )])
                })
                .collect(),
        ))
        .build();
    match keys {
        Ok(keys) => c
            .dynamodb
            .batch_get_item()
            .request_items(&c.targets.tables.inventory, keys)
            .send()
            .await
            .is_ok(),
        Err(_) => false,
    }
}

/// A `PutEvents` of `entries` entries on the bus.
async fn put_events(c: &Clients, bus: &str, order: usize, entries: usize) -> bool {
    c.events
        .put_events()
        .set_entries(Some(
            (0..entries)
                .map(|k| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(bus)
                        .source("orderflow.load-replay")
                        .detail_type("Replay")
                        .detail(format!("{{\"order\":{order},\"entry\":{k}}}"))
                        .build()
                })
                .collect(),
        ))
        .send()
        .await
        .is_ok()
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

async fn publish_batch(c: &Clients, arn: &str, order: usize, entries: usize) -> bool {
    let batch: Result<Vec<_>, _> = (0..entries)
        .map(|k| {
            PublishBatchRequestEntry::builder()
                .id(format!("m{k}"))
                .subject("load replay")
                .message(format!("{{\"replay\":{order},\"entry\":{k}}}"))
                .build()
        })
        .collect();
    let Ok(batch) = batch else {
        return false;
    };
    c.sns
        .publish_batch()
        .topic_arn(arn)
        .set_publish_batch_request_entries(Some(batch))
        .send()
        .await
        .is_ok()
}

/// A conditional decrement of a (replay) product's stock and a reservation per further item, in
/// one transaction, as update-inventory reserves.
async fn transact(c: &Clients, order: usize, j: usize, entries: usize) -> bool {
    let t = &c.targets.tables;
    let update = Update::builder()
        .table_name(&t.inventory)
        // A product of its own per order: the replay measures the endpoint, not contention.
        .key("pk", s(format!("load-replay-sku-{order}-{j}")))
        .update_expression("SET stock = if_not_exists(stock, :big) - :one")
        .condition_expression("attribute_not_exists(stock) OR stock >= :one")
        .expression_attribute_values(":big", n(1_000_000_000u64))
        .expression_attribute_values(":one", n(1))
        .build();
    let puts: Result<Vec<Put>, _> = (1..entries.max(2))
        .map(|k| {
            Put::builder()
                .table_name(&t.inventory)
                .item("pk", s(format!("load-replay-reservation-{order}-{j}-{k}")))
                .item("quantity", n(1))
                .build()
        })
        .collect();
    let (Ok(update), Ok(puts)) = (update, puts) else {
        return false;
    };
    let items = std::iter::once(TransactWriteItem::builder().update(update).build()).chain(
        puts.into_iter()
            .map(|p| TransactWriteItem::builder().put(p).build()),
    );
    c.dynamodb
        .transact_write_items()
        .set_transact_items(Some(items.collect()))
        .send()
        .await
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counted_call_is_dealt_to_exactly_one_order_with_its_average_entries() {
        let usage = |calls, entries| CallUsage {
            calls,
            entries,
            ..CallUsage::default()
        };
        let calls = BTreeMap::from([
            ("DynamoDB.PutItem".to_owned(), usage(5, 5)),
            ("EventBridge.PutEvents".to_owned(), usage(3, 20)),
        ]);
        let plan = deal(&calls, 4);
        assert_eq!(plan.len(), 4);
        assert_eq!(plan.iter().map(Vec::len).sum::<usize>(), 8);
        let put = Call {
            op: "DynamoDB.PutItem".into(),
            entries: 1,
        };
        assert_eq!(plan[0], vec![put.clone(), put]);
        assert_eq!(plan[1][1].entries, 7, "20 entries over 3 calls, rounded up");
        assert_eq!(deal(&BTreeMap::new(), 0).len(), 1);
    }
}
