//! One chaos run from start to count: the cloud, the workload, settling under faults, the
//! faults stopped and the DLQs redriven, settling again, the count and the log's facts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use orderflow_shared::domain::OrderId;
use orderflow_shared::faults::Faults;
use orderflow_shared::ports::Product;

use super::count::{count, Evidence};
use super::log_facts::{provider_mismatches, read_log};
use super::place::place_all;
use super::plan::{plan, Planned};
use super::queues::StackQueues;
use super::told::Told;
use super::watch::{self, refresh, Seen, Statuses};
use super::{ChaosArgs, ChaosError, Report, SAY};
use crate::harness::{Api, Cloud, OwnCloud};
use crate::local::{FAULTS_VARIABLE, FAULT_SEED_VARIABLE};

/// Runs the whole thing; `state_dir` keeps the cloud's log and state.
pub async fn run(args: &ChaosArgs, state_dir: &Path) -> Result<Report, ChaosError> {
    let started = Instant::now();
    let (planned, catalog) = plan(args.orders, args.seed)?;
    let own = own_cloud(args, &catalog)?;
    let cloud = Cloud::start(&args.cloud, state_dir, own, SAY).await?;
    let result = drive(args, &cloud, &planned, &catalog).await;
    let log = cloud.is_own().then(|| cloud.log_lines().join("\n"));
    let log_path = cloud.log_path().map(Path::to_owned);
    cloud.shutdown().await;
    let (mut report, statuses) = result?;
    if let Some(log) = log {
        let facts = read_log(&log);
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
        report.log = log_path.map(|p| p.display().to_string());
    }
    report.duration_s = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The cloud this run starts: its catalog, every kind of fault seeded by the run's seed, and
/// `--auth` as in AWS (every order call carries its customer's token). A cloud at `--api-url`
/// keeps the faults it was started with.
fn own_cloud<'a>(args: &ChaosArgs, catalog: &'a [Product]) -> Result<OwnCloud<'a>, ChaosError> {
    let fault_seed = args.seed.to_string();
    let parse = |spec: &str| -> Result<Faults, ChaosError> {
        if args.cloud.api_url.is_some() {
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
    })
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
    let deadline = started + Duration::from_secs(args.timeout);
    let queues = StackQueues::find(cloud.sqs(), &cloud.stack).await?;
    let mut told = Told::new(cloud.inbox().await?);
    told.drain().await;
    told.per_order.clear();

    let ttl = i64::try_from(args.timeout).unwrap_or(i64::MAX / 2) + 600;
    let tokens = cloud.tokens(planned.iter().map(|p| p.customer.as_str()), ttl)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| ChaosError::Setup(format!("HTTP client: {e}")))?;
    let api = cloud.api(http);
    SAY.line(&format!(
        "placing {} orders, {} at a time",
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
        ..Report::default()
    };
    // Each order read back with its customer's token.
    let order_tokens: HashMap<OrderId, String> = placing
        .accepted
        .iter()
        .filter_map(|(id, &index)| {
            tokens
                .get(&planned[index].customer)
                .map(|t| (id.clone(), t.clone()))
        })
        .collect();
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
    let watching = Watching {
        api: &api,
        tokens: &order_tokens,
        concurrency: args.concurrency,
    };
    let faulty_until = started + Duration::from_secs(args.timeout).mul_f64(0.6);
    watching
        .under_faults(&mut statuses, &mut told, faulty_until)
        .await;
    SAY.line(&format!(
        "{} of {} final after {:.1} s; stopping faults and redriving the DLQs",
        report.accepted - watch::open(&statuses),
        report.accepted,
        started.elapsed().as_secs_f64()
    ));

    // Faults stop; operators redrive; everything must now finish.
    cloud.stop_faults();
    report.redriven = watching
        .after_faults(&mut statuses, &mut told, &queues, deadline)
        .await;
    // A late duplicate would arrive within a few seconds of the last delivery.
    tokio::time::sleep(Duration::from_secs(5)).await;
    told.drain().await;

    let evidence = Evidence {
        planned,
        catalog,
        accepted: &placing.accepted,
        statuses: &statuses,
        told: &told,
        store: &cloud.store(),
    };
    count(&mut report, &evidence).await;
    Ok((report, statuses))
}

/// Reading the accepted orders back until they settle.
struct Watching<'a> {
    api: &'a Api,
    tokens: &'a HashMap<OrderId, String>,
    concurrency: usize,
}

impl Watching<'_> {
    /// Until every order is final, nothing has moved for 30 s, or `until`.
    async fn under_faults(&self, statuses: &mut Statuses, told: &mut Told, until: Instant) {
        let mut quiet_since = Instant::now();
        loop {
            if refresh(self.api, statuses, self.tokens, self.concurrency).await > 0 {
                quiet_since = Instant::now();
            }
            told.drain().await;
            if watch::open(statuses) == 0
                || quiet_since.elapsed() > Duration::from_secs(30)
                || Instant::now() > until
            {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Redrives the DLQs until every order is final, every customer told and every queue
    /// empty, or `deadline`; returns how many messages were redriven.
    async fn after_faults(
        &self,
        statuses: &mut Statuses,
        told: &mut Told,
        queues: &StackQueues,
        deadline: Instant,
    ) -> u64 {
        let mut redriven = 0;
        loop {
            redriven += queues.redrive(SAY).await;
            refresh(self.api, statuses, self.tokens, self.concurrency).await;
            told.drain().await;
            let untold = statuses
                .iter()
                .filter(|(id, s)| s.is_final() && told.times(id.as_str()) == 0)
                .count();
            let done = watch::open(statuses) == 0 && untold == 0 && queues.queued().await == 0;
            if done || Instant::now() > deadline {
                return redriven;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
