//! One load run: the cloud, every order placed and followed to its end, the stock checked, the
//! AWS calls counted and replayed, the report written.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use orderflow_shared::domain::OrderStatus;
use orderflow_shared::faults::Faults;
use orderflow_shared::ports::Product;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::calls::{self, Calls};
use super::order::{one_order, Clock, Outcome};
use super::plan::{plan, Planned};
use super::report::{write_bench, LoadReport, ReplaySummary};
use super::{stats, LoadArgs, LoadError, SAY};
use crate::harness::{stock, Api, Cloud, OwnCloud};

/// Runs the whole thing; `state_dir` keeps the cloud's log, state and the HTML report.
pub async fn run(args: &LoadArgs, state_dir: &Path) -> Result<LoadReport, LoadError> {
    let (planned, catalog) = plan(args.orders, args.seed)?;
    let own = OwnCloud {
        name: "load",
        catalog: &catalog,
        // Every function logs its AWS calls, to be counted.
        function_env: BTreeMap::from([(
            orderflow_shared::aws::COUNT_AWS_CALLS.to_owned(),
            "1".to_owned(),
        )]),
        aws_faults: Faults::default(),
        esm_faults: Faults::default(),
        visibility_timeout: None,
        auth: true,
        harsh: None,
    };
    let cloud = Cloud::start(&args.cloud, state_dir, own, SAY).await?;
    let result = drive(args, state_dir, &cloud, &planned, &catalog).await;
    cloud.shutdown().await;
    result
}

async fn drive(
    args: &LoadArgs,
    state_dir: &Path,
    cloud: &Cloud,
    planned: &[Planned],
    catalog: &[Product],
) -> Result<LoadReport, LoadError> {
    let tokens = cloud.tokens(planned.iter().map(|p| p.customer.as_str()), 24 * 3600)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(args.concurrency.max(1))
        .build()
        .map_err(|e| LoadError::Setup(format!("HTTP client: {e}")))?;
    SAY.line(&format!(
        "placing {} orders, {} at a time",
        planned.len(),
        args.concurrency
    ));
    let clock = Clock {
        started: Instant::now(),
        order_timeout: Duration::from_secs(args.order_timeout),
    };
    let outcomes = place_and_follow(&cloud.api(http), clock, planned, &tokens, args).await;
    let mut report = summarise(planned, &outcomes);
    SAY.line(&format!(
        "{} of {} final in {:.1} s ({:.1} orders/s)",
        report.confirmed + report.rejected + report.cancelled,
        planned.len(),
        report.duration_s,
        report.throughput_orders_per_s
    ));

    // Oversold: what the confirmed orders took against the seeded stock and the table's stock.
    let mut sold: HashMap<&str, u64> = HashMap::new();
    for o in outcomes.iter().filter(|o| o.is(OrderStatus::Confirmed)) {
        if let Some(p) = planned.get(o.index) {
            *sold.entry(p.sku).or_default() += u64::from(p.quantity);
        }
    }
    for sku in stock::check(&cloud.store(), catalog, &sold, |line| SAY.line(line)).await {
        report.oversold += sku.oversold();
        report.stock_mismatch += usize::from(!sku.adds_up());
    }

    // The functions' AWS calls, and the same calls replayed straight against the backend.
    if let (true, Some(log)) = (cloud.is_own(), cloud.log_path()) {
        let measured = calls::measure(
            cloud,
            log,
            planned.len(),
            report.confirmed,
            args.concurrency,
        )
        .await;
        add_calls(&mut report, measured);
        report.log = Some(log.display().to_string());
    }
    add_metrics(&mut report, cloud).await;
    write_report(&mut report, state_dir, &outcomes)?;
    Ok(report)
}

/// Every planned order placed and followed, `concurrency` at a time, with a progress bar.
async fn place_and_follow(
    api: &Api,
    clock: Clock,
    planned: &[Planned],
    tokens: &HashMap<String, String>,
    args: &LoadArgs,
) -> Vec<Outcome> {
    let bar = SAY.bar(planned.len(), !args.json, "final");
    let clock = Arc::new(clock);
    let gate = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, p) in planned.iter().enumerate() {
        let (api, clock, gate, p) = (api.clone(), clock.clone(), gate.clone(), p.clone());
        let token = tokens.get(&p.customer).cloned();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.ok();
            one_order(&api, &clock, index, &p, token.as_deref()).await
        });
    }
    let mut outcomes = Vec::with_capacity(planned.len());
    while let Some(joined) = tasks.join_next().await {
        if let Ok(o) = joined {
            bar.inc(1);
            outcomes.push(o);
        }
    }
    bar.finish_and_clear();
    outcomes
}

/// The counts, duration, throughput and latencies of the outcomes.
#[allow(clippy::float_arithmetic)] // seconds from milliseconds
fn summarise(planned: &[Planned], outcomes: &[Outcome]) -> LoadReport {
    let pipeline_s = outcomes
        .iter()
        .filter_map(|o| o.done_at_ms)
        .max()
        .map_or(0.0, |ms| ms as f64 / 1000.0);
    let latencies: Vec<u64> = outcomes.iter().filter_map(|o| o.latency_ms).collect();
    let count = |s: OrderStatus| outcomes.iter().filter(|o| o.is(s)).count();
    let (confirmed, rejected, cancelled) = (
        count(OrderStatus::Confirmed),
        count(OrderStatus::Rejected),
        count(OrderStatus::Cancelled),
    );
    let terminal = confirmed + rejected + cancelled;
    LoadReport {
        orders: planned.len(),
        confirmed,
        rejected,
        cancelled,
        not_terminal: planned.len() - terminal,
        oversold: 0,
        stock_mismatch: 0,
        duration_s: pipeline_s,
        throughput_orders_per_s: stats::per_second(terminal, pipeline_s),
        latency_ms: stats::latency(&latencies),
        aws_calls_per_order: None,
        aws_calls: BTreeMap::new(),
        poll_aws_calls: 0,
        backend_throughput_orders_per_s: None,
        backend_share: None,
        replay: None,
        report: String::new(),
        log: None,
        metrics: None,
        metrics_mismatch: Vec::new(),
    }
}

/// The functions' metrics of the run, checked against its final orders.
async fn add_metrics(report: &mut LoadReport, cloud: &Cloud) {
    let finished = (report.confirmed + report.rejected + report.cancelled) as u64;
    let wait = Duration::from_secs(10);
    let kept = crate::local::metrics::settled(&cloud.state_dir, finished, wait).await;
    if kept.series.is_empty() {
        return;
    }
    let metrics = kept.orders();
    report.metrics_mismatch = crate::local::metrics::mismatches(
        &metrics,
        report.confirmed as u64,
        report.rejected as u64,
        report.cancelled as u64,
    );
    report.metrics = Some(metrics);
}

fn add_calls(report: &mut LoadReport, measured: Calls) {
    report.aws_calls_per_order = Some(measured.per_order);
    report.aws_calls = measured.calls;
    report.poll_aws_calls = measured.poll_calls;
    report.backend_throughput_orders_per_s = Some(measured.backend);
    report.backend_share = Some(stats::ratio(
        report.throughput_orders_per_s,
        measured.backend,
    ));
    report.replay = Some(ReplaySummary {
        calls: measured.replayed.calls,
        failed: measured.replayed.failed,
        substituted: measured.replayed.substituted,
        duration_s: measured.replayed.seconds,
    });
}

/// `<state dir>/report.html`, and `target/bench/aws-calls.json` when the calls were counted.
fn write_report(
    report: &mut LoadReport,
    state_dir: &Path,
    outcomes: &[Outcome],
) -> Result<(), LoadError> {
    let path = state_dir.join("report.html");
    report.report = path.display().to_string();
    let latencies: Vec<u64> = outcomes.iter().filter_map(|o| o.latency_ms).collect();
    let done_at: Vec<u64> = outcomes.iter().filter_map(|o| o.done_at_ms).collect();
    let summary = serde_json::to_value(&*report).unwrap_or(Value::Null);
    std::fs::write(&path, stats::html_report(&summary, &latencies, &done_at))?;
    SAY.line(&format!("report: {}", path.display()));
    if let Some(per_order) = report.aws_calls_per_order {
        write_bench(report, per_order)?;
    }
    Ok(())
}
