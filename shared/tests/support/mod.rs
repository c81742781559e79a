//! Test harness: a real moto server on a free loopback port, and resources created in it.
//!
//! The tests of one binary share one server while any of them holds it (an `Arc`); when the
//! last holder drops it the process is killed. Each test names its own tables and queues, so
//! tests never see each other's data. The server's output goes to `target/moto-logs/`.
//!
//! A missing or broken moto fails the test with a message saying how to install it: these
//! tests are never skipped.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};

const HOW_TO_FIX: &str = "install the dev tools with `make venv` (which runs \
    `python3 -m venv .venv && .venv/bin/pip install -r infra/requirements-dev.txt`), \
    or point MOTO_SERVER at a moto_server executable";

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running moto server; killed when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
    pub log: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static SHARED: Mutex<Weak<Moto>> = Mutex::new(Weak::new());

/// The binary's moto server, started if no test holds one now.
pub fn moto() -> Arc<Moto> {
    let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(running) = shared.upgrade() {
        return running;
    }
    let started = Arc::new(Moto::start());
    *shared = Arc::downgrade(&started);
    started
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn moto_binary() -> PathBuf {
    match std::env::var_os("MOTO_SERVER") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => workspace_root().join(".venv/bin/moto_server"),
    }
}

/// Puts `infra/moto/sitecustomize.py` first on the server's path: it makes each DynamoDB call
/// atomic (moto alone lets concurrent conditional writes both pass) and logs each operation.
fn python_path() -> std::ffi::OsString {
    let site = workspace_root().join("infra/moto");
    let mut paths = vec![site];
    if let Some(existing) = std::env::var_os("PYTHONPATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(paths).unwrap()
}

fn log_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp, wherever the target directory is.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("moto-logs")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// True once the server answers its own API with 200.
fn answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 16];
    let n = stream.read(&mut head).unwrap_or(0);
    String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200")
        || String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.0 200")
}

/// A moto of its own with the harsh cloud on (`ORDERFLOW_HARSH_FILE`, infra/moto/harsh): the
/// spec, e.g. `conflict_ms=50,item_wcu=200`, is written to a file beside its log. Not shared:
/// each caller gets its own server, killed when dropped.
pub fn harsh_moto(spec: &str) -> Moto {
    let logs = log_dir();
    fs::create_dir_all(&logs).unwrap();
    let path = logs.join(format!("{}.spec", unique("harsh")));
    fs::write(&path, spec).unwrap();
    Moto::start_with(Some(&path))
}

impl Moto {
    fn start() -> Moto {
        Moto::start_with(None)
    }

    fn start_with(harsh_spec: Option<&Path>) -> Moto {
        let binary = moto_binary();
        assert!(
            binary.is_file(),
            "moto server not found at {}: {HOW_TO_FIX}",
            binary.display()
        );
        let logs = log_dir();
        fs::create_dir_all(&logs).unwrap();
        let test_binary = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "test".into());

        // Another process may take the free port before moto binds it: then try another.
        for _ in 0..3 {
            let port = free_port();
            let log = logs.join(format!("{test_binary}-{port}.log"));
            let out = File::create(&log).unwrap();
            let err = out.try_clone().unwrap();
            let mut command = Command::new(&binary);
            match harsh_spec {
                Some(spec) => command.env("ORDERFLOW_HARSH_FILE", spec),
                None => command.env_remove("ORDERFLOW_HARSH_FILE"),
            };
            let child = command
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("PYTHONPATH", python_path())
                .env("PYTHONUNBUFFERED", "1")
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn();
            let mut child = match child {
                Ok(child) => child,
                Err(e) => panic!(
                    "cannot start moto server {}: {e}; {HOW_TO_FIX}",
                    binary.display()
                ),
            };
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    let output = tail(&log);
                    if output.contains("Address already in use") {
                        break;
                    }
                    panic!(
                        "moto server exited ({status}) before answering; its log {}:\n{output}\n{HOW_TO_FIX}",
                        log.display()
                    );
                }
                if answers(port) {
                    return Moto {
                        child,
                        endpoint: format!("http://127.0.0.1:{port}"),
                        log,
                    };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "moto server did not answer on port {port} within {START_TIMEOUT:?}; its log {}:\n{}",
                        log.display(),
                        tail(&log)
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("moto server could not bind a free port in 3 attempts");
    }

    /// An SDK configuration aimed at this server: region us-east-1, static dummy credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        self.sdk_config_from(orderflow_shared::aws::with_http_client(
            aws_config::defaults(BehaviorVersion::latest()),
        ))
        .await
    }

    /// The same, through `http` (e.g. a [`lossy::LosingResponses`] client).
    pub async fn sdk_config_with(
        &self,
        http: aws_smithy_runtime_api::client::http::SharedHttpClient,
    ) -> SdkConfig {
        self.sdk_config_from(aws_config::defaults(BehaviorVersion::latest()).http_client(http))
            .await
    }

    async fn sdk_config_from(&self, loader: aws_config::ConfigLoader) -> SdkConfig {
        loader
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .test_credentials()
            .load()
            .await
    }

    /// The harsh cloud's injected-event lines of one kind in this server's log
    /// (`orderflow-harsh: <kind> ...`, DESIGN §8).
    pub fn injected(&self, kind: &str) -> usize {
        let prefix = format!("orderflow-harsh: {kind} ");
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .count()
    }
}

/// A name no other test uses: `prefix-<8 hex digits>`.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..8])
}

#[cfg(all(feature = "dynamodb", feature = "testing"))]
pub mod dynamodb {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
    };
    use aws_sdk_dynamodb::Client;
    use orderflow_shared::adapters::dynamodb::{TableNames, CATALOG_INDEX};

    fn string_key(name: &str, key_type: KeyType) -> (AttributeDefinition, KeySchemaElement) {
        (
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .unwrap(),
        )
    }

    /// The Inventory table's sparse catalog index, as infra/template.yaml declares it.
    fn catalog_index() -> (AttributeDefinition, GlobalSecondaryIndex) {
        let (definition, key) = string_key("sku", KeyType::Hash);
        let index = GlobalSecondaryIndex::builder()
            .index_name(CATALOG_INDEX)
            .key_schema(key)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::Include)
                    .non_key_attributes("name")
                    .non_key_attributes("price")
                    .non_key_attributes("shards")
                    .build(),
            )
            .build()
            .unwrap();
        (definition, index)
    }

    /// The Orders table's open-orders index, as infra/template.yaml declares it.
    pub const OPEN_ORDERS_INDEX: &str = "OpenOrders";

    /// Creates the four tables of the data model (each a single string hash key), named
    /// uniquely for one test, the Inventory table with its catalog index, the Idempotency
    /// table with its TTL on `expiresAt` and the Orders table with its open-orders index
    /// (`openShard`, `updatedAt`, every attribute projected).
    pub async fn create_tables(client: &Client) -> TableNames {
        let tables = TableNames {
            orders: super::unique("Orders"),
            inventory: super::unique("Inventory"),
            payments: super::unique("Payments"),
            idempotency: super::unique("Idempotency"),
        };
        for (table, key) in [
            (&tables.orders, "orderId"),
            (&tables.inventory, "pk"),
            (&tables.payments, "orderId"),
            (&tables.idempotency, "id"),
        ] {
            let (attribute, schema) = string_key(key, KeyType::Hash);
            let mut request = client
                .create_table()
                .table_name(table)
                .attribute_definitions(attribute)
                .key_schema(schema)
                .billing_mode(BillingMode::PayPerRequest);
            if table == &tables.orders {
                let (shard, shard_key) = string_key("openShard", KeyType::Hash);
                let (updated, updated_key) = string_key("updatedAt", KeyType::Range);
                request = request
                    .attribute_definitions(shard)
                    .attribute_definitions(updated)
                    .global_secondary_indexes(
                        GlobalSecondaryIndex::builder()
                            .index_name(OPEN_ORDERS_INDEX)
                            .key_schema(shard_key)
                            .key_schema(updated_key)
                            .projection(
                                Projection::builder()
                                    .projection_type(ProjectionType::All)
                                    .build(),
                            )
                            .build()
                            .unwrap(),
                    );
            }
            if table == &tables.inventory {
                let (definition, index) = catalog_index();
                request = request
                    .attribute_definitions(definition)
                    .global_secondary_indexes(index);
            }
            request.send().await.unwrap();
        }
        client
            .update_time_to_live()
            .table_name(&tables.idempotency)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("expiresAt")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        tables
    }
}

#[cfg(feature = "sqs")]
pub mod sqs {
    use aws_sdk_sqs::types::QueueAttributeName;
    use aws_sdk_sqs::Client;

    /// Creates a queue; returns its URL and ARN.
    pub async fn create_queue(
        client: &Client,
        name: &str,
        attributes: &[(QueueAttributeName, String)],
    ) -> (String, String) {
        let mut request = client.create_queue().queue_name(name);
        for (k, v) in attributes {
            request = request.attributes(k.clone(), v);
        }
        let url = request.send().await.unwrap().queue_url.unwrap();
        let arn = client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()
            .remove(&QueueAttributeName::QueueArn)
            .unwrap();
        (url, arn)
    }

    /// Receives until `count` messages arrived or `within` passed; returns their bodies.
    pub async fn receive_bodies(
        client: &Client,
        url: &str,
        count: usize,
        within: std::time::Duration,
    ) -> Vec<String> {
        let deadline = std::time::Instant::now() + within;
        let mut bodies = Vec::new();
        while bodies.len() < count && std::time::Instant::now() < deadline {
            let out = client
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            for m in out.messages.unwrap_or_default() {
                client
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
                bodies.push(m.body.unwrap());
            }
        }
        bodies
    }
}

/// Lost responses between the adapter and a real endpoint: an HTTP client that sends every
/// request on, and for the first `n` requests of one operation (`X-Amz-Target` ending in it)
/// throws the endpoint's answer away and answers a 500 instead, as a response lost after the
/// write took effect. The SDK retries, as it does after a real one.
#[cfg(feature = "aws")]
pub mod lossy {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
        SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    const INTERNAL_FAILURE: &str =
        r#"{"__type":"com.amazon.coral.service#InternalFailure","message":"lost on the way back"}"#;

    #[derive(Debug)]
    struct Losses {
        operation: String,
        remaining: AtomicUsize,
        lost: AtomicUsize,
        sent: AtomicUsize,
    }

    /// The client; clones share the count of responses still to lose.
    #[derive(Debug, Clone)]
    pub struct LosingResponses {
        inner: SharedHttpClient,
        losses: Arc<Losses>,
    }

    impl LosingResponses {
        pub fn new(operation: &str, n: usize) -> Self {
            let roots = orderflow_shared::aws::root_certificates(None).0;
            LosingResponses {
                inner: orderflow_shared::aws::https_client(roots).unwrap(),
                losses: Arc::new(Losses {
                    operation: operation.to_owned(),
                    remaining: AtomicUsize::new(n),
                    lost: AtomicUsize::new(0),
                    sent: AtomicUsize::new(0),
                }),
            }
        }

        pub fn shared(&self) -> SharedHttpClient {
            SharedHttpClient::new(self.clone())
        }

        /// Responses of the operation thrown away so far.
        pub fn lost(&self) -> usize {
            self.losses.lost.load(Ordering::SeqCst)
        }

        /// Requests of the operation sent to the endpoint so far.
        pub fn sent(&self) -> usize {
            self.losses.sent.load(Ordering::SeqCst)
        }
    }

    impl HttpClient for LosingResponses {
        fn http_connector(
            &self,
            settings: &HttpConnectorSettings,
            components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(Connector {
                inner: self.inner.http_connector(settings, components),
                losses: self.losses.clone(),
            })
        }
    }

    #[derive(Debug)]
    struct Connector {
        inner: SharedHttpConnector,
        losses: Arc<Losses>,
    }

    impl HttpConnector for Connector {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let target = request.headers().get("x-amz-target").unwrap_or_default();
            let ours = target.ends_with(&format!(".{}", self.losses.operation));
            let answer = self.inner.call(request);
            let losses = self.losses.clone();
            HttpConnectorFuture::new(async move {
                let response = answer.await?;
                if !ours {
                    return Ok(response);
                }
                losses.sent.fetch_add(1, Ordering::SeqCst);
                let lose = losses
                    .remaining
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if !lose {
                    return Ok(response);
                }
                losses.lost.fetch_add(1, Ordering::SeqCst);
                let mut lost = HttpResponse::new(
                    StatusCode::try_from(500).unwrap(),
                    SdkBody::from(INTERNAL_FAILURE),
                );
                lost.headers_mut()
                    .insert("content-type", "application/x-amz-json-1.0");
                Ok(lost)
            })
        }
    }
}
