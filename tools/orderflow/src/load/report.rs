//! The report of a load run: its JSON summary, and the AWS-call figures `make bench` reads.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::json;

use super::stats;

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub orders: usize,
    pub confirmed: usize,
    pub rejected: usize,
    pub cancelled: usize,
    /// Placed but not final at the end, or never accepted.
    pub not_terminal: usize,
    /// Units confirmed beyond each SKU's seeded stock.
    pub oversold: u64,
    /// SKUs whose final stock in the inventory table is not the seeded stock minus what the
    /// confirmed orders took.
    pub stock_mismatch: usize,
    pub duration_s: f64,
    pub throughput_orders_per_s: f64,
    pub latency_ms: stats::Latency,
    /// Functions' AWS calls per confirmed order; `null` against an `--api-url` cloud.
    pub aws_calls_per_order: Option<f64>,
    pub aws_calls: BTreeMap<String, u64>,
    /// AWS calls of query-api, answering this run's polling (not in `aws_calls`).
    pub poll_aws_calls: u64,
    /// Orders' worth of the same AWS calls per second, replayed straight against the endpoint.
    pub backend_throughput_orders_per_s: Option<f64>,
    /// Pipeline throughput / backend throughput.
    pub backend_share: Option<f64>,
    pub replay: Option<ReplaySummary>,
    pub report: String,
    pub log: Option<String>,
    /// What the functions' EMF metrics counted in this run (the local cloud's
    /// `metrics.jsonl`); `null` when the cloud kept none (`--api-url`).
    pub metrics: Option<crate::local::metrics::OrderMetrics>,
    /// Where those counts disagree with this run's final orders or do not add up; the run
    /// fails unless it is empty.
    pub metrics_mismatch: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReplaySummary {
    pub calls: u64,
    pub failed: u64,
    pub substituted: u64,
    pub duration_s: f64,
}

impl LoadReport {
    pub fn passed(&self) -> bool {
        self.oversold == 0
            && self.not_terminal == 0
            && self.stock_mismatch == 0
            && self.metrics_mismatch.is_empty()
    }
}

/// `target/bench/aws-calls.json`, which `make bench` reads when it is there.
pub fn write_bench(report: &LoadReport, per_order: f64) -> std::io::Result<()> {
    let dir = PathBuf::from("target/bench");
    std::fs::create_dir_all(&dir)?;
    let body = json!({
        "orders": report.orders,
        "confirmed": report.confirmed,
        "calls": report.aws_calls,
        "per_order": per_order,
    });
    std::fs::write(
        dir.join("aws-calls.json"),
        serde_json::to_vec_pretty(&body)?,
    )
}
