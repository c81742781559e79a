//! What the repository-wide and end-to-end tests share: a local cloud of their own on free
//! ports — `orderflow local up` as a child process, started and read through the `orderflow`
//! harness (the one `orderflow chaos` and `orderflow load` use) — its API, queues, tables and
//! log, and the workspace root.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use orderflow::harness::{self, Api, ChildOptions};
use orderflow::local::auth::LocalIssuer;
use orderflow_shared::domain::OrderId;
use orderflow_shared::ports::{ChargeOutcome, PaymentLedger};
use serde_json::{json, Value};

pub mod events;

/// The workspace root (this package lives in `tests/`).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// The `orderflow` binary the tests run (built by `cargo build --workspace`).
pub fn orderflow_binary() -> PathBuf {
    repo_root().join("target/debug/orderflow")
}

/// A running `orderflow local up`, on its own ports and state folder.
pub struct Cloud {
    /// Dropped (and so stopped) before a leak is reported.
    inner: Option<harness::Cloud>,
    pub api: String,
    pub endpoint: String,
    pub state_dir: PathBuf,
    pub http: reqwest::Client,
    /// With `--auth`: a token for [`E2E_CUSTOMER`], sent by `place` and `order`.
    pub token: Option<String>,
    client: Api,
}

/// The customer the end-to-end tests place orders as (see [`order_body`]).
pub const E2E_CUSTOMER: &str = "cust-e2e";

pub struct CloudOptions {
    pub visibility_timeout: u32,
    pub function_env: Vec<(String, String)>,
    pub seed: Option<PathBuf>,
    /// `--aws-faults`, `--esm-faults`, `--fault-seed`.
    pub aws_faults: Option<String>,
    pub esm_faults: Option<String>,
    pub fault_seed: Option<u64>,
    /// Start with `--auth`, as a deployed API runs: every order call carries a token.
    pub auth: bool,
    /// `--parameter NAME=VALUE` and `--schedule-period`: e.g. the reconciler's bounds and how
    /// often it runs.
    pub parameters: Vec<(String, String)>,
    pub schedule_period: Option<u64>,
    /// `--harsh SPEC`: the harsh cloud (DESIGN §8).
    pub harsh: Option<String>,
    /// `--instances`, `--batches-in-flight` (else `local up`'s, Lambda's, defaults).
    pub instances: Option<usize>,
    pub batches_in_flight: Option<usize>,
    /// `--console-port` (else a free port nobody is told).
    pub console_port: Option<u16>,
}

impl Default for CloudOptions {
    fn default() -> Self {
        CloudOptions {
            // Failed messages come back after 2 s instead of the template's minutes.
            visibility_timeout: 2,
            function_env: Vec::new(),
            seed: None,
            aws_faults: None,
            esm_faults: None,
            fault_seed: None,
            auth: true,
            parameters: Vec::new(),
            schedule_period: None,
            harsh: None,
            instances: None,
            batches_in_flight: None,
            console_port: None,
        }
    }
}

impl Cloud {
    pub async fn start() -> Cloud {
        Cloud::start_with(CloudOptions::default()).await
    }

    pub async fn start_with(options: CloudOptions) -> Cloud {
        let child = ChildOptions {
            visibility_timeout: Some(options.visibility_timeout),
            function_env: options.function_env,
            seed: options.seed,
            aws_faults: options.aws_faults,
            esm_faults: options.esm_faults,
            fault_seed: options.fault_seed,
            auth: options.auth,
            parameters: options.parameters,
            schedule_period: options.schedule_period,
            harsh: options.harsh,
            instances: options.instances,
            batches_in_flight: options.batches_in_flight,
            console_port: options.console_port,
        };
        let inner = harness::Cloud::child(&orderflow_binary(), &repo_root(), &child)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let http = reqwest::Client::new();
        let mut cloud = Cloud {
            api: inner.api_url.clone(),
            endpoint: inner.endpoint.clone(),
            state_dir: inner.state_dir.clone(),
            client: inner.api(http.clone()),
            http,
            token: None,
            inner: Some(inner),
        };
        if options.auth {
            cloud.token = Some(cloud.token_for(E2E_CUSTOMER));
        }
        cloud
    }

    fn inner(&self) -> &harness::Cloud {
        self.inner.as_ref().expect("the cloud runs until dropped")
    }

    pub fn output(&self) -> Vec<String> {
        self.inner().log_lines()
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

    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        self.inner().sqs()
    }

    pub async fn queue_url(&self, logical_id: &str) -> String {
        self.inner().queue_url(logical_id).await.unwrap()
    }

    /// The `maxReceiveCount` of a queue's redrive policy, as the cloud holds it.
    pub async fn max_receive_count(&self, logical_id: &str) -> u32 {
        let queues = orderflow_shared::adapters::sqs::Queues::new(self.sqs().await);
        let attributes = queues
            .attributes(&self.queue_url(logical_id).await)
            .await
            .unwrap();
        attributes
            .redrive_policy
            .unwrap_or_else(|| panic!("{logical_id} has a redrive policy"))
            .max_receive_count
    }

    /// The production DynamoDB adapter on this cloud's tables, to set up and inspect state.
    pub async fn store(&self) -> orderflow_shared::adapters::dynamodb::DynamoStore {
        self.inner().store()
    }

    /// The cloud's identity provider (the cloud must run with `--auth`).
    pub fn issuer(&self) -> LocalIssuer {
        self.inner()
            .issuer()
            .expect("a cloud started with --auth has an issuer")
    }

    /// An access token for `customer` from the cloud's issuer (the cloud must run with
    /// `--auth`).
    pub fn token_for(&self, customer: &str) -> String {
        self.issuer()
            .token(customer, chrono::Utc::now().timestamp(), 3600)
            .unwrap()
    }

    /// `request` with this cloud's token, if it has one.
    pub fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn place(&self, body: &Value) -> (u16, Value) {
        let answer = self
            .client
            .post_order(&body.to_string(), None, self.token.as_deref())
            .await
            .unwrap();
        (answer.status, answer.body)
    }

    /// Places an order as a storefront does under faults: with an `Idempotency-Key`, sent again
    /// (same key) while the answer is a 503 that says to retry, a few times.
    pub async fn place_retrying(&self, body: &Value) -> (u16, Value) {
        let key = uuid::Uuid::new_v4().to_string();
        let mut answer = (0, Value::Null);
        for _ in 0..5 {
            let a = self
                .client
                .post_order(&body.to_string(), Some(&key), self.token.as_deref())
                .await
                .unwrap();
            answer = (a.status, a.body);
            if answer.0 != 503 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        answer
    }

    /// The API client, to place orders from tasks of their own.
    pub fn placing(&self) -> Api {
        self.client.clone()
    }

    /// The log of this cloud's moto (its harsh cloud's `orderflow-harsh:` lines among them).
    pub fn moto_log(&self) -> String {
        self.inner().moto_log().unwrap_or_default()
    }

    /// Every message in a dead-letter queue (the queues' and the EventBridge targets'): read,
    /// none removed.
    pub async fn dead_letters(&self) -> Vec<orderflow::dlq::DlqMessage> {
        self.inner().dead_letters().await.unwrap()
    }

    /// `GET /orders/{id}` as the customer whose token is given.
    pub async fn order_as(&self, order_id: &str, token: &str) -> Value {
        self.client
            .get_order(order_id, Some(token))
            .await
            .unwrap()
            .body
    }

    pub async fn order(&self, order_id: &str) -> Value {
        self.client
            .get_order(order_id, self.token.as_deref())
            .await
            .unwrap()
            .body
    }

    /// Polls `GET /orders/{id}` until the status is `want` (or fails after `within`).
    pub async fn wait_for_status(&self, order_id: &str, want: &str, within: Duration) -> Value {
        poll_status(&self.client, self.token.as_deref(), order_id, want, within)
            .await
            .unwrap_or_else(|order| {
                panic!(
                    "order {order_id} is {} after {within:?}, expected {want}\n{}",
                    order["status"],
                    self.output().join("\n")
                )
            })
    }

    pub async fn stock(&self, sku: &str) -> u64 {
        stock(&self.client, sku)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Every notification in the customer inbox so far (consumed).
    pub async fn drain_inbox(&self) -> Vec<Value> {
        let inbox = self.inner().inbox().await.unwrap();
        inbox.drain(1).await.unwrap()
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
        cli(self.inner(), args)
    }

    /// Sends `bodies` to the queue `queue` (a logical id) in one batch; their message ids, in
    /// order.
    pub async fn send(&self, queue: &str, bodies: &[&str]) -> Vec<String> {
        send(self.inner(), queue, bodies).await
    }

    /// Polls every order until it is in the status it must end in; fails as soon as one ends
    /// in another. A message unlucky five times in a row is in a DLQ, so the DLQs are redriven
    /// once, `redrive_before` the deadline, as operators would.
    pub async fn wait_until_each_ends_as_expected(
        &self,
        expected: &HashMap<OrderId, &str>,
        within: Duration,
        redrive_before: Duration,
    ) {
        let deadline = Instant::now() + within;
        let mut redriven = false;
        loop {
            let mut open = Vec::new();
            for (id, want) in expected {
                let order = self.order(id.as_str()).await;
                let status = order["status"].as_str().unwrap_or("?");
                if status != *want {
                    assert!(
                        !matches!(status, "CONFIRMED" | "CANCELLED" | "REJECTED"),
                        "{id} ended {status}, expected {want}"
                    );
                    open.push(format!("{id}: {status}"));
                }
            }
            if open.is_empty() {
                return;
            }
            if !redriven && Instant::now() + redrive_before > deadline {
                for dlq in ["InventoryDLQ", "PaymentDLQ", "NotificationDLQ"] {
                    let out = self.cli(&["dlq", "redrive", dlq]);
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                redriven = true;
            }
            assert!(
                Instant::now() < deadline,
                "{} orders not finished: {open:#?}\n{}",
                open.len(),
                self.output().join("\n")
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Every order's ledger entry matches the status it ended in: charged if `CONFIRMED`,
    /// declined if `CANCELLED`.
    pub async fn check_each_charge(&self, expected: &HashMap<OrderId, &str>) {
        let store = self.store().await;
        for (id, want) in expected {
            let entry = store.charge_for(id).await.unwrap().expect("a ledger entry");
            match (*want, entry.outcome) {
                ("CONFIRMED", ChargeOutcome::Approved { .. })
                | ("CANCELLED", ChargeOutcome::Declined { .. }) => {}
                (want, outcome) => panic!("{id}: {want} but the ledger says {outcome:?}"),
            }
        }
    }

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
        let leaks = match &self.inner {
            Some(_) => self.sensitive_lines(),
            None => Vec::new(),
        };
        // Stopped first: SIGTERM, so the local cloud stops its own children before it exits.
        drop(self.inner.take());
        if !leaks.is_empty() && !std::thread::panicking() {
            panic!(
                "{} log line(s) carry an e-mail address or a payment token:\n{}",
                leaks.len(),
                leaks.join("\n")
            );
        }
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

/// The statuses an order (`GET /orders/{id}`) went through, in order.
pub fn statuses(order: &Value) -> Vec<String> {
    order["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|e| e["status"].as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `GET /orders/{id}` with `token` until its status is `want`: the order, or the last one
/// seen once `within` has passed.
pub async fn poll_status(
    api: &Api,
    token: Option<&str>,
    order_id: &str,
    want: &str,
    within: Duration,
) -> Result<Value, Value> {
    let deadline = Instant::now() + within;
    loop {
        let order = api.get_order(order_id, token).await.unwrap().body;
        if order["status"] == want {
            return Ok(order);
        }
        if Instant::now() > deadline {
            return Err(order);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The stock `GET /products` shows for `sku` (the catalog is public), or why there is none.
pub async fn stock(api: &Api, sku: &str) -> Result<u64, String> {
    let products: Value = api
        .http()
        .get(format!("{}/products", api.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    products["products"]
        .as_array()
        .ok_or_else(|| format!("GET /products gave {products}"))?
        .iter()
        .find(|p| p["sku"] == sku)
        .and_then(|p| p["stock"].as_u64())
        .ok_or_else(|| format!("{sku} is not in the catalog"))
}

/// Runs the `orderflow` CLI against `cloud`'s endpoint and state folder.
pub fn cli(cloud: &harness::Cloud, args: &[&str]) -> std::process::Output {
    Command::new(orderflow_binary())
        .args(args)
        .arg("--endpoint-url")
        .arg(&cloud.endpoint)
        .arg("--state-dir")
        .arg(&cloud.state_dir)
        .output()
        .unwrap()
}

/// Sends `bodies` to `cloud`'s queue `queue` (a logical id) in one batch; their message ids, in
/// order.
pub async fn send(cloud: &harness::Cloud, queue: &str, bodies: &[&str]) -> Vec<String> {
    let url = cloud.queue_url(queue).await.unwrap();
    let entries = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(*b)
                .build()
                .unwrap()
        })
        .collect();
    let out = cloud
        .sqs()
        .send_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap();
    assert!(out.failed().is_empty(), "{:?}", out.failed());
    let mut ids: Vec<(usize, String)> = out
        .successful()
        .iter()
        .map(|s| (s.id().parse().unwrap(), s.message_id().to_owned()))
        .collect();
    ids.sort();
    ids.into_iter().map(|(_, id)| id).collect()
}

/// Runs `orderflow ARGS --state-dir STATE` from the workspace root and reads the one JSON
/// object it prints: that report, the run's output (for its exit status), and its stderr.
pub fn run_for_json(args: &[&str], state: &Path) -> (Value, std::process::Output, String) {
    let out = Command::new(orderflow_binary())
        .current_dir(repo_root())
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("one JSON object on stdout ({e}):\n{stdout}\n{stderr}"));
    (report, out, stderr)
}
