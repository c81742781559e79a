//! The counts of a chaos run, and which of them must be zero for it to pass.

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
    /// Accepted orders not in a final state at the end.
    pub stuck: usize,
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
    /// `null` against an `--api-url` cloud, whose logs this run cannot read.
    pub faults_injected: Option<u64>,
    pub faults: FaultCounts,
    /// Messages moved from dead-letter queues back to their queues after faults stopped.
    pub redriven: u64,
    /// Charges the provider approved (including repeats it recognised by idempotency key).
    pub provider_charges: Option<u64>,
    pub duration_s: f64,
    pub log: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct FaultCounts {
    pub error_before: u64,
    pub error_after: u64,
    pub crash: u64,
    pub delay: u64,
    pub aws_throttle: u64,
    pub aws_unavailable: u64,
    pub duplicate_delivery: u64,
}

impl FaultCounts {
    pub fn total(&self) -> u64 {
        self.error_before
            + self.error_after
            + self.crash
            + self.delay
            + self.aws_throttle
            + self.aws_unavailable
            + self.duplicate_delivery
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
            ("stuck", as_u64(self.stuck)),
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
            faults_injected: Some(40),
            ..Report::default()
        };
        assert!(clean.failures().is_empty());
        let bad = Report {
            double_charged: 1,
            stuck: 2,
            ..clean
        };
        assert_eq!(bad.failures(), vec![("double_charged", 1), ("stuck", 2)]);
    }
}
