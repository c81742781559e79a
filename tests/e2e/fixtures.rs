//! The inner loop against a running local cloud: a function run outside the cloud with the
//! environment `orderflow local env` prints (as `make watch` runs it under cargo lambda), the
//! event fixtures whose orders `orderflow local fixtures load` puts into the cloud, each consumer
//! doing what its fixture's name says, and SAM's generated events answered, never a crash.
//!
//! The functions are the real binaries, each behind the local cloud's Runtime API
//! (`orderflow::local::runtime`), invoked with the fixture as `cargo lambda invoke` sends it.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use orderflow::local::dev_env::CloudFile;
use orderflow::local::logs::LogSink;
use orderflow::local::runtime::{self, FunctionHandle, FunctionSpec, Replacements};
use orderflow_shared::domain::{OrderId, OrderStatus};
use orderflow_shared::ports::OrderRepository;
use serde_json::Value;
use tokio::sync::watch;

use crate::support::{orderflow_binary, repo_root, Cloud, CloudOptions};

const ORDER: &str = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b";
const DECLINED: &str = "7a2b3c4d-5e6f-4a70-9b8c-0d1e2f3a4b5c";
const GATEWAY_ERROR: &str = "8b3c4d5e-6f70-4b81-8c9d-1e2f3a4b5c6d";
const SECOND: &str = "9c4d5e6f-7081-4c92-9dae-2f3a4b5c6d7e";
const TSHIRT: &str = "SKU-TSHIRT-M";
const MUG: &str = "SKU-MUG-350";

/// One function's binary outside the cloud, with the environment it has in the cloud.
struct Outside {
    function: FunctionHandle,
    stop: watch::Sender<bool>,
}

impl Outside {
    async fn start(name: &str, env: BTreeMap<String, String>) -> Outside {
        let (stop, shutdown) = watch::channel(false);
        let spec = FunctionSpec {
            name: name.to_owned(),
            binary: repo_root().join("target/debug").join(name),
            env,
            timeout: Duration::from_secs(30),
            memory_mb: 128,
            instances: 1,
        };
        let replacements = Replacements {
            extra_env: watch::channel(BTreeMap::new()).1,
            rebuilt: watch::channel(0).1,
        };
        let function = runtime::start_function(
            spec,
            LogSink::new(None),
            shutdown,
            Arc::new(AtomicUsize::new(0)),
            replacements,
        )
        .await
        .unwrap();
        Outside { function, stop }
    }

    /// Invokes it with `events/<fixture>` as `cargo lambda invoke --data-file` does.
    async fn invoke(&self, fixture: &str) -> Value {
        let payload = std::fs::read(repo_root().join("events").join(fixture)).unwrap();
        let out = self.function.invoke(payload.into()).await.unwrap();
        serde_json::from_slice(&out).unwrap()
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn open_cloud() -> CloudOptions {
    CloudOptions {
        auth: false,
        ..CloudOptions::default()
    }
}

/// `orderflow local env FUNCTION` for `cloud`, the exports read back as a shell would.
fn local_env(cloud: &Cloud, function: &str) -> BTreeMap<String, String> {
    let out = std::process::Command::new(orderflow_binary())
        .args(["local", "env", function, "--state-dir"])
        .arg(&cloud.state_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (k, v) = line
                .strip_prefix("export ")
                .and_then(|l| l.split_once('='))
                .unwrap_or_else(|| panic!("not an export: {line}"));
            let v = v
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap();
            (k.to_owned(), v.replace(r"'\''", "'"))
        })
        .collect()
}

fn load(cloud: &Cloud, fixture: &str) {
    let out = std::process::Command::new(orderflow_binary())
        .args(["local", "fixtures", "load", "--state-dir"])
        .arg(&cloud.state_dir)
        .arg(repo_root().join("events").join(fixture))
        .output()
        .unwrap();
    assert!(out.status.success(), "{fixture}: {out:?}");
}

fn failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("not a batch response: {response}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

async fn status(cloud: &Cloud, order: &str) -> (OrderStatus, Vec<OrderStatus>) {
    let order = cloud
        .store()
        .await
        .get(&OrderId::parse(order).unwrap())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("order {order} is missing"));
    let history = order.history.iter().map(|h| h.status).collect();
    (order.status, history)
}

/// Waits until the order's history has passed through `through` and it rests in `rest`.
async fn wait_for(cloud: &Cloud, order: &str, through: OrderStatus, rest: OrderStatus) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (now, history) = status(cloud, order).await;
        if now == rest && history.contains(&through) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "order {order} is {now} ({history:?}); expected {rest} through {through}\n{}",
            cloud.output().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for the customer to be told `kind` about `order`.
async fn wait_told(cloud: &Cloud, order: &str, kind: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let told = cloud.drain_inbox().await;
        if told
            .iter()
            .any(|n| n["orderId"] == order && n["kind"] == kind)
        {
            return;
        }
        assert!(Instant::now() < deadline, "{order} never told {kind}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_run_with_local_envs_exports_works_against_the_running_cloud() {
    let cloud = Cloud::start_with(open_cloud()).await;
    let env = local_env(&cloud, "validate-order");
    for (k, v) in [
        ("ORDERS_TABLE", "orderflow-local-OrdersTable"),
        ("AWS_ENDPOINT_URL", cloud.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("REQUIRE_AUTH", "false"),
    ] {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k} in {env:?}");
    }
    assert!(env.contains_key("EVENT_BUS_NAME") && env.contains_key("AWS_LAMBDA_LOG_FORMAT"));
    // The README's first fixture, through the function outside the cloud: the order is
    // accepted, and the cloud's own functions take it from there to CONFIRMED.
    let validate = Outside::start("validate-order", env).await;
    let answer = validate.invoke("apigw-post-order.json").await;
    assert_eq!(answer["statusCode"], 202, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body["total"]["amount"],
        2 * 1999 + 1200,
        "priced from the seed"
    );
    let id = body["orderId"].as_str().unwrap();
    wait_for(&cloud, id, OrderStatus::Reserved, OrderStatus::Confirmed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_consumer_invoked_with_its_loaded_fixture_does_what_the_fixture_says() {
    use OrderStatus::*;
    let cloud = Cloud::start_with(open_cloud()).await;
    let inventory = Outside::start("update-inventory", local_env(&cloud, "update-inventory")).await;
    let payment = Outside::start("process-payment", local_env(&cloud, "process-payment")).await;
    let notify = Outside::start("send-notification", local_env(&cloud, "send-notification")).await;

    // Reserve: a PENDING order's stock is taken.
    load(&cloud, "sqs-order-placed.json");
    assert_eq!(status(&cloud, ORDER).await.0, Pending);
    let mugs = cloud.stock(MUG).await;
    assert!(failures(&inventory.invoke("sqs-order-placed.json").await).is_empty());
    assert_eq!(cloud.stock(MUG).await, mugs - 1);
    wait_for(&cloud, ORDER, Reserved, Confirmed).await;

    // Charge: a RESERVED order is paid (loaded again: it starts over).
    load(&cloud, "sqs-inventory-reserved.json");
    assert_eq!(
        status(&cloud, ORDER).await,
        (Reserved, vec![Pending, Reserved])
    );
    assert!(failures(&payment.invoke("sqs-inventory-reserved.json").await).is_empty());
    assert_eq!(status(&cloud, ORDER).await.0, Confirmed);

    // Decline: tok_declined fails the payment; the cloud then puts the stock back.
    load(&cloud, "sqs-inventory-reserved-declined.json");
    let declined = payment.invoke("sqs-inventory-reserved-declined.json").await;
    assert!(failures(&declined).is_empty());
    wait_for(&cloud, DECLINED, PaymentFailed, Cancelled).await;

    // Release: a PAYMENT_FAILED order's stock is put back.
    load(&cloud, "sqs-payment-failed.json");
    let tshirts = cloud.stock(TSHIRT).await;
    assert!(failures(&inventory.invoke("sqs-payment-failed.json").await).is_empty());
    assert_eq!(status(&cloud, DECLINED).await.0, Cancelled);
    assert_eq!(cloud.stock(TSHIRT).await, tshirts + 2);

    // A gateway error fails its record for a retry; the other record is charged.
    load(&cloud, "sqs-inventory-reserved-gateway-error.json");
    let answer = payment
        .invoke("sqs-inventory-reserved-gateway-error.json")
        .await;
    assert_eq!(
        failures(&answer),
        ["msg-0001"],
        "the gateway error's record"
    );
    assert_eq!(status(&cloud, GATEWAY_ERROR).await.0, Reserved);
    assert_eq!(status(&cloud, ORDER).await.0, Confirmed);

    // An expired reservation is declined and released.
    load(&cloud, "sqs-reservation-expired.json");
    assert!(failures(&payment.invoke("sqs-reservation-expired.json").await).is_empty());
    wait_for(&cloud, ORDER, PaymentFailed, Cancelled).await;

    // Notify: each outcome reaches the customer's inbox.
    for (fixture, order, kind) in [
        ("sqs-payment-succeeded.json", ORDER, "OrderConfirmed"),
        ("sqs-inventory-rejected.json", SECOND, "OrderRejected"),
        ("sqs-inventory-released.json", DECLINED, "OrderCancelled"),
    ] {
        load(&cloud, fixture);
        cloud.drain_inbox().await;
        assert!(
            failures(&notify.invoke(fixture).await).is_empty(),
            "{fixture}"
        );
        wait_told(&cloud, order, kind).await;
    }
    // Every order the fixtures name is described beside them.
    assert!(repo_root()
        .join("events")
        .join("fixture-orders.json")
        .is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sams_generated_events_get_a_batch_item_failure_or_a_404_problem_never_a_crash() {
    let cloud = Cloud::start_with(open_cloud()).await;
    let cloud_file = CloudFile::read(&cloud.state_dir).unwrap();
    // `sam local generate-event sqs receive-message`: a body that is no event of ours.
    for consumer in ["update-inventory", "process-payment", "send-notification"] {
        let env = cloud_file.function(consumer).unwrap().clone();
        let f = Outside::start(consumer, env).await;
        let answer = f.invoke("sqs-sam-receive-message.json").await;
        assert_eq!(
            failures(&answer),
            ["19dd0b57-b21e-4ac1-bd88-01bbb068cb78"],
            "{consumer}"
        );
    }
    // `sam local generate-event apigateway http-api-proxy`: a route the API does not have.
    for api in ["validate-order", "query-api"] {
        let env = cloud_file.function(api).unwrap().clone();
        let f = Outside::start(api, env).await;
        let answer = f.invoke("apigw-sam-http-api-proxy.json").await;
        assert_eq!(answer["statusCode"], 404, "{api}: {answer}");
        let content_type = answer["headers"]["content-type"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(content_type, "application/problem+json", "{api}: {answer}");
    }
}
