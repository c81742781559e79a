//! The same scenarios on two clouds: the local cloud (`orderflow local up`, moto and the local
//! Runtime API) and the stack deployed with `sam deploy` into MiniStack, an independent AWS
//! emulator (`orderflow deploy local --debug-bootstraps`; `make deploy-local` runs it with
//! release bootstraps). One scenario code ([`scenarios`]) against either [`subject::Subject`];
//! where the two clouds differ, the check keeps to what AWS does (DESIGN §5 "Two clouds").
//!
//! Each cloud runs `approved` alone, then the other scenarios at once, each on its own SKUs and
//! orders; the test names every scenario that failed.

mod scenarios;
mod subject;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::repo_root;
use subject::Subject;

type Scenario = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Every scenario but the first (`approved`, run alone), by name.
fn scenarios(s: &Arc<Subject>) -> Vec<(&'static str, Scenario)> {
    vec![
        ("declined", Box::pin(scenarios::declined(s.clone()))),
        ("sold out", Box::pin(scenarios::sold_out(s.clone()))),
        (
            "poison message",
            Box::pin(scenarios::poison_message(s.clone())),
        ),
        (
            "duplicate delivery",
            Box::pin(scenarios::duplicate_delivery(s.clone())),
        ),
        ("flash sale", Box::pin(scenarios::flash_sale(s.clone()))),
    ]
}

/// Runs `approved` alone (it times the hops of a lone order), then every other scenario at
/// once; fails naming each one that failed and why.
async fn every_scenario_passes_on(s: &Arc<Subject>) {
    let started = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    let mut names = HashMap::new();
    let alone = running.spawn(scenarios::approved(s.clone()));
    names.insert(alone.id(), "approved");
    while !alone.is_finished() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (name, scenario) in scenarios(s) {
        names.insert(running.spawn(scenario).id(), name);
    }
    let mut failed = Vec::new();
    while let Some(done) = running.join_next_with_id().await {
        let Err(e) = done else { continue };
        let name = names.get(&e.id()).copied().unwrap_or("?");
        let why = match e.try_into_panic() {
            Ok(panic) => panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|m| (*m).to_owned()))
                .unwrap_or_default(),
            Err(e) => e.to_string(),
        };
        failed.push(format!("{name}: {why}"));
    }
    eprintln!(
        "the scenarios on the {} took {:.1} s",
        s.which,
        started.elapsed().as_secs_f32()
    );
    assert!(
        failed.is_empty(),
        "on the {}:\n{}",
        s.which,
        failed.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_scenario_passes_on_the_local_cloud() {
    let subject = Arc::new(Subject::local().await);
    every_scenario_passes_on(&subject).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_scenario_passes_on_the_stack_deployed_to_ministack_and_cargo_lambda_deploy_swaps_a_functions_code(
) {
    let started = Instant::now();
    let subject = Arc::new(Subject::deployed().await);
    eprintln!(
        "orderflow deploy local --debug-bootstraps was ready in {:.1} s",
        started.elapsed().as_secs_f32()
    );
    every_scenario_passes_on(&subject).await;
    cargo_lambda_deploy_swaps_the_code_the_next_request_runs(&subject).await;
}

/// `GET /products`, as JSON.
async fn products(s: &Subject) -> Value {
    let url = format!("{}/products", s.cloud.api_url);
    let answer = reqwest::get(&url).await.unwrap();
    assert_eq!(answer.status().as_u16(), 200, "{}: GET /products", s.which);
    answer.json().await.unwrap()
}

/// `cargo lambda deploy` of `binary` as the code of the deployed function `function`
/// (DEPLOY-NOTES §6: the command a one-line fix takes).
fn cargo_lambda_deploy(s: &Subject, binary: &str, function: &str) {
    let root = repo_root();
    let out = Command::new(root.join(".venv/bin/cargo-lambda"))
        .current_dir(&root)
        .args(["lambda", "deploy", "--endpoint-url", &s.cloud.endpoint])
        .args(["--region", "us-east-1", "--binary-path"])
        .arg(root.join("target/debug").join(binary))
        .arg(function)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo lambda deploy {binary} as {function}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The query function's code replaced by the echoing hello-world of `make bench`: the next
/// `GET /products` answers with its own event; the query function's code put back: the catalog
/// again. Nothing else changes (environment, role, the API's routes).
async fn cargo_lambda_deploy_swaps_the_code_the_next_request_runs(s: &Subject) {
    let stack = s.cloud.names().deployed_stack().unwrap();
    let function = stack.physical_id("QueryApiFunction").unwrap().to_owned();
    assert!(products(s).await["products"].is_array());
    let started = Instant::now();
    cargo_lambda_deploy(s, "bench-hello-world", &function);
    let deployed_in = started.elapsed();
    let echoed = products(s).await;
    assert_eq!(
        echoed["routeKey"], "GET /products",
        "the echo of the event: {echoed}"
    );
    assert!(echoed.get("products").is_none(), "{echoed}");
    cargo_lambda_deploy(s, "query-api", &function);
    assert!(
        products(s).await["products"].is_array(),
        "the catalog again"
    );
    eprintln!(
        "cargo lambda deploy took {:.1} s; the next request ran the new code",
        deployed_in.as_secs_f32()
    );
    assert!(deployed_in < Duration::from_secs(120));
}
