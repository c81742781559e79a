//! `orderflow chaos` end to end: 150 mixed orders (keyless ones among them) under every kind of
//! injected fault, the harsh cloud's among them, then the checker's counts. The large run is
//! `make chaos` (1,000 orders).

use std::process::Command;

use crate::support::{repo_root, run_for_json};

#[test]
fn a_chaos_run_loses_doubles_oversells_strands_and_dead_letters_nothing_under_every_fault() {
    let state = std::env::temp_dir().join(format!("orderflow-chaos-{}", std::process::id()));
    let (report, out, stderr) = run_for_json(
        &[
            "chaos",
            "--orders",
            "150",
            "--seed",
            "11",
            "--json",
            "--timeout",
            "600",
        ],
        &state,
    );
    eprintln!("{report:#}");
    for must_be_zero in [
        "lost",
        "double_charged",
        "oversold",
        "stuck_before_redrive",
        "stuck",
        "orphaned",
        "dead_lettered",
        "duplicate_notifications",
        "missing_notifications",
        "wrong_outcome",
        "payment_mismatch",
        "stock_mismatch",
        "duplicate_key_violations",
        "api_refused",
    ] {
        assert_eq!(report[must_be_zero], 0, "{must_be_zero}\n{stderr}");
    }
    assert_eq!(report["orders"], 150);
    assert_eq!(report["accepted"], 150);
    let finished = ["confirmed", "rejected", "cancelled"]
        .iter()
        .map(|k| report[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(finished, 150, "every order final");
    assert!(
        report["keyless"].as_u64().unwrap() > 0,
        "keyless orders placed"
    );
    assert_eq!(
        report["dead_lettered_expected"], report["poison_injected"],
        "every malformed message dead-lettered, and nothing else expected"
    );
    let faults = &report["faults_injected"];
    for kind in [
        "error_before",
        "error_after",
        "throttle",
        "lost_response",
        "duplicate_delivery",
        "crash_between_steps",
        "transaction_conflict",
        "eventbridge_duplicate",
    ] {
        assert!(
            faults[kind].as_u64().unwrap() > 0,
            "{kind} injected: {faults}"
        );
    }
    assert!(faults["total"].as_u64().unwrap() > 50);
    assert!(
        out.status.success(),
        "exit status {:?}\n{stderr}",
        out.status
    );
    let _ = std::fs::remove_dir_all(state);
}

#[test]
fn the_chaos_command_exits_non_zero_and_says_why_when_its_setup_is_wrong() {
    let root = repo_root();
    let out = Command::new(root.join("target/debug/orderflow"))
        .current_dir(&root)
        .args(["chaos", "--orders", "1", "--function-faults", "explode=5"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown fault \"explode\""), "{stderr}");
}
