//! `orderflow chaos`: a mixed workload under injected faults, then a count of everything that
//! went wrong, the way Jepsen's queue checker counts: every order the API accepted is looked up
//! in the orders table, the payment ledger, the provider's own record of charges, the stock and
//! the customer inbox.
//!
//! The run ([`run()`]): start a local cloud with faults in the functions, in front of the AWS
//! endpoint and in the event source mappings (or use one at `--api-url`); place the workload,
//! retrying the way a storefront does (same `Idempotency-Key`); wait until the orders settle;
//! stop the faults; redrive the dead-letter queues; wait until every order is final, every
//! queue is empty and every customer has been told; count.
//!
//! - [`plan`]: the seeded workload and its catalog;
//! - [`place`]: placing it;
//! - [`watch`]: what each accepted order was last seen as;
//! - [`queues`]: the stack's queues: what is queued, redriving the DLQs;
//! - [`told`]: what each customer was told;
//! - [`count`]: the counts, from the API, the ledger, the inbox and the stock;
//! - [`log_facts`]: what the cloud's log says: faults injected, provider charges, leaks;
//! - [`report`]: the counts, and which must be zero.

pub mod count;
pub mod log_facts;
pub mod place;
pub mod plan;
pub mod queues;
pub mod report;
pub mod run;
pub mod told;
pub mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

pub use report::{FaultCounts, Report};
pub use run::run;

use crate::cli::{print_json, until_signal};
use crate::harness::{CloudArgs, HarnessError, Say};

/// Progress lines: `chaos | …`.
pub const SAY: Say = Say("chaos");

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
    /// ORDERFLOW_FAULTS for every function, per mille.
    #[arg(
        long,
        default_value = "error_before=40,error_after=40,crash=10,delay=2,delay_ms=25000"
    )]
    pub function_faults: String,
    /// Faults of the proxy in front of the AWS endpoint, per mille.
    #[arg(long, default_value = "throttle=30,unavailable=15")]
    pub aws_faults: String,
    /// Faults of the event source mappings, per mille.
    #[arg(long, default_value = "duplicate=50")]
    pub esm_faults: String,
    /// Give up after this many seconds; what is unfinished then counts as stuck.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
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
            "passed: {} orders, {} faults injected, nothing lost, doubled, oversold or stuck",
            report.orders,
            report
                .faults_injected
                .map_or_else(|| "an unknown number of".into(), |n| n.to_string())
        ));
        ExitCode::SUCCESS
    } else {
        let list: Vec<String> = failures.iter().map(|(k, n)| format!("{k}={n}")).collect();
        SAY.line(&format!("FAILED: {}", list.join(", ")));
        ExitCode::FAILURE
    }
}
