//! `deploy`: the steps of `orderflow deploy local` in order — MiniStack, the build, the
//! artifact bucket, `sam deploy`, the stack read back (it must be CREATE_COMPLETE or
//! UPDATE_COMPLETE), the catalog seeded into its inventory table, an inbox subscribed to each
//! topic, the HTTP API served — each step timed, into a running [`Deployed`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use orderflow_template::Template;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::build::{self, Build};
use super::ministack::{MiniStack, MiniStackOptions};
use super::sam::{self, SamDeploy};
use super::stack::StackDescription;
use super::{lambda, DeployError};
use crate::local::auth::{self, LocalIssuer};
use crate::local::logs::LogSink;
use crate::local::{self, api_gateway, catalog, resources};

/// Where the stack goes, and what is deployed.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// MiniStack to start; `None`: deploy to the emulator at `endpoint_url`.
    pub ministack: Option<MiniStackOptions>,
    pub endpoint_url: Option<String>,
    /// The HTTP API's port on 127.0.0.1 (0: a free one).
    pub api_port: u16,
    pub template: PathBuf,
    pub samconfig: PathBuf,
    pub config_env: String,
    pub stack: String,
    pub seed: PathBuf,
    /// The issuer's key, the staged bootstraps, MiniStack's files and log.
    pub state_dir: PathBuf,
    pub build: Build,
    /// The virtualenv with sam and cargo-lambda (`.venv`).
    pub venv: PathBuf,
    /// The console on `127.0.0.1:port` (0: a free port); `None`: no console.
    pub console_port: Option<u16>,
}

/// A deployed stack and the API in front of it; [`Deployed::shutdown`] stops what was started.
pub struct Deployed {
    pub api_url: String,
    /// The console, when one is served.
    pub console_url: Option<String>,
    pub endpoint: String,
    pub stack: StackDescription,
    /// Topic logical id → the inbox queue subscribed to it.
    pub inboxes: BTreeMap<String, String>,
    /// The local identity provider the API's authorizers trust (on 127.0.0.1).
    pub issuer: LocalIssuer,
    /// How long each step took.
    pub timings: Vec<(String, Duration)>,
    ministack: Option<MiniStack>,
    shutdown: watch::Sender<bool>,
    /// The API's task and the issuer's.
    tasks: Vec<JoinHandle<()>>,
}

impl Deployed {
    /// Whether MiniStack was started here (else it runs on when this stops).
    pub fn started_ministack(&self) -> bool {
        self.ministack.is_some()
    }

    /// Stops the API, then MiniStack if it was started here (with its bootstraps).
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        if let Some(m) = self.ministack {
            m.stop().await;
        }
    }
}

/// Times the steps, and says each one as it ends.
struct Clock<'a> {
    started: Instant,
    last: Instant,
    timings: Vec<(String, Duration)>,
    logs: &'a LogSink,
}

impl Clock<'_> {
    fn lap(&mut self, step: String) {
        let now = Instant::now();
        let took = now - self.last;
        self.logs.line(
            "orderflow",
            &format!(
                "[{:6.1} s] {step} ({:.1} s)",
                (now - self.started).as_secs_f32(),
                took.as_secs_f32()
            ),
        );
        self.timings.push((step, took));
        self.last = now;
    }
}

pub async fn deploy(options: &DeployOptions, logs: &LogSink) -> Result<Deployed, DeployError> {
    std::fs::create_dir_all(&options.state_dir)?;
    let now = Instant::now();
    let mut clock = Clock {
        started: now,
        last: now,
        timings: Vec::new(),
        logs,
    };
    let (ministack, endpoint) = match (&options.ministack, &options.endpoint_url) {
        (_, Some(url)) => (None, url.clone()),
        (Some(m), None) => {
            let started = MiniStack::start(m).await?;
            let url = started.endpoint.clone();
            clock.lap(format!(
                "MiniStack on {url} (log: {})",
                started.log.display()
            ));
            (Some(started), url)
        }
        (None, None) => {
            return Err(DeployError::MiniStack(
                "no endpoint and none to start".into(),
            ))
        }
    };
    // From here on, an error drops `ministack`, which stops it.
    let sdk = local::sdk_config(&endpoint).await;
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    let mut sam = SamDeploy {
        venv: options.venv.clone(),
        config_file: std::path::absolute(&options.samconfig)?,
        config_env: options.config_env.clone(),
        template_file: PathBuf::new(),
        stack: options.stack.clone(),
        region: local::REGION.into(),
        bucket: format!("{}-artifacts", options.stack),
        endpoint: endpoint.clone(),
    };
    sam.template_file = build::prepare(
        &options.build,
        &options.template,
        &sam,
        &options.state_dir,
        logs,
    )
    .await?;
    clock.lap(format!("built: {}", sam.template_file.display()));
    sam::ensure_bucket(&cfn, &options.stack, &sam.bucket).await?;
    clock.lap(format!("artifact bucket {}", sam.bucket));
    sam.run(logs).await?;
    let stack = StackDescription::read(&cfn, &options.stack)
        .await?
        .ok_or_else(|| {
            DeployError::step("sam deploy", format!("no stack {} after it", options.stack))
        })?
        .complete()?;
    clock.lap(format!("sam deploy: stack {} {}", stack.name, stack.status));
    let served = serve(options, &sdk, &stack, &mut clock).await?;
    Ok(Deployed {
        api_url: served.api_url,
        console_url: served.console_url,
        endpoint,
        inboxes: served.inboxes,
        issuer: served.issuer,
        timings: clock.timings,
        stack,
        ministack,
        shutdown: served.shutdown,
        tasks: served.tasks,
    })
}

struct Served {
    api_url: String,
    console_url: Option<String>,
    inboxes: BTreeMap<String, String>,
    issuer: LocalIssuer,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Seeds the catalog, subscribes the inboxes and serves the API on the deployed stack.
async fn serve(
    options: &DeployOptions,
    sdk: &aws_config::SdkConfig,
    stack: &StackDescription,
    clock: &mut Clock<'_>,
) -> Result<Served, DeployError> {
    let inventory = stack.output("InventoryTableName")?.to_owned();
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let seeded = catalog::seed(dynamodb, inventory.clone(), &options.seed).await?;
    clock.lap(format!("seeded {seeded} products into {inventory}"));
    let inboxes = subscribe_inboxes(sdk, stack).await?;
    let template_err = |e: orderflow_template::TemplateError| DeployError::Template {
        path: options.template.display().to_string(),
        message: e.to_string(),
    };
    let template = Template::from_path(&options.template).map_err(template_err)?;
    let functions = template.functions().map_err(template_err)?;
    let routes = lambda::routes(&functions, stack, &lambda::client(sdk))?;
    let (shutdown, stop) = watch::channel(false);
    // The template's authorizers, as deployed, but trusting the local issuer: `JwtIssuer`
    // names an identity provider this machine cannot sign for.
    let auth = auth::start(
        &options.state_dir,
        &template,
        stack,
        stop.clone(),
        clock.logs,
    )
    .await
    .map_err(|e| DeployError::step("the local issuer", e))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.api_port))
        .await
        .map_err(|source| DeployError::ApiPort {
            port: options.api_port,
            source,
        })?;
    let api_url = format!("http://{}", listener.local_addr()?);
    let logs = clock.logs.clone();
    let authorizers = Some(auth.api.clone());
    let api = tokio::spawn(async move {
        if let Err(e) = api_gateway::serve(listener, routes, authorizers, stop).await {
            logs.line("api", &format!("stopped: {e}"));
        }
    });
    clock.lap(format!("HTTP API on {api_url}"));
    let mut tasks = vec![api, auth.task];
    let console_url = match options.console_port {
        Some(port) => {
            let sources = console_sources(options, sdk, stack, &api_url, &auth.issuer)?;
            let console = crate::console::start(port, sources, shutdown.subscribe(), clock.logs)
                .await
                .map_err(|e| DeployError::step("the console", e))?;
            tasks.extend(console.tasks);
            clock.lap(format!("console on {}", console.url));
            Some(console.url)
        }
        None => None,
    };
    Ok(Served {
        api_url,
        console_url,
        inboxes,
        issuer: auth.issuer,
        shutdown,
        tasks,
    })
}

/// What the console reads on the deployed stack: its Orders table and queues on the emulator;
/// no function processes or metrics of this machine (the emulator runs the functions).
fn console_sources(
    options: &DeployOptions,
    sdk: &aws_config::SdkConfig,
    stack: &StackDescription,
    api_url: &str,
    issuer: &LocalIssuer,
) -> Result<crate::console::Sources, DeployError> {
    let endpoint = sdk
        .endpoint_url()
        .ok_or_else(|| DeployError::step("the console", "no endpoint"))?;
    Ok(crate::console::Sources {
        api_url: api_url.to_owned(),
        endpoint: endpoint.to_owned(),
        orders_table: stack.output("OrdersTableName")?.to_owned(),
        state_dir: options.state_dir.clone(),
        functions: Vec::new(),
        metrics: None,
        issuer: Some(issuer.clone()),
    })
}

/// An inbox queue per topic of the stack (`<stack>-<Topic>-inbox`, as the local cloud names
/// them), so that what customers were told can be read back, here as there.
async fn subscribe_inboxes(
    sdk: &aws_config::SdkConfig,
    stack: &StackDescription,
) -> Result<BTreeMap<String, String>, DeployError> {
    let (sqs, sns) = (aws_sdk_sqs::Client::new(sdk), aws_sdk_sns::Client::new(sdk));
    let mut inboxes = BTreeMap::new();
    for (id, r) in &stack.resources {
        if r.kind != "AWS::SNS::Topic" {
            continue;
        }
        let name = resources::inbox_queue_name(&stack.name, id);
        let url = resources::subscribe_inbox(&sqs, &sns, &name, &r.physical_id)
            .await
            .map_err(|e| DeployError::step("the inboxes", e))?;
        inboxes.insert(id.clone(), url);
    }
    Ok(inboxes)
}
