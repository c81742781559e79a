//! The count: every accepted order against the outcome its kind must reach, the payment ledger
//! and the customer inbox; every stored order, accepted or not, finished and told; the stock
//! against what the stored confirmed orders took; the charges in the payment provider's own
//! table.

use std::collections::{BTreeMap, HashMap};

use orderflow_shared::adapters::dynamodb::{DynamoProvider, DynamoStore};
use orderflow_shared::clock::Clock;
use orderflow_shared::domain::{Order, OrderId, OrderStatus};
use orderflow_shared::events::NotificationKind;
use orderflow_shared::ports::{ChargeOutcome, PaymentLedger, Product};

use super::plan::{Kind, Planned, HOT};
use super::report::Report;
use super::told::{OrderTold, Told};
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
    /// Every order in the Orders table at the end.
    pub stored: &'a [Order],
}

pub async fn count(report: &mut Report, e: &Evidence<'_>) {
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
        if p.kind == Kind::Hot {
            hot_accepted += 1;
            hot_confirmed += u64::from(confirmed);
        }
        check_final(report, e, id, p.kind, status).await;
    }
    // The flash-sale SKU must sell out exactly: fewer confirmed than it could is a wrong answer.
    if let Some(hot) = e.catalog.iter().find(|p| p.sku.as_str() == HOT) {
        let could = hot_accepted.min(u64::from(hot.stock));
        report.wrong_outcome += usize::try_from(could.saturating_sub(hot_confirmed)).unwrap_or(0);
    }
    count_stored(report, e).await;
    let sold = sold(e.stored);
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

/// A final order: the outcome its kind must reach, its customer told that and nothing else,
/// the ledger agreeing.
async fn check_final(
    report: &mut Report,
    e: &Evidence<'_>,
    id: &OrderId,
    kind: Kind,
    status: OrderStatus,
) {
    let told_wrong = count_told(report, status, &e.told.of(id.as_str()));
    report.wrong_outcome += usize::from(!right_outcome(kind, status) || told_wrong);
    let ledger = e.store.charge_for(id).await.ok().flatten();
    report.payment_mismatch += usize::from(!ledger_agrees(status, ledger.map(|c| c.outcome)));
}

/// Every stored order: orphaned unless final and told; one nobody accepted is held to its
/// planned outcome when its customer names the plan (keyless orders have customers of their
/// own), and extra keyless orders are counted.
async fn count_stored(report: &mut Report, e: &Evidence<'_>) {
    report.stored = e.stored.len();
    report.keyless = e.planned.iter().filter(|p| p.kind == Kind::Keyless).count();
    let keyless: HashMap<&str, Kind> = e
        .planned
        .iter()
        .filter(|p| p.kind == Kind::Keyless)
        .map(|p| (p.customer.as_str(), p.kind))
        .collect();
    let mut per_keyless_customer: HashMap<&str, usize> = HashMap::new();
    for order in e.stored {
        let finished = order.status.is_terminal();
        report.orphaned += usize::from(!finished || e.told.times(order.order_id.as_str()) == 0);
        let Some(kind) = keyless.get(order.customer_id.as_str()) else {
            continue;
        };
        *per_keyless_customer
            .entry(order.customer_id.as_str())
            .or_default() += 1;
        if finished && !e.accepted.contains_key(&order.order_id) {
            check_final(report, e, &order.order_id, *kind, order.status).await;
        }
    }
    report.keyless_extra_orders = per_keyless_customer.values().map(|n| n - 1).sum();
}

/// Units of each SKU the stored confirmed orders took.
fn sold(stored: &[Order]) -> HashMap<&str, u64> {
    let mut sold: HashMap<&str, u64> = HashMap::new();
    for order in stored.iter().filter(|o| o.status == OrderStatus::Confirmed) {
        for line in &order.lines {
            *sold.entry(line.sku.as_str()).or_default() += u64::from(line.quantity.get());
        }
    }
    sold
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

/// Counts what the customer of a final order was told: duplicates and redundant publishes,
/// and missing when the kind its status calls for was never told. True when the customer was
/// also told another kind (an outcome the order did not have).
fn count_told(report: &mut Report, status: OrderStatus, told: &OrderTold) -> bool {
    report.duplicate_notifications += told.duplicates();
    report.redundant_publishes += told.redundant();
    let expected = told_kind(status).map(NotificationKind::as_str);
    report.missing_notifications += usize::from(!told.kinds().any(|k| Some(k) == expected));
    told.kinds().any(|k| Some(k) != expected)
}

/// What the customer of an order in this final state is told.
fn told_kind(status: OrderStatus) -> Option<NotificationKind> {
    match status {
        OrderStatus::Confirmed => Some(NotificationKind::OrderConfirmed),
        OrderStatus::Rejected => Some(NotificationKind::OrderRejected),
        OrderStatus::Cancelled => Some(NotificationKind::OrderCancelled),
        _ => None,
    }
}

/// The final state an order of this kind had to reach.
fn right_outcome(kind: Kind, status: OrderStatus) -> bool {
    match kind {
        Kind::Approved | Kind::DuplicateKey | Kind::Keyless => status == OrderStatus::Confirmed,
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
        assert!(right_outcome(Kind::Keyless, Confirmed) && !right_outcome(Kind::Keyless, Rejected));
        assert!(right_outcome(Kind::Declined, Cancelled));
        assert!(!right_outcome(Kind::Declined, Confirmed));
        assert!(right_outcome(Kind::OutOfStock, Rejected));
        assert!(right_outcome(Kind::Hot, Confirmed) && right_outcome(Kind::Hot, Rejected));
        assert!(!right_outcome(Kind::Hot, Cancelled));
    }

    fn delivered(order: &str, kind: &str, text: &str) -> crate::harness::Delivery {
        crate::harness::Delivery {
            notification: serde_json::json!({"orderId": order, "kind": kind, "text": text}),
            notification_id: Some(format!("{order}:{kind}")),
        }
    }

    /// What the customer of `o-1` was told, read the way the run reads it.
    fn told(delivered: &[crate::harness::Delivery]) -> OrderTold {
        let mut per_order = HashMap::new();
        super::super::told::tally(&mut per_order, delivered);
        per_order.remove("o-1").unwrap_or_default()
    }

    #[test]
    fn a_customer_told_once_counts_nothing_and_one_never_told_is_missing() {
        let mut report = Report::default();
        let once = told(&[delivered("o-1", "OrderConfirmed", "a")]);
        assert!(!count_told(&mut report, OrderStatus::Confirmed, &once));
        assert_eq!(report, Report::default());
        assert!(!count_told(
            &mut report,
            OrderStatus::Rejected,
            &OrderTold::default()
        ));
        assert_eq!(report.missing_notifications, 1);
    }

    #[test]
    fn repeats_are_counted_as_duplicates_or_redundant_publishes_by_content() {
        let mut report = Report::default();
        let repeated = told(&[
            delivered("o-1", "OrderCancelled", "a"),
            delivered("o-1", "OrderCancelled", "a"),
            delivered("o-1", "OrderCancelled", "b"),
        ]);
        count_told(&mut report, OrderStatus::Cancelled, &repeated);
        assert_eq!(
            (
                report.duplicate_notifications,
                report.redundant_publishes,
                report.missing_notifications
            ),
            (1, 1, 0)
        );
        assert_eq!(report.failures(), vec![("duplicate_notifications", 1)]);
    }

    #[test]
    fn a_customer_told_an_outcome_the_order_did_not_have_is_a_wrong_outcome_and_missing() {
        let mut report = Report::default();
        let wrong = told(&[delivered("o-1", "OrderConfirmed", "a")]);
        assert!(count_told(&mut report, OrderStatus::Cancelled, &wrong));
        assert_eq!(report.missing_notifications, 1);
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
