//! The console: a page on 127.0.0.1 that shows the local cloud at work — the orders with
//! their status and history, the pipeline (each function's invocations in flight, each
//! queue's messages, each dead-letter queue's depth), an order's timeline, the dead letters
//! with their reasons, charts of orders per second and stage latency — and three actions: a
//! test order, a small flash sale, a redrive.
//!
//! It reads where the CLI tools read, and keeps no copy of its own: [`reads`] (the Orders
//! table, `crate::dlq`, `crate::trace`), [`charts`] (the metrics store). [`actions`] go
//! through the HTTP API and `orderflow dlq redrive`. [`guard`] refuses cross-site requests;
//! [`mask`] hides payment tokens and e-mail addresses before anything leaves the server;
//! [`live`] streams a snapshot of it all (server-sent events); [`assets`] is the page, built
//! into the binary.

pub mod actions;
pub mod age;
pub mod assets;
pub mod charts;
pub mod guard;
pub mod live;
pub mod mask;
pub mod reads;
mod routes;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::local::auth::LocalIssuer;
use crate::local::logs::LogSink;
use crate::local::metrics::MetricsStore;
use crate::local::runtime::FunctionHandle;

/// Where the console reads and acts: the running cloud's own parts.
#[derive(Clone)]
pub struct Sources {
    /// The HTTP API (test orders go there).
    pub api_url: String,
    /// The AWS endpoint (tables and queues).
    pub endpoint: String,
    pub orders_table: String,
    /// The cloud's state folder: the trace, the failure reasons.
    pub state_dir: PathBuf,
    /// The functions, for their invocations in flight (none for a deployed stack).
    pub functions: Vec<FunctionHandle>,
    /// The functions' metrics (none for a deployed stack: no charts).
    pub metrics: Option<MetricsStore>,
    /// The issuer whose tokens the API wants, when it wants one.
    pub issuer: Option<LocalIssuer>,
}

/// A running console's state, shared by its handlers.
pub struct Console {
    pub sources: Sources,
    pub(crate) dynamodb: aws_sdk_dynamodb::Client,
    pub(crate) sqs: aws_sdk_sqs::Client,
    pub(crate) events: aws_sdk_eventbridge::Client,
    pub(crate) cloudwatch: aws_sdk_cloudwatch::Client,
    pub(crate) http: reqwest::Client,
    pub(crate) guard: guard::Guard,
    pub(crate) charts: Arc<Mutex<charts::Charts>>,
    pub(crate) live: watch::Sender<Arc<String>>,
    /// Each dead-letter queue's last listing, by ARN; its lock keeps listings and redrives
    /// apart.
    pub(crate) dead_letters: tokio::sync::Mutex<std::collections::HashMap<String, reads::Listed>>,
    /// The queues and the EventBridge targets' dead-letter queues, as last read.
    pub(crate) layout: tokio::sync::Mutex<Option<reads::Layout>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("cannot listen on 127.0.0.1:{port} for the console: {source}; pass --console-port")]
    Port { port: u16, source: std::io::Error },
    #[error("the console's HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// A started console: its URL and the tasks that serve it.
pub struct Started {
    pub url: String,
    pub tasks: Vec<JoinHandle<()>>,
}

/// Serves the console on `127.0.0.1:port` (0: a free port) until `shutdown`.
pub async fn start(
    port: u16,
    sources: Sources,
    shutdown: watch::Receiver<bool>,
    logs: &LogSink,
) -> Result<Started, ConsoleError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| ConsoleError::Port { port, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ConsoleError::Port { port, source })?
        .port();
    let sdk = crate::local::sdk_config(&sources.endpoint).await;
    let console = Arc::new(Console {
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        events: aws_sdk_eventbridge::Client::new(&sdk),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?,
        guard: guard::Guard::new(bound),
        charts: Arc::default(),
        live: watch::channel(Arc::new(String::new())).0,
        dead_letters: tokio::sync::Mutex::default(),
        layout: tokio::sync::Mutex::default(),
        sources,
    });
    let mut tasks = Vec::new();
    if let Some(store) = console.sources.metrics.clone() {
        tasks.push(tokio::spawn(charts::sample_forever(
            store,
            console.charts.clone(),
        )));
    }
    tasks.push(tokio::spawn(live::publish(console.clone())));
    let app = routes::router(console);
    let (logs, mut stop) = (logs.clone(), shutdown);
    tasks.push(tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = served {
            logs.line("console", &format!("stopped: {e}"));
        }
    }));
    Ok(Started {
        url: format!("http://127.0.0.1:{bound}/"),
        tasks,
    })
}

impl Sources {
    /// These sources with the API to send test orders to, the issuer of its tokens, and the
    /// metrics the log sink keeps.
    pub fn with_api(
        mut self,
        api_url: &str,
        issuer: Option<LocalIssuer>,
        logs: &LogSink,
    ) -> Sources {
        self.api_url = api_url.to_owned();
        self.issuer = issuer;
        self.metrics = Some(logs.metrics().clone());
        self
    }
}
