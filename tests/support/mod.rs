//! Helpers shared by the repository-wide and end-to-end tests: start the local cloud on free
//! ports, talk to its HTTP API, read its queues, and stop it with every process it started.
// Test support: a failed unwrap here is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The workspace root (this package lives in `tests/`).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A running `orderflow local up`, on its own ports and state folder.
pub struct Cloud {
    child: Child,
    pub api: String,
    pub endpoint: String,
    pub state_dir: PathBuf,
    output: Arc<Mutex<Vec<String>>>,
    pub http: reqwest::Client,
    /// With `--auth`: a token for [`E2E_CUSTOMER`], sent by `place` and `order`.
    pub token: Option<String>,
}

/// The customer the end-to-end tests place orders as (see [`order_body`]).
pub const E2E_CUSTOMER: &str = "cust-e2e";

pub struct CloudOptions {
    pub visibility_timeout: u32,
    pub function_env: Vec<(String, String)>,
    pub seed: Option<PathBuf>,
    /// More `orderflow local up` flags (e.g. `--aws-faults`).
    pub extra_args: Vec<String>,
    /// Start with `--auth`, as a deployed API runs: every order call carries a token.
    pub auth: bool,
}

impl Default for CloudOptions {
    fn default() -> Self {
        CloudOptions {
            // Failed messages come back after 2 s instead of the template's minutes.
            visibility_timeout: 2,
            function_env: Vec::new(),
            seed: None,
            extra_args: Vec::new(),
            auth: true,
        }
    }
}

impl Cloud {
    pub async fn start() -> Cloud {
        Cloud::start_with(CloudOptions::default()).await
    }

    pub async fn start_with(options: CloudOptions) -> Cloud {
        let root = repo_root();
        let binary = root.join("target/debug/orderflow");
        assert!(
            binary.is_file(),
            "{} is missing: run `cargo build --workspace` (make test does) before the end-to-end tests",
            binary.display()
        );
        let api_port = free_port();
        let aws_port = free_port();
        let state_dir =
            std::env::temp_dir().join(format!("orderflow-e2e-{}", uuid::Uuid::new_v4()));
        let mut cmd = Command::new(&binary);
        cmd.current_dir(&root)
            .args(["local", "up", "--api-port", &api_port.to_string()])
            .args(["--aws-port", &aws_port.to_string()])
            .args([
                "--visibility-timeout",
                &options.visibility_timeout.to_string(),
            ])
            .arg("--state-dir")
            .arg(&state_dir)
            .env_remove("AWS_ENDPOINT_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(seed) = &options.seed {
            cmd.arg("--seed").arg(seed);
        }
        cmd.args(&options.extra_args);
        if options.auth {
            cmd.arg("--auth");
        }
        for (k, v) in &options.function_env {
            cmd.args(["--function-env", &format!("{k}={v}")]);
        }
        let mut child = cmd.spawn().expect("orderflow local up starts");
        let output = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    output.lock().unwrap().push(line);
                }
            });
        }
        let mut cloud = Cloud {
            child,
            api: format!("http://127.0.0.1:{api_port}"),
            endpoint: format!("http://127.0.0.1:{aws_port}"),
            state_dir,
            output,
            http: reqwest::Client::new(),
            token: None,
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if cloud.output().iter().any(|l| l.contains("ready: API")) {
                if options.auth {
                    cloud.token = Some(cloud.token_for(E2E_CUSTOMER));
                }
                return cloud;
            }
            if let Ok(Some(status)) = cloud.child.try_wait() {
                panic!(
                    "orderflow local up exited ({status}):\n{}",
                    cloud.output().join("\n")
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "orderflow local up was not ready in 90 s:\n{}",
                    cloud.output().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn output(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    /// Lines a function wrote (JSON), parsed.
    pub fn function_logs(&self, function: &str) -> Vec<Value> {
        self.output()
            .iter()
            .filter_map(|l| {
                let (who, rest) = l.split_once(" | ")?;
                let who = who.trim();
                (who == function || who.starts_with(&format!("{function}#")))
                    .then(|| serde_json::from_str(rest).ok())
                    .flatten()
            })
            .collect()
    }

    pub async fn sdk(&self) -> aws_config::SdkConfig {
        orderflow_shared::aws::with_http_client(aws_config::defaults(
            aws_config::BehaviorVersion::latest(),
        ))
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&self.endpoint)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "e2e",
        ))
        .load()
        .await
    }

    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk().await)
    }

    pub fn queue_url(&self, logical_id: &str) -> String {
        format!(
            "{}/123456789012/orderflow-local-{logical_id}",
            self.endpoint
        )
    }

    pub fn table(&self, logical_id: &str) -> String {
        format!("orderflow-local-{logical_id}")
    }

    /// The production DynamoDB adapter on this cloud's tables, to set up and inspect state.
    pub async fn store(&self) -> orderflow_shared::adapters::dynamodb::DynamoStore {
        orderflow_shared::adapters::dynamodb::DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk().await),
            orderflow_shared::adapters::dynamodb::TableNames {
                orders: self.table("OrdersTable"),
                inventory: self.table("InventoryTable"),
                payments: self.table("PaymentsTable"),
                idempotency: self.table("IdempotencyTable"),
            },
        )
    }

    /// A token for `customer` from `orderflow local token` (the cloud must run with `--auth`).
    pub fn token_for(&self, customer: &str) -> String {
        let out = Command::new(repo_root().join("target/debug/orderflow"))
            .args(["local", "token", customer, "--state-dir"])
            .arg(&self.state_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "orderflow local token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// `request` with this cloud's token, if it has one.
    pub fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn place(&self, body: &Value) -> (u16, Value) {
        let response = self
            .authorized(self.http.post(format!("{}/orders", self.api)))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET /orders/{id}` as the customer whose token is given.
    pub async fn order_as(&self, order_id: &str, token: &str) -> Value {
        self.http
            .get(format!("{}/orders/{order_id}", self.api))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn order(&self, order_id: &str) -> Value {
        self.authorized(self.http.get(format!("{}/orders/{order_id}", self.api)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Polls `GET /orders/{id}` until the status is `want` (or fails after `within`).
    pub async fn wait_for_status(&self, order_id: &str, want: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let order = self.order(order_id).await;
            if order["status"] == want {
                return order;
            }
            if Instant::now() > deadline {
                panic!(
                    "order {order_id} is {} after {within:?}, expected {want}\n{}",
                    order["status"],
                    self.output().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn stock(&self, sku: &str) -> u64 {
        let products: Value = self
            .http
            .get(format!("{}/products", self.api))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        products["products"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["sku"] == sku)
            .and_then(|p| p["stock"].as_u64())
            .unwrap_or_else(|| panic!("{sku} is not in the catalog"))
    }

    /// Every notification in the customer inbox so far (consumed).
    pub async fn drain_inbox(&self) -> Vec<Value> {
        let sqs = self.sqs().await;
        let url = self.queue_url("CustomerNotificationsTopic-inbox");
        let mut out = Vec::new();
        loop {
            let batch = sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            if batch.messages().is_empty() {
                return out;
            }
            for m in batch.messages() {
                let body: Value =
                    serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(Value::Null);
                // Raw delivery gives the notification itself; otherwise unwrap SNS's envelope.
                let notification = match body.get("Message").and_then(Value::as_str) {
                    Some(inner) => serde_json::from_str(inner).unwrap_or(Value::Null),
                    None => body,
                };
                out.push(notification);
                sqs.delete_message()
                    .queue_url(&url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// Waits until the inbox has held at least `n` notifications for `order_id`, then a little
    /// longer to catch any duplicate; returns them all.
    pub async fn notifications_for(
        &self,
        order_id: &str,
        n: usize,
        within: Duration,
    ) -> Vec<Value> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            seen.extend(
                self.drain_inbox()
                    .await
                    .into_iter()
                    .filter(|v| v["orderId"] == order_id),
            );
            if seen.len() >= n {
                tokio::time::sleep(Duration::from_secs(3)).await;
                seen.extend(
                    self.drain_inbox()
                        .await
                        .into_iter()
                        .filter(|v| v["orderId"] == order_id),
                );
                return seen;
            }
            if Instant::now() > deadline {
                return seen;
            }
        }
    }

    /// Runs the `orderflow` CLI against this cloud's endpoint and state folder.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(repo_root().join("target/debug/orderflow"))
            .args(args)
            .arg("--endpoint-url")
            .arg(&self.endpoint)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .output()
            .unwrap()
    }
}

impl Cloud {
    /// Lines of this cloud's log (every function's and its own) that carry an e-mail address or
    /// a payment token: there must be none.
    pub fn sensitive_lines(&self) -> Vec<String> {
        self.output()
            .into_iter()
            .filter_map(|line| {
                orderflow_shared::telemetry::find_sensitive(&line)
                    .map(|(what, value)| format!("{what:?} {value:?} in: {line}"))
            })
            .collect()
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        // Every end-to-end test's logs go through the scan: a leak fails the test that caused it.
        let leaks = self.sensitive_lines();
        if !leaks.is_empty() && !std::thread::panicking() {
            self.stop();
            panic!(
                "{} log line(s) carry an e-mail address or a payment token:\n{}",
                leaks.len(),
                leaks.join("\n")
            );
        }
        self.stop();
    }
}

impl Cloud {
    fn stop(&mut self) {
        // SIGTERM, so the local cloud stops its own children before it exits.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_dir_all(&self.state_dir);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A valid `POST /orders` body.
pub fn order_body(sku: &str, quantity: u32, token: &str) -> Value {
    json!({
        "customerId": E2E_CUSTOMER,
        "email": "e2e@example.com",
        "items": [{"sku": sku, "quantity": quantity}],
        "paymentToken": token,
    })
}
