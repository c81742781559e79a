//! The pipeline's own timing of each order, from what it recorded: the order item's history
//! (each transition's time, written by the function that made it) and the time the customer
//! notification reached the inbox. Latency is the last transition minus the placement; the
//! stages are placed → reserved → paid (confirmed) → told.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use orderflow_shared::domain::OrderStatus;
use serde::Serialize;

use super::stats::{self, Latency};

/// One order as its item recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub created_at: DateTime<Utc>,
    /// Every transition, in order.
    pub changes: Vec<(OrderStatus, DateTime<Utc>)>,
    /// When the customer's notification was delivered to the inbox, if read.
    pub told_at: Option<DateTime<Utc>>,
}

impl Recorded {
    pub fn status(&self) -> OrderStatus {
        self.changes
            .last()
            .map_or(OrderStatus::Pending, |(status, _)| *status)
    }

    fn at(&self, status: OrderStatus) -> Option<DateTime<Utc>> {
        self.changes
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, at)| *at)
    }

    /// Placement to the last transition, for an order in a final state.
    pub fn latency_ms(&self) -> Option<u64> {
        let (status, last) = self.changes.last()?;
        status
            .is_terminal()
            .then(|| millis(*last - self.created_at))
    }
}

fn millis(d: chrono::TimeDelta) -> u64 {
    u64::try_from(d.num_milliseconds()).unwrap_or(0)
}

/// Percentiles of each stage, over the orders that went through it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Stages {
    /// Placed → RESERVED.
    pub reserved: Latency,
    /// RESERVED → CONFIRMED.
    pub paid: Latency,
    /// CONFIRMED → the notification in the inbox.
    pub told: Latency,
    /// Placed → REJECTED (sold out).
    pub rejected: Latency,
}

pub fn stages(orders: &[&Recorded]) -> Stages {
    let mut samples: [Vec<u64>; 4] = Default::default();
    for o in orders {
        let reserved = o.at(OrderStatus::Reserved);
        let confirmed = o.at(OrderStatus::Confirmed);
        if let Some(r) = reserved {
            samples[0].push(millis(r - o.created_at));
        }
        if let (Some(r), Some(c)) = (reserved, confirmed) {
            samples[1].push(millis(c - r));
        }
        if let (Some(c), Some(t)) = (confirmed, o.told_at) {
            samples[2].push(millis(t - c));
        }
        if let Some(r) = o.at(OrderStatus::Rejected) {
            samples[3].push(millis(r - o.created_at));
        }
    }
    Stages {
        reserved: stats::latency(&samples[0]),
        paid: stats::latency(&samples[1]),
        told: stats::latency(&samples[2]),
        rejected: stats::latency(&samples[3]),
    }
}

/// The run's span on the pipeline's clock: the first placement to the last final transition,
/// in seconds, and each final order's end in milliseconds after the first placement.
#[allow(clippy::float_arithmetic)] // seconds from milliseconds
pub fn span(orders: &[&Recorded]) -> (f64, Vec<(u64, u64)>) {
    let Some(first) = orders.iter().map(|o| o.created_at).min() else {
        return (0.0, Vec::new());
    };
    let ends: Vec<(u64, u64)> = orders
        .iter()
        .filter_map(|o| {
            let latency = o.latency_ms()?;
            let (_, last) = o.changes.last()?;
            Some((millis(*last - first), latency))
        })
        .collect();
    let last = ends.iter().map(|(at, _)| *at).max().unwrap_or(0);
    (last as f64 / 1000.0, ends)
}

/// Each order's record, by id, with the inbox's delivery times joined in.
pub fn join_told(
    mut orders: HashMap<String, Recorded>,
    told: &HashMap<String, DateTime<Utc>>,
) -> HashMap<String, Recorded> {
    for (id, o) in &mut orders {
        o.told_at = told.get(id).copied();
    }
    orders
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap()
    }

    fn confirmed(start: i64) -> Recorded {
        Recorded {
            created_at: at(start),
            changes: vec![
                (OrderStatus::Pending, at(start)),
                (OrderStatus::Reserved, at(start + 1100)),
                (OrderStatus::Confirmed, at(start + 2300)),
            ],
            told_at: Some(at(start + 3400)),
        }
    }

    #[test]
    fn latency_is_the_last_transition_after_placement_and_only_for_final_orders() {
        assert_eq!(confirmed(0).latency_ms(), Some(2300));
        let mut pending = confirmed(0);
        pending.changes.truncate(2);
        assert_eq!(pending.latency_ms(), None);
        assert_eq!(pending.status(), OrderStatus::Reserved);
    }

    #[test]
    fn each_stage_is_measured_between_its_own_transitions() {
        let (a, b) = (confirmed(0), confirmed(500));
        let rejected = Recorded {
            created_at: at(0),
            changes: vec![
                (OrderStatus::Pending, at(0)),
                (OrderStatus::Rejected, at(900)),
            ],
            told_at: None,
        };
        let s = stages(&[&a, &b, &rejected]);
        assert_eq!(s.reserved.p50, 1100);
        assert_eq!(s.paid.p99, 1200);
        assert_eq!(s.told.max, 1100);
        assert_eq!(s.rejected.p50, 900);
        let (seconds, ends) = span(&[&a, &b, &rejected]);
        assert_eq!(seconds, 2.8);
        assert_eq!(ends.len(), 3);
    }
}
