//! Dead-letter queues of EventBridge rule targets (`DeadLetterConfig`): where EventBridge puts an
//! event it could not deliver. They have no source queue to move back to; a message there is the
//! EventBridge event itself, so a redrive puts it back on its bus (`PutEvents` of its source,
//! detail-type, detail and time). Every rule that matches it gets it again, not only the one
//! that failed: the consumers absorb the duplicate, as they do EventBridge's own.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::types::Message;
use chrono::DateTime;
use serde_json::Value;

use super::{sqs, DlqError, QueueInfo};

/// The attribute EventBridge adds to a dead-lettered event: the rule that failed to deliver it.
pub const RULE_ARN: &str = "RULE_ARN";

fn events_err<E: std::error::Error + 'static, R: std::fmt::Debug>(
    op: &str,
    e: aws_sdk_eventbridge::error::SdkError<E, R>,
) -> DlqError {
    DlqError::EventBridge(format!(
        "{op}: {}",
        aws_sdk_eventbridge::error::DisplayErrorContext(e)
    ))
}

/// The dead-letter queues the rules' targets name, on every bus: queue ARN → the buses of the
/// rules that name it.
pub async fn dead_letter_queues(
    events: &aws_sdk_eventbridge::Client,
) -> Result<BTreeMap<String, BTreeSet<String>>, DlqError> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for bus in buses(events).await? {
        for rule in rules(events, &bus).await? {
            let mut token = None;
            loop {
                let page = events
                    .list_targets_by_rule()
                    .rule(&rule)
                    .event_bus_name(&bus)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| events_err("ListTargetsByRule", e))?;
                for arn in page
                    .targets()
                    .iter()
                    .filter_map(|t| t.dead_letter_config().and_then(|d| d.arn()))
                {
                    out.entry(arn.to_owned()).or_default().insert(bus.clone());
                }
                token = page.next_token().map(str::to_owned);
                if token.is_none() {
                    break;
                }
            }
        }
    }
    Ok(out)
}

async fn buses(events: &aws_sdk_eventbridge::Client) -> Result<Vec<String>, DlqError> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = events
            .list_event_buses()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| events_err("ListEventBuses", e))?;
        names.extend(
            page.event_buses()
                .iter()
                .filter_map(|b| b.name())
                .map(str::to_owned),
        );
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(names);
        }
    }
}

async fn rules(events: &aws_sdk_eventbridge::Client, bus: &str) -> Result<Vec<String>, DlqError> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = events
            .list_rules()
            .event_bus_name(bus)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| events_err("ListRules", e))?;
        names.extend(
            page.rules()
                .iter()
                .filter_map(|r| r.name())
                .map(str::to_owned),
        );
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(names);
        }
    }
}

/// The bus a dead-lettered event goes back to: the one in its `RULE_ARN`
/// (`…:rule/<bus>/<rule>`, or `…:rule/<rule>` on the default bus), else the only bus whose
/// rules name this queue.
pub fn bus_of(rule_arn: Option<&str>, buses: &BTreeSet<String>) -> Option<String> {
    if let Some(path) = rule_arn
        .and_then(|arn| arn.split_once(":rule/"))
        .map(|(_, p)| p)
    {
        return Some(match path.split_once('/') {
            Some((bus, _)) => bus.to_owned(),
            None => "default".to_owned(),
        });
    }
    match (buses.iter().next(), buses.len()) {
        (Some(only), 1) => Some(only.clone()),
        _ => None,
    }
}

/// The `PutEvents` entry that sends a dead-lettered EventBridge event back to `bus`.
pub fn entry_of(body: &str, bus: &str) -> Result<PutEventsRequestEntry, String> {
    let event: Value =
        serde_json::from_str(body).map_err(|e| format!("not an EventBridge event: {e}"))?;
    let text = |key: &str| {
        event
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the event has no {key}"))
    };
    let detail = event
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or("the event has no detail object")?;
    let resources: Vec<String> = event
        .get("resources")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let time = event
        .get("time")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| aws_sdk_eventbridge::primitives::DateTime::from_millis(t.timestamp_millis()));
    Ok(PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(text("source")?)
        .detail_type(text("detail-type")?)
        .detail(detail.to_string())
        .set_resources((!resources.is_empty()).then_some(resources))
        .set_time(time)
        .build())
}

/// What a redrive of an event dead-letter queue did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Redriven {
    /// Events put back on their bus (and removed from the queue).
    pub moved: u64,
    /// Messages left in the queue, each with why.
    pub left: Vec<(String, String)>,
}

/// Puts every event of the dead-letter queue `dead` back on its bus; a message is deleted only
/// after `PutEvents` accepted it (a crash in between sends it twice, never loses it). `buses`:
/// the buses whose rules name this queue.
pub async fn redrive(
    sqs_client: &aws_sdk_sqs::Client,
    events: &aws_sdk_eventbridge::Client,
    dead: &QueueInfo,
    buses: &BTreeSet<String>,
) -> Result<Redriven, DlqError> {
    let mut done = Redriven::default();
    loop {
        let batch = sqs_client
            .receive_message()
            .queue_url(&dead.url)
            .max_number_of_messages(10)
            // Long enough that a message left behind stays out of this loop's next receive.
            .visibility_timeout(60)
            .wait_time_seconds(0)
            .message_attribute_names(RULE_ARN)
            .send()
            .await
            .map_err(|e| sqs("ReceiveMessage", e))?;
        if batch.messages().is_empty() {
            return Ok(done);
        }
        for m in batch.messages() {
            match put_back(events, m, buses).await {
                Ok(()) => {
                    delete(sqs_client, dead, m).await?;
                    done.moved += 1;
                }
                Err(why) => done
                    .left
                    .push((m.message_id().unwrap_or_default().to_owned(), why)),
            }
        }
    }
}

async fn put_back(
    events: &aws_sdk_eventbridge::Client,
    m: &Message,
    buses: &BTreeSet<String>,
) -> Result<(), String> {
    let rule_arn = m
        .message_attributes()
        .and_then(|a| a.get(RULE_ARN))
        .and_then(|v| v.string_value());
    let bus = bus_of(rule_arn, buses)
        .ok_or("no RULE_ARN attribute and more than one bus: cannot tell where it goes")?;
    let entry = entry_of(m.body().unwrap_or_default(), &bus)?;
    let out = events
        .put_events()
        .entries(entry)
        .send()
        .await
        .map_err(|e| {
            format!(
                "PutEvents: {}",
                aws_sdk_eventbridge::error::DisplayErrorContext(e)
            )
        })?;
    match out.entries().first() {
        Some(e) if e.error_code().is_none() && out.failed_entry_count() == 0 => Ok(()),
        Some(e) => Err(format!(
            "PutEvents refused it: {} {}",
            e.error_code().unwrap_or_default(),
            e.error_message().unwrap_or_default()
        )),
        None => Err("PutEvents answered without an entry".into()),
    }
}

async fn delete(client: &aws_sdk_sqs::Client, q: &QueueInfo, m: &Message) -> Result<(), DlqError> {
    let Some(handle) = m.receipt_handle() else {
        return Ok(());
    };
    client
        .delete_message()
        .queue_url(&q.url)
        .receipt_handle(handle)
        .send()
        .await
        .map_err(|e| sqs("DeleteMessage", e))?;
    Ok(())
}

#[cfg(test)]
mod tests;
