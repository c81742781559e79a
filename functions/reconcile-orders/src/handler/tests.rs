//! The run against in-memory ports: each state, the bounds, re-runs, paging and the budget,
//! stranded orders, and failures that leave the rest of the run going.

use chrono::{Duration, Utc};
use orderflow_shared::adapters::memory::{MemoryEvents, MemoryStore};
use orderflow_shared::domain::{Order, OrderStatus};
use orderflow_shared::events::DomainEvent;
use orderflow_shared::ports::{ChargeOutcome, ChargeRecord, OrderRepository, PaymentLedger};

use super::*;
use crate::test_orders::placed_order;

const BOUNDS: Bounds = Bounds {
    pending_after: Duration::seconds(120),
    reservation_ttl: Duration::seconds(900),
    stranded_after: Duration::seconds(3600),
};

type Function = ReconcileOrders<MemoryStore, MemoryStore, MemoryEvents>;

fn function(sweep: Sweep) -> Function {
    let store = MemoryStore::new();
    ReconcileOrders {
        open: store.clone(),
        ledger: store,
        events: MemoryEvents::new(),
        bounds: BOUNDS,
        sweep,
    }
}

fn roomy() -> Function {
    function(Sweep {
        page_size: 100,
        max_orders_per_run: 1000,
    })
}

/// Stores an order placed `placed` seconds before `now` that moved through `moves` (state,
/// seconds before `now`).
async fn stored(
    f: &Function,
    placed: i64,
    moves: &[(OrderStatus, i64)],
    now: DateTime<Utc>,
) -> Order {
    let mut order = placed_order(now - Duration::seconds(placed));
    for (to, ago) in moves {
        order.apply(*to, now - Duration::seconds(*ago)).unwrap();
    }
    f.open.create(&order).await.unwrap();
    order
}

fn published(f: &Function) -> Vec<DomainEvent> {
    f.events.published().into_iter().map(|e| e.event).collect()
}

#[tokio::test]
async fn a_pending_order_past_the_bound_is_placed_again_from_the_stored_order() {
    let f = roomy();
    let now = Utc::now();
    let stuck = stored(&f, 121, &[], now).await;
    stored(&f, 60, &[], now).await;
    let report = f.run(now).await;
    let events = published(&f);
    assert_eq!(events, vec![republish::order_placed(&stuck)]);
    assert_eq!(report.order_placed, 1);
    // The young order is not even read: it is newer than the shortest bound.
    assert_eq!(report.examined, 1);
}

#[tokio::test]
async fn a_failed_payment_past_the_bound_is_published_again_with_the_ledgers_reason() {
    let f = roomy();
    let now = Utc::now();
    let moves = [
        (OrderStatus::Reserved, 400),
        (OrderStatus::PaymentFailed, 300),
    ];
    let failed = stored(&f, 500, &moves, now).await;
    f.ledger
        .record(&ChargeRecord {
            order_id: failed.order_id.clone(),
            amount: failed.total,
            outcome: ChargeOutcome::Declined {
                reason: "card declined".into(),
            },
            at: now - Duration::seconds(300),
        })
        .await
        .unwrap();
    let report = f.run(now).await;
    assert_eq!(
        published(&f),
        vec![republish::payment_failed(&failed, "card declined".into())]
    );
    assert_eq!(report.payment_failed, 1);
}

#[tokio::test]
async fn a_failed_payment_without_a_declined_ledger_entry_is_left_for_a_person() {
    let f = roomy();
    let now = Utc::now();
    let moves = [
        (OrderStatus::Reserved, 400),
        (OrderStatus::PaymentFailed, 300),
    ];
    stored(&f, 500, &moves, now).await;
    let report = f.run(now).await;
    assert!(published(&f).is_empty());
    assert_eq!((report.examined, report.payment_failed), (1, 0));
}

#[tokio::test]
async fn a_reservation_past_its_ttl_expires() {
    let f = roomy();
    let now = Utc::now();
    let held = stored(&f, 1000, &[(OrderStatus::Reserved, 900)], now).await;
    let report = f.run(now).await;
    assert_eq!(published(&f), vec![republish::reservation_expired(&held)]);
    assert_eq!(report.reservation_expired, 1);
}

#[tokio::test]
async fn a_reservation_younger_than_its_ttl_is_left_alone() {
    let f = roomy();
    let now = Utc::now();
    stored(&f, 1000, &[(OrderStatus::Reserved, 899)], now).await;
    let report = f.run(now).await;
    assert!(published(&f).is_empty());
    assert_eq!(report.examined, 1);
}

#[tokio::test]
async fn final_orders_are_never_read() {
    let f = roomy();
    let now = Utc::now();
    stored(&f, 5000, &[(OrderStatus::Rejected, 4000)], now).await;
    let moves = [
        (OrderStatus::Reserved, 4000),
        (OrderStatus::Confirmed, 3900),
    ];
    stored(&f, 5000, &moves, now).await;
    let report = f.run(now).await;
    assert_eq!(report, RunReport::default());
    assert!(published(&f).is_empty());
}

#[tokio::test]
async fn a_second_run_publishes_the_same_event_again_until_the_order_moves_on() {
    let f = roomy();
    let now = Utc::now();
    let stuck = stored(&f, 200, &[], now).await;
    f.run(now).await;
    f.run(now + Duration::seconds(60)).await;
    let events = published(&f);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0], events[1]);
    // The consumer got it: the order moves on and the next run has nothing to do.
    let later = now + Duration::seconds(61);
    f.open
        .transition(
            &stuck.order_id,
            OrderStatus::Pending,
            OrderStatus::Rejected,
            later,
        )
        .await
        .unwrap();
    let report = f.run(later + Duration::seconds(600)).await;
    assert_eq!(report.examined, 0);
    assert_eq!(published(&f).len(), 2);
}

#[tokio::test]
async fn every_due_order_is_reached_across_pages_and_shards() {
    let f = function(Sweep {
        page_size: 2,
        max_orders_per_run: 1000,
    });
    let now = Utc::now();
    for i in 0..40 {
        stored(&f, 200 + i, &[], now).await;
    }
    let report = f.run(now).await;
    assert_eq!(report.order_placed, 40);
    assert_eq!(published(&f).len(), 40);
    assert!(!report.truncated);
}

#[tokio::test]
async fn a_run_stops_at_its_budget_shared_by_the_shards_and_says_so() {
    // 8 orders a run: one per shard.
    let f = function(Sweep {
        page_size: 100,
        max_orders_per_run: 8,
    });
    let now = Utc::now();
    for i in 0..60 {
        stored(&f, 200 + i, &[], now).await;
    }
    let report = f.run(now).await;
    assert!(report.truncated);
    assert!(report.examined <= 8, "{report:?}");
    // 60 orders over 8 shards: every shard has some, so each gives its one.
    assert_eq!(report.examined, 8);
}

#[tokio::test]
async fn the_oldest_orders_of_a_shard_are_taken_first() {
    let f = function(Sweep {
        page_size: 100,
        max_orders_per_run: 8,
    });
    let now = Utc::now();
    let mut orders = Vec::new();
    for i in 0..40 {
        orders.push(stored(&f, 200 + i, &[], now).await);
    }
    f.run(now).await;
    for event in published(&f) {
        let id = event.order_id();
        let shard = OpenShard::of(id);
        let oldest = orders
            .iter()
            .filter(|o| OpenShard::of(&o.order_id) == shard)
            .min_by_key(|o| o.created_at)
            .unwrap();
        assert_eq!(&oldest.order_id, id);
    }
}

#[tokio::test]
async fn an_order_open_past_the_hard_bound_is_counted_stranded_and_still_acted_on() {
    let f = roomy();
    let now = Utc::now();
    let old = stored(&f, 4000, &[], now).await;
    stored(&f, 3000, &[], now).await;
    let report = f.run(now).await;
    assert_eq!(report.stranded, 1);
    assert_eq!(report.oldest_stranded, vec![old.order_id.clone()]);
    assert_eq!(report.order_placed, 2);
}

#[tokio::test]
async fn a_failed_query_is_counted_and_the_other_shards_are_still_swept() {
    let f = roomy();
    let now = Utc::now();
    for i in 0..40 {
        stored(&f, 200 + i, &[], now).await;
    }
    f.open.fail_next(1);
    let err = f.handle(ScheduledEvent { time: now }).await.unwrap_err();
    assert_eq!(err.failures, 1);
    let reached = published(&f).len();
    assert!((20..40).contains(&reached), "{reached} of 40 reached");
}

#[tokio::test]
async fn a_failed_publish_is_counted_and_fails_the_invocation() {
    let f = roomy();
    let now = Utc::now();
    stored(&f, 200, &[], now).await;
    f.events.fail_next(1);
    let err = f.handle(ScheduledEvent { time: now }).await.unwrap_err();
    assert_eq!(err.failures, 1);
    // The next run publishes it.
    let report = f.handle(ScheduledEvent { time: now }).await.unwrap();
    assert_eq!(report.order_placed, 1);
}

#[test]
fn the_scheduled_event_is_read_for_its_time() {
    let event: ScheduledEvent = serde_json::from_value(serde_json::json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2025-10-08T16:53:06Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/reconcile"],
        "detail": {}
    }))
    .unwrap();
    assert_eq!(event.time.to_rfc3339(), "2025-10-08T16:53:06+00:00");
}
