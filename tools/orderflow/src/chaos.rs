//! `orderflow chaos`: a mixed workload under injected faults, then a count of everything that
//! went wrong, the way Jepsen's queue checker counts: every order the API accepted is looked up
//! in the orders table, the payment ledger, the provider's own record of charges, the stock and
//! the customer inbox.
//!
//! The run: start a local cloud with faults in the functions, in front of the AWS endpoint and
//! in the event source mappings (or use one at `--api-url`); place the workload, retrying the
//! way a storefront does (same `Idempotency-Key`); wait until the orders settle; stop the
//! faults; redrive the dead-letter queues; wait until every order is final, every queue is
//! empty and every customer has been told; count.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use orderflow_shared::adapters::dynamodb::DynamoStore;
use orderflow_shared::domain::{Currency, Money, OrderId, Sku};
use orderflow_shared::faults::Faults;
use orderflow_shared::ports::{Catalog, ChargeOutcome, PaymentLedger, Product};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::dlq;
use crate::local;

/// Everything `orderflow chaos` is asked to do.
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    pub orders: usize,
    pub seed: u64,
    pub concurrency: usize,
    /// Use this running API instead of starting a local cloud (needs `endpoint_url`).
    pub api_url: Option<String>,
    pub endpoint_url: Option<String>,
    pub stack: String,
    pub template: PathBuf,
    pub bin_dir: PathBuf,
    pub state_dir: PathBuf,
    pub instances: usize,
    pub visibility_timeout: i32,
    /// `ORDERFLOW_FAULTS` for the functions.
    pub function_faults: String,
    pub aws_faults: String,
    pub esm_faults: String,
    /// The whole run gives up (and counts what is unfinished as stuck) after this long.
    pub timeout: Duration,
}

/// The counts. A run passes when every field of [`Report::failures`] is zero.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Report {
    pub seed: u64,
    pub orders: usize,
    /// Orders the API accepted (202), after client retries.
    pub accepted: usize,
    pub confirmed: usize,
    pub rejected: usize,
    pub cancelled: usize,
    /// Accepted, but the order cannot be found.
    pub lost: usize,
    /// Orders the provider charged under more than one charge id.
    pub double_charged: usize,
    /// Units sold beyond a SKU's stock.
    pub oversold: u64,
    /// Accepted orders not in a final state at the end.
    pub stuck: usize,
    /// Notifications beyond the first for an order.
    pub duplicate_notifications: usize,
    /// Final orders whose customer was never told.
    pub missing_notifications: usize,
    /// Final state not the one the order had to reach (e.g. declined but confirmed, or
    /// rejected while its SKU still had stock).
    pub wrong_outcome: usize,
    /// Ledger or provider disagreeing with the order: charged but not confirmed, confirmed
    /// without an approved charge, ledger entry missing or of the wrong kind.
    pub payment_mismatch: usize,
    /// SKUs whose final stock is not the seeded stock minus what confirmed orders took.
    pub stock_mismatch: usize,
    /// Requests sent twice with one `Idempotency-Key` that got two different orders.
    pub duplicate_key_violations: usize,
    /// Valid requests the API refused (a 4xx other than "retry") or never accepted.
    pub api_refused: usize,
    /// Log lines carrying an e-mail address or a payment token.
    pub sensitive_log_lines: usize,
    /// `null` against an `--api-url` cloud, whose logs this run cannot read.
    pub faults_injected: Option<u64>,
    pub faults: FaultCounts,
    /// Messages moved from dead-letter queues back to their queues after faults stopped.
    pub redriven: u64,
    /// Charges the provider approved (including repeats it recognised by idempotency key).
    pub provider_charges: Option<u64>,
    pub duration_s: f64,
    pub log: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct FaultCounts {
    pub error_before: u64,
    pub error_after: u64,
    pub crash: u64,
    pub delay: u64,
    pub aws_throttle: u64,
    pub aws_unavailable: u64,
    pub duplicate_delivery: u64,
}

impl FaultCounts {
    fn total(&self) -> u64 {
        self.error_before
            + self.error_after
            + self.crash
            + self.delay
            + self.aws_throttle
            + self.aws_unavailable
            + self.duplicate_delivery
    }
}

impl Report {
    /// The counts that must be zero, with their names.
    pub fn failures(&self) -> Vec<(&'static str, u64)> {
        let as_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        [
            ("lost", as_u64(self.lost)),
            ("double_charged", as_u64(self.double_charged)),
            ("oversold", self.oversold),
            ("stuck", as_u64(self.stuck)),
            (
                "duplicate_notifications",
                as_u64(self.duplicate_notifications),
            ),
            ("missing_notifications", as_u64(self.missing_notifications)),
            ("wrong_outcome", as_u64(self.wrong_outcome)),
            ("payment_mismatch", as_u64(self.payment_mismatch)),
            ("stock_mismatch", as_u64(self.stock_mismatch)),
            (
                "duplicate_key_violations",
                as_u64(self.duplicate_key_violations),
            ),
            ("api_refused", as_u64(self.api_refused)),
            ("sensitive_log_lines", as_u64(self.sensitive_log_lines)),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    #[error("{0}")]
    Setup(String),
    #[error("could not start the local cloud: {0}")]
    Up(#[from] local::UpError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

// ---------------------------------------------------------------------------------------------
// The workload

/// A small deterministic generator (splitmix64): the same seed plans the same orders.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    /// An approved card, a SKU with plenty of stock: must be CONFIRMED.
    Approved,
    /// A declined card: must be CANCELLED, its stock given back.
    Declined,
    /// One unit of the flash-sale SKU, whose stock is a third of its orders.
    Hot,
    /// A SKU with no stock: must be REJECTED.
    OutOfStock,
    /// An approved order sent twice at once with one `Idempotency-Key`: one CONFIRMED order.
    DuplicateKey,
}

#[derive(Debug, Clone)]
pub struct Planned {
    pub kind: Kind,
    pub customer: String,
    pub key: String,
    pub sku: &'static str,
    pub quantity: u32,
    pub body: Value,
}

const PLENTY: [&str; 3] = ["SKU-CHAOS-TEE", "SKU-CHAOS-MUG", "SKU-CHAOS-CAP"];
const HOT: &str = "SKU-CHAOS-HOT";
const GONE: &str = "SKU-CHAOS-GONE";

/// The orders of a run and the catalog they are placed against.
pub fn plan(orders: usize, seed: u64) -> Result<(Vec<Planned>, Vec<Product>), ChaosError> {
    let mut rng = Rng(seed);
    let mut planned = Vec::with_capacity(orders);
    for i in 0..orders {
        let kind = match rng.below(100) {
            0..=54 => Kind::Approved,
            55..=69 => Kind::Declined,
            70..=84 => Kind::Hot,
            85..=91 => Kind::OutOfStock,
            _ => Kind::DuplicateKey,
        };
        let (sku, quantity) = match kind {
            Kind::Hot => (HOT, 1),
            Kind::OutOfStock => (GONE, 1),
            _ => {
                let pick = usize::try_from(rng.below(3)).unwrap_or(0);
                (PLENTY[pick], 1 + u32::try_from(rng.below(3)).unwrap_or(0))
            }
        };
        let token = match kind {
            Kind::Declined => "tok_declined",
            _ if rng.below(2) == 0 => "tok_visa",
            _ => "tok_mastercard",
        };
        let customer = format!("cust-chaos-{}", rng.below(64));
        let body = json!({
            "customerId": customer,
            "email": format!("{customer}@example.com"),
            "items": [{"sku": sku, "quantity": quantity}],
            "paymentToken": token,
        });
        planned.push(Planned {
            kind,
            customer: customer.clone(),
            key: format!("chaos-{seed}-{i}"),
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
    let hot_orders =
        u32::try_from(planned.iter().filter(|p| p.kind == Kind::Hot).count()).unwrap_or(u32::MAX);
    let product = |sku: &str, name: &str, cents: i64, stock: u32| -> Result<Product, ChaosError> {
        Ok(Product {
            sku: Sku::parse(sku).map_err(|e| ChaosError::Setup(format!("{sku}: {e}")))?,
            name: name.to_owned(),
            price: Money::new(cents, Currency::EUR),
            stock,
        })
    };
    let mut catalog = Vec::new();
    for (sku, (name, cents)) in PLENTY.iter().zip([
        ("Chaos tee", 1999),
        ("Chaos mug", 1200),
        ("Chaos cap", 2450),
    ]) {
        // Enough for every order, so an approved order has exactly one right outcome.
        catalog.push(product(sku, name, cents, demand(sku) + 25)?);
    }
    catalog.push(product(
        HOT,
        "Chaos flash sneaker",
        8900,
        (hot_orders / 3).max(1),
    )?);
    catalog.push(product(GONE, "Chaos sold-out jacket", 12900, 0)?);
    Ok((planned, catalog))
}

// ---------------------------------------------------------------------------------------------
// Placing orders the way a storefront does

#[derive(Debug, Clone, PartialEq, Eq)]
enum Placed {
    Accepted(String),
    /// The API refused a valid request, or never accepted it after every retry.
    Refused(String),
}

fn authorized(request: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(t) => request.bearer_auth(t),
        None => request,
    }
}

async fn place(http: &reqwest::Client, api: &str, p: &Planned, token: Option<&str>) -> Placed {
    let mut last = String::new();
    for attempt in 0u32..40 {
        if attempt > 0 {
            let backoff = 100u64.saturating_mul(u64::from(attempt.min(20)));
            tokio::time::sleep(Duration::from_millis(backoff)).await;
        }
        let sent = authorized(http.post(format!("{api}/orders")), token)
            .header("content-type", "application/json")
            .header("idempotency-key", &p.key)
            .body(p.body.to_string())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                last = format!("transport: {e}");
                continue;
            }
        };
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match status {
            200..=202 => {
                if let Some(id) = body.get("orderId").and_then(Value::as_str) {
                    return Placed::Accepted(id.to_owned());
                }
                last = format!("{status} without an orderId: {body}");
            }
            // Throttled, or a transient failure: retry, same key.
            429 | 500..=599 => last = format!("{status}: {body}"),
            _ => return Placed::Refused(format!("{status}: {body}")),
        }
    }
    Placed::Refused(format!("gave up after 40 attempts; last answer {last}"))
}

// ---------------------------------------------------------------------------------------------
// Watching and counting

const FINAL: [&str; 3] = ["CONFIRMED", "CANCELLED", "REJECTED"];

async fn status_of(
    http: &reqwest::Client,
    api: &str,
    id: &str,
    token: Option<&str>,
) -> Option<String> {
    let response = authorized(http.get(format!("{api}/orders/{id}")), token)
        .send()
        .await
        .ok()?;
    match response.status().as_u16() {
        404 => Some("MISSING".into()),
        200 => {
            let v: Value = response.json().await.ok()?;
            v.get("status").and_then(Value::as_str).map(str::to_owned)
        }
        _ => None,
    }
}

/// Reads the status of every order not yet final; returns how many changed.
async fn refresh(
    http: &reqwest::Client,
    api: &str,
    statuses: &mut BTreeMap<String, String>,
    tokens: &HashMap<String, String>,
    concurrency: usize,
) -> usize {
    let open: Vec<String> = statuses
        .iter()
        .filter(|(_, s)| !FINAL.contains(&s.as_str()))
        .map(|(id, _)| id.clone())
        .collect();
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for id in open {
        let (http, api, gate) = (http.clone(), api.to_owned(), gate.clone());
        let token = tokens.get(&id).cloned();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.ok();
            let status = status_of(&http, &api, &id, token.as_deref()).await;
            (id, status)
        });
    }
    let mut changed = 0;
    while let Some(Ok((id, status))) = tasks.join_next().await {
        if let Some(status) = status {
            if statuses.get(&id) != Some(&status) {
                changed += 1;
                statuses.insert(id, status);
            }
        }
    }
    changed
}

/// The customer inbox: SNS delivers every notification to this queue.
struct Inbox {
    sqs: aws_sdk_sqs::Client,
    url: String,
    /// orderId → notifications seen.
    told: HashMap<String, usize>,
}

impl Inbox {
    async fn drain(&mut self) {
        loop {
            let Ok(batch) = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
            else {
                return;
            };
            if batch.messages().is_empty() {
                return;
            }
            for m in batch.messages() {
                let body: Value =
                    serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(Value::Null);
                let notification = match body.get("Message").and_then(Value::as_str) {
                    Some(inner) => serde_json::from_str(inner).unwrap_or(Value::Null),
                    None => body,
                };
                if let Some(id) = notification.get("orderId").and_then(Value::as_str) {
                    *self.told.entry(id.to_owned()).or_default() += 1;
                }
                if let Some(handle) = m.receipt_handle() {
                    let _ = self
                        .sqs
                        .delete_message()
                        .queue_url(&self.url)
                        .receipt_handle(handle)
                        .send()
                        .await;
                }
            }
        }
    }
}

/// Messages waiting or in flight in the stack's source queues (not the DLQs, not the inbox).
async fn queued(sqs: &aws_sdk_sqs::Client, queues: &[dlq::QueueInfo]) -> u64 {
    let mut total = 0;
    for q in queues {
        let Ok(out) = sqs
            .get_queue_attributes()
            .queue_url(&q.url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            )
            .send()
            .await
        else {
            return u64::MAX;
        };
        for v in out.attributes().into_iter().flat_map(|a| a.values()) {
            total += v.parse::<u64>().unwrap_or(0);
        }
    }
    total
}

/// What the provider and the fault injectors said, read from the local cloud's log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LogFacts {
    pub faults: FaultCounts,
    /// orderId → charge ids the provider approved (one per approval).
    pub charges: HashMap<String, Vec<String>>,
    /// Lines carrying an e-mail address or a payment token.
    pub sensitive_lines: usize,
}

/// Reads the local cloud's log: `<who> | <text>` lines, function lines being JSON.
pub fn read_log(text: &str) -> LogFacts {
    use orderflow_shared::telemetry::messages::{self, fault};
    let mut facts = LogFacts::default();
    for line in text.lines() {
        if orderflow_shared::telemetry::find_sensitive(line).is_some() {
            facts.sensitive_lines += 1;
        }
        let Some((who, rest)) = line.split_once(" | ") else {
            continue;
        };
        let who = who.trim();
        if who == "aws-faults" {
            if rest.contains("injected fault: throttling") {
                facts.faults.aws_throttle += 1;
            } else if rest.contains("injected fault: 503") {
                facts.faults.aws_unavailable += 1;
            }
            continue;
        }
        if let Some(ids) = rest.split("injected fault: duplicate delivery of ").nth(1) {
            facts.faults.duplicate_delivery += ids.split(", ").count() as u64;
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(rest) else {
            continue;
        };
        match v.get(messages::FAULT).and_then(Value::as_str) {
            Some(fault::ERROR_BEFORE) => facts.faults.error_before += 1,
            Some(fault::ERROR_AFTER) => facts.faults.error_after += 1,
            Some(fault::CRASH) => facts.faults.crash += 1,
            Some(fault::DELAY) => facts.faults.delay += 1,
            _ => {}
        }
        if v.get("message").and_then(Value::as_str) == Some(messages::PROVIDER_CHARGE_APPROVED) {
            if let (Some(order), Some(charge)) = (
                v.get(messages::ORDER_ID).and_then(Value::as_str),
                v.get(messages::CHARGE_ID).and_then(Value::as_str),
            ) {
                facts
                    .charges
                    .entry(order.to_owned())
                    .or_default()
                    .push(charge.to_owned());
            }
        }
    }
    facts
}

// ---------------------------------------------------------------------------------------------
// The run

fn say(line: &str) {
    eprintln!("chaos | {line}");
}

pub async fn run(options: &ChaosOptions) -> Result<Report, ChaosError> {
    let started = Instant::now();
    std::fs::create_dir_all(&options.state_dir)?;
    let (planned, catalog) = plan(options.orders, options.seed)?;

    // The cloud: our own, with faults, or the one at --api-url.
    let log_path = options.state_dir.join("cloud.log");
    let (cloud, api, endpoint) = match (&options.api_url, &options.endpoint_url) {
        (Some(api), Some(endpoint)) => (None, api.clone(), endpoint.clone()),
        (Some(_), None) => {
            return Err(ChaosError::Setup(
                "--api-url needs --endpoint-url too (the AWS endpoint the cloud uses), to read \
                 the tables and queues"
                    .into(),
            ))
        }
        (None, _) => {
            let seed_path = options.state_dir.join("chaos-catalog.json");
            local::write_seed(&seed_path, &catalog)?;
            let fault_seed = options.seed.to_string();
            let parse = |spec: &str| {
                Faults::parse(spec, &fault_seed).map_err(|e| ChaosError::Setup(e.to_string()))
            };
            let up = local::UpOptions {
                api_port: 0,
                aws_port: local::free_port()?,
                template: options.template.clone(),
                seed: seed_path,
                bin_dir: options.bin_dir.clone(),
                state_dir: options.state_dir.clone(),
                instances: options.instances,
                visibility_timeout: Some(options.visibility_timeout),
                stack: options.stack.clone(),
                function_env: BTreeMap::from([
                    (
                        "ORDERFLOW_FAULTS".to_owned(),
                        options.function_faults.clone(),
                    ),
                    ("ORDERFLOW_FAULT_SEED".to_owned(), fault_seed.clone()),
                ]),
                aws_faults: parse(&options.aws_faults)?,
                esm_faults: parse(&options.esm_faults)?,
                // As in AWS: every order call carries its customer's token.
                auth: true,
            };
            parse(&options.function_faults)?;
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
    // Each customer's token, when the cloud checks them.
    let tokens: HashMap<String, String> = match cloud.as_ref().and_then(|c| c.issuer.as_ref()) {
        Some(issuer) => {
            let now = chrono::Utc::now().timestamp();
            let ttl = i64::try_from(options.timeout.as_secs()).unwrap_or(i64::MAX / 2) + 600;
            planned
                .iter()
                .map(|p| (p.customer.clone(), issuer.token(&p.customer, now, ttl)))
                .collect()
        }
        None => HashMap::new(),
    };
    let run = Run {
        options,
        planned: &planned,
        catalog: &catalog,
        api: &api,
        endpoint: &endpoint,
        cloud: cloud.as_ref(),
        tokens: &tokens,
    };
    let result = drive(&run).await;
    if let Some(cloud) = cloud {
        cloud.shutdown().await;
    }
    let (mut report, statuses) = result?;
    if options.api_url.is_none() {
        let facts = read_log(&std::fs::read_to_string(&log_path).unwrap_or_default());
        report.faults_injected = Some(facts.faults.total());
        report.provider_charges = Some(facts.charges.values().map(|c| c.len() as u64).sum());
        report.double_charged = facts
            .charges
            .values()
            .filter(|ids| ids.iter().collect::<HashSet<_>>().len() > 1)
            .count();
        report.payment_mismatch += provider_mismatches(&statuses, &facts);
        report.faults = facts.faults;
        report.sensitive_log_lines = facts.sensitive_lines;
        report.log = Some(log_path.display().to_string());
    }
    report.duration_s = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Approved by the provider but not confirmed, or confirmed with nothing approved.
fn provider_mismatches(statuses: &BTreeMap<String, String>, facts: &LogFacts) -> usize {
    let charged_not_confirmed = facts
        .charges
        .keys()
        .filter(|id| statuses.get(*id).map(String::as_str) != Some("CONFIRMED"))
        .count();
    let confirmed_not_charged = statuses
        .iter()
        .filter(|(id, s)| s.as_str() == "CONFIRMED" && !facts.charges.contains_key(*id))
        .count();
    charged_not_confirmed + confirmed_not_charged
}

fn setup(what: &str) -> impl Fn(&dyn std::fmt::Display) -> ChaosError + '_ {
    move |e| ChaosError::Setup(format!("{what}: {e}"))
}

/// What one run works with.
struct Run<'a> {
    options: &'a ChaosOptions,
    planned: &'a [Planned],
    catalog: &'a [Product],
    api: &'a str,
    endpoint: &'a str,
    cloud: Option<&'a local::LocalCloud>,
    /// customer → bearer token (empty when the API is open).
    tokens: &'a HashMap<String, String>,
}

/// Places the workload, waits, stops faults, redrives, waits, counts. Returns the report and
/// every accepted order's final status.
async fn drive(run: &Run<'_>) -> Result<(Report, BTreeMap<String, String>), ChaosError> {
    let Run {
        options,
        planned,
        catalog,
        api,
        endpoint,
        cloud,
        tokens,
    } = *run;
    let started = Instant::now();
    let deadline = started + options.timeout;
    let sdk = local::sdk_config(endpoint).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        local::stack_tables(&options.stack),
    );
    if cloud.is_none() {
        for p in catalog {
            store
                .put_product(p)
                .await
                .map_err(|e| setup("seeding the chaos SKUs")(&e))?;
        }
    }
    let queues = dlq::all_queues(&sqs)
        .await
        .map_err(|e| setup("listing queues")(&e))?;
    let prefix = format!("{}-", options.stack);
    let sources: Vec<dlq::QueueInfo> = queues
        .iter()
        .filter(|q| q.name.starts_with(&prefix) && q.dead_letter_arn.is_some())
        .cloned()
        .collect();
    let dead_letter_queues: Vec<String> = sources
        .iter()
        .filter_map(|q| {
            queues
                .iter()
                .find(|d| q.dead_letter_arn.as_deref() == Some(d.arn.as_str()))
                .map(|d| d.name.clone())
        })
        .collect();
    let inbox_name = format!("{}CustomerNotificationsTopic-inbox", prefix);
    let inbox_url = queues
        .iter()
        .find(|q| q.name == inbox_name)
        .map(|q| q.url.clone())
        .ok_or_else(|| ChaosError::Setup(format!("no inbox queue {inbox_name}")))?;
    let mut inbox = Inbox {
        sqs: sqs.clone(),
        url: inbox_url,
        told: HashMap::new(),
    };
    inbox.drain().await;
    inbox.told.clear();

    // Place every order, `concurrency` at a time.
    say(&format!(
        "placing {} orders, {} at a time",
        planned.len(),
        options.concurrency
    ));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| setup("HTTP client")(&e))?;
    let gate = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, p) in planned.iter().enumerate() {
        let (http, api, gate, p) = (http.clone(), api.to_owned(), gate.clone(), p.clone());
        let token = tokens.get(&p.customer).cloned();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.ok();
            let token = token.as_deref();
            if p.kind == Kind::DuplicateKey {
                let (a, b) =
                    tokio::join!(place(&http, &api, &p, token), place(&http, &api, &p, token));
                let twins_agree = a == b;
                (index, a, twins_agree)
            } else {
                (index, place(&http, &api, &p, token).await, true)
            }
        });
    }
    let mut report = Report {
        seed: options.seed,
        orders: planned.len(),
        ..Report::default()
    };
    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let Ok((index, placed, twins_agree)) = joined else {
            report.api_refused += 1;
            continue;
        };
        if !twins_agree {
            report.duplicate_key_violations += 1;
        }
        match placed {
            Placed::Accepted(id) => {
                accepted.insert(id, index);
            }
            Placed::Refused(why) => {
                report.api_refused += 1;
                if report.api_refused <= 5 {
                    say(&format!("refused: {} → {why}", planned[index].key));
                }
            }
        }
    }
    report.accepted = accepted.len();
    // order id → its customer's token, for reading it back.
    let order_tokens: HashMap<String, String> = accepted
        .iter()
        .filter_map(|(id, &index)| {
            tokens
                .get(&planned[index].customer)
                .map(|t| (id.clone(), t.clone()))
        })
        .collect();
    say(&format!(
        "{} accepted in {:.1} s; waiting for them to settle under faults",
        report.accepted,
        started.elapsed().as_secs_f64()
    ));

    // Settle under faults: until every order is final or nothing has moved for a while.
    let mut statuses: BTreeMap<String, String> =
        accepted.keys().map(|id| (id.clone(), "?".into())).collect();
    let open =
        |s: &BTreeMap<String, String>| s.values().filter(|v| !FINAL.contains(&v.as_str())).count();
    let faulty_until = started + options.timeout.mul_f64(0.6);
    let mut quiet_since = Instant::now();
    loop {
        if refresh(
            &http,
            api,
            &mut statuses,
            &order_tokens,
            options.concurrency,
        )
        .await
            > 0
        {
            quiet_since = Instant::now();
        }
        inbox.drain().await;
        if open(&statuses) == 0
            || quiet_since.elapsed() > Duration::from_secs(30)
            || Instant::now() > faulty_until
        {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    say(&format!(
        "{} of {} final after {:.1} s; stopping faults and redriving the DLQs",
        report.accepted - open(&statuses),
        report.accepted,
        started.elapsed().as_secs_f64()
    ));

    // Faults stop; operators redrive; everything must now finish.
    if let Some(cloud) = cloud {
        cloud.stop_faults();
    }
    loop {
        for name in &dead_letter_queues {
            match dlq::redrive(&sqs, name).await {
                Ok((_, moved)) => report.redriven += moved,
                Err(e) => say(&format!("redrive {name}: {e}")),
            }
        }
        refresh(
            &http,
            api,
            &mut statuses,
            &order_tokens,
            options.concurrency,
        )
        .await;
        inbox.drain().await;
        let untold = statuses
            .iter()
            .filter(|(id, s)| FINAL.contains(&s.as_str()) && !inbox.told.contains_key(*id))
            .count();
        let done = open(&statuses) == 0 && untold == 0 && queued(&sqs, &sources).await == 0;
        if done || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // A late duplicate would arrive within a few seconds of the last delivery.
    tokio::time::sleep(Duration::from_secs(5)).await;
    inbox.drain().await;

    count(
        &mut report,
        planned,
        catalog,
        &accepted,
        &statuses,
        &inbox,
        &store,
    )
    .await;
    Ok((report, statuses))
}

/// Checks every accepted order against its expectation, the ledger and the inbox, and the
/// stock against what the confirmed orders took.
async fn count(
    report: &mut Report,
    planned: &[Planned],
    catalog: &[Product],
    accepted: &BTreeMap<String, usize>,
    statuses: &BTreeMap<String, String>,
    inbox: &Inbox,
    store: &DynamoStore,
) {
    let mut sold: HashMap<&str, u64> = HashMap::new();
    let (mut hot_accepted, mut hot_confirmed) = (0u64, 0u64);
    for (id, &index) in accepted {
        let p = &planned[index];
        let status = statuses.get(id).map_or("?", String::as_str);
        match status {
            "CONFIRMED" => report.confirmed += 1,
            "CANCELLED" => report.cancelled += 1,
            "REJECTED" => report.rejected += 1,
            "MISSING" => report.lost += 1,
            _ => report.stuck += 1,
        }
        if !FINAL.contains(&status) {
            continue;
        }
        if status == "CONFIRMED" {
            *sold.entry(p.sku).or_default() += u64::from(p.quantity);
        }
        let right = match p.kind {
            Kind::Approved | Kind::DuplicateKey => status == "CONFIRMED",
            Kind::Declined => status == "CANCELLED",
            Kind::OutOfStock => status == "REJECTED",
            Kind::Hot => {
                hot_accepted += 1;
                hot_confirmed += u64::from(status == "CONFIRMED");
                status == "CONFIRMED" || status == "REJECTED"
            }
        };
        report.wrong_outcome += usize::from(!right);
        let ledger = match OrderId::parse(id) {
            Ok(order_id) => store.charge_for(&order_id).await.ok().flatten(),
            Err(_) => None,
        };
        let ledger_agrees = matches!(
            (status, ledger.map(|c| c.outcome)),
            ("CONFIRMED", Some(ChargeOutcome::Approved { .. }))
                | ("CANCELLED", Some(ChargeOutcome::Declined { .. }))
                | ("REJECTED", None)
        );
        report.payment_mismatch += usize::from(!ledger_agrees);
        match inbox.told.get(id).copied().unwrap_or(0) {
            0 => report.missing_notifications += 1,
            n => report.duplicate_notifications += n - 1,
        }
    }
    // The flash-sale SKU must sell out exactly: fewer confirmed than it could is a wrong answer.
    if let Some(hot) = catalog.iter().find(|p| p.sku.as_str() == HOT) {
        let could = hot_accepted.min(u64::from(hot.stock));
        report.wrong_outcome += usize::try_from(could.saturating_sub(hot_confirmed)).unwrap_or(0);
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
    for p in catalog {
        let took = sold.get(p.sku.as_str()).copied().unwrap_or(0);
        let initial = u64::from(p.stock);
        report.oversold += took.saturating_sub(initial);
        let want = initial.saturating_sub(took);
        if now.get(p.sku.as_str()).map(|s| u64::from(*s)) != Some(want) || took > initial {
            report.stock_mismatch += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_plans_the_same_orders_and_another_seed_does_not() {
        let (a, catalog_a) = plan(200, 7).unwrap();
        let (b, catalog_b) = plan(200, 7).unwrap();
        let (c, _) = plan(200, 8).unwrap();
        let bodies = |p: &[Planned]| p.iter().map(|p| p.body.to_string()).collect::<Vec<_>>();
        assert_eq!(bodies(&a), bodies(&b));
        assert_eq!(catalog_a, catalog_b);
        assert_ne!(bodies(&a), bodies(&c));
    }

    #[test]
    fn the_plan_mixes_every_kind_and_stocks_the_plentiful_skus_for_all_their_orders() {
        let (planned, catalog) = plan(1000, 7).unwrap();
        for kind in [
            Kind::Approved,
            Kind::Declined,
            Kind::Hot,
            Kind::OutOfStock,
            Kind::DuplicateKey,
        ] {
            let n = planned.iter().filter(|p| p.kind == kind).count();
            assert!(n > 30, "{kind:?}: only {n} of 1000");
        }
        for sku in PLENTY {
            let demand: u32 = planned
                .iter()
                .filter(|p| p.sku == sku)
                .map(|p| p.quantity)
                .sum();
            let stock = catalog
                .iter()
                .find(|p| p.sku.as_str() == sku)
                .unwrap()
                .stock;
            assert!(stock >= demand, "{sku}: {stock} < {demand}");
        }
        let hot = planned.iter().filter(|p| p.kind == Kind::Hot).count() as u32;
        let hot_stock = catalog
            .iter()
            .find(|p| p.sku.as_str() == HOT)
            .unwrap()
            .stock;
        assert!(hot_stock < hot, "the hot SKU sells out");
        let keys: HashSet<&str> = planned.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys.len(), planned.len(), "one key per planned order");
    }

    #[test]
    fn every_planned_body_is_a_request_the_api_accepts() {
        let (planned, _) = plan(300, 3).unwrap();
        for p in planned {
            let body = p.body.to_string();
            assert!(
                orderflow_shared::api::parse_place_order(body.as_bytes()).is_ok(),
                "{body}"
            );
        }
    }

    #[test]
    fn the_log_reader_counts_each_kind_of_fault_and_each_provider_charge() {
        let log = [
            r#"        aws-faults | injected fault: throttling DynamoDB_20120810.PutItem"#,
            r#"        aws-faults | injected fault: 503 for AWSEvents.PutEvents"#,
            r#"update-inventory#0 | injected fault: duplicate delivery of m-1, m-2"#,
            r#"  update-inventory | {"level":"WARN","fault":"error_before","message":"injected fault"}"#,
            r#"   process-payment | {"level":"WARN","fault":"error_after","message":"injected fault"}"#,
            r#"   process-payment | {"level":"ERROR","fault":"crash","message":"injected fault: the process exits mid-batch, after the effect"}"#,
            r#"   process-payment | {"level":"INFO","message":"payment provider: charge approved","order_id":"o-1","charge_id":"ch_o1"}"#,
            r#"   process-payment | {"level":"INFO","message":"payment provider: charge approved","order_id":"o-1","charge_id":"ch_o1"}"#,
            r#"   process-payment | {"level":"INFO","message":"payment provider: charge approved","order_id":"o-2","charge_id":"ch_x"}"#,
            r#"   process-payment | {"level":"INFO","message":"payment provider: charge approved","order_id":"o-2","charge_id":"ch_y"}"#,
            "not a log line",
            r#"  send-notification | {"level":"INFO","message":"told ada@example.com"}"#,
        ]
        .join("\n");
        let facts = read_log(&log);
        assert_eq!(
            facts.faults,
            FaultCounts {
                error_before: 1,
                error_after: 1,
                crash: 1,
                delay: 0,
                aws_throttle: 1,
                aws_unavailable: 1,
                duplicate_delivery: 2,
            }
        );
        assert_eq!(facts.faults.total(), 7);
        assert_eq!(facts.charges["o-1"], vec!["ch_o1", "ch_o1"]);
        assert_eq!(facts.charges["o-2"].len(), 2);
        assert_eq!(facts.sensitive_lines, 1);
    }

    #[test]
    fn a_report_fails_on_any_count_that_must_be_zero_and_passes_on_none() {
        let clean = Report {
            orders: 10,
            accepted: 10,
            confirmed: 10,
            faults_injected: Some(40),
            ..Report::default()
        };
        assert!(clean.failures().is_empty());
        let bad = Report {
            double_charged: 1,
            stuck: 2,
            ..clean
        };
        assert_eq!(bad.failures(), vec![("double_charged", 1), ("stuck", 2)]);
    }

    #[test]
    fn the_provider_check_catches_a_charge_without_a_confirmed_order_and_the_reverse() {
        let statuses = BTreeMap::from([
            ("o-1".to_owned(), "CONFIRMED".to_owned()),
            ("o-2".to_owned(), "CANCELLED".to_owned()),
            ("o-3".to_owned(), "CONFIRMED".to_owned()),
        ]);
        let facts = LogFacts {
            charges: HashMap::from([
                ("o-1".to_owned(), vec!["ch_1".to_owned()]),
                ("o-2".to_owned(), vec!["ch_2".to_owned()]),
            ]),
            ..LogFacts::default()
        };
        // o-2 charged but cancelled; o-3 confirmed but never charged.
        assert_eq!(provider_mismatches(&statuses, &facts), 2);
    }
}
