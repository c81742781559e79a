//! The count: every accepted order against the outcome its kind must reach, the payment ledger
//! and the customer inbox; the stock against what the confirmed orders took; the charges in the
//! payment provider's own table.

use std::collections::{BTreeMap, HashMap};

use orderflow_shared::adapters::dynamodb::{DynamoProvider, DynamoStore};
use orderflow_shared::clock::Clock;
use orderflow_shared::domain::{OrderId, OrderStatus};
use orderflow_shared::ports::{ChargeOutcome, PaymentLedger, Product};

use super::plan::{Kind, Planned, HOT};
use super::report::Report;
use super::told::Told;
use super::watch::{Seen, Statuses};
use super::SAY;
use crate::harness::stock;

/// What the count reads.
pub struct Evidence<'a> {
    pub planned: &'a [Planned],
    pub catalog: &'a [Product],
    /// Accepted order → the index of its planned order.
    pub accepted: &'a BTreeMap<OrderId, usize>,
    pub statuses: &'a Statuses,
    pub told: &'a Told,
    pub store: &'a DynamoStore,
}

pub async fn count(report: &mut Report, e: &Evidence<'_>) {
    let mut sold: HashMap<&str, u64> = HashMap::new();
    let (mut hot_accepted, mut hot_confirmed) = (0u64, 0u64);
    for (id, &index) in e.accepted {
        let p = &e.planned[index];
        let seen = e.statuses.get(id).copied().unwrap_or(Seen::Unknown);
        tally(report, seen);
        let Seen::Status(status) = seen else {
            continue;
        };
        if !seen.is_final() {
            continue;
        }
        let confirmed = status == OrderStatus::Confirmed;
        if confirmed {
            *sold.entry(p.sku).or_default() += u64::from(p.quantity);
        }
        if p.kind == Kind::Hot {
            hot_accepted += 1;
            hot_confirmed += u64::from(confirmed);
        }
        report.wrong_outcome += usize::from(!right_outcome(p.kind, status));
        let ledger = e.store.charge_for(id).await.ok().flatten();
        report.payment_mismatch += usize::from(!ledger_agrees(status, ledger.map(|c| c.outcome)));
        match e.told.times(id.as_str()) {
            0 => report.missing_notifications += 1,
            n => report.duplicate_notifications += n - 1,
        }
    }
    // The flash-sale SKU must sell out exactly: fewer confirmed than it could is a wrong answer.
    if let Some(hot) = e.catalog.iter().find(|p| p.sku.as_str() == HOT) {
        let could = hot_accepted.min(u64::from(hot.stock));
        report.wrong_outcome += usize::try_from(could.saturating_sub(hot_confirmed)).unwrap_or(0);
    }
    for sku in stock::check(e.store, e.catalog, &sold, |line| SAY.line(line)).await {
        report.oversold += sku.oversold();
        report.stock_mismatch += usize::from(!sku.adds_up() || sku.oversold() > 0);
    }
}

/// Every approved charge in the simulated provider's table (`<stack>-ProviderTable`), as
/// (order id, charge id): its permanent records, counted beside its log lines. Empty, said
/// once, when the table cannot be read.
pub async fn provider_table_charges(
    sdk: &aws_config::SdkConfig,
    stack: &str,
) -> Vec<(String, String)> {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    // Only its records are read here: the key retention and the clock play no part.
    let provider = DynamoProvider::new(
        client,
        format!("{stack}-ProviderTable"),
        chrono::Duration::days(1),
        Clock::system(),
    );
    match provider.charges().await {
        Ok(charges) => charges
            .into_iter()
            .filter_map(|c| match c.record.outcome {
                ChargeOutcome::Approved { charge_id } => {
                    Some((c.record.order_id.to_string(), charge_id))
                }
                ChargeOutcome::Declined { .. } => None,
            })
            .collect(),
        Err(e) => {
            SAY.line(&format!(
                "the provider's table cannot be read ({e}); charges counted from its log only"
            ));
            Vec::new()
        }
    }
}

fn tally(report: &mut Report, seen: Seen) {
    match seen {
        Seen::Status(OrderStatus::Confirmed) => report.confirmed += 1,
        Seen::Status(OrderStatus::Cancelled) => report.cancelled += 1,
        Seen::Status(OrderStatus::Rejected) => report.rejected += 1,
        Seen::Missing => report.lost += 1,
        _ => report.stuck += 1,
    }
}

/// The final state an order of this kind had to reach.
fn right_outcome(kind: Kind, status: OrderStatus) -> bool {
    match kind {
        Kind::Approved | Kind::DuplicateKey => status == OrderStatus::Confirmed,
        Kind::Declined => status == OrderStatus::Cancelled,
        Kind::OutOfStock => status == OrderStatus::Rejected,
        // Whether there was stock left decides; the sell-out is checked over all of them.
        Kind::Hot => matches!(status, OrderStatus::Confirmed | OrderStatus::Rejected),
    }
}

/// A confirmed order has an approved charge, a cancelled one a declined charge, a rejected one
/// none.
fn ledger_agrees(status: OrderStatus, charge: Option<ChargeOutcome>) -> bool {
    matches!(
        (status, charge),
        (OrderStatus::Confirmed, Some(ChargeOutcome::Approved { .. }))
            | (OrderStatus::Cancelled, Some(ChargeOutcome::Declined { .. }))
            | (OrderStatus::Rejected, None)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_one_right_outcome() {
        use OrderStatus::*;
        assert!(right_outcome(Kind::Approved, Confirmed));
        assert!(!right_outcome(Kind::Approved, Rejected));
        assert!(right_outcome(Kind::DuplicateKey, Confirmed));
        assert!(right_outcome(Kind::Declined, Cancelled));
        assert!(!right_outcome(Kind::Declined, Confirmed));
        assert!(right_outcome(Kind::OutOfStock, Rejected));
        assert!(right_outcome(Kind::Hot, Confirmed) && right_outcome(Kind::Hot, Rejected));
        assert!(!right_outcome(Kind::Hot, Cancelled));
    }

    #[test]
    fn a_missing_order_is_lost_and_one_not_final_is_stuck() {
        let mut report = Report::default();
        for seen in [
            Seen::Missing,
            Seen::Unknown,
            Seen::Status(OrderStatus::Reserved),
            Seen::Status(OrderStatus::Confirmed),
        ] {
            tally(&mut report, seen);
        }
        assert_eq!((report.lost, report.stuck, report.confirmed), (1, 2, 1));
    }
}
