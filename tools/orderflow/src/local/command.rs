//! The `orderflow local` subcommands: `up` runs the local cloud until Ctrl-C or SIGTERM,
//! `token` prints a token of its issuer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use orderflow_shared::faults::Faults;

use super::auth::{LocalIssuer, TokenKind};
use super::logs::LogSink;
use super::messages::READY;
use super::UpOptions;
use crate::cli::{fail, wait_for_signal};

#[derive(Subcommand)]
pub enum LocalCommand {
    /// Start the whole chain on this machine; Ctrl-C stops it and every process it started.
    Up(UpArgs),
    /// Print a token for CUSTOMER, signed (RS256) by the issuer of a local cloud started with
    /// --auth, shaped like a Cognito user pool's.
    Token {
        /// The customer: the token's `sub`, which the API takes as the caller.
        customer: String,
        #[arg(long, default_value = ".orderflow")]
        state_dir: PathBuf,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
        /// Which token: `access` (client_id, scope) or `id` (aud); the API takes both.
        #[arg(long, value_enum, default_value_t = TokenKind::Access)]
        kind: TokenKind,
    },
}

#[derive(clap::Args)]
pub struct UpArgs {
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
    #[arg(long, default_value = super::DEFAULT_STACK, help = "Physical names are \"<stack>-<LogicalId>\".")]
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
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

pub async fn run(command: LocalCommand) -> ExitCode {
    match command {
        LocalCommand::Up(args) => match up_options(args) {
            Ok(options) => up(options).await,
            Err(e) => fail(&e),
        },
        LocalCommand::Token {
            customer,
            state_dir,
            ttl,
            kind,
        } => token(&customer, &state_dir, ttl, kind),
    }
}

fn token(customer: &str, state_dir: &Path, ttl: i64, kind: TokenKind) -> ExitCode {
    if let Err(e) = orderflow_shared::domain::CustomerId::parse(customer) {
        return fail(&e);
    }
    let signed = LocalIssuer::load(state_dir)
        .and_then(|issuer| issuer.token_of(kind, customer, chrono::Utc::now().timestamp(), ttl));
    match signed {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn up_options(args: UpArgs) -> Result<UpOptions, orderflow_shared::faults::FaultConfigError> {
    let fault_seed = args.fault_seed.to_string();
    Ok(UpOptions {
        api_port: args.api_port,
        aws_port: args.aws_port,
        template: args.template,
        seed: args.seed,
        bin_dir: args.bin_dir,
        state_dir: args.state_dir,
        instances: args.instances,
        visibility_timeout: args.visibility_timeout,
        stack: args.stack,
        function_env: args.function_env.into_iter().collect::<BTreeMap<_, _>>(),
        aws_faults: Faults::parse(&args.aws_faults, &fault_seed)?,
        esm_faults: Faults::parse(&args.esm_faults, &fault_seed)?,
        auth: args.auth,
    })
}

/// Runs the local cloud on stdout until a signal, then stops every process it started.
async fn up(options: UpOptions) -> ExitCode {
    let logs = LogSink::new(Some(options.state_dir.clone()));
    let cloud = match super::up(&options, logs.clone()).await {
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
            "{READY} {} · AWS endpoint {} · Ctrl-C to stop",
            cloud.api_url, cloud.endpoint
        ),
    );
    wait_for_signal().await;
    logs.line("orderflow", "stopping every process");
    cloud.shutdown().await;
    logs.line("orderflow", "stopped");
    ExitCode::SUCCESS
}
