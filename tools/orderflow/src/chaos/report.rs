//! The counts of a chaos run, and which of them must be zero for it to pass.

use std::collections::BTreeMap;

use serde::Serialize;

/// The counts. A run passes when every field of [`Report::failures`] is zero.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Report {
    pub seed: u64,
    pub orders: usize,
    /// Orders the API accepted (202), after client retries.
    pub accepted: usize,
    pub confirmed: usize,
    pub rejected: usize,
    pub cancelled: usize,
    /// Accepted, but the order cannot be found.
    pub lost: usize,
    /// Orders the provider charged under more than one charge id.
    pub double_charged: usize,
    /// Units sold beyond a SKU's stock.
    pub oversold: u64,
    /// Accepted orders not in a final state when the faults stopped, before any redrive.
    pub stuck_before_redrive: usize,
    /// Accepted orders not in a final state at the end.
    pub stuck: usize,
    /// Orders in the Orders table at the end, accepted or not (a POST the client saw fail may
    /// have stored one, a keyless retry another).
    pub stored: usize,
    /// Stored orders that never reached a final state or whose customer was never told.
    pub orphaned: usize,
    /// Keyless requests planned (no `Idempotency-Key`; a retry places a new order).
    pub keyless: usize,
    /// Stored orders beyond one per keyless request: the storefront's retries, each a real
    /// order (the reason for `Idempotency-Key`), finished and told like any other.
    pub keyless_extra_orders: usize,
    /// Messages that reached a dead-letter queue because of injected transient faults.
    pub dead_lettered: usize,
    /// Their last failure reasons (`function: reason` → messages), as the cloud recorded them.
    pub dead_lettered_reasons: BTreeMap<String, usize>,
    /// Messages dead-lettered as they must be: the malformed ones this run injected and those
    /// of orders whose provider fails permanently.
    pub dead_lettered_expected: usize,
    /// Malformed messages this run sent to the consumed queues.
    pub poison_injected: usize,
    /// Notifications whose content differs from the first told under their `notificationId`
    /// (`<orderId>:<kind>`), or that carry no such id: the customer was told two things.
    pub duplicate_notifications: usize,
    /// The same `notificationId` published again with the same content (a lost publish answer,
    /// a crash before the key was completed): reported, not a failure — subscribers drop it.
    pub redundant_publishes: usize,
    /// Final orders whose customer was never told their outcome.
    pub missing_notifications: usize,
    /// Final state not the one the order had to reach (e.g. declined but confirmed, or
    /// rejected while its SKU still had stock).
    pub wrong_outcome: usize,
    /// Ledger or provider disagreeing with the order: charged but not confirmed, confirmed
    /// without an approved charge, ledger entry missing or of the wrong kind.
    pub payment_mismatch: usize,
    /// SKUs whose final stock is not the seeded stock minus what confirmed orders took.
    pub stock_mismatch: usize,
    /// Requests sent twice with one `Idempotency-Key` that got two different orders.
    pub duplicate_key_violations: usize,
    /// Valid requests the API refused (a 4xx other than "retry") or never accepted.
    pub api_refused: usize,
    /// Log lines carrying an e-mail address or a payment token.
    pub sensitive_log_lines: usize,
    /// By kind, and their total; `null` against an `--api-url` cloud, whose logs this run
    /// cannot read.
    pub faults_injected: Option<FaultCounts>,
    /// Messages moved from dead-letter queues back to their queues after faults stopped.
    pub redriven: u64,
    /// Charges the provider approved (including repeats it recognised by idempotency key).
    pub provider_charges: Option<u64>,
    pub duration_s: f64,
    pub log: Option<String>,
    /// What the functions' EMF metrics counted in this run (the local cloud's
    /// `metrics.jsonl`); `null` when the cloud kept none (`--api-url`). Not a pass condition:
    /// a process killed by an injected crash loses the counts it had not flushed.
    pub metrics: Option<crate::local::metrics::OrderMetrics>,
    /// Where those counts do not add up (placed = confirmed + rejected + cancelled, …).
    pub metrics_imbalances: Vec<String>,
}

/// Faults injected, by kind: the functions' own (`ORDERFLOW_FAULTS`), the fault proxy's, the
/// event source mappings' and the harsh cloud's (the moto log's `orderflow-harsh:` lines).
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct FaultCounts {
    pub error_before: u64,
    pub error_after: u64,
    /// A process exit after a whole batch's effects.
    pub crash: u64,
    pub delay: u64,
    /// A process exit right after a write call answered, before the code acted on it.
    pub crash_between_steps: u64,
    /// Throttling errors: the proxy's and DynamoDB's per-item write rate (the harsh cloud's).
    pub throttle: u64,
    /// Of `throttle`, the harsh cloud's per-item write rate.
    pub throttle_by_item_rate: u64,
    /// 503s the proxy answered instead of forwarding.
    pub unavailable: u64,
    /// Calls the endpoint applied whose answer the proxy lost.
    pub lost_response: u64,
    /// Messages an event source mapping left undeleted.
    pub duplicate_delivery: u64,
    /// `TransactionConflict`s of overlapping DynamoDB transactions.
    pub transaction_conflict: u64,
    /// EventBridge deliveries made twice, and copies delivered late.
    pub eventbridge_duplicate: u64,
    pub eventbridge_delay: u64,
    pub total: u64,
}

impl FaultCounts {
    /// The same counts with `total` their sum (`throttle_by_item_rate` is part of `throttle`).
    pub fn totalled(self) -> FaultCounts {
        let total = self.error_before
            + self.error_after
            + self.crash
            + self.delay
            + self.crash_between_steps
            + self.throttle
            + self.unavailable
            + self.lost_response
            + self.duplicate_delivery
            + self.transaction_conflict
            + self.eventbridge_duplicate
            + self.eventbridge_delay;
        FaultCounts { total, ..self }
    }
}

impl Report {
    /// The counts that must be zero, with their names.
    pub fn failures(&self) -> Vec<(&'static str, u64)> {
        let as_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        [
            ("lost", as_u64(self.lost)),
            ("double_charged", as_u64(self.double_charged)),
            ("oversold", self.oversold),
            ("stuck_before_redrive", as_u64(self.stuck_before_redrive)),
            ("stuck", as_u64(self.stuck)),
            ("orphaned", as_u64(self.orphaned)),
            ("dead_lettered", as_u64(self.dead_lettered)),
            (
                "duplicate_notifications",
                as_u64(self.duplicate_notifications),
            ),
            ("missing_notifications", as_u64(self.missing_notifications)),
            ("wrong_outcome", as_u64(self.wrong_outcome)),
            ("payment_mismatch", as_u64(self.payment_mismatch)),
            ("stock_mismatch", as_u64(self.stock_mismatch)),
            (
                "duplicate_key_violations",
                as_u64(self.duplicate_key_violations),
            ),
            ("api_refused", as_u64(self.api_refused)),
            ("sensitive_log_lines", as_u64(self.sensitive_log_lines)),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_fails_on_any_count_that_must_be_zero_and_passes_on_none() {
        let clean = Report {
            orders: 10,
            accepted: 10,
            confirmed: 10,
            keyless_extra_orders: 2,
            dead_lettered_expected: 3,
            faults_injected: Some(FaultCounts {
                crash_between_steps: 40,
                ..FaultCounts::default()
            }),
            ..Report::default()
        };
        assert!(clean.failures().is_empty());
        let bad = Report {
            double_charged: 1,
            stuck_before_redrive: 4,
            stuck: 2,
            orphaned: 5,
            dead_lettered: 6,
            ..clean
        };
        assert_eq!(
            bad.failures(),
            vec![
                ("double_charged", 1),
                ("stuck_before_redrive", 4),
                ("stuck", 2),
                ("orphaned", 5),
                ("dead_lettered", 6)
            ]
        );
    }

    #[test]
    fn the_total_of_the_faults_counts_each_kind_once() {
        let faults = FaultCounts {
            error_before: 1,
            crash_between_steps: 2,
            throttle: 10,
            throttle_by_item_rate: 4,
            lost_response: 3,
            transaction_conflict: 5,
            eventbridge_duplicate: 6,
            eventbridge_delay: 7,
            ..FaultCounts::default()
        }
        .totalled();
        assert_eq!(faults.total, 1 + 2 + 10 + 3 + 5 + 6 + 7);
    }
}
