//! What the local cloud records for `orderflow trace`: one JSON object a line in
//! `<state dir>/trace.jsonl` — each invocation of a function process, each message an event
//! source mapping delivered (with its receive count), and each JSON line a function wrote (its
//! spans name the invocation, the message, the order and the trace; its fields the faults, the
//! reasons and the AWS calls with their durations).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The file, in the local cloud's state dir.
pub const TRACE_FILE: &str = "trace.jsonl";

/// One thing that happened in the local cloud.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum TraceRecord {
    /// A function process took an invocation at `at` and answered (or did not) after
    /// `duration_ms`.
    Invocation {
        at: DateTime<Utc>,
        function: String,
        request_id: String,
        duration_ms: u64,
        outcome: InvocationOutcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// An event source mapping delivered a message (its `receive_count`-th receive) in a batch
    /// invoked at `at` for `duration_ms`, and what became of it.
    Delivery {
        at: DateTime<Utc>,
        function: String,
        queue: String,
        message_id: String,
        receive_count: u32,
        /// The order and event the message holds, when it holds an envelope.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event_type: Option<String>,
        duration_ms: u64,
        outcome: DeliveryOutcome,
        /// Why, when the whole invocation failed (a record's own reason is in its log line).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A JSON line a function wrote, as it wrote it, and when the local cloud read it.
    Log {
        at: DateTime<Utc>,
        function: String,
        line: serde_json::Value,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvocationOutcome {
    Ok,
    Error,
    Timeout,
    Crashed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// Processed and deleted.
    Processed,
    /// Failed (reported, or the whole batch failed): left to the visibility timeout.
    Failed,
    /// Processed, but left undeleted by an injected duplicate-delivery fault.
    Duplicated,
}

/// Every record of the file (lines that cannot be read are skipped: a line cut short by a
/// crash of the local cloud must not hide the rest).
pub fn read(state_dir: &std::path::Path) -> std::io::Result<Vec<TraceRecord>> {
    let text = std::fs::read_to_string(state_dir.join(TRACE_FILE))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_one_json_object_tagged_by_its_kind() {
        let record = TraceRecord::Delivery {
            at: "2026-12-01T10:00:00Z".parse().unwrap(),
            function: "update-inventory".into(),
            queue: "q".into(),
            message_id: "m-1".into(),
            receive_count: 2,
            order_id: Some("o-1".into()),
            event_type: Some("OrderPlaced".into()),
            duration_ms: 12,
            outcome: DeliveryOutcome::Failed,
            reason: None,
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["kind"], "delivery");
        assert_eq!(json["receiveCount"], 2);
        assert_eq!(json["outcome"], "failed");
        assert_eq!(serde_json::from_value::<TraceRecord>(json).unwrap(), record);
    }
}
