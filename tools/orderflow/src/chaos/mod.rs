//! `orderflow chaos`: a mixed workload under injected faults, then a count of everything that
//! went wrong, the way Jepsen's queue checker counts: every order the API accepted is looked up
//! in the orders table, the payment ledger, the provider's own record of charges, the stock and
//! the customer inbox.
//!
//! The run ([`run()`]): start a local cloud with every kind of fault — in the functions
//! (errors, crashes after a batch and between steps, delays), in front of the AWS endpoint
//! (throttling, 503s, lost answers), in the event source mappings (duplicate delivery) and in
//! the harsh cloud (DynamoDB transaction conflicts and per-item write rate, EventBridge
//! duplicates and late deliveries) — or use one at `--api-url`; send a few malformed messages;
//! place the workload, retrying the way a storefront does (same `Idempotency-Key`; a keyless
//! order a little); wait until the orders settle; stop the injected faults (the cloud's
//! nature stays); redrive what transient faults dead-lettered; wait until every stored order
//! is final, every queue is empty and every customer has been told; count.
//!
//! - [`plan`]: the seeded workload and its catalog;
//! - [`place`]: placing it;
//! - [`watch`]: what each accepted order was last seen as;
//! - [`stored`]: every order the table holds, accepted or not;
//! - [`queues`]: the stack's queues: poison, what is queued, redriving the DLQs;
//! - [`dead_letters`]: what reached a DLQ, and whether it belongs there;
//! - [`told`]: what each customer was told;
//! - [`count`]: the counts, from the API, the table, the ledger, the inbox and the stock;
//! - [`log_facts`]: what the logs say: faults injected, provider charges, leaks;
//! - [`report`]: the counts, and which must be zero.

pub mod count;
pub mod dead_letters;
pub mod log_facts;
pub mod place;
pub mod plan;
pub mod queues;
pub mod report;
pub mod run;
pub mod stored;
pub mod told;
pub mod watch;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

pub use report::{FaultCounts, Report};
pub use run::run;

use crate::cli::{print_json, until_signal};
use crate::harness::{CloudArgs, HarnessError, Say};

/// Progress lines: `chaos | …`.
pub const SAY: Say = Say("chaos");

/// The functions' faults: every kind. `crash_between_steps=8` ends a process after about one
/// in 125 successful write calls: ≥ 50 in a 1,000-order run (about 7 write calls an order, more
/// with retries; 18 in a 150-order run at 15). Not more: a crash fails its whole batch (ten
/// records, some 40 write calls in process-payment), so at 15 a quarter of its batches died and
/// a record could meet five crashed batches in a row and be dead-lettered by faults alone.
pub const FUNCTION_FAULTS: &str =
    "error_before=40,error_after=40,crash=10,delay=2,delay_ms=25000,crash_between_steps=8";
/// The proxy's: `lost_response=10` applies about one call in a hundred and loses its answer.
pub const AWS_FAULTS: &str = "throttle=30,unavailable=15,lost_response=10";
/// The harsh cloud: a conflict window of 60 ms, a per-item write rate of 20 units a second
/// (ten transactional writes: the flash-sale SKU's item meets it in bursts, the others
/// seldom), EventBridge delivering 3 % of events twice and 5 % of the copies up to 2 s late.
/// The window is DynamoDB's 25 ms stretched to the odds of a real sale: a transaction conflicts
/// about as often as the item's reservations a second times the window, and two cores place
/// about three orders a second where a sale brings hundreds; at 25 ms a 1,000-order run met
/// 45–47 conflicts, too few to show the in-function retries at work.
pub const HARSH: &str = "conflict_ms=60,item_wcu=20,eb_duplicate=30,eb_delay=50,eb_delay_ms=2000";

#[derive(clap::Args, Debug, Clone)]
pub struct ChaosArgs {
    #[arg(long, default_value_t = 300)]
    pub orders: usize,
    /// Plans the workload and seeds the fault choices: a seed replays the same injections.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Print the report as one JSON object (stdout); progress goes to stderr either way.
    #[arg(long)]
    pub json: bool,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    #[command(flatten)]
    pub cloud: CloudArgs,
    /// Seconds before a failed message comes back (the template's is minutes).
    #[arg(long, default_value_t = 4)]
    pub visibility_timeout: i32,
    /// ORDERFLOW_FAULTS for every function, per mille (crash_between_steps: of each process's
    /// successful write calls).
    #[arg(long, default_value = FUNCTION_FAULTS)]
    pub function_faults: String,
    /// Faults of the proxy in front of the AWS endpoint, per mille.
    #[arg(long, default_value = AWS_FAULTS)]
    pub aws_faults: String,
    /// Faults of the event source mappings, per mille.
    #[arg(long, default_value = "duplicate=50")]
    pub esm_faults: String,
    /// The harsh cloud's spec (`orderflow local up --harsh`); its seed is --seed unless the
    /// spec names one. The EventBridge faults stop with the others; conflicts and the write
    /// rate stay, as DynamoDB's do.
    #[arg(long, default_value = HARSH)]
    pub harsh: String,
    /// Malformed messages sent to each consumed queue: they must reach its DLQ (counted in
    /// `dead_lettered_expected`) and stay there.
    #[arg(long, default_value_t = 3)]
    pub poison: usize,
    /// Give up after this many seconds; what is unfinished then counts as stuck. Faults stay
    /// on for up to 60 % of it. Default: 600 s and 1.8 s an order (2,400 s for 1,000 orders: on
    /// two cores the chain under faults finishes about two orders a second).
    #[arg(long)]
    pub timeout: Option<u64>,
}

impl ChaosArgs {
    /// `--timeout`, or the default for the number of orders.
    pub fn timeout(&self) -> Duration {
        let default = 600 + u64::try_from(self.orders).unwrap_or(u64::MAX / 2) * 18 / 10;
        Duration::from_secs(self.timeout.unwrap_or(default))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Cloud(#[from] HarnessError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The subcommand: run, print the report, exit non-zero unless every failure count is 0.
pub async fn command(args: ChaosArgs) -> ExitCode {
    let state_dir = args.cloud.state_dir_or(|| {
        PathBuf::from(format!(
            "target/chaos/seed-{}-{}",
            args.seed,
            std::process::id()
        ))
    });
    let report = match until_signal(run(&args, &state_dir)).await {
        Ok(report) => report,
        Err(code) => return code,
    };
    if let Err(code) = print_json(&report, args.json) {
        return code;
    }
    let failures = report.failures();
    if failures.is_empty() {
        SAY.line(&format!(
            "passed: {} orders, {} faults injected, nothing lost, doubled, oversold, stuck, \
             orphaned or dead-lettered",
            report.orders,
            report
                .faults_injected
                .as_ref()
                .map_or_else(|| "an unknown number of".into(), |f| f.total.to_string())
        ));
        ExitCode::SUCCESS
    } else {
        let list: Vec<String> = failures.iter().map(|(k, n)| format!("{k}={n}")).collect();
        SAY.line(&format!("FAILED: {}", list.join(", ")));
        ExitCode::FAILURE
    }
}
