//! What one run did, and the one line it logs: `reconcile run` with the counts. The stranded
//! count is what the template's metric filter turns into the `StrandedOrders` metric and its
//! alarm (DESIGN §6), so the field names are part of the interface.

use chrono::{DateTime, Utc};
use orderflow_shared::domain::{Order, OrderId};
use orderflow_shared::telemetry::messages::RECONCILE_RUN;
use orderflow_shared::telemetry::metrics;
use serde::Serialize;
use tracing::{info, warn};

/// How many stranded order ids the log line names (the oldest).
pub const OLDEST_NAMED: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// Open orders read (older than the shortest bound).
    pub examined: u32,
    pub order_placed: u32,
    pub reservation_expired: u32,
    pub payment_failed: u32,
    /// Open orders placed longer ago than the hard bound.
    pub stranded: u32,
    /// The oldest stranded orders, oldest first, at most [`OLDEST_NAMED`].
    pub oldest_stranded: Vec<OrderId>,
    /// Queries or publishes that failed (the next run tries again).
    pub failures: u32,
    /// The run stopped at its budget with open orders left unread.
    pub truncated: bool,
    #[serde(skip)]
    stranded_since: Vec<(DateTime<Utc>, OrderId)>,
}

impl RunReport {
    pub fn stranded(&mut self, order: &Order) {
        self.stranded += 1;
        self.stranded_since
            .push((order.created_at, order.order_id.clone()));
        self.stranded_since.sort();
        self.stranded_since.truncate(OLDEST_NAMED);
        self.oldest_stranded = self
            .stranded_since
            .iter()
            .map(|(_, id)| id.clone())
            .collect();
    }

    /// The run's line (INFO, or WARN when an order is stranded) and its `StrandedOrders` metric.
    pub fn log(&self) {
        metrics::stranded_orders(self.stranded);
        let oldest = self
            .oldest_stranded
            .iter()
            .map(OrderId::as_str)
            .collect::<Vec<_>>()
            .join(",");
        macro_rules! line {
            ($level:ident) => {
                $level!(
                    examined = self.examined,
                    order_placed = self.order_placed,
                    reservation_expired = self.reservation_expired,
                    payment_failed = self.payment_failed,
                    stranded = self.stranded,
                    oldest_stranded = %oldest,
                    failures = self.failures,
                    truncated = self.truncated,
                    "{RECONCILE_RUN}"
                )
            };
        }
        if self.stranded > 0 {
            line!(warn);
        } else {
            line!(info);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use orderflow_shared::testing::CapturedLogs;

    use super::*;
    use crate::test_orders::placed_order;

    #[test]
    fn the_oldest_stranded_orders_are_named_oldest_first_and_at_most_ten() {
        let now = Utc::now();
        let mut report = RunReport::default();
        let orders: Vec<_> = (0..15)
            .map(|i| placed_order(now - Duration::hours(2) - Duration::minutes(i)))
            .collect();
        for order in &orders {
            report.stranded(order);
        }
        assert_eq!(report.stranded, 15);
        let expected: Vec<_> = orders
            .iter()
            .rev()
            .take(10)
            .map(|o| o.order_id.clone())
            .collect();
        assert_eq!(report.oldest_stranded, expected);
    }

    #[test]
    fn the_run_line_carries_the_stranded_count_the_alarm_reads() {
        let logs = CapturedLogs::start();
        let mut report = RunReport {
            examined: 3,
            order_placed: 1,
            ..RunReport::default()
        };
        let order = placed_order(Utc::now() - Duration::hours(2));
        report.stranded(&order);
        report.log();
        let lines = logs.lines();
        let line = lines
            .iter()
            .find(|l| l["message"] == RECONCILE_RUN)
            .expect("a reconcile run line");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["stranded"], 1);
        assert_eq!(line["examined"], 3);
        assert_eq!(line["oldest_stranded"], order.order_id.as_str());
    }

    #[test]
    fn the_run_writes_its_stranded_count_as_the_stranded_orders_metric() {
        let captured = metrics::capture();
        let mut report = RunReport::default();
        report.stranded(&placed_order(Utc::now() - Duration::hours(2)));
        report.stranded(&placed_order(Utc::now() - Duration::hours(3)));
        report.log();
        assert_eq!(captured.sum(metrics::name::STRANDED_ORDERS, &[]), 2.0);
    }
}
