//! The cloud a scenario runs against, whichever it is: the local cloud (`orderflow local up`)
//! or the stack `sam deploy` put into MiniStack (`orderflow deploy local`), both as child
//! processes reached through the `orderflow` harness — the same API calls, the same tables and
//! queues found by the harness's names, the same `orderflow dlq` commands.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use orderflow::harness::{self, Api, ChildOptions};
use serde_json::Value;

use crate::support::{self, orderflow_binary, repo_root, E2E_CUSTOMER};

/// Failed messages come back after this many seconds, on both clouds (the template's 120 s
/// would make five receives take ten minutes, on AWS too).
const VISIBILITY_TIMEOUT: u32 = 2;

/// The queues the functions consume.
const SOURCE_QUEUES: [&str; 3] = ["InventoryQueue", "PaymentQueue", "NotificationQueue"];

pub struct Subject {
    /// `local cloud` or `MiniStack`, for what a failure says.
    pub which: &'static str,
    pub cloud: harness::Cloud,
    api: Api,
    token: String,
    /// Every notification the customer inbox has received so far (a task drains it).
    told: Arc<Mutex<Vec<Value>>>,
    drain: tokio::task::JoinHandle<()>,
}

impl Subject {
    /// The local cloud, with `--auth` (as deployed) and the shorter visibility timeout.
    pub async fn local() -> Subject {
        let options = ChildOptions {
            visibility_timeout: Some(VISIBILITY_TIMEOUT),
            auth: true,
            ..ChildOptions::default()
        };
        let cloud = harness::Cloud::child(&orderflow_binary(), &repo_root(), &options)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Subject::new("local cloud", cloud).await
    }

    /// The stack deployed into MiniStack, its source queues given the shorter visibility
    /// timeout (`SetQueueAttributes`: MiniStack has no receive-side override).
    pub async fn deployed() -> Subject {
        let cloud = harness::Cloud::deployed(&orderflow_binary(), &repo_root())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let subject = Subject::new("MiniStack", cloud).await;
        for queue in SOURCE_QUEUES {
            let url = subject.cloud.queue_url(queue).await.unwrap();
            subject
                .cloud
                .sqs()
                .set_queue_attributes()
                .queue_url(url)
                .attributes(
                    QueueAttributeName::VisibilityTimeout,
                    VISIBILITY_TIMEOUT.to_string(),
                )
                .send()
                .await
                .unwrap();
        }
        subject
    }

    async fn new(which: &'static str, cloud: harness::Cloud) -> Subject {
        let told = Arc::new(Mutex::new(Vec::new()));
        let inbox = cloud.inbox().await.unwrap_or_else(|e| panic!("{e}"));
        let sink = told.clone();
        let drain = tokio::spawn(async move {
            loop {
                if let Ok(batch) = inbox.drain(1).await {
                    sink.lock().unwrap().extend(batch);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let token = token(&cloud, which, E2E_CUSTOMER);
        Subject {
            which,
            api: cloud.api(reqwest::Client::new()),
            cloud,
            token,
            told,
            drain,
        }
    }

    pub fn token_for(&self, customer: &str) -> String {
        token(&self.cloud, self.which, customer)
    }

    /// `POST /orders` as the end-to-end customer.
    pub async fn place(&self, body: &Value) -> (u16, Value) {
        self.place_as(body, &self.token).await
    }

    pub async fn place_as(&self, body: &Value, token: &str) -> (u16, Value) {
        let answer = self
            .api
            .post_order(&body.to_string(), None, Some(token))
            .await
            .unwrap();
        (answer.status, answer.body)
    }

    pub async fn order_as(&self, order_id: &str, token: &str) -> Value {
        self.api
            .get_order(order_id, Some(token))
            .await
            .unwrap()
            .body
    }

    /// Polls `GET /orders/{id}` (as the end-to-end customer) until its status is `want`.
    pub async fn wait_for_status(&self, order_id: &str, want: &str, within: Duration) -> Value {
        support::poll_status(&self.api, Some(&self.token), order_id, want, within)
            .await
            .unwrap_or_else(|order| {
                panic!(
                    "{}: order {order_id} is {} after {within:?}, expected {want}",
                    self.which, order["status"]
                )
            })
    }

    /// The stock `GET /products` shows (the catalog is public).
    pub async fn stock(&self, sku: &str) -> u64 {
        support::stock(&self.api, sku)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.which))
    }

    /// The notifications for `order_id` once there are `n` (or `within` has passed), after
    /// 3 s more to catch a duplicate.
    pub async fn notifications_for(
        &self,
        order_id: &str,
        n: usize,
        within: Duration,
    ) -> Vec<Value> {
        let deadline = Instant::now() + within;
        let for_order = || -> Vec<Value> {
            let told = self.told.lock().unwrap();
            told.iter()
                .filter(|v| v["orderId"] == order_id)
                .cloned()
                .collect()
        };
        while for_order().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        for_order()
    }

    /// The name of the stack's resource `logical_id` on this cloud.
    pub fn name(&self, logical_id: &str) -> String {
        self.cloud.names().name(logical_id).unwrap()
    }

    /// Whether `orderflow dlq list` can say why a message failed: the local cloud records the
    /// functions' reasons as it runs them; a deployed function's are in its CloudWatch logs.
    pub fn records_failure_reasons(&self) -> bool {
        self.is_local()
    }

    /// Whether the SQS event sources wait out `MaximumBatchingWindowInSeconds` for a batch,
    /// as Lambda does: the local cloud does; MiniStack invokes as soon as a message arrives.
    pub fn honours_batching_window(&self) -> bool {
        self.is_local()
    }

    fn is_local(&self) -> bool {
        self.cloud.names().deployed_stack().is_none()
    }
}

/// An access token for `customer` from the issuer of `cloud` (the `which`).
fn token(cloud: &harness::Cloud, which: &str, customer: &str) -> String {
    cloud
        .tokens([customer], 3600)
        .unwrap()
        .remove(customer)
        .unwrap_or_else(|| panic!("the {which} has no issuer"))
}

impl Drop for Subject {
    fn drop(&mut self) {
        self.drain.abort();
    }
}
