//! The run: each shard of the open orders, oldest last transition first, page by page within
//! a budget. Each order due an event gets it, republished from the order as stored (one
//! `PutEvents` batch per page); each stranded order is counted. A failed query or publish is
//! counted and the run goes on with the next shard: the next run tries again, and every action
//! is safe to repeat (DESIGN §6, "No order left behind").

use chrono::{DateTime, Utc};
use orderflow_shared::domain::Order;
use orderflow_shared::events::{DomainEvent, Envelope, EventType};
use orderflow_shared::ports::{
    ChargeOutcome, ChargeRecord, EventPublisher, OpenOrders, OpenOrdersQuery, OpenShard,
    PaymentLedger, OPEN_SHARDS,
};
use serde::Deserialize;
use tracing::{info, warn};

use crate::due::{due, is_stranded, Bounds, Due};
use crate::report::RunReport;
use crate::republish;

/// How much one run reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// Orders per query.
    pub page_size: u32,
    /// Orders read per run, shared evenly by the shards (so one busy shard cannot starve the
    /// others); what is left waits for the next run.
    pub max_orders_per_run: u32,
}

impl Sweep {
    fn per_shard(&self) -> u32 {
        self.max_orders_per_run
            .div_ceil(u32::from(OPEN_SHARDS))
            .max(1)
    }
}

/// The scheduled event (EventBridge's `Scheduled Event`): only its time is read, as the run's
/// clock.
#[derive(Debug, Clone, Deserialize)]
pub struct ScheduledEvent {
    pub time: DateTime<Utc>,
}

/// A run that could not do everything it should have: Lambda counts it as an error.
#[derive(Debug, thiserror::Error)]
#[error(
    "{failures} step(s) of the reconcile run failed (see its log lines); the next run retries them"
)]
pub struct RunError {
    pub failures: u32,
}

/// The ports this function uses, lent to every invocation.
pub struct ReconcileOrders<Q, L, E> {
    pub open: Q,
    /// The ledger: the reason of a failed payment.
    pub ledger: L,
    pub events: E,
    pub bounds: Bounds,
    pub sweep: Sweep,
}

impl<Q, L, E> ReconcileOrders<Q, L, E>
where
    Q: OpenOrders,
    L: PaymentLedger,
    E: EventPublisher,
{
    pub async fn handle(&self, event: ScheduledEvent) -> Result<RunReport, RunError> {
        let report = self.run(event.time).await;
        report.log();
        match report.failures {
            0 => Ok(report),
            failures => Err(RunError { failures }),
        }
    }

    /// One sweep of every shard as of `now`.
    pub async fn run(&self, now: DateTime<Utc>) -> RunReport {
        let mut report = RunReport::default();
        for shard in OpenShard::all() {
            self.sweep_shard(shard, now, &mut report).await;
        }
        report
    }

    async fn sweep_shard(&self, shard: OpenShard, now: DateTime<Utc>, report: &mut RunReport) {
        let mut query = OpenOrdersQuery {
            shard,
            changed_before: now - self.bounds.shortest(),
            limit: self.sweep.page_size,
            after: None,
        };
        let mut left = self.sweep.per_shard();
        while left > 0 {
            query.limit = self.sweep.page_size.clamp(1, left);
            let page = match self.open.open_orders(&query).await {
                Ok(page) => page,
                Err(e) => {
                    warn!(%shard, error = %e, "open orders could not be read");
                    report.failures += 1;
                    return;
                }
            };
            left = left.saturating_sub(u32::try_from(page.orders.len()).unwrap_or(u32::MAX));
            self.finish_page(&page.orders, now, report).await;
            match page.next {
                Some(next) => query.after = Some(next),
                None => return,
            }
        }
        report.truncated = true;
    }

    /// Counts and publishes what one page of open orders is due.
    async fn finish_page(&self, orders: &[Order], now: DateTime<Utc>, report: &mut RunReport) {
        let mut events = Vec::new();
        for order in orders {
            report.examined += 1;
            if is_stranded(order, now, &self.bounds) {
                report.stranded(order);
            }
            if let Some(event) = self.event_for(order, now, report).await {
                info!(order_id = %order.order_id, event = %event.event_type(), status = %order.status, "republishing for an unfinished order");
                events.push(Envelope::new(event, None).placed_at(order.created_at));
            }
        }
        if events.is_empty() {
            return;
        }
        if let Err(e) = self.events.publish(&events).await {
            warn!(events = events.len(), error = %e, "the unfinished orders' events could not be published");
            report.failures += 1;
            return;
        }
        for envelope in &events {
            match envelope.metadata.event_type {
                EventType::OrderPlaced => report.order_placed += 1,
                EventType::PaymentFailed => report.payment_failed += 1,
                EventType::ReservationExpired => report.reservation_expired += 1,
                _ => {}
            }
        }
    }

    async fn event_for(
        &self,
        order: &Order,
        now: DateTime<Utc>,
        report: &mut RunReport,
    ) -> Option<DomainEvent> {
        match due(order, now, &self.bounds) {
            Due::OrderPlaced => Some(republish::order_placed(order)),
            Due::ReservationExpired => Some(republish::reservation_expired(order)),
            Due::PaymentFailed => match self.ledger.charge_for(&order.order_id).await {
                Ok(entry) => {
                    decline_reason(order, entry).map(|r| republish::payment_failed(order, r))
                }
                Err(e) => {
                    warn!(order_id = %order.order_id, error = %e, "the ledger could not be read");
                    report.failures += 1;
                    None
                }
            },
            Due::Nothing => None,
        }
    }
}

/// The ledger's reason for a `PAYMENT_FAILED` order. Settlement writes the entry and the state
/// in one transaction, so anything but a decline is an inconsistency a person must look at:
/// nothing is published (releasing the stock of a paid order would be worse), and the order
/// stays open until the stranded alarm names it.
fn decline_reason(order: &Order, entry: Option<ChargeRecord>) -> Option<String> {
    match entry.map(|e| e.outcome) {
        Some(ChargeOutcome::Declined { reason }) => Some(reason),
        other => {
            warn!(order_id = %order.order_id, ledger = ?other, "a PAYMENT_FAILED order without a declined ledger entry: left for a person");
            None
        }
    }
}

#[cfg(test)]
mod tests;
