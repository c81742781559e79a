//! The cost of an order on AWS: what a run used ([`Usage`]) priced from a versioned price file
//! (`infra/pricing/aws-prices-<region>-<date>.json`), per service, per million confirmed orders.
//!
//! What is measured and what is modelled:
//! - DynamoDB: the read and write units the endpoint reported per call (`ReturnConsumedCapacity`);
//!   a refused call reports none and is charged what a successful call of its operation
//!   consumed on average (DynamoDB bills refused conditional writes and cancelled transactions);
//! - Lambda: the local runtime's `REPORT` lines (invocations, billed duration) at each
//!   function's `MemorySize`, on the template's architecture. The local processes are debug or
//!   release builds on a shared 2-core machine, so durations are an upper bound of Lambda's;
//! - HTTP API: one request per POST the run sent;
//! - EventBridge: the 64 KB chunks of the entries the functions put;
//! - SQS: per event delivered to a queue one `SendMessage` (each rule has one queue target),
//!   per consumer invocation one `ReceiveMessage` that returned its batch and one
//!   `DeleteMessageBatch`; and the empty receives of Lambda's pollers, modelled: five pollers
//!   per queue (Lambda's documented starting number), each a 20 s long poll, for as long as a
//!   million orders take at the run's rate — an upper bound (a busy poller's receives are not
//!   empty);
//! - SNS: the 64 KB chunks of what the functions published (deliveries to SQS are free);
//! - CloudWatch Logs: the bytes the functions logged, `REPORT` lines included.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::usage::Usage;

/// The price file the load uses unless told otherwise.
pub const PRICES: &str = "infra/pricing/aws-prices-us-east-1-2026-12-01.json";

/// The consumers of SQS queues: one invocation is one receive that returned a batch.
pub const CONSUMERS: [&str; 3] = ["update-inventory", "process-payment", "send-notification"];
const POLLERS_PER_QUEUE: f64 = 5.0;
const LONG_POLL_S: f64 = 20.0;
const GB: f64 = 1024.0 * 1024.0 * 1024.0;

#[derive(Debug, Clone, Deserialize)]
pub struct PriceFile {
    pub region: String,
    pub date: String,
    pub prices: BTreeMap<String, Price>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Price {
    #[serde(default)]
    pub usd_per_million: Option<f64>,
    #[serde(default)]
    pub usd_per_unit: Option<f64>,
    pub source: String,
}

impl Price {
    #[allow(clippy::float_arithmetic)] // a price per unit
    fn per_unit(&self) -> f64 {
        self.usd_per_unit
            .or(self.usd_per_million.map(|m| m / 1e6))
            .unwrap_or(0.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    #[error("reading the price file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the price file {path} is not a price table: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
}

pub fn read_prices(path: &Path) -> Result<PriceFile, PriceError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PriceError::Read {
        path: name.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| PriceError::Parse { path: name, source })
}

/// One line of the bill.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Line {
    pub service: String,
    pub what: String,
    /// Units the run used (requests, units, GB-seconds, GB).
    pub units: f64,
    pub usd_per_million_orders: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cost {
    pub price_file: String,
    pub prices_of: String,
    pub confirmed: usize,
    pub usd_per_million_confirmed: f64,
    /// Largest first.
    pub lines: Vec<Line>,
}

/// What the run did beyond its functions' own calls.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub http_requests: u64,
    pub confirmed: usize,
    pub throughput_orders_per_s: f64,
    pub arm64: bool,
}

/// The bill as it is drawn up: each line's units priced from the file, per million orders.
struct Bill<'a> {
    prices: &'a PriceFile,
    /// Confirmed orders of the run to a million.
    per_million: f64,
    lines: Vec<Line>,
}

impl Bill<'_> {
    /// A line of `units` at the file's price `price`.
    #[allow(clippy::float_arithmetic)] // money
    fn add(&mut self, service: &str, what: &str, units: f64, price: &str) {
        let unit_price = self.prices.prices.get(price).map_or(0.0, Price::per_unit);
        self.lines.push(Line {
            service: service.to_owned(),
            what: what.to_owned(),
            units,
            usd_per_million_orders: units * unit_price * self.per_million,
        });
    }
}

#[allow(clippy::float_arithmetic)] // money
pub fn price(usage: &Usage, run: Run, prices: &PriceFile, price_file: &str) -> Cost {
    let mut bill = Bill {
        prices,
        per_million: 1e6 / (run.confirmed.max(1) as f64),
        lines: Vec::new(),
    };
    let (reads, writes) = dynamodb_units(usage);
    bill.add(
        "DynamoDB",
        "write request units",
        writes,
        "dynamodb_write_request_unit",
    );
    bill.add(
        "DynamoDB",
        "read request units",
        reads,
        "dynamodb_read_request_unit",
    );
    let invocations: u64 = usage.lambda.values().map(|l| l.invocations).sum();
    let gb_s: f64 = usage
        .lambda
        .values()
        .map(|l| l.billed_ms as f64 / 1000.0 * l.memory_mb as f64 / 1024.0)
        .sum();
    bill.add("Lambda", "requests", invocations as f64, "lambda_request");
    let gb_s_price = if run.arm64 {
        "lambda_gb_second_arm64"
    } else {
        "lambda_gb_second_x86_64"
    };
    bill.add("Lambda", "GB-seconds", gb_s, gb_s_price);
    bill.add(
        "API Gateway",
        "HTTP API requests",
        run.http_requests as f64,
        "http_api_request",
    );
    messaging(&mut bill, usage, run);
    let mut lines = bill.lines;
    lines.sort_by(|a, b| {
        b.usd_per_million_orders
            .total_cmp(&a.usd_per_million_orders)
    });
    Cost {
        price_file: price_file.to_owned(),
        prices_of: format!("{} {}", prices.region, prices.date),
        confirmed: run.confirmed,
        usd_per_million_confirmed: lines.iter().map(|l| l.usd_per_million_orders).sum(),
        lines,
    }
}

/// The lines of the messaging services (EventBridge, SQS, SNS) and the logs.
#[allow(clippy::float_arithmetic)] // money
fn messaging(bill: &mut Bill<'_>, usage: &Usage, run: Run) {
    let of = |op: &str| usage.calls.get(op).cloned().unwrap_or_default();
    let events = of("EventBridge.PutEvents");
    bill.add(
        "EventBridge",
        "events (64 KB chunks)",
        events.chunks as f64,
        "eventbridge_custom_event",
    );
    let batches: u64 = CONSUMERS
        .iter()
        .filter_map(|f| usage.lambda.get(*f))
        .map(|l| l.invocations)
        .sum();
    let sqs = events.entries as f64 + 2.0 * batches as f64;
    bill.add("SQS", "send, receive, delete", sqs, "sqs_standard_request");
    let million_s = 1e6 / run.throughput_orders_per_s.max(1e-9);
    let empty = CONSUMERS.len() as f64 * POLLERS_PER_QUEUE * million_s / LONG_POLL_S;
    // Already per million orders: undo the scaling `add` applies.
    let run_share = empty / bill.per_million;
    bill.add(
        "SQS",
        "empty receives (pollers, modelled; the run's share)",
        run_share,
        "sqs_standard_request",
    );
    let sns = of("SNS.Publish").chunks + of("SNS.PublishBatch").chunks;
    bill.add("SNS", "publishes (64 KB chunks)", sns as f64, "sns_publish");
    let log_gb = usage.lambda.values().map(|l| l.log_bytes).sum::<u64>() as f64 / GB;
    bill.add(
        "CloudWatch Logs",
        "GB ingested",
        log_gb,
        "cloudwatch_logs_ingested_gb",
    );
}

/// (read, write) units, a refused call charged its operation's average.
#[allow(clippy::float_arithmetic)] // averages of units
fn dynamodb_units(usage: &Usage) -> (f64, f64) {
    let (mut reads, mut writes) = (0.0, 0.0);
    for (_, u) in usage
        .calls
        .iter()
        .filter(|(op, _)| op.starts_with("DynamoDB."))
    {
        let ok = u.calls.saturating_sub(u.failed).max(1) as f64;
        let scale = 1.0 + u.failed as f64 / ok;
        reads += u.read_units * scale;
        writes += u.write_units * scale;
    }
    (reads, writes)
}

#[cfg(test)]
mod tests {
    use super::super::usage::{CallUsage, LambdaUsage};
    use super::*;

    fn prices() -> PriceFile {
        serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../infra/pricing/aws-prices-us-east-1-2026-12-01.json"
            ))
            .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn the_price_file_names_a_source_for_every_price() {
        let p = prices();
        assert_eq!(p.region, "us-east-1");
        assert!(p.prices.len() >= 10);
        for (name, price) in &p.prices {
            assert!(
                price.source.starts_with("https://aws.amazon.com/"),
                "{name}"
            );
            assert!(price.per_unit() > 0.0, "{name}");
        }
    }

    #[test]
    fn a_run_is_priced_per_million_confirmed_orders_largest_line_first() {
        let mut usage = Usage::default();
        usage.calls.insert(
            "DynamoDB.TransactWriteItems".into(),
            CallUsage {
                calls: 4,
                failed: 1,
                entries: 8,
                chunks: 4,
                read_units: 0.0,
                write_units: 12.0,
            },
        );
        usage.lambda.insert(
            "update-inventory".into(),
            LambdaUsage {
                invocations: 2,
                billed_ms: 2000,
                memory_mb: 1024,
                log_bytes: 0,
            },
        );
        let run = Run {
            http_requests: 2,
            confirmed: 2,
            throughput_orders_per_s: 1e12,
            arm64: true,
        };
        let cost = price(&usage, run, &prices(), "p.json");
        let line = |what: &str| cost.lines.iter().find(|l| l.what == what).unwrap().clone();
        // 12 units over 3 successful calls, the refused one charged the average: 16 units.
        assert_eq!(line("write request units").units, 16.0);
        assert!(
            (line("write request units").usd_per_million_orders - 16.0 * 0.625 / 2.0).abs() < 1e-9
        );
        // 2 s at 1 GB on arm64.
        assert!(
            (line("GB-seconds").usd_per_million_orders - 2.0 * 0.0000133334 * 5e5).abs() < 1e-9
        );
        assert!(cost
            .lines
            .windows(2)
            .all(|w| w[0].usd_per_million_orders >= w[1].usd_per_million_orders));
        let total: f64 = cost.lines.iter().map(|l| l.usd_per_million_orders).sum();
        assert_eq!(cost.usd_per_million_confirmed, total);
    }
}
