//! `orderflow load --flash SKU`: one hot SKU, many buyers, DynamoDB's contention on, run three
//! times side by side, each against a fresh cloud: the SKU's stock on 1 shard and on `--shards`
//! shards with a per-item write limit (`--item-wcu`, the harsh spec's `item_wcu`), and on the
//! same shards without it (the ceiling: what the pipeline does on this machine when no item
//! limits it). A reservation writes its shard item inside a transaction, which costs 2 write
//! units, so one item allows R = item_wcu / 2 reservations a second.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use orderflow_shared::domain::{Currency, Money, OrderStatus, ShardCount, Sku};
use orderflow_shared::ports::{CatalogEntry, Product};
use serde::Serialize;
use serde_json::json;

use super::history::Recorded;
use super::plan::Planned;
use super::run::{own_cloud, place_all};
use super::stats::{self, Latency};
use super::{LoadArgs, LoadError, SAY};
use crate::cli::{print_json, until_signal};
use crate::harness::{stock, Cloud};
use crate::local::moto::HarshSpec;

#[derive(clap::Args, Debug, Clone)]
pub struct FlashArgs {
    /// Run the flash sale of this one SKU side by side (1 shard, --shards shards, the ceiling)
    /// instead of the mixed load.
    #[arg(long)]
    pub flash: Option<String>,
    /// Shards of the sharded row.
    #[arg(long, default_value_t = 8)]
    pub shards: u32,
    /// Write units a second one item allows (R = item_wcu / 2 reservations a second).
    #[arg(long, default_value_t = 4)]
    pub item_wcu: u64,
    /// Units of the SKU in stock.
    #[arg(long, default_value_t = 120)]
    pub stock: u32,
    /// Buyers, one unit each (default: the stock and a quarter more, so it sells out).
    #[arg(long)]
    pub buyers: Option<usize>,
}

/// One row of the flash sale.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub shards: u32,
    /// The per-item limit (0: none).
    pub item_wcu: u64,
    pub buyers: usize,
    pub stock: u32,
    pub confirmed: usize,
    pub rejected: usize,
    pub not_final: usize,
    /// Confirmed orders over the first placement to the last confirmation.
    pub confirmed_per_s: f64,
    /// Placement to a final state.
    pub final_ms: Latency,
    pub conflicts_retried: u64,
    pub throttles: u64,
    pub dead_lettered: u64,
    /// The SKU's stock at the end (the sum of its shards).
    pub stock_left: Option<u64>,
    /// Stock ended at 0 and confirmed = the initial stock.
    pub sold_out_exactly: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlashReport {
    pub sku: String,
    /// Reservations a second one item allows.
    pub r_per_s: f64,
    pub rows: Vec<Row>,
    /// N shards ≥ 0.8 × min(N·R, ceiling).
    pub sharded_reaches_its_bound: bool,
    /// 1 shard ≤ 1.1 × R.
    pub one_shard_within_r: bool,
    pub report: String,
    pub json: String,
}

impl FlashReport {
    pub fn passed(&self) -> bool {
        self.sharded_reaches_its_bound
            && self.one_shard_within_r
            && self
                .rows
                .iter()
                .all(|r| r.sold_out_exactly && r.dead_lettered == 0 && r.not_final == 0)
    }
}

pub async fn command(args: &LoadArgs, state_dir: &Path) -> ExitCode {
    let report = match until_signal(run(args, state_dir)).await {
        Ok(report) => report,
        Err(code) => return code,
    };
    if let Err(code) = print_json(&report, args.json) {
        return code;
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        SAY.line("FAILED: see the rows (sold_out_exactly, dead_lettered, the two bounds)");
        ExitCode::FAILURE
    }
}

#[allow(clippy::float_arithmetic)] // rates and bounds
pub async fn run(args: &LoadArgs, state_dir: &Path) -> Result<FlashReport, LoadError> {
    let f = &args.flash;
    let sku = f.flash.clone().unwrap_or_default();
    let r = f.item_wcu as f64 / 2.0;
    let shapes = [
        ("1 shard".to_owned(), 1, f.item_wcu),
        (format!("{} shards", f.shards), f.shards, f.item_wcu),
        (
            format!("{} shards, no item limit (ceiling)", f.shards),
            f.shards,
            0,
        ),
    ];
    let mut rows = Vec::new();
    for (i, (name, shards, item_wcu)) in shapes.into_iter().enumerate() {
        SAY.line(&format!("row {}: {name}", i + 1));
        let dir = state_dir.join(format!("row-{}", i + 1));
        rows.push(one_row(args, &dir, &sku, name, shards, item_wcu).await?);
    }
    let rate = |i: usize| rows.get(i).map_or(0.0, |r: &Row| r.confirmed_per_s);
    let bound = (f64::from(f.shards) * r).min(rate(2));
    let mut report = FlashReport {
        sku,
        r_per_s: r,
        sharded_reaches_its_bound: rate(1) >= 0.8 * bound,
        one_shard_within_r: rate(0) <= 1.1 * r,
        rows,
        report: String::new(),
        json: String::new(),
    };
    let html = state_dir.join("flash.html");
    let json = state_dir.join("flash.json");
    report.report = html.display().to_string();
    report.json = json.display().to_string();
    std::fs::write(
        &json,
        serde_json::to_vec_pretty(&report).unwrap_or_default(),
    )?;
    std::fs::write(&html, super::html::flash_page(&report, "flash.json"))?;
    if args.cloud.state_dir.is_none() {
        super::report::write_bench_report("flash", &report)?;
    }
    SAY.line(&format!("report: {}", html.display()));
    Ok(report)
}

/// The buyers: one unit each, every card approved, so confirmed = stock when it sells out.
pub fn plan(sku: &str, buyers: usize) -> Vec<Planned> {
    (0..buyers)
        .map(|i| {
            let customer = format!("cust-flash-{}", i % 64);
            Planned {
                body: json!({
                    "customerId": customer,
                    "email": format!("{customer}@example.com"),
                    "items": [{"sku": sku, "quantity": 1}],
                    "paymentToken": "tok_visa",
                }),
                customer,
                key: format!("flash-{i}"),
                sku: sku.to_owned(),
                quantity: 1,
            }
        })
        .collect()
}

async fn one_row(
    args: &LoadArgs,
    dir: &Path,
    sku: &str,
    name: String,
    shards: u32,
    item_wcu: u64,
) -> Result<Row, LoadError> {
    let f = &args.flash;
    let buyers = f.buyers.unwrap_or(f.stock as usize + f.stock as usize / 4);
    let entry = CatalogEntry {
        product: Product {
            sku: Sku::parse(sku).map_err(|e| LoadError::Setup(format!("{sku}: {e}")))?,
            name: "Flash-sale item".to_owned(),
            price: Money::new(4900, Currency::EUR),
            stock: f.stock,
        },
        shards: ShardCount::new(shards).map_err(|e| LoadError::Setup(e.to_string()))?,
    };
    let planned = plan(sku, buyers);
    let harsh = HarshSpec::parse(&format!(
        "conflict_ms=25,item_wcu={item_wcu},seed={}",
        args.seed
    ))
    .map_err(|e| LoadError::Setup(e.to_string()))?;
    let catalog = [entry];
    let cloud = Cloud::start(&args.cloud, dir, own_cloud(&catalog, harsh), SAY).await?;
    let result = measure(args, &cloud, &planned, &catalog[0].product).await;
    let moto_log = cloud.moto_log().unwrap_or_default();
    cloud.shutdown().await;
    let (recorded, stock_left, dead_lettered) = result?;
    Ok(row(
        name,
        shards,
        item_wcu,
        f.stock,
        buyers,
        &recorded,
        stock_left,
        dead_lettered,
        &moto_log,
    ))
}

type Measured = (HashMap<String, Recorded>, Option<u64>, u64);

async fn measure(
    args: &LoadArgs,
    cloud: &Cloud,
    planned: &[Planned],
    product: &Product,
) -> Result<Measured, LoadError> {
    let (_, recorded) = place_all(cloud, planned, args).await?;
    let confirmed = recorded
        .values()
        .filter(|r| r.status() == OrderStatus::Confirmed)
        .count();
    let sold = HashMap::from([(product.sku.as_str(), u64::try_from(confirmed).unwrap_or(0))]);
    let checked = stock::check(&cloud.store(), std::slice::from_ref(product), &sold, |l| {
        SAY.line(l)
    })
    .await;
    let left = checked.first().and_then(|s| s.now);
    Ok((recorded, left, dead_lettered(&cloud.sqs()).await))
}

/// Messages in the stack's dead-letter queues (every queue named a DLQ).
async fn dead_lettered(sqs: &aws_sdk_sqs::Client) -> u64 {
    let Ok(queues) = crate::dlq::all_queues(sqs).await else {
        return 0;
    };
    let mut total = 0;
    for q in queues.iter().filter(|q| q.name.ends_with("DLQ")) {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&q.url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await;
        if let Ok(a) = attrs {
            for k in [
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            ] {
                total += a
                    .attributes()
                    .and_then(|m| m.get(&k))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    total
}

/// Conflicts and throttles the harsh cloud answered, from its lines in the moto log (each was
/// retried inside the function, or its record retried by the queue).
pub fn harsh_counts(moto_log: &str) -> (u64, u64) {
    let count = |kind: &str| {
        let prefix = format!("orderflow-harsh: {kind} ");
        u64::try_from(moto_log.lines().filter(|l| l.contains(&prefix)).count()).unwrap_or(0)
    };
    (count("transaction_conflict"), count("throttle"))
}

#[allow(clippy::too_many_arguments)] // one row's figures, each named
fn row(
    name: String,
    shards: u32,
    item_wcu: u64,
    initial: u32,
    buyers: usize,
    recorded: &HashMap<String, Recorded>,
    stock_left: Option<u64>,
    dead_lettered: u64,
    moto_log: &str,
) -> Row {
    let all: Vec<&Recorded> = recorded.values().collect();
    let count = |s: OrderStatus| all.iter().filter(|o| o.status() == s).count();
    let confirmed = count(OrderStatus::Confirmed);
    let first = all.iter().map(|o| o.created_at).min();
    let last_confirmed = all
        .iter()
        .filter(|o| o.status() == OrderStatus::Confirmed)
        .filter_map(|o| o.changes.last().map(|(_, at)| *at))
        .max();
    let span_s = match (first, last_confirmed) {
        (Some(a), Some(b)) => stats::seconds(b - a),
        _ => 0.0,
    };
    let finals: Vec<u64> = all.iter().filter_map(|o| o.latency_ms()).collect();
    let (conflicts, throttles) = harsh_counts(moto_log);
    let terminal = finals.len();
    Row {
        name,
        shards,
        item_wcu,
        buyers,
        stock: initial,
        confirmed,
        rejected: count(OrderStatus::Rejected),
        not_final: buyers.saturating_sub(terminal),
        confirmed_per_s: stats::per_second(confirmed, span_s),
        final_ms: stats::latency(&finals),
        conflicts_retried: conflicts,
        throttles,
        dead_lettered,
        stock_left,
        sold_out_exactly: stock_left == Some(0) && confirmed == initial as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_moto_log_gives_the_conflicts_and_throttles_answered() {
        let log =
            "orderflow-harsh: transaction_conflict op=TransactWriteItems table=t index=0 item={}\n\
                   orderflow-harsh: throttle op=TransactWriteItems table=t index=0 item={}\n\
                   orderflow-harsh: throttle op=PutItem table=t wcu=1 item={}\n\
                   orderflow-harsh-config: installed\n";
        assert_eq!(harsh_counts(log), (1, 2));
    }

    #[test]
    fn every_buyer_wants_one_unit_with_an_approved_card() {
        let p = plan("SKU-FLASH", 5);
        assert_eq!(p.len(), 5);
        assert!(p.iter().all(|o| o.body["paymentToken"] == "tok_visa"));
        assert!(p.iter().all(|o| o.body["items"][0]["quantity"] == 1));
        let keys: std::collections::HashSet<_> = p.iter().map(|o| &o.key).collect();
        assert_eq!(keys.len(), 5);
    }
}
