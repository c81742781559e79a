//! `orderflow load` end to end: a small flash sale against its own local cloud; nothing
//! oversold, every order final, the AWS calls counted, the HTML report written. The large run
//! is `make load`.

use std::process::Command;

use crate::support::repo_root;
use serde_json::Value;

#[test]
fn a_small_flash_sale_oversells_nothing_finishes_every_order_and_counts_its_aws_calls() {
    let root = repo_root();
    let state = std::env::temp_dir().join(format!("orderflow-load-{}", std::process::id()));
    let out = Command::new(root.join("target/debug/orderflow"))
        .current_dir(&root)
        .args(["load", "--orders", "60", "--concurrency", "8", "--json"])
        .arg("--state-dir")
        .arg(&state)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("one JSON object on stdout ({e}):\n{stdout}\n{stderr}"));
    eprintln!("{report:#}");
    assert!(out.status.success(), "exit status {}\n{stderr}", out.status);
    assert_eq!(report["orders"], 60);
    assert_eq!(report["oversold"], 0, "{stderr}");
    assert_eq!(report["not_terminal"], 0, "{stderr}");
    assert_eq!(report["stock_mismatch"], 0, "{stderr}");
    let finished = ["confirmed", "rejected", "cancelled"]
        .iter()
        .map(|k| report[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(finished, 60, "every order final");
    assert!(
        report["rejected"].as_u64().unwrap() > 0,
        "the hot SKU sells out"
    );
    assert_eq!(
        report["metrics_mismatch"],
        serde_json::json!([]),
        "the functions' metrics add up to the run's orders: {}",
        report["metrics"]
    );
    assert_eq!(report["metrics"]["placed"], 60, "{}", report["metrics"]);
    assert!(report["aws_calls_per_order"].as_f64().unwrap() > 0.0);
    let calls = report["aws_calls"].as_object().unwrap();
    assert!(
        calls.contains_key("DynamoDB.TransactWriteItems"),
        "{calls:?}"
    );
    assert!(calls.contains_key("EventBridge.PutEvents"), "{calls:?}");
    assert!(report["backend_share"].as_f64().unwrap() > 0.0);
    let html = std::fs::read_to_string(report["report"].as_str().unwrap()).unwrap();
    assert!(html.contains("<svg"), "the report has its charts");
    let _ = std::fs::remove_dir_all(&state);
}
