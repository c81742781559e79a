//! The figures of a load run: percentiles, throughput, the AWS calls counted in the cloud log.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use orderflow_shared::telemetry::messages::AWS_CALL as AWS_CALL_MESSAGE;

#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq)]
pub struct Latency {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

/// Nearest-rank percentiles of latencies in milliseconds.
#[allow(clippy::float_arithmetic)] // the rank of a percentile is a fraction of the count
pub fn latency(samples: &[u64]) -> Latency {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let at = |p: f64| -> u64 {
        if sorted.is_empty() {
            return 0;
        }
        let rank = (p * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    };
    Latency {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: sorted.last().copied().unwrap_or(0),
    }
}

/// `count / seconds`, 0 for an empty interval.
#[allow(clippy::float_arithmetic)] // a rate is a ratio
pub fn per_second(count: usize, seconds: f64) -> f64 {
    if seconds <= 0.0 {
        0.0
    } else {
        count as f64 / seconds
    }
}

/// A time span in seconds (0 when negative).
#[allow(clippy::float_arithmetic)] // seconds from milliseconds
pub fn seconds(d: chrono::TimeDelta) -> f64 {
    d.num_milliseconds().max(0) as f64 / 1000.0
}

/// `a / b`, 0 when `b` is 0.
#[allow(clippy::float_arithmetic)] // a ratio
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

/// The function a log line's `who` names (`"  query-api#1"` → `"query-api"`).
pub fn function_of(who: &str) -> &str {
    let who = who.trim();
    who.split_once('#').map_or(who, |(f, _)| f)
}

/// Counts the `aws call` lines of the functions `include` accepts in a local cloud log:
/// `"<who> | <json>"` lines, keyed `"<service>.<operation>"`.
pub fn count_aws_calls(log: &str, include: impl Fn(&str) -> bool) -> BTreeMap<String, u64> {
    let mut calls = BTreeMap::new();
    for line in log.lines() {
        let Some((who, rest)) = line.split_once(" | ") else {
            continue;
        };
        if !include(function_of(who)) {
            continue;
        }
        if !rest.contains(AWS_CALL_MESSAGE) {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(rest) else {
            continue;
        };
        if v.get("message").and_then(Value::as_str) != Some(AWS_CALL_MESSAGE) {
            continue;
        }
        if let (Some(service), Some(operation)) = (
            v.get("aws_service").and_then(Value::as_str),
            v.get("aws_operation").and_then(Value::as_str),
        ) {
            *calls.entry(format!("{service}.{operation}")).or_default() += 1;
        }
    }
    calls
}

/// Completions per one-second bucket, from completion times in milliseconds since the start.
pub fn per_second_buckets(done_at_ms: &[u64]) -> Vec<u64> {
    let last = done_at_ms.iter().max().copied().unwrap_or(0);
    let mut buckets = vec![0u64; usize::try_from(last / 1000).unwrap_or(0) + 1];
    for t in done_at_ms {
        if let Some(b) = buckets.get_mut(usize::try_from(t / 1000).unwrap_or(0)) {
            *b += 1;
        }
    }
    buckets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<u64> = (1..=100).collect();
        let l = latency(&samples);
        assert_eq!((l.p50, l.p90, l.p99, l.max), (50, 90, 99, 100));
        assert_eq!(latency(&[]), Latency::default());
        assert_eq!(latency(&[7]).p99, 7);
    }

    #[test]
    fn the_log_counter_counts_only_the_functions_aws_call_lines() {
        let log = [
            r#"    validate-order | {"level":"INFO","message":"aws call","aws_service":"DynamoDB","aws_operation":"PutItem"}"#,
            r#"  update-inventory | {"level":"INFO","message":"aws call","aws_service":"DynamoDB","aws_operation":"TransactWriteItems"}"#,
            r#"  update-inventory | {"level":"INFO","message":"aws call","aws_service":"EventBridge","aws_operation":"PutEvents"}"#,
            r#"    validate-order | {"level":"INFO","message":"aws call","aws_service":"DynamoDB","aws_operation":"PutItem"}"#,
            r#"    validate-order | {"level":"INFO","message":"order placed"}"#,
            r#"       query-api#1 | {"level":"INFO","message":"aws call","aws_service":"DynamoDB","aws_operation":"GetItem"}"#,
            r#"         orderflow | aws call (not a function line)"#,
            "aws call",
        ]
        .join("\n");
        let calls = count_aws_calls(&log, |f| f != "query-api");
        assert_eq!(calls.len(), 3);
        let reads = count_aws_calls(&log, |f| f == "query-api");
        assert_eq!(reads["DynamoDB.GetItem"], 1);
        assert_eq!(count_aws_calls(&log, |_| true).values().sum::<u64>(), 5);
        assert_eq!(calls["DynamoDB.PutItem"], 2);
        assert_eq!(calls["DynamoDB.TransactWriteItems"], 1);
        assert_eq!(calls["EventBridge.PutEvents"], 1);
    }

    #[test]
    fn buckets_count_every_sample_in_its_second() {
        assert_eq!(per_second_buckets(&[0, 999, 1000, 2500]), vec![2, 1, 1]);
    }
}
