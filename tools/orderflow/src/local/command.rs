//! The `orderflow local` subcommands: `up` runs the local cloud until Ctrl-C or SIGTERM,
//! `token` prints a token of its issuer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use orderflow_shared::faults::{FaultConfigError, Faults};

use super::auth::{LocalIssuer, TokenKind};
use super::dev_env::{self, CloudFile, EnvFormat};
use super::esm::BATCHES_IN_FLIGHT;
use super::fixtures::{self, FixtureError};
use super::logs::LogSink;
use super::messages::READY;
use super::moto::{HarshSpec, HarshSpecError};
use super::up::INSTANCES;
use super::UpOptions;
use crate::cli::{fail, wait_for_signal};
use orderflow_shared::adapters::dynamodb::TableNames;

#[derive(Subcommand)]
pub enum LocalCommand {
    /// Start the whole chain on this machine; Ctrl-C stops it and every process it started.
    Up(Box<UpArgs>),
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
    /// Print FUNCTION's environment in the running local cloud (the template's, resolved: its
    /// tables, bus, topic, the endpoint, region, credentials, REQUIRE_AUTH, log format), to run
    /// it outside the cloud against it: `eval "$(orderflow local env validate-order)"`, or
    /// `make watch FN=validate-order` (cargo lambda watch with it).
    Env {
        function: String,
        /// The state folder of the running cloud (`local up --state-dir`).
        #[arg(long, env = "ORDERFLOW_STATE_DIR", default_value = ".orderflow")]
        state_dir: PathBuf,
        #[arg(long, value_enum, default_value_t = EnvFormat::Export)]
        format: EnvFormat,
    },
    /// The event fixtures (events/) against the running local cloud.
    #[command(subcommand)]
    Fixtures(FixturesCommand),
}

#[derive(Subcommand)]
pub enum FixturesCommand {
    /// Put the orders each FIXTURE names into the running local cloud, each in the state its
    /// event finds it in (an OrderPlaced's PENDING, an InventoryReserved's RESERVED with its
    /// stock held, …), starting each over if it was there; then invoking the consumer with
    /// the fixture does what the fixture's name says.
    Load {
        #[arg(required = true)]
        fixtures: Vec<PathBuf>,
        /// The state folder of the running cloud (`local up --state-dir`).
        #[arg(long, env = "ORDERFLOW_STATE_DIR", default_value = ".orderflow")]
        state_dir: PathBuf,
    },
}

#[derive(clap::Args)]
pub struct UpArgs {
    #[arg(long, default_value_t = 3000)]
    api_port: u16,
    #[arg(long, default_value_t = 4566)]
    aws_port: u16,
    /// The console (orders, pipeline, dead letters, charts) on 127.0.0.1:PORT; 0 picks a
    /// free port (printed with `ready`).
    #[arg(long, default_value_t = 3001)]
    console_port: u16,
    /// No console (whatever --console-port says).
    #[arg(long)]
    no_console: bool,
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
    /// Processes per function: Lambda's execution environments, each running one invocation
    /// at a time. As many as a queue's batches in flight by default, so they all run at once.
    #[arg(long, default_value_t = INSTANCES)]
    instances: usize,
    /// Batches each SQS event source mapping keeps in flight (pollers per queue). Lambda starts
    /// an SQS event source with five concurrent batches; never more at once than --instances.
    #[arg(long, default_value_t = BATCHES_IN_FLIGHT)]
    batches_in_flight: usize,
    /// Receive with this visibility timeout instead of each queue's own (seconds): failed
    /// messages come back sooner, so retries and DLQ moves happen in seconds locally.
    #[arg(long)]
    visibility_timeout: Option<i32>,
    #[arg(long, default_value = super::DEFAULT_STACK, help = "Physical names are \"<stack>-<LogicalId>\".")]
    stack: String,
    /// Extra environment variable for every function, KEY=VALUE (repeatable). Every function
    /// logs its AWS calls with their durations unless ORDERFLOW_COUNT_AWS_CALLS=0 is given.
    #[arg(long = "function-env", value_parser = parse_key_value)]
    function_env: Vec<(String, String)>,
    /// Faults a proxy injects into the functions' AWS calls, per mille:
    /// "throttle=50,unavailable=20,lost_response=10" (lost_response: the call is applied, then
    /// its answer is lost).
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
    /// A template parameter's value instead of its default, NAME=VALUE (repeatable), as
    /// `sam deploy --parameter-overrides` takes it: e.g. PendingAfterSeconds=5.
    #[arg(long = "parameter", value_parser = parse_key_value)]
    parameters: Vec<(String, String)>,
    /// Run every Schedule event this often (seconds) instead of its rate: the reconciler
    /// every few seconds in tests.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    schedule_period: Option<u64>,
    /// The harsh cloud: moto as harsh as AWS in a flash sale (docs/DESIGN.md §8), e.g.
    /// "conflict_ms=25,item_wcu=1000,eb_duplicate=50,eb_delay=100,eb_delay_ms=2000,seed=7".
    /// DynamoDB's transaction conflicts and per-item write rate are on at AWS's figures unless
    /// set to 0; EventBridge duplicates and late deliveries only at the rates given. "" is the
    /// nature alone, as is the flag without a value. Off without the flag: `make dev` gives a
    /// quiet cloud.
    #[arg(long, value_name = "SPEC", num_args = 0..=1, default_missing_value = "")]
    harsh: Option<String>,
    /// No live metrics line (orders/s by outcome, in flight per stage, DLQ depth) every few
    /// seconds.
    #[arg(long)]
    quiet_summary: bool,
}

/// A command line `local up` cannot run with.
#[derive(Debug, thiserror::Error)]
pub enum UpArgsError {
    #[error(transparent)]
    Faults(#[from] FaultConfigError),
    #[error(transparent)]
    Harsh(#[from] HarshSpecError),
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

pub async fn run(command: LocalCommand) -> ExitCode {
    match command {
        LocalCommand::Up(args) => {
            let summary = !args.quiet_summary;
            match up_options(*args) {
                Ok(options) => up(options, summary).await,
                Err(e) => fail(&e),
            }
        }
        LocalCommand::Token {
            customer,
            state_dir,
            ttl,
            kind,
        } => token(&customer, &state_dir, ttl, kind),
        LocalCommand::Env {
            function,
            state_dir,
            format,
        } => env(&function, &state_dir, format),
        LocalCommand::Fixtures(FixturesCommand::Load {
            fixtures,
            state_dir,
        }) => match load_fixtures(&fixtures, &state_dir).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        },
    }
}

/// Why `fixtures load` stopped.
#[derive(Debug, thiserror::Error)]
pub enum LoadFixturesError {
    #[error(transparent)]
    Cloud(#[from] dev_env::DevEnvError),
    #[error("the local cloud's functions name no {0}")]
    NoTable(&'static str),
    #[error(transparent)]
    Fixture(#[from] FixtureError),
}

async fn load_fixtures(files: &[PathBuf], state_dir: &Path) -> Result<(), LoadFixturesError> {
    let cloud = CloudFile::read(state_dir)?;
    let tables = cloud.tables();
    let table = |var: &'static str| {
        tables
            .get(var)
            .cloned()
            .ok_or(LoadFixturesError::NoTable(var))
    };
    let names = TableNames {
        orders: table("ORDERS_TABLE")?,
        inventory: table("INVENTORY_TABLE")?,
        payments: table("PAYMENTS_TABLE")?,
        idempotency: table("IDEMPOTENCY_TABLE")?,
    };
    let dynamodb = aws_sdk_dynamodb::Client::new(&super::sdk_config(&cloud.endpoint).await);
    let all: std::collections::BTreeSet<String> = tables.into_values().collect();
    let target = fixtures::Target::new(dynamodb, names, all.into_iter().collect());
    for file in files {
        for (order, status) in fixtures::load(&target, file).await? {
            println!("{}: order {order} {status}", file.display());
        }
    }
    Ok(())
}

fn env(function: &str, state_dir: &Path, format: EnvFormat) -> ExitCode {
    let cloud = match CloudFile::read(state_dir) {
        Ok(cloud) => cloud,
        Err(e) => return fail(&e),
    };
    match cloud.function(function) {
        Ok(env) => {
            print!("{}", dev_env::render(env, format));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
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

fn up_options(args: UpArgs) -> Result<UpOptions, UpArgsError> {
    let fault_seed = args.fault_seed.to_string();
    Ok(UpOptions {
        api_port: args.api_port,
        aws_port: args.aws_port,
        template: args.template,
        seed: args.seed,
        bin_dir: args.bin_dir,
        state_dir: args.state_dir,
        instances: args.instances,
        batches_in_flight: args.batches_in_flight,
        visibility_timeout: args.visibility_timeout,
        stack: args.stack,
        function_env: with_call_timing(args.function_env.into_iter().collect()),
        aws_faults: Faults::parse(&args.aws_faults, &fault_seed)?,
        esm_faults: Faults::parse(&args.esm_faults, &fault_seed)?,
        auth: args.auth,
        parameters: args.parameters.into_iter().collect(),
        schedule_period: args.schedule_period.map(std::time::Duration::from_secs),
        harsh: args.harsh.as_deref().map(HarshSpec::parse).transpose()?,
        console_port: (!args.no_console).then_some(args.console_port),
    })
}

/// Runs the local cloud on stdout until a signal, then stops every process it started; with
/// `summary`, prints the live metrics line every [`SUMMARY_EVERY`].
async fn up(options: UpOptions, summary: bool) -> ExitCode {
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
            "{READY} {}{} · AWS endpoint {} · Ctrl-C to stop",
            cloud.api_url,
            cloud
                .console_url
                .as_ref()
                .map(|url| format!(" · console {url}"))
                .unwrap_or_default(),
            cloud.endpoint
        ),
    );
    let summary = summary.then(|| tokio::spawn(live_summary(logs.clone(), cloud.endpoint.clone())));
    wait_for_signal().await;
    if let Some(task) = summary {
        task.abort();
    }
    logs.line("orderflow", "stopping every process");
    cloud.shutdown().await;
    CloudFile::remove(&options.state_dir);
    logs.line("orderflow", "stopped");
    ExitCode::SUCCESS
}

/// Every function logs its AWS calls with their durations (`orderflow trace` shows them) unless
/// the command line says otherwise.
fn with_call_timing(mut env: BTreeMap<String, String>) -> BTreeMap<String, String> {
    env.entry(orderflow_shared::aws::COUNT_AWS_CALLS.to_owned())
        .or_insert_with(|| "1".to_owned());
    env
}

/// How often `local up` prints its metrics line.
const SUMMARY_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Every [`SUMMARY_EVERY`]: the rates since the last line, what is in flight, the DLQs' depth.
async fn live_summary(logs: LogSink, endpoint: String) {
    let sqs = aws_sdk_sqs::Client::new(&super::sdk_config(&endpoint).await);
    let mut before = logs.metrics().totals();
    let mut ticks = tokio::time::interval(SUMMARY_EVERY);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let now = logs.metrics().totals();
        let dlq = crate::dlq::depth(&sqs).await;
        let secs = SUMMARY_EVERY.as_secs_f64();
        logs.line(
            "metrics",
            &super::metrics::summary(&before, &now, secs, dlq),
        );
        before = now;
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Run {
        #[command(flatten)]
        up: UpArgs,
    }

    fn options(args: &[&str]) -> Result<UpOptions, String> {
        let run = Run::try_parse_from(std::iter::once("up").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        up_options(run.up).map_err(|e| e.to_string())
    }

    #[test]
    fn by_default_the_cloud_is_quiet_with_lambdas_five_batches_in_flight_per_queue() {
        let quiet = options(&[]).unwrap();
        assert_eq!(quiet.harsh, None, "make dev wants a quiet cloud");
        assert_eq!((quiet.instances, quiet.batches_in_flight), (5, 5));
        let fewer = options(&["--instances", "2", "--batches-in-flight", "4"]).unwrap();
        assert_eq!((fewer.instances, fewer.batches_in_flight), (2, 4));
    }

    #[test]
    fn the_console_is_on_port_3001_unless_told_another_port_or_none() {
        assert_eq!(options(&[]).unwrap().console_port, Some(3001));
        let free = options(&["--console-port", "0"]).unwrap();
        assert_eq!(free.console_port, Some(0));
        let none = options(&["--console-port", "3101", "--no-console"]).unwrap();
        assert_eq!(none.console_port, None);
    }

    #[test]
    fn harsh_alone_is_awss_nature_and_a_spec_is_checked_before_anything_starts() {
        let nature = options(&["--harsh"]).unwrap();
        assert_eq!(nature.harsh.map(|h| h.to_string()), Some(String::new()));
        let spec = options(&["--harsh", "conflict_ms=25,eb_duplicate=50,seed=7"]).unwrap();
        assert_eq!(
            spec.harsh.map(|h| h.to_string()),
            Some("conflict_ms=25,eb_duplicate=50,seed=7".into())
        );
        let error = options(&["--harsh", "lost_response=5"]).unwrap_err();
        assert!(error.contains("unknown kind"), "{error}");
        let faults = options(&["--aws-faults", "lost_response=10", "--fault-seed", "3"]).unwrap();
        assert!(faults
            .aws_faults
            .injects(orderflow_shared::faults::Fault::LostResponse));
    }
}
