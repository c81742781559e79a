//! What the console shows, read where the CLI tools read it: the orders from the Orders
//! table (`harness::scan`, the shared DynamoDB adapter), the queues and dead-letter queues
//! through `crate::dlq`, an order's timeline through `crate::trace`.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use orderflow_shared::domain::{Money, Order, OrderId};
use orderflow_shared::ports::OrderRepository;
use serde::Serialize;
use serde_json::{json, Value};

use super::Console;
use crate::dlq::{self, DlqMessage, QueueInfo};
use crate::harness::scan;

/// Why a read failed; shown on the page as it is.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Orders(String),
    #[error("{0}")]
    Dlq(#[from] dlq::DlqError),
    #[error("no order {0}")]
    NoOrder(String),
    #[error("{0} is not an order id")]
    BadId(String),
}

/// Orders the list shows at most, newest first.
pub const LIST_LIMIT: usize = 100;

/// The newest orders (a few attributes each) and how many there are in each status.
pub async fn orders(console: &Console) -> Result<Value, ReadError> {
    let items = scan::attributes(
        &console.dynamodb,
        &console.sources.orders_table,
        &[
            "orderId",
            "status",
            "createdAt",
            "updatedAt",
            "customerId",
            "email",
            "total",
        ],
    )
    .await
    .map_err(ReadError::Orders)?;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let row = item_json(item);
            if let Some(status) = row["status"].as_str() {
                *counts.entry(status.to_owned()).or_default() += 1;
            }
            row
        })
        .collect();
    // RFC 3339 in UTC with the same precision: the text sorts as the time does.
    rows.sort_by(|a, b| {
        let key = |v: &Value| v["createdAt"].as_str().unwrap_or_default().to_owned();
        key(b).cmp(&key(a))
    });
    let total = rows.len();
    rows.truncate(LIST_LIMIT);
    Ok(json!({"total": total, "byStatus": counts, "orders": rows}))
}

/// One order as the Orders table holds it, with its history and its timeline.
pub async fn order(console: &Console, id: &str) -> Result<Value, ReadError> {
    let order_id = OrderId::parse(id).map_err(|_| ReadError::BadId(id.to_owned()))?;
    let store = orderflow_shared::adapters::dynamodb::DynamoOrders::new(
        console.dynamodb.clone(),
        console.sources.orders_table.clone(),
    );
    let order = store
        .get(&order_id)
        .await
        .map_err(|e| ReadError::Orders(e.to_string()))?
        .ok_or_else(|| ReadError::NoOrder(id.to_owned()))?;
    let timeline = match crate::trace::timeline(&console.sources.state_dir, id) {
        Ok(t) => serde_json::to_value(t).unwrap_or(Value::Null),
        Err(e) => json!({"unavailable": e.to_string()}),
    };
    Ok(json!({"order": order_json(&order), "timeline": timeline}))
}

fn money(m: &Money) -> Value {
    json!({"amount": m.amount, "currency": m.currency.to_string()})
}

fn order_json(o: &Order) -> Value {
    json!({
        "orderId": o.order_id.as_str(),
        "customerId": o.customer_id.as_str(),
        "email": o.email.as_str(),
        "paymentToken": o.payment_token.as_str(),
        "status": o.status.as_str(),
        "total": money(&o.total),
        "createdAt": o.created_at,
        "lines": o.lines.iter().map(|l| json!({
            "sku": l.sku.as_str(),
            "quantity": l.quantity.get(),
            "unitPrice": money(&l.unit_price),
        })).collect::<Vec<_>>(),
        "history": o.history.iter().map(|h| json!({"status": h.status.as_str(), "at": h.at})).collect::<Vec<_>>(),
    })
}

/// A DynamoDB item as plain JSON (numbers as numbers where they parse).
pub fn item_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), av_json(v))).collect())
}

fn av_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => n
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(n.clone())),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::M(m) => item_json(m),
        AttributeValue::L(l) => Value::Array(l.iter().map(av_json).collect()),
        AttributeValue::Ss(ss) => json!(ss),
        _ => Value::Null,
    }
}

/// A queue as the pipeline view shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueView {
    pub name: String,
    /// `queue`, `dlq` or `inbox`.
    pub kind: &'static str,
    pub waiting: u64,
    pub in_flight: u64,
    pub delayed: u64,
    /// The age of its oldest message (seconds): SQS's CloudWatch metric (`console::age`), or
    /// for a dead-letter queue the oldest of the messages its listing read; 0 when it holds none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_seconds: Option<i64>,
    /// Its dead-letter queue and that queue's depth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dlq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dlq_depth: Option<u64>,
}

/// A function as the pipeline view shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionView {
    pub name: String,
    pub in_flight: usize,
    /// The last failure reasons the local cloud recorded for it, newest first.
    pub recent_errors: Vec<String>,
    pub errors: usize,
}

/// Every queue with its counts, every dead-letter queue's messages (with their reasons), and
/// every function's invocations in flight and recent errors.
pub async fn pipeline(console: &Console) -> Result<Value, ReadError> {
    let (queues, event_dlqs) = layout(console).await?;
    let is_dlq = |q: &QueueInfo| {
        event_dlqs.contains(&q.arn)
            || queues
                .iter()
                .any(|s| s.dead_letter_arn.as_deref() == Some(q.arn.as_str()))
    };
    let reasons = crate::local::logs::read_reasons(&console.sources.state_dir);
    let by_id: HashMap<String, String> = reasons
        .values()
        .map(|r| {
            (
                r.message_id.clone(),
                format!("{}: {}", r.function, r.reason),
            )
        })
        .collect();
    let mut views = Vec::new();
    let mut messages: Vec<DlqMessage> = Vec::new();
    // One look at every queue at once: a flash sale keeps the endpoint busy.
    let names: Vec<String> = queues.iter().map(|q| q.name.clone()).collect();
    let (all_counts, ages) = tokio::join!(
        futures_util::future::join_all(queues.iter().map(|q| counts(console, &q.url))),
        super::age::oldest_ages(&console.cloudwatch, &names)
    );
    for (q, counts) in queues.iter().zip(all_counts) {
        let kind = if is_dlq(q) {
            "dlq"
        } else if q.name.ends_with("-inbox") {
            "inbox"
        } else {
            "queue"
        };
        let mut view = QueueView {
            name: q.name.clone(),
            kind,
            waiting: counts[0],
            in_flight: counts[1],
            delayed: counts[2],
            oldest_seconds: if counts[0] + counts[1] == 0 {
                Some(0)
            } else {
                ages.get(&q.name).copied()
            },
            dlq: None,
            dlq_depth: None,
        };
        if kind == "dlq" && counts[0] + counts[1] > 0 {
            let these =
                dead_letters(console, q, counts[0] + counts[1], &event_dlqs, &by_id).await?;
            view.oldest_seconds = these
                .iter()
                .map(|m| m.age_seconds)
                .max()
                .or(view.oldest_seconds);
            messages.extend(these);
        }
        views.push(view);
    }
    link_dead_letter_queues(&mut views, &queues);
    // The chain's queues first, then the dead-letter queues, then the inboxes.
    views.sort_by_key(|v| {
        let kind = ["queue", "dlq", "inbox"].iter().position(|k| *k == v.kind);
        (kind, position_in(&QUEUE_CHAIN, &v.name))
    });
    let functions = functions(console, &reasons);
    Ok(json!({"queues": views, "functions": functions, "deadLetters": messages}))
}

/// When the layout was read, the queues, the EventBridge targets' dead-letter queues.
pub type Layout = (tokio::time::Instant, Vec<QueueInfo>, Vec<String>);

/// The queues (with their redrive policies) and the EventBridge targets' dead-letter queues:
/// read once, as the cloud made them, and again after [`RELIST_AFTER`].
async fn layout(console: &Console) -> Result<(Vec<QueueInfo>, Vec<String>), ReadError> {
    let mut kept = console.layout.lock().await;
    if let Some((at, queues, event_dlqs)) = kept.as_ref() {
        if at.elapsed() < RELIST_AFTER {
            return Ok((queues.clone(), event_dlqs.clone()));
        }
    }
    let queues = dlq::all_queues(&console.sqs).await?;
    let event_dlqs: Vec<String> = dlq::events::dead_letter_queues(&console.events)
        .await
        .map(|found| found.into_keys().collect())
        .unwrap_or_default();
    *kept = Some((
        tokio::time::Instant::now(),
        queues.clone(),
        event_dlqs.clone(),
    ));
    Ok((queues, event_dlqs))
}

/// How long a dead-letter queue's listing is reused while its depth stays the same: listing
/// receives the messages (SQS has no peek), and each receive counts in their receive count.
pub const RELIST_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// A dead-letter queue's listing as it was read, and when.
pub struct Listed {
    depth: u64,
    at: tokio::time::Instant,
    messages: Vec<DlqMessage>,
}

/// The messages of dead-letter queue `q` (`depth` deep now): listed again only when its depth
/// changed or the listing is older than [`RELIST_AFTER`]; the ages move on meanwhile.
async fn dead_letters(
    console: &Console,
    q: &QueueInfo,
    depth: u64,
    event_dlqs: &[String],
    reasons: &HashMap<String, String>,
) -> Result<Vec<DlqMessage>, ReadError> {
    // Held while listing: a redrive (which takes it too) never meets messages made invisible
    // by a listing.
    let mut listed = console.dead_letters.lock().await;
    let fresh = listed
        .get(&q.arn)
        .is_some_and(|l| l.depth == depth && l.at.elapsed() < RELIST_AFTER);
    if !fresh {
        let messages = dlq::list(&console.sqs, Some(&q.arn), event_dlqs, reasons).await?;
        let at = tokio::time::Instant::now();
        listed.insert(
            q.arn.clone(),
            Listed {
                depth,
                at,
                messages,
            },
        );
    }
    Ok(listed.get(&q.arn).map_or_else(Vec::new, |l| {
        let since = i64::try_from(l.at.elapsed().as_secs()).unwrap_or(0);
        l.messages
            .iter()
            .map(|m| DlqMessage {
                age_seconds: m.age_seconds + since,
                // A reason recorded after the listing shows without listing again.
                reason: m
                    .reason
                    .clone()
                    .or_else(|| reasons.get(&m.message_id).cloned()),
                ..m.clone()
            })
            .collect()
    }))
}

/// Each source queue names its DLQ and that DLQ's depth.
fn link_dead_letter_queues(views: &mut [QueueView], queues: &[QueueInfo]) {
    let depth: HashMap<String, u64> = views
        .iter()
        .filter(|v| v.kind == "dlq")
        .map(|v| (v.name.clone(), v.waiting + v.in_flight))
        .collect();
    for (view, info) in views.iter_mut().zip(queues) {
        let dead = info
            .dead_letter_arn
            .as_deref()
            .and_then(|arn| queues.iter().find(|q| q.arn == arn));
        if let Some(dead) = dead {
            view.dlq = Some(dead.name.clone());
            view.dlq_depth = depth.get(&dead.name).copied();
        }
    }
}

/// Waiting, in flight (received, not deleted) and delayed messages.
async fn counts(console: &Console, url: &str) -> [u64; 3] {
    let names = [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        QueueAttributeName::ApproximateNumberOfMessagesDelayed,
    ];
    let got = console
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .set_attribute_names(Some(names.to_vec()))
        .send()
        .await
        .ok();
    names.map(|n| {
        got.as_ref()
            .and_then(|o| o.attributes())
            .and_then(|a| a.get(&n))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    })
}

/// The chain's functions in the order an order meets them; the others after, by name.
const CHAIN: [&str; 4] = [
    "validate-order",
    "update-inventory",
    "process-payment",
    "send-notification",
];

/// Their queues' names, in the same order.
const QUEUE_CHAIN: [&str; 4] = ["EventDelivery", "Inventory", "Payment", "Notification"];

fn chain_position(name: &str) -> (usize, String) {
    position_in(&CHAIN, name)
}

fn position_in(chain: &[&str], name: &str) -> (usize, String) {
    let at = chain.iter().position(|c| name.contains(c));
    (at.unwrap_or(chain.len()), name.to_owned())
}

fn functions(
    console: &Console,
    reasons: &HashMap<String, crate::local::logs::ReasonRecord>,
) -> Vec<FunctionView> {
    let mut views: Vec<FunctionView> = console
        .sources
        .functions
        .iter()
        .map(|f| {
            let (errors, recent_errors) = recent_errors(reasons.values(), &f.name);
            FunctionView {
                name: f.name.clone(),
                in_flight: f.in_flight(),
                errors,
                recent_errors,
            }
        })
        .collect();
    views.sort_by_key(|v| chain_position(&v.name));
    views
}

/// How many failures were recorded for `function` (any of its processes), and the last three
/// different reasons, newest first.
fn recent_errors<'a>(
    reasons: impl Iterator<Item = &'a crate::local::logs::ReasonRecord>,
    function: &str,
) -> (usize, Vec<String>) {
    let process = format!("{function}#");
    let mut theirs: Vec<(&str, &str)> = reasons
        .filter(|r| r.function == function || r.function.starts_with(&process))
        .map(|r| (r.at.as_str(), r.reason.as_str()))
        .collect();
    theirs.sort_by(|a, b| b.0.cmp(a.0));
    let mut recent: Vec<String> = Vec::new();
    for (_, reason) in &theirs {
        if recent.len() < 3 && !recent.iter().any(|r| r == reason) {
            recent.push((*reason).to_owned());
        }
    }
    (theirs.len(), recent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::logs::ReasonRecord;

    fn reason(function: &str, at: &str, reason: &str) -> ReasonRecord {
        ReasonRecord {
            message_id: format!("m-{at}"),
            function: function.into(),
            reason: reason.into(),
            at: at.into(),
        }
    }

    #[test]
    fn a_functions_recent_errors_are_its_own_newest_first_each_reason_once() {
        let all = [
            reason("process-payment", "2026-01-01T00:00:01Z", "outage"),
            reason("process-payment#2", "2026-01-01T00:00:03Z", "outage"),
            reason("process-payment", "2026-01-01T00:00:02Z", "conflict"),
            reason("send-notification", "2026-01-01T00:00:04Z", "other"),
        ];
        let (count, recent) = recent_errors(all.iter(), "process-payment");
        assert_eq!(count, 3);
        assert_eq!(recent, ["outage", "conflict"]);
        assert_eq!(recent_errors(all.iter(), "validate-order"), (0, vec![]));
    }

    #[test]
    fn the_pipeline_lists_functions_in_the_order_an_order_meets_them() {
        let mut names = [
            "query-api",
            "send-notification",
            "validate-order",
            "process-payment",
        ];
        names.sort_by_key(|n| chain_position(n));
        assert_eq!(
            names,
            [
                "validate-order",
                "process-payment",
                "send-notification",
                "query-api"
            ]
        );
    }

    #[test]
    fn an_items_numbers_and_maps_become_plain_json() {
        let item = HashMap::from([
            ("orderId".to_owned(), AttributeValue::S("o-1".into())),
            (
                "total".to_owned(),
                AttributeValue::M(HashMap::from([
                    ("amount".to_owned(), AttributeValue::N("1200".into())),
                    ("currency".to_owned(), AttributeValue::S("EUR".into())),
                ])),
            ),
        ]);
        assert_eq!(
            item_json(&item),
            json!({"orderId": "o-1", "total": {"amount": 1200, "currency": "EUR"}})
        );
    }
}
