//! What the pipeline used, read from an own cloud's log: each function's AWS calls (its
//! `aws call` lines: entries, chunks, DynamoDB units), its invocations and billed duration (the
//! local runtime's Lambda `REPORT` lines) and the bytes it logged (what CloudWatch Logs would
//! ingest: its own lines and the `REPORT` lines, not the counting lines that exist only here).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use orderflow_shared::telemetry::messages::AWS_CALL;

use super::stats::function_of;
use crate::local::runtime::REPORT;

/// One operation's calls, e.g. `DynamoDB.TransactWriteItems`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CallUsage {
    pub calls: u64,
    pub failed: u64,
    /// Batch entries (a transaction's items, PutEvents' entries, PublishBatch's messages, the
    /// keys of a BatchGetItem); 1 per call otherwise.
    pub entries: u64,
    /// Started 64 KB chunks (EventBridge and SNS bill per chunk).
    pub chunks: u64,
    pub read_units: f64,
    pub write_units: f64,
}

/// One function's invocations.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LambdaUsage {
    pub invocations: u64,
    pub billed_ms: u64,
    pub memory_mb: u64,
    /// Bytes of log lines, as CloudWatch Logs ingests them.
    pub log_bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Usage {
    /// `<service>.<operation>` → its calls, of the functions `include` accepted.
    pub calls: BTreeMap<String, CallUsage>,
    pub lambda: BTreeMap<String, LambdaUsage>,
}

impl Usage {
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.calls
            .iter()
            .map(|(op, u)| (op.clone(), u.calls))
            .collect()
    }

    pub fn total_calls(&self) -> u64 {
        self.calls.values().map(|u| u.calls).sum()
    }
}

/// Reads a local cloud log (`"<who> | <text>"` lines) for the functions `include` accepts.
pub fn read(log: &str, include: impl Fn(&str) -> bool) -> Usage {
    let mut usage = Usage::default();
    for line in log.lines() {
        let Some((who, rest)) = line.split_once(" | ") else {
            continue;
        };
        let function = function_of(who);
        if !include(function) {
            continue;
        }
        if let Some(report) = rest.strip_prefix(REPORT) {
            let l = usage.lambda.entry(function.to_owned()).or_default();
            l.invocations += 1;
            l.billed_ms += field(report, "Billed Duration: ").unwrap_or(0);
            l.memory_mb = field(report, "Memory Size: ").unwrap_or(l.memory_mb);
            l.log_bytes += u64::try_from(rest.len() + 1).unwrap_or(0);
            continue;
        }
        match aws_call(rest) {
            Some((op, call)) => add(usage.calls.entry(op).or_default(), &call),
            None if rest.starts_with('{') => {
                usage
                    .lambda
                    .entry(function.to_owned())
                    .or_default()
                    .log_bytes += u64::try_from(rest.len() + 1).unwrap_or(0);
            }
            None => {}
        }
    }
    usage
}

fn field(report: &str, name: &str) -> Option<u64> {
    let (_, after) = report.split_once(name)?;
    after.split(' ').next()?.parse().ok()
}

fn aws_call(rest: &str) -> Option<(String, Value)> {
    if !rest.contains(AWS_CALL) {
        return None;
    }
    let v: Value = serde_json::from_str(rest).ok()?;
    if v.get("message").and_then(Value::as_str) != Some(AWS_CALL) {
        return None;
    }
    let service = v.get("aws_service")?.as_str()?;
    let operation = v.get("aws_operation")?.as_str()?;
    Some((format!("{service}.{operation}"), v))
}

#[allow(clippy::float_arithmetic)] // capacity units are fractions
fn add(u: &mut CallUsage, v: &Value) {
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(1);
    let f = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    u.calls += 1;
    u.failed += u64::from(v.get("aws_ok").and_then(Value::as_bool) == Some(false));
    u.entries += n("aws_entries");
    u.chunks += n("aws_chunks");
    u.read_units += f("aws_read_units");
    u.write_units += f("aws_write_units");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_invocations_and_log_bytes_are_read_per_function() {
        let log = [
            r#"  update-inventory#1 | {"level":"INFO","message":"aws call","aws_service":"DynamoDB","aws_operation":"TransactWriteItems","aws_ok":true,"aws_entries":3,"aws_chunks":1,"aws_read_units":0.0,"aws_write_units":6.0}"#,
            r#"  update-inventory#0 | {"level":"INFO","message":"aws call","aws_service":"DynamoDB","aws_operation":"TransactWriteItems","aws_ok":false,"aws_entries":2,"aws_chunks":1,"aws_read_units":0.0,"aws_write_units":0.0}"#,
            r#"  update-inventory#0 | {"level":"INFO","message":"reserved"}"#,
            "  update-inventory | REPORT RequestId: r\tDuration: 3.20 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB",
            "  update-inventory | REPORT RequestId: s\tDuration: 9.10 ms\tBilled Duration: 10 ms\tMemory Size: 128 MB",
            r#"         query-api | {"level":"INFO","message":"aws call","aws_service":"DynamoDB","aws_operation":"GetItem"}"#,
            "         orderflow | started",
        ]
        .join("\n");
        let u = read(&log, |f| f != "query-api");
        let t = &u.calls["DynamoDB.TransactWriteItems"];
        assert_eq!((t.calls, t.failed, t.entries), (2, 1, 5));
        assert_eq!(t.write_units, 6.0);
        assert_eq!(u.calls.len(), 1);
        let l = &u.lambda["update-inventory"];
        assert_eq!((l.invocations, l.billed_ms, l.memory_mb), (2, 14, 128));
        let reserved = r#"{"level":"INFO","message":"reserved"}"#.len() as u64 + 1;
        assert!(l.log_bytes > reserved, "REPORT lines count too");
        assert_eq!(read(&log, |f| f == "query-api").total_calls(), 1);
    }
}
