//! `orderflow trace ORDER_ID` on orders retried under faults: each attempt in order, with
//! function, duration and reason, the faults and the AWS calls with their durations, and one
//! trace id for the whole order.

use std::process::Command;
use std::time::{Duration, Instant};

use orderflow::trace::record::DeliveryOutcome;
use orderflow::trace::{self, Timeline, What};

use crate::support::{order_body, orderflow_binary, Cloud, CloudOptions};

const ORDERS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_trace_of_an_order_retried_under_faults_shows_each_attempt_in_order_with_its_reason() {
    let cloud = Cloud::start_with(CloudOptions {
        function_env: vec![
            ("ORDERFLOW_FAULTS".into(), "error_before=250".into()),
            ("ORDERFLOW_FAULT_SEED".into(), "3".into()),
            ("ORDERFLOW_COUNT_AWS_CALLS".into(), "1".into()),
        ],
        aws_faults: Some("throttle=30".into()),
        fault_seed: Some(3),
        ..CloudOptions::default()
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..ORDERS {
        let (status, accepted) = cloud
            .place(&order_body("SKU-SOCKS-3P", 1, "tok_visa"))
            .await;
        assert_eq!(status, 202, "{accepted}");
        ids.push(accepted["orderId"].as_str().unwrap().to_owned());
    }
    let confirmed = wait_for_confirmed(&cloud, &ids).await;
    assert!(!confirmed.is_empty(), "no order was confirmed under faults");

    let timelines = settled_timelines(&cloud, &confirmed).await;
    // A message can also come back without an injected fault (its visibility ran out on a
    // loaded machine): every order's attempts are checked, and the orders a fault was injected
    // into must show it as the cause of their retry.
    let mut retried = Vec::new();
    for timeline in timelines {
        let injected = check_attempts(&timeline);
        if has_fault(&timeline, "error_before") {
            assert!(
                injected > 0,
                "{}: a retry names the injected fault that caused it: {timeline:?}",
                timeline.order_id
            );
            retried.push(timeline);
        }
    }
    assert!(
        !retried.is_empty(),
        "an error_before rate of 25 % retried none of {} deliveries",
        confirmed.len() * 3
    );
    for timeline in &retried {
        check_the_rest(timeline);
    }
    check_the_command_prints_it(&cloud, &retried[0]);
}

fn has_fault(timeline: &Timeline, kind: &str) -> bool {
    timeline
        .entries
        .iter()
        .any(|e| matches!(&e.what, What::Fault { fault } if fault == kind))
}

/// The orders' timelines once every message about them was processed in the end and the
/// customer told (a confirmed order's notification may still be on its way or its retries).
async fn settled_timelines(cloud: &Cloud, ids: &[String]) -> Vec<Timeline> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let timelines: Vec<Timeline> = ids
            .iter()
            .map(|id| trace::timeline(&cloud.state_dir, id).unwrap())
            .collect();
        let settled = timelines.iter().all(|t| {
            let told = t.entries.iter().any(|e| {
                e.function == "send-notification"
                    && matches!(
                        e.what,
                        What::Delivery {
                            outcome: DeliveryOutcome::Processed,
                            ..
                        }
                    )
            });
            told && trace::attempts(t).values().all(|a| {
                a.last()
                    .is_some_and(|last| last.1 != DeliveryOutcome::Failed)
            })
        });
        if settled || Instant::now() > deadline {
            return timelines;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn wait_for_confirmed(cloud: &Cloud, ids: &[String]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mut confirmed = Vec::new();
        for id in ids {
            if cloud.order(id).await["status"] == "CONFIRMED" {
                confirmed.push(id.clone());
            }
        }
        if confirmed.len() == ids.len() || Instant::now() > deadline {
            return confirmed;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every message's receives come in order, 1, 2, …; each failed one names its function, its
/// duration and why; the last one processed it. Returns how many failed by an injected fault.
fn check_attempts(timeline: &Timeline) -> usize {
    let mut by_message: std::collections::HashMap<&str, Vec<(u32, DeliveryOutcome)>> =
        std::collections::HashMap::new();
    let mut injected = 0;
    for e in &timeline.entries {
        let What::Delivery {
            message_id,
            receive_count,
            outcome,
            ..
        } = &e.what
        else {
            continue;
        };
        assert!(!e.function.is_empty());
        assert!(e.duration_ms.is_some(), "{e:?}");
        if *outcome == DeliveryOutcome::Failed {
            let reason = e.reason.as_deref().unwrap_or_default();
            assert!(
                !reason.is_empty(),
                "{}: a failed attempt says why: {e:?}",
                timeline.order_id
            );
            injected += usize::from(reason.contains("injected fault"));
        }
        by_message
            .entry(message_id)
            .or_default()
            .push((*receive_count, *outcome));
    }
    for (message, attempts) in by_message {
        let counts: Vec<u32> = attempts.iter().map(|a| a.0).collect();
        let mut sorted = counts.clone();
        sorted.sort_unstable();
        assert_eq!(counts, sorted, "{message}: attempts in order");
        assert!(
            attempts.iter().any(|a| a.1 != DeliveryOutcome::Failed),
            "{message} was processed in the end: {attempts:?}"
        );
    }
    injected
}

/// The invocations with their durations, the AWS calls with theirs, and one trace id for the
/// whole order (the faults that caused its retries are checked with its attempts).
fn check_the_rest(timeline: &Timeline) {
    let invocations: Vec<_> = timeline
        .entries
        .iter()
        .filter(|e| matches!(e.what, What::Invocation { .. }))
        .collect();
    let functions: std::collections::BTreeSet<&str> =
        invocations.iter().map(|e| e.function.as_str()).collect();
    for f in [
        "validate-order",
        "update-inventory",
        "process-payment",
        "send-notification",
    ] {
        assert!(functions.contains(f), "{f} handled it: {functions:?}");
    }
    assert!(invocations.iter().all(|e| e.duration_ms.is_some()));
    let calls: Vec<_> = timeline
        .entries
        .iter()
        .filter(|e| matches!(e.what, What::AwsCall { .. }))
        .collect();
    assert!(
        calls.len() >= 6 && calls.iter().all(|e| e.duration_ms.is_some()),
        "{calls:?}"
    );
    assert_eq!(
        timeline.trace_ids.len(),
        1,
        "{}: one trace across the chain: {:?}",
        timeline.order_id,
        timeline.trace_ids
    );
    let times: Vec<_> = timeline.entries.iter().map(|e| e.at).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
}

fn check_the_command_prints_it(cloud: &Cloud, timeline: &Timeline) {
    let out = Command::new(orderflow_binary())
        .args(["trace", &timeline.order_id, "--state-dir"])
        .arg(&cloud.state_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&timeline.trace_ids[0]), "{text}");
    assert!(text.contains("delivery #2 of "), "{text}");
    assert!(text.contains("FAILED, left for a retry"), "{text}");
    assert!(text.contains("reason: "), "{text}");
    println!("{text}");
    let json = Command::new(orderflow_binary())
        .args(["trace", &timeline.order_id, "--json", "--state-dir"])
        .arg(&cloud.state_dir)
        .output()
        .unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(parsed["orderId"], timeline.order_id.as_str());
    assert_eq!(
        parsed["entries"].as_array().unwrap().len(),
        timeline.entries.len()
    );
}
