//! The report of a load run: its JSON summary, and the AWS-call figures `make bench` reads.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::json;

use super::cost::Cost;
use super::history::Stages;
use super::stats;
use super::usage::Usage;

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
    /// The first placement to the last final transition, on the pipeline's own clock.
    pub duration_s: f64,
    pub throughput_orders_per_s: f64,
    /// Placement to the last transition, from each order's recorded history.
    pub latency_ms: stats::Latency,
    /// Each stage's percentiles (placed → reserved → paid → told, and placed → rejected).
    pub stages_ms: Stages,
    /// Each final order: (its end in ms after the first placement, its latency in ms).
    pub ends_ms: Vec<(u64, u64)>,
    /// Functions' AWS calls per confirmed order; `null` against an `--api-url` cloud.
    pub aws_calls_per_order: Option<f64>,
    pub aws_calls: BTreeMap<String, u64>,
    /// What the order flow's functions used (calls, entries, units, invocations, log bytes).
    pub usage: Option<Usage>,
    /// US dollars per million confirmed orders on AWS, per service.
    pub cost: Option<Cost>,
    /// Orders' worth of the same AWS calls per second, replayed straight against the endpoint.
    pub backend_throughput_orders_per_s: Option<f64>,
    /// Pipeline throughput / backend throughput.
    pub backend_share: Option<f64>,
    pub replay: Option<ReplaySummary>,
    /// The HTML report, and this report as JSON beside it.
    pub report: String,
    pub json: String,
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

/// The command line that made a run, as PERFORMANCE.md quotes it.
pub fn command_line() -> String {
    let mut args = std::env::args();
    let program = args.next().unwrap_or_default();
    std::iter::once(program)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `target/bench/<name>.json`: a run's report with the command and time that made it, which
/// `orderflow-bench` writes into docs/PERFORMANCE.md.
pub fn write_bench_report<T: Serialize>(name: &str, report: &T) -> std::io::Result<()> {
    let dir = PathBuf::from("target/bench");
    std::fs::create_dir_all(&dir)?;
    let body = json!({
        "command": command_line(),
        "generated_at": chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        "source": source_commit(),
        "report": report,
    });
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_vec_pretty(&body)?,
    )
}

/// The commit the run was built from (`git rev-parse --short HEAD`), when git can say.
fn source_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `target/bench/aws-calls.json`, which `make bench` reads when it is there.
pub fn write_bench(report: &LoadReport, per_order: f64) -> std::io::Result<()> {
    write_bench_report("load", report)?;
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
