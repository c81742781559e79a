//! `up`: the local cloud started step by step — the AWS endpoint, the template's resources,
//! the catalog, the fault proxy, the issuer, the functions, the HTTP API — and waited for
//! until every function process is ready.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use orderflow_shared::adapters::sqs::Queues;
use orderflow_shared::faults::Faults;
use orderflow_template::model::Function;
use orderflow_template::Template;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::api_gateway::{self, Route};
use super::auth::{self, ApiAuth, LocalAuth};
use super::cloud::LocalCloud;
use super::dev_env::{CloudFile, DevEnvError};
use super::endpoint::{self, sdk_config, REGION};
use super::faults::FaultSwitch;
use super::functions::{self, Wiring};
use super::logs::LogSink;
use super::moto::HarshSpec;
use super::resources::{self, Clients, Deployment};
use super::runtime::FunctionHandle;
use super::{catalog, fault_proxy, moto};

#[derive(Debug, Clone)]
pub struct UpOptions {
    pub api_port: u16,
    pub aws_port: u16,
    pub template: PathBuf,
    pub seed: PathBuf,
    /// Where the function binaries are (`target/debug` or `target/release`).
    pub bin_dir: PathBuf,
    pub state_dir: PathBuf,
    /// Processes per function (each runs one invocation at a time, as a Lambda execution
    /// environment does).
    pub instances: usize,
    /// Batches each SQS event source mapping has in flight at once (pollers per queue); never
    /// more invocations at once than the function has processes.
    pub batches_in_flight: usize,
    /// Overrides every queue's visibility timeout on receive (seconds), to retry faster locally.
    pub visibility_timeout: Option<i32>,
    pub stack: String,
    /// Extra environment for every function (e.g. fault injection).
    pub function_env: BTreeMap<String, String>,
    /// Faults the proxy in front of the AWS endpoint injects into the functions' calls.
    pub aws_faults: Faults,
    /// Faults the event source mappings inject (duplicate delivery).
    pub esm_faults: Faults,
    /// Enforce the API's JWT authorizer with a local issuer (`orderflow local token` signs).
    pub auth: bool,
    /// Template parameter values instead of the defaults (as `sam deploy
    /// --parameter-overrides`), e.g. the reconciler's bounds.
    pub parameters: BTreeMap<String, String>,
    /// Runs every `Schedule` event this often instead of its expression's period.
    pub schedule_period: Option<Duration>,
    /// The harsh cloud (DESIGN §8): moto started with this spec; `None`, moto as it is.
    pub harsh: Option<HarshSpec>,
    /// The console on `127.0.0.1:port` (0: a free port); `None`: no console.
    pub console_port: Option<u16>,
}

/// Processes per function unless told otherwise: as many as an SQS event source mapping has
/// batches in flight, so that every batch Lambda would run at once runs at once here too.
pub const INSTANCES: usize = super::esm::BATCHES_IN_FLIGHT;

#[derive(Debug, thiserror::Error)]
pub enum UpError {
    #[error("{0}")]
    Moto(#[from] moto::MotoError),
    #[error("{0}")]
    Setup(#[from] resources::SetupError),
    #[error("template {path}: {message}")]
    Template { path: String, message: String },
    #[error("seed {path}: {message}")]
    Seed { path: String, message: String },
    #[error("function {function}: {message}")]
    Function { function: String, message: String },
    #[error("cannot listen on 127.0.0.1:{port} for the API: {source}; pass --api-port")]
    ApiPort { port: u16, source: std::io::Error },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    DevEnv(#[from] DevEnvError),
    #[error("{0}")]
    Console(#[from] crate::console::ConsoleError),
}

const READY_WITHIN: Duration = Duration::from_secs(60);

pub async fn up(options: &UpOptions, logs: LogSink) -> Result<LocalCloud, UpError> {
    std::fs::create_dir_all(&options.state_dir)?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let aws = endpoint::start(
        options.aws_port,
        &options.state_dir,
        options.harsh.as_ref(),
        &logs,
    )
    .await?;
    let (template, functions) = read_template(&options.template)?;
    let sdk = sdk_config(&aws.url).await;
    let clients = Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        sns: aws_sdk_sns::Client::new(&sdk),
        events: aws_sdk_eventbridge::Client::new(&sdk),
    };
    let mut deployment = create_resources(options, &template, &clients, &logs).await?;
    seed_catalog(options, &functions, &deployment, &clients, &logs).await?;

    // The functions reach AWS through the fault proxy when AWS faults are asked for.
    let faults = FaultSwitch::new(options.aws_faults.clone());
    let (function_env_tx, function_env_rx) = watch::channel(options.function_env.clone());
    let function_endpoint = if options.aws_faults.is_active() {
        let url =
            fault_proxy::start(&aws.url, faults.clone(), logs.clone(), shutdown_rx.clone()).await?;
        logs.line(
            "orderflow",
            &format!("AWS fault proxy for the functions on {url}"),
        );
        url
    } else {
        aws.url.clone()
    };
    let auth = if options.auth {
        Some(start_auth(options, &template, &mut deployment, &shutdown_rx, &logs).await?)
    } else {
        None
    };
    let wiring = Wiring {
        options,
        deployment: &deployment,
        endpoint: &function_endpoint,
        faults: &faults,
        logs: &logs,
        shutdown: &shutdown_rx,
        extra_env: &function_env_rx,
        queues: Queues::new(clients.sqs.clone()),
    };
    let started = functions::start_all(&functions, &wiring).await?;
    let mut tasks = started.tasks;
    let (api_url, api) = serve_api(
        options.api_port,
        started.routes,
        auth.as_ref().map(|a| a.api.clone()),
        &shutdown_rx,
        &logs,
    )
    .await?;
    tasks.push(api);
    let handles = &started.functions;
    let sources = console_sources(options, &functions, &deployment, handles, &aws.url);
    let sources = sources.with_api(&api_url, auth.as_ref().map(|a| a.issuer.clone()), &logs);
    let console = serve_console(options, sources, &shutdown_rx, &logs, &mut tasks).await?;
    let issuer = auth.map(|a| {
        tasks.push(a.task);
        a.issuer
    });
    let expected = functions.len() * options.instances.max(1);
    if let Err(e) = wait_ready(&started.ready, expected).await {
        let _ = shutdown_tx.send(true);
        return Err(e);
    }
    cloud_file(
        options,
        &functions,
        &deployment,
        &function_endpoint,
        &api_url,
        &aws.url,
    )?
    .write(&options.state_dir)?;
    Ok(LocalCloud {
        api_url,
        console_url: console,
        endpoint: aws.url,
        deployment,
        issuer,
        faults,
        function_env: function_env_tx,
        shutdown: shutdown_tx,
        moto: aws.moto,
        tasks,
    })
}

/// The console when asked for one: its URL (its tasks join `tasks`).
async fn serve_console(
    options: &UpOptions,
    sources: crate::console::Sources,
    shutdown: &watch::Receiver<bool>,
    logs: &LogSink,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<Option<String>, UpError> {
    let Some(port) = options.console_port else {
        return Ok(None);
    };
    let console = crate::console::start(port, sources, shutdown.clone(), logs).await?;
    tasks.extend(console.tasks);
    Ok(Some(console.url))
}

/// What the console reads: this cloud's tables, queues, state folder, functions and metrics.
fn console_sources(
    options: &UpOptions,
    functions: &[Function],
    deployment: &Deployment,
    handles: &[FunctionHandle],
    endpoint: &str,
) -> crate::console::Sources {
    crate::console::Sources {
        api_url: String::new(),
        endpoint: endpoint.to_owned(),
        orders_table: functions::table_from_env(functions, deployment, "ORDERS_TABLE")
            .unwrap_or_default(),
        state_dir: options.state_dir.clone(),
        functions: handles.to_vec(),
        metrics: None,
        issuer: None,
    }
}

/// What tools beside the cloud read (`orderflow local env`, `fixtures load`).
fn cloud_file(
    options: &UpOptions,
    functions: &[Function],
    deployment: &Deployment,
    function_endpoint: &str,
    api_url: &str,
    endpoint: &str,
) -> Result<CloudFile, UpError> {
    let envs = functions
        .iter()
        .map(|f| {
            let env = functions::cloud_environment(f, deployment, function_endpoint, options.auth)?;
            Ok((f.binary.clone(), env))
        })
        .collect::<Result<_, UpError>>()?;
    Ok(CloudFile {
        api_url: api_url.to_owned(),
        endpoint: endpoint.to_owned(),
        pid: std::process::id(),
        functions: envs,
    })
}

fn read_template(path: &Path) -> Result<(Template, Vec<Function>), UpError> {
    let err = |e: orderflow_template::TemplateError| UpError::Template {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let template = Template::from_path(path).map_err(err)?;
    let functions = template.functions().map_err(err)?;
    Ok((template, functions))
}

async fn create_resources(
    options: &UpOptions,
    template: &Template,
    clients: &Clients,
    logs: &LogSink,
) -> Result<Deployment, UpError> {
    if let Some(unknown) = options
        .parameters
        .keys()
        .find(|name| !template.parameters.contains_key(*name))
    {
        return Err(UpError::Template {
            path: options.template.display().to_string(),
            message: format!("it has no parameter {unknown} to override"),
        });
    }
    let deployment = resources::create_all(
        template,
        clients,
        &options.stack,
        REGION,
        &options.parameters,
    )
    .await?;
    logs.line(
        "orderflow",
        &format!(
            "created {} resources from {}",
            deployment.resources.len(),
            options.template.display()
        ),
    );
    Ok(deployment)
}

/// The catalog goes into the table the functions know as `INVENTORY_TABLE`.
async fn seed_catalog(
    options: &UpOptions,
    functions: &[Function],
    deployment: &Deployment,
    clients: &Clients,
    logs: &LogSink,
) -> Result<(), UpError> {
    let inventory = functions::table_from_env(functions, deployment, "INVENTORY_TABLE")
        .ok_or_else(|| UpError::Seed {
            path: options.seed.display().to_string(),
            message:
                "no function names INVENTORY_TABLE in its environment, so there is no catalog table"
                    .into(),
        })?;
    let seeded = catalog::seed(clients.dynamodb.clone(), inventory, &options.seed).await?;
    logs.line(
        "orderflow",
        &format!("seeded {seeded} products from {}", options.seed.display()),
    );
    Ok(())
}

/// The local issuer (kept in the state folder across restarts) on 127.0.0.1, the API's
/// authorizers trusting it, and the template's `JwtIssuer` its URL.
async fn start_auth(
    options: &UpOptions,
    template: &Template,
    deployment: &mut Deployment,
    shutdown: &watch::Receiver<bool>,
    logs: &LogSink,
) -> Result<LocalAuth, UpError> {
    let started = auth::start(
        &options.state_dir,
        template,
        deployment,
        shutdown.clone(),
        logs,
    )
    .await
    .map_err(|e| UpError::Function {
        function: "(auth)".into(),
        message: e.to_string(),
    })?;
    deployment.parameters.insert(
        auth::ISSUER_PARAMETER.to_owned(),
        started.issuer.issuer.clone(),
    );
    Ok(started)
}

/// The HTTP API on `127.0.0.1:port` (0: a free port); returns its URL and its task.
async fn serve_api(
    port: u16,
    routes: Vec<Route>,
    auth: Option<Arc<ApiAuth>>,
    shutdown: &watch::Receiver<bool>,
    logs: &LogSink,
) -> Result<(String, JoinHandle<()>), UpError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| UpError::ApiPort { port, source })?;
    let url = format!("http://{}", listener.local_addr()?);
    let (shutdown, logs) = (shutdown.clone(), logs.clone());
    let task = tokio::spawn(async move {
        if let Err(e) = api_gateway::serve(listener, routes, auth, shutdown).await {
            logs.line("api", &format!("stopped: {e}"));
        }
    });
    Ok((url, task))
}

/// Ready when every process has asked for its first invocation.
async fn wait_ready(ready: &AtomicUsize, expected: usize) -> Result<(), UpError> {
    let deadline = tokio::time::Instant::now() + READY_WITHIN;
    while ready.load(Ordering::SeqCst) < expected {
        if tokio::time::Instant::now() > deadline {
            return Err(UpError::Function {
                function: "(all)".into(),
                message: format!(
                    "only {} of {expected} function processes reached the Runtime API within {} s; see their log lines above",
                    ready.load(Ordering::SeqCst),
                    READY_WITHIN.as_secs()
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
