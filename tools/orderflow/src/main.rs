//! `orderflow`: the local cloud and the tools around it.
//!
//! - `orderflow local up`: moto + the template's resources + the real function binaries, the
//!   SQS event source mappings and the HTTP API, on 127.0.0.1;
//! - `orderflow dlq list|redrive`: inspect and redrive dead-letter queues (local or AWS).

mod dlq;
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
            };
            local_up(options).await
        }
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
