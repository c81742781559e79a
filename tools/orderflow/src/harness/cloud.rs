//! The cloud a run works against, whichever [`Target`] it is, and what the run reaches through
//! it: the API, the AWS endpoint (tables, queues, the customer inbox), the issuer of the
//! customers' tokens, the cloud's log lines, and the switch that stops its faults.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use orderflow_shared::adapters::dynamodb::DynamoStore;
use orderflow_shared::faults::Faults;
use orderflow_shared::ports::CatalogEntry;

use super::args::CloudArgs;
use super::child::{ChildError, ChildOptions, ChildProcess};
use super::inbox::{Inbox, CUSTOMER_TOPIC};
use super::names::StackNames;
use super::progress::Say;
use super::Api;
use crate::local::auth::{IssuerError, LocalIssuer};
use crate::local::logs::LogSink;
use crate::local::moto::HarshSpec;
use crate::local::resources::Deployment;
use crate::local::{self, LocalCloud, UpOptions};

/// Where a run's orders go.
pub enum Target {
    /// A local cloud this process runs (`chaos`, `load`): its faults can be stopped and its
    /// deployment read.
    Own(Box<LocalCloud>),
    /// `orderflow local up` or `orderflow deploy local` as a child process (the end-to-end
    /// tests).
    Child(ChildProcess),
    /// A cloud someone else runs (`--api-url`, `--endpoint-url`).
    Remote,
}

/// What a run wants of a local cloud it starts itself.
pub struct OwnCloud<'a> {
    /// The run's name: its catalog is written to `<state dir>/<name>-catalog.json`.
    pub name: &'static str,
    /// Seeded instead of `infra/seed/catalog.json` (each SKU with its shards).
    pub catalog: &'a [CatalogEntry],
    pub function_env: BTreeMap<String, String>,
    pub aws_faults: Faults,
    pub esm_faults: Faults,
    pub visibility_timeout: Option<i32>,
    pub auth: bool,
    /// The harsh cloud's spec (`None`: moto as it is).
    pub harsh: Option<HarshSpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(
        "--api-url needs --endpoint-url too (the AWS endpoint the cloud uses), to seed and read \
         its tables and queues"
    )]
    NoEndpoint,
    #[error("could not start the local cloud: {0}")]
    Up(#[from] local::UpError),
    #[error(transparent)]
    Child(#[from] ChildError),
    #[error("signing the customers' tokens: {0}")]
    Tokens(#[from] IssuerError),
    #[error("seeding the {run} SKUs: {message}")]
    Seed { run: &'static str, message: String },
    #[error("no customer inbox {queue}: {message}")]
    NoInbox { queue: String, message: String },
    #[error("no queue {queue}: {message}")]
    NoQueue { queue: String, message: String },
    #[error("the endpoint has no stack {0} after `orderflow deploy local` said it was ready")]
    NotDeployed(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A cloud and how to reach it.
pub struct Cloud {
    pub api_url: String,
    pub endpoint: String,
    pub stack: String,
    pub state_dir: PathBuf,
    sdk: aws_config::SdkConfig,
    /// What its resources are called.
    names: StackNames,
    /// Where the issuer of a cloud this run did not start in-process keeps its key.
    issuer_dir: Option<PathBuf>,
    /// Where an own cloud writes its log.
    log: Option<PathBuf>,
    target: Target,
}

impl Cloud {
    /// The cloud a command line names: the one at `--api-url` (seeded with the run's catalog),
    /// or one of the run's own, logging to `<state dir>/cloud.log`.
    pub async fn start(
        args: &CloudArgs,
        state_dir: &Path,
        own: OwnCloud<'_>,
        say: Say,
    ) -> Result<Cloud, HarnessError> {
        std::fs::create_dir_all(state_dir)?;
        match (&args.api_url, &args.endpoint_url) {
            (Some(api), Some(endpoint)) => {
                let mut cloud = Cloud::remote(api, endpoint, &args.stack, state_dir).await;
                cloud.issuer_dir.clone_from(&args.issuer_state_dir);
                cloud.seed(own.name, own.catalog).await?;
                Ok(cloud)
            }
            (Some(_), None) => Err(HarnessError::NoEndpoint),
            (None, _) => {
                let seed = state_dir.join(format!("{}-catalog.json", own.name));
                local::write_seed(&seed, own.catalog)?;
                let options = UpOptions {
                    api_port: 0,
                    aws_port: local::free_port()?,
                    template: args.template.clone(),
                    seed,
                    bin_dir: args.bin_dir.clone(),
                    state_dir: state_dir.to_owned(),
                    instances: args.instances,
                    batches_in_flight: args.batches_in_flight,
                    visibility_timeout: own.visibility_timeout,
                    stack: args.stack.clone(),
                    function_env: own.function_env,
                    aws_faults: own.aws_faults,
                    esm_faults: own.esm_faults,
                    auth: own.auth,
                    parameters: Default::default(),
                    schedule_period: None,
                    harsh: own.harsh,
                    console_port: None,
                };
                let log = state_dir.join("cloud.log");
                say.line(&format!("starting a local cloud (log: {})", log.display()));
                Cloud::own(&options, &log).await
            }
        }
    }

    /// A local cloud in this process, its log lines written to `log`.
    pub async fn own(options: &UpOptions, log: &Path) -> Result<Cloud, HarnessError> {
        let logs = LogSink::to_file(log, Some(options.state_dir.clone()))?;
        let cloud = local::up(options, logs).await?;
        Ok(Cloud {
            names: StackNames::local(&options.stack),
            issuer_dir: None,
            api_url: cloud.api_url.clone(),
            endpoint: cloud.endpoint.clone(),
            stack: options.stack.clone(),
            state_dir: options.state_dir.clone(),
            sdk: local::sdk_config(&cloud.endpoint).await,
            log: Some(log.to_owned()),
            target: Target::Own(Box::new(cloud)),
        })
    }

    /// `binary local up` as a child process, started in `cwd`.
    pub async fn child(
        binary: &Path,
        cwd: &Path,
        options: &ChildOptions,
    ) -> Result<Cloud, HarnessError> {
        let started = ChildProcess::start(binary, cwd, options).await?;
        Ok(Cloud {
            names: StackNames::local(local::DEFAULT_STACK),
            issuer_dir: Some(started.state_dir.clone()),
            sdk: local::sdk_config(&started.endpoint).await,
            api_url: started.api_url,
            endpoint: started.endpoint,
            stack: local::DEFAULT_STACK.to_owned(),
            state_dir: started.state_dir,
            log: None,
            target: Target::Child(started.process),
        })
    }

    /// `binary deploy local --debug-bootstraps` as a child process, started in `cwd` (the
    /// workspace): the stack deployed into MiniStack, named as CloudFormation named it.
    pub async fn deployed(binary: &Path, cwd: &Path) -> Result<Cloud, HarnessError> {
        let started = ChildProcess::deploy(binary, cwd).await?;
        let sdk = local::sdk_config(&started.endpoint).await;
        let stack = local::DEFAULT_STACK;
        let names = StackNames::find(&sdk, stack).await;
        if names.deployed_stack().is_none() {
            return Err(HarnessError::NotDeployed(stack.to_owned()));
        }
        Ok(Cloud {
            names,
            issuer_dir: Some(started.state_dir.clone()),
            sdk,
            api_url: started.api_url,
            endpoint: started.endpoint,
            stack: stack.to_owned(),
            state_dir: started.state_dir,
            log: None,
            target: Target::Child(started.process),
        })
    }

    /// A cloud someone else runs: a local cloud, or a stack deployed with `sam deploy` (then
    /// its names are read from the endpoint's CloudFormation).
    pub async fn remote(api_url: &str, endpoint: &str, stack: &str, state_dir: &Path) -> Cloud {
        let sdk = local::sdk_config(endpoint).await;
        Cloud {
            names: StackNames::find(&sdk, stack).await,
            issuer_dir: None,
            api_url: api_url.to_owned(),
            endpoint: endpoint.to_owned(),
            stack: stack.to_owned(),
            state_dir: state_dir.to_owned(),
            sdk,
            log: None,
            target: Target::Remote,
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Whether this process started the cloud (and so can stop its faults and read its log).
    pub fn is_own(&self) -> bool {
        matches!(self.target, Target::Own(_))
    }

    /// The API, through an HTTP client made for this run.
    pub fn api(&self, http: reqwest::Client) -> Api {
        Api::new(&self.api_url, http)
    }

    pub fn sdk(&self) -> &aws_config::SdkConfig {
        &self.sdk
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }

    /// What the cloud's resources are called.
    pub fn names(&self) -> &StackNames {
        &self.names
    }

    /// The production DynamoDB adapter on the stack's tables.
    pub fn store(&self) -> DynamoStore {
        DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            self.names.tables().clone(),
        )
    }

    /// The URL of the stack's queue `logical_id`.
    pub async fn queue_url(&self, logical_id: &str) -> Result<String, HarnessError> {
        let queue = self
            .names
            .name(logical_id)
            .map_err(|e| HarnessError::NoQueue {
                queue: logical_id.to_owned(),
                message: e.to_string(),
            })?;
        let out = self.sqs().get_queue_url().queue_name(&queue).send().await;
        out.map_err(|e| HarnessError::NoQueue {
            queue: queue.clone(),
            message: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
        })
        .map(|o| o.queue_url().unwrap_or_default().to_owned())
    }

    /// The queue subscribed to the customer notifications topic.
    pub async fn inbox(&self) -> Result<Inbox, HarnessError> {
        let queue = self.names.inbox(CUSTOMER_TOPIC);
        let sqs = self.sqs();
        let url = sqs
            .get_queue_url()
            .queue_name(&queue)
            .send()
            .await
            .map_err(|e| HarnessError::NoInbox {
                queue: queue.clone(),
                message: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
            })?
            .queue_url()
            .unwrap_or_default()
            .to_owned();
        Ok(Inbox::new(sqs, &url))
    }

    /// The issuer whose tokens the API accepts, when the cloud checks tokens and its issuer
    /// is local (in this process, or in a state folder this run knows).
    pub fn issuer(&self) -> Option<LocalIssuer> {
        match &self.target {
            Target::Own(cloud) => cloud.issuer.clone(),
            _ => self
                .issuer_dir
                .as_deref()
                .and_then(|dir| LocalIssuer::load(dir).ok()),
        }
    }

    /// An access token from the local issuer for each customer (none when the cloud has no
    /// local issuer).
    pub fn tokens<'a>(
        &self,
        customers: impl IntoIterator<Item = &'a str>,
        ttl_seconds: i64,
    ) -> Result<HashMap<String, String>, HarnessError> {
        let Some(issuer) = self.issuer() else {
            return Ok(HashMap::new());
        };
        let now = chrono::Utc::now().timestamp();
        customers
            .into_iter()
            .map(|c| Ok((c.to_owned(), issuer.token(c, now, ttl_seconds)?)))
            .collect()
    }

    /// What an own cloud created from the template.
    pub fn deployment(&self) -> Option<&Deployment> {
        match &self.target {
            Target::Own(cloud) => Some(&cloud.deployment),
            _ => None,
        }
    }

    /// Where an own cloud writes its log.
    pub fn log_path(&self) -> Option<&Path> {
        self.log.as_deref()
    }

    /// The cloud's log so far: a child's output, an own cloud's log file; nothing of a remote.
    pub fn log_lines(&self) -> Vec<String> {
        match (&self.target, &self.log) {
            (Target::Child(child), _) => child.output(),
            (_, Some(path)) => std::fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Stops every fault an own cloud injects (the harsh cloud's nature stays); `false` when
    /// this run cannot.
    pub fn stop_faults(&self) -> Result<bool, HarnessError> {
        match &self.target {
            Target::Own(cloud) => {
                cloud.stop_faults()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Every message in a dead-letter queue — the queues' and the EventBridge targets' — read,
    /// none removed.
    pub async fn dead_letters(&self) -> Result<Vec<crate::dlq::DlqMessage>, crate::dlq::DlqError> {
        let events = aws_sdk_eventbridge::Client::new(&self.sdk);
        let event_dlqs = crate::dlq::events::dead_letter_queues(&events).await?;
        let event_dlqs: Vec<String> = event_dlqs.into_keys().collect();
        let reasons = HashMap::new();
        crate::dlq::list(&self.sqs(), None, &event_dlqs, &reasons).await
    }

    /// The log of the moto an own or child cloud started (its harsh cloud's lines among them).
    pub fn moto_log(&self) -> Option<String> {
        match &self.target {
            Target::Remote => None,
            _ => std::fs::read_to_string(self.state_dir.join("moto.log")).ok(),
        }
    }

    /// Stops the cloud if this run started it, with every process it started.
    pub async fn shutdown(self) {
        match self.target {
            Target::Own(cloud) => cloud.shutdown().await,
            Target::Child(mut child) => child.stop(),
            Target::Remote => {}
        }
    }

    /// Seeds a cloud this run did not start with the run's products.
    async fn seed(&self, run: &'static str, catalog: &[CatalogEntry]) -> Result<(), HarnessError> {
        let store = self.store();
        for e in catalog {
            store.put_entry(e).await.map_err(|e| HarnessError::Seed {
                run,
                message: e.to_string(),
            })?;
        }
        Ok(())
    }
}
