//! `orderflow load`: a flash sale against the local cloud, measured.
//!
//! The run ([`run()`]): start a local cloud without faults, with the API's authorizer on and
//! every function logging its AWS calls (`ORDERFLOW_COUNT_AWS_CALLS=1`); place `orders`
//! orders, `concurrency` at a time, each one placed and then polled every 200 ms until it is
//! final (CONFIRMED, REJECTED or CANCELLED), which gives its latency and the moment it
//! completed; check that no SKU sold more than its stock (orders and the inventory table);
//! count the functions' AWS calls from the cloud log; replay the same calls straight against
//! the AWS endpoint to see what share of the backend's own capacity the pipeline reaches (see
//! [`replay`]); write the HTML report.
//!
//! - [`plan`]: the seeded flash sale and its catalog;
//! - [`order`]: one order, placed and followed to its end;
//! - [`calls`]: the AWS calls counted and replayed;
//! - [`report`]: the JSON summary; [`stats`]: its figures and the HTML report.

pub mod calls;
pub mod order;
pub mod plan;
pub mod replay;
pub mod report;
pub mod run;
pub mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

pub use report::LoadReport;
pub use run::run;

use crate::cli::{print_json, until_signal};
use crate::harness::{CloudArgs, HarnessError, Say};

/// Progress lines: `load | …`.
pub const SAY: Say = Say("load");

#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    #[arg(long, default_value_t = 2000)]
    pub orders: usize,
    /// Orders in flight at once (each is placed, then polled until final).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Plans the workload.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Print the report as one JSON object on stdout, and no progress bar.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub cloud: CloudArgs,
    /// An order not final this many seconds after it was placed counts as not terminal (more
    /// than two of the template's 120 s visibility timeouts: a timed-out batch is retried).
    #[arg(long, default_value_t = 300)]
    pub order_timeout: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Cloud(#[from] HarnessError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The subcommand: run, print the report, exit non-zero on oversold or unfinished orders.
pub async fn command(args: LoadArgs) -> ExitCode {
    let state_dir = args.cloud.state_dir_or(|| {
        PathBuf::from(format!(
            "target/load/run-{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S"),
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
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        SAY.line(&format!(
            "FAILED: oversold={} not_terminal={} stock_mismatch={}",
            report.oversold, report.not_terminal, report.stock_mismatch
        ));
        ExitCode::FAILURE
    }
}
