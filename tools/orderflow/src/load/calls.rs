//! The functions' AWS calls, counted from an own cloud's log (each function logs its calls when
//! `ORDERFLOW_COUNT_AWS_CALLS=1`), and the same calls replayed straight against the endpoint to
//! measure the backend's own capacity (see [`super::replay`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use super::replay::{self, Replayed};
use super::{stats, SAY};
use crate::harness::Cloud;
use crate::local::resources::Physical;

/// The function that answers `GET /orders/{id}`: its calls are this run's polling.
const POLLED_FUNCTION: &str = "query-api";

/// What the calls came to.
pub struct Calls {
    /// Operation → count, of every function but the polled one.
    pub calls: BTreeMap<String, u64>,
    /// Calls of the polled function (this run's polling, not the order flow).
    pub poll_calls: u64,
    /// Calls per confirmed order.
    pub per_order: f64,
    /// Orders' worth of the same calls per second, replayed straight against the endpoint.
    pub backend: f64,
    pub replayed: Replayed,
}

/// Counts the calls once they have settled, then replays them for `orders` orders.
#[allow(clippy::float_arithmetic)] // per-order figures are ratios
pub async fn measure(
    cloud: &Cloud,
    log_path: &Path,
    orders: usize,
    confirmed: usize,
    concurrency: usize,
) -> Calls {
    settled_calls(log_path).await;
    let log = std::fs::read_to_string(log_path).unwrap_or_default();
    let calls = stats::count_aws_calls(&log, |f| f != POLLED_FUNCTION);
    let poll_calls = stats::count_aws_calls(&log, |f| f == POLLED_FUNCTION)
        .values()
        .sum();
    let total: u64 = calls.values().sum();
    let per_order = stats::ratio(total as f64, confirmed as f64);
    SAY.line(&format!(
        "{total} AWS calls ({per_order:.1} per confirmed order); replaying them against {}",
        cloud.endpoint
    ));
    let targets = targets(cloud);
    let replayed = replay::replay(cloud.sdk(), targets, &calls, orders, concurrency).await;
    let backend = stats::per_second(orders, replayed.seconds);
    SAY.line(&format!(
        "backend: {} calls in {:.1} s ({backend:.1} orders/s), {} failed, {} substituted",
        replayed.calls, replayed.seconds, replayed.failed, replayed.substituted
    ));
    Calls {
        calls,
        poll_calls,
        per_order,
        backend,
        replayed,
    }
}

/// The tables, bus and topic of the cloud's deployment.
fn targets(cloud: &Cloud) -> replay::Targets {
    let deployment = cloud.deployment();
    let resource = |id: &str| deployment.and_then(|d| d.resources.get(id));
    replay::Targets {
        tables: cloud.names().tables().clone(),
        bus: match resource("OrderEventBus") {
            Some(Physical::Bus { name, .. }) => Some(name.clone()),
            _ => None,
        },
        topic_arn: match resource("CustomerNotificationsTopic") {
            Some(Physical::Topic { arn, .. }) => Some(arn.clone()),
            _ => None,
        },
    }
}

/// Waits until the count of `aws call` lines in the log has not moved for 2 s (the last
/// notifications are sent after their orders are final), at most 30 s.
async fn settled_calls(log_path: &Path) -> BTreeMap<String, u64> {
    let total = |c: &BTreeMap<String, u64>| c.values().sum::<u64>();
    let read = || {
        stats::count_aws_calls(
            &std::fs::read_to_string(log_path).unwrap_or_default(),
            |_| true,
        )
    };
    let mut calls = read();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = read();
        if total(&now) == total(&calls) {
            return now;
        }
        calls = now;
    }
    calls
}
