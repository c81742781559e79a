//! `orderflow`: the local cloud and the tools around it.
//!
//! - `orderflow local up`: moto + the template's resources + the real function binaries, the
//!   SQS event source mappings and the HTTP API, on 127.0.0.1;
//! - `orderflow dlq list|redrive`: inspect and redrive dead-letter queues (local or AWS);
//! - `orderflow chaos`: a mixed workload under injected faults, and the count of what went wrong.

mod chaos;
mod dlq;
mod load;
mod local;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
        command: LocalCommand,
    },
    /// Dead-letter queues.
    Dlq {
        /// Talk to this endpoint (e.g. http://127.0.0.1:4566 for the local cloud); without it,
        /// the standard AWS configuration (environment, profile) decides.
        #[arg(long, global = true, env = "ORDERFLOW_ENDPOINT_URL")]
        endpoint_url: Option<String>,
        /// Where the local cloud records failure reasons.
        #[arg(long, global = true, default_value = ".orderflow")]
        state_dir: PathBuf,
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Place a mixed workload under injected faults, redrive the DLQs once faults stop, and
    /// count lost, double-charged, oversold and stuck orders and duplicate notifications.
    /// Exits non-zero when any of them is not 0.
    Chaos(ChaosArgs),
    /// A flash sale against the local cloud: latency, throughput, AWS calls per order and the
    /// backend's share, as JSON and an HTML report. Exits non-zero on oversold or unfinished orders.
    Load(load::LoadArgs),
}

#[derive(clap::Args)]
struct ChaosArgs {
    #[arg(long, default_value_t = 300)]
    orders: usize,
    /// Plans the workload and seeds the fault choices: a seed replays the same injections.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Print the report as one JSON object (stdout); progress goes to stderr either way.
    #[arg(long)]
    json: bool,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Use the local cloud at this API URL instead of starting one (faults are whatever it
    /// was started with, and cannot be stopped by this run).
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
    /// Where the run keeps its cloud's log and state (a fresh folder per run by default).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Processes per function.
    #[arg(long, default_value_t = 2)]
    instances: usize,
    /// Seconds before a failed message comes back (the template's is minutes).
    #[arg(long, default_value_t = 4)]
    visibility_timeout: i32,
    /// ORDERFLOW_FAULTS for every function, per mille.
    #[arg(
        long,
        default_value = "error_before=40,error_after=40,crash=10,delay=2,delay_ms=25000"
    )]
    function_faults: String,
    /// Faults of the proxy in front of the AWS endpoint, per mille.
    #[arg(long, default_value = "throttle=30,unavailable=15")]
    aws_faults: String,
    /// Faults of the event source mappings, per mille.
    #[arg(long, default_value = "duplicate=50")]
    esm_faults: String,
    /// Give up after this many seconds; what is unfinished then counts as stuck.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
}

#[derive(Subcommand)]
enum LocalCommand {
    /// Start the whole chain on this machine; Ctrl-C stops it and every process it started.
    Up {
        #[arg(long, default_value_t = 3000)]
        api_port: u16,
        #[arg(long, default_value_t = 4566)]
        aws_port: u16,
        /// Catalog to seed: a JSON array of {"sku","name","price":{"amount","currency"},"stock"}.
        #[arg(long, default_value = "infra/seed/catalog.json")]
        seed: PathBuf,
        #[arg(long, default_value = "infra/template.yaml")]
        template: PathBuf,
        /// Folder with the function binaries.
        #[arg(long, default_value = "target/debug")]
        bin_dir: PathBuf,
        #[arg(long, default_value = ".orderflow")]
        state_dir: PathBuf,
        /// Processes per function (Lambda concurrency).
        #[arg(long, default_value_t = 1)]
        instances: usize,
        /// Receive with this visibility timeout instead of each queue's own (seconds): failed
        /// messages come back sooner, so retries and DLQ moves happen in seconds locally.
        #[arg(long)]
        visibility_timeout: Option<i32>,
        /// Physical names are "<stack>-<LogicalId>".
        #[arg(long, default_value = "orderflow-local")]
        stack: String,
        /// Extra environment variable for every function, KEY=VALUE (repeatable).
        #[arg(long = "function-env", value_parser = parse_key_value)]
        function_env: Vec<(String, String)>,
        /// Faults a proxy injects into the functions' AWS calls, per mille:
        /// "throttle=50,unavailable=20".
        #[arg(long, default_value = "")]
        aws_faults: String,
        /// Faults the event source mappings inject, per mille: "duplicate=50".
        #[arg(long, default_value = "")]
        esm_faults: String,
        /// Seed for the proxy's and the mappings' fault choices.
        #[arg(long, default_value_t = 0)]
        fault_seed: u64,
        /// Enforce the API's JWT authorizer: requests need `Authorization: Bearer <token>` from
        /// `orderflow local token CUSTOMER`. Without it the API is open (quick demos).
        #[arg(long)]
        auth: bool,
    },
    /// Print a token for CUSTOMER, signed by the issuer of a local cloud started with --auth.
    Token {
        /// The customer: the token's `sub`, which the API takes as the caller.
        customer: String,
        #[arg(long, default_value = ".orderflow")]
        state_dir: PathBuf,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
}

#[derive(Subcommand)]
enum DlqCommand {
    /// List the messages in the dead-letter queues (or in one queue).
    List {
        /// A queue name, URL or ARN; all DLQs when omitted.
        queue: Option<String>,
        /// One JSON object per message instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Move every message of a dead-letter queue back to its source queue.
    Redrive {
        /// The dead-letter queue: name, URL or ARN.
        queue: String,
    },
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Local {
            command:
                LocalCommand::Up {
                    api_port,
                    aws_port,
                    seed,
                    template,
                    bin_dir,
                    state_dir,
                    instances,
                    visibility_timeout,
                    stack,
                    function_env,
                    aws_faults,
                    esm_faults,
                    fault_seed,
                    auth,
                },
        } => {
            let fault_seed = fault_seed.to_string();
            let (aws_faults, esm_faults) = match (
                orderflow_shared::faults::Faults::parse(&aws_faults, &fault_seed),
                orderflow_shared::faults::Faults::parse(&esm_faults, &fault_seed),
            ) {
                (Ok(a), Ok(e)) => (a, e),
                (Err(e), _) | (_, Err(e)) => return fail(&e),
            };
            let options = local::UpOptions {
                api_port,
                aws_port,
                template,
                seed,
                bin_dir,
                state_dir: state_dir.clone(),
                instances,
                visibility_timeout,
                stack,
                function_env: function_env.into_iter().collect::<BTreeMap<_, _>>(),
                aws_faults,
                esm_faults,
                auth,
            };
            local_up(options).await
        }
        Command::Local {
            command:
                LocalCommand::Token {
                    customer,
                    state_dir,
                    ttl,
                },
        } => match local::auth::LocalIssuer::load(&state_dir) {
            Ok(issuer) => {
                if let Err(e) = orderflow_shared::domain::CustomerId::parse(&customer) {
                    return fail(&e);
                }
                println!(
                    "{}",
                    issuer.token(&customer, chrono::Utc::now().timestamp(), ttl)
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Command::Chaos(args) => chaos_run(args).await,
        Command::Load(args) => load::main(args).await,
        Command::Dlq {
            endpoint_url,
            state_dir,
            command,
        } => {
            let sdk = match &endpoint_url {
                Some(url) => local::sdk_config(url).await,
                None => orderflow_shared::aws::sdk_config().await,
            };
            let client = aws_sdk_sqs::Client::new(&sdk);
            match command {
                DlqCommand::List { queue, json } => {
                    let reasons: HashMap<String, String> = local::logs::read_reasons(&state_dir)
                        .into_iter()
                        .map(|(k, v)| (k, format!("{}: {}", v.function, v.reason)))
                        .collect();
                    match dlq::list(&client, queue.as_deref(), &reasons).await {
                        Ok(messages) => {
                            print_dlq(&messages, json);
                            ExitCode::SUCCESS
                        }
                        Err(e) => fail(&e),
                    }
                }
                DlqCommand::Redrive { queue } => match dlq::redrive(&client, &queue).await {
                    Ok((source, moved)) => {
                        println!("redrove {moved} message(s) from {queue} to {source}");
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(&e),
                },
            }
        }
    }
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("orderflow: {e}");
    ExitCode::FAILURE
}

fn print_dlq(messages: &[dlq::DlqMessage], json: bool) {
    if json {
        for m in messages {
            if let Ok(line) = serde_json::to_string(m) {
                println!("{line}");
            }
        }
        return;
    }
    if messages.is_empty() {
        println!("no messages in the dead-letter queues");
        return;
    }
    println!(
        "{:<40} {:<38} {:>7} {:>8}  reason / body",
        "queue", "message id", "age s", "receives"
    );
    for m in messages {
        let body: String = m.body.chars().take(80).collect();
        println!(
            "{:<40} {:<38} {:>7} {:>8}  {}",
            m.queue,
            m.message_id,
            m.age_seconds,
            m.receive_count,
            m.reason.as_deref().unwrap_or("(no reason recorded)")
        );
        println!("{:>97}  body: {body}", "");
    }
}

async fn chaos_run(args: ChaosArgs) -> ExitCode {
    let state_dir = args.state_dir.unwrap_or_else(|| {
        PathBuf::from(format!(
            "target/chaos/seed-{}-{}",
            args.seed,
            std::process::id()
        ))
    });
    let options = chaos::ChaosOptions {
        orders: args.orders,
        seed: args.seed,
        concurrency: args.concurrency,
        api_url: args.api_url,
        endpoint_url: args.endpoint_url,
        stack: args.stack,
        template: args.template,
        bin_dir: args.bin_dir,
        state_dir,
        instances: args.instances,
        visibility_timeout: args.visibility_timeout,
        function_faults: args.function_faults,
        aws_faults: args.aws_faults,
        esm_faults: args.esm_faults,
        timeout: std::time::Duration::from_secs(args.timeout),
    };
    // Ctrl-C drops the run, and with it the local cloud and every process it started.
    let report = tokio::select! {
        result = chaos::run(&options) => match result {
            Ok(report) => report,
            Err(e) => return fail(&e),
        },
        () = wait_for_signal() => return fail(&"interrupted; the local cloud is stopped"),
    };
    if args.json {
        match serde_json::to_string(&report) {
            Ok(line) => println!("{line}"),
            Err(e) => return fail(&e),
        }
    } else {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => return fail(&e),
        }
    }
    let failures = report.failures();
    if failures.is_empty() {
        eprintln!(
            "chaos | passed: {} orders, {} faults injected, nothing lost, doubled, oversold or stuck",
            report.orders,
            report
                .faults_injected
                .map_or_else(|| "an unknown number of".into(), |n| n.to_string())
        );
        ExitCode::SUCCESS
    } else {
        let list: Vec<String> = failures.iter().map(|(k, n)| format!("{k}={n}")).collect();
        eprintln!("chaos | FAILED: {}", list.join(", "));
        ExitCode::FAILURE
    }
}

async fn local_up(options: local::UpOptions) -> ExitCode {
    let logs = local::logs::LogSink::new(Some(options.state_dir.clone()));
    let cloud = match local::up(&options, logs.clone()).await {
        Ok(cloud) => cloud,
        Err(e) => {
            logs.line("orderflow", &format!("could not start: {e}"));
            return ExitCode::FAILURE;
        }
    };
    for (topic, url) in &cloud.deployment.inboxes {
        logs.line("orderflow", &format!("inbox for {topic}: {url}"));
    }
    if cloud.issuer.is_some() {
        logs.line(
            "orderflow",
            &format!(
                "auth: on; a token for a customer: orderflow local token CUSTOMER --state-dir {}",
                options.state_dir.display()
            ),
        );
    }
    logs.line(
        "orderflow",
        &format!(
            "ready: API {} · AWS endpoint {} · Ctrl-C to stop",
            cloud.api_url, cloud.endpoint
        ),
    );
    wait_for_signal().await;
    logs.line("orderflow", "stopping every process");
    cloud.shutdown().await;
    logs.line("orderflow", "stopped");
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}
