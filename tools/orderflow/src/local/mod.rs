//! `orderflow local up`: the whole chain on one machine, no Docker, no AWS account.

pub mod api_gateway;
pub mod auth;
pub mod command;
pub mod esm;
pub mod fault_proxy;
pub mod logs;
pub mod messages;
pub mod moto;
pub mod resources;
pub mod runtime;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use orderflow_shared::adapters::dynamodb::{DynamoStore, TableNames};
use orderflow_shared::adapters::sqs::Queues;
use orderflow_shared::domain::{Money, Sku};
use orderflow_shared::faults::Faults;
use orderflow_shared::ports::Product;
use orderflow_template::{Template, Value};
use tokio::sync::watch;

use logs::LogSink;
use resources::{Clients, Deployment};
use runtime::{FunctionHandle, FunctionSpec};

pub const REGION: &str = "us-east-1";

/// The stack name of a local cloud unless told otherwise: physical names are `<stack>-<LogicalId>`.
pub const DEFAULT_STACK: &str = "orderflow-local";

/// Faults the local cloud itself injects (the AWS proxy, the event source mappings), with a
/// switch to stop them mid-run (`orderflow chaos` stops faults before it redrives the DLQs).
#[derive(Debug, Clone)]
pub struct FaultSwitch {
    faults: Faults,
    on: Arc<AtomicBool>,
}

impl FaultSwitch {
    pub fn new(faults: Faults) -> FaultSwitch {
        FaultSwitch {
            faults,
            on: Arc::new(AtomicBool::new(true)),
        }
    }

    pub fn hits(&self, fault: orderflow_shared::faults::Fault, key: &str) -> bool {
        self.on.load(Ordering::SeqCst) && self.faults.hits(fault, key)
    }

    /// Other faults, switched by the same switch.
    pub fn sharing(&self, faults: Faults) -> FaultSwitch {
        FaultSwitch {
            faults,
            on: self.on.clone(),
        }
    }

    pub fn stop(&self) {
        self.on.store(false, Ordering::SeqCst);
    }
}

/// The variables that switch on the functions' own fault injection: which faults, per mille,
/// and the seed of their choices.
pub const FAULTS_VARIABLE: &str = "ORDERFLOW_FAULTS";
pub const FAULT_SEED_VARIABLE: &str = "ORDERFLOW_FAULT_SEED";
pub const FUNCTION_FAULT_VARIABLES: [&str; 2] = [FAULTS_VARIABLE, FAULT_SEED_VARIABLE];

/// Resolves once the local cloud is told to stop (the watch's guard is not held).
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

#[derive(Debug, Clone)]
pub struct UpOptions {
    pub api_port: u16,
    pub aws_port: u16,
    pub template: PathBuf,
    pub seed: PathBuf,
    /// Where the function binaries are (`target/debug` or `target/release`).
    pub bin_dir: PathBuf,
    pub state_dir: PathBuf,
    /// Processes per function.
    pub instances: usize,
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
}

/// The issuer and audience the local cloud's authorizer accepts.
pub const LOCAL_ISSUER: &str = "orderflow-local";
pub const LOCAL_AUDIENCE: &str = "orderflow-api";

/// The variable that tells the HTTP functions whether a request must carry the authorizer's
/// claims (the template says `true`; the open local cloud says `false`).
pub const REQUIRE_AUTH: &str = "REQUIRE_AUTH";

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
}

#[derive(serde::Deserialize)]
struct SeedProduct {
    sku: String,
    name: String,
    price: Money,
    stock: u32,
}

pub fn read_seed(path: &std::path::Path) -> Result<Vec<Product>, UpError> {
    let err = |message: String| UpError::Seed {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let items: Vec<SeedProduct> = serde_json::from_str(&text).map_err(|e| {
        err(format!(
            "expected a JSON array of {{sku, name, price: {{amount, currency}}, stock}}: {e}"
        ))
    })?;
    items
        .into_iter()
        .map(|p| {
            Ok(Product {
                sku: Sku::parse(&p.sku).map_err(|e| err(format!("{}: {e}", p.sku)))?,
                name: p.name,
                price: p.price,
                stock: p.stock,
            })
        })
        .collect()
}

/// Writes a catalog in the form `read_seed` reads (for runs that seed their own products).
pub fn write_seed(path: &std::path::Path, catalog: &[Product]) -> std::io::Result<()> {
    let items: Vec<serde_json::Value> = catalog
        .iter()
        .map(|p| {
            serde_json::json!({
                "sku": p.sku.as_str(),
                "name": p.name,
                "price": {"amount": p.price.amount, "currency": p.price.currency},
                "stock": p.stock,
            })
        })
        .collect();
    std::fs::write(path, serde_json::to_vec_pretty(&items)?)
}

/// The tables of a local stack: physical names are `<stack>-<LogicalId>`.
pub fn stack_tables(stack: &str) -> TableNames {
    TableNames {
        orders: format!("{stack}-OrdersTable"),
        inventory: format!("{stack}-InventoryTable"),
        payments: format!("{stack}-PaymentsTable"),
        idempotency: format!("{stack}-IdempotencyTable"),
    }
}

/// A free loopback port (for a run that starts its own local cloud).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The AWS configuration every local client and function uses: the endpoint, a fixed region
/// and dummy credentials (moto accepts any).
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    orderflow_shared::aws::with_http_client(aws_config::defaults(
        aws_config::BehaviorVersion::latest(),
    ))
    .region(aws_config::Region::new(REGION))
    .endpoint_url(endpoint)
    .credentials_provider(aws_sdk_sqs::config::Credentials::new(
        "test",
        "test",
        None,
        None,
        "orderflow-local",
    ))
    .load()
    .await
}

/// The running local cloud; dropping it (or `shutdown`) stops every process it started.
pub struct LocalCloud {
    pub api_url: String,
    pub endpoint: String,
    pub deployment: Deployment,
    /// With `--auth`: the issuer whose tokens the API accepts.
    pub issuer: Option<auth::LocalIssuer>,
    faults: FaultSwitch,
    function_env: watch::Sender<BTreeMap<String, String>>,
    shutdown: watch::Sender<bool>,
    moto: Option<moto::Moto>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl LocalCloud {
    /// Stops every injected fault: the AWS proxy and the event source mappings at once, and the
    /// functions' own as each process is replaced between invocations.
    pub fn stop_faults(&self) {
        self.faults.stop();
        self.function_env.send_modify(|env| {
            for var in FUNCTION_FAULT_VARIABLES {
                env.remove(var);
            }
        });
    }

    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        // Give supervisors a moment to kill their children.
        tokio::time::sleep(Duration::from_millis(300)).await;
        if let Some(mut m) = self.moto.take() {
            let _ = m.child.kill().await;
        }
    }
}

fn function_env(
    function: &orderflow_template::model::Function,
    d: &Deployment,
    endpoint: &str,
) -> Result<BTreeMap<String, String>, UpError> {
    let mut env = BTreeMap::new();
    for (k, v) in &function.environment {
        let value = v.resolve_string(d).map_err(|e| UpError::Function {
            function: function.binary.clone(),
            message: format!("environment variable {k}: {e}"),
        })?;
        env.insert(k.clone(), value);
    }
    let logging = function.properties.get("LoggingConfig");
    if let Some(format) = logging
        .and_then(|l| l.get("LogFormat"))
        .and_then(|v| v.resolve_string(d).ok())
    {
        env.insert("AWS_LAMBDA_LOG_FORMAT".into(), format);
    }
    if let Some(level) = logging
        .and_then(|l| l.get("ApplicationLogLevel"))
        .and_then(|v| v.resolve_string(d).ok())
    {
        env.insert("AWS_LAMBDA_LOG_LEVEL".into(), level);
    }
    for (k, v) in [
        ("AWS_REGION", REGION),
        ("AWS_DEFAULT_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ENDPOINT_URL", endpoint),
    ] {
        env.insert(k.into(), v.into());
    }
    Ok(env)
}

/// Finds the table a function's environment names with `var` (e.g. `INVENTORY_TABLE`).
fn table_from_env(
    functions: &[orderflow_template::model::Function],
    d: &Deployment,
    var: &str,
) -> Option<String> {
    functions.iter().find_map(|f| {
        f.environment
            .get(var)
            .and_then(|v: &Value| v.resolve_string(d).ok())
    })
}

pub async fn up(options: &UpOptions, logs: LogSink) -> Result<LocalCloud, UpError> {
    std::fs::create_dir_all(&options.state_dir)?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    let (endpoint, moto) = match std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(endpoint) => {
            logs.line(
                "orderflow",
                &format!("using the AWS endpoint {endpoint} (AWS_ENDPOINT_URL)"),
            );
            (endpoint, None)
        }
        None => {
            let m = moto::start(options.aws_port, &options.state_dir).await?;
            let log = options.state_dir.join("moto.log");
            logs.line(
                "orderflow",
                &format!("moto server on {} (log: {})", m.endpoint, log.display()),
            );
            (m.endpoint.clone(), Some(m))
        }
    };

    let template = Template::from_path(&options.template).map_err(|e| UpError::Template {
        path: options.template.display().to_string(),
        message: e.to_string(),
    })?;
    let functions = template.functions().map_err(|e| UpError::Template {
        path: options.template.display().to_string(),
        message: e.to_string(),
    })?;
    let sdk = sdk_config(&endpoint).await;
    let clients = Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        sns: aws_sdk_sns::Client::new(&sdk),
        events: aws_sdk_eventbridge::Client::new(&sdk),
    };
    let deployment = resources::create_all(
        &template,
        &clients,
        &options.stack,
        REGION,
        &BTreeMap::new(),
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

    let products = read_seed(&options.seed)?;
    let inventory =
        table_from_env(&functions, &deployment, "INVENTORY_TABLE").ok_or_else(|| {
            UpError::Seed {
            path: options.seed.display().to_string(),
            message:
                "no function names INVENTORY_TABLE in its environment, so there is no catalog table"
                    .into(),
        }
        })?;
    let store = DynamoStore::new(
        clients.dynamodb.clone(),
        TableNames {
            orders: String::new(),
            inventory,
            payments: String::new(),
            idempotency: String::new(),
        },
    );
    for p in &products {
        store.put_product(p).await.map_err(|e| UpError::Seed {
            path: options.seed.display().to_string(),
            message: e.to_string(),
        })?;
    }
    logs.line(
        "orderflow",
        &format!(
            "seeded {} products from {}",
            products.len(),
            options.seed.display()
        ),
    );

    // The functions reach AWS through the fault proxy when AWS faults are asked for.
    let faults = FaultSwitch::new(options.aws_faults.clone());
    let (function_env_tx, function_env_rx) = watch::channel(options.function_env.clone());
    let function_endpoint = if options.aws_faults.is_active() {
        let url = fault_proxy::start(&endpoint, faults.clone(), logs.clone(), shutdown_rx.clone())
            .await?;
        logs.line(
            "orderflow",
            &format!("AWS fault proxy for the functions on {url}"),
        );
        url
    } else {
        endpoint.clone()
    };
    let issuer = if options.auth {
        // Kept across restarts of the same state folder, so tokens already handed out still work.
        let issuer = match auth::LocalIssuer::load(&options.state_dir) {
            Ok(i) if i.issuer == LOCAL_ISSUER && i.audience == LOCAL_AUDIENCE => i,
            _ => auth::LocalIssuer::generate(LOCAL_ISSUER, LOCAL_AUDIENCE),
        };
        issuer
            .save(&options.state_dir)
            .map_err(|e| UpError::Function {
                function: "(api)".into(),
                message: e.to_string(),
            })?;
        Some(issuer)
    } else {
        None
    };
    let mut handles: BTreeMap<String, FunctionHandle> = BTreeMap::new();
    let mut tasks = Vec::new();
    let mut routes = Vec::new();
    let queues = Queues::new(clients.sqs.clone());
    let ready = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for f in &functions {
        let binary = options.bin_dir.join(&f.binary);
        if !binary.is_file() {
            return Err(UpError::Function {
                function: f.binary.clone(),
                message: format!(
                    "{} not found; build first (`cargo build --workspace`)",
                    binary.display()
                ),
            });
        }
        let spec = FunctionSpec {
            name: f.binary.clone(),
            binary,
            env: {
                let mut env = function_env(f, &deployment, &function_endpoint)?;
                if !options.auth {
                    env.insert(REQUIRE_AUTH.into(), "false".into());
                }
                env
            },
            timeout: Duration::from_secs(f.timeout_seconds),
            memory_mb: f.memory_mb,
            instances: options.instances,
        };
        let handle = runtime::start_function(
            spec,
            logs.clone(),
            shutdown_rx.clone(),
            ready.clone(),
            function_env_rx.clone(),
        )
        .await?;
        for http in f.http_api_events() {
            routes.push(api_gateway::Route {
                method: http.method.clone(),
                path: http.path.clone(),
                function: handle.clone(),
                authorized: http.authorizer.as_deref() != Some("NONE"),
            });
        }
        for sqs in f.sqs_events().filter(|s| s.enabled) {
            let (Some(url), Some(arn)) = (
                deployment.queue_url(&sqs.queue),
                deployment.queue_arn(&sqs.queue),
            ) else {
                return Err(UpError::Function {
                    function: f.binary.clone(),
                    message: format!(
                        "its SQS event names {}, which is not a queue in the template",
                        sqs.queue
                    ),
                });
            };
            let mapping = esm::Mapping {
                queue_url: url.to_owned(),
                queue_arn: arn.to_owned(),
                batch_size: usize::try_from(sqs.batch_size).unwrap_or(10),
                batching_window: Duration::from_secs(sqs.maximum_batching_window_seconds),
                report_batch_item_failures: sqs.reports_batch_item_failures(),
                visibility_timeout: options.visibility_timeout,
                region: REGION.into(),
                faults: faults.sharing(options.esm_faults.clone()),
            };
            // One poller per process, as Lambda scales pollers with concurrency.
            for _ in 0..options.instances.max(1) {
                tasks.push(tokio::spawn(esm::run(
                    handle.clone(),
                    queues.clone(),
                    mapping.clone(),
                    logs.clone(),
                    shutdown_rx.clone(),
                )));
            }
        }
        handles.insert(f.binary.clone(), handle);
    }

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.api_port))
        .await
        .map_err(|source| UpError::ApiPort {
            port: options.api_port,
            source,
        })?;
    let api_url = format!("http://{}", listener.local_addr()?);
    let api_shutdown = shutdown_rx.clone();
    let api_logs = logs.clone();
    let api_issuer = issuer.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = api_gateway::serve(listener, routes, api_issuer, api_shutdown).await {
            api_logs.line("api", &format!("stopped: {e}"));
        }
    }));

    // Ready when every process has asked for its first invocation.
    let expected = functions.len() * options.instances.max(1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while ready.load(std::sync::atomic::Ordering::SeqCst) < expected {
        if tokio::time::Instant::now() > deadline {
            let _ = shutdown_tx.send(true);
            return Err(UpError::Function {
                function: "(all)".into(),
                message: format!(
                    "only {} of {expected} function processes reached the Runtime API within 60 s; see their log lines above",
                    ready.load(std::sync::atomic::Ordering::SeqCst)
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(LocalCloud {
        api_url,
        endpoint,
        deployment,
        issuer,
        faults,
        function_env: function_env_tx,
        shutdown: shutdown_tx,
        moto,
        tasks,
    })
}
