//! The `orderflow dlq` subcommand: its arguments, and the table or JSON lines it prints.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::{DlqError, DlqMessage};
use crate::cli::fail;
use crate::local;

#[derive(clap::Args)]
pub struct DlqArgs {
    /// Talk to this endpoint (e.g. http://127.0.0.1:4566 for the local cloud); without it,
    /// the standard AWS configuration (environment, profile) decides.
    #[arg(long, global = true, env = "ORDERFLOW_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    /// Where the local cloud records failure reasons.
    #[arg(long, global = true, default_value = ".orderflow")]
    state_dir: PathBuf,
    #[command(subcommand)]
    command: DlqCommand,
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
    /// Move every message of a dead-letter queue back to its source queue; for an EventBridge
    /// target's dead-letter queue, put each event back on its bus.
    Redrive {
        /// The dead-letter queue: name, URL or ARN.
        queue: String,
    },
}

pub async fn run(args: DlqArgs) -> ExitCode {
    let sdk = match &args.endpoint_url {
        Some(url) => local::sdk_config(url).await,
        None => orderflow_shared::aws::sdk_config().await,
    };
    let client = aws_sdk_sqs::Client::new(&sdk);
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    match args.command {
        DlqCommand::List { queue, json } => {
            let reasons: HashMap<String, String> = local::logs::read_reasons(&args.state_dir)
                .into_iter()
                .map(|(k, v)| (k, format!("{}: {}", v.function, v.reason)))
                .collect();
            let event_dlqs: Vec<String> = match super::events::dead_letter_queues(&events).await {
                Ok(found) => found.into_keys().collect(),
                // The queues' own DLQs can still be listed.
                Err(e) => {
                    eprintln!(
                        "warning: the EventBridge targets' dead-letter queues are left out: {e}"
                    );
                    Vec::new()
                }
            };
            match super::list(&client, queue.as_deref(), &event_dlqs, &reasons).await {
                Ok(messages) => {
                    print(&messages, json);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        DlqCommand::Redrive { queue } => match redrive(&client, &events, &queue).await {
            Ok(said) => {
                println!("{said}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
    }
}

/// Redrives `queue` to its source queue, or, when an EventBridge target names it, onto the
/// bus; says what moved (and what was left, which fails the command).
pub async fn redrive(
    sqs: &aws_sdk_sqs::Client,
    events: &aws_sdk_eventbridge::Client,
    queue: &str,
) -> Result<String, DlqError> {
    match super::redrive(sqs, queue).await {
        Err(DlqError::NoSource(_)) => {}
        other => {
            return other.map(|(source, moved)| {
                format!("redrove {moved} message(s) from {queue} to {source}")
            })
        }
    }
    let queues = super::all_queues(sqs).await?;
    let dead =
        super::find(&queues, queue).ok_or_else(|| DlqError::NoSuchQueue(queue.to_owned()))?;
    let targets = super::events::dead_letter_queues(events).await?;
    let buses = targets
        .get(&dead.arn)
        .ok_or_else(|| DlqError::NoSource(dead.name.clone()))?;
    let done = super::events::redrive(sqs, events, dead, buses).await?;
    let said = format!(
        "redrove {} event(s) from {queue} back onto {}",
        done.moved,
        buses.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    if done.left.is_empty() {
        return Ok(said);
    }
    let left: Vec<String> = done
        .left
        .iter()
        .map(|(id, why)| format!("{id}: {why}"))
        .collect();
    Err(DlqError::Left(format!(
        "{said}; left {}:\n  {}",
        left.len(),
        left.join("\n  ")
    )))
}

fn print(messages: &[DlqMessage], json: bool) {
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
