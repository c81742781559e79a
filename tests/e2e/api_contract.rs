//! The HTTP API against its contract: Schemathesis generates requests from
//! `infra/openapi.yaml` (valid ones and deliberately broken ones) and sends them to the local
//! cloud's API, checking that no request gets a server error and that every answer's status,
//! content type, headers and body are what the contract declares. Broken requests must be
//! refused with a 4xx. Orders it places are real orders in this cloud.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::support::{repo_root, Cloud};

/// Test cases per operation and phase; with a fixed seed the run is repeatable and takes
/// about a minute on two cores.
const MAX_EXAMPLES: &str = "50";
const SEED: &str = "6";

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance,\
                      negative_data_rejection";

#[tokio::test(flavor = "multi_thread")]
async fn the_api_keeps_its_openapi_contract_under_generated_requests() {
    let root = repo_root();
    let schemathesis = root.join(".venv/bin/schemathesis");
    assert!(
        schemathesis.is_file(),
        "{} is missing: run `make venv` (make test does) to install the pinned Python tools",
        schemathesis.display()
    );
    let cloud = Cloud::start().await;

    // Its caches (.hypothesis, .schemathesis) go to a scratch folder, not the work tree.
    let scratch = std::env::temp_dir().join(format!("orderflow-contract-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&scratch).unwrap();
    let started = Instant::now();
    let output = Command::new(&schemathesis)
        .current_dir(&scratch)
        .arg("run")
        .arg(root.join("infra/openapi.yaml"))
        .args(["--url", &cloud.api])
        // The API runs with --auth, as deployed: the token is the example's customer's.
        .args([
            "--header",
            &format!("Authorization: Bearer {}", cloud.token_for("cust-42")),
        ])
        .args(["--checks", CHECKS])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", SEED])
        .args(["--workers", "1"])
        // Past the functions' 10 s timeout, so a hung request fails instead of stalling.
        .args(["--request-timeout", "15"])
        .args(["--generation-database", "none"])
        // How fast test data is generated on a busy machine says nothing about the API.
        .args(["--suppress-health-check", "too_slow"])
        // The generated payment tokens and keys are test data: show them in reproductions.
        .args(["--output-sanitize", "false"])
        .arg("--no-color")
        .args(["--report", "har", "--report-har-path"])
        .arg(scratch.join("run.har"))
        .output()
        .unwrap_or_else(|e| panic!("{} could not run: {e}", schemathesis.display()));
    let took = started.elapsed();
    let statuses = statuses_seen(&scratch.join("run.har"));
    let _ = std::fs::remove_dir_all(&scratch);

    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found the API off its contract ({}, after {took:?}):\n{report}\n\
         --- local cloud output ---\n{}",
        output.status,
        cloud.output().join("\n")
    );
    // Guards against a run that passed because nothing reached the functions (say, every
    // request refused by an authorizer): each operation must have answered with success too.
    for (operation, success) in [
        ("POST /orders", 202),
        ("GET /orders/{orderId}", 200),
        ("GET /products", 200),
    ] {
        assert!(
            statuses
                .get(operation)
                .is_some_and(|s| s.contains_key(&success)),
            "no request of schemathesis got {success} from {operation}; answers seen: \
             {statuses:?}\n{report}"
        );
    }
    println!("schemathesis passed in {took:?}; answers seen: {statuses:?}\n{report}");
}

/// Operation -> status -> how many answers, from schemathesis's HAR report.
fn statuses_seen(har: &Path) -> BTreeMap<String, BTreeMap<u64, usize>> {
    let text = std::fs::read_to_string(har)
        .unwrap_or_else(|e| panic!("schemathesis wrote no report {}: {e}", har.display()));
    let har: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut seen: BTreeMap<String, BTreeMap<u64, usize>> = BTreeMap::new();
    for entry in har["log"]["entries"].as_array().into_iter().flatten() {
        let method = entry["request"]["method"].as_str().unwrap_or("?");
        let url = entry["request"]["url"].as_str().unwrap_or("");
        let path = url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("")
            .split('?')
            .next()
            .unwrap_or("");
        let operation = match path {
            "/orders" | "/products" => format!("{method} {path}"),
            p if p.starts_with("/orders/") => format!("{method} /orders/{{orderId}}"),
            other => format!("{method} {other}"),
        };
        let status = entry["response"]["status"].as_u64().unwrap_or(0);
        *seen
            .entry(operation)
            .or_default()
            .entry(status)
            .or_default() += 1;
    }
    seen
}
