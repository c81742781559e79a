//! Following a run's orders gently: one Scan of the Orders table every few seconds (status
//! only) until every placed order is final, then one Scan of their histories and one pass over
//! the customer inbox — never a read per order, so the run does not compete with the pipeline.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use orderflow_shared::domain::OrderStatus;

use super::history::Recorded;
use crate::harness::inbox;
use crate::harness::scan::{self, Item};

/// How often the run looks at the orders while it waits.
pub const EVERY: Duration = Duration::from_secs(3);

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s),
        _ => None,
    }
}

fn time(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Waits until every stored order of `ids` is final and at least `accepted` of them are
/// stored (or `timeout` passes), looking every [`EVERY`]; `progress` is told how many are final
/// after each look.
pub async fn until_final(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    ids: &HashSet<String>,
    accepted: usize,
    timeout: Duration,
    progress: impl Fn(usize),
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let items = scan::attributes(dynamodb, table, &["orderId", "status"]).await?;
        let ours: Vec<&Item> = items
            .iter()
            .filter(|i| text(i, "orderId").is_some_and(|id| ids.contains(id)))
            .collect();
        let done = ours
            .iter()
            .filter(|i| {
                text(i, "status")
                    .and_then(|s| s.parse::<OrderStatus>().ok())
                    .is_some_and(OrderStatus::is_terminal)
            })
            .count();
        progress(done);
        if (done == ours.len() && ours.len() >= accepted) || Instant::now() >= deadline {
            return Ok(());
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// Every order's recorded history, by id.
pub async fn recorded(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<HashMap<String, Recorded>, String> {
    let items = scan::attributes(
        dynamodb,
        table,
        &["orderId", "status", "createdAt", "history"],
    )
    .await?;
    Ok(items.iter().filter_map(read_recorded).collect())
}

fn read_recorded(item: &Item) -> Option<(String, Recorded)> {
    let id = text(item, "orderId")?.to_owned();
    let created_at = time(text(item, "createdAt")?)?;
    let changes = match item.get("history") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .filter_map(|c| match c {
                AttributeValue::M(m) => Some((
                    text(m, "status")?.parse::<OrderStatus>().ok()?,
                    time(text(m, "at")?)?,
                )),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some((
        id,
        Recorded {
            created_at,
            changes,
            told_at: None,
        },
    ))
}

/// When each order's first notification reached the customer inbox (SQS's `SentTimestamp`),
/// by order id. The messages are left in the queue (received once, hidden for 10 minutes); at
/// most `most` receives, so a queue that keeps answering cannot hold the run.
pub async fn told(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    most: usize,
) -> HashMap<String, DateTime<Utc>> {
    let mut out: HashMap<String, DateTime<Utc>> = HashMap::new();
    for _ in 0..most {
        let batch = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .wait_time_seconds(1)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp,
            )
            .send()
            .await;
        let Ok(batch) = batch else {
            return out;
        };
        if batch.messages().is_empty() {
            return out;
        }
        for m in batch.messages() {
            let notification = inbox::notification(m.body().unwrap_or("null"));
            let sent = m
                .attributes()
                .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp))
                .and_then(|ms| ms.parse::<i64>().ok())
                .and_then(DateTime::from_timestamp_millis);
            if let (Some(id), Some(sent)) = (notification["orderId"].as_str(), sent) {
                let entry = out.entry(id.to_owned()).or_insert(sent);
                *entry = (*entry).min(sent);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_item_is_read_with_its_history_in_order() {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let change = |status: &str, at: &str| {
            AttributeValue::M(HashMap::from([
                ("status".to_owned(), s(status)),
                ("at".to_owned(), s(at)),
            ]))
        };
        let item = HashMap::from([
            ("orderId".to_owned(), s("o-1")),
            ("createdAt".to_owned(), s("2026-12-01T10:00:00Z")),
            (
                "history".to_owned(),
                AttributeValue::L(vec![
                    change("PENDING", "2026-12-01T10:00:00Z"),
                    change("RESERVED", "2026-12-01T10:00:01.5Z"),
                ]),
            ),
        ]);
        let (id, r) = read_recorded(&item).unwrap();
        assert_eq!(id, "o-1");
        assert_eq!(r.status(), OrderStatus::Reserved);
        assert_eq!(r.changes.len(), 2);
        let mut no_created = item.clone();
        no_created.remove("createdAt");
        assert_eq!(read_recorded(&no_created), None);
    }
}
