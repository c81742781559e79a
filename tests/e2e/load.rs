//! `orderflow load` end to end: a small mixed sale against its own local cloud (nothing
//! oversold, every order final, its latency and stages from the orders' histories, the AWS
//! calls counted and priced, the HTML report and its JSON written), and a small `--flash` run's
//! three rows. The large runs are `make load` and `make load-flash`.

use crate::support::run_for_json;
use serde_json::Value;

#[test]
fn a_small_flash_sale_oversells_nothing_finishes_every_order_and_counts_its_aws_calls() {
    let state = std::env::temp_dir().join(format!("orderflow-load-{}", std::process::id()));
    let (report, out, stderr) = run_for_json(
        &["load", "--orders", "60", "--concurrency", "8", "--json"],
        &state,
    );
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
    assert_eq!(
        report["replay"]["substituted"], 0,
        "every call replayed as itself"
    );
    // Latencies come from the histories: a confirmed order went through every stage.
    for stage in ["reserved", "paid", "told"] {
        assert!(
            report["stages_ms"][stage]["p50"].as_u64().unwrap() > 0,
            "{stage}: {report}"
        );
    }
    let p99 = report["latency_ms"]["p99"].as_u64().unwrap();
    assert!(p99 >= report["stages_ms"]["reserved"]["p99"].as_u64().unwrap());
    // The cost: DynamoDB units as the endpoint reported them, every line priced.
    let cost = &report["cost"];
    assert!(cost["usd_per_million_confirmed"].as_f64().unwrap() > 0.0);
    let writes = cost["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["what"] == "write request units")
        .unwrap();
    assert!(writes["units"].as_f64().unwrap() > 0.0, "{cost}");
    let lambda = report["usage"]["lambda"].as_object().unwrap();
    assert!(lambda["update-inventory"]["invocations"].as_u64().unwrap() > 0);
    let html = std::fs::read_to_string(report["report"].as_str().unwrap()).unwrap();
    assert!(html.contains("<svg"), "the report has its charts");
    assert!(html.contains("href=\"report.json\""));
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(report["json"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(json["orders"], 60);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn a_small_flash_sale_on_one_shard_on_four_and_uncapped_sells_exactly_its_stock_in_each_row() {
    let state = std::env::temp_dir().join(format!("orderflow-flash-{}", std::process::id()));
    let (report, _, stderr) = run_for_json(
        &[
            "load",
            "--flash",
            "SKU-FLASH-E2E",
            "--stock",
            "12",
            "--buyers",
            "16",
            "--shards",
            "4",
            "--item-wcu",
            "4",
            "--concurrency",
            "8",
            "--json",
        ],
        &state,
    );
    eprintln!("{report:#}");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows.iter()
            .map(|r| r["shards"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 4, 4]
    );
    assert_eq!(rows[2]["item_wcu"], 0, "the ceiling has no per-item limit");
    for r in rows {
        assert_eq!(r["sold_out_exactly"], true, "{r}\n{stderr}");
        assert_eq!(r["confirmed"], 12);
        assert_eq!(r["rejected"], 4);
        assert_eq!(r["dead_lettered"], 0);
        assert!(r["confirmed_per_s"].as_f64().unwrap() > 0.0);
    }
    assert!(
        rows[0]["throttles"].as_u64().unwrap() > 0,
        "one item at 2 reservations/s is throttled: {}",
        rows[0]
    );
    let html = std::fs::read_to_string(report["report"].as_str().unwrap()).unwrap();
    assert_eq!(
        html.matches("<th>").count(),
        4,
        "the three rows side by side"
    );
    let _ = std::fs::remove_dir_all(&state);
}
