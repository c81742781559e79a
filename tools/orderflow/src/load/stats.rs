//! The figures of a load run: percentiles, throughput, the AWS calls counted in the cloud log,
//! and the self-contained HTML report (hand-written inline SVG).

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

/// Latencies in `bins` equal-width bins from 0 to the maximum: (bin upper bound ms, count).
pub fn histogram(latencies: &[u64], bins: u64) -> Vec<(u64, u64)> {
    let max = latencies.iter().max().copied().unwrap_or(0).max(1);
    let bins = bins.max(1);
    let width = max.div_ceil(bins).max(1);
    let mut counts = vec![0u64; usize::try_from(bins).unwrap_or(1)];
    for l in latencies {
        let i = usize::try_from((l / width).min(bins - 1)).unwrap_or(0);
        if let Some(c) = counts.get_mut(i) {
            *c += 1;
        }
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, c)| ((u64::try_from(i).unwrap_or(0) + 1) * width, c))
        .collect()
}

const W: u64 = 720;
const H: u64 = 260;
const PAD: u64 = 40;

/// A bar chart as inline SVG: one bar per value, the label of every few bars under it.
fn bar_chart(title: &str, x_label: &str, bars: &[(String, u64)]) -> String {
    let n = u64::try_from(bars.len()).unwrap_or(1).max(1);
    let top = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let plot_w = W - 2 * PAD;
    let plot_h = H - 2 * PAD;
    let bar_w = (plot_w / n).max(1);
    let label_every = (n / 10).max(1);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n\
         <text x=\"{PAD}\" y=\"20\" font-size=\"14\">{}</text>\n\
         <line x1=\"{PAD}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n\
         <text x=\"8\" y=\"{}\">{top}</text>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
        escape(title),
        H - PAD,
        W - PAD,
        H - PAD,
        PAD + 4,
        W / 2,
        H - 6,
        escape(x_label),
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let i = u64::try_from(i).unwrap_or(0);
        let h = value * plot_h / top;
        let x = PAD + i * bar_w;
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{h}\" fill=\"#4a7bd0\">\
             <title>{}: {value}</title></rect>\n",
            H - PAD - h,
            bar_w.saturating_sub(1).max(1),
            escape(label),
        ));
        if i % label_every == 0 {
            svg.push_str(&format!(
                "<text x=\"{x}\" y=\"{}\">{}</text>\n",
                H - PAD + 14,
                escape(label)
            ));
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The self-contained HTML report: the summary, a latency histogram and throughput over time.
pub fn html_report(summary: &Value, latencies: &[u64], done_at_ms: &[u64]) -> String {
    let histogram: Vec<(String, u64)> = histogram(latencies, 40)
        .into_iter()
        .map(|(upper, c)| (format!("{upper}"), c))
        .collect();
    let throughput: Vec<(String, u64)> = per_second_buckets(done_at_ms)
        .into_iter()
        .enumerate()
        .map(|(s, c)| (format!("{s}"), c))
        .collect();
    let pretty = serde_json::to_string_pretty(summary).unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>orderflow load</title>\
         <style>body{{font-family:sans-serif;margin:2em}}pre{{background:#f4f4f4;padding:1em}}</style>\
         </head><body>\n<h1>orderflow load</h1>\n<pre>{}</pre>\n<h2>Latency, POST to final status</h2>\n{}\
         <h2>Throughput over time</h2>\n{}</body></html>\n",
        escape(&pretty),
        bar_chart(
            "orders per latency bin",
            "latency (ms, upper bound of bin)",
            &histogram
        ),
        bar_chart(
            "orders reaching a final status, per second",
            "seconds since the first order",
            &throughput
        ),
    )
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
    fn buckets_and_histogram_count_every_sample() {
        assert_eq!(per_second_buckets(&[0, 999, 1000, 2500]), vec![2, 1, 1]);
        let h = histogram(&[1, 2, 3, 100], 4);
        assert_eq!(h.len(), 4);
        assert_eq!(h.iter().map(|(_, c)| c).sum::<u64>(), 4);
        assert_eq!(h[3], (100, 1));
    }

    #[test]
    fn the_report_is_one_html_page_with_two_svg_charts() {
        let html = html_report(&serde_json::json!({"orders": 2}), &[10, 20], &[100, 1200]);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(!html.contains("<script"));
    }
}
