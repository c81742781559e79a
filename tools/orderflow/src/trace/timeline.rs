//! One order's timeline from the local cloud's records: its deliveries (each receive of each
//! message about it), the invocations that handled it, and inside them the faults, the AWS
//! calls with their durations, and how each record ended, in time order.
//!
//! An invocation belongs to the order when one of its lines names the order (a record span's
//! `correlation_id`, or an `order_id` field as validate-order's and the provider's lines
//! have). Inside a batch invocation, a line about another order is left out; a line about no
//! record in particular (the batch's one `PutEvents`) is kept, as the order's share of it.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use orderflow_shared::telemetry::messages::{
    ATTEMPTS, AWS_CALL, AWS_OPERATION, AWS_SERVICE, CORRELATION_ID, DURATION_MS, ERROR, FAULT,
    INJECTED_FAULT, MESSAGE_ID, ORDER_ID, REASON, RECEIVE_COUNT, REQUEST_ID, TRACE_ID,
};
use serde::Serialize;

use super::record::{DeliveryOutcome, InvocationOutcome, TraceRecord};

/// What `orderflow trace ORDER_ID` prints and the console shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    pub order_id: String,
    /// The trace ids the order's events and records carried: one, when the trace joined up.
    pub trace_ids: Vec<String>,
    pub entries: Vec<Entry>,
}

/// One thing that happened to the order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub function: String,
    #[serde(flatten)]
    pub what: What,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum What {
    /// A message about the order delivered to a function: its `receive_count`-th receive.
    Delivery {
        queue: String,
        message_id: String,
        event_type: Option<String>,
        receive_count: u32,
        outcome: DeliveryOutcome,
    },
    /// An invocation of a function process that handled the order.
    Invocation {
        request_id: String,
        outcome: InvocationOutcome,
    },
    /// A fault injected while handling the order.
    Fault { fault: String },
    /// An AWS call the invocation made (with the SDK's retries: `attempts`).
    AwsCall {
        service: String,
        operation: String,
        attempts: u64,
    },
    /// How one record about the order ended, as the function logged it.
    Record {
        message_id: String,
        receive_count: Option<u32>,
        failed: bool,
    },
    /// Another line a function wrote about the order.
    Log { message: String },
}

/// A function's JSON line, read for what the timeline needs.
struct Line<'a> {
    at: DateTime<Utc>,
    function: &'a str,
    value: &'a serde_json::Value,
}

impl Line<'_> {
    fn field(&self, name: &str) -> Option<&str> {
        self.value.get(name).and_then(serde_json::Value::as_str)
    }

    /// A field of the innermost span that has it.
    fn span_field(&self, name: &str) -> Option<String> {
        let spans = self.value.get("spans")?.as_array()?;
        spans.iter().rev().find_map(|s| match s.get(name)? {
            serde_json::Value::String(v) => Some(v.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    }

    /// The order the line is about, if any.
    fn order(&self) -> Option<String> {
        self.span_field(CORRELATION_ID)
            .or_else(|| self.field(ORDER_ID).map(str::to_owned))
    }

    fn message(&self) -> &str {
        self.field("message").unwrap_or_default()
    }
}

/// The order's timeline from `records` (see [`super::record::read`]).
pub fn build(records: &[TraceRecord], order_id: &str) -> Timeline {
    let lines: Vec<Line<'_>> = records
        .iter()
        .filter_map(|r| match r {
            TraceRecord::Log { at, function, line } => Some(Line {
                at: *at,
                function,
                value: line,
            }),
            _ => None,
        })
        .collect();
    let requests: BTreeSet<String> = lines
        .iter()
        .filter(|l| l.order().as_deref() == Some(order_id))
        .filter_map(|l| l.span_field(REQUEST_ID))
        .collect();
    let mut traces = BTreeSet::new();
    let mut entries = Vec::new();
    for line in &lines {
        let ours = match line.order() {
            Some(order) => order == order_id,
            None => line
                .span_field(REQUEST_ID)
                .is_some_and(|r| requests.contains(&r)),
        };
        if !ours {
            continue;
        }
        if let Some(trace) = line
            .span_field(TRACE_ID)
            .or_else(|| line.field(TRACE_ID).map(str::to_owned))
        {
            traces.insert(trace);
        }
        entries.extend(line_entry(line));
    }
    entries.extend(
        records
            .iter()
            .filter_map(|r| other_entry(r, order_id, &requests)),
    );
    entries.sort_by_key(|e| e.at);
    give_failed_deliveries_their_reason(&mut entries);
    Timeline {
        order_id: order_id.to_owned(),
        trace_ids: traces.into_iter().collect(),
        entries,
    }
}

/// The entry for a delivery of the order's messages or an invocation that handled it.
fn other_entry(record: &TraceRecord, order_id: &str, requests: &BTreeSet<String>) -> Option<Entry> {
    match record {
        TraceRecord::Delivery {
            at,
            function,
            queue,
            message_id,
            receive_count,
            order_id: Some(order),
            event_type,
            duration_ms,
            outcome,
            reason,
        } if order == order_id => Some(Entry {
            at: *at,
            function: function.clone(),
            what: What::Delivery {
                queue: queue.clone(),
                message_id: message_id.clone(),
                event_type: event_type.clone(),
                receive_count: *receive_count,
                outcome: *outcome,
            },
            duration_ms: Some(*duration_ms),
            reason: reason.clone(),
        }),
        TraceRecord::Invocation {
            at,
            function,
            request_id,
            duration_ms,
            outcome,
            error,
        } if requests.contains(request_id) => Some(Entry {
            at: *at,
            function: function.clone(),
            what: What::Invocation {
                request_id: request_id.clone(),
                outcome: *outcome,
            },
            duration_ms: Some(*duration_ms),
            reason: error.clone(),
        }),
        _ => None,
    }
}

/// The entry a function's line about the order makes, if it says something the timeline shows.
fn line_entry(line: &Line<'_>) -> Option<Entry> {
    let reason = line.field(REASON).map(str::to_owned);
    let what = if line.message() == AWS_CALL {
        What::AwsCall {
            service: line.field(AWS_SERVICE).unwrap_or_default().to_owned(),
            operation: line.field(AWS_OPERATION).unwrap_or_default().to_owned(),
            attempts: line
                .value
                .get(ATTEMPTS)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(1),
        }
    } else if line.message().starts_with(INJECTED_FAULT) {
        What::Fault {
            fault: line.field(FAULT).unwrap_or_default().to_owned(),
        }
    } else if let Some(message_id) = line.span_field(MESSAGE_ID).filter(|_| is_record_end(line)) {
        What::Record {
            message_id,
            receive_count: line.span_field(RECEIVE_COUNT).and_then(|c| c.parse().ok()),
            failed: reason.is_some(),
        }
    } else if line.field(ORDER_ID).is_some() || line.field(REASON).is_some() {
        What::Log {
            message: line.message().to_owned(),
        }
    } else {
        return None;
    };
    Some(Entry {
        at: line.at,
        function: line.function.to_owned(),
        duration_ms: line
            .value
            .get(DURATION_MS)
            .and_then(serde_json::Value::as_u64),
        reason: reason.or_else(|| line.field(ERROR).map(str::to_owned)),
        what,
    })
}

/// A delivery that failed without a reason of its own (the function reported the record, it
/// did not fail the batch) takes the reason the function logged for that receive of it.
fn give_failed_deliveries_their_reason(entries: &mut [Entry]) {
    let reasons: HashMap<(String, u32), String> = entries
        .iter()
        .filter_map(|e| match (&e.what, &e.reason) {
            (
                What::Record {
                    message_id,
                    receive_count: Some(count),
                    failed: true,
                },
                Some(reason),
            ) => Some(((message_id.clone(), *count), reason.clone())),
            _ => None,
        })
        .collect();
    for e in entries.iter_mut() {
        if let What::Delivery {
            message_id,
            receive_count,
            outcome: DeliveryOutcome::Failed,
            ..
        } = &e.what
        {
            if e.reason.is_none() {
                e.reason = reasons.get(&(message_id.clone(), *receive_count)).cloned();
            }
        }
    }
}

/// `record processed`, `record failed permanently`, `record failed; will be retried`: the
/// line `shared::sqs_batch` ends every record with.
fn is_record_end(line: &Line<'_>) -> bool {
    line.message().starts_with("record ")
}

/// The receives of each message about the order, in order, with what became of each: the
/// attempts the must-show of issue 14 asks for (also used by the tests).
pub fn attempts(timeline: &Timeline) -> HashMap<String, Vec<(u32, DeliveryOutcome)>> {
    let mut out: HashMap<String, Vec<(u32, DeliveryOutcome)>> = HashMap::new();
    for e in &timeline.entries {
        if let What::Delivery {
            message_id,
            receive_count,
            outcome,
            ..
        } = &e.what
        {
            out.entry(message_id.clone())
                .or_default()
                .push((*receive_count, *outcome));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_764_583_200_000 + ms).unwrap()
    }

    fn log(ms: i64, function: &str, line: serde_json::Value) -> TraceRecord {
        TraceRecord::Log {
            at: at(ms),
            function: function.into(),
            line,
        }
    }

    fn delivery(ms: i64, order: &str, count: u32, outcome: DeliveryOutcome) -> TraceRecord {
        TraceRecord::Delivery {
            at: at(ms),
            function: "update-inventory".into(),
            queue: "InventoryQueue".into(),
            message_id: format!("m-{order}"),
            receive_count: count,
            order_id: Some(order.into()),
            event_type: Some("OrderPlaced".into()),
            duration_ms: 40,
            outcome,
            reason: None,
        }
    }

    fn invocation(ms: i64, request: &str) -> TraceRecord {
        TraceRecord::Invocation {
            at: at(ms),
            function: "update-inventory".into(),
            request_id: request.into(),
            duration_ms: 38,
            outcome: InvocationOutcome::Ok,
            error: None,
        }
    }

    /// Two orders in one batch invocation (r-2): a record span per order, one shared publish.
    fn spans(request: &str, order: &str, count: u32) -> serde_json::Value {
        json!([
            {"name": "Lambda runtime invoke", "requestId": request},
            {"name": "record", "message_id": format!("m-{order}"), "receive_count": count.to_string(),
             "correlation_id": order, "trace_id": format!("trace-{order}")}
        ])
    }

    fn records() -> Vec<TraceRecord> {
        vec![
            delivery(0, "o-1", 1, DeliveryOutcome::Failed),
            invocation(1, "r-1"),
            log(
                5,
                "update-inventory",
                json!({"level": "WARN", "message": "injected fault",
                "fault": "error_before", "reason": "injected fault before the effect",
                "spans": spans("r-1", "o-1", 1)}),
            ),
            log(
                6,
                "update-inventory",
                json!({"level": "WARN", "message": "record failed; will be retried",
                "reason": "transient, will be retried: injected fault before the effect",
                "spans": spans("r-1", "o-1", 1)}),
            ),
            delivery(2000, "o-1", 2, DeliveryOutcome::Processed),
            delivery(2000, "o-2", 1, DeliveryOutcome::Processed),
            invocation(2001, "r-2"),
            log(
                2010,
                "update-inventory",
                json!({"level": "INFO", "message": "aws call",
                "aws_service": "DynamoDB", "aws_operation": "TransactWriteItems",
                "duration_ms": 12, "attempts": 3, "spans": spans("r-2", "o-1", 2)}),
            ),
            log(
                2011,
                "update-inventory",
                json!({"level": "INFO", "message": "aws call",
                "aws_service": "DynamoDB", "aws_operation": "TransactWriteItems",
                "duration_ms": 9, "attempts": 1, "spans": spans("r-2", "o-2", 1)}),
            ),
            log(
                2020,
                "update-inventory",
                json!({"level": "INFO", "message": "aws call",
                "aws_service": "EventBridge", "aws_operation": "PutEvents", "duration_ms": 7,
                "attempts": 1, "spans": [{"name": "Lambda runtime invoke", "requestId": "r-2"}]}),
            ),
            log(
                2030,
                "update-inventory",
                json!({"level": "INFO", "message": "record processed",
                "spans": spans("r-2", "o-1", 2)}),
            ),
        ]
    }

    fn kinds(timeline: &Timeline) -> Vec<String> {
        timeline
            .entries
            .iter()
            .map(|e| match &e.what {
                What::Delivery { receive_count, .. } => format!("delivery {receive_count}"),
                What::Invocation { request_id, .. } => format!("invocation {request_id}"),
                What::Fault { fault } => format!("fault {fault}"),
                What::AwsCall {
                    operation,
                    attempts,
                    ..
                } => format!("{operation} x{attempts}"),
                What::Record { failed, .. } => format!("record failed={failed}"),
                What::Log { message } => message.clone(),
            })
            .collect()
    }

    #[test]
    fn an_order_retried_after_a_fault_shows_each_attempt_in_order_with_its_reason() {
        let timeline = build(&records(), "o-1");
        assert_eq!(
            kinds(&timeline),
            [
                "delivery 1",
                "invocation r-1",
                "fault error_before",
                "record failed=true",
                "delivery 2",
                "invocation r-2",
                "TransactWriteItems x3",
                "PutEvents x1",
                "record failed=false",
            ]
        );
        let first = &timeline.entries[0];
        assert_eq!(
            first.reason.as_deref(),
            Some("transient, will be retried: injected fault before the effect"),
            "the failed delivery takes the reason the function logged for that receive"
        );
        assert_eq!(timeline.entries[6].duration_ms, Some(12));
        assert_eq!(timeline.trace_ids, ["trace-o-1"]);
        assert_eq!(
            attempts(&timeline)["m-o-1"],
            [
                (1, DeliveryOutcome::Failed),
                (2, DeliveryOutcome::Processed)
            ]
        );
    }

    #[test]
    fn another_order_of_the_same_batch_keeps_its_own_lines_and_shares_the_batch_s() {
        let timeline = build(&records(), "o-2");
        assert_eq!(
            kinds(&timeline),
            [
                "delivery 1",
                "invocation r-2",
                "TransactWriteItems x1",
                "PutEvents x1"
            ]
        );
    }

    #[test]
    fn an_order_nobody_mentioned_has_an_empty_timeline() {
        assert!(build(&records(), "o-3").entries.is_empty());
    }

    #[test]
    fn the_text_has_a_line_per_entry_with_function_duration_and_reason() {
        let text = super::super::render::text(&build(&records(), "o-1"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2 + 9, "{text}");
        assert!(lines[2].contains("update-inventory"), "{text}");
        assert!(lines[2].contains("delivery #1 of OrderPlaced"), "{text}");
        assert!(lines[2].contains("40 ms"), "{text}");
        assert!(lines[2].contains("reason: transient"), "{text}");
        assert!(lines[8].contains("(3 attempts)"), "{text}");
    }
}
