//! `orderflow load`: a flash sale against the local cloud, measured.
//!
//! The run: start a local cloud without faults, with the API's authorizer on and every function
//! logging its AWS calls (`ORDERFLOW_COUNT_AWS_CALLS=1`); place `orders` orders, `concurrency`
//! at a time, each one placed and then polled every 200 ms until it is final (CONFIRMED,
//! REJECTED or CANCELLED), which gives its latency and the moment it completed; check that no
//! SKU sold more than its stock (orders and the inventory table); count the functions' AWS
//! calls from the cloud log; replay the same calls straight against the AWS endpoint to see
//! what share of the backend's own capacity the pipeline reaches (see [`replay`]); write the
//! HTML report.

pub mod replay;
pub mod stats;

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use orderflow_shared::adapters::dynamodb::DynamoStore;
use orderflow_shared::domain::{Currency, Money, Sku};
use orderflow_shared::ports::{Catalog, Product};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::local;

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub orders: usize,
    pub concurrency: usize,
    pub seed: u64,
    pub api_url: Option<String>,
    pub endpoint_url: Option<String>,
    pub stack: String,
    pub template: PathBuf,
    pub bin_dir: PathBuf,
    pub state_dir: PathBuf,
    pub instances: usize,
    /// Show the progress bar (on a terminal only).
    pub progress: bool,
    /// An order not final this long after it was placed counts as not terminal.
    pub order_timeout: Duration,
}

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
        self.oversold == 0 && self.not_terminal == 0 && self.stock_mismatch == 0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Setup(String),
    #[error("could not start the local cloud: {0}")]
    Up(#[from] local::UpError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn setup(what: &str) -> impl Fn(&dyn std::fmt::Display) -> LoadError + '_ {
    move |e| LoadError::Setup(format!("{what}: {e}"))
}

fn say(line: &str) {
    eprintln!("load | {line}");
}

// ---------------------------------------------------------------------------------------------
// The workload

/// splitmix64: the same seed plans the same orders.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        if n == 0 {
            0
        } else {
            z % n
        }
    }
}

pub const HOT: &str = "SKU-LOAD-HOT";
pub const PLENTY: [&str; 3] = ["SKU-LOAD-TEE", "SKU-LOAD-MUG", "SKU-LOAD-CAP"];

#[derive(Debug, Clone)]
pub struct Planned {
    pub customer: String,
    pub key: String,
    pub sku: &'static str,
    pub quantity: u32,
    pub body: Value,
}

/// Half the orders want one unit of the hot SKU, whose stock is a quarter of all orders; the
/// rest buy 1–2 units of plentiful SKUs; one order in 20 pays with a declined card.
pub fn plan(orders: usize, seed: u64) -> Result<(Vec<Planned>, Vec<Product>), LoadError> {
    let mut rng = Rng(seed);
    let mut planned = Vec::with_capacity(orders);
    for i in 0..orders {
        let (sku, quantity) = if rng.below(2) == 0 {
            (HOT, 1)
        } else {
            let pick = usize::try_from(rng.below(3)).unwrap_or(0);
            (PLENTY[pick], 1 + u32::try_from(rng.below(2)).unwrap_or(0))
        };
        let token = match rng.below(20) {
            0 => "tok_declined",
            1..=9 => "tok_visa",
            _ => "tok_mastercard",
        };
        let customer = format!("cust-load-{}", rng.below(64));
        let body = json!({
            "customerId": customer,
            "email": format!("{customer}@example.com"),
            "items": [{"sku": sku, "quantity": quantity}],
            "paymentToken": token,
        });
        planned.push(Planned {
            customer,
            key: format!("load-{seed}-{i}"),
            sku,
            quantity,
            body,
        });
    }
    let demand = |sku: &str| -> u32 {
        planned
            .iter()
            .filter(|p| p.sku == sku)
            .map(|p| p.quantity)
            .sum()
    };
    let product = |sku: &str, name: &str, cents: i64, stock: u32| -> Result<Product, LoadError> {
        Ok(Product {
            sku: Sku::parse(sku).map_err(|e| LoadError::Setup(format!("{sku}: {e}")))?,
            name: name.to_owned(),
            price: Money::new(cents, Currency::EUR),
            stock,
        })
    };
    let hot_stock = u32::try_from(orders / 4).unwrap_or(u32::MAX).max(1);
    let mut catalog = vec![product(HOT, "Flash-sale sneaker", 8900, hot_stock)?];
    for (sku, (name, cents)) in
        PLENTY
            .iter()
            .zip([("Load tee", 1999), ("Load mug", 1200), ("Load cap", 2450)])
    {
        catalog.push(product(sku, name, cents, demand(sku) + 10)?);
    }
    Ok((planned, catalog))
}

// ---------------------------------------------------------------------------------------------
// One order: place it, poll it until it is final

/// The function that answers `GET /orders/{id}`: its calls are this run's polling.
const POLLED_FUNCTION: &str = "query-api";

const FINAL: [&str; 3] = ["CONFIRMED", "REJECTED", "CANCELLED"];
const POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Clone)]
struct Outcome {
    index: usize,
    /// The final status, or what it was last seen as.
    status: String,
    latency_ms: Option<u64>,
    /// Milliseconds after the run's start when the order was seen final.
    done_at_ms: Option<u64>,
}

async fn place(
    http: &reqwest::Client,
    api: &str,
    p: &Planned,
    token: Option<&str>,
) -> Result<String, String> {
    let mut last = String::new();
    for attempt in 0u64..20 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(100 * attempt.min(10))).await;
        }
        let mut request = http
            .post(format!("{api}/orders"))
            .header("content-type", "application/json")
            .header("idempotency-key", &p.key)
            .body(p.body.to_string());
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                last = format!("transport: {e}");
                continue;
            }
        };
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match status {
            200..=202 => match body.get("orderId").and_then(Value::as_str) {
                Some(id) => return Ok(id.to_owned()),
                None => last = format!("{status} without an orderId"),
            },
            409 | 429 | 500..=599 => last = format!("{status}: {body}"),
            _ => return Err(format!("{status}: {body}")),
        }
    }
    Err(format!("gave up after 20 attempts; last answer {last}"))
}

async fn status_of(
    http: &reqwest::Client,
    api: &str,
    id: &str,
    token: Option<&str>,
) -> Option<String> {
    let mut request = http.get(format!("{api}/orders/{id}"));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.ok()?;
    if response.status().as_u16() != 200 {
        return None;
    }
    let v: Value = response.json().await.ok()?;
    v.get("status").and_then(Value::as_str).map(str::to_owned)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

struct Shared {
    http: reqwest::Client,
    api: String,
    started: Instant,
    order_timeout: Duration,
}

async fn one_order(shared: &Shared, index: usize, p: &Planned, token: Option<&str>) -> Outcome {
    let sent = Instant::now();
    let mut outcome = Outcome {
        index,
        status: "NOT_ACCEPTED".into(),
        latency_ms: None,
        done_at_ms: None,
    };
    let id = match place(&shared.http, &shared.api, p, token).await {
        Ok(id) => id,
        Err(why) => {
            say(&format!("not accepted: {} → {why}", p.key));
            return outcome;
        }
    };
    outcome.status = "ACCEPTED".into();
    while sent.elapsed() < shared.order_timeout {
        tokio::time::sleep(POLL).await;
        if let Some(status) = status_of(&shared.http, &shared.api, &id, token).await {
            let done = FINAL.contains(&status.as_str());
            outcome.status = status;
            if done {
                outcome.latency_ms = Some(millis(sent.elapsed()));
                outcome.done_at_ms = Some(millis(shared.started.elapsed()));
                break;
            }
        }
    }
    outcome
}

fn progress_bar(len: usize, visible: bool) -> ProgressBar {
    let target = if visible && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(u64::try_from(len).unwrap_or(0)), target);
    if let Ok(style) = ProgressStyle::with_template(
        "load | [{elapsed_precise}] {bar:40} {pos}/{len} final ({per_sec}) {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

// ---------------------------------------------------------------------------------------------
// The run

/// Waits until the count of `aws call` lines in the log has not moved for 2 s (the last
/// notifications are sent after their orders are final), at most 30 s.
async fn settled_calls(log_path: &std::path::Path) -> BTreeMap<String, u64> {
    let total = |c: &BTreeMap<String, u64>| c.values().sum::<u64>();
    let read = || {
        stats::count_aws_calls(
            &std::fs::read_to_string(log_path).unwrap_or_default(),
            |_| true,
        )
    };
    let mut calls = read();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = read();
        if total(&now) == total(&calls) {
            return now;
        }
        calls = now;
    }
    calls
}

pub async fn run(options: &LoadOptions) -> Result<LoadReport, LoadError> {
    std::fs::create_dir_all(&options.state_dir)?;
    let (planned, catalog) = plan(options.orders, options.seed)?;
    let log_path = options.state_dir.join("cloud.log");
    let (cloud, api, endpoint) = match (&options.api_url, &options.endpoint_url) {
        (Some(api), Some(endpoint)) => (None, api.clone(), endpoint.clone()),
        (Some(_), None) => {
            return Err(LoadError::Setup(
                "--api-url needs --endpoint-url too, to seed and read the tables".into(),
            ))
        }
        (None, _) => {
            let seed_path = options.state_dir.join("load-catalog.json");
            local::write_seed(&seed_path, &catalog)?;
            let up = local::UpOptions {
                api_port: 0,
                aws_port: local::free_port()?,
                template: options.template.clone(),
                seed: seed_path,
                bin_dir: options.bin_dir.clone(),
                state_dir: options.state_dir.clone(),
                instances: options.instances,
                visibility_timeout: None,
                stack: options.stack.clone(),
                function_env: BTreeMap::from([(
                    orderflow_shared::aws::COUNT_AWS_CALLS.to_owned(),
                    "1".to_owned(),
                )]),
                aws_faults: orderflow_shared::faults::Faults::default(),
                esm_faults: orderflow_shared::faults::Faults::default(),
                auth: true,
            };
            let logs = local::logs::LogSink::to_file(&log_path, Some(options.state_dir.clone()))?;
            say(&format!(
                "starting a local cloud (log: {})",
                log_path.display()
            ));
            let cloud = local::up(&up, logs).await?;
            let (api, endpoint) = (cloud.api_url.clone(), cloud.endpoint.clone());
            (Some(cloud), api, endpoint)
        }
    };
    let result = drive(options, &planned, &catalog, &api, &endpoint, cloud.as_ref()).await;
    if let Some(cloud) = cloud {
        cloud.shutdown().await;
    }
    result
}

#[allow(clippy::float_arithmetic)] // throughputs, shares and per-order figures are ratios
async fn drive(
    options: &LoadOptions,
    planned: &[Planned],
    catalog: &[Product],
    api: &str,
    endpoint: &str,
    cloud: Option<&local::LocalCloud>,
) -> Result<LoadReport, LoadError> {
    let sdk = local::sdk_config(endpoint).await;
    let tables = local::stack_tables(&options.stack);
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), tables.clone());
    if cloud.is_none() {
        for p in catalog {
            store
                .put_product(p)
                .await
                .map_err(|e| setup("seeding the load SKUs")(&e))?;
        }
    }
    let tokens: HashMap<String, String> = match cloud.and_then(|c| c.issuer.as_ref()) {
        Some(issuer) => {
            let now = chrono::Utc::now().timestamp();
            planned
                .iter()
                .map(|p| {
                    (
                        p.customer.clone(),
                        issuer.token(&p.customer, now, 24 * 3600),
                    )
                })
                .collect()
        }
        None => HashMap::new(),
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(options.concurrency.max(1))
        .build()
        .map_err(|e| setup("HTTP client")(&e))?;
    say(&format!(
        "placing {} orders, {} at a time",
        planned.len(),
        options.concurrency
    ));
    let bar = progress_bar(planned.len(), options.progress);
    let shared = Arc::new(Shared {
        http,
        api: api.to_owned(),
        started: Instant::now(),
        order_timeout: options.order_timeout,
    });
    let gate = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, p) in planned.iter().enumerate() {
        let (shared, gate, p) = (shared.clone(), gate.clone(), p.clone());
        let token = tokens.get(&p.customer).cloned();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.ok();
            one_order(&shared, index, &p, token.as_deref()).await
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
    let pipeline_s = outcomes
        .iter()
        .filter_map(|o| o.done_at_ms)
        .max()
        .map_or(0.0, |ms| ms as f64 / 1000.0);
    let latencies: Vec<u64> = outcomes.iter().filter_map(|o| o.latency_ms).collect();
    let done_at: Vec<u64> = outcomes.iter().filter_map(|o| o.done_at_ms).collect();
    let count = |s: &str| outcomes.iter().filter(|o| o.status == s).count();
    let (confirmed, rejected, cancelled) =
        (count("CONFIRMED"), count("REJECTED"), count("CANCELLED"));
    let terminal = confirmed + rejected + cancelled;
    let throughput = stats::per_second(terminal, pipeline_s);
    say(&format!(
        "{terminal} of {} final in {pipeline_s:.1} s ({throughput:.1} orders/s)",
        planned.len()
    ));

    // Oversold: what the confirmed orders took against the seeded stock and the table's stock.
    let mut sold: HashMap<&str, u64> = HashMap::new();
    for o in outcomes.iter().filter(|o| o.status == "CONFIRMED") {
        if let Some(p) = planned.get(o.index) {
            *sold.entry(p.sku).or_default() += u64::from(p.quantity);
        }
    }
    let skus: Vec<Sku> = catalog.iter().map(|p| p.sku.clone()).collect();
    let now: HashMap<String, u32> = match store.products(&skus).await {
        Ok(products) => products
            .into_iter()
            .map(|p| (p.sku.as_str().to_owned(), p.stock))
            .collect(),
        Err(e) => {
            say(&format!("cannot read the stock: {e}"));
            HashMap::new()
        }
    };
    let (mut oversold, mut stock_mismatch) = (0u64, 0usize);
    for p in catalog {
        let took = sold.get(p.sku.as_str()).copied().unwrap_or(0);
        let initial = u64::from(p.stock);
        oversold += took.saturating_sub(initial);
        if now.get(p.sku.as_str()).map(|s| u64::from(*s)) != Some(initial.saturating_sub(took)) {
            stock_mismatch += 1;
        }
    }

    // The functions' AWS calls, and the same calls replayed straight against the backend.
    let mut poll_calls = 0u64;
    let (calls, per_order, backend, replayed) = if cloud.is_some() {
        let log_path = options.state_dir.join("cloud.log");
        settled_calls(&log_path).await;
        // query-api's reads answer this run's polling, not the order flow: counted apart.
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let calls = stats::count_aws_calls(&log, |f| f != POLLED_FUNCTION);
        poll_calls = stats::count_aws_calls(&log, |f| f == POLLED_FUNCTION)
            .values()
            .sum();
        let total: u64 = calls.values().sum();
        let per_order = stats::ratio(total as f64, confirmed as f64);
        let targets = replay::Targets {
            tables,
            bus: cloud.and_then(|c| match c.deployment.resources.get("OrderEventBus") {
                Some(local::resources::Physical::Bus { name, .. }) => Some(name.clone()),
                _ => None,
            }),
            topic_arn: cloud.and_then(|c| {
                match c.deployment.resources.get("CustomerNotificationsTopic") {
                    Some(local::resources::Physical::Topic { arn, .. }) => Some(arn.clone()),
                    _ => None,
                }
            }),
        };
        say(&format!(
            "{total} AWS calls ({per_order:.1} per confirmed order); replaying them against {endpoint}"
        ));
        let r = replay::replay(&sdk, targets, &calls, planned.len(), options.concurrency).await;
        let backend = stats::per_second(planned.len(), r.seconds);
        say(&format!(
            "backend: {} calls in {:.1} s ({backend:.1} orders/s), {} failed, {} substituted",
            r.calls, r.seconds, r.failed, r.substituted
        ));
        (calls, Some(per_order), Some(backend), Some(r))
    } else {
        (BTreeMap::new(), None, None, None)
    };

    let report_path = options.state_dir.join("report.html");
    let mut report = LoadReport {
        orders: planned.len(),
        confirmed,
        rejected,
        cancelled,
        not_terminal: planned.len() - terminal,
        oversold,
        stock_mismatch,
        duration_s: pipeline_s,
        throughput_orders_per_s: throughput,
        latency_ms: stats::latency(&latencies),
        aws_calls_per_order: per_order,
        aws_calls: calls,
        poll_aws_calls: poll_calls,
        backend_throughput_orders_per_s: backend,
        backend_share: backend.map(|b| stats::ratio(throughput, b)),
        replay: replayed.map(|r| ReplaySummary {
            calls: r.calls,
            failed: r.failed,
            substituted: r.substituted,
            duration_s: r.seconds,
        }),
        report: report_path.display().to_string(),
        log: cloud.map(|_| options.state_dir.join("cloud.log").display().to_string()),
    };
    let summary = serde_json::to_value(&report).unwrap_or(Value::Null);
    std::fs::write(
        &report_path,
        stats::html_report(&summary, &latencies, &done_at),
    )?;
    say(&format!("report: {}", report_path.display()));
    if let Some(per_order) = report.aws_calls_per_order {
        write_bench(&report, per_order)?;
    }
    report.report = report_path.display().to_string();
    Ok(report)
}

/// `target/bench/aws-calls.json`, which `make bench` reads when it is there.
fn write_bench(report: &LoadReport, per_order: f64) -> std::io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_is_seeded_sells_the_hot_sku_out_and_stocks_the_rest_for_every_order() {
        let (a, catalog) = plan(400, 7).unwrap();
        let (b, _) = plan(400, 7).unwrap();
        assert_eq!(
            a.iter().map(|p| p.body.to_string()).collect::<Vec<_>>(),
            b.iter().map(|p| p.body.to_string()).collect::<Vec<_>>()
        );
        let hot = a.iter().filter(|p| p.sku == HOT).count() as u32;
        let hot_stock = catalog[0].stock;
        assert_eq!(hot_stock, 100);
        assert!(hot > hot_stock, "{hot} hot orders, stock {hot_stock}");
        for sku in PLENTY {
            let demand: u32 = a.iter().filter(|p| p.sku == sku).map(|p| p.quantity).sum();
            let stock = catalog
                .iter()
                .find(|p| p.sku.as_str() == sku)
                .unwrap()
                .stock;
            assert!(stock >= demand);
        }
        assert!(a.iter().any(|p| p.body["paymentToken"] == "tok_declined"));
        for p in &a {
            assert!(
                orderflow_shared::api::parse_place_order(p.body.to_string().as_bytes()).is_ok()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The command

#[derive(clap::Args)]
pub struct LoadArgs {
    #[arg(long, default_value_t = 2000)]
    orders: usize,
    /// Orders in flight at once (each is placed, then polled until final).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Plans the workload.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Print the report as one JSON object on stdout, and no progress bar.
    #[arg(long)]
    json: bool,
    /// Use the local cloud at this API URL instead of starting one (its AWS calls cannot be
    /// counted then).
    #[arg(long, requires = "endpoint_url")]
    api_url: Option<String>,
    /// The AWS endpoint of the cloud at --api-url.
    #[arg(long)]
    endpoint_url: Option<String>,
    #[arg(long, default_value = "orderflow-local")]
    stack: String,
    #[arg(long, default_value = "infra/template.yaml")]
    template: PathBuf,
    #[arg(long, default_value = "target/debug")]
    bin_dir: PathBuf,
    /// Where the run keeps its cloud's log and the report (a fresh folder per run by default).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Processes per function.
    #[arg(long, default_value_t = 2)]
    instances: usize,
    /// An order not final this many seconds after it was placed counts as not terminal (more
    /// than two of the template's 120 s visibility timeouts: a timed-out batch is retried).
    #[arg(long, default_value_t = 300)]
    order_timeout: u64,
}

pub async fn main(args: LoadArgs) -> std::process::ExitCode {
    use std::process::ExitCode;
    let state_dir = args.state_dir.unwrap_or_else(|| {
        PathBuf::from(format!(
            "target/load/run-{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S"),
            std::process::id()
        ))
    });
    let options = LoadOptions {
        orders: args.orders,
        concurrency: args.concurrency,
        seed: args.seed,
        api_url: args.api_url,
        endpoint_url: args.endpoint_url,
        stack: args.stack,
        template: args.template,
        bin_dir: args.bin_dir,
        state_dir,
        instances: args.instances,
        progress: !args.json,
        order_timeout: Duration::from_secs(args.order_timeout),
    };
    // Ctrl-C drops the run, and with it the local cloud and every process it started.
    let report = tokio::select! {
        result = run(&options) => match result {
            Ok(report) => report,
            Err(e) => return crate::fail(&e),
        },
        () = crate::wait_for_signal() => return crate::fail(&"interrupted; the local cloud is stopped"),
    };
    let text = if args.json {
        serde_json::to_string(&report)
    } else {
        serde_json::to_string_pretty(&report)
    };
    match text {
        Ok(text) => println!("{text}"),
        Err(e) => return crate::fail(&e),
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        say(&format!(
            "FAILED: oversold={} not_terminal={} stock_mismatch={}",
            report.oversold, report.not_terminal, report.stock_mismatch
        ));
        ExitCode::FAILURE
    }
}
