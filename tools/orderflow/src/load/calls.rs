//! The functions' AWS calls, counted from an own cloud's log (each function logs its calls when
//! `ORDERFLOW_COUNT_AWS_CALLS=1`), and the same calls replayed straight against the endpoint to
//! measure the backend's own capacity (see [`super::replay`]).

use std::path::Path;
use std::time::{Duration, Instant};

use super::replay::{self, Replayed};
use super::usage::{self, Usage};
use super::{stats, LoadArgs, SAY};
use crate::harness::Cloud;
use crate::local::resources::Physical;

/// The function that answers `GET /orders/{id}` and `GET /products`: not part of the order flow.
const QUERY_FUNCTION: &str = "query-api";

/// What the calls came to.
pub struct Calls {
    /// What the order flow's functions used.
    pub usage: Usage,
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
    args: &LoadArgs,
) -> Calls {
    let log = settled(log_path).await;
    let usage = usage::read(&log, |f| f != QUERY_FUNCTION);
    let total = usage.total_calls();
    let per_order = stats::ratio(total as f64, confirmed as f64);
    SAY.line(&format!(
        "{total} AWS calls ({per_order:.1} per confirmed order); replaying them against {}",
        cloud.endpoint
    ));
    let replayed = replay::replay(
        cloud.sdk(),
        targets(cloud),
        &usage.calls,
        orders,
        args.concurrency,
    )
    .await;
    let backend = stats::per_second(orders, replayed.seconds);
    SAY.line(&format!(
        "backend: {} calls in {:.1} s ({backend:.1} orders/s), {} failed, {} substituted",
        replayed.calls, replayed.seconds, replayed.failed, replayed.substituted
    ));
    Calls {
        usage,
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

/// The log once its count of `aws call` lines has not moved for 2 s (the last notifications
/// are sent after their orders are final), at most 30 s.
pub async fn settled(log_path: &Path) -> String {
    let read = || std::fs::read_to_string(log_path).unwrap_or_default();
    let total = |log: &str| stats::count_aws_calls(log, |_| true).values().sum::<u64>();
    let mut log = read();
    let mut counted = total(&log);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(2)).await;
        log = read();
        let now = total(&log);
        if now == counted {
            return log;
        }
        counted = now;
    }
    log
}
