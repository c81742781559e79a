//! `orderflow`: the local cloud and the tools around it. This binary parses the command line
//! and hands each subcommand to the `orderflow` library (src/lib.rs):
//!
//! - `orderflow local up`: moto + the template's resources + the real function binaries, the
//!   SQS event source mappings and the HTTP API, on 127.0.0.1 ([`local`]);
//! - `orderflow local token CUSTOMER`: a token the API of a local cloud started with `--auth`
//!   accepts;
//! - `orderflow deploy local`: the template deployed with `sam deploy` into MiniStack, with the
//!   same HTTP API in front of the deployed functions ([`deploy`]);
//! - `orderflow dlq list|redrive`: inspect and redrive dead-letter queues, local or AWS ([`dlq`]);
//! - `orderflow chaos`: a mixed workload under injected faults, and the count of what went
//!   wrong ([`chaos`]);
//! - `orderflow load`: a flash sale, measured: latency, throughput, AWS calls per order
//!   ([`load`]);
//! - `orderflow trace ORDER_ID`: one order's timeline from the local cloud's records ([`trace`]).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use orderflow::{chaos, deploy, dlq, load, local, trace};

#[derive(Parser)]
#[command(
    name = "orderflow",
    version,
    about = "orderflow: local cloud and operations tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The local cloud.
    Local {
        #[command(subcommand)]
        command: local::command::LocalCommand,
    },
    /// Deploy the stack for real, locally: `sam deploy` into MiniStack, and its HTTP API.
    Deploy {
        #[command(subcommand)]
        command: deploy::command::DeployCommand,
    },
    /// Dead-letter queues.
    Dlq(dlq::command::DlqArgs),
    /// Place a mixed workload under injected faults, redrive the DLQs once faults stop, and
    /// count lost, double-charged, oversold and stuck orders and duplicate notifications.
    /// Exits non-zero when any of them is not 0.
    Chaos(chaos::ChaosArgs),
    /// A flash sale against the local cloud: latency, throughput, AWS calls per order and the
    /// backend's share, as JSON and an HTML report. Exits non-zero on oversold or unfinished orders.
    Load(load::LoadArgs),
    /// One order's timeline from what the local cloud recorded: every delivery, invocation,
    /// retry, fault and AWS call, in order, with function, duration and reason.
    Trace(trace::TraceArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Local { command } => local::command::run(command).await,
        Command::Deploy { command } => deploy::command::run(command).await,
        Command::Dlq(args) => dlq::command::run(args).await,
        Command::Chaos(args) => chaos::command(args).await,
        Command::Load(args) => load::command(args).await,
        Command::Trace(args) => trace::command(&args),
    }
}
