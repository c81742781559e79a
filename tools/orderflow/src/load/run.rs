//! One load run: the cloud, every order placed (and only placed), their ends read from their
//! own histories, the stock checked, the AWS calls counted, priced and replayed, the report
//! written.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use orderflow_shared::domain::OrderStatus;
use orderflow_shared::faults::Faults;
use orderflow_shared::ports::{CatalogEntry, Product};
use tokio::sync::Semaphore;

use super::history::{self, Recorded};
use super::order::{place, Placement};
use super::plan::{plan, Planned};
use super::report::{write_bench, LoadReport, ReplaySummary};
use super::{calls, follow, stats, LoadArgs, LoadError, SAY};
use crate::harness::{stock, Api, Cloud, OwnCloud};
use crate::local::moto::HarshSpec;

/// Runs the whole thing; `state_dir` keeps the cloud's log, state and the HTML report.
pub async fn run(args: &LoadArgs, state_dir: &Path) -> Result<LoadReport, LoadError> {
    let (planned, catalog) = plan(args.orders, args.seed)?;
    let entries: Vec<CatalogEntry> = catalog.iter().map(CatalogEntry::from).collect();
    let cloud = Cloud::start(
        &args.cloud,
        state_dir,
        own_cloud(&entries, harsh(args)?),
        SAY,
    )
    .await?;
    let result = drive(args, &cloud, &planned, &catalog).await;
    cloud.shutdown().await;
    let mut report = result?;
    write_report(&mut report, state_dir, args.json)?;
    // A run in a folder of its own choosing (the end-to-end tests) leaves the bench figures.
    if let (None, Some(per_order)) = (&args.cloud.state_dir, report.aws_calls_per_order) {
        write_bench(&report, per_order)?;
    }
    Ok(report)
}

/// The harsh cloud's spec of a run: `--harsh`, or DynamoDB's nature at AWS's figures (which
/// also answers `ReturnConsumedCapacity` with what DynamoDB would bill).
pub fn harsh(args: &LoadArgs) -> Result<HarshSpec, LoadError> {
    HarshSpec::parse(args.harsh.as_deref().unwrap_or(""))
        .map_err(|e| LoadError::Setup(e.to_string()))
}

/// A cloud without faults, the API's authorizer on, every function logging its AWS calls.
pub fn own_cloud(catalog: &[CatalogEntry], harsh: HarshSpec) -> OwnCloud<'_> {
    OwnCloud {
        name: "load",
        catalog,
        function_env: BTreeMap::from([(
            orderflow_shared::aws::COUNT_AWS_CALLS.to_owned(),
            "1".to_owned(),
        )]),
        aws_faults: Faults::default(),
        esm_faults: Faults::default(),
        visibility_timeout: None,
        auth: true,
        harsh: Some(harsh),
    }
}

/// Places every order, waits gently until they are final and reads what they recorded.
pub async fn place_all(
    cloud: &Cloud,
    planned: &[Planned],
    args: &LoadArgs,
) -> Result<(Vec<Placement>, HashMap<String, Recorded>), LoadError> {
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
    let placements = place_every(&cloud.api(http), planned, &tokens, args).await;
    let ids: HashSet<String> = placements
        .iter()
        .filter_map(|p| p.id.as_ref().map(|id| id.as_str().to_owned()))
        .collect();
    let accepted = placements
        .iter()
        .filter(|p| p.id.is_some() && !p.unanswered)
        .count();
    let dynamodb = aws_sdk_dynamodb::Client::new(cloud.sdk());
    let table = cloud.names().tables().orders.clone();
    let bar = SAY.bar(ids.len(), !args.json, "final");
    follow::until_final(
        &dynamodb,
        &table,
        &ids,
        accepted,
        Duration::from_secs(args.order_timeout),
        |done| bar.set_position(u64::try_from(done).unwrap_or(0)),
    )
    .await
    .map_err(LoadError::Setup)?;
    bar.finish_and_clear();
    SAY.line("reading the orders' histories and the customer inbox");
    let recorded = follow::recorded(&dynamodb, &table)
        .await
        .map_err(LoadError::Setup)?;
    let told = match cloud.inbox().await {
        // Ten notifications a receive, and some room for duplicates.
        Ok(inbox) => follow::told(&cloud.sqs(), inbox.url(), ids.len() / 5 + 10).await,
        Err(e) => {
            SAY.line(&format!("no inbox, stage 'told' left out: {e}"));
            HashMap::new()
        }
    };
    SAY.line(&format!(
        "{} orders recorded, {} customers told",
        recorded.len(),
        told.len()
    ));
    let mut recorded = history::join_told(recorded, &told);
    recorded.retain(|id, _| ids.contains(id));
    Ok((placements, recorded))
}

async fn drive(
    args: &LoadArgs,
    cloud: &Cloud,
    planned: &[Planned],
    catalog: &[Product],
) -> Result<LoadReport, LoadError> {
    let (placements, recorded) = place_all(cloud, planned, args).await?;
    let mut report = summarise(planned, &recorded);
    SAY.line(&format!(
        "{} of {} final in {:.1} s ({:.1} orders/s)",
        report.confirmed + report.rejected + report.cancelled,
        planned.len(),
        report.duration_s,
        report.throughput_orders_per_s
    ));
    let by_id: HashMap<&str, &Planned> = placements
        .iter()
        .filter_map(|p| Some((p.id.as_ref()?.as_str(), planned.get(p.index)?)))
        .collect();
    let mut sold: HashMap<&str, u64> = HashMap::new();
    for (id, r) in &recorded {
        if let (OrderStatus::Confirmed, Some(p)) = (r.status(), by_id.get(id.as_str())) {
            *sold.entry(p.sku.as_str()).or_default() += u64::from(p.quantity);
        }
    }
    SAY.line("checking the stock");
    for sku in stock::check(&cloud.store(), catalog, &sold, |line| SAY.line(line)).await {
        report.oversold += sku.oversold();
        report.stock_mismatch += usize::from(!sku.adds_up());
    }
    if let (true, Some(log)) = (cloud.is_own(), cloud.log_path()) {
        let measured = calls::measure(cloud, log, planned.len(), report.confirmed, args).await;
        add_calls(&mut report, measured, args)?;
        report.log = Some(log.display().to_string());
    }
    add_metrics(&mut report, cloud).await;
    Ok(report)
}

/// Every planned order placed, `concurrency` at a time.
async fn place_every(
    api: &Api,
    planned: &[Planned],
    tokens: &HashMap<String, String>,
    args: &LoadArgs,
) -> Vec<Placement> {
    let bar = SAY.bar(planned.len(), !args.json, "placed");
    let gate = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, p) in planned.iter().enumerate() {
        let (api, gate, p) = (api.clone(), gate.clone(), p.clone());
        let token = tokens.get(&p.customer).cloned();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.ok();
            place(&api, index, &p, token.as_deref()).await
        });
    }
    let mut out = Vec::with_capacity(planned.len());
    while let Some(joined) = tasks.join_next().await {
        if let Ok(p) = joined {
            bar.inc(1);
            out.push(p);
        }
    }
    bar.finish_and_clear();
    out
}

/// The counts, duration, throughput and latencies, from the orders' own records.
pub fn summarise(planned: &[Planned], recorded: &HashMap<String, Recorded>) -> LoadReport {
    let all: Vec<&Recorded> = recorded.values().collect();
    let (duration_s, ends) = history::span(&all);
    let count = |s: OrderStatus| all.iter().filter(|o| o.status() == s).count();
    let (confirmed, rejected, cancelled) = (
        count(OrderStatus::Confirmed),
        count(OrderStatus::Rejected),
        count(OrderStatus::Cancelled),
    );
    let terminal = confirmed + rejected + cancelled;
    let latencies: Vec<u64> = ends.iter().map(|(_, l)| *l).collect();
    LoadReport {
        orders: planned.len(),
        confirmed,
        rejected,
        cancelled,
        not_terminal: planned.len().saturating_sub(terminal),
        oversold: 0,
        stock_mismatch: 0,
        duration_s,
        throughput_orders_per_s: stats::per_second(terminal, duration_s),
        latency_ms: stats::latency(&latencies),
        stages_ms: history::stages(&all),
        ends_ms: ends,
        aws_calls_per_order: None,
        aws_calls: BTreeMap::new(),
        usage: None,
        cost: None,
        backend_throughput_orders_per_s: None,
        backend_share: None,
        replay: None,
        report: String::new(),
        json: String::new(),
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

fn add_calls(
    report: &mut LoadReport,
    measured: calls::Calls,
    args: &LoadArgs,
) -> Result<(), LoadError> {
    report.aws_calls_per_order = Some(measured.per_order);
    report.aws_calls = measured.usage.counts();
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
    let prices =
        super::cost::read_prices(&args.prices).map_err(|e| LoadError::Setup(e.to_string()))?;
    let run = super::cost::Run {
        http_requests: u64::try_from(report.orders).unwrap_or(0),
        confirmed: report.confirmed,
        throughput_orders_per_s: report.throughput_orders_per_s,
        arm64: true,
    };
    report.cost = Some(super::cost::price(
        &measured.usage,
        run,
        &prices,
        &args.prices.display().to_string(),
    ));
    report.usage = Some(measured.usage);
    Ok(())
}

/// `<state dir>/report.html` beside `<state dir>/report.json`.
pub fn write_report(
    report: &mut LoadReport,
    state_dir: &Path,
    quiet: bool,
) -> Result<(), LoadError> {
    let path = state_dir.join("report.html");
    let json = state_dir.join("report.json");
    report.report = path.display().to_string();
    report.json = json.display().to_string();
    std::fs::write(
        &json,
        serde_json::to_vec_pretty(&*report).unwrap_or_default(),
    )?;
    std::fs::write(&path, super::html::load_page(report, "report.json"))?;
    if !quiet {
        SAY.line(&format!("report: {}", path.display()));
    }
    Ok(())
}
