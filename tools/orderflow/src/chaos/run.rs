//! One chaos run from start to count: the cloud, poison and the workload, settling under
//! faults, the injected faults stopped and what they dead-lettered redriven, settling again,
//! the count and the logs' facts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use orderflow_shared::domain::{Order, OrderId};
use orderflow_shared::faults::Faults;
use orderflow_shared::ports::{CatalogEntry, Product};

use super::count::{count, provider_table_charges, Evidence};
use super::dead_letters::{DeadLetters, PERMANENT_FAILURE_TOKEN};
use super::log_facts::{provider_mismatches, read_log, read_moto_log};
use super::place::place_all;
use super::plan::{plan, Planned};
use super::queues::StackQueues;
use super::stored::{glimpse, stored_orders, Glimpse};
use super::told::Told;
use super::watch::{self, refresh, Seen, Statuses};
use super::{ChaosArgs, ChaosError, Report, SAY};
use crate::harness::{Api, Cloud, OwnCloud};
use crate::local::logs::read_reasons;
use crate::local::moto::HarshSpec;
use crate::local::{FAULTS_VARIABLE, FAULT_SEED_VARIABLE};

/// How long nothing may move under faults before the run stops them: longer than a message
/// takes to come back (the visibility timeout) five times over, and than a late EventBridge copy.
const QUIET: Duration = Duration::from_secs(30);

/// How long the report waits for the functions' last metric lines.
const METRICS_WAIT: Duration = Duration::from_secs(10);

/// Runs the whole thing; `state_dir` keeps the cloud's log and state.
pub async fn run(args: &ChaosArgs, state_dir: &Path) -> Result<Report, ChaosError> {
    let started = Instant::now();
    let (planned, catalog) = plan(args.orders, args.seed)?;
    let entries: Vec<CatalogEntry> = catalog.iter().map(CatalogEntry::from).collect();
    let own = own_cloud(args, &entries)?;
    let cloud = Cloud::start(&args.cloud, state_dir, own, SAY).await?;
    let result = drive(args, &cloud, &planned, &catalog).await;
    let table_charges = provider_table_charges(cloud.sdk(), &cloud.stack).await;
    let log = cloud.is_own().then(|| cloud.log_lines().join("\n"));
    let moto_log = cloud.moto_log();
    let log_path = cloud.log_path().map(Path::to_owned);
    cloud.shutdown().await;
    let (mut report, statuses) = result?;
    if let Some(log) = log {
        let mut facts = read_log(&log);
        facts.add_provider_records(table_charges);
        read_moto_log(moto_log.as_deref().unwrap_or_default(), &mut facts.faults);
        report.provider_charges = Some(facts.charges.values().map(|c| c.len() as u64).sum());
        report.double_charged = facts.double_charged();
        report.payment_mismatch += provider_mismatches(&statuses, &facts);
        report.faults_injected = Some(facts.faults.totalled());
        report.sensitive_log_lines = facts.sensitive_lines;
        report.log = log_path.map(|p| p.display().to_string());
    }
    report.duration_s = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The cloud this run starts: its catalog, every kind of fault seeded by the run's seed, and
/// `--auth` as in AWS (every order call carries its customer's token). A cloud at `--api-url`
/// keeps the faults it was started with.
fn own_cloud<'a>(
    args: &ChaosArgs,
    catalog: &'a [CatalogEntry],
) -> Result<OwnCloud<'a>, ChaosError> {
    let fault_seed = args.seed.to_string();
    let remote = args.cloud.api_url.is_some();
    let parse = |spec: &str| -> Result<Faults, ChaosError> {
        if remote {
            return Ok(Faults::default());
        }
        Faults::parse(spec, &fault_seed).map_err(|e| ChaosError::Setup(e.to_string()))
    };
    let aws_faults = parse(&args.aws_faults)?;
    let esm_faults = parse(&args.esm_faults)?;
    parse(&args.function_faults)?;
    Ok(OwnCloud {
        name: "chaos",
        catalog,
        function_env: BTreeMap::from([
            (FAULTS_VARIABLE.to_owned(), args.function_faults.clone()),
            (FAULT_SEED_VARIABLE.to_owned(), fault_seed.clone()),
        ]),
        aws_faults,
        esm_faults,
        visibility_timeout: Some(args.visibility_timeout),
        auth: true,
        harsh: (!remote).then(|| harsh_spec(args)).transpose()?,
    })
}

/// `--harsh`, seeded by `--seed` unless it names its own seed.
fn harsh_spec(args: &ChaosArgs) -> Result<HarshSpec, ChaosError> {
    let text = if args.harsh.contains("seed=") {
        args.harsh.clone()
    } else {
        format!("{},seed={}", args.harsh, args.seed)
    };
    HarshSpec::parse(&text).map_err(|e| ChaosError::Setup(e.to_string()))
}

/// Places the workload, waits, stops faults, redrives, waits, counts. Returns the report and
/// every accepted order's last status.
async fn drive(
    args: &ChaosArgs,
    cloud: &Cloud,
    planned: &[Planned],
    catalog: &[Product],
) -> Result<(Report, Statuses), ChaosError> {
    let started = Instant::now();
    let deadline = started + args.timeout();
    let events = aws_sdk_eventbridge::Client::new(cloud.sdk());
    let queues = StackQueues::find(cloud.sqs(), &events, &cloud.stack).await?;
    let mut told = Told::new(cloud.inbox().await?);
    told.drain().await;
    told.per_order.clear();

    let ttl = i64::try_from(args.timeout().as_secs()).unwrap_or(i64::MAX / 2) + 600;
    let tokens = cloud.tokens(planned.iter().map(|p| p.customer.as_str()), ttl)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| ChaosError::Setup(format!("HTTP client: {e}")))?;
    let api = cloud.api(http);
    let poison_injected = queues.poison(args.poison).await?;
    SAY.line(&format!(
        "sent {poison_injected} malformed messages; placing {} orders, {} at a time",
        planned.len(),
        args.concurrency
    ));
    let placing = place_all(&api, planned, &tokens, args.concurrency, SAY).await;
    let mut report = Report {
        seed: args.seed,
        orders: planned.len(),
        accepted: placing.accepted.len(),
        api_refused: placing.refused,
        duplicate_key_violations: placing.duplicate_key_violations,
        poison_injected,
        ..Report::default()
    };
    let order_tokens = tokens_of_orders(&placing.accepted, planned, &tokens);
    SAY.line(&format!(
        "{} accepted in {:.1} s; waiting for them to settle under faults",
        report.accepted,
        started.elapsed().as_secs_f64()
    ));
    let mut statuses: Statuses = placing
        .accepted
        .keys()
        .map(|id| (id.clone(), Seen::Unknown))
        .collect();
    let mut watching = Watching {
        api: &api,
        tokens: &order_tokens,
        concurrency: args.concurrency,
        cloud,
        queues: &queues,
        dead: DeadLetters::default(),
    };
    let faulty_until = started + args.timeout().mul_f64(0.6);
    watching
        .under_faults(&mut statuses, &mut told, faulty_until)
        .await;
    report.stuck_before_redrive = watch::open(&statuses);
    SAY.line(&format!(
        "{} of {} final after {:.1} s; stopping faults and redriving what they dead-lettered",
        report.accepted - report.stuck_before_redrive,
        report.accepted,
        started.elapsed().as_secs_f64()
    ));

    // Faults stop; operators redrive; everything must now finish.
    cloud.stop_faults()?;
    let stored = watching
        .after_faults(&mut statuses, &mut told, &mut report, deadline)
        .await?;
    report.dead_lettered = watching.dead.transient();
    report.dead_lettered_expected = watching.dead.expected();
    report.dead_lettered_reasons = watching
        .dead
        .transient_reasons(&read_reasons(&cloud.state_dir));

    let evidence = Evidence {
        planned,
        catalog,
        accepted: &placing.accepted,
        statuses: &statuses,
        told: &told,
        store: &cloud.store(),
        stored: &stored,
    };
    count(&mut report, &evidence).await;
    add_metrics(&mut report, cloud).await;
    // The provider's charges are checked against every stored order: an extra keyless order
    // (a retry without a key after a lost answer) is a real order, charged when confirmed.
    for order in &stored {
        statuses
            .entry(order.order_id.clone())
            .or_insert(watch::Seen::Status(order.status));
    }
    Ok((report, statuses))
}

/// Each accepted order with its customer's token, to read it back with.
fn tokens_of_orders(
    accepted: &BTreeMap<OrderId, usize>,
    planned: &[Planned],
    tokens: &HashMap<String, String>,
) -> HashMap<OrderId, String> {
    accepted
        .iter()
        .filter_map(|(id, &index)| {
            tokens
                .get(&planned.get(index)?.customer)
                .map(|t| (id.clone(), t.clone()))
        })
        .collect()
}

/// The functions' metrics of the run and where they do not add up (reported, not required: a
/// process the run crashed lost the counts it had not flushed).
async fn add_metrics(report: &mut Report, cloud: &Cloud) {
    let finished = (report.confirmed + report.rejected + report.cancelled) as u64;
    let kept = crate::local::metrics::settled(&cloud.state_dir, finished, METRICS_WAIT).await;
    if !kept.series.is_empty() {
        let metrics = kept.orders();
        report.metrics_imbalances = metrics.imbalances();
        report.metrics = Some(metrics);
    }
}

/// Reading the orders back until they settle, and the dead-letter queues.
struct Watching<'a> {
    api: &'a Api,
    tokens: &'a HashMap<OrderId, String>,
    concurrency: usize,
    cloud: &'a Cloud,
    queues: &'a StackQueues,
    dead: DeadLetters,
}

impl Watching<'_> {
    /// Until every accepted order is final, nothing has moved for [`QUIET`], or `until`.
    /// Quiet is judged on reads only: two reads of every open order in a row that found no
    /// change, the last change [`QUIET`] ago (reading the inbox in between can take a while,
    /// and is no evidence that the orders stood still).
    async fn under_faults(&self, statuses: &mut Statuses, told: &mut Told, until: Instant) {
        let mut quiet_since = Instant::now();
        let mut unchanged_reads = 0;
        loop {
            if refresh(self.api, statuses, self.tokens, self.concurrency).await > 0 {
                quiet_since = Instant::now();
                unchanged_reads = 0;
            } else {
                unchanged_reads += 1;
            }
            let quiet = unchanged_reads >= 2 && quiet_since.elapsed() > QUIET;
            if watch::open(statuses) == 0 || quiet || Instant::now() > until {
                return;
            }
            told.drain().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Redrives what transient faults dead-lettered until every accepted and every stored
    /// order is final and its customer told and every queue is empty, or `deadline`; returns
    /// the stored orders as last read.
    async fn after_faults(
        &mut self,
        statuses: &mut Statuses,
        told: &mut Told,
        report: &mut Report,
        deadline: Instant,
    ) -> Result<Vec<Order>, ChaosError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(self.cloud.sdk());
        let store = self.cloud.store();
        loop {
            let stored = glimpse(&dynamodb, &store).await?;
            let failing = permanently_failing(&stored);
            report.redriven += self
                .queues
                .redrive_transient(&mut self.dead, &failing, SAY)
                .await;
            refresh(self.api, statuses, self.tokens, self.concurrency).await;
            told.drain().await;
            let untold = |id: &OrderId, finished: bool| finished && told.times(id.as_str()) == 0;
            let open = watch::open(statuses)
                + statuses
                    .iter()
                    .filter(|(id, s)| untold(id, s.is_final()))
                    .count()
                + stored
                    .iter()
                    .filter(|o| !o.status.is_terminal() || untold(&o.id, true))
                    .count();
            if (open == 0 && self.queues.queued().await == 0) || Instant::now() > deadline {
                // A late duplicate would arrive within a few seconds of the last delivery.
                tokio::time::sleep(Duration::from_secs(5)).await;
                told.drain().await;
                return stored_orders(&dynamodb, &store).await;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

/// The orders whose provider fails permanently: their messages belong in a DLQ.
fn permanently_failing(stored: &[Glimpse]) -> HashSet<String> {
    stored
        .iter()
        .filter(|o| o.payment_token == PERMANENT_FAILURE_TOKEN)
        .map(|o| o.id.as_str().to_owned())
        .collect()
}
