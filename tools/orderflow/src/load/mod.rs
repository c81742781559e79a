//! `orderflow load`: a flash sale against the local cloud, measured.
//!
//! The run ([`run()`]): start a local cloud without faults, with the API's authorizer on, the
//! harsh cloud's DynamoDB nature at AWS's figures and every function logging its AWS calls
//! (`ORDERFLOW_COUNT_AWS_CALLS=1`); place `orders` orders, `concurrency` at a time, and only
//! place them; look at the Orders table every few seconds until all are final, then read each
//! order's recorded history (latency = last transition − placement, per stage too) and the
//! customer inbox (when each was told); check that no SKU sold more than its stock; read what
//! the functions used from the cloud log and price it ([`cost`]); replay the same calls, with
//! their batches' entries, straight against the AWS endpoint to see what share of the backend's
//! own capacity the pipeline reaches ([`replay`]); write the report (JSON and HTML).
//! `--flash SKU` runs the flash sale of one hot SKU side by side instead ([`flash`]).
//!
//! - [`plan`]: the seeded flash sale and its catalog; [`order`]: one order, placed;
//! - [`follow`]: the gentle wait and the records read; [`history`]: latencies from them;
//! - [`usage`], [`calls`], [`replay`], [`cost`]: what the functions used, its replay, its price;
//! - [`report`]: the JSON summary; [`stats`]: percentiles; [`html`]: the HTML report.

pub mod calls;
pub mod cost;
pub mod flash;
pub mod follow;
pub mod history;
pub mod html;
pub mod order;
pub mod plan;
pub mod replay;
pub mod report;
pub mod run;
pub mod stats;
pub mod usage;

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
    /// Requests in flight at once (each order is placed; its end is read from its history).
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
    /// The harsh cloud's spec (as `local up --harsh`); by default DynamoDB's nature at AWS's
    /// figures (`conflict_ms=25,item_wcu=1000`).
    #[arg(long)]
    pub harsh: Option<String>,
    /// The price table the cost per million orders is computed from.
    #[arg(long, default_value = cost::PRICES)]
    pub prices: PathBuf,
    #[command(flatten)]
    pub flash: flash::FlashArgs,
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
    if args.flash.flash.is_some() {
        return flash::command(&args, &state_dir).await;
    }
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
